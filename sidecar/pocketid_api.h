/* pocketid_api: the sidecar as a client of its OWN node's Pocket ID HTTP API
 * (SYNC_POCKET_ID_URL, never the proxy), authenticated with an admin API key
 * in X-API-Key: read and write the application configuration. It knows the
 * two routes and their status codes; what to read or write is appconfig.c's
 * business. Blocking libcurl calls with short time limits; the key is never
 * logged and never part of an error message. */
#ifndef PIS_POCKETID_API_H
#define PIS_POCKETID_API_H

#include <stddef.h>

#define PIAPI_MAX_BODY (1u << 20) /* a configuration is a few KiB */
#define PIAPI_TIMEOUT_MS 2000

enum piapi_status {
	PIAPI_OK = 0,
	PIAPI_UNREACHABLE, /* connection refused, timeout, DNS, TLS ... */
	PIAPI_REFUSED,	   /* 401/403: the API key is wrong, revoked or not an admin's */
	PIAPI_HTTP,	   /* any other unexpected status */
	PIAPI_INVALID,	   /* the answer is not what Pocket ID answers */
};

/* GET base_url/api/application-configuration/all. On PIAPI_OK *body is a
 * malloc'd NUL-terminated copy of the JSON (caller frees with
 * piapi_free_body: it may hold SMTP and LDAP passwords). Otherwise err holds
 * one line naming the URL and the cause. */
enum piapi_status piapi_get_config(const char *base_url, const char *api_key, char **body,
				   size_t *len, char *err, size_t errlen);
/* PUT base_url/api/application-configuration with the JSON object json. */
enum piapi_status piapi_put_config(const char *base_url, const char *api_key, const char *json,
				   char *err, size_t errlen);
/* Wipes and frees a body returned above (NULL is fine). */
void piapi_free_body(char *body, size_t len);

#endif
