/* utf8: the one UTF-8 check of the project (RFC 3629). It validates bytes;
 * it does not decode, normalise or count characters. */
#ifndef PIS_UTF8_H
#define PIS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when the n bytes at s are valid UTF-8 without NUL, overlong forms,
 * surrogates or code points above U+10FFFF. */
bool utf8_plain(const uint8_t *s, size_t n);

#endif
