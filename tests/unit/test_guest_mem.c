/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <string.h>

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
