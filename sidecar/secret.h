/* secret: reading secrets from files and wiping them. A secret file must not
 * be readable or writable by group or others; the reader refuses it with a
 * message that says how to fix it. Values are never logged. */
#ifndef PIS_SECRET_H
#define PIS_SECRET_H

#include <stddef.h>

/* Reads at most 64 KiB from path, strips one trailing "\n" or "\r\n", and
 * stores a malloc'd NUL-terminated copy in *out (caller wipes with
 * secret_free). Returns 0, or -1 with a one-line reason in err. */
int secret_read_file(const char *path, char **out, size_t *len, char *err, size_t errlen);
/* The same without stripping anything: the bytes exactly as stored, as
 * Pocket ID reads ENCRYPTION_KEY_FILE (a trailing newline is part of the key). */
int secret_read_file_exact(const char *path, char **out, size_t *len, char *err, size_t errlen);

/* Wipes and frees a NUL-terminated secret; NULL is fine. */
void secret_free(char *s);

/* Returns -1 with a reason in err when the file at path (open as fd) can be
 * read or written by group or others, else 0. */
int secret_check_mode(int fd, const char *path, char *err, size_t errlen);

#endif
