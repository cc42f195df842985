/* SPDX-License-Identifier: MIT */
/*
 * The seccomp allow-lists, one per thread class, from an audit of the code each class runs
 * (see each list's comment). Syscalls are named, not numbered: libseccomp resolves them for
 * the build's architecture. glibc wrappers that are not the syscall of the same name: send ->
 * sendto, recv -> recvfrom, poll -> poll or ppoll, epoll_wait -> epoll_wait or epoll_pwait,
 * pthread_create -> clone3 (ENOSYS here) then clone, abort -> tgkill(SIGABRT).
 */
#include "vmm/seccomp_rules.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <linux/kvm.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "vmm/util.h"

#define EQ(sc, a, v)                                                                               \
	{                                                                                          \
		sc, a, SCMP_CMP_EQ, 0, (uint64_t)(v), 0                                            \
	}
#define MASKED(sc, a, m, v)                                                                        \
	{                                                                                          \
		sc, a, SCMP_CMP_MASKED_EQ, (uint64_t)(m), (uint64_t)(v), 0                         \
	}
#define ERRNO_ALWAYS(sc, e)                                                                        \
	{                                                                                          \
		sc, -1, SCMP_CMP_EQ, 0, 0, e                                                       \
	}
#define CLASS_ARGS(a)		.args = a, .n_args = ARRAY_SIZE(a)
#define CLASS_IOCTLS(a)		.ioctls = a, .n_ioctls = ARRAY_SIZE(a)
#define SANDBOX_KICK_SIGNAL	SIGUSR1 /* vmm/vcpu.c's kick: only the control thread sends it */
#define SANDBOX_GLIBC_SIGSETXID 33	/* glibc's SIGRT_1; SIGRTMIN is glibc's, not the kernel's */

/*
 * Every thread: memory (malloc, thread stacks; never executable), futex (locks, joins),
 * signal masks, time (vDSO, but the syscall when the clocksource has none), thread start
 * (rseq, set_robust_list) and end, eventfd/pipe read/write/close, fstat/lseek (stdio),
 * getrandom, what a thread needs to stack its own filter on an inherited one, and what the
 * sanitizers call on thread start and exit (sigaltstack, sched_getaffinity). Creating
 * threads is the control thread's alone ("spawn").
 */
static const char *const base_syscalls[] = {
	"read",
	"write",
	"close",
	"futex",
	"brk",
	"munmap",
	"mremap",
	"madvise",
	"rt_sigprocmask",
	"rt_sigreturn",
	"restart_syscall",
	"exit",
	"exit_group",
	"gettid",
	"getpid",
	"sched_yield",
	"clock_gettime",
	"clock_getres",
	"gettimeofday",
	"time",
	"nanosleep",
	"clock_nanosleep",
	"rseq",
	"set_robust_list",
	"getrandom",
	"fstat",
	"newfstatat",
	"lseek",
	"sigaltstack",
	"sched_getaffinity",
	"capget",
	"capset",
	NULL,
};

static const struct seccomp_arg_rule base_args[] = {
	MASKED("mmap", 2, PROT_EXEC, 0), MASKED("mprotect", 2, PROT_EXEC, 0),
	/* glibc's malloc, shrinking a thread's arena the first time, reads
	 * /proc/sys/vm/overcommit_memory (api and device threads, seen in the API suite) and
	 * copes with a failed open; a class that opens files allows openat outright */
	ERRNO_ALWAYS("openat", EACCES), EQ("prctl", 0, PR_SET_NO_NEW_PRIVS),
	EQ("prctl", 0, PR_SET_NAME),
	/* sandbox_drop_caps() on a thread already under its creator's filter */
	EQ("prctl", 0, PR_CAPBSET_DROP), EQ("prctl", 0, PR_CAP_AMBIENT),
	EQ("prctl", 0, PR_CAPBSET_READ), EQ("seccomp", 0, SECCOMP_SET_MODE_FILTER),
	EQ("tgkill", 2, SIGABRT), /* abort() */
};

const struct seccomp_class seccomp_base = {
	.name = "base",
	.syscalls = base_syscalls,
	CLASS_ARGS(base_args),
};

/*
 * Thread creation, for the control thread only (vCPUs, device workers, the API server):
 * threads only, never a process (fork is clone without CLONE_THREAD); clone3's flags sit in
 * memory a filter cannot read, so it answers ENOSYS and glibc falls back to clone; glibc
 * (2.34+) installs its SIGSETXID handler at the process's first pthread_create(), which
 * comes after the control filter: that one signal only.
 */
static const struct seccomp_arg_rule spawn_args[] = {
	MASKED("clone", 0, CLONE_THREAD, CLONE_THREAD),
	ERRNO_ALWAYS("clone3", ENOSYS),
	EQ("rt_sigaction", 0, SANDBOX_GLIBC_SIGSETXID),
};

