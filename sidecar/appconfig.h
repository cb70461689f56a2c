/* appconfig: Pocket ID's application configuration as the sidecar moves it
 * (every version; the only way from v2.12, where it lives in actor state):
 * the list Pocket ID's API returns, which keys stay per node, the pseudo-table
 * "@app_configuration" that carries it inside a payload, its hash (part of
 * the generation) and the merge a secondary writes back through its own
 * Pocket ID's API. No I/O here: pocketid_api.c talks HTTP, appconfig_step.c
 * decides when. Values may be secrets (SMTP, LDAP passwords): nothing here
 * logs them, and appconfig_free wipes them. */
#ifndef PIS_APPCONFIG_H
#define PIS_APPCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "payload.h"

#define APPCONFIG_TABLE "@app_configuration"
#define APPCONFIG_MAX_KEYS 256
#define APPCONFIG_MAX_VALUE 65536

struct appconfig {
	size_t n;
	char **keys;   /* sorted by strcmp, unique */
	char **values; /* UTF-8, no NUL */
};

/* Keys each node keeps for itself, never written by a sync: its LDAP switch
 * (LDAP runs on the primary only), API-key expiry e-mails (sent by the
 * primary only), the instance id and the v1.x image types (files on each
 * node's disk). */
bool appconfig_key_per_node(const char *key);

/* Parses the body of GET /api/application-configuration/all (an array of
 * {"key": ..., "value": ..., ...}). Returns 0, or -1 with one line in err
 * (which never quotes a value). */
int appconfig_parse(const char *json, size_t len, struct appconfig *out, char *err, size_t errlen);
/* The pseudo-table and back. to_table fills t with malloc'd name, columns and
 * t: cells (caller frees with the payload); from_table validates. */
int appconfig_to_table(const struct appconfig *ac, struct pl_table *t);
int appconfig_from_table(const struct pl_table *t, struct appconfig *out, char *err, size_t errlen);
/* SHA-256 over the sorted keys and values. */
void appconfig_hash(const struct appconfig *ac, uint8_t out[static 32]);
/* The content hash of a snapshot that ships ac too: content becomes
 * SHA-256(label, content, appconfig_hash(ac)), so a changed configuration is
 * a new generation and an unchanged one is not. */
void appconfig_mix_hash(uint8_t content[static 32], const struct appconfig *ac);

/* What a secondary writes: its own configuration (local) with every key that
 * the primary's (shipped) also has and that is not per node taken from the
 * primary. *changed counts the keys whose value differs; when it is 0 there is
 * nothing to write. Returns 0 or -1 (out of memory). */
int appconfig_merge(const struct appconfig *local, const struct appconfig *shipped,
		    struct appconfig *out, size_t *changed);
/* The body of PUT /api/application-configuration: one JSON object of
 * strings. malloc'd; the caller wipes it (it holds the values). NULL on
 * allocation failure. */
char *appconfig_put_body(const struct appconfig *ac, size_t *len);

void appconfig_free(struct appconfig *ac);

#endif
