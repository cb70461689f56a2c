/* envfile: a key/value map filled from Docker/systemd-style env files and from
 * the process environment. Owns the parsing of the env-file syntax only; what
 * the variables mean is config.c's business. Values may be secrets: the map
 * wipes them when freed. */
#ifndef PIS_ENVFILE_H
#define PIS_ENVFILE_H

#include <stddef.h>

struct env_entry {
	char *key;
	char *value;
	char *origin; /* "environment" or "FILE:LINE", for messages */
};

struct envmap {
	struct env_entry *entries;
	size_t count, cap;
};

void envmap_init(struct envmap *m);
/* Frees every entry, wiping values. The map can be reused after init. */
void envmap_free(struct envmap *m);
/* Copies key, value and origin; replaces an existing key. Returns 0 or -1 (OOM). */
int envmap_set(struct envmap *m, const char *key, const char *value, const char *origin);
/* Returns the entry for key or NULL; the map keeps ownership. */
const struct env_entry *envmap_get(const struct envmap *m, const char *key);
const char *envmap_value(const struct envmap *m, const char *key);

/* Parses env-file text: KEY=VALUE lines, blank lines, '#' and ';' comments,
 * an optional "export " prefix, spaces around '=', single quotes (literal),
 * double quotes (with \" \\ \n \t \$ escapes, may span lines), CRLF line ends
 * and a leading UTF-8 BOM. Unquoted values run to the end of the line with
 * trailing blanks removed; '#' inside them is data. Entries override earlier
 * ones. name labels messages. On error returns -1 with a one-line message
 * naming name:line in err (the map may hold entries from earlier lines). */
int envfile_parse(struct envmap *m, const char *text, size_t len, const char *name,
		  char *err, size_t errlen);
/* Reads and parses a file (at most 1 MiB). Returns 0 or -1 with err set. */
int envfile_load(struct envmap *m, const char *path, char *err, size_t errlen);
/* Adds every variable of the process environment (overriding files). */
int envmap_add_environ(struct envmap *m, char **envp);

#endif