/* Every device worker: devices/virtio/core.c's epoll loop over eventfds. */
static const char *const worker_syscalls[] = {"epoll_wait", "epoll_pwait", "epoll_ctl", NULL};

/*
 * vCPU: vmm/vcpu.c's KVM_RUN loop and every PIO/MMIO handler: serial (write, poll for a full
 * pipe), i8042 / serial IRQ lines, PCI config space and MSI-X (GSI routing, irqfd), BAR moves
 * (ioeventfd, memory slots for pmem's window), virtio transports (eventfd writes). Status
 * changes wake or park the device's persistent worker (core.c: its epoll set is made here,
 * epoll_create1/epoll_ctl, and closed at the stop) and run the device's activate / reset /
 * queue reset on this thread: net applies offloads and queue pairs (TUNSETOFFLOAD,
 * TUNSETQUEUE) and disarms its timerfd; blk drains its ring (io_uring_enter), frees its
 * slots and disarms its timerfd; vsock closes its connections (epoll_ctl DEL, close) and
 * disarms its timerfd. No thread is created here.
 */
static const char *const vcpu_syscalls[] = {
	"poll", "ppoll", "epoll_create1", "epoll_ctl", "timerfd_settime", "io_uring_enter", NULL,
};

static const unsigned long vcpu_ioctls[] = {
	KVM_RUN,       KVM_IRQ_LINE,  KVM_SET_GSI_ROUTING,
	KVM_IRQFD,     KVM_IOEVENTFD, KVM_SET_USER_MEMORY_REGION,
	TUNSETOFFLOAD, TUNSETQUEUE,
};

/*
 * Control: vmm/vm_run.c's loop (epoll, signalfd, stdin, the console pipe, serial input ->
 * KVM_IRQ_LINE, INTx resample), pause/resume (kicks: tgkill SIGUSR1), API commands (drive
 * swap: openat, fstat, statx, lseek; metrics and logger files: openat, write, fsync; the
 * API socket, if started after the filter), the terminal (tcsetattr at exit) and
 * vm_destroy() (munmap, close, unlink of sockets).
 */
static const char *const control_syscalls[] = {
	"epoll_create1",  "epoll_wait",	     "epoll_pwait", "epoll_ctl", "signalfd4",
	"readv",	  "writev",	     "poll",	    "ppoll",	 "openat",
	"statx",	  "fsync",	     "fdatasync",   "ftruncate", "unlink",
	"timerfd_create", "timerfd_settime", "eventfd2",    "bind",	 "listen",
	"chmod",	  "fchmodat",	     NULL,
};

static const struct seccomp_arg_rule control_args[] = {
	EQ("tgkill", 2, SANDBOX_KICK_SIGNAL), EQ("socket", 0, AF_UNIX),
	EQ("fcntl", 1, F_DUPFD_CLOEXEC), /* PUT /logger "-" */
};

/*
 * VM construction, which main() runs on the control thread after its filter (vm_create():
 * /dev/kvm and the VM's set-up ioctls, guest RAM in a memfd, vCPUs, the irqchip; devices:
 * backing files, taps, io_uring rings, vsock listener, console pipe). Included by control.
 */
static const char *const build_syscalls[] = {
	"memfd_create",	  "fallocate",	       "pipe2",	   "pread64",
	"io_uring_setup", "io_uring_register", "readlink", NULL,
};

static const struct seccomp_arg_rule build_args[] = {
	EQ("fcntl", 1, F_GETFL),
	EQ("fcntl", 1, F_SETFL),
	EQ("fcntl", 1, F_GETFD),
	EQ("fcntl", 1, F_SETFD),
};

static const unsigned long build_ioctls[] = {
	KVM_GET_API_VERSION,
	KVM_CHECK_EXTENSION,
	KVM_CREATE_VM,
	KVM_GET_VCPU_MMAP_SIZE,
	KVM_GET_SUPPORTED_CPUID,
	KVM_CREATE_VCPU,
	KVM_SET_CPUID2,
	KVM_SET_REGS,
	KVM_SET_SREGS,
	KVM_GET_SREGS,
	KVM_SET_FPU,
	KVM_SET_MSRS,
	KVM_GET_LAPIC,
	KVM_SET_LAPIC,
	KVM_SET_XCRS,
	KVM_SET_TSS_ADDR,
	KVM_SET_IDENTITY_MAP_ADDR,
	KVM_CREATE_IRQCHIP,
	KVM_CREATE_PIT2,
	KVM_SET_USER_MEMORY_REGION,
	KVM_SET_GSI_ROUTING,
	KVM_IRQFD,
	KVM_IOEVENTFD,
	SIOCGIFINDEX, /* if_nametoindex(): does --net tap=NAME exist (on an AF_UNIX socket) */
	TUNSETIFF,
	TUNGETIFF,
	TUNSETVNETHDRSZ,
	TUNSETVNETLE,
	TUNSETOFFLOAD,
	TUNSETQUEUE,
};

