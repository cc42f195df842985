/* SPDX-License-Identifier: MIT */
/*
 * Seccomp filters per thread class. sandbox_configure() compiles every class once with
 * libseccomp and keeps the BPF; sandbox_enter() only loads it (no_new_privs + seccomp(2)), so
 * a thread that starts under the control filter (vCPUs, device workers, the API server) pays
 * two syscalls and needs nothing of libseccomp's (which allocates and writes to an fd).
 */
#include "vmm/sandbox.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/seccomp_rules.h"
#include "vmm/util.h"

#define SANDBOX_MAX_CLASSES 24

struct sandbox_prog {
	const char *name;
	struct sock_fprog prog;
};

static enum sandbox_mode sandbox_mode = SANDBOX_SECCOMP_KILL;
static const char *sandbox_selftest;
static bool sandbox_configured;
static struct sandbox_prog sandbox_progs[SANDBOX_MAX_CLASSES];

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

int sandbox_class_known(const char *thread_class)
{
	for (unsigned int i = 0; thread_class && sandbox_classes[i]; i++)
		if (strcmp(sandbox_classes[i], thread_class) == 0)
			return 1;
	return 0;
}

/* The classes whose lists make up `root`'s filter: itself and its includes, transitively. */
static unsigned int seccomp_closure(const struct seccomp_class *root,
				    const struct seccomp_class **out, unsigned int n)
{
	const struct seccomp_class *c;

	for (unsigned int i = 0; i < n; i++)
		if (out[i] == root)
			return n;
	out[n++] = root;
	for (unsigned int i = 0; root->includes && root->includes[i]; i++) {
		c = seccomp_class_find(root->includes[i]);
		if (c && n < SANDBOX_MAX_CLASSES)
			n = seccomp_closure(c, out, n);
	}
	return n;
}

static bool seccomp_listed(const struct seccomp_class *const *set, unsigned int n, const char *sc)
{
	for (unsigned int i = 0; i < n; i++)
		for (unsigned int k = 0; set[i]->syscalls[k]; k++)
			if (strcmp(set[i]->syscalls[k], sc) == 0)
				return true;
	return false;
}

/* libseccomp says -EEXIST for a rule another class of the closure already added. */
static int seccomp_add(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned int n_cmp,
		       const struct scmp_arg_cmp *cmp)
{
	int r = seccomp_rule_add_array(ctx, action, nr, n_cmp, cmp);

	return r == -EEXIST ? 0 : r;
}

static int seccomp_add_class(scmp_filter_ctx ctx, const struct seccomp_class *c,
			     const struct seccomp_class *const *set, unsigned int n_set)
{
	int nr, r;

	for (unsigned int i = 0; c->syscalls[i]; i++) {
		nr = seccomp_syscall_resolve_name(c->syscalls[i]);
		if (nr == __NR_SCMP_ERROR)
			return -ENOSYS;
		r = seccomp_add(ctx, SCMP_ACT_ALLOW, nr, 0, NULL);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < c->n_args; i++) {
		const struct seccomp_arg_rule *a = &c->args[i];
		struct scmp_arg_cmp cmp = {
			.arg = (unsigned int)a->arg,
			.op = a->op,
			.datum_a = a->op == SCMP_CMP_MASKED_EQ ? a->mask : a->value,
			.datum_b = a->op == SCMP_CMP_MASKED_EQ ? a->value : 0,
		};

		/* an errno answer only where no class of this filter allows the call */
		if (a->errno_val && seccomp_listed(set, n_set, a->syscall))
			continue;
		nr = seccomp_syscall_resolve_name(a->syscall);
		if (nr == __NR_SCMP_ERROR)
			return -ENOSYS;
		r = seccomp_add(
			ctx, a->errno_val ? SCMP_ACT_ERRNO((uint32_t)a->errno_val) : SCMP_ACT_ALLOW,
			nr, a->arg < 0 ? 0 : 1, &cmp);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < c->n_ioctls; i++) {
		struct scmp_arg_cmp cmp = SCMP_A1_64(SCMP_CMP_EQ, (uint64_t)c->ioctls[i]);

		r = seccomp_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, &cmp);
		if (r < 0)
			return r;
	}
	return 0;
}

