/* restart: fork/exec of the configured command with a deadline; the child
 * gets its own process group so a timeout stops everything it started:
 * SIGTERM first (a `systemctl restart` or `docker restart` then still lets
 * Pocket ID shut down cleanly), SIGKILL after RESTART_GRACE_MS. What it
 * prints (stdout and stderr) becomes restart.output log lines, so the
 * daemon's log stays one logfmt event per line. */
#include "restart.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
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

#define RESTART_MAX_OUTPUT_LINES 20

struct child_output {
	char line[256];
	size_t len;
	unsigned lines;
};

static void output_flush(struct child_output *o)
{
	char q[600];

	if (o->len > 0 && o->lines++ < RESTART_MAX_OUTPUT_LINES) {
		o->line[o->len] = '\0';
		log_info("restart.output", "line=%s", log_quote(q, sizeof(q), o->line));
	}
	o->len = 0;
}

/* Reads what is there on fd (non-blocking) into log lines. */
static void output_read(int fd, struct child_output *o)
{
	char buf[512];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n')
				output_flush(o);
			else if (o->len + 1 < sizeof(o->line))
				o->line[o->len++] = buf[i];
		}
	}
}

/* Waits for pid until the deadline, logging its output. Returns what
 * waitpid returned (0: still running at the deadline). */
static pid_t wait_logging(pid_t pid, int fd, int64_t deadline, int *status)
{
	struct child_output o = {.len = 0};
	pid_t done;

	while ((done = waitpid(pid, status, WNOHANG)) == 0 && mono_ms() < deadline) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (fd == -1 || poll(&pfd, 1, 20) <= 0) {
			struct timespec pause = {0, 20 * 1000 * 1000};
			if (fd == -1)
				nanosleep(&pause, NULL);
			continue;
		}
		output_read(fd, &o);
	}
	if (fd != -1)
		output_read(fd, &o);
	output_flush(&o);
	return done;
}

int restart_pocket_id(const char *command, uint64_t timeout_ms, const char *why)
{
	char q[512];
	int64_t deadline;
	pid_t pid, done = 0;
	int status = 0, out[2] = {-1, -1};

	if (command == NULL) {
		log_warn("restart.needed", "why=%s msg=\"Pocket ID caches this in memory: restart it "
					   "to pick the change up (or set SYNC_RESTART_COMMAND)\"", why);
		return 1;
	}
	log_info("restart.start", "why=%s command=%s", why, log_quote(q, sizeof(q), command));
	if (pipe2(out, O_CLOEXEC) == -1)
		out[0] = out[1] = -1; /* then the command's output is not captured */
	pid = fork();
	if (pid == -1) {
		log_error("restart.failed", "reason=fork errno=%d", errno);
		if (out[0] != -1)
			close(out[0]), close(out[1]);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		if (out[1] != -1) {
			dup2(out[1], STDOUT_FILENO);
			dup2(out[1], STDERR_FILENO);
		}
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	if (out[1] != -1) {
		close(out[1]);
		fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
	}
	deadline = mono_ms() + (int64_t)timeout_ms;
	done = wait_logging(pid, out[0], deadline, &status);
	if (done == 0) /* its pipe stays open meanwhile: a trap may still print */
		stop_group(pid, &status);
	if (out[0] != -1)
		close(out[0]);
	if (done == 0) {
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
