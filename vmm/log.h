/* SPDX-License-Identifier: MIT */
#ifndef VMM_LOG_H
#define VMM_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages at or below this level are written (default LOG_WARN; MICROVM_LOG=debug|info). */
extern enum log_level log_max_level;

/* One write(2) per line to stderr, prefixed "microvm: "; no allocation, any thread. */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like log_msg, but at most a few lines per second per call site (guest-triggerable paths). */
bool log_ratelimit_ok(long *last_sec, int *count);

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#define log_warn_ratelimited(...)                                                                  \
	do {                                                                                       \
		static long rl_sec_;                                                               \
		static int rl_count_;                                                              \
		if (log_ratelimit_ok(&rl_sec_, &rl_count_))                                        \
			log_msg(LOG_WARN, __VA_ARGS__);                                            \
	} while (0)

#endif /* VMM_LOG_H */
