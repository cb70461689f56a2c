/* secret: file-backed secrets with a strict mode check (0600 or tighter). */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_MAX_BYTES (64 * 1024)

/* systemd's LoadCredential= files live under $CREDENTIALS_DIRECTORY, which
 * only the service can read; on some file systems they show group bits. */
static bool in_credentials_dir(const char *path)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	size_t n = dir != NULL ? strlen(dir) : 0;

	return n > 0 && strncmp(path, dir, n) == 0 && path[n] == '/' && strstr(path + n, "/..") == NULL;
}

int secret_check_mode(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	if ((st.st_mode & 077) != 0 && !in_credentials_dir(path)) {
		snprintf(err, errlen,
			 "%s: is accessible by group or others (mode %04o); "
			 "run: chmod 600 %s",
			 path, (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	return 0;
}

static int read_secret(const char *path, bool trim, char **out, size_t *len, char *err,
		       size_t errlen)
{
	char *buf = NULL;
	ssize_t n;
	size_t used = 0;
	int fd;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (secret_check_mode(fd, path, err, errlen) == -1)
		goto fail;
	buf = OPENSSL_malloc(SECRET_MAX_BYTES + 2);
	if (buf == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	while ((n = read(fd, buf + used, SECRET_MAX_BYTES + 1 - used)) > 0)
		used += (size_t)n;
	if (n == -1 || used > SECRET_MAX_BYTES) {
		snprintf(err, errlen, "%s: %s", path,
			 n == -1 ? strerror(errno) : "larger than 64 KiB");
		goto fail;
	}
	close(fd);
	if (trim && used > 0 && buf[used - 1] == '\n')
		used--;
	if (trim && used > 0 && buf[used - 1] == '\r')
		used--;
	buf[used] = '\0';
	*out = buf;
	*len = used;
	return 0;
fail:
	close(fd);
	if (buf != NULL)
		OPENSSL_clear_free(buf, SECRET_MAX_BYTES + 2);
	return -1;
}

int secret_read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	return read_secret(path, true, out, len, err, errlen);
}

int secret_read_file_exact(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	return read_secret(path, false, out, len, err, errlen);
}

void secret_free(char *s)
{
	if (s != NULL)
		OPENSSL_clear_free(s, strlen(s));
}
