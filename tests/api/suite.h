/* SPDX-License-Identifier: MIT */
#ifndef TESTS_API_SUITE_H
#define TESTS_API_SUITE_H

/*
 * The API robustness suite: a real microvm process driven over its API socket. Each check
 * prints one line ("ok   name" or "FAIL name: why"); the run ends with "N passed, N failed".
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tests/api/client.h"

/* The microvm under test, started with --api-sock in a temporary directory of its own. */
struct vmm {
	pid_t pid;
	int status; /* wait status once it exited */
	bool exited;
	char dir[64];
	char sock[108];
	char log[128];
};

/* Starts bin --api-sock <dir>/api.sock (plus extra, NULL-terminated) and waits until the
 * socket answers. Returns 0 or -errno. The child dies with the suite (PR_SET_PDEATHSIG). */
int vmm_start(struct vmm *v, const char *bin, const char *const *extra);
/* SIGTERM, then SIGKILL after 2 s; removes the directory. */
void vmm_stop(struct vmm *v);
/* Whether it still runs (reaps it when it exited). */
bool vmm_alive(struct vmm *v);
/* Waits up to timeout_ms for it to exit. */
bool vmm_wait_exit(struct vmm *v, int timeout_ms);
long vmm_rss_kb(const struct vmm *v);
int vmm_fd_count(const struct vmm *v);
/* Prints the last lines of its stderr/stdout log, for a failure's context. */
void vmm_log_tail(const struct vmm *v, int lines);
/* <dir>/<name> into out. */
const char *vmm_path(const struct vmm *v, const char *name, char *out, size_t len);
/* Creates <dir>/<name> of size bytes (sparse). Returns 0 or -errno. */
int vmm_make_file(const struct vmm *v, const char *name, off_t size);

/* One check's outcome; printf-style name. Returns ok. */
bool check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like check(), with a reason printed after a failure. */
bool check_why(bool ok, const char *why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* How many checks failed so far. */
unsigned int check_failures(void);
/* The summary line; returns the exit status (0 when nothing failed). */
int check_summary(void);

/*
 * One request on its own connection and what the answer must be: status, and for a 4xx/5xx
 * a JSON fault_message that contains one of the '|'-separated words of want (any
 * fault_message when want is NULL); a 204 must have no body. Prints one check line named
 * "<method> <path> <name>". Returns whether it passed.
 */
bool expect(const char *sock, const char *method, const char *path, const char *body, int status,
	    const char *want, const char *name);

/* Whether s contains one of the '|'-separated words of alts (case-insensitive). */
bool contains_any(const char *s, const char *alts);

/* The parts of the suite. Each prints its checks. */
void suite_endpoints(struct vmm *v);
void suite_protocol(struct vmm *v);
void suite_soak(struct vmm *v);
/* bin and vmm_args: how the suite started microvm, for a second instance. */
void suite_running(struct vmm *v, const char *bin, const char *const *vmm_args, const char *kernel,
		   const char *initrd, const char *cmdline);

#endif /* TESTS_API_SUITE_H */
