/* main: the subcommand table and dispatch, in the style of wg(8). Each entry
 * names a *_main-like function in its own cmd_*.c file; nothing else here. */
#include "cli.h"
#include "log.h"
#include "version.h"

#include <stdio.h>
#include <string.h>

const struct subcommand subcommands[] = {
	{"run", cmd_run, "[--env-file FILE]...", "Run the sync daemon in the role SYNC_ROLE names"},
	{"check-config", cmd_check_config, "[--env-file FILE]...",
	 "Validate the configuration; print \"configuration OK\" or one line per problem"},
	{"pubkey", cmd_pubkey, "[--env-file FILE]...",
	 "Print this node's X25519 public key (base64), creating the key on first use"},
	{"export", cmd_export, "--to PUBKEY [-o FILE] [--env-file FILE]...",
	 "Primary: seal a payload of this database for one recipient (offline sync)"},
	{"apply", cmd_apply, "[--dry-run] [--force] [--env-file FILE]... FILE|-",
	 "Secondary: verify a sealed payload from the pinned primary and apply it"},
	{"open", cmd_open, "[--from PUBKEY] [--env-file FILE]... FILE|-",
	 "Verify a sealed payload meant for this node and print its document (debugging)"},
	{"peer", cmd_peer, "[--env-file FILE]... add NAME PUBKEY | list [--tsv] | remove NAME",
	 "Primary: enrol, list or remove the secondaries allowed to pull"},
	{"status", cmd_status, "[--tsv] [--env-file FILE]...",
	 "Show this node's role, key, generation and peers or sync progress"},
	{"promote", cmd_promote, "[--env-file FILE]...",
	 "Secondary: become the primary after the old one is lost for good"},
	{"version", cmd_version, "", "Print the version"},
	{"help", cmd_help, "[SUBCOMMAND | config]", "Show help for a subcommand or the variables"},
	{NULL, NULL, NULL, NULL},
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: pocket-id-sync SUBCOMMAND [OPTIONS] [ARGS]\n\n"
		     "Keeps secondary Pocket ID nodes in step with a primary.\n\n"
		     "Subcommands:\n");
	for (const struct subcommand *s = subcommands; s->name != NULL; s++)
		fprintf(out, "  %-13s %s\n", s->name, s->summary);
	fprintf(out, "\nEvery subcommand takes --help. Configuration comes from the environment\n"
		     "and --env-file files; `pocket-id-sync help config` lists the variables.\n");
}

int cmd_version(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		cli_print_help(stdout, "version", "");
		return EXIT_OK;
	}
	if (argc > 1)
		return cli_usage_error("version", "unexpected argument '%s'", argv[1]);
	printf("pocket-id-sync %s\n", PIS_VERSION);
	return EXIT_OK;
}

static void print_config_help(void)
{
	printf("Variables (from the environment or --env-file files; the environment wins):\n\n");
	for (const struct config_var *v = config_vars; v->name != NULL; v++)
		printf("  %-28s %s%s%s%s\n", v->name, v->help, v->default_value ? " (default: " : "",
		       v->default_value ? v->default_value : "", v->default_value ? ")" : "");
}

int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cli_print_help(stdout, "help",
			       "`help config` lists every configuration variable with its default.\n");
		return EXIT_OK;
	}
	if (argv[1][0] == '-')
		return cli_usage_error("help", "unknown option '%s'", argv[1]);
	if (strcmp(argv[1], "config") == 0) {
		print_config_help();
		return EXIT_OK;
	}
	for (const struct subcommand *s = subcommands; s->name != NULL; s++) {
		if (strcmp(s->name, argv[1]) == 0) {
			char *sub_argv[] = {argv[1], "--help", NULL};
			return s->main(2, sub_argv);
		}
	}
	fprintf(stderr, "pocket-id-sync help: unknown subcommand '%s'\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	log_route_libraries();
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(1, argv + 1);
	for (const struct subcommand *s = subcommands; s->name != NULL; s++) {
		if (strcmp(s->name, argv[1]) == 0)
			return s->main(argc - 1, argv + 1);
	}
	fprintf(stderr, "pocket-id-sync: unknown subcommand '%s'\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
