/* Unit tests for metrics: families per role with HELP and TYPE, reasons and
 * restart results pre-initialised, label escaping, number formatting, the
 * table and peer bounds, peer export counts, and updates from threads. */
#include "metrics.h"
#include "state.h"
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *render(struct metrics *m)
{
	size_t len = 0;
	char *text = metrics_render(m, &len);

	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_true(len > 0 && text[len - 1] == '\n');
	return text;
}

/* Occurrences of the whole line in text. */
static int count_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	int count = 0;

	for (const char *p = text; (p = strstr(p, line)) != NULL; p += n) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			count++;
	}
	return count;
}

static void assert_line(const char *text, const char *line)
{
	if (count_line(text, line) != 1)
		fail_msg("line '%s' not found exactly once in:\n%s", line, text);
}

static void assert_family(const char *text, const char *name, const char *type)
{
	char line[256];

	snprintf(line, sizeof(line), "# TYPE pocket_id_sync_%s %s", name, type);
	assert_line(text, line);
	snprintf(line, sizeof(line), "# HELP pocket_id_sync_%s ", name);
	assert_non_null(strstr(text, line));
}

static const char *const common[][2] = {
	{"build_info", "gauge"},
	{"role", "gauge"},
	{"interval_seconds", "gauge"},
	{"last_success_timestamp_seconds", "gauge"},
	{"last_attempt_timestamp_seconds", "gauge"},
	{"last_duration_seconds", "gauge"},
	{"last_payload_bytes", "gauge"},
	{"rows_total", "counter"},
	{"failures_total", "counter"},
	{"restarts_total", "counter"},
	{"unknown_tables", "gauge"},
	{"callback_capture_clients", "gauge"},
};

static void test_fresh_primary(void **unused)
{
	struct metrics *m = metrics_new(ROLE_PRIMARY, "1.2.3", 300);
	char *text = render(m), line[128];
	(void)unused;
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		assert_family(text, common[i][0], common[i][1]);
	assert_family(text, "generation", "gauge");
	assert_family(text, "peers", "gauge");
	assert_family(text, "peer_last_seen_timestamp_seconds", "gauge");
	assert_family(text, "exports_total", "counter");
	assert_null(strstr(text, "applied_generation"));
	assert_null(strstr(text, "primary_reachable"));
	assert_line(text, "pocket_id_sync_build_info{version=\"1.2.3\"} 1");
	assert_line(text, "pocket_id_sync_role{role=\"primary\"} 1");
	assert_line(text, "pocket_id_sync_interval_seconds 300");
	assert_line(text, "pocket_id_sync_last_success_timestamp_seconds 0");
	assert_line(text, "pocket_id_sync_generation 0");
	assert_line(text, "pocket_id_sync_peers 0");
	assert_null(strstr(text, "pocket_id_sync_rows_total{"));
	for (int r = 0; r < METRICS_FAIL_COUNT; r++) {
		snprintf(line, sizeof(line), "pocket_id_sync_failures_total{reason=\"%s\"} 0",
			 metrics_reason_name((enum metrics_reason)r));
		assert_line(text, line);
	}
	assert_line(text, "pocket_id_sync_restarts_total{result=\"ok\"} 0");
	assert_line(text, "pocket_id_sync_restarts_total{result=\"failed\"} 0");
	free(text);
	metrics_free(m);
}

