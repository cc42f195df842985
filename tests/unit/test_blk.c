/* SPDX-License-Identifier: MIT */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/blk.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/harness.h"
#include "tests/unit/blk_util.h"
#include "vmm/config.h"

TEST(blk_features_and_config)
{
	struct bt t;
	struct virtio_blk_config cfg;
	uint64_t f;

	/* a partial last sector is not exposed */
	bt_open(&t, FILE_SECTORS * SECTOR + 100, false, FD_FEATURES_ALL, true);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	f = dev_features(t.d);
	ASSERT_TRUE(f & BIT(VIRTIO_BLK_F_SIZE_MAX));
	ASSERT_TRUE(f & BIT(VIRTIO_BLK_F_SEG_MAX));
	ASSERT_TRUE(f & BIT(VIRTIO_BLK_F_BLK_SIZE));
	ASSERT_TRUE(f & BIT(VIRTIO_BLK_F_FLUSH));
	ASSERT_TRUE(f & BIT(VIRTIO_F_VERSION_1));
	ASSERT_FALSE(f & BIT(VIRTIO_BLK_F_RO));
	ASSERT_FALSE(f & BIT(VIRTIO_BLK_F_MQ));
	ASSERT_FALSE(f & BIT(VIRTIO_BLK_F_GEOMETRY));
	ASSERT_TRUE(f & BIT(VIRTIO_BLK_F_CONFIG_WCE));
	ASSERT_TRUE(f & BIT(VIRTIO_BLK_F_DISCARD));
	ASSERT_TRUE(f & BIT(VIRTIO_BLK_F_WRITE_ZEROES));
	ASSERT_TRUE(f & BIT(VIRTIO_BLK_F_SECURE_ERASE));
	ASSERT_TRUE(f & BIT(15)); /* VIRTIO_BLK_F_LIFETIME */
	ASSERT_TRUE(f & BIT(VIRTIO_BLK_F_TOPOLOGY));
	ASSERT_EQ(t.d->features & BIT(VIRTIO_BLK_F_FLUSH), BIT(VIRTIO_BLK_F_FLUSH));
	fd_dev_config_read(t.d, 0, &cfg, sizeof(cfg));
	ASSERT_EQ(le64toh(cfg.capacity), FILE_SECTORS);
	ASSERT_EQ(le32toh(cfg.seg_max), VQ_MAX_SEGS - 2);
	ASSERT_TRUE(le32toh(cfg.size_max) >= 4096);
	ASSERT_EQ(le32toh(cfg.blk_size), 512);
	ASSERT_EQ(cfg.wce, 1); /* FLUSH negotiated: writeback */
	/* byte-wise and unaligned reads see the same little-endian layout */
	for (unsigned int i = 0; i < 8; i++) {
		uint8_t b;

		fd_dev_config_read(t.d, i, &b, 1);
		ASSERT_EQ(b, (uint8_t)((uint64_t)FILE_SECTORS >> (8 * i)));
	}
	/* config is read-only: a write changes nothing */
	{
		uint64_t junk = 0x1234;

		fd_dev_config_write(t.d, 0, &junk, 8);
		fd_dev_config_read(t.d, 0, &cfg, 8);
		ASSERT_EQ(le64toh(cfg.capacity), FILE_SECTORS);
	}
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, 0);
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	fd_mmio_write(t.d, VIRTIO_MMIO_QUEUE_SEL, 1); /* one request queue only */
	ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	bt_close(&t);
}

TEST(blk_read)
{
	struct bt t;
	uint64_t gpa;
	uint32_t used;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	ASSERT_EQ(bt_read(&t, 3, 3 * SECTOR, &gpa, &used), VIRTIO_BLK_S_OK);
	ASSERT_EQ(used, 3 * SECTOR + 1); /* data + status */
	check_pattern(fd_ptr(t.g, gpa, 3 * SECTOR), 3, 3 * SECTOR);
	/* the last sector */
	ASSERT_EQ(bt_read(&t, FILE_SECTORS - 1, SECTOR, &gpa, &used), VIRTIO_BLK_S_OK);
	check_pattern(fd_ptr(t.g, gpa, SECTOR), FILE_SECTORS - 1, SECTOR);
	bt_close(&t);
}

