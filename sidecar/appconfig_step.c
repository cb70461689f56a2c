/* appconfig_step: read on the primary, write on a secondary (see
 * appconfig_step.h). */
#include "appconfig_step.h"

#include "log.h"
#include "pocketid_api.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#define PENDING_KEY "app_config_pending"
#define ERROR_KEY "app_config_error"

bool appconfig_step_enabled(const struct config *cfg)
{
	return cfg->pocket_id_api_key != NULL && !cfg->ui_config_disabled;
}

int appconfig_step_read(const struct config *cfg, struct appconfig *out, char *err, size_t errlen)
{
	char *body;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if (piapi_get_config(cfg->pocket_id_url, cfg->pocket_id_api_key, &body, &len, err, errlen) !=
	    PIAPI_OK)
		return -1;
	rc = appconfig_parse(body, len, out, err, errlen);
	piapi_free_body(body, len);
	return rc;
}

void appconfig_step_record(struct state *st, const char *error)
{
	state_status_set_i64(st, PENDING_KEY, error != NULL ? 1 : 0);
	state_status_set(st, ERROR_KEY, error);
}

bool appconfig_step_pending(struct state *st)
{
	int64_t v = 0;
	return state_status_get_i64(st, PENDING_KEY, &v) == 0 && v == 1;
}

/* Reads the local configuration, merges, and PUTs when something differs. */
static enum appconfig_outcome write_merged(const struct config *cfg, const struct appconfig *shipped,
					   size_t *changed, char *err, size_t errlen)
{
	struct appconfig local, want;
	enum appconfig_outcome o = APPCONFIG_FAILED;
	char *body;
	size_t len;

	if (appconfig_step_read(cfg, &local, err, errlen) == -1)
		return APPCONFIG_FAILED;
	if (appconfig_merge(&local, shipped, &want, changed) == -1) {
		snprintf(err, errlen, "out of memory");
		appconfig_free(&local);
		return APPCONFIG_FAILED;
	}
	if (*changed == 0) {
		o = APPCONFIG_UNCHANGED;
	} else if ((body = appconfig_put_body(&want, &len)) == NULL) {
		snprintf(err, errlen, "out of memory");
	} else {
		if (piapi_put_config(cfg->pocket_id_url, cfg->pocket_id_api_key, body, err, errlen) ==
		    PIAPI_OK)
			o = APPCONFIG_WRITTEN;
		OPENSSL_cleanse(body, len);
		free(body);
	}
	appconfig_free(&want);
	appconfig_free(&local);
	return o;
}

enum appconfig_outcome appconfig_step_write(const struct config *cfg, struct state *st,
					    const struct payload *p, size_t *changed, char *err,
					    size_t errlen)
{
	const struct pl_table *t = payload_table(p, APPCONFIG_TABLE);
	struct appconfig shipped;
	enum appconfig_outcome o;
	char q[600];

	*changed = 0;
	o = cfg->pocket_id_api_key == NULL ? APPCONFIG_OFF
	    : cfg->ui_config_disabled	   ? APPCONFIG_UI_DISABLED
	    : t == NULL			   ? APPCONFIG_NOT_SHIPPED
					   : APPCONFIG_FAILED;
	if (o != APPCONFIG_FAILED) {
		/* nothing to write here any more: an earlier failure is moot */
		if (appconfig_step_pending(st))
			appconfig_step_record(st, NULL);
		return o;
	}
	if (appconfig_from_table(t, &shipped, err, errlen) == -1)
		o = APPCONFIG_FAILED;
	else
		o = write_merged(cfg, &shipped, changed, err, errlen);
	appconfig_free(&shipped);
	if (o == APPCONFIG_FAILED) {
		appconfig_step_record(st, err);
		log_warn("app_config.failed", "error=%s", log_quote(q, sizeof(q), err));
		return o;
	}
	if (appconfig_step_pending(st))
		log_info("app_config.recovered", NULL);
	appconfig_step_record(st, NULL);
	if (o == APPCONFIG_WRITTEN)
		log_info("app_config.written", "keys=%zu", *changed);
	return o;
}

void appconfig_step_describe(const struct config *cfg, struct state *st, char *buf, size_t n)
{
	char err[400] = "";

	if (cfg->pocket_id_api_key == NULL)
		snprintf(buf, n, "not through the API (no SYNC_POCKET_ID_API_KEY)");
	else if (cfg->ui_config_disabled)
		snprintf(buf, n, "from this node's environment (UI_CONFIG_DISABLED=true)");
	else if (appconfig_step_pending(st) &&
		 state_status_get(st, ERROR_KEY, err, sizeof(err)) != -1)
		snprintf(buf, n, "through %s, retrying: %s", cfg->pocket_id_url, err[0] ? err : "unknown error");
	else
		snprintf(buf, n, "through %s", cfg->pocket_id_url);
}

const char *appconfig_outcome_name(enum appconfig_outcome o)
{
	static const char *const names[] = {"off", "ui_config_disabled", "not_shipped",
					    "unchanged", "written", "failed"};
	return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "failed";
}