static void test_roles(void **unused)
{
	struct metrics *s = metrics_new(ROLE_SECONDARY, NULL, 60), *u = metrics_new(ROLE_UNSET, "x", 1);
	char *text;
	(void)unused;
	metrics_set_applied_generation(s, 17);
	metrics_set_primary_reachable(s, true);
	metrics_set_generation(s, 99); /* not rendered on a secondary */
	text = render(s);
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		assert_family(text, common[i][0], common[i][1]);
	assert_line(text, "pocket_id_sync_build_info{version=\"unknown\"} 1");
	assert_line(text, "pocket_id_sync_role{role=\"secondary\"} 1");
	assert_line(text, "pocket_id_sync_applied_generation 17");
	assert_line(text, "pocket_id_sync_primary_reachable 1");
	assert_null(strstr(text, "pocket_id_sync_generation "));
	assert_null(strstr(text, "pocket_id_sync_peers"));
	assert_null(strstr(text, "exports_total"));
	free(text);
	text = render(u);
	assert_line(text, "pocket_id_sync_role{role=\"unset\"} 1");
	assert_null(strstr(text, "generation"));
	assert_null(strstr(text, "peers"));
	free(text);
	metrics_free(s);
	metrics_free(u);
}

static void test_values_and_escaping(void **unused)
{
	struct metrics *m = metrics_new(ROLE_SECONDARY, "v\"1\\\n", 2.5);
	char *text;
	(void)unused;
	metrics_set_last_success(m, 1714564805.25);
	metrics_set_last_attempt(m, 1714564800);
	metrics_set_last_duration(m, 0.1);
	metrics_set_last_payload_bytes(m, 65536);
	metrics_set_unknown_tables(m, 3);
	metrics_set_callback_capture_clients(m, 2);
	metrics_set_applied_generation(m, UINT64_MAX);
	metrics_add_rows(m, "users", METRICS_OP_INSERT, 5);
	metrics_add_rows(m, "users", METRICS_OP_INSERT, 2);
	metrics_add_rows(m, "users", METRICS_OP_DELETE, 1);
	metrics_add_rows(m, "a\"b\\c\nd", METRICS_OP_UPDATE, 4);
	metrics_fail(m, METRICS_FAIL_SCHEMA_MISMATCH);
	metrics_fail(m, METRICS_FAIL_SCHEMA_MISMATCH);
	metrics_fail(m, (enum metrics_reason)99);
	metrics_restart(m, false);
	text = render(m);
	assert_line(text, "pocket_id_sync_build_info{version=\"v\\\"1\\\\\\n\"} 1");
	assert_line(text, "pocket_id_sync_interval_seconds 2.5");
	assert_line(text, "pocket_id_sync_last_success_timestamp_seconds 1714564805.25");
	assert_line(text, "pocket_id_sync_last_attempt_timestamp_seconds 1714564800");
	assert_line(text, "pocket_id_sync_last_duration_seconds 0.1");
	assert_line(text, "pocket_id_sync_last_payload_bytes 65536");
	assert_line(text, "pocket_id_sync_unknown_tables 3");
	assert_line(text, "pocket_id_sync_callback_capture_clients 2");
	assert_line(text, "pocket_id_sync_applied_generation 18446744073709551615");
	assert_line(text, "pocket_id_sync_rows_total{table=\"users\",op=\"insert\"} 7");
	assert_line(text, "pocket_id_sync_rows_total{table=\"users\",op=\"update\"} 0");
	assert_line(text, "pocket_id_sync_rows_total{table=\"users\",op=\"delete\"} 1");
	assert_line(text, "pocket_id_sync_rows_total{table=\"a\\\"b\\\\c\\nd\",op=\"update\"} 4");
	assert_line(text, "pocket_id_sync_failures_total{reason=\"schema_mismatch\"} 2");
	assert_line(text, "pocket_id_sync_failures_total{reason=\"internal\"} 1");
	assert_line(text, "pocket_id_sync_restarts_total{result=\"failed\"} 1");
	free(text);
	metrics_set_last_duration(m, NAN);
	metrics_set_interval(m, INFINITY);
	text = render(m);
	assert_line(text, "pocket_id_sync_last_duration_seconds NaN");
	assert_line(text, "pocket_id_sync_interval_seconds +Inf");
	free(text);
	metrics_free(m);
}

