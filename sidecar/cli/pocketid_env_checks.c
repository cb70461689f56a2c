/* pocketid_env_checks: see pocketid_env_checks.h. */
#include "pocketid_env_checks.h"

void pocketid_env_check(const struct config *cfg, const struct envmap *m,
			struct config_problems *errors, struct config_problems *warnings)
{
	(void)cfg, (void)m, (void)errors, (void)warnings;
}