TEST(blk_write_then_flush_reaches_file)
{
	struct bt t;
	uint64_t gpa;
	uint32_t len = 2 * SECTOR, used;
	uint8_t buf[2 * SECTOR], *p;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	/* fill the guest buffer before posting: allocate it through a read first */
	ASSERT_EQ(bt_read(&t, 0, len, &gpa, NULL), VIRTIO_BLK_S_OK);
	p = fd_ptr(t.g, gpa, len);
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(0xa0 ^ i);
	{
		struct fd_seg segs[3] = {
			{bt_hdr(&t, VIRTIO_BLK_T_OUT, 10), 16},
			{gpa, len},
			{fd_alloc(t.g, 1, 1), 1},
		};

		used = bt_run(&t, segs, 2, 1, 0);
		ASSERT_EQ(used, 1); /* only the status was written */
		ASSERT_EQ(*(uint8_t *)fd_ptr(t.g, segs[2].gpa, 1), VIRTIO_BLK_S_OK);
	}
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, &used, 0), VIRTIO_BLK_S_OK);
	ASSERT_EQ(used, 1);
	ASSERT_EQ(pread(t.fd, buf, len, 10 * SECTOR), (ssize_t)len);
	ASSERT_MEM_EQ(buf, p, len);
	/* neighbours untouched */
	ASSERT_EQ(pread(t.fd, buf, SECTOR, 9 * SECTOR), SECTOR);
	check_pattern(buf, 9, SECTOR);
	ASSERT_EQ(pread(t.fd, buf, SECTOR, 12 * SECTOR), SECTOR);
	check_pattern(buf, 12, SECTOR);
	/* and the device reads back what it wrote */
	ASSERT_EQ(bt_read(&t, 10, len, &gpa, NULL), VIRTIO_BLK_S_OK);
	ASSERT_MEM_EQ(fd_ptr(t.g, gpa, len), p, len);
	bt_close(&t);
}

TEST(blk_writethrough_without_flush_feature)
{
	struct bt t;
	uint8_t buf[SECTOR];
	uint64_t d = 0;

	/* driver declines FLUSH: every write must be stable on completion (we can only check
	 * the data arrived and the device accepts writes) */
	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL & ~BIT(VIRTIO_BLK_F_FLUSH), true);
	ASSERT_EQ(t.d->features & BIT(VIRTIO_BLK_F_FLUSH), 0);
	{
		uint32_t len = SECTOR;

		ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_OUT, 5, &len, 1, &d, NULL, 0), VIRTIO_BLK_S_OK);
	}
	ASSERT_EQ(pread(t.fd, buf, SECTOR, 5 * SECTOR), SECTOR);
	for (int i = 0; i < SECTOR; i++)
		ASSERT_EQ(buf[i], 0); /* fd_alloc zeroes the buffer */
	bt_close(&t);
}

TEST(blk_get_id)
{
	struct bt t;
	struct stat st;
	char want[21] = {0}, got[20];
	uint32_t len = VIRTIO_BLK_ID_BYTES, used;
	uint64_t gpa;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	ASSERT_OK(fstat(t.fd, &st));
	snprintf(want, sizeof(want), "%" PRIx64 "-%" PRIx64, (uint64_t)st.st_dev,
		 (uint64_t)st.st_ino);
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_GET_ID, 0, &len, 1, &gpa, &used, 0), VIRTIO_BLK_S_OK);
	ASSERT_EQ(used, VIRTIO_BLK_ID_BYTES + 1);
	memcpy(got, fd_ptr(t.g, gpa, 20), 20);
	ASSERT_MEM_EQ(got, want, 20); /* zero padded */
	/* a buffer too small for the 20 bytes */
	len = 8;
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_GET_ID, 0, &len, 1, NULL, &used, 0), VIRTIO_BLK_S_IOERR);
	/* a larger one gets exactly 20 */
	len = 64;
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_GET_ID, 0, &len, 1, &gpa, &used, 0), VIRTIO_BLK_S_OK);
	ASSERT_EQ(used, VIRTIO_BLK_ID_BYTES + 1);
	bt_close(&t);
}