static void test_table_bound(void **unused)
{
	struct metrics *m = metrics_new(ROLE_PRIMARY, "1", 1);
	char name[32], *text;
	(void)unused;
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "t%03d", i);
		metrics_add_rows(m, name, METRICS_OP_INSERT, 1);
	}
	metrics_add_rows(m, "t000", METRICS_OP_INSERT, 1); /* known tables still count */
	text = render(m);
	assert_line(text, "pocket_id_sync_rows_total{table=\"t000\",op=\"insert\"} 2");
	assert_line(text, "pocket_id_sync_rows_total{table=\"t062\",op=\"insert\"} 1");
	assert_null(strstr(text, "table=\"t063\""));
	assert_line(text, "pocket_id_sync_rows_total{table=\"_other\",op=\"insert\"} 37");
	{
		int series = 0;
		for (const char *p = text; (p = strstr(p, ",op=\"insert\"}")) != NULL; p++)
			series++;
		assert_int_equal(series, METRICS_MAX_TABLES);
	}
	free(text);
	metrics_free(m);
}

static void test_peers(void **unused)
{
	struct metrics *m = metrics_new(ROLE_PRIMARY, "1", 1);
	struct peer_info p[2];
	char *text;
	(void)unused;
	memset(p, 0, sizeof(p));
	strcpy(p[0].name, "site-b");
	p[0].last_seen_at = 1700000000;
	strcpy(p[1].name, "site-c");
	metrics_set_peers(m, p, 2);
	metrics_peer_export(m, "site-b", 1700000100.5);
	metrics_peer_export(m, "site-b", 1700000200);
	text = render(m);
	assert_line(text, "pocket_id_sync_peers 2");
	assert_line(text, "pocket_id_sync_peer_last_seen_timestamp_seconds{peer=\"site-b\"} 1700000200");
	assert_line(text, "pocket_id_sync_peer_last_seen_timestamp_seconds{peer=\"site-c\"} 0");
	assert_line(text, "pocket_id_sync_exports_total{peer=\"site-b\"} 2");
	assert_line(text, "pocket_id_sync_exports_total{peer=\"site-c\"} 0");
	free(text);
	/* site-c removed: it disappears; site-b keeps its count. */
	p[0].last_seen_at = 1700000300;
	metrics_set_peers(m, p, 1);
	text = render(m);
	assert_line(text, "pocket_id_sync_peers 1");
	assert_line(text, "pocket_id_sync_exports_total{peer=\"site-b\"} 2");
	assert_line(text, "pocket_id_sync_peer_last_seen_timestamp_seconds{peer=\"site-b\"} 1700000300");
	assert_null(strstr(text, "site-c"));
	free(text);
	metrics_free(m);
}

#define THREAD_ROUNDS 5000

static void *hammer(void *arg)
{
	struct metrics *m = arg;
	char *text;

	for (int i = 0; i < THREAD_ROUNDS; i++) {
		metrics_fail(m, METRICS_FAIL_NETWORK);
		metrics_add_rows(m, i % 2 ? "users" : "passkeys", METRICS_OP_UPDATE, 1);
		metrics_peer_export(m, "p", i);
		if (i % 1000 == 0) {
			text = metrics_render(m, NULL);
			free(text);
		}
	}
	return NULL;
}

static void test_threads(void **unused)
{
	struct metrics *m = metrics_new(ROLE_PRIMARY, "1", 1);
	pthread_t t[4];
	char *text;
	(void)unused;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, m), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	text = render(m);
	assert_line(text, "pocket_id_sync_failures_total{reason=\"network\"} 20000");
	assert_line(text, "pocket_id_sync_rows_total{table=\"users\",op=\"update\"} 10000");
	assert_line(text, "pocket_id_sync_rows_total{table=\"passkeys\",op=\"update\"} 10000");
	assert_line(text, "pocket_id_sync_exports_total{peer=\"p\"} 20000");
	free(text);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_primary),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_values_and_escaping),
		cmocka_unit_test(test_table_bound),
		cmocka_unit_test(test_peers),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
