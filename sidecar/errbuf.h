/* errbuf: the one helper the core uses to report "one line in err" failures:
 * formats into the caller's buffer and returns -1, so an error path is a
 * single `return errf(err, errlen, "...", ...);`. */
#ifndef PIS_ERRBUF_H
#define PIS_ERRBUF_H

#include <stddef.h>

int errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
