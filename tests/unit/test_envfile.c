/* Unit tests for envfile: the env-file syntax's edge cases and error lines. */
#include "envfile.h"
#include "testutil.h"

#include <string.h>

static struct envmap parse_ok(const char *text)
{
	struct envmap m;
	char err[256] = "";

	envmap_init(&m);
	if (envfile_parse(&m, text, strlen(text), "t.env", err, sizeof(err)) != 0)
		fail_msg("unexpected error: %s", err);
	return m;
}

static void expect_error(const char *text, const char *want)
{
	struct envmap m;
	char err[256] = "";

	envmap_init(&m);
	assert_int_equal(envfile_parse(&m, text, strlen(text), "t.env", err, sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' lacks '%s'", err, want);
	envmap_free(&m);
}

static void test_plain_comments_blank(void **state)
{
	struct envmap m = parse_ok("# comment\n\n; also a comment\nA=1\n  B = two words  \n");
	(void)state;
	assert_int_equal(m.count, 2);
	assert_string_equal(envmap_value(&m, "A"), "1");
	assert_string_equal(envmap_value(&m, "B"), "two words");
	assert_string_equal(envmap_get(&m, "B")->origin, "t.env:5");
	envmap_free(&m);
}

static void test_quotes(void **state)
{
	struct envmap m = parse_ok("D=\"a \\\"q\\\" \\\\ \\n end\" # trailing\n"
				   "S='no $escapes \\n here'\n"
				   "E=\"\"\n"
				   "H=value#not-a-comment\n");
	(void)state;
	assert_string_equal(envmap_value(&m, "D"), "a \"q\" \\ \n end");
	assert_string_equal(envmap_value(&m, "S"), "no $escapes \\n here");
	assert_string_equal(envmap_value(&m, "E"), "");
	assert_string_equal(envmap_value(&m, "H"), "value#not-a-comment");
	envmap_free(&m);
}

static void test_multiline_and_crlf(void **state)
{
	struct envmap m = parse_ok("\xef\xbb\xbf" "M=\"line1\nline2\"\r\nC=crlf\r\nexport X=exported\n"
				   "J=\"joined \\\nhere\"\nLAST=no-newline");
	(void)state;
	assert_string_equal(envmap_value(&m, "M"), "line1\nline2");
	assert_string_equal(envmap_value(&m, "C"), "crlf");
	assert_string_equal(envmap_value(&m, "X"), "exported");
	assert_string_equal(envmap_value(&m, "J"), "joined here");
	assert_string_equal(envmap_value(&m, "LAST"), "no-newline");
	assert_string_equal(envmap_get(&m, "LAST")->origin, "t.env:7");
	envmap_free(&m);
}

static void test_later_wins(void **state)
{
	struct envmap m = parse_ok("A=1\nA=2\n");
	(void)state;
	assert_int_equal(m.count, 1);
	assert_string_equal(envmap_value(&m, "A"), "2");
	envmap_free(&m);
}

static void test_errors_name_the_line(void **state)
{
	(void)state;
	expect_error("A=1\nnot an assignment\n", "t.env:2: expected '=' after not");
	expect_error("A=\"open\n", "t.env:1: unterminated double quote");
	expect_error("A='open\n", "t.env:1: unterminated single quote");
	expect_error("A=\"x\" junk\n", "t.env:1: unexpected text after closing quote");
	expect_error("1A=x\n", "t.env:1: expected KEY=VALUE");
	expect_error("=x\n", "t.env:1: expected KEY=VALUE");
}

static void test_environ_overrides(void **state)
{
	struct envmap m = parse_ok("A=file\nB=file\n");
	char *envp[] = {"A=env", "NOEQUALS", NULL};
	(void)state;
	assert_int_equal(envmap_add_environ(&m, envp), 0);
	assert_string_equal(envmap_value(&m, "A"), "env");
	assert_string_equal(envmap_get(&m, "A")->origin, "environment");
	assert_string_equal(envmap_value(&m, "B"), "file");
	assert_null(envmap_value(&m, "NOEQUALS"));
	envmap_free(&m);
}

static void test_load_missing_file(void **state)
{
	struct envmap m;
	char err[256];
	(void)state;
	envmap_init(&m);
	assert_int_equal(envfile_load(&m, "/nonexistent/x.env", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/x.env: cannot open"));
	envmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_comments_blank), cmocka_unit_test(test_quotes),
		cmocka_unit_test(test_multiline_and_crlf),   cmocka_unit_test(test_later_wins),
		cmocka_unit_test(test_errors_name_the_line), cmocka_unit_test(test_environ_overrides),
		cmocka_unit_test(test_load_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
