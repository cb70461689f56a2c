/* seal_tool: a test-only command-line front end to the sealing layer, the
 * rows hash and the format-2 reader, for the C <-> Python interop test and
 * for generating proto/vectors/. It reads keys in the private.key format
 * (SPEC section 2). It is not installed and holds no protocol logic of its
 * own beyond the vector intermediates. */
#include "b64.h"
#include "doc2.h"
#include "keys.h"
#include "rowhash.h"
#include "schema.h"
#include "seal.h"
#include "secret.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOOL_MAX_INPUT ((size_t)1 << 30)

struct tool_opts {
	const char *key, *sender_key, *recipient_key, *eph_key;
	const char *to, *from, *in, *out, *nonce, *description, *db;
	size_t max_wire;
};

static int tool_usage(void)
{
	fputs("usage: seal_tool keygen --out FILE\n"
	      "       seal_tool pubkey --key FILE\n"
	      "       seal_tool seal --sender-key FILE --to PUB_B64 --in FILE --out FILE\n"
	      "       seal_tool open --key FILE --from PUB_B64 --in FILE --out FILE "
	      "[--max-wire BYTES]\n"
	      "       seal_tool vector --sender-key FILE --recipient-key FILE --eph-key FILE\n"
	      "                        --nonce HEX24 --in FILE [--description TEXT]\n"
	      "       seal_tool rows-hash --db SQLITE\n"
	      "       seal_tool doc2-check --in PLAINTEXT_FILE\n",
	      stderr);
	return 2;
}

static int tool_parse(int argc, char **argv, struct tool_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_wire = TOOL_MAX_INPUT;
	for (int i = 2; i < argc; i += 2) {
		const char *name = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (v == NULL)
			return -1;
		if (strcmp(name, "--key") == 0)
			o->key = v;
		else if (strcmp(name, "--sender-key") == 0)
			o->sender_key = v;
		else if (strcmp(name, "--recipient-key") == 0)
			o->recipient_key = v;
		else if (strcmp(name, "--eph-key") == 0)
			o->eph_key = v;
		else if (strcmp(name, "--to") == 0)
			o->to = v;
		else if (strcmp(name, "--from") == 0)
			o->from = v;
		else if (strcmp(name, "--in") == 0)
			o->in = v;
		else if (strcmp(name, "--out") == 0)
			o->out = v;
		else if (strcmp(name, "--nonce") == 0)
			o->nonce = v;
		else if (strcmp(name, "--description") == 0)
			o->description = v;
		else if (strcmp(name, "--db") == 0)
			o->db = v;
		else if (strcmp(name, "--max-wire") == 0) {
			errno = 0;
			o->max_wire = strtoull(v, &end, 10);
			if (errno != 0 || *v == '\0' || *end != '\0')
				return -1;
		} else
			return -1;
	}
	return 0;
}

static int tool_load_key(const char *path, struct node_key *key)
{
	char err[512], *text = NULL;
	size_t len;
	int rc = -1;

	if (secret_read_file(path, &text, &len, err, sizeof(err)) == -1) {
		fprintf(stderr, "seal_tool: %s\n", err);
		return -1;
	}
	if (b64_decode_exact(text, key->priv, 32) == 0 &&
	    keys_public_from_private(key->priv, key->pub) == 0)
		rc = 0;
	else
		fprintf(stderr, "seal_tool: %s: not a private.key file\n", path);
	secret_free(text);
	return rc;
}

static int tool_read(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    (size_t)n > TOOL_MAX_INPUT || fseek(f, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)n + 1)) == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "seal_tool: %s: cannot read\n", path);
		free(buf);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	fclose(f);
	*out = buf;
	*len = (size_t)n;
	return 0;
}

static int tool_write(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int rc = -1;

	if (fd != -1 && (len == 0 || write(fd, data, len) == (ssize_t)len))
		rc = 0;
	if (fd != -1 && close(fd) == -1)
		rc = -1;
	if (rc == -1)
		fprintf(stderr, "seal_tool: %s: cannot write\n", path);
	return rc;
}

