/* pocketid_env_checks: Pocket ID's own settings (its .env, read with the
 * same --env-file parser) that matter when several nodes share one set of
 * durable rows: LDAP must sync on the primary only, STATIC_API_KEY the same
 * everywhere, the actor host on loopback, TRUST_PROXY narrow, SMTP on the
 * primary only. check-config and run both call it; it never writes. */
#ifndef PIS_POCKETID_ENV_CHECKS_H
#define PIS_POCKETID_ENV_CHECKS_H

#include "config.h"

/* Adds a line to errors for what breaks the sync, to warnings for what an
 * operator should look at. m holds every variable the command read. */
void pocketid_env_check(const struct config *cfg, const struct envmap *m,
			struct config_problems *errors, struct config_problems *warnings);

#endif
