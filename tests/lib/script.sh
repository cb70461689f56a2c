# script.sh: the preamble the shell tests share (sourced, not run): a clean
# environment, and the skip when Debian's python3-cryptography is missing.
# Each test keeps its own ok/bad/check helpers; this file owns only these.

# Unsets every variable the sidecar reads, so the caller's settings do not
# leak into a test.
pis_clean_env() {
	local v
	for v in $(env | sed -n 's/^\(SYNC_[A-Z_]*\|ENCRYPTION_KEY[A-Z_]*\|DB_CONNECTION_STRING\|KEYS_[A-Z_]*\)=.*/\1/p'); do
		unset "$v"
	done
}

# Exits 77 (CTest: skipped) when /usr/bin/python3 cannot import the AEAD
# primitives the fixture tool and the Python peer use.
pis_need_python_crypto() {
	if ! /usr/bin/python3 -c 'import cryptography.hazmat.primitives.ciphers.aead' 2>/dev/null; then
		echo "skip: /usr/bin/python3 lacks the cryptography module (Debian: python3-cryptography)"
		exit 77
	fi
}
