/* restart: runs SYNC_RESTART_COMMAND (through /bin/sh -c) after an apply
 * changed something Pocket ID caches in memory, with a timeout, and logs the
 * outcome. It does not decide when a restart is needed (apply.c does). */
#ifndef PIS_RESTART_H
#define PIS_RESTART_H

#include <stdint.h>

/* Returns 0 when the command exited 0 within timeout_ms, -1 otherwise (on
 * timeout its process group gets SIGTERM, then SIGKILL 10 s later). A NULL
 * command logs that Pocket ID needs a manual restart and returns 1. */
int restart_pocket_id(const char *command, uint64_t timeout_ms, const char *why);

#endif