TEST(blk_get_id_stable)
{
	struct bt a, b;
	uint32_t len = VIRTIO_BLK_ID_BYTES;
	uint64_t ga, gb;
	struct disk_config cfg = {.read_only = true, .engine = bt_engine()};
	struct virtio_dev *v2;
	struct fd_dev *d2;

	/* two devices on the same file (a "restart") report the same serial */
	bt_open(&a, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	ASSERT_EQ(bt_req(&a, VIRTIO_BLK_T_GET_ID, 0, &len, 1, &ga, NULL, 0), VIRTIO_BLK_S_OK);
	snprintf(b.path, sizeof(b.path), "/proc/self/fd/%d", a.fd);
	cfg.path = b.path;
	ASSERT_OK(blk_create(&a.g->gm, 1, &cfg, &v2));
	d2 = fd_dev_new(a.g, v2);
	fd_dev_set_manual(d2);
	ASSERT_OK(fd_dev_start(d2, FD_FEATURES_ALL));
	b.g = a.g;
	b.d = d2;
	b.q = fd_dev_vq(d2, 0);
	ASSERT_EQ(bt_req(&b, VIRTIO_BLK_T_GET_ID, 0, &len, 1, &gb, NULL, 0), VIRTIO_BLK_S_OK);
	ASSERT_MEM_EQ(fd_ptr(a.g, ga, 20), fd_ptr(a.g, gb, 20), 20);
	fd_dev_free(d2);
	bt_close(&a);
}

TEST(blk_read_only)
{
	struct bt t;
	uint8_t buf[SECTOR];
	uint32_t len = SECTOR, used;
	uint64_t gpa;

	bt_open(&t, FILE_SECTORS * SECTOR, true, FD_FEATURES_ALL, true);
	ASSERT_TRUE(dev_features(t.d) & BIT(VIRTIO_BLK_F_RO));
	ASSERT_TRUE(t.d->features & BIT(VIRTIO_BLK_F_RO));
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_OUT, 2, &len, 1, NULL, &used, 0), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(used, 1);
	ASSERT_EQ(pread(t.fd, buf, SECTOR, 2 * SECTOR), SECTOR);
	check_pattern(buf, 2, SECTOR); /* unchanged */
	/* reads and flushes still work */
	ASSERT_EQ(bt_read(&t, 2, SECTOR, &gpa, NULL), VIRTIO_BLK_S_OK);
	check_pattern(fd_ptr(t.g, gpa, SECTOR), 2, SECTOR);
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, NULL, 0), VIRTIO_BLK_S_OK);
	bt_close(&t);
}

TEST(blk_out_of_range)
{
	struct bt t;
	uint8_t buf[SECTOR];
	uint32_t len = SECTOR, two = 2 * SECTOR, used;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	ASSERT_EQ(bt_read(&t, FILE_SECTORS, SECTOR, NULL, &used), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(used, 1);
	ASSERT_EQ(bt_read(&t, FILE_SECTORS - 1, 2 * SECTOR, NULL, NULL), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_OUT, FILE_SECTORS - 1, &two, 1, NULL, NULL, 0),
		  VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_OUT, FILE_SECTORS, &len, 1, NULL, NULL, 0),
		  VIRTIO_BLK_S_IOERR);
	/* the file did not grow */
	ASSERT_EQ(lseek(t.fd, 0, SEEK_END), FILE_SECTORS * SECTOR);
	ASSERT_EQ(pread(t.fd, buf, SECTOR, (FILE_SECTORS - 1) * SECTOR), SECTOR);
	check_pattern(buf, FILE_SECTORS - 1, SECTOR);
	bt_close(&t);
}

TEST(blk_sector_overflow)
{
	struct bt t;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	/* sector * 512 wraps to a small offset: must not read sector 0 */
	ASSERT_EQ(bt_read(&t, (UINT64_MAX >> 9) + 1, SECTOR, NULL, NULL), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(bt_read(&t, 1ULL << 55, SECTOR, NULL, NULL), VIRTIO_BLK_S_IOERR);
	/* sector + count wraps */
	ASSERT_EQ(bt_read(&t, UINT64_MAX, SECTOR, NULL, NULL), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(bt_read(&t, UINT64_MAX - 1, 2 * SECTOR, NULL, NULL), VIRTIO_BLK_S_IOERR);
	{
		uint32_t len = SECTOR;

		ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_OUT, UINT64_MAX, &len, 1, NULL, NULL, 0),
			  VIRTIO_BLK_S_IOERR);
	}
	bt_close(&t);
}

