/* envfile: a small line-oriented parser for env files and the map it fills.
 * It accepts the common subset of Docker's --env-file, systemd's
 * EnvironmentFile= and dotenv files; it does not expand ${VARIABLES}. */
#include "envfile.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENVFILE_MAX_BYTES (1024 * 1024)

void envmap_init(struct envmap *m) { memset(m, 0, sizeof(*m)); }

static void entry_free(struct env_entry *e)
{
	free(e->key);
	if (e->value != NULL)
		OPENSSL_clear_free(e->value, strlen(e->value));
	free(e->origin);
}

void envmap_free(struct envmap *m)
{
	for (size_t i = 0; i < m->count; i++)
		entry_free(&m->entries[i]);
	free(m->entries);
	envmap_init(m);
}

static struct env_entry *find(const struct envmap *m, const char *key)
{
	for (size_t i = 0; i < m->count; i++) {
		if (strcmp(m->entries[i].key, key) == 0)
			return &m->entries[i];
	}
	return NULL;
}

int envmap_set(struct envmap *m, const char *key, const char *value, const char *origin)
{
	struct env_entry e = {strdup(key), strdup(value), strdup(origin)};
	struct env_entry *old;

	if (e.key == NULL || e.value == NULL || e.origin == NULL)
		goto fail;
	old = find(m, key);
	if (old != NULL) {
		entry_free(old);
		*old = e;
		return 0;
	}
	if (m->count == m->cap) {
		size_t cap = m->cap == 0 ? 32 : m->cap * 2;
		struct env_entry *n = realloc(m->entries, cap * sizeof(*n));
		if (n == NULL)
			goto fail;
		m->entries = n;
		m->cap = cap;
	}
	m->entries[m->count++] = e;
	return 0;
fail:
	entry_free(&e);
	return -1;
}

const struct env_entry *envmap_get(const struct envmap *m, const char *key)
{
	return find(m, key);
}

const char *envmap_value(const struct envmap *m, const char *key)
{
	const struct env_entry *e = find(m, key);
	return e == NULL ? NULL : e->value;
}

/* A growable byte buffer for one value; wiped because values can be secrets. */
struct valbuf {
	char *p;
	size_t len, cap;
};

static int valbuf_put(struct valbuf *b, char c)
{
	if (b->len + 1 >= b->cap) {
		size_t cap = b->cap == 0 ? 64 : b->cap * 2;
		char *n = OPENSSL_clear_realloc(b->p, b->cap, cap);
		if (n == NULL)
			return -1;
		b->p = n;
		b->cap = cap;
	}
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
	return 0;
}

struct cursor {
	const char *s, *end;
	size_t line;
	const char *name;
	char *err;
	size_t errlen;
};

static int fail_at(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_at(struct cursor *c, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->err, c->errlen, "%s:%zu: ", c->name, c->line);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < c->errlen)
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int at_eol(const struct cursor *c)
{
	return c->s >= c->end || *c->s == '\n' ||
	       (*c->s == '\r' && (c->s + 1 >= c->end || c->s[1] == '\n'));
}

static void skip_blanks(struct cursor *c)
{
	while (c->s < c->end && (*c->s == ' ' || *c->s == '\t'))
		c->s++;
}

static void skip_line(struct cursor *c)
{
	while (c->s < c->end && *c->s != '\n')
		c->s++;
	if (c->s < c->end) {
		c->s++;
		c->line++;
	}
}

/* After a closing quote only blanks and a '#' comment may follow. */
static int finish_quoted(struct cursor *c)
{
	skip_blanks(c);
	if (!at_eol(c) && *c->s != '#')
		return fail_at(c, "unexpected text after closing quote");
	skip_line(c);
	return 0;
}

static int parse_double_quoted(struct cursor *c, struct valbuf *v)
{
	size_t start_line = c->line;

	for (c->s++; c->s < c->end; c->s++) {
		char ch = *c->s;
		if (ch == '"') {
			c->s++;
			return finish_quoted(c);
		}
		if (ch == '\\' && c->s + 1 < c->end) {
			char e = *++c->s;
			if (e == '\n') { /* backslash-newline joins lines */
				c->line++;
				continue;
			}
			ch = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
			if (strchr("nt\"\\$`r", e) == NULL && valbuf_put(v, '\\') == -1)
				return fail_at(c, "out of memory");
		} else if (ch == '\n') {
			c->line++;
		} else if (ch == '\r' && c->s + 1 < c->end && c->s[1] == '\n') {
			continue;
		}
		if (valbuf_put(v, ch) == -1)
			return fail_at(c, "out of memory");
	}
	c->line = start_line;
	return fail_at(c, "unterminated double quote");
}

