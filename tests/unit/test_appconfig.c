/* Unit tests for appconfig: parsing Pocket ID's configuration list, the
 * per-node keys, the "@app_configuration" pseudo-table through the payload
 * codec, the hash that drives the generation, the merge a secondary writes
 * and the PUT body. */
#include "appconfig.h"
#include "payload.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const char PRIMARY[] =
    "[{\"key\":\"appName\",\"type\":\"string\",\"value\":\"Site ID\",\"isPublic\":true},"
    "{\"key\":\"sessionDuration\",\"type\":\"number\",\"value\":\"120\"},"
    "{\"key\":\"smtpPassword\",\"type\":\"string\",\"value\":\"s3cret\"},"
    "{\"key\":\"ldapEnabled\",\"type\":\"bool\",\"value\":\"true\"},"
    "{\"key\":\"emailApiKeyExpirationEnabled\",\"type\":\"bool\",\"value\":\"true\"},"
    "{\"key\":\"logoLightImageType\",\"type\":\"string\",\"value\":\"png\"},"
    "{\"key\":\"onlyOnPrimary\",\"type\":\"string\",\"value\":\"x\"}]";
static const char SECONDARY[] =
    "[{\"key\":\"sessionDuration\",\"type\":\"number\",\"value\":\"60\"},"
    "{\"key\":\"appName\",\"type\":\"string\",\"value\":\"Pocket ID\"},"
    "{\"key\":\"smtpPassword\",\"type\":\"string\",\"value\":\"\"},"
    "{\"key\":\"ldapEnabled\",\"type\":\"bool\",\"value\":\"false\"},"
    "{\"key\":\"emailApiKeyExpirationEnabled\",\"type\":\"bool\",\"value\":\"false\"},"
    "{\"key\":\"logoLightImageType\",\"type\":\"string\",\"value\":\"svg\"}]";

static void parse(const char *json, struct appconfig *ac)
{
	char err[256];
	assert_int_equal(appconfig_parse(json, strlen(json), ac, err, sizeof(err)), 0);
}

static const char *value(const struct appconfig *ac, const char *key)
{
	for (size_t i = 0; i < ac->n; i++) {
		if (strcmp(ac->keys[i], key) == 0)
			return ac->values[i];
	}
	return NULL;
}

static void test_parse_sorts(void **state)
{
	struct appconfig ac;
	(void)state;
	parse(SECONDARY, &ac);
	assert_int_equal(ac.n, 6);
	for (size_t i = 1; i < ac.n; i++)
		assert_true(strcmp(ac.keys[i - 1], ac.keys[i]) < 0);
	assert_string_equal(value(&ac, "sessionDuration"), "60");
	appconfig_free(&ac);
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
	    "{}", "[]", "not json", "[{\"key\":\"a\"}]", "[{\"key\":1,\"value\":\"x\"}]",
	    "[{\"key\":\"a\",\"value\":\"1\"},{\"key\":\"a\",\"value\":\"2\"}]",
	    "[{\"key\":\"a b\",\"value\":\"1\"}]", "[{\"key\":\"\",\"value\":\"1\"}]",
	};
	char err[256];
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct appconfig ac;
		err[0] = '\0';
		assert_int_equal(appconfig_parse(bad[i], strlen(bad[i]), &ac, err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
		assert_int_equal(ac.n, 0);
	}
	/* a message never quotes a value */
	{
		struct appconfig ac;
		const char *dup = "[{\"key\":\"smtpPassword\",\"value\":\"s3cret\"},"
				  "{\"key\":\"smtpPassword\",\"value\":\"s3cret\"}]";
		assert_int_equal(appconfig_parse(dup, strlen(dup), &ac, err, sizeof(err)), -1);
		assert_null(strstr(err, "s3cret"));
	}
}

static void test_per_node_keys(void **state)
{
	(void)state;
	assert_true(appconfig_key_per_node("ldapEnabled"));
	assert_true(appconfig_key_per_node("emailApiKeyExpirationEnabled"));
	assert_true(appconfig_key_per_node("instanceId"));
	assert_true(appconfig_key_per_node("backgroundImageType"));
	assert_false(appconfig_key_per_node("ImageType"));
	assert_false(appconfig_key_per_node("ldapUrl"));
	assert_false(appconfig_key_per_node("smtpPassword"));
	assert_false(appconfig_key_per_node("appName"));
}