/* libseccomp 2.5 only exports to an fd: a memfd, read back into a heap copy. */
static int seccomp_export(scmp_filter_ctx ctx, struct sock_fprog *out)
{
	struct sock_filter *insns;
	off_t size;
	int fd, r;

	fd = memfd_create("seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		goto out;
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % (off_t)sizeof(*insns) ||
	    size / (off_t)sizeof(*insns) > BPF_MAXINSNS) {
		r = -E2BIG;
		goto out;
	}
	insns = malloc((size_t)size);
	if (!insns) {
		r = -ENOMEM;
		goto out;
	}
	if (pread(fd, insns, (size_t)size, 0) != size) {
		free(insns);
		r = -EIO;
		goto out;
	}
	out->filter = insns;
	out->len = (unsigned short)(size / (off_t)sizeof(*insns));
	r = 0;
out:
	close(fd);
	return r;
}

static int seccomp_build(const struct seccomp_class *c, enum sandbox_mode mode,
			 struct sock_fprog *out)
{
	const struct seccomp_class *set[SANDBOX_MAX_CLASSES];
	unsigned int n_set = 1;
	scmp_filter_ctx ctx;
	uint32_t def = mode == SANDBOX_SECCOMP_LOG ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS;
	int r;

	ctx = seccomp_init(def);
	if (!ctx)
		return -ENOMEM;
	/* x32 syscalls and foreign architectures too: the whole process dies */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* a binary tree instead of a linear list: a worker's hot syscalls stay cheap */
	if (!r)
		seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	set[0] = &seccomp_base;
	n_set = seccomp_closure(c, set, n_set);
	for (unsigned int i = 0; i < n_set && !r; i++)
		r = seccomp_add_class(ctx, set[i], set, n_set);
	if (!r)
		r = seccomp_export(ctx, out);
	seccomp_release(ctx);
	return r;
}

static void sandbox_free_progs(void)
{
	for (unsigned int i = 0; i < SANDBOX_MAX_CLASSES; i++) {
		free(sandbox_progs[i].prog.filter);
		sandbox_progs[i] = (struct sandbox_prog){0};
	}
}

void sandbox_configure(enum sandbox_mode mode, const char *selftest_class)
{
	int r;

	sandbox_free_progs();
	sandbox_mode = mode;
	sandbox_selftest = selftest_class;
	sandbox_configured = true;
	if (mode == SANDBOX_SECCOMP_OFF)
		return;
	for (unsigned int i = 0; sandbox_classes[i]; i++) {
		r = seccomp_build(seccomp_class_find(sandbox_classes[i]), mode,
				  &sandbox_progs[i].prog);
		if (r < 0) {
			log_err("seccomp: cannot build the %s filter: %s", sandbox_classes[i],
				strerror(-r));
			exit(1);
		}
		sandbox_progs[i].name = sandbox_classes[i];
	}
}

const void *sandbox_program(const char *thread_class, unsigned short *len)
{
	for (unsigned int i = 0; thread_class && i < SANDBOX_MAX_CLASSES; i++)
		if (sandbox_progs[i].name && strcmp(sandbox_progs[i].name, thread_class) == 0) {
			*len = sandbox_progs[i].prog.len;
			return sandbox_progs[i].prog.filter;
		}
	return NULL;
}

void sandbox_enter(const char *thread_class)
{
	const struct sock_fprog *prog = NULL;

	if (!sandbox_configured || !sandbox_class_known(thread_class)) {
		log_err("seccomp: %s thread class %s",
			sandbox_configured ? "unknown" : "unconfigured",
			thread_class ? thread_class : "(null)");
		_exit(1);
	}
	if (sandbox_mode == SANDBOX_SECCOMP_OFF)
		return;
	for (unsigned int i = 0; i < SANDBOX_MAX_CLASSES && !prog; i++)
		if (sandbox_progs[i].name && strcmp(sandbox_progs[i].name, thread_class) == 0)
			prog = &sandbox_progs[i].prog;
	/* no_new_privs: required to load a filter without CAP_SYS_ADMIN, and wanted anyway */
	if (!prog || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) < 0) {
		log_err("seccomp: cannot load the %s filter: %s", thread_class,
			prog ? strerror(errno) : "not built");
		_exit(1);
	}
	/* The proof that the filter is live: a call no class allows. */
	if (sandbox_selftest && strcmp(sandbox_selftest, thread_class) == 0) {
		log_info("seccomp: selftest on the %s thread: forbidden syscall", thread_class);
		syscall(SYS_getppid);
	}
}
