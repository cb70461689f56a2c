/* pocketid_env_checks: see pocketid_env_checks.h. Each claim was read in
 * Pocket ID's source (v1.9.1 ... v2.14.0, backend/internal/common/
 * env_config.go and the app configuration model):
 * - UI_CONFIG_DISABLED=true makes Pocket ID take its application
 *   configuration from the environment (LDAP_ENABLED, SMTP_HOST,
 *   EMAIL_API_KEY_EXPIRATION_ENABLED, ...); otherwise it lives in the
 *   database and these variables are ignored.
 * - STATIC_API_KEY[_FILE] (v2.11+): unset deletes the static API user (a
 *   users row, which is synced) at every start.
 * - ACTORS_HOST/ACTORS_PORT (v2.11+): the actor host listens on 0.0.0.0:1414
 *   by default.
 * - TRUST_PROXY: true trusts every address; from v2.11 it also takes a list
 *   of addresses or CIDRs, before that only true or false.
 * - The API-key expiry job runs on every node (expiration_email_sent is a
 *   per-node column). */
#include "pocketid_env_checks.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The first v2.11 migration (instance id moved to kv): STATIC_API_KEY,
 * ACTORS_HOST and TRUST_PROXY lists exist from there on. */
#define POCKETID_V2_11_SCHEMA 20260708130000ULL

static const char *value(const struct envmap *m, const char *name)
{
	const char *v = envmap_value(m, name);
	return v != NULL && *v != '\0' ? v : NULL;
}

/* Go's strconv.ParseBool, which Pocket ID's env parser uses, for "true". */
static bool truthy(const char *v)
{
	static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True", NULL};

	for (size_t i = 0; v != NULL && yes[i] != NULL; i++) {
		if (strcmp(v, yes[i]) == 0)
			return true;
	}
	return false;
}

/* True when the schema is v2.11 or newer, or unknown (then assume it is). */
static bool at_least_v2_11(const char *schema_version)
{
	return schema_version == NULL || strtoull(schema_version, NULL, 10) >= POCKETID_V2_11_SCHEMA;
}

static bool loopback(const char *host)
{
	return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0 ||
	       strcmp(host, "localhost") == 0;
}

/* Application configuration from the environment: only with
 * UI_CONFIG_DISABLED=true does Pocket ID read these variables. */
static void check_app_config(const struct config *cfg, const struct envmap *m,
			     struct config_problems *e, struct config_problems *w)
{
	if (cfg->role != ROLE_SECONDARY || !truthy(value(m, "UI_CONFIG_DISABLED")))
		return;
	if (truthy(value(m, "LDAP_ENABLED")))
		config_problem(e, "LDAP_ENABLED: true on a secondary (UI_CONFIG_DISABLED=true): its "
				  "LDAP sync would write users the primary does not have, and the next "
				  "payload deletes them. Run LDAP on the primary only: LDAP_ENABLED=false here");
	if (value(m, "SMTP_HOST") != NULL && truthy(value(m, "EMAIL_API_KEY_EXPIRATION_ENABLED")))
		config_problem(w, "EMAIL_API_KEY_EXPIRATION_ENABLED: true on a secondary with SMTP_HOST: "
				  "every node sends its own API-key expiry e-mails; send them from the "
				  "primary only (EMAIL_API_KEY_EXPIRATION_ENABLED=false here)");
}

static void check_network(const struct envmap *m, bool v2_11, struct config_problems *w)
{
	const char *actors = value(m, "ACTORS_HOST"), *trust = value(m, "TRUST_PROXY");

	if (v2_11 && (actors == NULL || !loopback(actors)))
		config_problem(w, "ACTORS_HOST: Pocket ID's actor host listens on %s:%s; set "
				  "ACTORS_HOST=127.0.0.1 in Pocket ID's .env (or close the port)",
			       actors != NULL ? actors : "0.0.0.0 (the default)",
			       value(m, "ACTORS_PORT") != NULL ? value(m, "ACTORS_PORT") : "1414");
	if (trust != NULL && (truthy(trust) || strstr(trust, "0.0.0.0/0") != NULL ||
			      strstr(trust, "::/0") != NULL))
		config_problem(w, "TRUST_PROXY: %s trusts X-Forwarded-For from any address: %s", trust,
			       v2_11 ? "limit it to the proxy's address (TRUST_PROXY=10.0.0.5)"
				     : "let only the proxy reach Pocket ID's port (this version takes "
				       "true or false only)");
}

void pocketid_env_check(const struct config *cfg, const struct envmap *m,
			const char *schema_version, struct config_problems *errors,
			struct config_problems *warnings)
{
	bool v2_11 = at_least_v2_11(schema_version);

	check_app_config(cfg, m, errors, warnings);
	/* Defaults tell only when Pocket ID's .env was read: it sets APP_URL. */
	if (value(m, "APP_URL") == NULL)
		return;
	check_network(m, v2_11, warnings);
	if (v2_11 && (value(m, "STATIC_API_KEY") != NULL || value(m, "STATIC_API_KEY_FILE") != NULL))
		config_problem(warnings, "STATIC_API_KEY: set: make sure it is equal on every node "
					 "(or unset everywhere); a node without it deletes the synced "
					 "static API user at start, one with another key refuses the "
					 "primary's");
}
