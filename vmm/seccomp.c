/* SPDX-License-Identifier: MIT */
/*
 * Seccomp filters per thread class. The filters are compiled at build time (vmm/seccomp_gen.c
 * writes them into the sandbox_bpf table), so sandbox_configure() only records the mode and
 * sandbox_enter() loads a constant program (no_new_privs + seccomp(2)): no libseccomp at run
 * time, no allocation, nothing to fail but the two syscalls.
 */
#include "vmm/sandbox.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/util.h"

static enum sandbox_mode sandbox_mode = SANDBOX_SECCOMP_KILL;
static const char *sandbox_selftest;
static bool sandbox_configured;

int sandbox_mode_parse(const char *s, enum sandbox_mode *out)
{
	static const char *const names[] = {"kill", "log", "off"};

	for (unsigned int i = 0; s && i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum sandbox_mode)i;
			return 0;
		}
	return -EINVAL;
}

static const struct sandbox_bpf *sandbox_find(const char *thread_class)
{
	for (const struct sandbox_bpf *b = sandbox_bpf; thread_class && b->name; b++)
		if (strcmp(b->name, thread_class) == 0)
			return b;
	return NULL;
}

int sandbox_class_known(const char *thread_class)
{
	return sandbox_find(thread_class) != NULL;
}

void sandbox_configure(enum sandbox_mode mode, const char *selftest_class)
{
	sandbox_mode = mode;
	sandbox_selftest = selftest_class;
	sandbox_configured = true;
}

const void *sandbox_program(const char *thread_class, unsigned short *len)
{
	const struct sandbox_bpf *b = sandbox_find(thread_class);

	if (!b || sandbox_mode == SANDBOX_SECCOMP_OFF)
		return NULL;
	*len = sandbox_mode == SANDBOX_SECCOMP_LOG ? b->log_len : b->kill_len;
	return sandbox_mode == SANDBOX_SECCOMP_LOG ? b->log : b->kill;
}

void sandbox_enter(const char *thread_class)
{
	struct sock_fprog prog = {0};

	if (!sandbox_configured || !sandbox_class_known(thread_class)) {
		log_err("seccomp: %s thread class %s",
			sandbox_configured ? "unknown" : "unconfigured",
			thread_class ? thread_class : "(null)");
		_exit(1);
	}
	if (sandbox_mode == SANDBOX_SECCOMP_OFF)
		return;
	/* the kernel does not write through the pointer: the program stays in .rodata */
	prog.filter = (struct sock_filter *)sandbox_program(thread_class, &prog.len);
	/* no_new_privs: required to load a filter without CAP_SYS_ADMIN, and wanted anyway */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		log_err("seccomp: cannot load the %s filter: %s", thread_class, strerror(errno));
		_exit(1);
	}
	/* The proof that the filter is live: a call no class allows. */
	if (sandbox_selftest && strcmp(sandbox_selftest, thread_class) == 0) {
		log_info("seccomp: selftest on the %s thread: forbidden syscall", thread_class);
		syscall(SYS_getppid);
	}
}
