/* parse: strict scalar parsers (see parse.h). Written against strtoull and
 * friends with explicit end and overflow checks; no atoi anywhere. */
#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct unit {
	const char *name;
	uint64_t ns;
};

static const struct unit duration_units[] = {
	{"ns", 1ull},
	{"us", 1000ull},
	{"\xc2\xb5s", 1000ull}, /* µs */
	{"ms", 1000000ull},
	{"s", 1000000000ull},
	{"m", 60ull * 1000000000ull},
	{"h", 3600ull * 1000000000ull},
};

/* Parses one "<digits>[.<digits>]<unit>" term, adds it to *total_ns. */
static int duration_term(const char **sp, uint64_t *total_ns)
{
	const char *s = *sp;
	uint64_t whole = 0, frac = 0, scale = 1;
	const struct unit *u = NULL;
	size_t best = 0;
	bool digits = false;

	for (; isdigit((unsigned char)*s); s++, digits = true) {
		if (whole > (UINT64_MAX - 9) / 10)
			return -1;
		whole = whole * 10 + (uint64_t)(*s - '0');
	}
	if (*s == '.') {
		for (s++; isdigit((unsigned char)*s); s++, digits = true) {
			if (scale < 1000000000000000000ull) {
				frac = frac * 10 + (uint64_t)(*s - '0');
				scale *= 10;
			}
		}
	}
	if (!digits)
		return -1;
	for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
		size_t n = strlen(duration_units[i].name);
		if (n > best && strncmp(s, duration_units[i].name, n) == 0) {
			u = &duration_units[i];
			best = n;
		}
	}
	if (u == NULL)
		return -1;
	if (whole > UINT64_MAX / u->ns)
		return -1;
	whole *= u->ns;
	/* frac/scale of a unit; u->ns <= 3.6e12 and frac < 1e18 could overflow,
	 * so scale down first where needed. */
	while (frac > UINT64_MAX / u->ns) {
		frac /= 10;
		scale /= 10;
	}
	whole += frac * u->ns / scale;
	if (*total_ns > UINT64_MAX - whole)
		return -1;
	*total_ns += whole;
	*sp = s + best;
	return 0;
}

int parse_duration_ms(const char *s, uint64_t *out_ms)
{
	uint64_t ns = 0;

	if (s == NULL || *s == '\0')
		return -1;
	if (strcmp(s, "0") == 0) {
		*out_ms = 0;
		return 0;
	}
	while (*s != '\0') {
		if (duration_term(&s, &ns) == -1)
			return -1;
	}
	if (ns > 0 && ns < 1000000ull)
		return -1;
	*out_ms = ns / 1000000ull;
	return 0;
}

int parse_size_bytes(const char *s, uint64_t *out)
{
	static const struct unit size_units[] = {
		{"", 1ull},		  {"B", 1ull},
		{"K", 1ull << 10},	  {"KiB", 1ull << 10},
		{"M", 1ull << 20},	  {"MiB", 1ull << 20},
		{"G", 1ull << 30},	  {"GiB", 1ull << 30},
	};
	char *end;
	unsigned long long v;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++) {
		if (strcmp(end, size_units[i].name) == 0) {
			if (v > UINT64_MAX / size_units[i].ns)
				return -1;
			*out = v * size_units[i].ns;
			return 0;
		}
	}
	return -1;
}

int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "1", "yes", "on"};
	static const char *const no[] = {"false", "0", "no", "off"};

	for (size_t i = 0; s != NULL && i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

int parse_int_range(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int parse_host_port(const char *s, char host[static 256], uint16_t *port)
{
	const char *colon;
	size_t hlen;
	long long p;

	if (s == NULL)
		return -1;
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		hlen = (size_t)(close - s - 1);
		colon = close + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
			return -1;
		hlen = (size_t)(colon - s);
	}
	if (hlen >= 256)
		return -1;
	if (parse_int_range(colon + 1, 0, 65535, &p) == -1)
		return -1;
	if (hlen == 0) {
		strcpy(host, "0.0.0.0");
	} else {
		memcpy(host, s, hlen);
		host[hlen] = '\0';
	}
	*port = (uint16_t)p;
	return 0;
}
