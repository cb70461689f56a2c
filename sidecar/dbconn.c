/* dbconn: parses DB_CONNECTION_STRING. Query parameters such as
 * _pragma=journal_mode(WAL) or _txlock=immediate belong to Pocket ID's Go
 * driver; the sidecar sets its own pragmas, so it drops them, but it refuses
 * in-memory databases, which no second process can share. */
#include "dbconn.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Copies n bytes of s, decoding %XX escapes; NULL on a bad escape or %00. */
static char *percent_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* True when the query string (without '?') asks for an in-memory database. */
static int query_is_memory(const char *q)
{
	while (q != NULL && *q != '\0') {
		size_t n = strcspn(q, "&");
		if ((n == 11 && strncmp(q, "mode=memory", 11) == 0))
			return 1;
		q += n;
		if (*q == '&')
			q++;
	}
	return 0;
}

static int parse_file_uri(const char *rest, char **path, char *err, size_t errlen)
{
	size_t plen = strcspn(rest, "?#");
	const char *query = rest[plen] == '?' ? rest + plen + 1 : NULL;

	if (query_is_memory(query)) {
		snprintf(err, errlen, "in-memory databases cannot be shared with Pocket ID");
		return -1;
	}
	if (strncmp(rest, "//", 2) == 0) {
		const char *slash = strchr(rest + 2, '/');
		size_t hlen = slash == NULL ? 0 : (size_t)(slash - rest - 2);
		if (slash == NULL || slash - rest > (long)plen ||
		    (hlen != 0 && !(hlen == 9 && strncasecmp(rest + 2, "localhost", 9) == 0))) {
			snprintf(err, errlen, "file: URI names a remote host; only local files work");
			return -1;
		}
		plen -= (size_t)(slash - rest);
		rest = slash;
	}
	if (plen == 0) {
		snprintf(err, errlen, "file: URI has no path");
		return -1;
	}
	*path = percent_decode(rest, plen);
	if (*path == NULL) {
		snprintf(err, errlen, "file: URI has a malformed %%-escape");
		return -1;
	}
	if (strcmp(*path, ":memory:") == 0) {
		free(*path);
		*path = NULL;
		snprintf(err, errlen, "in-memory databases cannot be shared with Pocket ID");
		return -1;
	}
	return 0;
}

int dbconn_parse(const char *conn, char **path, char *err, size_t errlen)
{
	const char *scheme_end;

	*path = NULL;
	if (conn == NULL || *conn == '\0') {
		snprintf(err, errlen, "is empty");
		return -1;
	}
	if (strncasecmp(conn, "postgres://", 11) == 0 ||
	    strncasecmp(conn, "postgresql://", 13) == 0) {
		snprintf(err, errlen,
			 "points at PostgreSQL; pocket-id-sync only works with SQLite "
			 "deployments of Pocket ID (replicate PostgreSQL with its own tools)");
		return -1;
	}
	if (strncmp(conn, "file:", 5) == 0)
		return parse_file_uri(conn + 5, path, err, errlen);
	scheme_end = strstr(conn, "://");
	if (scheme_end != NULL && strcspn(conn, "/") > (size_t)(scheme_end - conn)) {
		snprintf(err, errlen, "has an unsupported scheme; use a file path or a file: URI");
		return -1;
	}
	if (strcmp(conn, ":memory:") == 0) {
		snprintf(err, errlen, "in-memory databases cannot be shared with Pocket ID");
		return -1;
	}
	*path = strdup(conn);
	if (*path == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}
