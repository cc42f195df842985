/* SPDX-License-Identifier: MIT */
/* Seccomp per thread class and capability dropping, each in a forked child (no KVM). */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/virtio/blk_internal.h"
#include "tests/harness.h"
#include "tests/unit/blk_util.h"
#include "vmm/sandbox.h"
#include "vmm/seccomp_rules.h"

/* Run fn(cls) in a child that ends with _exit (no atexit, no sanitizer leak scan under the
 * filter); returns its wait status. */
static int in_child(void (*fn)(const char *), const char *cls)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		fn(cls);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

#define ASSERT_EXIT0(st)                                                                           \
	do {                                                                                       \
		int st_ = (st);                                                                    \
		if (!WIFEXITED(st_) || WEXITSTATUS(st_) != 0)                                      \
			TEST_FAIL_("child status 0x%x, want exit 0", st_);                         \
	} while (0)
#define ASSERT_SIGSYS(st)                                                                          \
	do {                                                                                       \
		int st_ = (st);                                                                    \
		if (!WIFSIGNALED(st_) || WTERMSIG(st_) != SIGSYS)                                  \
			TEST_FAIL_("child status 0x%x, want SIGSYS", st_);                         \
	} while (0)

/* Child side: exit 2 when a check fails (an assertion's exit(1) would run atexit). */
#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			_exit(2);                                                                  \
	} while (0)

/* What every class allows: getpid, eventfd-style read/write on a pipe, malloc, time. */
static void allowed_calls(const char *cls)
{
	struct timespec ts;
	char b = 'x';
	int p[2];
	void *m;

	CHECK(pipe(p) == 0); /* before the filter: pipe2 is not in every list */
	sandbox_enter(cls);
	CHECK(getpid() > 0);
	CHECK(write(p[1], &b, 1) == 1 && read(p[0], &b, 1) == 1);
	m = malloc(1 << 20); /* mmap */
	CHECK(m != NULL);
	free(m);
	CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
	CHECK(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) == 0);
	close(p[0]);
	close(p[1]);
}

static void forbidden_call(const char *cls)
{
	sandbox_enter(cls);
	syscall(SYS_getppid);
	_exit(3); /* still alive: the filter let it through */
}

TEST(seccomp_each_class_kill)
{
	sandbox_configure(SANDBOX_SECCOMP_KILL, NULL);
	for (unsigned int i = 0; sandbox_classes[i]; i++) {
		ASSERT_EXIT0(in_child(allowed_calls, sandbox_classes[i]));
		ASSERT_SIGSYS(in_child(forbidden_call, sandbox_classes[i]));
	}
}

static void log_mode_child(const char *cls)
{
	pid_t parent = getppid();

	sandbox_enter(cls);
	CHECK(prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2); /* a filter is on (PR_GET: logged) */
	CHECK(syscall(SYS_getppid) == parent);	       /* forbidden, logged, carried out */
}

TEST(seccomp_log_mode_proceeds)
{
	sandbox_configure(SANDBOX_SECCOMP_LOG, NULL);
	ASSERT_EXIT0(in_child(log_mode_child, "vcpu"));
	ASSERT_EXIT0(in_child(log_mode_child, "rng"));
}

static void off_mode_child(const char *cls)
{
	sandbox_enter(cls);
	CHECK(prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 0);
	CHECK(syscall(SYS_getppid) > 0);
}

TEST(seccomp_off_mode_no_filter)
{
	unsigned short len;

	sandbox_configure(SANDBOX_SECCOMP_OFF, NULL);
	ASSERT_TRUE(sandbox_program("vcpu", &len) == NULL);
	ASSERT_EXIT0(in_child(off_mode_child, "control"));
}

/* A second filter stacked on the first (a worker under the control filter) loads its
 * precompiled program: nothing but prctl and seccomp runs there. */
static void stacked_child(const char *cls)
{
	sandbox_enter("control");
	sandbox_enter(cls);
	sandbox_enter(cls);
	CHECK(getpid() > 0);
}

