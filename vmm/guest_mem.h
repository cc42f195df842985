/* SPDX-License-Identifier: MIT */
#ifndef VMM_GUEST_MEM_H
#define VMM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GMEM_MAX_REGIONS 8

/* One contiguous stretch of guest RAM. */
struct gmem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

/*
 * Guest RAM. Built once before any vCPU or device thread starts and read-only afterwards, so
 * every thread may translate addresses without locking.
 */
struct guest_mem {
	struct gmem_region regions[GMEM_MAX_REGIONS];
	unsigned int n_regions;
	uint8_t *map;	   /* the one anonymous mapping gmem_init() made (NULL: none) */
	uint64_t map_size; /* its length */
};

/*
 * Allocate RAM for the given layout (gpa/size of each region; hva ignored) as one anonymous
 * private mapping, 2 MiB aligned, transparent huge pages above its first 2 MiB; regions sit
 * back to back in it. Main thread. Returns 0 or -errno.
 */
int gmem_init(struct guest_mem *gm, const struct gmem_region *layout, unsigned int n);

/*
 * The same; with huge_pages (machine-config "huge_pages": "2M", --huge-pages 2M) the mapping
 * is MAP_HUGETLB | MAP_HUGE_2MB, every page reserved from the host's hugetlbfs pool up front
 * and no transparent-huge-page advice. A pool too small for the RAM (rounded up to 2 MiB) is
 * -ENOMEM, after a log line that says how many pages are missing and names
 * /proc/sys/vm/nr_hugepages.
 */
int gmem_init_ex(struct guest_mem *gm, const struct gmem_region *layout, unsigned int n,
		 bool huge_pages);

/* Start empty (for tests and fuzzers that register their own buffers). */
void gmem_init_empty(struct guest_mem *gm);

/* Register caller-owned memory as guest RAM. -EINVAL on overlap, -ENOSPC when full. */
int gmem_add_region(struct guest_mem *gm, uint64_t gpa, void *hva, uint64_t size);

void gmem_destroy(struct guest_mem *gm);

/*
 * The only guest-physical to host-virtual translation: a host pointer iff [gpa, gpa + len) lies
 * inside one RAM region, else NULL. len 0 is allowed (a valid gpa is still required). Any thread.
 */
void *gmem_range(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy out of / into guest RAM; -EFAULT unless the whole range is RAM. */
int gmem_read(const struct guest_mem *gm, uint64_t gpa, void *dst, size_t len);
int gmem_write(const struct guest_mem *gm, uint64_t gpa, const void *src, size_t len);

/* Total RAM in bytes. */
uint64_t gmem_total(const struct guest_mem *gm);

#endif /* VMM_GUEST_MEM_H */
