/* json_strict: the rules of proto/SPEC.md section 5 on a payload document's
 * raw bytes that cJSON does not enforce (it skips a byte-order mark and
 * control bytes as whitespace, ends strings at NUL, takes "01" and "1." as
 * numbers and ignores what follows the value). It checks bytes in one pass;
 * it does not parse: cJSON still does, and refuses the rest of what is not
 * JSON. */
#ifndef PIS_JSON_STRICT_H
#define PIS_JSON_STRICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns 0 when the n bytes at p have no byte-order mark, nothing but JSON
 * whitespace after the first complete object or array, no byte outside
 * strings that JSON never has there (controls other than whitespace,
 * non-ASCII), no control byte, NUL or \u0000 inside strings, only UTF-8 in
 * strings, only RFC 8259 numbers, and only integers directly inside the
 * outermost value. Otherwise returns -1 with one line in err. */
int json_strict_check(const uint8_t *p, size_t n, char *err, size_t errlen);

/* Length of the RFC 8259 number -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
 * that starts at s and ends at or before s + n, or 0 when what starts there
 * is malformed before the grammar is complete ("1.", "1e+", "01" gives 0,
 * as does "-"). *integer says whether it has neither fraction nor exponent. */
size_t json_number_len(const uint8_t *s, size_t n, bool *integer);

#endif