TEST(blk_short_header)
{
	struct bt t;
	uint64_t st, h;
	uint32_t used;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	/* 8 of 16 header bytes */
	st = fd_alloc(t.g, 1, 1);
	{
		struct fd_seg segs[3] = {
			{bt_hdr(&t, VIRTIO_BLK_T_IN, 0), 8},
			{fd_alloc(t.g, SECTOR, 8), SECTOR},
			{st, 1},
		};

		used = bt_run(&t, segs, 1, 2, 0);
	}
	ASSERT_EQ(used, 1);
	ASSERT_EQ(*(uint8_t *)fd_ptr(t.g, st, 1), VIRTIO_BLK_S_IOERR);
	/* no readable part at all */
	{
		struct fd_seg segs[1] = {{st, 1}};

		used = bt_run(&t, segs, 0, 1, 0);
	}
	ASSERT_EQ(used, 1);
	ASSERT_EQ(*(uint8_t *)fd_ptr(t.g, st, 1), VIRTIO_BLK_S_IOERR);
	/* a header split over two segments is fine (headers need not be one descriptor) */
	h = bt_hdr(&t, VIRTIO_BLK_T_IN, 4);
	{
		struct fd_seg segs[4] = {
			{h, 5},
			{h + 5, 11},
			{fd_alloc(t.g, SECTOR, 8), SECTOR},
			{st, 1},
		};

		used = bt_run(&t, segs, 2, 2, 0);
		ASSERT_EQ(used, SECTOR + 1);
		ASSERT_EQ(*(uint8_t *)fd_ptr(t.g, st, 1), VIRTIO_BLK_S_OK);
		check_pattern(fd_ptr(t.g, segs[2].gpa, SECTOR), 4, SECTOR);
	}
	bt_close(&t);
}

TEST(blk_missing_status)
{
	struct bt t;
	uint32_t used;
	uint8_t buf[SECTOR];

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	/* a write with no writable byte: cannot be answered, must not be executed */
	{
		struct fd_seg segs[2] = {
			{bt_hdr(&t, VIRTIO_BLK_T_OUT, 1), 16},
			{fd_alloc(t.g, SECTOR, 8), SECTOR},
		};

		used = bt_run(&t, segs, 2, 0, 0);
	}
	ASSERT_EQ(used, 0);
	ASSERT_EQ(pread(t.fd, buf, SECTOR, SECTOR), SECTOR);
	check_pattern(buf, 1, SECTOR);
	/* only zero-length writable descriptors: still no status byte */
	{
		struct fd_seg segs[2] = {
			{bt_hdr(&t, VIRTIO_BLK_T_FLUSH, 0), 16},
			{fd_alloc(t.g, 1, 1), 0},
		};

		used = bt_run(&t, segs, 1, 1, 0);
	}
	ASSERT_EQ(used, 0);
	/* the device keeps working */
	ASSERT_FALSE(fd_dev_status(t.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ASSERT_EQ(bt_read(&t, 1, SECTOR, NULL, NULL), VIRTIO_BLK_S_OK);
	bt_close(&t);
}

TEST(blk_status_before_trailing_empty_segment)
{
	struct bt t;
	uint64_t st;
	uint32_t used;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	st = fd_alloc(t.g, 2, 1);
	{
		struct fd_seg segs[4] = {
			{bt_hdr(&t, VIRTIO_BLK_T_IN, 6), 16},
			{fd_alloc(t.g, SECTOR, 8), SECTOR},
			{st, 1},
			{st + 1, 0},
		};

		used = bt_run(&t, segs, 1, 3, 0);
		ASSERT_EQ(used, SECTOR + 1);
		ASSERT_EQ(*(uint8_t *)fd_ptr(t.g, st, 1), VIRTIO_BLK_S_OK);
		check_pattern(fd_ptr(t.g, segs[1].gpa, SECTOR), 6, SECTOR);
	}
	bt_close(&t);
}

TEST(blk_zero_length_data)
{
	struct bt t;
	uint32_t used;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	/* no data segment: a no-op that succeeds inside the disk, fails past it */
	ASSERT_EQ(bt_read(&t, 0, 0, NULL, &used), VIRTIO_BLK_S_OK);
	ASSERT_EQ(used, 1);
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_OUT, 3, NULL, 0, NULL, &used, 0), VIRTIO_BLK_S_OK);
	ASSERT_EQ(bt_read(&t, FILE_SECTORS, 0, NULL, NULL), VIRTIO_BLK_S_OK);
	ASSERT_EQ(bt_read(&t, FILE_SECTORS + 1, 0, NULL, NULL), VIRTIO_BLK_S_IOERR);
	bt_close(&t);
}

