/* metrics_dump: a test tool (never installed) that fills a registry for the
 * role named in argv[1] with every kind of value, including label values
 * that need escaping, and prints metrics_render's output for promtool.
 * Usage: metrics_dump primary|secondary [fresh]  (fresh: nothing set). */
#include "metrics.h"
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill_common(struct metrics *m)
{
	metrics_set_last_success(m, 1714564805.25);
	metrics_set_last_attempt(m, 1714564800);
	metrics_set_last_duration(m, 0.125);
	metrics_set_last_payload_bytes(m, 123456);
	metrics_add_rows(m, "users", METRICS_OP_INSERT, 3);
	metrics_add_rows(m, "webauthn_credentials", METRICS_OP_UPDATE, 2);
	metrics_add_rows(m, "odd \"table\"\\name\nx", METRICS_OP_DELETE, 1);
	metrics_fail(m, METRICS_FAIL_NETWORK);
	metrics_fail(m, METRICS_FAIL_BUSY);
	metrics_restart(m, true);
	metrics_set_unknown_tables(m, 2);
}

static void fill_primary(struct metrics *m)
{
	struct peer_info peers[2];

	memset(peers, 0, sizeof(peers));
	strcpy(peers[0].name, "site-b");
	peers[0].last_seen_at = 1714564700;
	strcpy(peers[1].name, "site.c_2");
	metrics_set_generation(m, 42);
	metrics_set_peers(m, peers, 2);
	metrics_peer_export(m, "site-b", 1714564801.5);
}

int main(int argc, char **argv)
{
	enum sync_role role;
	struct metrics *m;
	char *text;
	size_t len;

	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "fresh") != 0) ||
	    (strcmp(argv[1], "primary") != 0 && strcmp(argv[1], "secondary") != 0)) {
		fprintf(stderr, "usage: metrics_dump primary|secondary [fresh]\n");
		return 2;
	}
	role = strcmp(argv[1], "primary") == 0 ? ROLE_PRIMARY : ROLE_SECONDARY;
	m = metrics_new(role, "0.1.0 \"test\"\\build", 300);
	if (m == NULL)
		return 1;
	if (argc == 3) {
		/* fresh: render as constructed */
	} else if (role == ROLE_PRIMARY) {
		fill_common(m);
		fill_primary(m);
	} else {
		fill_common(m);
		metrics_set_applied_generation(m, 41);
		metrics_set_primary_reachable(m, true);
	}
	text = metrics_render(m, &len);
	metrics_free(m);
	if (text == NULL || fwrite(text, 1, len, stdout) != len) {
		free(text);
		return 1;
	}
	free(text);
	return 0;
}
