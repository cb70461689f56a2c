/* dbconn: turns Pocket ID's DB_CONNECTION_STRING into the SQLite file path the
 * sidecar opens. Knows the forms Pocket ID accepts (plain path, file: URI with
 * driver query parameters) and refuses the ones the sidecar cannot serve. */
#ifndef PIS_DBCONN_H
#define PIS_DBCONN_H

#include <stddef.h>

/* On success stores a malloc'd path in *path (caller frees) and returns 0.
 * On failure returns -1 with a one-line reason in err. */
int dbconn_parse(const char *conn, char **path, char *err, size_t errlen);

#endif
