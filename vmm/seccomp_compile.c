/* SPDX-License-Identifier: MIT */
/*
 * A thread class's allow-list (vmm/seccomp_rules.c) compiled into BPF with libseccomp. Runs
 * at build time only, in vmm/seccomp_gen.c (whose output microvm links) and in the unit test
 * that checks that output against a fresh compile: microvm itself never links libseccomp.
 */
#include <errno.h>
#include <linux/filter.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/seccomp_rules.h"

#define SECCOMP_MAX_SET 24

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
		if (c && n < SECCOMP_MAX_SET)
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

int seccomp_compile(const char *thread_class, uint32_t def_action, struct sock_fprog *out)
{
	const struct seccomp_class *set[SECCOMP_MAX_SET], *c = seccomp_class_find(thread_class);
	unsigned int n_set = 1;
	scmp_filter_ctx ctx;
	int r;

	if (!c)
		return -ENOENT;
	/* the filter checks for x86_64 and its syscall numbers: built on anything else, it
	 * would check for the build host's */
	if (seccomp_arch_native() != SCMP_ARCH_X86_64)
		return -EXDEV;
	ctx = seccomp_init(def_action);
	if (!ctx)
		return -ENOMEM;
	/* x32 syscalls and foreign architectures too: the whole process dies, in log mode too */
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
