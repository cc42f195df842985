/* SPDX-License-Identifier: MIT */
/* microvm: parse the command line, build the VM, run it, exit with its status. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/arch.h"
#include "vmm/cli.h"
#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/term.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

static void main_set_log_level(void)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	const char *env = getenv("MICROVM_LOG");

	for (unsigned int i = 0; env && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(env, names[i]) == 0)
			log_max_level = (enum log_level)i;
}

/* Fail early, before any KVM work, on files that cannot be opened as asked. */
static int main_check_file(const char *what, const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd < 0) {
		log_err("%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

static int main_check_files(const struct vm_config *cfg)
{
	char err[256];

	if (arch_check_kernel(cfg->kernel, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -1;
	}
	if (cfg->initrd && main_check_file("initrd", cfg->initrd, O_RDONLY) < 0)
		return -1;
	for (unsigned int i = 0; i < cfg->n_disks; i++) {
		const struct disk_config *d = &cfg->disks[i];

		if (main_check_file("disk", d->path, d->read_only ? O_RDONLY : O_RDWR) < 0)
			return -1;
	}
	return 0;
}

/* Signals are handled through a signalfd on the main thread; block them before any thread
 * exists so that every thread inherits the mask. */
static void main_block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	char err[256];
	struct vm vm;
	int r, status;

	main_set_log_level();
	r = cli_parse(argc, argv, &cfg, err, sizeof(err));
	if (r < 0) {
		log_err("%s", err);
		return 1;
	}
	if (r == CLI_HELP) {
		fputs(cli_usage, stdout);
		return 0;
	}
	if (r == CLI_VERSION) {
		printf("microvm %s\n", MICROVM_VERSION);
		return 0;
	}
	if (main_check_files(&cfg) < 0)
		return 1;

	main_block_signals();
	if (vcpu_init_kick_signal() < 0) {
		log_err("cannot install the vCPU kick signal: %s", strerror(errno));
		return 1;
	}
	r = vm_create(&vm, &cfg, err, sizeof(err));
	if (r < 0) {
		log_err("%s", err);
		vm_destroy(&vm);
		return 1;
	}
	term_raw_enable(STDIN_FILENO);
	status = vm_run(&vm);
	vm_destroy(&vm);
	return status;
}