TEST(blk_unaligned_length)
{
	struct bt t;
	uint32_t len = 513, used;
	uint8_t buf[SECTOR];
	uint64_t gpa;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	ASSERT_EQ(bt_read(&t, 0, 100, &gpa, &used), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(used, 1);
	ASSERT_EQ(*(uint8_t *)fd_ptr(t.g, gpa, 1), 0); /* nothing read into the buffer */
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_OUT, 0, &len, 1, NULL, NULL, 0), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(pread(t.fd, buf, SECTOR, 0), SECTOR);
	check_pattern(buf, 0, SECTOR);
	bt_close(&t);
}

TEST(blk_unknown_type)
{
	struct bt t;
	uint32_t len = SECTOR, used;
	const uint32_t types[] = {2,  3,  5,	       6,
				  7,  9,  12,	       15,
				  16, 17, 0xffffffffu, VIRTIO_BLK_T_BARRIER | VIRTIO_BLK_T_OUT};

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	for (unsigned int i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		ASSERT_EQ(bt_req(&t, types[i], 0, &len, 1, NULL, &used, 0), VIRTIO_BLK_S_UNSUPP);
		ASSERT_EQ(used, 1);
	}
	bt_close(&t);
}

TEST(blk_multi_segment_read)
{
	struct bt t;
	const uint32_t lens[] = {100, 412, 1024, 1, 511, 512, 1536}; /* 4096 in all */
	uint64_t gpa[7];
	uint32_t used, off = 0;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_IN, 20, lens, 7, gpa, &used, 0), VIRTIO_BLK_S_OK);
	ASSERT_EQ(used, 4096 + 1);
	for (unsigned int i = 0; i < 7; i++) {
		uint8_t *p = fd_ptr(t.g, gpa[i], lens[i]);

		for (uint32_t k = 0; k < lens[i]; k++, off++)
			ASSERT_EQ(p[k], pattern(20 + off / SECTOR, off % SECTOR));
	}
	/* the same through an indirect table */
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_IN, 30, lens, 7, gpa, &used, FD_INDIRECT),
		  VIRTIO_BLK_S_OK);
	ASSERT_EQ(used, 4096 + 1);
	check_pattern(fd_ptr(t.g, gpa[6], 1536), 30 + 5, 1536);
	bt_close(&t);
}

TEST(blk_status_shares_last_data_segment)
{
	struct bt t;
	uint64_t buf;
	uint32_t used;
	uint8_t *p;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	buf = fd_alloc(t.g, SECTOR + 1, 8);
	{
		struct fd_seg segs[2] = {
			{bt_hdr(&t, VIRTIO_BLK_T_IN, 7), 16},
			{buf, SECTOR + 1},
		};

		used = bt_run(&t, segs, 1, 1, 0);
	}
	p = fd_ptr(t.g, buf, SECTOR + 1);
	ASSERT_EQ(used, SECTOR + 1);
	check_pattern(p, 7, SECTOR);
	ASSERT_EQ(p[SECTOR], VIRTIO_BLK_S_OK);
	bt_close(&t);
}

