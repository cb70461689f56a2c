/* parse: bounded parsers for the scalar values configuration uses: Go-style
 * durations, byte sizes, booleans, bounded integers and host:port pairs.
 * Each rejects trailing garbage and overflow; none allocates. */
#ifndef PIS_PARSE_H
#define PIS_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* Go time.ParseDuration syntax without a sign: "300ms", "1.5h", "1h30m",
 * "0". Units ns, us, µs, ms, s, m, h. Result in milliseconds (rounded down;
 * a non-zero duration below 1 ms is an error). Returns 0 or -1. */
int parse_duration_ms(const char *s, uint64_t *out_ms);

/* "1048576", "64KiB", "64MiB", "1GiB" (also K/M/G = binary). Returns 0 or -1. */
int parse_size_bytes(const char *s, uint64_t *out);

/* true/false, 1/0, yes/no, on/off (case-insensitive). Returns 0 or -1. */
int parse_bool(const char *s, bool *out);

/* Decimal integer in [min, max]. Returns 0 or -1. */
int parse_int_range(const char *s, long long min, long long max, long long *out);

/* "host:port", "[v6]:port" or ":port" (host defaults to 0.0.0.0). host must
 * hold 256 bytes. Port 0 is allowed (ephemeral; tests use it). Returns 0 or -1. */
int parse_host_port(const char *s, char host[static 256], uint16_t *port);

#endif
