/* cli: shared helpers for the subcommands (see cli.h). No subcommand logic. */
#include "cli.h"
#include "keys.h"
#include "pidb.h"
#include "state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int cli_add_env_file(struct cli_env *env, const char *path)
{
	if (env->nfiles >= CLI_MAX_ENV_FILES) {
		fprintf(stderr, "pocket-id-sync: at most %d --env-file options\n", CLI_MAX_ENV_FILES);
		return -1;
	}
	env->files[env->nfiles++] = path;
	return 0;
}

int cli_load_config_map(const struct cli_env *env, unsigned needs, struct config *cfg,
			struct envmap *m)
{
	struct config_problems pr;
	char err[512];
	int rc;

	envmap_init(m);
	if (config_gather(m, env->files, env->nfiles, environ, err, sizeof(err)) == -1) {
		fprintf(stderr, "pocket-id-sync: --env-file %s\n", err);
		memset(cfg, 0, sizeof(*cfg));
		return -1;
	}
	rc = config_load(cfg, m, needs, &pr);
	for (size_t i = 0; i < pr.count; i++)
		fprintf(stderr, "pocket-id-sync: %s\n", pr.line[i]);
	if (rc == 0)
		log_set_level(cfg->log_level);
	return rc;
}

int cli_load_config(const struct cli_env *env, unsigned needs, struct config *cfg)
{
	struct envmap m;
	int rc = cli_load_config_map(env, needs, cfg, &m);

	envmap_free(&m);
	return rc;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pocket-id-sync %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'pocket-id-sync %s --help'.\n", cmd);
	return EXIT_USAGE;
}

void cli_print_help(FILE *out, const char *cmd, const char *text)
{
	for (const struct subcommand *s = subcommands; s->name != NULL; s++) {
		if (strcmp(s->name, cmd) == 0) {
			fprintf(out, "Usage: pocket-id-sync %s%s%s\n\n%s.\n\n", s->name,
				s->args[0] != '\0' ? " " : "", s->args, s->summary);
			break;
		}
	}
	fputs(text, out);
}

#define CLI_MAX_OPTS 16

/* in_order: stop at the first operand (a verb whose own options follow);
 * otherwise options may come after operands too (GNU getopt permutes). */
static int parse_args(int argc, char **argv, const char *help, const struct option *extra,
		      cli_opt_fn on_opt, void *ctx, struct cli_env *env, int *first_arg,
		      bool in_order)
{
	struct option opts[CLI_MAX_OPTS] = {
		{"env-file", required_argument, NULL, 'e'},
		{"help", no_argument, NULL, 'h'},
	};
	char shorts[2 * CLI_MAX_OPTS + 3] = "+h";
	size_t n = 2, s = 2;

	if (!in_order) {
		memmove(shorts, shorts + 1, sizeof(shorts) - 1);
		s = 1;
	}
	int c;

	for (; extra != NULL && extra[n - 2].name != NULL && n + 1 < CLI_MAX_OPTS; n++) {
		opts[n] = extra[n - 2];
		if (opts[n].val < 128 && opts[n].flag == NULL) {
			shorts[s++] = (char)opts[n].val;
			if (opts[n].has_arg == required_argument)
				shorts[s++] = ':';
		}
	}
	shorts[s] = '\0';
	optind = 0; /* 0, not 1: glibc then reads the ordering ("+") again */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		if (c == 'h') {
			cli_print_help(stdout, argv[0], help);
			return 1;
		} else if (c == 'e') {
			if (cli_add_env_file(env, optarg) == -1)
				return -1;
		} else if (c == '?' || c == ':' || on_opt == NULL) {
			cli_usage_error(argv[0], "%s '%s'",
					c == ':' ? "missing argument for" : "unknown option",
					argv[optind - 1]);
			return -1;
		} else if (on_opt(c, optarg, ctx) == -1) {
			return -1;
		}
	}
	*first_arg = optind;
	return 0;
}

int cli_parse(int argc, char **argv, const char *help, const struct option *extra,
	      cli_opt_fn on_opt, void *ctx, struct cli_env *env, int *first_arg)
{
	return parse_args(argc, argv, help, extra, on_opt, ctx, env, first_arg, false);
}

int cli_parse_to_verb(int argc, char **argv, const char *help, struct cli_env *env,
		      int *first_arg)
{
	return parse_args(argc, argv, help, NULL, NULL, NULL, env, first_arg, true);
}

int cli_no_operands(int argc, char **argv, int first_arg)
{
	if (first_arg < argc) {
		cli_usage_error(argv[0], "unexpected argument '%s'", argv[first_arg]);
		return -1;
	}
	return 0;
}

int cli_read_input(const char *path, size_t max, uint8_t **out, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 65536, n = 0, r;
	uint8_t *buf = NULL;

	*out = NULL;
	if (f == NULL) {
		fprintf(stderr, "pocket-id-sync: %s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (n == cap || buf == NULL) {
			uint8_t *nb = realloc(buf, buf == NULL ? cap : (cap *= 2));
			if (nb == NULL)
				break;
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0 && n <= max);
	if (f != stdin)
		fclose(f);
	if (buf == NULL || n > max) {
		fprintf(stderr, "pocket-id-sync: %s: larger than SYNC_MAX_PAYLOAD_SIZE (%zu bytes)\n",
			path, max);
		free(buf);
		return -1;
	}
	*out = buf;
	*len = n;
	return 0;
}

const char *cli_format_time(int64_t t, const char *never_text, char out[static 32])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "%s", never_text);
	return out;
}

int cli_open_node(const struct config *cfg, const char *what, bool create_key,
		  struct node_key *me, struct state **st, sqlite3 **db)
{
	char err[512];

	*st = NULL;
	*db = NULL;
	if ((create_key ? keys_load_or_create(cfg->state_dir, me, err, sizeof(err))
			: keys_load(cfg->state_dir, me, err, sizeof(err))) == -1 ||
	    state_open(cfg->state_dir, st, err, sizeof(err)) == -1 ||
	    pidb_open(cfg->db_path, cfg->busy_timeout_ms, db, err, sizeof(err)) == -1) {
		fprintf(stderr, "pocket-id-sync: %s: %s\n", what, err);
		return -1;
	}
	return 0;
}
