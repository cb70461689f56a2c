/* Unit tests for dbconn: every DB_CONNECTION_STRING form Pocket ID accepts,
 * and the clear refusals. */
#include "dbconn.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static void expect_path(const char *conn, const char *want)
{
	char *path, err[256];

	if (dbconn_parse(conn, &path, err, sizeof(err)) != 0)
		fail_msg("%s rejected: %s", conn, err);
	assert_string_equal(path, want);
	free(path);
}

static void expect_error(const char *conn, const char *want)
{
	char *path, err[256];

	assert_int_equal(dbconn_parse(conn, &path, err, sizeof(err)), -1);
	assert_null(path);
	if (strstr(err, want) == NULL)
		fail_msg("%s: error '%s' lacks '%s'", conn, err, want);
}

static void test_forms(void **state)
{
	(void)state;
	expect_path("data/pocket-id.db", "data/pocket-id.db");
	expect_path("/var/lib/pocket-id/pocket-id.db", "/var/lib/pocket-id/pocket-id.db");
	expect_path("file:data/pocket-id.db?_pragma=journal_mode(WAL)&_pragma=busy_timeout(2500)&_txlock=immediate",
		    "data/pocket-id.db");
	expect_path("file:///app/data/pocket-id.db?_journal_mode=WAL", "/app/data/pocket-id.db");
	expect_path("file://localhost/app/data/db.sqlite", "/app/data/db.sqlite");
	expect_path("file:/srv/my%20data/pocket-id.db", "/srv/my data/pocket-id.db");
	expect_path("file:pocket-id.db#frag", "pocket-id.db");
}

static void test_refusals(void **state)
{
	(void)state;
	expect_error("postgres://user:pw@db/pocketid", "only works with SQLite");
	expect_error("postgresql://db/pocketid", "only works with SQLite");
	expect_error("mysql://db/x", "unsupported scheme");
	expect_error("", "is empty");
	expect_error(":memory:", "in-memory");
	expect_error("file::memory:", "in-memory");
	expect_error("file:db.sqlite?mode=memory&cache=shared", "in-memory");
	expect_error("file://otherhost/db.sqlite", "remote host");
	expect_error("file:bad%zzescape", "malformed");
	expect_error("file:?x=1", "no path");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
