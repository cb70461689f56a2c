/* check-config: validates everything `run` would need, without changing
 * anything (it does not create the state directory or the node key): the
 * variables (config.c), then what preflight.c finds on this machine. */
#include "cli.h"
#include "preflight.h"

#include <curl/curl.h>
#include <stdio.h>

static const char help_text[] =
	"Options:\n"
	"  --env-file FILE  read variables from FILE (repeatable; the environment wins)\n"
	"  -h, --help       show this help\n\n"
	"Checks the variables, then what `run` would open: Pocket ID's database (read-only:\n"
	"its schema, and its JWT key decrypting with ENCRYPTION_KEY), the state directory\n"
	"and node key, the enrolment, both listeners, and Pocket ID's own settings that\n"
	"matter to several nodes. Warnings (\"warning: ...\") do not fail the check.\n"
	"Exit status: 0 when the configuration is OK, 2 otherwise.\n";

int cmd_check_config(int argc, char **argv)
{
	struct cli_env env = {0};
	struct config cfg;
	struct envmap m;
	struct preflight pf = {0};
	int first, rc;

	rc = cli_parse(argc, argv, help_text, NULL, NULL, NULL, &env, &first);
	if (rc != 0)
		return rc == 1 ? EXIT_OK : EXIT_USAGE;
	if (cli_no_operands(argc, argv, first) == -1)
		return EXIT_USAGE;
	rc = cli_load_config_map(&env, NEED_ALL & ~(NEED_PIN | NEED_TOKEN), &cfg, &m);
	if (rc == 0) {
		curl_global_init(CURL_GLOBAL_DEFAULT); /* a port in use: is it this node's daemon? */
		preflight_run(&cfg, &m, PREFLIGHT_LISTENERS | PREFLIGHT_POCKET_ID, &pf);
		curl_global_cleanup();
		for (size_t i = 0; i < pf.errors.count; i++)
			fprintf(stderr, "pocket-id-sync: %s\n", pf.errors.line[i]);
		for (size_t i = 0; i < pf.warnings.count; i++)
			fprintf(stderr, "pocket-id-sync: warning: %s\n", pf.warnings.line[i]);
	}
	if (rc == 0 && pf.errors.count == 0)
		printf("configuration OK\n");
	else
		rc = -1;
	envmap_free(&m);
	config_free(&cfg);
	return rc == 0 ? EXIT_OK : EXIT_USAGE;
}
