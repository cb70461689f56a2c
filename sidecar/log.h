/* log: the one logging API of the sidecar. One line per event on stderr,
 * "level=... event=... key=value ...", so journald keeps it readable.
 * It also receives libevent's, curl's and SQLite's own messages.
 * It never formats secrets: callers pass only names, counts and reasons. */
#ifndef PIS_LOG_H
#define PIS_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Messages above this level are dropped. Default: info. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info" or "debug"; returns -1 on anything else. */
int log_level_parse(const char *name, enum log_level *out);

/* event: a dotted name ("sync.applied"); fmt: further key=value fields or
 * NULL. Values that may contain spaces must be quoted by the caller with
 * log_quote(). */
void log_event(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vevent(enum log_level level, const char *event, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define log_error(ev, ...) log_event(LOG_LVL_ERROR, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_event(LOG_LVL_WARN, ev, __VA_ARGS__)
#define log_info(ev, ...) log_event(LOG_LVL_INFO, ev, __VA_ARGS__)
#define log_debug(ev, ...) log_event(LOG_LVL_DEBUG, ev, __VA_ARGS__)

/* Writes s into buf (size n) as a double-quoted logfmt value with quotes,
 * backslashes and control bytes escaped; truncates with "..." if needed.
 * Returns buf. */
const char *log_quote(char *buf, size_t n, const char *s);

/* Routes libevent's and SQLite's internal error reporting into this log.
 * Call once at start-up, before any other libevent or SQLite call. */
void log_route_libraries(void);

#endif