static void *thread_enters(void *arg)
{
	if (arg)
		sandbox_enter(arg);
	return (void *)(long)getpid();
}

/* pthread_create under the control filter: clone3 answers ENOSYS, clone with CLONE_THREAD
 * passes, the new thread stacks its own filter and can exit and be joined. The process's
 * first pthread_create comes after the filter, as in microvm (glibc then installs its
 * SIGSETXID handler: rt_sigaction). */
static void thread_child(const char *cls)
{
	pthread_t t;
	void *ret;

	sandbox_enter("control");
	CHECK(pthread_create(&t, NULL, thread_enters, (void *)cls) == 0);
	CHECK(pthread_join(t, &ret) == 0);
	CHECK((pid_t)(long)ret == getpid());
	CHECK(pthread_create(&t, NULL, thread_enters, (void *)cls) == 0);
	CHECK(pthread_join(t, NULL) == 0);
}

/* Any other class creating a thread dies (clone3's ENOSYS is the control filter's only),
 * even when glibc's handlers are in place already. */
static void thread_refused_child(const char *cls)
{
	pthread_t t;

	CHECK(pthread_create(&t, NULL, thread_enters, NULL) == 0 && pthread_join(t, NULL) == 0);
	sandbox_enter(cls);
	pthread_create(&t, NULL, thread_enters, NULL);
	_exit(3);
}

/* Any signal handler but glibc's SIGSETXID is refused, on control too. */
static void sigaction_child(const char *cls)
{
	sandbox_enter(cls);
	signal(SIGUSR2, SIG_IGN);
	_exit(3);
}

static void fork_child(const char *cls)
{
	sandbox_enter(cls);
	if (fork() == 0) /* clone without CLONE_THREAD */
		_exit(0);
	_exit(3);
}

static void exec_map_child(const char *cls)
{
	sandbox_enter(cls);
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	_exit(3);
}

TEST(seccomp_cached_stacking_and_threads)
{
	unsigned short len = 0;

	sandbox_configure(SANDBOX_SECCOMP_KILL, NULL);
	for (unsigned int i = 0; sandbox_classes[i]; i++) {
		ASSERT_TRUE(sandbox_program(sandbox_classes[i], &len) != NULL);
		ASSERT_TRUE(len > 4);
	}
	ASSERT_EXIT0(in_child(stacked_child, "rng"));
	ASSERT_EXIT0(in_child(stacked_child, "blk"));
	ASSERT_EXIT0(in_child(thread_child, "rng"));
	ASSERT_EXIT0(in_child(thread_child, "net"));
	ASSERT_EXIT0(in_child(thread_child, "vcpu"));
	ASSERT_EXIT0(in_child(thread_child, "api"));
	for (unsigned int i = 1; sandbox_classes[i]; i++) /* [0] is control */
		ASSERT_SIGSYS(in_child(thread_refused_child, sandbox_classes[i]));
	ASSERT_SIGSYS(in_child(sigaction_child, "control"));
	ASSERT_SIGSYS(in_child(fork_child, "control"));
	ASSERT_SIGSYS(in_child(exec_map_child, "vcpu"));
}

static void kvm_run_child(const char *cls)
{
	sandbox_enter(cls);
	errno = 0;
	CHECK(ioctl(-1, KVM_RUN, 0) < 0 && errno == EBADF);
	CHECK(ioctl(-1, KVM_IRQFD, NULL) < 0 && errno == EBADF);
}

static void tiocsti_child(const char *cls)
{
	char c = 'x';

	sandbox_enter(cls);
	ioctl(-1, TIOCSTI, &c);
	_exit(3);
}

static void tun_child(const char *cls)
{
	sandbox_enter(cls);
	CHECK(ioctl(-1, TUNSETOFFLOAD, 0) < 0 && errno == EBADF);
}

static void kvm_create_vm_child(const char *cls)
{
	sandbox_enter(cls);
	ioctl(-1, KVM_CREATE_VM, 0);
	_exit(3);
}

