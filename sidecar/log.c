/* log: formats one logfmt line per event onto stderr and adapts the
 * libraries' own error callbacks to it. Owns no other state than the level;
 * it does not decide what is secret (callers never pass secrets). */
#include "log.h"

#include <event2/event.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum log_level current_level = LOG_LVL_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level) { current_level = level; }

enum log_level log_get_level(void) { return current_level; }

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_vevent(enum log_level level, const char *event, const char *fmt, va_list ap)
{
	char line[2048];
	size_t used = 0;
	int n;

	if (level > current_level)
		return;
	/* journald stamps lines itself; elsewhere a UTC timestamp helps. */
	if (getenv("JOURNAL_STREAM") == NULL) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		used = strftime(line, sizeof(line), "time=%Y-%m-%dT%H:%M:%SZ ", &tm);
	}
	n = snprintf(line + used, sizeof(line) - used, "level=%s event=%s",
		     level_names[level], event);
	if (n > 0)
		used += (size_t)n < sizeof(line) - used ? (size_t)n : sizeof(line) - used - 1;
	if (fmt != NULL && *fmt != '\0' && used + 1 < sizeof(line)) {
		line[used++] = ' ';
		n = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
		if (n > 0)
			used += (size_t)n < sizeof(line) - used ? (size_t)n : sizeof(line) - used - 1;
	}
	/* One event is one line, whatever the fields contained. */
	for (size_t i = 0; i < used; i++) {
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	}
	line[used] = '\0';
	fprintf(stderr, "%s\n", line);
}

void log_event(enum log_level level, const char *event, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vevent(level, event, fmt, ap);
	va_end(ap);
}

const char *log_quote(char *buf, size_t n, const char *s)
{
	size_t o = 0;

	if (n < 8) {
		if (n > 0)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (o + 6 >= n) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static void libevent_log_cb(int severity, const char *msg)
{
	char q[512];
	enum log_level level = severity >= EVENT_LOG_ERR ? LOG_LVL_ERROR
			       : severity == EVENT_LOG_WARN ? LOG_LVL_WARN
			       : severity == EVENT_LOG_MSG  ? LOG_LVL_INFO
							    : LOG_LVL_DEBUG;
	log_event(level, "libevent", "msg=%s", log_quote(q, sizeof(q), msg));
}

static void sqlite_log_cb(void *arg, int code, const char *msg)
{
	char q[512];
	int primary = code & 0xff;

	(void)arg;
	/* Busy and schema-change notices are routine; SQLite reports them here
	 * before the caller sees (and handles) the error code. A file that
	 * cannot be opened and an SQL error (no such table) are reported by the
	 * caller in words; SQLite's own text ("at line 6242 of [...]") is for
	 * debugging. */
	if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_SCHEMA ||
	    primary == SQLITE_NOTICE || primary == SQLITE_CONSTRAINT || primary == SQLITE_CANTOPEN ||
	    primary == SQLITE_ERROR) {
		log_debug("sqlite", "code=%d msg=%s", code, log_quote(q, sizeof(q), msg));
		return;
	}
	log_event(primary == SQLITE_WARNING ? LOG_LVL_WARN : LOG_LVL_ERROR, "sqlite",
		  "code=%d msg=%s", code, log_quote(q, sizeof(q), msg));
}

void log_route_libraries(void)
{
	event_set_log_callback(libevent_log_cb);
	sqlite3_config(SQLITE_CONFIG_LOG, sqlite_log_cb, NULL);
}
