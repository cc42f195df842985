/* SPDX-License-Identifier: MIT */
#ifndef VMM_LOG_H
#define VMM_LOG_H

#include <stdbool.h>

/* LOG_OFF: nothing is written, not even errors (Firecracker's "Off"). -1 is left free: it is
 * vm_config's "level unchanged". */
enum log_level { LOG_OFF = -2, LOG_ERR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages at or below this level are written (default LOG_WARN; MICROVM_LOG=debug|info). */
extern enum log_level log_max_level;

/*
 * One write(2) per line, prefixed "microvm: " (then "WARN " with show_level, "vmm/vm.c:12: "
 * with show_origin), to stderr or the file log_configure() opened; no allocation, any thread.
 * file/line: the call site, passed by the macros below.
 */
void log_msg(enum log_level lvl, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * The logger resource (PUT /logger, the config file's "logger", --log-path/--log-level): path
 * (NULL: keep the current output; "-": stderr again) is opened
 * O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC|O_NONBLOCK, mode 0600, and replaces the current output; a
 * FIFO without a reader is opened read-write so that it does not fail (as Firecracker does), and a
 * full pipe drops lines instead of stalling the VMM. level: an enum log_level (LOG_OFF too), or -1
 * to keep it; anything else is -EINVAL. show_level/show_origin always replace the old flags.
 * Threads logging meanwhile write whole lines to the old or the new output (the descriptor number
 * never changes once set, dup3 swaps the file behind it). One caller at a time (the control
 * thread). 0 or -errno.
 */
int log_configure(const char *path, int level, bool show_level, bool show_origin);

/* Like log_msg, but at most a few lines per second per call site (guest-triggerable paths). */
bool log_ratelimit_ok(long *last_sec, int *count);

#define log_err(...)   log_msg(LOG_ERR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

#define log_warn_ratelimited(...)                                                                  \
	do {                                                                                       \
		static long rl_sec_;                                                               \
		static int rl_count_;                                                              \
		if (log_ratelimit_ok(&rl_sec_, &rl_count_))                                        \
			log_msg(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__);                        \
	} while (0)

#endif /* VMM_LOG_H */