/* --net tap=NAME: if_nametoindex() asks the kernel on an AF_UNIX socket (SIOCGIFINDEX) while
 * the control thread builds the VM (found by the nested linux-net-mmio case). */
static void ifindex_child(const char *cls)
{
	sandbox_enter(cls);
	CHECK(if_nametoindex("lo") > 0);
}

TEST(seccomp_ioctl_numbers)
{
	sandbox_configure(SANDBOX_SECCOMP_KILL, NULL);
	ASSERT_EXIT0(in_child(kvm_run_child, "vcpu"));
	ASSERT_SIGSYS(in_child(tiocsti_child, "vcpu"));
	ASSERT_SIGSYS(in_child(kvm_create_vm_child, "vcpu"));
	ASSERT_EXIT0(in_child(tun_child, "net"));
	ASSERT_SIGSYS(in_child(kvm_run_child, "net"));
	ASSERT_SIGSYS(in_child(kvm_run_child, "api"));
	ASSERT_SIGSYS(in_child(tiocsti_child, "api"));
	ASSERT_SIGSYS(in_child(tun_child, "rng"));
	ASSERT_EXIT0(in_child(ifindex_child, "control"));
	ASSERT_SIGSYS(in_child(ifindex_child, "net"));
}

/* Syscalls a class must refuse even though another one allows them. */
static void socket_child(const char *cls)
{
	sandbox_enter(cls);
	socket(AF_INET, SOCK_STREAM, 0);
	_exit(3);
}

/* Every class but control answers openat with EACCES (glibc's malloc opens
 * /proc/sys/vm/overcommit_memory the first time it shrinks a thread's arena). */
static void open_child(const char *cls)
{
	int fd;

	sandbox_enter(cls);
	fd = open("/", O_RDONLY | O_CLOEXEC);
	if (strcmp(cls, "control") == 0) {
		CHECK(fd >= 0);
		close(fd);
	} else {
		CHECK(fd < 0 && errno == EACCES);
	}
}

/* What the vCPU thread runs of a device's activate/reset must pass; what only the device's
 * own worker does must not (the vCPU filter no longer includes the device classes). */
static void vcpu_reset_calls_child(const char *cls)
{
	struct itimerspec off = {0};
	int ep, tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);

	CHECK(tfd >= 0);
	sandbox_enter(cls);
	CHECK(timerfd_settime(tfd, 0, &off, NULL) == 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK(ep >= 0);
	close(ep);
	CHECK(syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0) < 0 && errno == EBADF);
}

static void vcpu_pwritev_child(const char *cls)
{
	struct iovec iov = {0};

	sandbox_enter(cls);
	syscall(SYS_pwritev, -1, &iov, 1, 0, 0); /* blk's and scsi's worker only */
	_exit(3);
}

TEST(seccomp_class_differences)
{
	sandbox_configure(SANDBOX_SECCOMP_KILL, NULL);
	ASSERT_SIGSYS(in_child(socket_child, "vsock")); /* AF_UNIX only */
	ASSERT_SIGSYS(in_child(socket_child, "rng"));
	for (unsigned int i = 0; sandbox_classes[i]; i++)
		ASSERT_EXIT0(in_child(open_child, sandbox_classes[i]));
	ASSERT_EXIT0(in_child(vcpu_reset_calls_child, "vcpu"));
	ASSERT_SIGSYS(in_child(vcpu_pwritev_child, "vcpu"));
	ASSERT_SIGSYS(in_child(vcpu_pwritev_child, "api"));
	ASSERT_EXIT0(in_child(vcpu_reset_calls_child, "control"));
}

/* The programs microvm links (generated at build time) are, instruction for instruction,
 * what libseccomp compiles now from the same rules: the build did not go stale. */
