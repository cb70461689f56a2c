/* json_strict: one pass over a payload document's raw bytes for what cJSON
 * lets through (see json_strict.h). It tracks only whether it is inside a
 * string and the bracket depth; structure, escapes and literals are left to
 * cJSON, which parses the same bytes right after. */
#include "json_strict.h"

#include "errbuf.h"
#include "utf8.h"

#include <string.h>

struct scan {
	const uint8_t *p;
	size_t n, i;
	int depth;
	char *err;
	size_t errlen;
};

static size_t digits(const uint8_t *s, size_t n, size_t i)
{
	size_t start = i;

	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	return i - start;
}

size_t json_number_len(const uint8_t *s, size_t n, bool *integer)
{
	size_t i = n > 0 && s[0] == '-' ? 1 : 0, d = digits(s, n, i);

	*integer = true;
	if (d == 0 || (s[i] == '0' && d > 1))
		return 0;
	i += d;
	if (i < n && s[i] == '.') {
		if ((d = digits(s, n, i + 1)) == 0)
			return 0;
		i += 1 + d;
		*integer = false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i += i + 1 < n && (s[i + 1] == '+' || s[i + 1] == '-') ? 2 : 1;
		if ((d = digits(s, n, i)) == 0)
			return 0;
		i += d;
		*integer = false;
	}
	return i;
}

/* Bytes that end the fast run inside a string: controls, '"', '\\' and
 * non-ASCII (which then needs the UTF-8 check). */
static bool string_special(uint8_t c)
{
	return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
}

/* string_special for eight bytes at once (the "has less than" and "has zero"
 * bit tricks, exact: no false answers either way). */
static bool word_special(const uint8_t *p)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t w, q, b;

	memcpy(&w, p, 8);
	q = w ^ (ones * '"');
	b = w ^ (ones * '\\');
	return ((w | ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high) != 0;
}

/* From the opening quote to just past the closing one. */
static int scan_string(struct scan *s)
{
	size_t start = ++s->i;
	bool ascii = true;

	for (; s->i < s->n; s->i++) {
		uint8_t c;
		while (s->n - s->i >= 8 && !word_special(s->p + s->i))
			s->i += 8;
		if (s->i == s->n)
			break;
		if (!string_special(c = s->p[s->i]))
			continue;
		if (c >= 0x80) {
			ascii = false;
			continue;
		}
		if (c == '"') {
			if (!ascii && !utf8_plain(s->p + start, s->i - start))
				return errf(s->err, s->errlen, "invalid UTF-8 inside a string");
			s->i++;
			return 0;
		}
		if (c == 0)
			return errf(s->err, s->errlen, "a NUL byte inside a string");
		if (c < 0x20)
			return errf(s->err, s->errlen, "a control byte 0x%02x inside a string", c);
		if (s->n - s->i >= 6 && memcmp(s->p + s->i + 1, "u0000", 5) == 0)
			return errf(s->err, s->errlen, "a string contains \\u0000 (U+0000)");
		s->i++; /* '\\' and the escaped byte; cJSON checks the escape itself */
	}
	return errf(s->err, s->errlen, "the payload ends inside a string");
}

/* A number token is the run of bytes that can occur in one. */
static int scan_number(struct scan *s)
{
	size_t end = s->i;
	bool integer;

	while (end < s->n && s->p[end] != '\0' && strchr("0123456789+-.eE", s->p[end]) != NULL)
		end++;
	if (json_number_len(s->p + s->i, end - s->i, &integer) != end - s->i)
		return errf(s->err, s->errlen, "\"%.*s\" is not a JSON number", (int)(end - s->i > 32 ? 32 : end - s->i),
			    (const char *)s->p + s->i);
	if (s->depth == 1 && !integer)
		return errf(s->err, s->errlen, "a number in the top-level object has a fraction or "
					       "exponent (\"format\" is an integer)");
	s->i = end;
	return 0;
}

int json_strict_check(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	struct scan s = {.p = p, .n = n, .err = err, .errlen = errlen};
	bool done = false;

	if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		return errf(err, errlen, "the payload starts with a byte-order mark");
	while (s.i < n) {
		uint8_t c = p[s.i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			s.i++;
			continue;
		}
		if (done)
			return errf(err, errlen, "the payload has bytes after the JSON object");
		if (c == '"' || c == '-' || (c >= '0' && c <= '9')) {
			if ((c == '"' ? scan_string(&s) : scan_number(&s)) == -1)
				return -1;
			continue;
		}
		if (c < 0x20 || c >= 0x80)
			return errf(err, errlen, "the payload has a byte 0x%02x outside a string", c);
		if (c == '{' || c == '[')
			s.depth++;
		else if (c == '}' || c == ']')
			done = --s.depth == 0;
		s.i++;
	}
	return 0;
}
