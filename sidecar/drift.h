/* drift: Pocket ID behaviours that make nodes differ behind the sidecar's
 * back and that it can only detect and report: first-use callback URL
 * capture (v1.9 to v2.9) and LDAP sync switched on in a secondary's
 * database. It reads the database; it never writes and never logs. */
#ifndef PIS_DRIFT_H
#define PIS_DRIFT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

/* Counts the OIDC clients without callback URLs on a release that stores
 * the first redirect_uri it sees (no oauth2_sessions table: before v2.10);
 * 0 on later releases. Returns 0, or -1 on a database error. */
int drift_callback_capture_clients(sqlite3 *db, size_t *n);
/* The warning logged with that count (one sentence, no quotes). */
#define DRIFT_CAPTURE_MSG                                                                    \
	"OIDC clients without callback URLs: Pocket ID before v2.10 stores the first "      \
	"redirect_uri it sees on whichever node served it, each sync empties the list on "  \
	"the secondaries again and nodes can pin different URLs; give these clients their " \
	"callback URLs on the primary"

/* True in *on when app_config_variables holds ldapEnabled = true (the row
 * that enables LDAP sync up to v2.11). Returns 0, or -1 on a database error. */
int drift_ldap_row_enabled(sqlite3 *db, bool *on);

#endif
