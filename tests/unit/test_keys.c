/* Unit tests for keys: first-use creation (mode 0600, one base64 line),
 * stable reload, refusal of loose permissions and malformed files. */
#include "b64.h"
#include "keys.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void test_create_then_reload(void **state)
{
	char *dir = tu_mkdtemp(), *sub, path[512], err[512], *text;
	struct node_key a, b;
	struct stat st;
	size_t len;
	uint8_t raw[32];
	(void)state;
	assert_true(asprintf(&sub, "%s/state", dir) > 0);
	assert_int_equal(keys_load_or_create(sub, &a, err, sizeof(err)), 0);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/private.key", sub);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	text = tu_read_file(path, &len);
	assert_int_equal(len, 45);
	assert_int_equal(text[44], '\n');
	text[44] = '\0';
	assert_int_equal(b64_decode_exact(text, raw, 32), 0);
	assert_memory_equal(raw, a.priv, 32);
	free(text);
	assert_int_equal(keys_load_or_create(sub, &b, err, sizeof(err)), 0);
	assert_memory_equal(a.pub, b.pub, 32);
	assert_memory_not_equal(a.pub, a.priv, 32);
	free(sub);
	tu_rmtree(dir);
}

static void test_refuses_loose_permissions(void **state)
{
	char *dir = tu_mkdtemp(), err[512];
	char line[] = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n";
	char *p = tu_write_file(dir, "private.key", line, strlen(line), 0640);
	struct node_key k;
	(void)state;
	assert_int_equal(keys_load_or_create(dir, &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "private.key: is accessible by group or others (mode 0640)"));
	assert_int_equal(chmod(p, 0600), 0);
	assert_int_equal(keys_load(dir, &k, err, sizeof(err)), 0);
	assert_int_equal(k.priv[0], 1);
	assert_int_equal(k.priv[31], 32);
	free(p);
	tu_rmtree(dir);
}

static void test_refuses_malformed(void **state)
{
	static const char *const bad[] = {"", "not base64\n", "AQID\n",
					  "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\nextra\n"};
	char *dir = tu_mkdtemp(), err[512];
	struct node_key k;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		free(tu_write_file(dir, "private.key", bad[i], strlen(bad[i]), 0600));
		assert_int_equal(keys_load(dir, &k, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "not one line of base64"));
	}
	tu_rmtree(dir);
}

static void test_state_dir_is_a_file(void **state)
{
	char *dir = tu_mkdtemp(), err[512];
	char *f = tu_write_file(dir, "file", "x", 1, 0600);
	struct node_key k;
	(void)state;
	assert_int_equal(keys_load_or_create(f, &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exists and is not a directory"));
	free(f);
	tu_rmtree(dir);
}

static void test_known_public_key(void **state)
{
	/* RFC 7748 section 6.1: Alice's private key and public key. */
	static const uint8_t priv[32] = {
		0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1,
		0x72, 0x51, 0xb2, 0x66, 0x45, 0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0,
		0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a};
	static const uint8_t pub[32] = {
		0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d,
		0xdc, 0xb4, 0x3e, 0xf7, 0x5a, 0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38,
		0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e, 0xaa, 0x9b, 0x4e, 0x6a};
	uint8_t out[32];
	char fp[17];
	(void)state;
	assert_int_equal(keys_public_from_private(priv, out), 0);
	assert_memory_equal(out, pub, 32);
	keys_fingerprint(pub, fp);
	assert_int_equal(strlen(fp), 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_then_reload),
		cmocka_unit_test(test_refuses_loose_permissions),
		cmocka_unit_test(test_refuses_malformed),
		cmocka_unit_test(test_state_dir_is_a_file),
		cmocka_unit_test(test_known_public_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
