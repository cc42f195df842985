/* SPDX-License-Identifier: MIT */
/*
 * launch_probe: run a VMM once and measure it from the outside, the same way for every VMM.
 *
 *   launch_probe MARKER [TIMEOUT_S] -- COMMAND ARGS...
 *
 * Prints one line: "first_ms=<exec to the first output line containing MARKER> exit_ms=<exec to
 * process exit> maxrss_kb=<peak RSS> status=<exit status>" (first_ms=-1 if MARKER never came).
 * With PROBE_KILL_AT_MARKER=1 in the environment the VMM is killed once MARKER is seen (for
 * guests that never exit on every VMM); exit_ms is then the time of the kill.
 * With PROBE_OUTPUT=FILE the VMM's whole output is also copied to FILE (for the guest's own
 * timings; the copy costs one write per read, the same for every VMM); with PROBE_STAMP=1 as
 * well, each line of the copy starts with the ms since exec at which it was read (run the VMM
 * with stderr on stdout to time its log lines).
 * Built static so it runs in the nested harness's busybox-only L1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Copy one read's bytes to fd, each line prefixed with "<ms> " when stamping. */
static int copy_out(int fd, const char *buf, size_t n, bool stamp, double ms, bool *at_start)
{
	char out[65536 + 4096];
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (stamp && *at_start)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%10.2f ", ms);
		*at_start = buf[i] == '\n';
		out[o++] = buf[i];
		if (o > sizeof(out) - 32) {
			if (write(fd, out, o) != (ssize_t)o)
				return -1;
			o = 0;
		}
	}
	return write(fd, out, o) == (ssize_t)o ? 0 : -1;
}

int main(int argc, char **argv)
{
	char buf[65536], line[4096];
	double t0, first = -1, deadline;
	size_t line_len = 0;
	struct rusage ru;
	int p[2], status = 0, argi = 2, timeout_s = 120;
	const char *kill_env = getenv("PROBE_KILL_AT_MARKER");
	const char *out_path = getenv("PROBE_OUTPUT");
	const char *stamp_env = getenv("PROBE_STAMP");
	bool kill_at_marker = kill_env && strcmp(kill_env, "1") == 0;
	bool stamp = stamp_env && strcmp(stamp_env, "1") == 0, at_start = true;
	int out_fd = -1;
	pid_t pid;

	if (argc < 4) {
		fprintf(stderr, "usage: launch_probe MARKER [TIMEOUT_S] -- COMMAND ARGS...\n");
		return 2;
	}
	if (strcmp(argv[2], "--") != 0) {
		timeout_s = atoi(argv[2]);
		argi = 3;
	}
	if (strcmp(argv[argi], "--") != 0)
		return 2;
	argi++;
	if (out_path && *out_path) {
		out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out_fd < 0) {
			perror(out_path);
			return 2;
		}
	}
	if (pipe(p) < 0)
		return 2;
	t0 = now_ms();
	deadline = t0 + timeout_s * 1e3;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		execvp(argv[argi], argv + argi);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		int left = (int)(deadline - now_ms());
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, left) <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		n = read(p[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		/* A failed copy only loses diagnostics, never the measurement. */
		if (out_fd >= 0 &&
		    copy_out(out_fd, buf, (size_t)n, stamp, now_ms() - t0, &at_start) < 0) {
			close(out_fd);
			out_fd = -1;
		}
		for (ssize_t i = 0; i < n && first < 0; i++) {
			if (buf[i] == '\n' || line_len == sizeof(line) - 1) {
				line[line_len] = '\0';
				if (strstr(line, argv[1])) {
					first = now_ms() - t0;
					if (kill_at_marker)
						kill(pid, SIGKILL);
				}
				line_len = 0;
			} else {
				line[line_len++] = buf[i];
			}
		}
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		return 2;
	printf("first_ms=%.2f exit_ms=%.2f maxrss_kb=%ld status=%d\n", first, now_ms() - t0,
	       ru.ru_maxrss, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