static const char *tool_status_name(enum seal_status st)
{
	static const char *const names[] = {"OK", "MALFORMED", "TOO_LARGE",
					    "WEAK_KEY", "AUTH", "INTERNAL"};
	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

static int tool_keygen(const struct tool_opts *o)
{
	struct node_key k;
	char line[46];
	int fd, rc = 1;

	if (o->out == NULL)
		return tool_usage();
	if (keys_generate(&k) == -1)
		return 1;
	b64_encode(line, k.priv, 32);
	line[44] = '\n';
	fd = open(o->out, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd != -1 && write(fd, line, 45) == 45)
		rc = 0;
	if (fd != -1)
		close(fd);
	if (rc != 0)
		fprintf(stderr, "seal_tool: %s: cannot create\n", o->out);
	OPENSSL_cleanse(line, sizeof(line));
	keys_wipe(&k);
	return rc;
}

static int tool_pubkey(const struct tool_opts *o)
{
	struct node_key k;
	char b64[45];

	if (o->key == NULL)
		return tool_usage();
	if (tool_load_key(o->key, &k) == -1)
		return 1;
	b64_encode(b64, k.pub, 32);
	keys_wipe(&k);
	printf("%s\n", b64);
	return 0;
}

/* seal and open share one shape: key file, peer public key, in, out. */
static int tool_seal_or_open(const struct tool_opts *o, int sealing)
{
	const char *keyfile = sealing ? o->sender_key : o->key, *peer64 = sealing ? o->to : o->from;
	uint8_t peer[32], *in = NULL, *out = NULL;
	size_t in_len = 0, out_len = 0;
	struct node_key k;
	enum seal_status st;
	int rc = 1;

	if (keyfile == NULL || peer64 == NULL || o->in == NULL || o->out == NULL)
		return tool_usage();
	if (b64_decode_exact(peer64, peer, 32) == -1) {
		fprintf(stderr, "seal_tool: public key is not 44 characters of base64\n");
		return 2;
	}
	if (tool_load_key(keyfile, &k) == -1)
		return 1;
	if (tool_read(o->in, &in, &in_len) == -1)
		goto done;
	st = sealing ? seal_seal(&k, peer, in, in_len, &out, &out_len)
		     : seal_open(&k, peer, in, in_len, o->max_wire, &out, &out_len);
	if (st != SEAL_OK) {
		fprintf(stderr, "seal_tool: %s refused: %s: %s\n", sealing ? "seal" : "open",
			tool_status_name(st), seal_strerror(st));
		goto done;
	}
	if (tool_write(o->out, out, out_len) == 0)
		rc = 0;
done:
	if (out != NULL)
		OPENSSL_clear_free(out, out_len);
	free(in);
	keys_wipe(&k);
	return rc;
}

static void tool_hex(char *out, const uint8_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

static int tool_add_hex(cJSON *obj, const char *name, const uint8_t *in, size_t n)
{
	char buf[2 * 96 + 1];

	tool_hex(buf, in, n);
	return cJSON_AddStringToObject(obj, name, buf) == NULL ? -1 : 0;
}

static int tool_add_b64(cJSON *obj, const char *name, const uint8_t *in, size_t n)
{
	char *s = b64_encode_alloc(in, n);
	int rc = s != NULL && cJSON_AddStringToObject(obj, name, s) != NULL ? 0 : -1;

	free(s);
	return rc;
}

/* HKDF-Extract alone, for the "prk" intermediate of a vector. */
static int tool_prk(const uint8_t salt[96], const uint8_t ikm[64], uint8_t prk[32])
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf == NULL ? NULL : EVP_KDF_CTX_new(kdf);
	char digest[] = "SHA256", mode[] = "EXTRACT_ONLY";
	OSSL_PARAM p[5];
	int rc = -1;

	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	p[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, mode, 0);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, 96);
	p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, 64);
	p[4] = OSSL_PARAM_construct_end();
	if (ctx != NULL && EVP_KDF_derive(ctx, prk, 32, p) == 1)
		rc = 0;
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

