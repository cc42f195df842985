/* SPDX-License-Identifier: MIT */
#include "vmm/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

enum log_level log_max_level = LOG_WARN;

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (lvl > log_max_level)
		return;
	n = snprintf(buf, sizeof(buf), "microvm: ");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* A single write keeps lines from different threads whole. */
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
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
