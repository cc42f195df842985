/* SPDX-License-Identifier: MIT */
#ifndef VMM_SANDBOX_H
#define VMM_SANDBOX_H

#include <stddef.h>

/*
 * Seccomp per thread class (vmm/seccomp.c, allow-lists in vmm/seccomp_rules.c, compiled at
 * build time by vmm/seccomp_gen.c) and capability dropping (vmm/caps.c). The jail (namespaces,
 * pivot_root, uid/gid) is vmm/jail.h.
 *
 * Filters are thread-level (no TSYNC): each thread installs the filter of its class itself,
 * before it reads guest or client input. A thread created by a filtered thread inherits the
 * creator's filter, and filters stack: the effective allow-list of a thread is the
 * intersection of its own and every inherited one. So a class whose threads create threads
 * of another class must allow what that class needs too. Today only the control thread
 * creates threads, and it does so under its filter (main() enters "control" before it
 * starts the API server and builds the VM):
 *   - the API thread (before or after boot), the vCPU threads (InstanceStart) and every
 *     device's persistent worker (created with the device while the VM is built; the vCPU
 *     threads and pause/resume only wake and park it): "control" includes "api", "vcpu" and
 *     every device class;
 *   - the VM is built on the control thread: "control" includes "build" (the KVM set-up
 *     ioctls, memfd, taps, io_uring set-up, ...);
 *   - thread creation itself ("spawn": clone with CLONE_THREAD only, clone3 answers ENOSYS so
 *     that glibc falls back to clone, whose flags a filter can see, and glibc's one lazy
 *     rt_sigaction) is in the control filter alone: a vCPU, device or API thread that tried
 *     to start a thread or a process dies.
 * The inclusion table is seccomp_rules.c's `includes`.
 *
 * Every filter allows prctl(PR_SET_NO_NEW_PRIVS / PR_SET_NAME / the capability ones) and
 * seccomp(SET_MODE_FILTER): a thread started under the control filter must still be able to
 * drop its capabilities and add its own. openat, where a class does not allow it, answers
 * EACCES (glibc's malloc reads a /proc file once, and copes). mmap/mprotect never get
 * PROT_EXEC.
 */

enum sandbox_mode { SANDBOX_SECCOMP_KILL, SANDBOX_SECCOMP_LOG, SANDBOX_SECCOMP_OFF };

/*
 * Once, in main() before any thread (and after jail_enter(), which forks): mode from
 * --seccomp=kill|log|off; selftest is NULL or a thread class name from the hidden option
 * --seccomp-selftest=CLASS: that class's thread, right after installing its filter, makes a
 * syscall its filter forbids (getppid), so the process dies of SIGSYS in kill mode.
 * Only records them: the filters were compiled at build time (sandbox_bpf below), so a
 * start pays nothing for them and sandbox_enter() is two syscalls.
 */
void sandbox_configure(enum sandbox_mode mode, const char *selftest_class);

/* "kill" / "log" / "off": 0, else -EINVAL. */
int sandbox_mode_parse(const char *s, enum sandbox_mode *out);

/*
 * Install the calling thread's filter for its class: "control", "api", "vcpu", or a virtio
 * device kind = its ops->name ("blk", "net", "vsock", "scsi", "pmem", "rng", "console").
 * Unknown class, sandbox_configure() not called, or the filter cannot be loaded: logs and
 * exits the process (status 1): a thread never runs unconfined by accident. No-op in
 * SANDBOX_SECCOMP_OFF.
 */
void sandbox_enter(const char *thread_class);

/*
 * Drop every capability of the calling thread (effective, permitted, inheritable, bounding
 * set where allowed, ambient) with libcap-ng, and set no_new_privs. Returns 0 or -errno with
 * a message in err. Capabilities are per thread: call it on the main thread before any
 * other thread exists (threads inherit the empty sets), or on each thread.
 */
int sandbox_drop_caps(char *err, size_t errlen);

/* For tests and the selftest: whether name is a thread class, and the classes themselves
 * (NULL-terminated). */
int sandbox_class_known(const char *thread_class);
extern const char *const sandbox_classes[];

/* For tests: the BPF program sandbox_enter() loads for a class in the configured mode (after
 * sandbox_configure(); NULL if unknown or mode off), its instruction count in *len. */
const void *sandbox_program(const char *thread_class, unsigned short *len);

/*
 * The filters, compiled at build time: vmm/seccomp_gen.c runs libseccomp over
 * vmm/seccomp_rules.c and writes build/<variant>/gen/seccomp_bpf.c, which defines this table
 * (one entry per thread class, then a NULL name) and sandbox_classes[]. `kill` and `log` are
 * the class's program with default action SECCOMP_RET_KILL_PROCESS resp. SECCOMP_RET_LOG;
 * both kill a foreign architecture or an x32 syscall.
 */
struct sock_filter;
struct sandbox_bpf {
	const char *name;
	const struct sock_filter *kill, *log;
	unsigned short kill_len, log_len;
};
extern const struct sandbox_bpf sandbox_bpf[];

#endif /* VMM_SANDBOX_H */
