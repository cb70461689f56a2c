/* keys: this node's long-term X25519 keypair, kept in SYNC_STATE_DIR as
 * private.key (standard base64 of the 32 raw private bytes, one line, mode
 * 0600). Creates it on first use, atomically; refuses a key file that group
 * or others can access. Does not do any sealing (seal.c). */
#ifndef PIS_KEYS_H
#define PIS_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define KEYS_FILE_NAME "private.key"

struct node_key {
	uint8_t priv[32];
	uint8_t pub[32];
};

/* Loads state_dir/private.key, creating state_dir (0700) and the key if they
 * do not exist. Returns 0, or -1 with a one-line reason in err. */
int keys_load_or_create(const char *state_dir, struct node_key *key, char *err, size_t errlen);
/* Loads an existing key only. Returns 0, or -1 with a reason in err. */
int keys_load(const char *state_dir, struct node_key *key, char *err, size_t errlen);
/* Derives the public key from a private key. Returns 0 or -1. */
int keys_public_from_private(const uint8_t priv[static 32], uint8_t pub[static 32]);
/* Fresh keypair. Returns 0 or -1. */
int keys_generate(struct node_key *key);
/* Short fingerprint for humans: first 8 bytes of SHA-256(pub), hex. */
void keys_fingerprint(const uint8_t pub[static 32], char out[static 17]);
void keys_wipe(struct node_key *key);
/* Creates dir with mode 0700 if missing (parents must exist). 0 or -1. */
int keys_ensure_dir(const char *dir, char *err, size_t errlen);

#endif
