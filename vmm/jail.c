/* SPDX-License-Identifier: MIT */
/* --jail: namespaces, a new root, device nodes, an unprivileged uid/gid. */
#include "vmm/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t jail_child;

static int jail_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int jail_fail(char *err, size_t errlen, const char *fmt, ...)
{
	int r = -errno;
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	n = strlen(err);
	if (n < errlen)
		snprintf(err + n, errlen - n, ": %s", strerror(-r));
	return r ? r : -EIO;
}

static void jail_forward(int sig)
{
	int saved = errno;

	if (jail_child > 0)
		kill(jail_child, sig);
	errno = saved;
}

/* The parent outside the namespaces: pass the stop signals on, then leave with the child. */
static __attribute__((noreturn)) void jail_parent(pid_t child)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	struct sigaction sa = {.sa_handler = jail_forward};
	int status;

	jail_child = child;
	sigemptyset(&sa.sa_mask);
	for (unsigned int i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			_exit(1);
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}

/* path (relative to the jail's root, cwd) as a character device, owned by the jail's ids. */
static int jail_node(const struct jail_config *j, const char *path, unsigned int maj,
		     unsigned int min, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (errno != ENOENT || mknod(path, S_IFCHR | 0660, makedev(maj, min)) < 0)
			return jail_fail(err, errlen, "jail: mknod %s", path);
	} else if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != maj || minor(st.st_rdev) != min) {
		errno = EEXIST;
		return jail_fail(err, errlen, "jail: %s exists and is not device %u:%u", path, maj,
				 min);
	}
	if ((j->set_uid || j->set_gid) &&
	    chown(path, j->set_uid ? j->uid : (uid_t)-1, j->set_gid ? j->gid : (gid_t)-1) < 0)
		return jail_fail(err, errlen, "jail: chown %s", path);
	return 0;
}

static int jail_mkdir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return jail_fail(err, errlen, "jail: mkdir %s", path);
	return 0;
}

/* In the jail's mount namespace, cwd = DIR: the nodes and /proc the VMM needs inside. */
static int jail_populate(const struct jail_config *j, char *err, size_t errlen)
{
	int r;

	if ((r = jail_mkdir("dev", err, errlen)) < 0 ||
	    (r = jail_mkdir("dev/net", err, errlen)) < 0 ||
	    (r = jail_node(j, "dev/kvm", 10, 232, err, errlen)) < 0 ||
	    (r = jail_node(j, "dev/net/tun", 10, 200, err, errlen)) < 0 ||
	    (r = jail_node(j, "dev/urandom", 1, 9, err, errlen)) < 0 ||
	    (r = jail_mkdir("proc", err, errlen)) < 0)
		return r;
	if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return jail_fail(err, errlen, "jail: mount proc");
	return 0;
}

/* cwd = DIR, a mount point: make it /. pivot_root(".", ".") stacks the old root on top of
 * the new one, from where it is detached. A rootfs (initramfs) root cannot be pivoted away
 * from: move DIR over it and chroot, as switch_root does. */
static int jail_pivot(char *err, size_t errlen)
{
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		if (umount2(".", MNT_DETACH) < 0)
			return jail_fail(err, errlen, "jail: detach the old root");
	} else if (errno != EINVAL || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0) {
		return jail_fail(err, errlen, "jail: pivot_root");
	}
	if (chdir("/") < 0)
		return jail_fail(err, errlen, "jail: chdir /");
	return 0;
}

static int jail_ids(const struct jail_config *j, char *err, size_t errlen)
{
	if (!j->set_uid && !j->set_gid)
		return 0;
	if (setgroups(0, NULL) < 0)
		return jail_fail(err, errlen, "jail: setgroups");
	if (j->set_gid && setresgid(j->gid, j->gid, j->gid) < 0)
		return jail_fail(err, errlen, "jail: setgid %u", (unsigned int)j->gid);
	if (j->set_uid && setresuid(j->uid, j->uid, j->uid) < 0)
		return jail_fail(err, errlen, "jail: setuid %u", (unsigned int)j->uid);
	return 0;
}

/* The child: PID 1 of the new namespace, still in the parent's root. */
static int jail_child_setup(const struct jail_config *j, char *err, size_t errlen)
{
	sigset_t stop;
	int r;

	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	/* nothing of ours propagates back to the host's mounts */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return jail_fail(err, errlen, "jail: make / private");
	if (mount(j->dir, j->dir, NULL, MS_BIND | MS_REC, NULL) < 0)
		return jail_fail(err, errlen, "jail: bind %s", j->dir);
	if (chdir(j->dir) < 0)
		return jail_fail(err, errlen, "jail: chdir %s", j->dir);
	r = jail_populate(j, err, errlen);
	if (!r)
		r = jail_pivot(err, errlen);
	if (!r)
		r = jail_ids(j, err, errlen);
	return r;
}

int jail_enter(const struct jail_config *j, char *err, size_t errlen)
{
	pid_t pid;

	if (!j->dir || j->dir[0] != '/') {
		errno = EINVAL;
		return jail_fail(err, errlen, "jail: %s is not an absolute path",
				 j->dir ? j->dir : "(none)");
	}
	if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC) < 0)
		return jail_fail(err, errlen, "jail: new namespaces");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return jail_fail(err, errlen, "jail: fork");
	if (pid > 0)
		jail_parent(pid);
	return jail_child_setup(j, err, errlen);
}
