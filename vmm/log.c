/* SPDX-License-Identifier: MIT */
#include "vmm/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum log_level log_max_level = LOG_WARN;

/* The output: stderr until log_configure() opens a file, then always the same number. */
static int log_fd = -1;
static bool log_show_level, log_show_origin;

static const char *const log_level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_msg(enum log_level lvl, const char *file, int line, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n, fd;

	if (lvl > log_max_level || lvl < LOG_ERR)
		return;
	n = snprintf(buf, sizeof(buf), "microvm: ");
	if (__atomic_load_n(&log_show_level, __ATOMIC_RELAXED))
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s ", log_level_names[lvl]);
	if (__atomic_load_n(&log_show_origin, __ATOMIC_RELAXED))
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s:%d: ", file, line);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	fd = __atomic_load_n(&log_fd, __ATOMIC_ACQUIRE);
	/* A single write keeps lines from different threads whole (O_APPEND for files). */
	if (write(fd < 0 ? STDERR_FILENO : fd, buf, (size_t)n) < 0)
		return;
}

/* A new descriptor for path ("-": stderr again). */
static int log_open(const char *path)
{
	int fd;

	if (strcmp(path, "-") == 0) {
		fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0600);
	/* A FIFO nobody reads yet: write-only open fails with ENXIO, read-write does not (and
	 * the reader may come later). */
	if (fd < 0 && errno == ENXIO)
		fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

int log_configure(const char *path, int level, bool show_level, bool show_origin)
{
	int fd;

	if (level < -1 && level != LOG_OFF)
		return -EINVAL;
	if (level > LOG_DEBUG)
		return -EINVAL;
	if (path) {
		fd = log_open(path);
		if (fd < 0)
			return fd;
		if (log_fd < 0) {
			__atomic_store_n(&log_fd, fd, __ATOMIC_RELEASE);
		} else {
			/* Swap the file behind log_fd: a writer never sees a closed number. */
			if (dup3(fd, log_fd, O_CLOEXEC) < 0) {
				int e = -errno;

				close(fd);
				return e;
			}
			close(fd);
		}
	}
	if (level != -1)
		log_max_level = (enum log_level)level;
	__atomic_store_n(&log_show_level, show_level, __ATOMIC_RELAXED);
	__atomic_store_n(&log_show_origin, show_origin, __ATOMIC_RELAXED);
	return 0;
}

bool log_ratelimit_ok(long *last_sec, int *count)
{
	struct timespec ts;

	/* Racy by design: a lost update only lets one extra line through. */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (ts.tv_sec != __atomic_load_n(last_sec, __ATOMIC_RELAXED)) {
		__atomic_store_n(last_sec, ts.tv_sec, __ATOMIC_RELAXED);
		__atomic_store_n(count, 0, __ATOMIC_RELAXED);
	}
	return __atomic_fetch_add(count, 1, __ATOMIC_RELAXED) < 5;
}
