/* appconfig: the configuration list, its per-node keys, its pseudo-table,
 * hash and merge (see appconfig.h). */
#include "appconfig.h"

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool appconfig_key_per_node(const char *key)
{
	static const char *const per_node[] = {"ldapEnabled", "emailApiKeyExpirationEnabled",
					       "instanceId", NULL};
	size_t n = strlen(key), suffix = strlen("ImageType");

	for (size_t i = 0; per_node[i] != NULL; i++) {
		if (strcmp(key, per_node[i]) == 0)
			return true;
	}
	return n > suffix && strcmp(key + n - suffix, "ImageType") == 0;
}

static void wipe_free(char *s)
{
	if (s != NULL)
		OPENSSL_clear_free(s, strlen(s));
}

void appconfig_free(struct appconfig *ac)
{
	for (size_t i = 0; i < ac->n; i++) {
		free(ac->keys[i]);
		wipe_free(ac->values[i]);
	}
	free(ac->keys);
	free(ac->values);
	memset(ac, 0, sizeof(*ac));
}

static int alloc_lists(struct appconfig *ac, size_t n)
{
	memset(ac, 0, sizeof(*ac));
	ac->keys = calloc(n + 1, sizeof(char *));
	ac->values = calloc(n + 1, sizeof(char *));
	return ac->keys != NULL && ac->values != NULL ? 0 : -1;
}

/* Adds key=value keeping the lists sorted; -1 on a duplicate or no memory. */
static int insert_sorted(struct appconfig *ac, const char *key, const char *value)
{
	size_t pos = 0;
	char *k, *v;

	while (pos < ac->n && strcmp(ac->keys[pos], key) < 0)
		pos++;
	if (pos < ac->n && strcmp(ac->keys[pos], key) == 0)
		return -1;
	k = strdup(key);
	v = strdup(value);
	if (k == NULL || v == NULL) {
		free(k);
		wipe_free(v);
		return -1;
	}
	memmove(&ac->keys[pos + 1], &ac->keys[pos], (ac->n - pos) * sizeof(char *));
	memmove(&ac->values[pos + 1], &ac->values[pos], (ac->n - pos) * sizeof(char *));
	ac->keys[pos] = k;
	ac->values[pos] = v;
	ac->n++;
	return 0;
}

static bool key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* Checks one key/value pair and adds it; err never quotes the value. */
static int add_pair(struct appconfig *ac, const char *key, const char *value, char *err, size_t errlen)
{
	if (!key_ok(key)) {
		snprintf(err, errlen, "application configuration: a key is not a plain identifier");
		return -1;
	}
	if (strlen(value) > APPCONFIG_MAX_VALUE) {
		snprintf(err, errlen, "application configuration: the value of %s is longer than %d bytes",
			 key, APPCONFIG_MAX_VALUE);
		return -1;
	}
	if (insert_sorted(ac, key, value) == -1) {
		snprintf(err, errlen, "application configuration: key %s twice (or out of memory)", key);
		return -1;
	}
	return 0;
}

int appconfig_parse(const char *json, size_t len, struct appconfig *out, char *err, size_t errlen)
{
	cJSON *root = cJSON_ParseWithLength(json, len), *item;
	int n, rc = -1;

	memset(out, 0, sizeof(*out));
	if (root == NULL || !cJSON_IsArray(root)) {
		snprintf(err, errlen, "application configuration: the answer is not a JSON array");
		goto done;
	}
	n = cJSON_GetArraySize(root);
	if (n == 0 || n > APPCONFIG_MAX_KEYS || alloc_lists(out, (size_t)n) == -1) {
		snprintf(err, errlen, "application configuration: %d entries (expected 1 to %d)", n,
			 APPCONFIG_MAX_KEYS);
		goto done;
	}
	cJSON_ArrayForEach(item, root)
	{
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(item, "key");
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, "value");
		if (!cJSON_IsString(k) || !cJSON_IsString(v)) {
			snprintf(err, errlen, "application configuration: an entry lacks a string key or value");
			goto done;
		}
		if (add_pair(out, k->valuestring, v->valuestring, err, errlen) == -1)
			goto done;
	}
	rc = 0;
done:
	if (rc == -1)
		appconfig_free(out);
	if (root != NULL) {
		/* the tree holds the values (secrets among them) */
		cJSON_ArrayForEach(item, root)
		{
			cJSON *v = cJSON_GetObjectItemCaseSensitive(item, "value");
			if (cJSON_IsString(v))
				OPENSSL_cleanse(v->valuestring, strlen(v->valuestring));
		}
		cJSON_Delete(root);
	}
	return rc;
}

static int text_cell(struct pl_value *v, const char *s)
{
	size_t n = strlen(s);

	v->type = PL_TEXT;
	v->len = n;
	v->u.bytes = malloc(n + 1);
	if (v->u.bytes == NULL)
		return -1;
	memcpy(v->u.bytes, s, n + 1);
	return 0;
}

