/* testutil: temp dirs and file helpers for the unit tests (see testutil.h). */
#include "testutil.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *tu_mkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	assert_true(asprintf(&path, "%s/pis-test-XXXXXX", base) > 0);
	assert_non_null(mkdtemp(path));
	return path;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tu_rmtree(char *path)
{
	if (path == NULL)
		return;
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
}

char *tu_write_file(const char *dir, const char *name, const void *data, size_t len, mode_t mode)
{
	char *path;
	int fd;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

char *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

/* Every row of every table (local ones and kv included) in rowid order. */
char *tu_db_dump(sqlite3 *db)
{
	sqlite3_stmt *tabs, *st, *q;
	char *out = sqlite3_mprintf(""), *ret;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type = 'table' "
						"AND name NOT LIKE 'sqlite_%' ORDER BY name", -1, &tabs, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT quote(?)", -1, &q, NULL), SQLITE_OK);
	while (sqlite3_step(tabs) == SQLITE_ROW) {
		char *sql = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY rowid", sqlite3_column_text(tabs, 0));
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		sqlite3_free(sql);
		while (sqlite3_step(st) == SQLITE_ROW) {
			char *line = sqlite3_mprintf("%s:", sqlite3_column_text(tabs, 0)), *next;
			for (int c = 0; c < sqlite3_column_count(st); c++) {
				sqlite3_bind_value(q, 1, sqlite3_column_value(st, c));
				sqlite3_step(q);
				next = sqlite3_mprintf("%s %s", line, sqlite3_column_text(q, 0));
				sqlite3_reset(q);
				sqlite3_free(line);
				line = next;
			}
			next = sqlite3_mprintf("%s%s\n", out, line);
			sqlite3_free(out);
			sqlite3_free(line);
			out = next;
		}
		sqlite3_finalize(st);
	}
	sqlite3_finalize(q);
	sqlite3_finalize(tabs);
	ret = strdup(out);
	sqlite3_free(out);
	return ret;
}
