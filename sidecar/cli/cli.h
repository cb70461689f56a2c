/* cli: what the subcommands share: the subcommand table's entry type,
 * --env-file handling, configuration loading with problem reporting, and
 * exit codes. Each subcommand lives in its own cmd_*.c file. */
#ifndef PIS_CLI_H
#define PIS_CLI_H

#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define CLI_MAX_ENV_FILES 16

struct cli_env {
	const char *files[CLI_MAX_ENV_FILES];
	size_t nfiles;
};

struct subcommand {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *args;    /* synopsis after the name */
	const char *summary; /* one line */
};

extern const struct subcommand subcommands[];

/* Records one --env-file; prints an error and returns -1 past the limit. */
int cli_add_env_file(struct cli_env *env, const char *path);
/* Gathers env files + environment and loads cfg. On any problem prints one
 * line per problem to stderr and returns -1 (the caller exits 2). On success
 * also applies SYNC_LOG_LEVEL. */
int cli_load_config(const struct cli_env *env, unsigned needs, struct config *cfg);
/* The same, keeping every variable read in m (Pocket ID's own settings
 * too) for the caller to free with envmap_free, whatever the result. */
int cli_load_config_map(const struct cli_env *env, unsigned needs, struct config *cfg,
			struct envmap *m);
/* Called for each option besides --env-file and --help: c is the option's
 * val, arg its argument or NULL. Returns 0, or -1 after printing an error. */
typedef int (*cli_opt_fn)(int c, const char *arg, void *ctx);

/* Parses argv (argv[0] is the subcommand) with getopt_long: --env-file and
 * --help are handled here, extra options (may be NULL) go to on_opt. Options
 * may come before or after the operands.
 * Returns 0 with *first_arg set to the index of the first operand, 1 when help
 * was printed (exit 0), or -1 after a usage error was printed (exit 2). */
int cli_parse(int argc, char **argv, const char *help, const struct option *extra,
	      cli_opt_fn on_opt, void *ctx, struct cli_env *env, int *first_arg);

/* The same for a command made of verbs (peer add|list|remove): stops at the
 * first operand, the verb, whose own cli_parse takes the rest. */
int cli_parse_to_verb(int argc, char **argv, const char *help, struct cli_env *env,
		      int *first_arg);

/* Prints a usage error when operands remain; returns 0 or -1. */
int cli_no_operands(int argc, char **argv, int first_arg);
/* Prints "unknown option" style usage for cmd to stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the help text of one subcommand (its synopsis plus text) to out. */
void cli_print_help(FILE *out, const char *cmd, const char *text);

/* Reads a whole file ("-" = stdin) of at most max bytes into a malloc'd
 * buffer. Prints the reason and returns -1 on failure. */
int cli_read_input(const char *path, size_t max, uint8_t **out, size_t *len);
/* Writes t (unix seconds) as RFC 3339 UTC ("2024-05-01T12:00:00Z") into out,
 * or never_text when t <= 0. Returns out. */
const char *cli_format_time(int64_t t, const char *never_text, char out[static 32]);

struct node_key;
struct state;
struct sqlite3;
/* Opens what most commands work on: this node's key (created on first use
 * when create_key), the sidecar's state.db and Pocket ID's database. On
 * failure prints "pocket-id-sync: <what>: <reason>" and returns -1; the
 * caller closes whatever was opened (NULL handles are fine). */
int cli_open_node(const struct config *cfg, const char *what, bool create_key,
		  struct node_key *me, struct state **st, struct sqlite3 **db);

/* Subcommand entry points. */
int cmd_run(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_peer(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_help(int argc, char **argv);
int cmd_open(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_promote(int argc, char **argv);

#endif