int appconfig_to_table(const struct appconfig *ac, struct pl_table *t)
{
	memset(t, 0, sizeof(*t));
	t->name = strdup(APPCONFIG_TABLE);
	t->cols = calloc(2, sizeof(char *));
	t->cells = calloc(ac->n * 2 + 1, sizeof(struct pl_value));
	if (t->name == NULL || t->cols == NULL || t->cells == NULL)
		return -1;
	t->ncols = 2;
	if ((t->cols[0] = strdup("key")) == NULL || (t->cols[1] = strdup("value")) == NULL)
		return -1;
	for (size_t i = 0; i < ac->n; i++) {
		t->nrows = i + 1;
		if (text_cell(pl_cell(t, i, 0), ac->keys[i]) == -1 ||
		    text_cell(pl_cell(t, i, 1), ac->values[i]) == -1)
			return -1;
	}
	return 0;
}

int appconfig_from_table(const struct pl_table *t, struct appconfig *out, char *err, size_t errlen)
{
	if (t->ncols != 2 || strcmp(t->cols[0], "key") != 0 || strcmp(t->cols[1], "value") != 0 ||
	    t->nrows > APPCONFIG_MAX_KEYS) {
		memset(out, 0, sizeof(*out));
		snprintf(err, errlen, "payload: %s must have the columns key, value and at most %d rows",
			 APPCONFIG_TABLE, APPCONFIG_MAX_KEYS);
		return -1;
	}
	if (alloc_lists(out, t->nrows) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t r = 0; r < t->nrows; r++) {
		const struct pl_value *k = pl_cell(t, r, 0), *v = pl_cell(t, r, 1);
		if (k->type != PL_TEXT || v->type != PL_TEXT) {
			snprintf(err, errlen, "payload: %s holds a cell that is not text", APPCONFIG_TABLE);
			appconfig_free(out);
			return -1;
		}
		if (add_pair(out, (const char *)k->u.bytes, (const char *)v->u.bytes, err, errlen) == -1) {
			appconfig_free(out);
			return -1;
		}
	}
	return 0;
}

void appconfig_hash(const struct appconfig *ac, uint8_t out[static 32])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t len[8];

	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	for (size_t i = 0; i < ac->n; i++) {
		for (int f = 0; f < 2; f++) {
			const char *s = f == 0 ? ac->keys[i] : ac->values[i];
			uint64_t n = strlen(s);
			for (int b = 0; b < 8; b++)
				len[b] = (uint8_t)(n >> (56 - 8 * b));
			EVP_DigestUpdate(c, len, 8); /* length-prefixed: no two lists collide */
			EVP_DigestUpdate(c, s, n);
		}
	}
	EVP_DigestFinal_ex(c, out, NULL);
	EVP_MD_CTX_free(c);
}

void appconfig_mix_hash(uint8_t content[static 32], const struct appconfig *ac)
{
	static const char label[] = "pocket-id-sync/app-configuration";
	uint8_t h[32];
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	appconfig_hash(ac, h);
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	EVP_DigestUpdate(c, label, sizeof(label) - 1);
	EVP_DigestUpdate(c, content, 32);
	EVP_DigestUpdate(c, h, 32);
	EVP_DigestFinal_ex(c, content, NULL);
	EVP_MD_CTX_free(c);
}

static const char *lookup(const struct appconfig *ac, const char *key)
{
	for (size_t i = 0; i < ac->n; i++) {
		if (strcmp(ac->keys[i], key) == 0)
			return ac->values[i];
	}
	return NULL;
}

int appconfig_merge(const struct appconfig *local, const struct appconfig *shipped,
		    struct appconfig *out, size_t *changed)
{
	*changed = 0;
	if (alloc_lists(out, local->n) == -1)
		return -1;
	for (size_t i = 0; i < local->n; i++) {
		const char *want = lookup(shipped, local->keys[i]);
		const char *v = local->values[i];
		if (want != NULL && !appconfig_key_per_node(local->keys[i]) && strcmp(want, v) != 0) {
			v = want;
			(*changed)++;
		}
		if (insert_sorted(out, local->keys[i], v) == -1) {
			appconfig_free(out);
			return -1;
		}
	}
	return 0;
}

char *appconfig_put_body(const struct appconfig *ac, size_t *len)
{
	cJSON *o = cJSON_CreateObject(), *item;
	char *s = NULL;

	for (size_t i = 0; o != NULL && i < ac->n; i++) {
		if (cJSON_AddStringToObject(o, ac->keys[i], ac->values[i]) == NULL)
			goto done;
	}
	if (o != NULL)
		s = cJSON_PrintUnformatted(o);
done:
	if (o != NULL) {
		cJSON_ArrayForEach(item, o) OPENSSL_cleanse(item->valuestring, strlen(item->valuestring));
		cJSON_Delete(o);
	}
	*len = s != NULL ? strlen(s) : 0;
	return s;
}
