/* keys: X25519 node keys through OpenSSL's EVP_PKEY raw-key API, and the
 * private.key file format. The file is created with link(2) from a fully
 * written temporary file, so concurrent first starts agree on one key. */
#include "keys.h"

#include "b64.h"
#include "log.h"
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int keys_public_from_private(const uint8_t priv[static 32], uint8_t pub[static 32])
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	size_t len = 32;
	int rc = -1;

	if (pk != NULL && EVP_PKEY_get_raw_public_key(pk, pub, &len) == 1 && len == 32)
		rc = 0;
	EVP_PKEY_free(pk);
	return rc;
}

int keys_generate(struct node_key *key)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	size_t len = 32;
	int rc = -1;

	if (pk != NULL && EVP_PKEY_get_raw_private_key(pk, key->priv, &len) == 1 && len == 32 &&
	    keys_public_from_private(key->priv, key->pub) == 0)
		rc = 0;
	EVP_PKEY_free(pk);
	if (rc == -1)
		keys_wipe(key);
	return rc;
}

void keys_fingerprint(const uint8_t pub[static 32], char out[static 17])
{
	uint8_t h[32];
	unsigned int n = sizeof(h);

	EVP_Digest(pub, 32, h, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

void keys_wipe(struct node_key *key) { OPENSSL_cleanse(key, sizeof(*key)); }

int keys_ensure_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	snprintf(err, errlen, "SYNC_STATE_DIR %s: cannot create: %s", dir,
		 errno == EEXIST ? "exists and is not a directory" : strerror(errno));
	return -1;
}

static int key_path(const char *dir, const char *name, char *out, size_t n)
{
	return snprintf(out, n, "%s/%s", dir, name) < (int)n ? 0 : -1;
}

int keys_load(const char *state_dir, struct node_key *key, char *err, size_t errlen)
{
	char path[4096], *text = NULL;
	size_t len;

	if (key_path(state_dir, KEYS_FILE_NAME, path, sizeof(path)) == -1) {
		snprintf(err, errlen, "SYNC_STATE_DIR: path too long");
		return -1;
	}
	if (secret_read_file(path, &text, &len, err, errlen) == -1)
		return -1;
	if (b64_decode_exact(text, key->priv, 32) == -1 ||
	    keys_public_from_private(key->priv, key->pub) == -1) {
		snprintf(err, errlen, "%s: not one line of base64 holding a 32-byte X25519 key", path);
		secret_free(text);
		keys_wipe(key);
		return -1;
	}
	secret_free(text);
	return 0;
}

/* When root creates the key in a directory the service user owns (say, by
 * running `pocket-id-sync pubkey` before the first start), the file goes to
 * that user so the daemon can read it; state.db does the same. */
static void give_to_dir_owner(int fd, const char *dir)
{
	struct stat ds;

	if (geteuid() == 0 && stat(dir, &ds) == 0 && ds.st_uid != 0 &&
	    fchown(fd, ds.st_uid, ds.st_gid) == -1)
		log_warn("keys.chown_failed", "errno=%d", errno);
}

/* Writes a new key to a temporary file and links it into place; EEXIST from
 * link means another process won the race, which is fine. */
static int keys_create(const char *state_dir, char *err, size_t errlen)
{
	char tmp[4096], path[4096], line[46];
	struct node_key key;
	int fd, rc = -1;

	if (key_path(state_dir, KEYS_FILE_NAME, path, sizeof(path)) == -1 ||
	    key_path(state_dir, ".private.key.XXXXXX", tmp, sizeof(tmp)) == -1) {
		snprintf(err, errlen, "SYNC_STATE_DIR: path too long");
		return -1;
	}
	if (keys_generate(&key) == -1) {
		snprintf(err, errlen, "cannot generate an X25519 key");
		return -1;
	}
	b64_encode(line, key.priv, 32);
	line[44] = '\n';
	line[45] = '\0';
	fd = mkstemp(tmp); /* mode 0600 */
	if (fd == -1) {
		snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
		goto out;
	}
	give_to_dir_owner(fd, state_dir);
	if (write(fd, line, 45) != 45 || fsync(fd) == -1) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (link(tmp, path) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	unlink(tmp);
	rc = 0;
out:
	OPENSSL_cleanse(line, sizeof(line));
	keys_wipe(&key);
	return rc;
}

int keys_load_or_create(const char *state_dir, struct node_key *key, char *err, size_t errlen)
{
	char path[4096];

	if (keys_ensure_dir(state_dir, err, errlen) == -1)
		return -1;
	if (key_path(state_dir, KEYS_FILE_NAME, path, sizeof(path)) == -1) {
		snprintf(err, errlen, "SYNC_STATE_DIR: path too long");
		return -1;
	}
	if (access(path, F_OK) == -1) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		if (keys_create(state_dir, err, errlen) == -1)
			return -1;
	}
	return keys_load(state_dir, key, err, errlen);
}