TEST(seccomp_generated_matches_libseccomp)
{
	static const struct {
		enum sandbox_mode mode;
		uint32_t action;
	} modes[] = {{SANDBOX_SECCOMP_KILL, SCMP_ACT_KILL_PROCESS},
		     {SANDBOX_SECCOMP_LOG, SCMP_ACT_LOG}};
	struct sock_fprog fresh;
	const void *gen;
	unsigned short len;
	unsigned int n = 0;

	for (unsigned int m = 0; m < ARRAY_SIZE(modes); m++) {
		sandbox_configure(modes[m].mode, NULL);
		for (n = 0; seccomp_thread_classes[n]; n++) {
			ASSERT_STR_EQ(sandbox_classes[n], seccomp_thread_classes[n]);
			gen = sandbox_program(sandbox_classes[n], &len);
			ASSERT_TRUE(gen != NULL);
			ASSERT_OK(seccomp_compile(sandbox_classes[n], modes[m].action, &fresh));
			ASSERT_EQ(len, fresh.len);
			ASSERT_MEM_EQ(gen, fresh.filter, len * sizeof(*fresh.filter));
			free(fresh.filter);
		}
		ASSERT_TRUE(sandbox_classes[n] == NULL);
	}
	ASSERT_ERR(seccomp_compile("bogus", SCMP_ACT_KILL_PROCESS, &fresh), -ENOENT);
}

/* The architecture check is in every program: an x32 syscall (same arch, bit 30 set) kills
 * the process in log mode too, where a forbidden x86_64 call only gets logged. */
static void x32_child(const char *cls)
{
	sandbox_enter(cls);
	syscall(0x40000000 /* __X32_SYSCALL_BIT */ | SYS_getpid);
	_exit(3);
}

TEST(seccomp_x32_killed_in_every_mode)
{
	const struct sock_filter *p;
	unsigned short len;

	sandbox_configure(SANDBOX_SECCOMP_KILL, NULL);
	ASSERT_SIGSYS(in_child(x32_child, "rng"));
	sandbox_configure(SANDBOX_SECCOMP_LOG, NULL);
	for (unsigned int i = 0; sandbox_classes[i]; i++) {
		ASSERT_SIGSYS(in_child(x32_child, sandbox_classes[i]));
		p = sandbox_program(sandbox_classes[i], &len);
		/* first: load seccomp_data.arch, compare with AUDIT_ARCH_X86_64 */
		ASSERT_TRUE(p[0].code == (BPF_LD | BPF_W | BPF_ABS) && p[0].k == 4);
		ASSERT_TRUE(p[1].code == (BPF_JMP | BPF_JEQ | BPF_K) && p[1].k == 0xc000003e);
		ASSERT_EQ(p[len - 1].code, BPF_RET | BPF_K);
	}
}

static void selftest_child(const char *cls)
{
	sandbox_enter(cls);
	_exit(4);
}

TEST(seccomp_selftest_and_unknown_class)
{
	int st;

	sandbox_configure(SANDBOX_SECCOMP_KILL, "blk");
	ASSERT_SIGSYS(in_child(selftest_child, "blk"));
	st = in_child(selftest_child, "rng");
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 4);
	st = in_child(selftest_child, "worker"); /* not a thread class */
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	st = in_child(selftest_child, "bogus");
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	ASSERT_FALSE(sandbox_class_known("worker"));
	ASSERT_TRUE(sandbox_class_known("console"));
}

TEST(seccomp_mode_parse)
{
	enum sandbox_mode m;

	ASSERT_OK(sandbox_mode_parse("kill", &m));
	ASSERT_EQ(m, SANDBOX_SECCOMP_KILL);
	ASSERT_OK(sandbox_mode_parse("log", &m));
	ASSERT_EQ(m, SANDBOX_SECCOMP_LOG);
	ASSERT_OK(sandbox_mode_parse("off", &m));
	ASSERT_EQ(m, SANDBOX_SECCOMP_OFF);
	ASSERT_ERR(sandbox_mode_parse("on", &m), -EINVAL);
	ASSERT_ERR(sandbox_mode_parse("", &m), -EINVAL);
	ASSERT_ERR(sandbox_mode_parse(NULL, &m), -EINVAL);
}

