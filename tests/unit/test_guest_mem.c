/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <stdbool.h>

#include "tests/harness.h"
#include "vmm/bus.h"
#include "vmm/guest_mem.h"

TEST(gmem_range_bounds)
{
	static uint8_t lo[4096], hi[4096];
	struct guest_mem gm;

	gmem_init_empty(&gm);
	ASSERT_OK(gmem_add_region(&gm, 0, lo, sizeof(lo)));
	ASSERT_OK(gmem_add_region(&gm, 0x10000, hi, sizeof(hi)));
	ASSERT_ERR(gmem_add_region(&gm, 0x800, hi, 16), -EINVAL);
	ASSERT_ERR(gmem_add_region(&gm, UINT64_MAX - 4, hi, 16), -EINVAL);
	ASSERT_TRUE(gmem_range(&gm, 0, 4096) == lo);
	ASSERT_TRUE(gmem_range(&gm, 4095, 1) == lo + 4095);
	ASSERT_TRUE(gmem_range(&gm, 4096, 0) == NULL);
	ASSERT_TRUE(gmem_range(&gm, 4095, 2) == NULL);
	ASSERT_TRUE(gmem_range(&gm, 0x10000 + 100, 200) == hi + 100);
	ASSERT_TRUE(gmem_range(&gm, UINT64_MAX, 2) == NULL);
	ASSERT_TRUE(gmem_range(&gm, 16, UINT64_MAX) == NULL);
	ASSERT_TRUE(gmem_range(&gm, 0x10000 + 4000, 0xffffffffffff0000ULL) == NULL);
}

TEST(gmem_memfd_layout)
{
	struct gmem_region layout[2] = {{0, 1 << 20, NULL}, {1ULL << 32, 1 << 20, NULL}};
	struct guest_mem gm;
	uint32_t v = 0xdeadbeef, w = 0;

	ASSERT_OK(gmem_init(&gm, layout, 2));
	ASSERT_EQ(gmem_total(&gm), 2 << 20);
	ASSERT_OK(gmem_write(&gm, (1ULL << 32) + 8, &v, 4));
	ASSERT_OK(gmem_read(&gm, (1ULL << 32) + 8, &w, 4));
	ASSERT_EQ(w, v);
	ASSERT_ERR(gmem_read(&gm, (1 << 20) - 2, &w, 4), -EFAULT);
	gmem_destroy(&gm);
}

/* A number in a procfs/sysfs file; -1 when unreadable. */
static long read_count(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int write_count(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	int r;

	if (!f)
		return -1;
	r = fprintf(f, "%ld\n", v) < 0 ? -1 : 0;
	if (fclose(f) != 0)
		r = -1;
	return r;
}

/* The KernelPageSize of the mapping that holds p, in kB (from /proc/self/smaps). */
static long page_kb(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	unsigned long lo, hi;
	long kb = -1;
	bool in = false;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (in && sscanf(line, "KernelPageSize: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

#define NR_HUGEPAGES "/proc/sys/vm/nr_hugepages"
#define HUGE_FREE    "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
#define HUGE_RESV    "/sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages"

TEST(gmem_huge_pages)
{
	/* 5 MiB: rounded up to 3 huge pages. */
	struct gmem_region layout[2] = {{0, 1 << 20, NULL}, {1ULL << 32, 4 << 20, NULL}};
	long nr = read_count(NR_HUGEPAGES), avail;
	uint32_t v = 0x12345678, w = 0;
	struct guest_mem gm, gm2;
	uint64_t map_size = 0, total = 0;
	bool aligned = false, rw = false;
	int r, r2 = -ENOMEM, restored;
	long kb = -1;

	avail = read_count(HUGE_FREE) - read_count(HUGE_RESV);
	if (nr < 0 || avail < 0) {
		fprintf(stderr, "    (skipped: no 2 MiB hugetlbfs pool on this host)\n");
		return;
	}
	/* A pool short of 3 pages: -ENOMEM up front (the log line names nr_hugepages). */
	if (avail < 3) {
		ASSERT_ERR(gmem_init_ex(&gm, layout, 2, true), -ENOMEM);
		ASSERT_TRUE(gm.map == NULL);
	}
	/* With a pool: raise it by 3 pages for the test, then put it back. */
	if (write_count(NR_HUGEPAGES, nr + 3) < 0) {
		fprintf(stderr, "    (pool part skipped: %s is not writable)\n", NR_HUGEPAGES);
		return;
	}
	/* Checks are collected first and asserted after the pool is put back: a failed
	 * assertion ends the (forked) case at once. */
	if (read_count(HUGE_FREE) - read_count(HUGE_RESV) < 3) {
		write_count(NR_HUGEPAGES, nr);
		fprintf(stderr, "    (pool part skipped: the kernel found no 3 free huge pages)\n");
		return;
	}
	r = gmem_init_ex(&gm, layout, 2, true);
	if (r == 0) {
		map_size = gm.map_size;
		aligned = ((uintptr_t)gm.map & ((2 << 20) - 1)) == 0;
		kb = page_kb(gm.map);
		total = gmem_total(&gm);
		rw = gmem_write(&gm, (1ULL << 32) + (4 << 20) - 4, &v, 4) == 0 &&
		     gmem_read(&gm, (1ULL << 32) + (4 << 20) - 4, &w, 4) == 0 && w == v;
		/* Reserved up front: a second VM of the same size no longer fits. */
		if (read_count(HUGE_FREE) - read_count(HUGE_RESV) < 3)
			r2 = gmem_init_ex(&gm2, layout, 2, true);
		gmem_destroy(&gm);
	}
	restored = write_count(NR_HUGEPAGES, nr);
	ASSERT_OK(r);
	ASSERT_EQ(map_size, 6 << 20);
	ASSERT_TRUE(aligned);
	ASSERT_EQ(kb, 2048);
	ASSERT_EQ(total, 5 << 20);
	ASSERT_TRUE(rw);
	ASSERT_ERR(r2, -ENOMEM);
	ASSERT_OK(restored);
}

static void bus_test_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	memset(data, (int)off, len);
}

TEST(bus_dispatch_ranges)
{
	struct bus bus = {.n = 0};
	uint8_t v[4];

	ASSERT_OK(bus_register(&bus, 0x3f8, 8, bus_test_read, NULL, NULL, "a"));
	ASSERT_OK(bus_register(&bus, 0x60, 1, bus_test_read, NULL, NULL, "b"));
	ASSERT_ERR(bus_register(&bus, 0x3fc, 8, bus_test_read, NULL, NULL, "c"), -EEXIST);
	ASSERT_ERR(bus_register(&bus, 0x0, 0, bus_test_read, NULL, NULL, "d"), -EINVAL);
	ASSERT_TRUE(bus_dispatch(&bus, 0x3fa, v, 1, false));
	ASSERT_EQ(v[0], 2);
	ASSERT_FALSE(bus_dispatch(&bus, 0x3ff, v, 2, false));
	ASSERT_FALSE(bus_dispatch(&bus, 0x61, v, 1, false));
	ASSERT_TRUE(bus_dispatch(&bus, 0x60, v, 1, true));
}
