/* SPDX-License-Identifier: MIT */
#include "vmm/main_opts.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char main_opts_usage[] =
	"\n"
	"Configuration sources and sandbox:\n"
	"  --api-sock PATH        serve the REST API (Firecracker-compatible JSON over HTTP)\n"
	"                         on a UNIX socket at PATH (must not exist); without --kernel\n"
	"                         or --config the VM waits for PUT /actions InstanceStart\n"
	"  --config FILE          boot the VM described by FILE (the JSON layout of\n"
	"                         GET /vm/config; Firecracker's --config-file layout)\n"
	"  --id ID                instance id reported by GET / (default microvm)\n"
	"  --seccomp kill|log|off seccomp filters per thread: kill on a forbidden system call\n"
	"                         (default), only log it, or no filters\n"
	"  --jail DIR             run in new mount, PID and IPC namespaces with DIR as the\n"
	"                         root (pivot_root); every path is then inside DIR\n"
	"  --uid N, --gid N       the user and group to run as inside the jail\n";

/* "--name VALUE" or "--name=VALUE" at argv[*i]: 1 with *val set, 0 if not this option,
 * -EINVAL when the value is missing. */
static int main_opt_value(int argc, char **argv, int *i, const char *name, const char **val)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -EINVAL;
	*val = argv[++*i];
	return 1;
}

static int main_opt_id(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > 0xfffffffeUL)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/* One process option at argv[*i]: 1 taken, 0 not ours, -EINVAL (message in err). */
static int main_opt_one(int argc, char **argv, int *i, struct main_opts *o, char *err,
			size_t errlen)
{
	static const char *const names[] = {"--api-sock",	  "--config", "--id",  "--seccomp",
					    "--seccomp-selftest", "--jail",   "--uid", "--gid"};
	const char *v = NULL;
	unsigned int k, num;
	int r = 0;

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		r = main_opt_value(argc, argv, i, names[k], &v);
		if (r != 0)
			break;
	}
	if (r == 0)
		return 0;
	if (r < 0 || !*v) {
		snprintf(err, errlen, "%s needs a value", names[k]);
		return -EINVAL;
	}
	switch (k) {
	case 0:
		o->api_sock = v;
		break;
	case 1:
		o->config_file = v;
		break;
	case 2:
		o->id = v;
		break;
	case 3:
		if (sandbox_mode_parse(v, &o->seccomp) < 0) {
			snprintf(err, errlen, "--seccomp takes kill, log or off, not '%s'", v);
			return -EINVAL;
		}
		break;
	case 4:
		if (!sandbox_class_known(v)) {
			snprintf(err, errlen, "--seccomp-selftest: unknown thread class '%s'", v);
			return -EINVAL;
		}
		o->seccomp_selftest = v;
		break;
	case 5:
		o->jail.dir = v;
		break;
	default:
		if (main_opt_id(v, &num) < 0) {
			snprintf(err, errlen, "%s takes a number, not '%s'", names[k], v);
			return -EINVAL;
		}
		if (k == 6) {
			o->jail.uid = num;
			o->jail.set_uid = true;
		} else {
			o->jail.gid = num;
			o->jail.set_gid = true;
		}
	}
	return 1;
}

int main_opts_parse(int *argc, char **argv, struct main_opts *o, char *err, size_t errlen)
{
	int out = 1;

	memset(o, 0, sizeof(*o));
	o->seccomp = SANDBOX_SECCOMP_KILL;
	for (int i = 1; i < *argc; i++) {
		int r;

		/* After "--" everything is the VM's (cli.c's getopt stops there too). */
		if (strcmp(argv[i], "--") == 0) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		r = main_opt_one(*argc, argv, &i, o, err, errlen);
		if (r < 0)
			return r;
		if (r == 0)
			argv[out++] = argv[i];
	}
	if ((o->jail.set_uid || o->jail.set_gid) && !o->jail.dir) {
		snprintf(err, errlen, "--uid and --gid go with --jail");
		return -EINVAL;
	}
	argv[out] = NULL;
	*argc = out;
	return 0;
}