/* One SQE on the drive's ring, reaped here (the engine never sees its CQE): its result. */
static int ring_try(struct io_uring *ring, void (*prep)(struct io_uring_sqe *, void *), void *arg)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int r;

	ASSERT_TRUE(sqe != NULL);
	prep(sqe, arg);
	io_uring_sqe_set_data(sqe, NULL);
	ASSERT_EQ(io_uring_submit_and_wait(ring, 1), 1);
	ASSERT_OK(io_uring_peek_cqe(ring, &cqe));
	r = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return r;
}

static void prep_openat(struct io_uring_sqe *sqe, void *arg)
{
	(void)arg;
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY | O_CLOEXEC, 0);
}

static void prep_nop(struct io_uring_sqe *sqe, void *arg)
{
	(void)arg;
	io_uring_prep_nop(sqe);
}

static void prep_read(struct io_uring_sqe *sqe, void *arg)
{
	struct blk_dev *blk = arg;
	static char buf[512];

	io_uring_prep_read(sqe, blk->fd, buf, sizeof(buf), 0); /* IORING_OP_READ, not READV */
}

static void prep_readv(struct io_uring_sqe *sqe, void *arg)
{
	struct blk_dev *blk = arg;
	static char buf[512];
	static struct iovec iov = {buf, sizeof(buf)};

	io_uring_prep_readv(sqe, blk->fd, &iov, 1, 0);
}

/* blk's ring is restricted to READV, WRITEV and FSYNC and to no further registration: any
 * other SQE (an open of a host file, a plain READ, even a NOP) completes with -EACCES. */
TEST(blk_uring_restricted_opcodes)
{
	struct disk_config cfg = {.engine = DISK_ENGINE_URING};
	struct blk_dev *blk;
	struct bt t;
	int fd = 0;

	bt_open_cfg(&t, FD_MMIO, "/tmp", 64 * SECTOR, &cfg, FD_FEATURES_ALL, true);
	blk = to_blk(t.vdev);
	ASSERT_TRUE(blk->uring);
	ASSERT_EQ(ring_try(&blk->ring, prep_openat, NULL), -EACCES);
	ASSERT_EQ(ring_try(&blk->ring, prep_nop, NULL), -EACCES);
	ASSERT_EQ(ring_try(&blk->ring, prep_read, blk), -EACCES);
	ASSERT_EQ(ring_try(&blk->ring, prep_readv, blk), 512);
	ASSERT_ERR(io_uring_register_files(&blk->ring, &fd, 1), -EACCES);
	/* the engine itself still works */
	ASSERT_EQ(bt_read(&t, 1, SECTOR, NULL, NULL), VIRTIO_BLK_S_OK);
	bt_close(&t);
}

static void caps_child(const char *path)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	char err[128];

	CHECK(sandbox_drop_caps(err, sizeof(err)) == 0);
	CHECK(syscall(SYS_capget, &h, d) == 0);
	for (int i = 0; i < 2; i++)
		CHECK(!d[i].effective && !d[i].permitted && !d[i].inheritable);
	CHECK(prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0) == 0);
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
	CHECK(chown(path, 1234, (gid_t)-1) < 0 && errno == EPERM);
}

/* A thread that drops its capabilities under an inherited filter (microvm's vCPU threads
 * and device workers do) needs nothing the filter refuses. */
static void caps_filtered_child(const char *path)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	char err[128];

	sandbox_configure(SANDBOX_SECCOMP_KILL, NULL);
	sandbox_enter("rng");
	CHECK(sandbox_drop_caps(err, sizeof(err)) == 0);
	CHECK(syscall(SYS_capget, &h, d) == 0 && !d[0].permitted && !d[1].permitted);
	CHECK(prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) == 0);
}

TEST(caps_drop_all)
{
	char path[] = "/tmp/mvcapsXXXXXX";
	int fd = mkstemp(path), st;

	ASSERT_OK(fd);
	close(fd);
	if (geteuid() != 0) {
		unlink(path);
		printf("  (not root: capability drop not checked)\n");
		return;
	}
	st = in_child(caps_child, path);
	ASSERT_EXIT0(st);
	st = in_child(caps_filtered_child, path);
	unlink(path);
	ASSERT_EXIT0(st);
}
