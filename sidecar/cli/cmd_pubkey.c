/* pubkey: prints this node's public key (base64, 44 characters) and nothing
 * else, creating the keypair in SYNC_STATE_DIR on first use. */
#include "b64.h"
#include "cli.h"
#include "keys.h"

#include <stdio.h>

static const char help_text[] =
	"Options:\n"
	"  --env-file FILE  read variables from FILE (repeatable; the environment wins)\n"
	"  -h, --help       show this help\n\n"
	"Only SYNC_STATE_DIR is used. The private key never leaves private.key.\n";

int cmd_pubkey(int argc, char **argv)
{
	struct cli_env env = {0};
	struct config cfg;
	struct node_key key;
	char err[512], pub[45];
	int first, rc;

	rc = cli_parse(argc, argv, help_text, NULL, NULL, NULL, &env, &first);
	if (rc != 0)
		return rc == 1 ? EXIT_OK : EXIT_USAGE;
	if (cli_no_operands(argc, argv, first) == -1)
		return EXIT_USAGE;
	rc = EXIT_FAIL;
	if (cli_load_config(&env, NEED_STATE, &cfg) == -1) {
		config_free(&cfg);
		return EXIT_USAGE;
	}
	if (keys_load_or_create(cfg.state_dir, &key, err, sizeof(err)) == -1) {
		fprintf(stderr, "pocket-id-sync: %s\n", err);
	} else {
		b64_encode(pub, key.pub, 32);
		printf("%s\n", pub);
		rc = EXIT_OK;
	}
	keys_wipe(&key);
	config_free(&cfg);
	return rc;
}
