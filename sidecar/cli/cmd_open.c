/* open: verifies a sealed payload meant for this node and prints the
 * plaintext document (for debugging; the output holds secrets, including the
 * JWT signing key). Changes nothing. */
#include "b64.h"
#include "cli.h"
#include "doc2.h"
#include "envelope.h"
#include "keys.h"
#include "seal.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help_text[] =
	"Options:\n"
	"  --from PUBKEY    expect this sender instead of the pinned primary\n"
	"  --env-file FILE  read variables from FILE (repeatable; the environment wins)\n"
	"  -h, --help       show this help\n\n"
	"Opens FILE (or - for standard input) with this node's key from SYNC_STATE_DIR,\n"
	"checks the sender (SYNC_PRIMARY_PUBKEY or the key inside SYNC_PRIMARY_TOKEN)\n"
	"and the recipient, and prints the document (format 2: its records, one JSON\n"
	"object per line, the header first). The output contains every secret the\n"
	"payload carries. Exit status: 0 opened, 1 refused, 2 usage.\n";

struct open_opts {
	const char *from;
};

static int on_opt(int c, const char *arg, void *ctx)
{
	struct open_opts *o = ctx;
	if (c == 'f')
		o->from = arg;
	return 0;
}

/* A format-2 document: every record checked, then the identities. Returns
 * 1 when pt is not one (the format-1 path then decides), 0 valid, -1 refused. */
static int check_v2(const struct node_key *me, const uint8_t pin[32], const char *label,
		    const uint8_t *pt, size_t n, char *err, size_t errlen)
{
	struct doc2_header h;
	int rc = 0;

	if (!doc2_sniff(pt, n))
		return 1;
	if (doc2_check(pt, n, &h, err, errlen) != 0)
		return -1;
	if (CRYPTO_memcmp(h.recipient, me->pub, 32) != 0) {
		snprintf(err, errlen, "payload is for another node");
		rc = -1;
	} else if (CRYPTO_memcmp(h.sender, pin, 32) != 0) {
		snprintf(err, errlen, "the document names another sender than the %s", label);
		rc = -1;
	}
	doc2_header_free(&h);
	return rc;
}

int cmd_open(int argc, char **argv)
{
	static const struct option extra[] = {{"from", required_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
	struct open_opts o = {0};
	struct cli_env env = {0};
	struct config cfg;
	struct node_key me;
	struct payload p;
	uint8_t pin[32], *wire = NULL, *pt = NULL;
	size_t wire_len, pt_len;
	char err[512];
	int first, rc = cli_parse(argc, argv, help_text, extra, on_opt, &o, &env, &first);

	if (rc != 0)
		return rc == 1 ? EXIT_OK : EXIT_USAGE;
	if (first + 1 != argc)
		return cli_usage_error("open", "expected exactly one FILE (or -)");
	if (o.from != NULL && b64_decode_exact(o.from, pin, 32) == -1)
		return cli_usage_error("open", "--from is not a base64 X25519 public key");
	if (cli_load_config(&env, NEED_STATE | (o.from ? 0 : NEED_PIN), &cfg) == -1) {
		config_free(&cfg);
		return EXIT_USAGE;
	}
	if (o.from == NULL)
		memcpy(pin, cfg.primary_pubkey, 32);
	rc = EXIT_FAIL;
	if (keys_load(cfg.state_dir, &me, err, sizeof(err)) == -1) {
		fprintf(stderr, "pocket-id-sync: %s\n", err);
	} else if (cli_read_input(argv[first], cfg.max_payload_bytes, &wire, &wire_len) == 0) {
		const char *label = o.from != NULL ? "--from key" : "pinned primary";
		int v2 = seal_open(&me, pin, wire, wire_len, cfg.max_payload_bytes, &pt, &pt_len) == SEAL_OK
				 ? check_v2(&me, pin, label, pt, pt_len, err, sizeof(err)) : 1;
		if (v2 != 1) {
			if (v2 == 0)
				fwrite(pt, 1, pt_len, stdout);
			else
				fprintf(stderr, "pocket-id-sync: %s\n", err);
			rc = v2 == 0 ? EXIT_OK : EXIT_FAIL;
		}
		if (pt != NULL)
			OPENSSL_clear_free(pt, pt_len + 1);
		pt = NULL;
		if (v2 != 1) {
			/* done */
		} else if (envelope_open_from(&me, pin, o.from != NULL ? "--from key" : "pinned primary", wire,
				       wire_len, cfg.max_payload_bytes, &p, &pt, &pt_len, err,
				       sizeof(err)) != ENVELOPE_OK) {
			fprintf(stderr, "pocket-id-sync: %s\n", err);
		} else {
			fwrite(pt, 1, pt_len, stdout);
			fputc('\n', stdout);
			OPENSSL_clear_free(pt, pt_len + 1);
			payload_free(&p);
			rc = EXIT_OK;
		}
	}
	free(wire);
	keys_wipe(&me);
	config_free(&cfg);
	return rc;
}
