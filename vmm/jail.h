/* SPDX-License-Identifier: MIT */
#ifndef VMM_JAIL_H
#define VMM_JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* --jail DIR [--uid N] [--gid N] */
struct jail_config {
	const char *dir;
	uid_t uid;
	gid_t gid;
	bool set_uid, set_gid;
};

/*
 * Called by main() right after the command line is parsed, single-threaded, before any file
 * is opened. New mount, PID and IPC namespaces; pivot_root into DIR (bind-mounted onto
 * itself, old root detached; on a rootfs root, which pivot_root refuses, DIR is moved onto
 * / and chrooted into instead); DIR/dev/kvm (10:232), DIR/dev/net/tun (10:200) and
 * DIR/dev/urandom (1:9) created if missing and owned by uid/gid; a fresh /proc (this PID
 * namespace's) on DIR/proc; then setgroups/setgid/setuid. Every path the VMM opens afterwards
 * is relative to DIR. DIR's file system must allow device nodes (not mounted nodev).
 *
 * The PID namespace needs a fork: the parent stays outside, forwards SIGTERM/SIGINT/SIGHUP
 * to the child and exits with the child's status (or 128+signal). The child, PID 1 of its
 * namespace, starts with those three signals blocked (an init ignores signals it has no
 * handler for; blocked ones stay pending for main's signalfd). Returns 0 in the child, never
 * returns in the parent; -errno with a message in err on failure (in the child, after the
 * fork: the caller exits with status 1 and the parent with it).
 */
int jail_enter(const struct jail_config *j, char *err, size_t errlen);

#endif /* VMM_JAIL_H */