static void test_merge_keeps_per_node_and_local_only(void **state)
{
	struct appconfig p, s, want;
	size_t changed;
	(void)state;
	parse(PRIMARY, &p);
	parse(SECONDARY, &s);
	assert_int_equal(appconfig_merge(&s, &p, &want, &changed), 0);
	assert_int_equal(changed, 3); /* appName, sessionDuration, smtpPassword */
	assert_int_equal(want.n, s.n); /* keys the secondary lacks are not added */
	assert_string_equal(value(&want, "appName"), "Site ID");
	assert_string_equal(value(&want, "sessionDuration"), "120");
	assert_string_equal(value(&want, "smtpPassword"), "s3cret");
	assert_string_equal(value(&want, "ldapEnabled"), "false");
	assert_string_equal(value(&want, "emailApiKeyExpirationEnabled"), "false");
	assert_string_equal(value(&want, "logoLightImageType"), "svg");
	assert_null(value(&want, "onlyOnPrimary"));
	/* merging again changes nothing */
	{
		struct appconfig again;
		assert_int_equal(appconfig_merge(&want, &p, &again, &changed), 0);
		assert_int_equal(changed, 0);
		appconfig_free(&again);
	}
	appconfig_free(&want);
	appconfig_free(&p);
	appconfig_free(&s);
}

static void test_hash(void **state)
{
	struct appconfig a, b;
	uint8_t ha[32], hb[32], content[32] = {1}, mixed[32];
	const char *reordered =
	    "[{\"key\":\"sessionDuration\",\"value\":\"60\"},{\"key\":\"smtpPassword\",\"value\":\"\"},"
	    "{\"key\":\"ldapEnabled\",\"value\":\"false\"},{\"key\":\"appName\",\"value\":\"Pocket ID\"},"
	    "{\"key\":\"emailApiKeyExpirationEnabled\",\"value\":\"false\"},"
	    "{\"key\":\"logoLightImageType\",\"value\":\"svg\"}]";
	(void)state;
	parse(SECONDARY, &a);
	parse(reordered, &b);
	appconfig_hash(&a, ha);
	appconfig_hash(&b, hb);
	assert_memory_equal(ha, hb, 32); /* order and extra members do not matter */
	free(b.values[0]);
	b.values[0] = strdup("Pocket IE"); /* appName sorts first */
	appconfig_hash(&b, hb);
	assert_memory_not_equal(ha, hb, 32);
	memcpy(mixed, content, 32);
	appconfig_mix_hash(mixed, &a);
	assert_memory_not_equal(mixed, content, 32);
	appconfig_free(&a);
	appconfig_free(&b);
}

static void test_table_through_payload_codec(void **state)
{
	struct payload p = {.format = PAYLOAD_FORMAT}, q;
	struct appconfig ac, back;
	char *json, err[256];
	size_t len;
	(void)state;
	parse(PRIMARY, &ac);
	p.schema_version = strdup("1");
	p.tables = calloc(1, sizeof(struct pl_table));
	p.ntables = 1;
	assert_int_equal(appconfig_to_table(&ac, &p.tables[0]), 0);
	assert_int_equal(payload_encode(&p, &json, &len), 0);
	assert_int_equal(payload_decode((const uint8_t *)json, len, &q, err, sizeof(err)), 0);
	assert_non_null(payload_table(&q, APPCONFIG_TABLE));
	assert_int_equal(appconfig_from_table(payload_table(&q, APPCONFIG_TABLE), &back, err, sizeof(err)), 0);
	assert_int_equal(back.n, ac.n);
	for (size_t i = 0; i < ac.n; i++) {
		assert_string_equal(back.keys[i], ac.keys[i]);
		assert_string_equal(back.values[i], ac.values[i]);
	}
	appconfig_free(&back);
	/* a pseudo-table of another shape is refused */
	free(q.tables[0].cols[1]);
	q.tables[0].cols[1] = strdup("val");
	assert_int_equal(appconfig_from_table(&q.tables[0], &back, err, sizeof(err)), -1);
	assert_int_equal(back.n, 0);
	free(json);
	payload_free(&p);
	payload_free(&q);
	appconfig_free(&ac);
}

static void test_put_body(void **state)
{
	struct appconfig ac;
	cJSON *o;
	size_t len;
	char *body;
	(void)state;
	parse(PRIMARY, &ac);
	body = appconfig_put_body(&ac, &len);
	assert_non_null(body);
	assert_int_equal(strlen(body), len);
	o = cJSON_Parse(body);
	assert_true(cJSON_IsObject(o));
	assert_int_equal(cJSON_GetArraySize(o), (int)ac.n);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "appName")->valuestring, "Site ID");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "sessionDuration")->valuestring, "120");
	cJSON_Delete(o);
	free(body);
	appconfig_free(&ac);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_sorts),
	    cmocka_unit_test(test_parse_rejects),
	    cmocka_unit_test(test_per_node_keys),
	    cmocka_unit_test(test_merge_keeps_per_node_and_local_only),
	    cmocka_unit_test(test_hash),
	    cmocka_unit_test(test_table_through_payload_codec),
	    cmocka_unit_test(test_put_body),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
