/* export: on the primary, seals a payload of the configured database for one
 * recipient and writes the sealed bytes (the offline path for air-gapped
 * sites; the daemon serves the same bytes over HTTP). */
#include "appconfig_step.h"
#include "b64.h"
#include "cli.h"
#include "pidb.h"
#include "change_watch.h"
#include "produce.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help_text[] =
	"Options:\n"
	"  --to PUBKEY      the recipient's public key (its `pocket-id-sync pubkey`)\n"
	"  --format N       2 (default): a format-2 full snapshot; 1: format 1, for a\n"
	"                   secondary whose pocket-id-sync predates protocol v2\n"
	"  -o, --output FILE  write the sealed payload to FILE (mode 0600) instead of stdout\n"
	"  --env-file FILE  read variables from FILE (repeatable; the environment wins)\n"
	"  -h, --help       show this help\n\n"
	"Reads DB_CONNECTION_STRING in one read transaction, decrypts the JWT key with\n"
	"ENCRYPTION_KEY, advances the generation in SYNC_STATE_DIR/state.db when the\n"
	"content changed, and seals for PUBKEY. Carry the file to the secondary and run\n"
	"`pocket-id-sync apply FILE` there.\n";

struct export_opts {
	const char *to, *output, *format;
};

static int on_opt(int c, const char *arg, void *ctx)
{
	struct export_opts *o = ctx;
	if (c == 't')
		o->to = arg;
	else if (c == 'o')
		o->output = arg;
	else if (c == 'f')
		o->format = arg;
	return 0;
}

static int write_output(const char *path, const uint8_t *buf, size_t len)
{
	int fd = path == NULL ? STDOUT_FILENO : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t off = 0;
	struct stat st;

	if (fd == -1) {
		perror(path);
		return -1;
	}
	/* O_CREAT's mode only applies to a new file: tighten an existing regular
	 * file too (never a device such as /dev/null). */
	if (path != NULL && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0 &&
	    fchmod(fd, 0600) == -1) {
		perror(path);
		close(fd);
		return -1;
	}
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);
		if (w <= 0) {
			perror(path ? path : "stdout");
			break;
		}
		off += (size_t)w;
	}
	if (path != NULL)
		close(fd);
	return off == len ? 0 : -1;
}

static int run_export(const struct config *cfg, const uint8_t to[32], const char *output, int format)
{
	struct state *st = NULL;
	struct node_key me;
	struct snapshot snap;
	struct produced pr;
	struct appconfig ac = {0};
	struct change_watch *w = change_watch_new();
	bool with_ac = appconfig_step_enabled(cfg), open = false;
	sqlite3 *db = NULL;
	uint8_t *wire = NULL;
	size_t wire_len = 0;
	enum doc2_kind kind;
	char err[512];
	int rc = EXIT_FAIL;

	if (w == NULL || cli_open_node(cfg, "cannot export", true, &me, &st, &db) == -1)
		goto out;
	/* The daemon ships the configuration too; so does this, or the
	 * generation would flip between the two contents. */
	if (with_ac && appconfig_step_read(cfg, &ac, err, sizeof(err)) == -1) {
		fprintf(stderr, "pocket-id-sync: cannot read the application configuration: %s\n", err);
		goto out;
	}
	if (produce_begin(w, db, cfg, st, with_ac ? &ac : NULL, &pr, err, sizeof(err)) == -1) {
		fprintf(stderr, "pocket-id-sync: %s\n", err);
		goto out;
	}
	open = true;
	if (format == 1) {
		if (produce_v1(db, cfg, &pr, with_ac ? &ac : NULL, &snap, err, sizeof(err)) == -1) {
			fprintf(stderr, "pocket-id-sync: %s\n", err);
			goto out;
		}
		rc = produce_seal(&snap, &me, to, cfg->max_payload_bytes, &wire, &wire_len, err,
				  sizeof(err));
		produce_free(&snap);
	} else {
		rc = produce_v2(w, db, cfg, &me, &pr, with_ac ? &ac : NULL, to, NULL, &wire, &wire_len,
				&kind, err, sizeof(err));
	}
	produce_end(db);
	open = false;
	if (rc == -1) {
		fprintf(stderr, "pocket-id-sync: %s\n", err);
		rc = EXIT_FAIL;
		goto out;
	}
	rc = write_output(output, wire, wire_len) == 0 ? EXIT_OK : EXIT_FAIL;
	if (rc == EXIT_OK)
		fprintf(stderr, "pocket-id-sync: sealed generation %llu (format %d, %zu bytes)%s%s\n",
			(unsigned long long)pr.generation, format, wire_len, output ? " to " : "",
			output ? output : "");
out:
	if (open)
		produce_end(db);
	appconfig_free(&ac);
	free(wire);
	sqlite3_close(db);
	state_close(st);
	change_watch_free(w);
	keys_wipe(&me);
	return rc;
}

int cmd_export(int argc, char **argv)
{
	static const struct option extra[] = {
		{"to", required_argument, NULL, 't'},
		{"output", required_argument, NULL, 'o'},
		{"format", required_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	struct export_opts o = {0};
	struct cli_env env = {0};
	struct config cfg;
	uint8_t to[32];
	int first, rc = cli_parse(argc, argv, help_text, extra, on_opt, &o, &env, &first);

	if (rc != 0)
		return rc == 1 ? EXIT_OK : EXIT_USAGE;
	if (cli_no_operands(argc, argv, first) == -1)
		return EXIT_USAGE;
	if (o.to == NULL || b64_decode_exact(o.to, to, 32) == -1)
		return cli_usage_error("export", "--to must be the recipient's base64 public key");
	if (o.format != NULL && strcmp(o.format, "1") != 0 && strcmp(o.format, "2") != 0)
		return cli_usage_error("export", "--format must be 1 or 2");
	if (cli_load_config(&env, NEED_STATE | NEED_DB | NEED_KEK, &cfg) == -1) {
		config_free(&cfg);
		return EXIT_USAGE;
	}
	if (o.output == NULL && isatty(STDOUT_FILENO)) {
		config_free(&cfg);
		return cli_usage_error("export", "refusing to write binary to a terminal; use -o FILE");
	}
	rc = run_export(&cfg, to, o.output, o.format != NULL && strcmp(o.format, "1") == 0 ? 1 : 2);
	config_free(&cfg);
	return rc;
}
