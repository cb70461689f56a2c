#!/bin/sh
# README set-up command #2: installs what is missing, builds with
# AddressSanitizer + UndefinedBehaviorSanitizer and -Werror, and runs the whole
# CTest suite but the tests labelled `slow` (`ctest -L slow` in build-asan/
# runs those), ending with CTest's summary. Build tree: build-asan/.
set -eu
cd "$(dirname "$0")/../.."
contrib/dev/install-deps.sh
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Asan -DCMAKE_C_COMPILER="${CC:-gcc}" >/dev/null
cmake --build build-asan -j "$(nproc)"
cd build-asan
exec ctest --output-on-failure -j "$(nproc)" -LE slow "$@"
