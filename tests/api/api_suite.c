/* SPDX-License-Identifier: MIT */
/*
 * The API robustness suite against the real binary.
 *
 *   api_suite [--microvm PATH] [--vmm-arg ARG]...
 *       pre-boot: every endpoint, bad inputs, protocol abuse, soak (no KVM needed)
 *   api_suite --running --kernel PATH [--initrd PATH] [--cmdline STR] [--microvm PATH]
 *       boots a guest through the API and covers the runtime endpoints (KVM needed)
 *
 * PATH defaults to ./microvm; each --vmm-arg is added to its command line (e.g.
 * --vmm-arg=--seccomp=log to find a filter's gaps). The whole run is bounded by a watchdog
 * (API_SUITE_TIMEOUT seconds, default 120); microvm dies with the suite. API_SUITE_KEEP=1 keeps the
 * temporary directory (socket, files, microvm.log).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/api/suite.h"

static struct vmm vmm;

static void on_alarm(int sig)
{
	static const char msg[] = "FAIL api_suite: watchdog expired\n";

	(void)sig;
	if (write(1, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do */
	}
	if (vmm.pid > 0)
		kill(vmm.pid, SIGKILL);
	_exit(2);
}

static void usage(void)
{
	fprintf(stderr, "usage: api_suite [--microvm PATH] [--vmm-arg ARG]...\n"
			"       api_suite --running --kernel PATH [--initrd PATH] [--cmdline STR] "
			"[--microvm PATH] [--vmm-arg ARG]...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"microvm", required_argument, NULL, 'm'},
					     {"running", no_argument, NULL, 'r'},
					     {"kernel", required_argument, NULL, 'k'},
					     {"initrd", required_argument, NULL, 'i'},
					     {"cmdline", required_argument, NULL, 'c'},
					     {"vmm-arg", required_argument, NULL, 'a'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *bin = "./microvm", *kernel = NULL, *initrd = NULL;
	const char *cmdline = "console=ttyS0 reboot=k panic=1";
	const char *t = getenv("API_SUITE_TIMEOUT");
	const char *vmm_args[16] = {NULL};
	unsigned int n_vmm_args = 0;
	bool running = false;
	int c, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			bin = optarg;
			break;
		case 'r':
			running = true;
			break;
		case 'k':
			kernel = optarg;
			break;
		case 'i':
			initrd = optarg;
			break;
		case 'c':
			cmdline = optarg;
			break;
		case 'a':
			if (n_vmm_args + 1 >= sizeof(vmm_args) / sizeof(vmm_args[0]))
				usage();
			vmm_args[n_vmm_args++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (running && !kernel))
		usage();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(t ? (unsigned int)atoi(t) : 120);

	err = vmm_start(&vmm, bin, vmm_args);
	if (!check_why(err == 0, strerror(-err), "%s --api-sock starts and answers GET /", bin)) {
		if (vmm.exited && WIFSIGNALED(vmm.status))
			printf("  microvm was killed by signal %d%s\n", WTERMSIG(vmm.status),
			       WTERMSIG(vmm.status) == SIGSYS ? " (SIGSYS: a seccomp filter)" : "");
		else if (vmm.exited)
			printf("  microvm exited with status %d\n", WEXITSTATUS(vmm.status));
		vmm_log_tail(&vmm, 20);
		vmm_stop(&vmm);
		check_summary();
		return 1;
	}
	if (running) {
		suite_running(&vmm, bin, vmm_args, kernel, initrd, cmdline);
	} else {
		suite_endpoints(&vmm);
		suite_protocol(&vmm);
		suite_soak(&vmm);
		check(vmm_alive(&vmm), "microvm is still alive at the end");
	}
	if (!running) {
		kill(vmm.pid, SIGTERM);
		check(vmm_wait_exit(&vmm, 2000), "SIGTERM ends microvm within 2 s");
	}
	if (check_failures())
		vmm_log_tail(&vmm, 30);
	vmm_stop(&vmm);
	return check_summary();
}