static const unsigned long control_ioctls[] = {
	KVM_IRQ_LINE, TCGETS, TCSETS, TCSETSW, TCSETSF,
};

/* API: api/server.c's epoll loop over a listening UNIX socket and its clients, HTTP and
 * JSON in memory, commands posted to the control thread (eventfd write, futex). */
static const char *const api_syscalls[] = {
	"epoll_wait", "epoll_pwait", "epoll_ctl", "accept4", "recvfrom", "sendto", "shutdown", NULL,
};

/* virtio-blk: sync engine (preadv/pwritev, pwrite for write-zeroes, fallocate for discard,
 * fdatasync), io_uring engine (io_uring_enter), the rate limiter's timerfd. */
static const char *const blk_syscalls[] = {
	"preadv",    "pwritev", "pread64",	  "pwrite64",	     "fallocate",
	"fdatasync", "fsync",	"io_uring_enter", "timerfd_settime", NULL,
};

/* virtio-net: the tap (read, writev), the rate limiter's timerfd, offloads and queue pairs
 * changed by the control queue. */
static const char *const net_syscalls[] = {
	"readv",
	"writev",
	"timerfd_settime",
	NULL,
};

static const unsigned long net_ioctls[] = {TUNSETOFFLOAD, TUNSETQUEUE};

/* virtio-vsock: UNIX sockets to the host (accept, connect to SOCK_PORT), its own epoll set,
 * credit timer. */
static const char *const vsock_syscalls[] = {
	"accept4", "connect", "recvfrom",	 "sendto", "shutdown",
	"poll",	   "ppoll",   "timerfd_settime", NULL,
};

static const struct seccomp_arg_rule vsock_args[] = {
	EQ("socket", 0, AF_UNIX),
};

/* virtio-scsi: LUN files (preadv/pwritev, SEEK_DATA via lseek, fallocate, fdatasync). */
static const char *const scsi_syscalls[] = {
	"preadv", "pwritev", "pread64", "pwrite64", "fallocate", "fdatasync", "fsync", NULL,
};

/* virtio-pmem: FLUSH is msync + fdatasync of the mapped file. */
static const char *const pmem_syscalls[] = {"msync", "fdatasync", "fsync", NULL};

static const char *const no_syscalls[] = {NULL};

/* virtio-rng: getrandom only, in the base list. */
static const char *const rng_syscalls[] = {NULL};

/* virtio-console: the host side (readv after poll, writev). */
static const char *const console_syscalls[] = {"readv", "writev", "poll", "ppoll", NULL};

static const char *const worker_incl[] = {"worker", NULL};
/* The control thread creates the vCPU threads, the device workers and the API thread: their
 * filters stack on its own, so it allows what they need (see vmm/sandbox.h). */
static const char *const control_incl[] = {"spawn", "vcpu", "api",  "build", "blk",	"net",
					   "vsock", "scsi", "pmem", "rng",   "console", NULL};

#define DEVICE(n, ...)                                                                             \
	{                                                                                          \
		.name = #n, .syscalls = n##_syscalls, .includes = worker_incl, __VA_ARGS__         \
	}

const struct seccomp_class seccomp_classes[] = {
	{.name = "control",
	 .syscalls = control_syscalls,
	 CLASS_ARGS(control_args),
	 CLASS_IOCTLS(control_ioctls),
	 .includes = control_incl},
	{.name = "api", .syscalls = api_syscalls},
	{.name = "vcpu", .syscalls = vcpu_syscalls, CLASS_IOCTLS(vcpu_ioctls)},
	DEVICE(blk),
	DEVICE(net, CLASS_IOCTLS(net_ioctls)),
	DEVICE(vsock, CLASS_ARGS(vsock_args)),
	DEVICE(scsi),
	DEVICE(pmem),
	DEVICE(rng),
	DEVICE(console),
	/* not thread classes: the part every device worker shares, thread creation */
	{.name = "worker", .syscalls = worker_syscalls},
	{.name = "spawn", .syscalls = no_syscalls, CLASS_ARGS(spawn_args)},
	{.name = "build",
	 .syscalls = build_syscalls,
	 CLASS_ARGS(build_args),
	 CLASS_IOCTLS(build_ioctls)},
	{.name = NULL},
};

/* The thread classes, in the order of the generated table (vmm/seccomp_gen.c). */
const char *const seccomp_thread_classes[] = {"control", "api",	 "vcpu", "blk",	    "net", "vsock",
					      "scsi",	 "pmem", "rng",	 "console", NULL};

const struct seccomp_class *seccomp_class_find(const char *name)
{
	for (const struct seccomp_class *c = seccomp_classes; name && c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}
