/* check-config: validates everything `run` would need, without changing
 * anything (it does not create the state directory or the node key). */
#include "cli.h"
#include "keys.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help_text[] =
	"Options:\n"
	"  --env-file FILE  read variables from FILE (repeatable; the environment wins)\n"
	"  -h, --help       show this help\n\n"
	"Exit status: 0 when the configuration is OK, 2 otherwise.\n";

/* Checks that need the file system; each failure adds one line. */
static void check_files(const struct config *cfg, struct config_problems *pr)
{
	struct stat st;
	char err[280];

	if (cfg->db_path != NULL && access(cfg->db_path, R_OK | W_OK) == -1 &&
	    pr->count < CONFIG_MAX_PROBLEMS)
		snprintf(pr->line[pr->count++], sizeof(pr->line[0]),
			 "DB_CONNECTION_STRING: %s: %s", cfg->db_path, strerror(errno));
	if (cfg->state_dir == NULL || pr->count >= CONFIG_MAX_PROBLEMS)
		return;
	if (stat(cfg->state_dir, &st) == 0) {
		char path[4096];
		struct node_key key;
		if (!S_ISDIR(st.st_mode) || access(cfg->state_dir, W_OK | X_OK) == -1) {
			snprintf(pr->line[pr->count++], sizeof(pr->line[0]),
				 "SYNC_STATE_DIR: %s is not a writable directory", cfg->state_dir);
			return;
		}
		snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, KEYS_FILE_NAME);
		if (access(path, F_OK) == 0 && keys_load(cfg->state_dir, &key, err, sizeof(err)) == -1)
			snprintf(pr->line[pr->count++], sizeof(pr->line[0]), "SYNC_STATE_DIR: %s", err);
		keys_wipe(&key);
	}
}

int cmd_check_config(int argc, char **argv)
{
	struct cli_env env = {0};
	struct config cfg;
	struct config_problems pr = {0};
	int first, rc;

	rc = cli_parse(argc, argv, help_text, NULL, NULL, NULL, &env, &first);
	if (rc != 0)
		return rc == 1 ? EXIT_OK : EXIT_USAGE;
	if (cli_no_operands(argc, argv, first) == -1)
		return EXIT_USAGE;
	rc = cli_load_config(&env, NEED_ALL & ~NEED_PIN, &cfg);
	check_files(&cfg, &pr);
	for (size_t i = 0; i < pr.count; i++)
		fprintf(stderr, "pocket-id-sync: %s\n", pr.line[i]);
	if (rc == 0 && pr.count == 0)
		printf("configuration OK\n");
	else
		rc = -1;
	config_free(&cfg);
	return rc == 0 ? EXIT_OK : EXIT_USAGE;
}
