/* drift: two read-only queries. An empty callback list is NULL, an empty
 * value or the JSON "[]" / "null" (Pocket ID's StringList stores JSON). */
#include "drift.h"

static int count(sqlite3 *db, const char *sql, size_t *n)
{
	sqlite3_stmt *st;
	int rc;

	*n = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int drift_callback_capture_clients(sqlite3 *db, size_t *n)
{
	return count(db,
		     "SELECT CASE WHEN EXISTS (SELECT 1 FROM main.sqlite_schema WHERE type = 'table' "
		     "AND name = 'oauth2_sessions') THEN 0 ELSE (SELECT count(*) FROM main.oidc_clients "
		     "WHERE coalesce(trim(CAST(callback_urls AS TEXT)), '') IN ('', '[]', 'null')) END",
		     n);
}

int drift_ldap_row_enabled(sqlite3 *db, bool *on)
{
	size_t n = 0;
	int rc = 0;

	*on = false;
	if (count(db, "SELECT count(*) FROM main.sqlite_schema WHERE type = 'table' AND "
		      "name = 'app_config_variables'", &n) == -1)
		return -1;
	if (n > 0)
		rc = count(db, "SELECT count(*) FROM main.app_config_variables WHERE \"key\" = "
			       "'ldapEnabled' AND lower(trim(value)) IN ('true', '1')", &n);
	*on = rc == 0 && n > 0;
	return rc;
}
