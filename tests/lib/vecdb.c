/* vecdb: the rows-hash vector's tables in SQLite (see vecdb.h). */
#include "vecdb.h"

#include "payload.h"
#include "pidfix.h"
#include "testutil.h"

#include <stdlib.h>

static const char *str_of(const cJSON *o, const char *name)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);
	if (!cJSON_IsString(j))
		fail_msg("vector: no string member %s", name);
	return j->valuestring;
}

/* "a", "b", ... of a JSON array of names, quoted for SQL (sqlite3_free). */
static char *name_list(const cJSON *names)
{
	char *sql = sqlite3_mprintf(""), *next;
	const cJSON *c;
	int n = 0;

	cJSON_ArrayForEach(c, names) {
		next = sqlite3_mprintf("%s%s\"%w\"", sql, n++ ? ", " : "", c->valuestring);
		sqlite3_free(sql);
		sql = next;
	}
	return sql;
}

static void add_table(sqlite3 *db, const cJSON *t)
{
	const cJSON *cols = cJSON_GetObjectItemCaseSensitive(t, "columns"), *row, *c;
	char *names = name_list(cols), *key = name_list(cJSON_GetObjectItemCaseSensitive(t, "key"));
	char *sql = sqlite3_mprintf("CREATE TABLE \"%w\" (%s, PRIMARY KEY (%s))", str_of(t, "table"),
				    names, key);
	char *qs = sqlite3_mprintf("?"), *next;

	fx_exec(db, sql);
	sqlite3_free(sql);
	for (int i = 1; i < cJSON_GetArraySize(cols); i++) {
		next = sqlite3_mprintf("%s, ?", qs);
		sqlite3_free(qs);
		qs = next;
	}
	sql = sqlite3_mprintf("INSERT INTO \"%w\" VALUES (%s)", str_of(t, "table"), qs);
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(t, "rows")) {
		struct pl_value v[64];
		sqlite3_stmt *st;
		int i = 0;
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(row, "cells")) {
			assert_true(i < 64);
			v[i] = (struct pl_value){.type = PL_NULL};
			if (!cJSON_IsNull(c) && (!cJSON_IsString(c) ||
						 pl_value_decode(c->valuestring, &v[i], NULL) != 0))
				fail_msg("vector: table %s: a malformed cell", str_of(t, "table"));
			assert_int_equal(pl_value_bind(st, i + 1, &v[i]), SQLITE_OK);
			i++;
		}
		assert_int_equal(sqlite3_step(st), SQLITE_DONE); /* the binds borrow v */
		sqlite3_finalize(st);
		while (i > 0)
			pl_value_clear(&v[--i]);
	}
	sqlite3_free(sql);
	sqlite3_free(qs);
	sqlite3_free(names);
	sqlite3_free(key);
}

sqlite3 *vecdb_open(const cJSON *vector)
{
	sqlite3 *db;
	char *sql;
	const cJSON *t;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	sql = sqlite3_mprintf("CREATE TABLE schema_migrations (version uint64, dirty bool);"
			      "INSERT INTO schema_migrations VALUES (%s, 0)",
			      str_of(vector, "schema_version"));
	fx_exec(db, sql);
	sqlite3_free(sql);
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(vector, "tables"))
		add_table(db, t);
	return db;
}

cJSON *vecdb_load(const char *path)
{
	size_t len;
	char *text = tu_read_file(path, &len);
	cJSON *v = cJSON_ParseWithLength(text, len);

	if (v == NULL)
		fail_msg("%s: not JSON", path);
	free(text);
	return v;
}
