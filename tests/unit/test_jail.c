/* SPDX-License-Identifier: MIT */
/* --jail in a forked child: namespaces, the new root, device nodes, ids, exit status. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"
#include "vmm/jail.h"
#include "vmm/sandbox.h"

#define NOBODY 65534

struct jail_fixture {
	char dir[64];
	int ready[2]; /* the jailed child writes one byte once it waits */
};

static void fixture_init(struct jail_fixture *f)
{
	char path[PATH_MAX];
	int fd;

	snprintf(f->dir, sizeof(f->dir), "/tmp/mvjailXXXXXX");
	ASSERT_TRUE(mkdtemp(f->dir) != NULL);
	ASSERT_OK(chmod(f->dir, 0755)); /* the jail's root: searchable by its uid */
	snprintf(path, sizeof(path), "%s/marker", f->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	ASSERT_OK(fd);
	close(fd);
	ASSERT_OK(pipe(f->ready));
}

static void fixture_free(struct jail_fixture *f)
{
	static const char *const files[] = {"marker", "dev/kvm", "dev/net/tun", "dev/urandom"};
	static const char *const dirs[] = {"dev/net", "dev", "proc", ""};
	char path[PATH_MAX];

	for (unsigned int i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
		unlink(path);
	}
	for (unsigned int i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, dirs[i]);
		rmdir(path);
	}
	close(f->ready[0]);
	close(f->ready[1]);
}

/* Fork the jail's parent; body runs in the jailed child. Returns the parent's wait status. */
static pid_t jail_start(struct jail_fixture *f, void (*body)(struct jail_fixture *))
{
	struct jail_config j = {
		.dir = f->dir, .uid = NOBODY, .gid = NOBODY, .set_uid = true, .set_gid = true};
	char err[256];
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (jail_enter(&j, err, sizeof(err)) < 0) {
			fprintf(stderr, "  %s\n", err);
			_exit(90);
		}
		body(f);
		_exit(0);
	}
	return pid;
}

static int jail_wait(pid_t pid)
{
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

static bool is_node(const char *path, unsigned int maj, unsigned int min)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == maj &&
	       minor(st.st_rdev) == min && st.st_uid == NOBODY && st.st_gid == NOBODY;
}

/* Exit codes name the first failed check. */
static void body_checks(struct jail_fixture *f)
{
	char buf[PATH_MAX];
	ssize_t n;

	if (getpid() != 1)
		_exit(10);
	if (getuid() != NOBODY || geteuid() != NOBODY || getgid() != NOBODY ||
	    getgroups(0, NULL) != 0)
		_exit(11);
	if (!getcwd(buf, sizeof(buf)) || strcmp(buf, "/") != 0)
		_exit(12);
	if (access("/marker", F_OK) != 0)
		_exit(13);
	if (access(f->dir, F_OK) == 0 || access("/etc", F_OK) == 0) /* the host's tree is gone */
		_exit(14);
	if (!is_node("/dev/kvm", 10, 232) || !is_node("/dev/net/tun", 10, 200) ||
	    !is_node("/dev/urandom", 1, 9))
		_exit(15);
	n = readlink("/proc/self", buf, sizeof(buf) - 1); /* this PID namespace's /proc */
	if (n != 1 || buf[0] != '1')
		_exit(16);
	_exit(42);
}

TEST(jail_root_ids_nodes)
{
	struct jail_fixture f;
	int st;

	if (geteuid() != 0) {
		printf("  (not root: jail not checked)\n");
		return;
	}
	fixture_init(&f);
	st = jail_wait(jail_start(&f, body_checks));
	fixture_free(&f);
	/* 42: every check passed, and the parent exits with the child's status */
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 42)
		TEST_FAIL_("jail status 0x%x, want exit 42", st);
}

/* A stop signal sent to the parent outside reaches the child (blocked: it stays pending for
 * microvm's signalfd, as an init it would otherwise be ignored). */
static void body_wait_term(struct jail_fixture *f)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	if (write(f->ready[1], "r", 1) != 1)
		_exit(20);
	if (sigwait(&set, &sig) != 0 || sig != SIGTERM)
		_exit(21);
	_exit(77);
}

/* Killed by a signal (seccomp's SIGSYS, which even a PID 1 gets): the parent says 128+31. */
static void body_sigsys(struct jail_fixture *f)
{
	sandbox_configure(SANDBOX_SECCOMP_KILL, NULL);
	sandbox_enter("rng");
	syscall(SYS_getppid);
	_exit(22);
}

TEST(jail_signals_and_status)
{
	struct jail_fixture f;
	pid_t pid;
	char c;
	int st;

	if (geteuid() != 0) {
		printf("  (not root: jail not checked)\n");
		return;
	}
	fixture_init(&f);
	pid = jail_start(&f, body_wait_term);
	ASSERT_EQ(read(f.ready[0], &c, 1), 1);
	ASSERT_OK(kill(pid, SIGTERM));
	st = jail_wait(pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 77)
		TEST_FAIL_("SIGTERM: jail status 0x%x, want exit 77", st);
	st = jail_wait(jail_start(&f, body_sigsys));
	fixture_free(&f);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 128 + SIGSYS)
		TEST_FAIL_("SIGSYS: jail status 0x%x, want exit 159", st);
}

TEST(jail_refuses_relative_dir)
{
	struct jail_config j = {.dir = "relative"};
	char err[128];

	ASSERT_ERR(jail_enter(&j, err, sizeof(err)), -EINVAL);
	ASSERT_TRUE(strstr(err, "absolute") != NULL);
}
