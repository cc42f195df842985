/* SPDX-License-Identifier: MIT */
#ifndef VMM_BUS_H
#define VMM_BUS_H

#include <stdbool.h>
#include <stdint.h>

#define BUS_MAX_RANGES 64

/* Handlers run on a vCPU thread; off is relative to the range base; len is 1, 2, 4 or 8. */
typedef void (*bus_read_fn)(void *opaque, uint64_t off, void *data, uint32_t len);
typedef void (*bus_write_fn)(void *opaque, uint64_t off, const void *data, uint32_t len);

struct bus_range {
	uint64_t base, len;
	bus_read_fn read;
	bus_write_fn write;
	void *opaque;
	const char *name;
};

/* An address space of device ranges (one for port I/O, one for MMIO), sorted by base. Filled
 * before the vCPUs start and read-only afterwards, so dispatch takes no lock. */
struct bus {
	struct bus_range ranges[BUS_MAX_RANGES];
	unsigned int n;
};

/* Main thread, before vCPUs run. -EEXIST on overlap, -ENOSPC when full, -EINVAL for len 0. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, bus_read_fn read, bus_write_fn write,
		 void *opaque, const char *name);

/*
 * Route one guest access. Returns false when no range covers [addr, addr + len); then reads
 * must see all ones (the caller fills data) and writes are dropped. vCPU threads.
 */
bool bus_dispatch(const struct bus *bus, uint64_t addr, void *data, uint32_t len, bool is_write);

#endif /* VMM_BUS_H */
