/* appconfig_step: when and where the application configuration moves through
 * Pocket ID's own API (appconfig.h has the what). The primary reads its own
 * Pocket ID's configuration to ship it; a secondary writes the shipped one
 * into its own Pocket ID after the database apply, only when it differs,
 * and remembers a failure in state.db (status app_config_pending and
 * app_config_error) so that the next interval poll, the next start or the
 * next apply tries again. It never restarts Pocket ID: the API takes effect
 * at once. */
#ifndef PIS_APPCONFIG_STEP_H
#define PIS_APPCONFIG_STEP_H

#include <stdbool.h>
#include <stddef.h>

#include "appconfig.h"
#include "config.h"
#include "payload.h"
#include "state.h"

enum appconfig_outcome {
	APPCONFIG_OFF = 0,	   /* no SYNC_POCKET_ID_API_KEY: rows and restarts as before */
	APPCONFIG_UI_DISABLED,	   /* UI_CONFIG_DISABLED=true: this node's environment rules */
	APPCONFIG_NOT_SHIPPED,	   /* the primary sent none (its API key is not set) */
	APPCONFIG_UNCHANGED,	   /* this node already has it */
	APPCONFIG_WRITTEN,	   /* changed keys written through the API */
	APPCONFIG_FAILED,	   /* Pocket ID down or the key refused; pending a retry */
};

/* The API path is configured on this node (an API key, and the UI may edit
 * the configuration). */
bool appconfig_step_enabled(const struct config *cfg);
/* Primary: reads this node's configuration. Returns 0, or -1 with err. */
int appconfig_step_read(const struct config *cfg, struct appconfig *out, char *err, size_t errlen);
/* Secondary: makes this node's Pocket ID serve p's configuration (if p
 * carries one), keeping per-node keys. *changed = keys written. */
enum appconfig_outcome appconfig_step_write(const struct config *cfg, struct state *st,
					    const struct payload *p, size_t *changed, char *err,
					    size_t errlen);
/* A read (primary) or write (secondary) failed and waits for a retry; the
 * error is status app_config_error. record(st, NULL) clears it. */
bool appconfig_step_pending(struct state *st);
void appconfig_step_record(struct state *st, const char *error);
/* One line for `status`: how this node's configuration moves. */
void appconfig_step_describe(const struct config *cfg, struct state *st, char *buf, size_t n);
const char *appconfig_outcome_name(enum appconfig_outcome o);

#endif
