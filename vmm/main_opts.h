/* SPDX-License-Identifier: MIT */
#ifndef VMM_MAIN_OPTS_H
#define VMM_MAIN_OPTS_H

#include <stddef.h>

#include "vmm/jail.h"
#include "vmm/sandbox.h"

/*
 * The process's own options, as opposed to the VM's (vmm/cli.c): where the configuration
 * comes from (--api-sock, --config), the instance id, and the sandbox (--seccomp, --jail,
 * --uid, --gid). They may appear anywhere on the command line.
 */
struct main_opts {
	const char *api_sock;	 /* --api-sock PATH: serve the REST API there */
	const char *config_file; /* --config FILE: the VM in the config-file JSON layout */
	const char *id;		 /* --id ID: GET /'s "id" */
	enum sandbox_mode seccomp;
	const char *seccomp_selftest; /* hidden: --seccomp-selftest=CLASS (tests) */
	struct jail_config jail;
};

extern const char main_opts_usage[];

/* Take the process options out of argv (argc/argv keep the rest, argv[0] first) into *o.
 * 0, or -EINVAL with a message. */
int main_opts_parse(int *argc, char **argv, struct main_opts *o, char *err, size_t errlen);

#endif /* VMM_MAIN_OPTS_H */
