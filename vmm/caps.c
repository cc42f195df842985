/* SPDX-License-Identifier: MIT */
/* Dropping every capability once set-up is done (/dev/kvm, taps, backing files are open). */
#include <cap-ng.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "vmm/sandbox.h"

/*
 * Capabilities are per thread, so each thread may call this under the filter it inherited:
 * it makes only calls every filter allows (prctl bounding/ambient/no_new_privs, capget,
 * capset). libcap-ng's capng_apply() of the bounding and ambient sets reads
 * /proc/<tid>/status, which no filter allows: those two sets are cleared here with prctl,
 * libcap-ng clears the effective, permitted and inheritable sets.
 */
int sandbox_drop_caps(char *err, size_t errlen)
{
	int r;

	/* Bounding set first: shrinking it needs CAP_SETPCAP, still effective here. Without it
	 * (a user namespace that did not grant it) it stays: with empty permitted sets and
	 * no_new_privs nothing can be regained from it. */
	for (unsigned long c = 0; c <= 63; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno == EINVAL)
			break; /* past the kernel's last capability */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		r = -errno;
		snprintf(err, errlen, "cannot clear the ambient capabilities: %s", strerror(errno));
		return r;
	}
	capng_clear(CAPNG_SELECT_CAPS);
	if (capng_apply(CAPNG_SELECT_CAPS) < 0) {
		snprintf(err, errlen, "cannot drop capabilities (libcap-ng capng_apply failed)");
		return -EPERM;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
		return r;
	}
	return 0;
}
