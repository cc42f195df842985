/* SPDX-License-Identifier: MIT */
#ifndef VMM_SECCOMP_RULES_H
#define VMM_SECCOMP_RULES_H

#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>

/* One conditional rule: syscall allowed (or answered with errno when `errno_val` is set)
 * when argument `arg` compares as asked. op SCMP_CMP_MASKED_EQ uses mask; no arg: arg = -1. */
struct seccomp_arg_rule {
	const char *syscall;
	int arg;
	enum scmp_compare op;
	uint64_t mask, value;
	int errno_val;
};

/* A thread class's allow-list. `includes`: classes whose threads this class's threads
 * create (they inherit this filter, see vmm/sandbox.h); their lists are added to this one. */
struct seccomp_class {
	const char *name;
	const char *const *syscalls; /* unconditional, NULL-terminated */
	const struct seccomp_arg_rule *args;
	size_t n_args;
	const unsigned long *ioctls; /* allowed request numbers (second argument) */
	size_t n_ioctls;
	const char *const *includes; /* NULL-terminated, or NULL */
};

/* Rules of every thread (glibc, thread start and end, stacking a filter); no name. */
extern const struct seccomp_class seccomp_base;
/* Every class, NULL-terminated by a zero entry: the thread classes and the parts they
 * include ("worker", "spawn", "build"). */
extern const struct seccomp_class seccomp_classes[];
/* The names of the thread classes (NULL-terminated): what vmm/seccomp_gen.c compiles. */
extern const char *const seccomp_thread_classes[];

const struct seccomp_class *seccomp_class_find(const char *name);

struct sock_fprog;
/*
 * Compile class `thread_class` (with seccomp_base and its includes, transitively) into a BPF
 * program in out->filter (malloc'ed): allowed calls pass, errno rules answer, anything else
 * gets def_action (SCMP_ACT_KILL_PROCESS or SCMP_ACT_LOG); a foreign architecture or an x32
 * syscall kills the process whatever def_action is. Build time only (vmm/seccomp_compile.c,
 * libseccomp): 0, -ENOENT (not in seccomp_classes), -EXDEV (build host not x86_64) or libseccomp's
 * -errno.
 */
int seccomp_compile(const char *thread_class, uint32_t def_action, struct sock_fprog *out);

#endif /* VMM_SECCOMP_RULES_H */
