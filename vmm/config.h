/* SPDX-License-Identifier: MIT */
#ifndef VMM_CONFIG_H
#define VMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define VM_MAX_DISKS 16

enum console_kind { CONSOLE_SERIAL, CONSOLE_VIRTIO };

struct disk_config {
	const char *path;
	bool read_only;
};

/* What to build: filled by the CLI (later also the API and a config file), then validated. */
struct vm_config {
	const char *kernel;
	const char *initrd;  /* NULL: none */
	const char *cmdline; /* NULL: a default that suits the console */
	unsigned int cpus;
	uint64_t mem_size;
	struct disk_config disks[VM_MAX_DISKS];
	unsigned int n_disks;
	bool rng;
	enum console_kind console;
};

#endif /* VMM_CONFIG_H */