static int parse_single_quoted(struct cursor *c, struct valbuf *v)
{
	size_t start_line = c->line;

	for (c->s++; c->s < c->end; c->s++) {
		if (*c->s == '\'') {
			c->s++;
			return finish_quoted(c);
		}
		if (*c->s == '\n')
			c->line++;
		if (*c->s == '\r' && c->s + 1 < c->end && c->s[1] == '\n')
			continue;
		if (valbuf_put(v, *c->s) == -1)
			return fail_at(c, "out of memory");
	}
	c->line = start_line;
	return fail_at(c, "unterminated single quote");
}

static int parse_unquoted(struct cursor *c, struct valbuf *v)
{
	while (!at_eol(c)) {
		if (*c->s == '\0')
			return fail_at(c, "NUL byte in value");
		if (valbuf_put(v, *c->s++) == -1)
			return fail_at(c, "out of memory");
	}
	while (v->len > 0 && (v->p[v->len - 1] == ' ' || v->p[v->len - 1] == '\t'))
		v->p[--v->len] = '\0';
	skip_line(c);
	return 0;
}

static int parse_key(struct cursor *c, char *key, size_t keylen)
{
	size_t n = 0;

	if (c->s >= c->end || !(isalpha((unsigned char)*c->s) || *c->s == '_'))
		return fail_at(c, "expected KEY=VALUE");
	while (c->s < c->end && (isalnum((unsigned char)*c->s) || *c->s == '_' || *c->s == '.')) {
		if (n + 1 >= keylen)
			return fail_at(c, "variable name too long");
		key[n++] = *c->s++;
	}
	key[n] = '\0';
	return 0;
}

static int parse_entry(struct cursor *c, struct envmap *m)
{
	char key[256], origin[512];
	struct valbuf v = {0};
	size_t line = c->line;
	int rc = -1;

	if (c->end - c->s > 7 && strncmp(c->s, "export", 6) == 0 &&
	    (c->s[6] == ' ' || c->s[6] == '\t')) {
		c->s += 6;
		skip_blanks(c);
	}
	if (parse_key(c, key, sizeof(key)) == -1)
		return -1;
	skip_blanks(c);
	if (c->s >= c->end || *c->s != '=')
		return fail_at(c, "expected '=' after %s", key);
	c->s++;
	skip_blanks(c);
	if (valbuf_put(&v, 'x') == -1) /* ensure an allocated, empty string */
		return fail_at(c, "out of memory");
	v.len = 0;
	v.p[0] = '\0';
	if (c->s < c->end && *c->s == '"')
		rc = parse_double_quoted(c, &v);
	else if (c->s < c->end && *c->s == '\'')
		rc = parse_single_quoted(c, &v);
	else
		rc = parse_unquoted(c, &v);
	if (rc == 0) {
		snprintf(origin, sizeof(origin), "%s:%zu", c->name, line);
		if (envmap_set(m, key, v.p, origin) == -1)
			rc = fail_at(c, "out of memory");
	}
	OPENSSL_clear_free(v.p, v.cap);
	return rc;
}

int envfile_parse(struct envmap *m, const char *text, size_t len, const char *name,
		  char *err, size_t errlen)
{
	struct cursor c = {text, text + len, 1, name, err, errlen};

	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		c.s += 3;
	while (c.s < c.end) {
		skip_blanks(&c);
		if (at_eol(&c) || *c.s == '#' || *c.s == ';') {
			skip_line(&c);
			continue;
		}
		if (parse_entry(&c, m) == -1)
			return -1;
	}
	return 0;
}

int envfile_load(struct envmap *m, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;
	int rc;

	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(ENVFILE_MAX_BYTES + 1);
	if (buf == NULL) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	n = fread(buf, 1, ENVFILE_MAX_BYTES + 1, f);
	if (ferror(f) || n > ENVFILE_MAX_BYTES) {
		snprintf(err, errlen, "%s: %s", path,
			 ferror(f) ? "read error" : "larger than 1 MiB");
		fclose(f);
		OPENSSL_clear_free(buf, ENVFILE_MAX_BYTES + 1);
		return -1;
	}
	fclose(f);
	rc = envfile_parse(m, buf, n, path, err, errlen);
	OPENSSL_clear_free(buf, ENVFILE_MAX_BYTES + 1);
	return rc;
}

int envmap_add_environ(struct envmap *m, char **envp)
{
	for (; envp != NULL && *envp != NULL; envp++) {
		const char *eq = strchr(*envp, '=');
		char key[256];
		size_t klen;

		if (eq == NULL || (klen = (size_t)(eq - *envp)) == 0 || klen >= sizeof(key))
			continue;
		memcpy(key, *envp, klen);
		key[klen] = '\0';
		if (envmap_set(m, key, eq + 1, "environment") == -1)
			return -1;
	}
	return 0;
}