TEST(blk_multi_segment_write_max_segs)
{
	struct bt t;
	struct fd_seg segs[VQ_MAX_SEGS];
	unsigned int n = VQ_MAX_SEGS - 2; /* seg_max data segments */
	uint8_t *buf = malloc(n * SECTOR), *file = malloc(n * SECTOR);
	uint64_t st;
	uint32_t used;

	bt_open(&t, (n + 8) * SECTOR, false, FD_FEATURES_ALL, true);
	segs[0] = (struct fd_seg){bt_hdr(&t, VIRTIO_BLK_T_OUT, 4), 16};
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *p;

		segs[1 + i] = (struct fd_seg){fd_alloc(t.g, SECTOR, 8), SECTOR};
		p = fd_ptr(t.g, segs[1 + i].gpa, SECTOR);
		memset(p, (int)(i + 1), SECTOR);
		memcpy(buf + i * SECTOR, p, SECTOR);
	}
	st = fd_alloc(t.g, 1, 1);
	segs[1 + n] = (struct fd_seg){st, 1};
	used = bt_run(&t, segs, 1 + n, 1, FD_INDIRECT);
	ASSERT_EQ(used, 1);
	ASSERT_EQ(*(uint8_t *)fd_ptr(t.g, st, 1), VIRTIO_BLK_S_OK);
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, NULL, 0), VIRTIO_BLK_S_OK);
	ASSERT_EQ(pread(t.fd, file, n * SECTOR, 4 * SECTOR), (ssize_t)(n * SECTOR));
	ASSERT_MEM_EQ(file, buf, n * SECTOR);
	free(buf);
	free(file);
	bt_close(&t);
}

TEST(blk_batch_of_requests)
{
	struct bt t;
	uint64_t gpa[32], st[32];
	int heads[32];
	uint16_t id;
	uint32_t len;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	for (int i = 0; i < 32; i++) {
		struct fd_seg segs[3] = {
			{bt_hdr(&t, VIRTIO_BLK_T_IN, (uint64_t)i), 16},
			{fd_alloc(t.g, SECTOR, 8), SECTOR},
			{fd_alloc(t.g, 1, 1), 1},
		};

		gpa[i] = segs[1].gpa;
		st[i] = segs[2].gpa;
		heads[i] = fd_vq_add(t.q, segs, 1, 2, 0);
		ASSERT_OK(heads[i]);
	}
	fd_vq_kick(t.q); /* one kick for all */
	for (int i = 0; i < 32; i++) {
		ASSERT_EQ(fd_vq_used(t.q, &id, &len), 1);
		ASSERT_EQ(id, heads[i]); /* completed in order */
		ASSERT_EQ(len, SECTOR + 1);
		ASSERT_EQ(*(uint8_t *)fd_ptr(t.g, st[i], 1), VIRTIO_BLK_S_OK);
		check_pattern(fd_ptr(t.g, gpa[i], SECTOR), (uint64_t)i, SECTOR);
	}
	ASSERT_EQ(fd_vq_used(t.q, &id, &len), 0);
	bt_close(&t);
}

TEST(blk_worker_thread)
{
	struct bt t;
	uint64_t gpa;
	uint32_t len = SECTOR, used;

	/* the real worker: kick -> eventfd -> worker -> irqfd */
	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, false);
	for (int i = 0; i < 50; i++) {
		ASSERT_EQ(bt_read(&t, (uint64_t)i % FILE_SECTORS, SECTOR, &gpa, &used),
			  VIRTIO_BLK_S_OK);
		ASSERT_EQ(used, SECTOR + 1);
		check_pattern(fd_ptr(t.g, gpa, SECTOR), (uint64_t)i % FILE_SECTORS, SECTOR);
	}
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_OUT, 1, &len, 1, NULL, NULL, 0), VIRTIO_BLK_S_OK);
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, NULL, 0), VIRTIO_BLK_S_OK);
	bt_close(&t);
}

