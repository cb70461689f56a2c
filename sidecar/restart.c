/* restart: fork/exec of the configured command with a deadline; the child
 * gets its own process group so a timeout stops everything it started:
 * SIGTERM first (a `systemctl restart` or `docker restart` then still lets
 * Pocket ID shut down cleanly), SIGKILL after RESTART_GRACE_MS. */
#include "restart.h"

#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define RESTART_GRACE_MS 10000

/* Waits for pid until deadline; returns waitpid's result (0 = still running). */
static pid_t wait_until(pid_t pid, int64_t deadline, int *status)
{
	pid_t done;

	while ((done = waitpid(pid, status, WNOHANG)) == 0 && mono_ms() < deadline) {
		struct timespec pause = {0, 20 * 1000 * 1000};
		nanosleep(&pause, NULL);
	}
	return done;
}

/* The command overran: ask its process group to stop, then force it. */
static void stop_group(pid_t pid, int *status)
{
	kill(-pid, SIGTERM);
	if (wait_until(pid, mono_ms() + RESTART_GRACE_MS, status) == 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, status, 0);
	}
}

int restart_pocket_id(const char *command, uint64_t timeout_ms, const char *why)
{
	char q[512];
	int64_t deadline;
	pid_t pid, done = 0;
	int status = 0;

	if (command == NULL) {
		log_warn("restart.needed", "why=%s msg=\"Pocket ID caches this in memory: restart it "
					   "to pick the change up (or set SYNC_RESTART_COMMAND)\"", why);
		return 1;
	}
	log_info("restart.start", "why=%s command=%s", why, log_quote(q, sizeof(q), command));
	pid = fork();
	if (pid == -1) {
		log_error("restart.failed", "reason=fork errno=%d", errno);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	deadline = mono_ms() + (int64_t)timeout_ms;
	done = wait_until(pid, deadline, &status);
	if (done == 0) {
		stop_group(pid, &status);
		log_error("restart.failed", "reason=timeout timeout_ms=%llu",
			  (unsigned long long)timeout_ms);
		return -1;
	}
	if (done == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_error("restart.failed", "reason=exit status=%d",
			  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	log_info("restart.done", "why=%s", why);
	return 0;
}