/* Adds dh_e, dh_s, salt, ikm, prk and key, computed with seal.c's own steps. */
static int tool_add_intermediates(cJSON *v, const struct node_key *s, const struct node_key *r,
				  const struct node_key *e)
{
	uint8_t dh_e[32], dh_s[32], salt[96], ikm[64], prk[32], key[32];
	cJSON *obj = cJSON_AddObjectToObject(v, "intermediate");
	int rc = -1;

	if (obj == NULL || seal_dh(e->priv, r->pub, dh_e) != SEAL_OK ||
	    seal_dh(s->priv, r->pub, dh_s) != SEAL_OK ||
	    seal_derive_key(dh_e, dh_s, e->pub, r->pub, s->pub, key) != SEAL_OK)
		goto done;
	memcpy(salt, e->pub, 32);
	memcpy(salt + 32, r->pub, 32);
	memcpy(salt + 64, s->pub, 32);
	memcpy(ikm, dh_e, 32);
	memcpy(ikm + 32, dh_s, 32);
	if (tool_prk(salt, ikm, prk) == -1)
		goto done;
	if (tool_add_hex(obj, "dh_e", dh_e, 32) == 0 && tool_add_hex(obj, "dh_s", dh_s, 32) == 0 &&
	    tool_add_hex(obj, "salt", salt, 96) == 0 && tool_add_hex(obj, "ikm", ikm, 64) == 0 &&
	    tool_add_hex(obj, "prk", prk, 32) == 0 && tool_add_hex(obj, "key", key, 32) == 0 &&
	    tool_add_hex(obj, "aad", e->pub, 32) == 0)
		rc = 0;
done:
	OPENSSL_cleanse(dh_e, sizeof(dh_e));
	OPENSSL_cleanse(dh_s, sizeof(dh_s));
	OPENSSL_cleanse(ikm, sizeof(ikm));
	OPENSSL_cleanse(prk, sizeof(prk));
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

static int tool_vector(const struct tool_opts *o)
{
	struct node_key s, r, e;
	uint8_t nonce[SEAL_NONCE_LEN], *pt = NULL, *wire = NULL;
	size_t pt_len = 0, wire_len = 0;
	size_t nonce_len = 0;
	cJSON *v = cJSON_CreateObject();
	char *text = NULL;
	int rc = 1;

	if (o->sender_key == NULL || o->recipient_key == NULL || o->eph_key == NULL ||
	    o->nonce == NULL || o->in == NULL || v == NULL) {
		cJSON_Delete(v);
		return tool_usage();
	}
	memset(&s, 0, sizeof(s));
	memset(&r, 0, sizeof(r));
	memset(&e, 0, sizeof(e));
	if (OPENSSL_hexstr2buf_ex(nonce, sizeof(nonce), &nonce_len, o->nonce, '\0') != 1 ||
	    nonce_len != SEAL_NONCE_LEN || tool_load_key(o->sender_key, &s) == -1 ||
	    tool_load_key(o->recipient_key, &r) == -1 || tool_load_key(o->eph_key, &e) == -1 ||
	    tool_read(o->in, &pt, &pt_len) == -1)
		goto done;
	if (seal_seal_with(&s, r.pub, e.priv, nonce, pt, pt_len, &wire, &wire_len) != SEAL_OK)
		goto done;
	if (cJSON_AddStringToObject(v, "description", o->description ? o->description : "") ==
		NULL ||
	    cJSON_AddStringToObject(v, "info", SEAL_INFO) == NULL ||
	    tool_add_b64(v, "sender_private", s.priv, 32) == -1 ||
	    tool_add_b64(v, "sender_public", s.pub, 32) == -1 ||
	    tool_add_b64(v, "recipient_private", r.priv, 32) == -1 ||
	    tool_add_b64(v, "recipient_public", r.pub, 32) == -1 ||
	    tool_add_b64(v, "ephemeral_private", e.priv, 32) == -1 ||
	    tool_add_b64(v, "ephemeral_public", e.pub, 32) == -1 ||
	    tool_add_hex(v, "nonce", nonce, sizeof(nonce)) == -1 ||
	    tool_add_b64(v, "plaintext", pt, pt_len) == -1 ||
	    cJSON_AddNumberToObject(v, "plaintext_len", (double)pt_len) == NULL ||
	    tool_add_intermediates(v, &s, &r, &e) == -1 ||
	    tool_add_b64(v, "wire", wire, wire_len) == -1 ||
	    cJSON_AddNumberToObject(v, "wire_len", (double)wire_len) == NULL ||
	    (text = cJSON_Print(v)) == NULL)
		goto done;
	printf("%s\n", text);
	rc = 0;
done:
	if (rc != 0)
		fprintf(stderr, "seal_tool: vector: failed\n");
	free(text);
	cJSON_Delete(v);
	free(wire);
	free(pt);
	keys_wipe(&s);
	keys_wipe(&r);
	keys_wipe(&e);
	return rc;
}

/* The rows hash (section 5B) of a Pocket ID database as the primary counts
 * it (no kept CIMD clients), read in one read transaction. */
static int tool_rows_hash(const struct tool_opts *o)
{
	sqlite3 *db = NULL;
	struct schema s;
	uint8_t h[32];
	char err[512], b64[45];
	int rc = 1;

	if (o->db == NULL)
		return tool_usage();
	if (sqlite3_open_v2(o->db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "seal_tool: %s: %s\n", o->db, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return 1;
	}
	if (schema_load(db, &s, err, sizeof(err)) == -1) {
		fprintf(stderr, "seal_tool: %s: %s\n", o->db, err);
	} else {
		if (rowhash_scan(db, &s, NULL, h, err, sizeof(err)) == 0) {
			b64_encode(b64, h, 32);
			printf("%s\n", b64);
			rc = 0;
		} else {
			fprintf(stderr, "seal_tool: %s: %s\n", o->db, err);
		}
		schema_free(&s);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

/* Every rule of section 5A on an opened plaintext (doc2_check). */
static int tool_doc2_check(const struct tool_opts *o)
{
	struct doc2_header h;
	uint8_t *pt = NULL;
	size_t len = 0;
	char err[512], b64[45];

	if (o->in == NULL)
		return tool_usage();
	if (tool_read(o->in, &pt, &len) == -1)
		return 1;
	if (doc2_check(pt, len, &h, err, sizeof(err)) != 0) {
		fprintf(stderr, "seal_tool: doc2-check refused: %s\n", err);
		OPENSSL_cleanse(pt, len);
		free(pt);
		return 1;
	}
	b64_encode(b64, h.rows_hash, 32);
	printf("ok kind %s generation %llu rows_hash %s tables %llu", h.kind == DOC2_DELTA ? "delta" : "full",
	       (unsigned long long)h.generation, b64, (unsigned long long)h.ntables);
	if (h.kind == DOC2_DELTA) {
		b64_encode(b64, h.base_rows_hash, 32);
		printf(" base_generation %llu base_rows_hash %s", (unsigned long long)h.base_generation, b64);
	}
	printf(" jwt_key %s\n", !h.has_jwt ? "absent" : h.jwk_json ? "present" : "null");
	doc2_header_free(&h);
	OPENSSL_cleanse(pt, len); /* the plaintext holds secrets */
	free(pt);
	return 0;
}

int main(int argc, char **argv)
{
	struct tool_opts o;
	const char *cmd = argc > 1 ? argv[1] : "";

	if (argc < 2 || tool_parse(argc, argv, &o) == -1)
		return tool_usage();
	if (strcmp(cmd, "keygen") == 0)
		return tool_keygen(&o);
	if (strcmp(cmd, "pubkey") == 0)
		return tool_pubkey(&o);
	if (strcmp(cmd, "seal") == 0)
		return tool_seal_or_open(&o, 1);
	if (strcmp(cmd, "open") == 0)
		return tool_seal_or_open(&o, 0);
	if (strcmp(cmd, "vector") == 0)
		return tool_vector(&o);
	if (strcmp(cmd, "rows-hash") == 0)
		return tool_rows_hash(&o);
	if (strcmp(cmd, "doc2-check") == 0)
		return tool_doc2_check(&o);
	return tool_usage();
}