TEST(blk_broken_ring_needs_reset)
{
	struct bt t;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	/* a head index past the ring size */
	fd_vq_publish(t.q, 999);
	fd_vq_kick(t.q);
	ASSERT_TRUE(fd_dev_status(t.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* a reset and restart brings it back */
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	t.q = fd_dev_vq(t.d, 0);
	ASSERT_EQ(bt_read(&t, 0, SECTOR, NULL, NULL), VIRTIO_BLK_S_OK);
	bt_close(&t);
}

TEST(blk_flush_error_is_sticky)
{
	struct fd_guest *g = fd_guest_new(1 << 20);
	struct disk_config cfg = {.path = "/dev/full", .read_only = false, .engine = bt_engine()};
	struct virtio_dev *vdev;
	struct bt t;
	uint32_t len = SECTOR;

	/* /dev/full: size 0, and fdatasync fails (EINVAL) */
	if (blk_create(&g->gm, 0, &cfg, &vdev) < 0) {
		fd_guest_free(g);
		return; /* no /dev/full here */
	}
	memset(&t, 0, sizeof(t));
	t.g = g;
	t.d = fd_dev_new(g, vdev);
	fd_dev_set_manual(t.d);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	t.q = fd_dev_vq(t.d, 0);
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, NULL, 0), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, NULL, 0), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_OUT, 0, &len, 1, NULL, NULL, 0), VIRTIO_BLK_S_IOERR);
	fd_dev_free(t.d);
	fd_guest_free(g);
}

TEST(blk_create_errors)
{
	struct fd_guest *g = fd_guest_new(1 << 20);
	struct disk_config cfg = {.path = "/nonexistent/microvm.img", .read_only = false};
	struct virtio_dev *vdev;

	ASSERT_ERR(blk_create(&g->gm, 0, &cfg, &vdev), -ENOENT);
	cfg.path = "/tmp";
	ASSERT_ERR(blk_create(&g->gm, 0, &cfg, &vdev), -EISDIR);
	cfg.read_only = true;
	ASSERT_ERR(blk_create(&g->gm, 0, &cfg, &vdev), -EISDIR);
	fd_guest_free(g);
}

TEST(blk_tiny_file)
{
	struct bt t;
	struct virtio_blk_config cfg;

	/* smaller than one sector: capacity 0, every data request fails */
	bt_open(&t, 100, false, FD_FEATURES_ALL, true);
	fd_dev_config_read(t.d, 0, &cfg, 8);
	ASSERT_EQ(le64toh(cfg.capacity), 0);
	ASSERT_EQ(bt_read(&t, 0, SECTOR, NULL, NULL), VIRTIO_BLK_S_IOERR);
	bt_close(&t);
}

TEST(blk_tiny_queue_many_rounds)
{
	struct bt t;
	struct disk_config cfg;
	uint64_t gpa[2];
	uint16_t id;
	uint32_t len;

	/* queue size 2: every kick exhausts the pop budget; later kicks must still be served */
	memset(&t, 0, sizeof(t));
	bt_file(&t, FILE_SECTORS * SECTOR);
	cfg = (struct disk_config){.path = t.path, .read_only = false, .engine = bt_engine()};
	t.g = fd_guest_new(4 << 20);
	ASSERT_OK(blk_create(&t.g->gm, 0, &cfg, &t.vdev));
	unlink(t.path);
	t.d = fd_dev_new(t.g, t.vdev);
	fd_dev_set_manual(t.d);
	fd_dev_set_qsize(t.d, 0, 2);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	t.q = fd_dev_vq(t.d, 0);
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 2; i++) {
			uint64_t sector = (uint64_t)(round * 2 + i) % FILE_SECTORS;
			struct fd_seg segs[3] = {
				{bt_hdr(&t, VIRTIO_BLK_T_IN, sector), 16},
				{fd_alloc(t.g, SECTOR, 8), SECTOR},
				{fd_alloc(t.g, 1, 1), 1},
			};

			gpa[i] = segs[1].gpa;
			ASSERT_OK(fd_vq_add(t.q, segs, 1, 2, FD_INDIRECT));
		}
		fd_vq_kick(t.q);
		for (int i = 0; i < 2; i++) {
			ASSERT_EQ(fd_vq_used(t.q, &id, &len), 1);
			ASSERT_EQ(len, SECTOR + 1);
			check_pattern(fd_ptr(t.g, gpa[i], SECTOR),
				      (uint64_t)(round * 2 + i) % FILE_SECTORS, SECTOR);
		}
	}
	bt_close(&t);
}
