/* pocketid_env_checks: Pocket ID's own settings (its .env, read with the
 * same --env-file parser, or the unit's environment) that matter when
 * several nodes share one set of durable rows: LDAP must sync on the primary
 * only, STATIC_API_KEY be the same everywhere, the actor host stay on
 * loopback, TRUST_PROXY name the proxy, API-key expiry e-mails go out from
 * the primary only. check-config and run both call it; it never writes, and
 * it knows nothing about the sidecar's own variables (config.c). */
#ifndef PIS_POCKETID_ENV_CHECKS_H
#define PIS_POCKETID_ENV_CHECKS_H

#include "config.h"

/* Adds a line to errors for what breaks the sync (run refuses to start), to
 * warnings for what an operator should look at. m holds every variable the
 * command read; schema_version is the database's schema_migrations version
 * (NULL when unknown), which tells which Pocket ID settings exist. The
 * checks that judge a default (ACTORS_HOST unset) run only when Pocket ID's
 * .env was among the files, which the APP_URL it sets tells. */
void pocketid_env_check(const struct config *cfg, const struct envmap *m,
			const char *schema_version, struct config_problems *errors,
			struct config_problems *warnings);

#endif
