/* pocketid_api: two requests to the local Pocket ID (see pocketid_api.h). */
#include "pocketid_api.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_PATH "/api/application-configuration"

struct body {
	char *data;
	size_t len;
	bool too_large;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;
	char *nb;

	if (b->len + len > PIAPI_MAX_BODY) {
		b->too_large = true;
		return 0;
	}
	nb = OPENSSL_clear_realloc(b->data, b->len, b->len + len + 1);
	if (nb == NULL)
		return 0;
	b->data = nb;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

void piapi_free_body(char *body, size_t len)
{
	if (body != NULL)
		OPENSSL_clear_free(body, len + 1);
}

static enum piapi_status classify(CURLcode cc, long status, const char *method, const char *url,
				  const struct body *b, char *err, size_t errlen)
{
	if (b->too_large) {
		snprintf(err, errlen, "%s %s: the answer is larger than %u bytes", method, url, PIAPI_MAX_BODY);
		return PIAPI_INVALID;
	}
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s %s: %s (is Pocket ID running there? SYNC_POCKET_ID_URL)", method,
			 url, curl_easy_strerror(cc));
		return PIAPI_UNREACHABLE;
	}
	if (status == 401 || status == 403) {
		snprintf(err, errlen, "%s %s: HTTP %ld: the API key was refused (SYNC_POCKET_ID_API_KEY_FILE "
				      "must hold a key of an admin user that has not expired or been revoked)",
			 method, url, status);
		return PIAPI_REFUSED;
	}
	if (status != 200) {
		snprintf(err, errlen, "%s %s: unexpected HTTP status %ld", method, url, status);
		return PIAPI_HTTP;
	}
	return PIAPI_OK;
}

/* One request; body_out receives the answer (always, so the caller wipes it). */
static enum piapi_status request(const char *method, const char *base_url, const char *api_key,
				 const char *json, struct body *out, char *err, size_t errlen)
{
	char url[2048], hdr_key[1024];
	struct curl_slist *hdr = NULL;
	CURL *h = curl_easy_init();
	enum piapi_status rc;
	size_t blen = strlen(base_url);
	long status = 0;
	CURLcode cc;

	memset(out, 0, sizeof(*out));
	while (blen > 0 && base_url[blen - 1] == '/')
		blen--;
	if (h == NULL || snprintf(url, sizeof(url), "%.*s%s%s", (int)blen, base_url, CONFIG_PATH,
				  json == NULL ? "/all" : "") >= (int)sizeof(url) ||
	    snprintf(hdr_key, sizeof(hdr_key), "X-API-Key: %s", api_key) >= (int)sizeof(hdr_key)) {
		snprintf(err, errlen, "%s %s: cannot build the request", method, base_url);
		curl_easy_cleanup(h);
		return PIAPI_INVALID;
	}
	hdr = curl_slist_append(hdr, hdr_key);
	OPENSSL_cleanse(hdr_key, sizeof(hdr_key));
	hdr = curl_slist_append(hdr, "Accept: application/json");
	if (json != NULL)
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)PIAPI_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "pocket-id-sync");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	if (json != NULL) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	}
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	rc = classify(cc, status, method, url, out, err, errlen);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	/* the list holds a copy of the key: wipe it before freeing */
	for (struct curl_slist *s = hdr; s != NULL; s = s->next)
		OPENSSL_cleanse(s->data, strlen(s->data));
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return rc;
}

enum piapi_status piapi_get_config(const char *base_url, const char *api_key, char **body,
				   size_t *len, char *err, size_t errlen)
{
	struct body b;
	enum piapi_status rc = request("GET", base_url, api_key, NULL, &b, err, errlen);

	if (rc != PIAPI_OK || b.data == NULL) {
		piapi_free_body(b.data, b.len);
		if (rc == PIAPI_OK) {
			snprintf(err, errlen, "GET %s" CONFIG_PATH "/all: empty answer", base_url);
			rc = PIAPI_INVALID;
		}
		*body = NULL;
		*len = 0;
		return rc;
	}
	*body = b.data;
	*len = b.len;
	return PIAPI_OK;
}

enum piapi_status piapi_put_config(const char *base_url, const char *api_key, const char *json,
				   char *err, size_t errlen)
{
	struct body b;
	enum piapi_status rc = request("PUT", base_url, api_key, json, &b, err, errlen);

	piapi_free_body(b.data, b.len);
	return rc;
}
