/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk control paths: CONFIG_WCE's writeback byte, the per-drive rate limiter (real
 * worker thread, timed), and swapping the backing file while the driver runs.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio/blk.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/harness.h"
#include "tests/unit/blk_util.h"

#define WCE_OFF offsetof(struct virtio_blk_config, wce)

static uint8_t wce_read(struct bt *t)
{
	uint8_t v;

	fd_dev_config_read(t->d, WCE_OFF, &v, 1);
	return v;
}

static void wce_write(struct bt *t, uint8_t v)
{
	fd_dev_config_write(t->d, WCE_OFF, &v, 1);
}

/* WRITE_ZEROES of one sector. */
static uint8_t bt_range_wz(struct bt *t, uint64_t sector)
{
	struct virtio_blk_discard_write_zeroes s = {htole64(sector), htole32(1), 0};
	uint64_t p = fd_alloc(t->g, sizeof(s), 8), st = fd_alloc(t->g, 1, 1);
	struct fd_seg segs[3] = {
		{bt_hdr(t, VIRTIO_BLK_T_WRITE_ZEROES, 0), 16},
		{p, sizeof(s)},
		{st, 1},
	};

	memcpy(fd_ptr(t->g, p, sizeof(s)), &s, sizeof(s));
	ASSERT_EQ(bt_run(t, segs, 2, 1, 0), 1);
	return *(uint8_t *)fd_ptr(t->g, st, 1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(blk_config_wce)
{
	struct bt t;
	uint32_t len = SECTOR;
	uint8_t buf[SECTOR] = {0};

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	ASSERT_TRUE(t.d->features & BIT(VIRTIO_BLK_F_CONFIG_WCE));
	ASSERT_EQ(wce_read(&t), 1); /* FLUSH negotiated: starts in writeback */
	wce_write(&t, 0);
	ASSERT_EQ(wce_read(&t), 0); /* writethrough */
	/* writes still work (each followed by fdatasync) */
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_OUT, 5, &len, 1, NULL, NULL, 0), VIRTIO_BLK_S_OK);
	ASSERT_EQ(bt_range_wz(&t, 6), VIRTIO_BLK_S_OK);
	ASSERT_EQ(pread(t.fd, buf, SECTOR, 5 * SECTOR), SECTOR);
	for (int i = 0; i < SECTOR; i++)
		ASSERT_EQ(buf[i], 0);
	wce_write(&t, 7); /* any nonzero value: writeback */
	ASSERT_EQ(wce_read(&t), 1);
	/* a wider write covering the byte sets it too; neighbours stay read-only */
	{
		uint32_t v = htole32(0xffff0000u); /* bytes 32..35: wce 0, unused 0, nq 0xffff */

		fd_dev_config_write(t.d, WCE_OFF, &v, 4);
		ASSERT_EQ(wce_read(&t), 0);
		fd_dev_config_read(t.d, offsetof(struct virtio_blk_config, num_queues), &v, 2);
		ASSERT_EQ(le16toh((uint16_t)v), 1);
	}
	/* a device reset restores the default */
	fd_dev_reset(t.d);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	t.q = fd_dev_vq(t.d, 0);
	ASSERT_EQ(wce_read(&t), 1);
	bt_close(&t);

	/* without CONFIG_WCE the byte is read-only */
	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL & ~BIT(VIRTIO_BLK_F_CONFIG_WCE),
		true);
	wce_write(&t, 0);
	ASSERT_EQ(wce_read(&t), 1);
	bt_close(&t);

	/* CONFIG_WCE without FLUSH: writethrough */
	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL & ~BIT(VIRTIO_BLK_F_FLUSH), true);
	ASSERT_TRUE(t.d->features & BIT(VIRTIO_BLK_F_CONFIG_WCE));
	ASSERT_EQ(wce_read(&t), 0);
	bt_close(&t);
}

/* n one-sector reads, posted together, one kick; waits for all. Returns the seconds taken. */
static double read_burst(struct bt *t, int n)
{
	double t0 = now_s();
	uint16_t id;
	uint32_t len;
	int posted = 0, done = 0;

	while (done < n) {
		while (posted < n && posted - done < 64) {
			struct fd_seg segs[3] = {
				{bt_hdr(t, VIRTIO_BLK_T_IN, (uint64_t)posted % FILE_SECTORS), 16},
				{fd_alloc(t->g, SECTOR, 8), SECTOR},
				{fd_alloc(t->g, 1, 1), 1},
			};

			ASSERT_OK(fd_vq_add(t->q, segs, 1, 2, 0));
			posted++;
		}
		fd_vq_kick(t->q);
		ASSERT_EQ(fd_vq_wait_used(t->q, &id, &len, 5000), 1);
		ASSERT_EQ(len, SECTOR + 1);
		done++;
		while (done < n && fd_vq_used(t->q, &id, &len) == 1)
			done++;
	}
	return now_s() - t0;
}

TEST(blk_rate_limit_ops)
{
	for (int tr = 0; tr < 2; tr++) {
		struct bt t;
		struct blk_limits l = {.ops_per_s = 100, .ops_burst = 10};
		double dt;

		bt_open_on(&t, tr ? FD_PCI : FD_MMIO, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL,
			   false);
		blk_set_limits(t.vdev, &l);
		/* 10 from the burst, 20 more at 100/s: at least 0.2 s (0.15 with slack) */
		dt = read_burst(&t, 30);
		ASSERT_TRUE(dt >= 0.15);
		ASSERT_TRUE(dt < 5.0);
		/* one at a time, the same bound holds */
		blk_set_limits(t.vdev, &l);
		dt = now_s();
		for (int i = 0; i < 30; i++)
			ASSERT_EQ(bt_read(&t, (uint64_t)i, SECTOR, NULL, NULL), VIRTIO_BLK_S_OK);
		ASSERT_TRUE(now_s() - dt >= 0.15);
		ASSERT_FALSE(fd_dev_status(t.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
		bt_close(&t);
	}
}

TEST(blk_rate_limit_bytes)
{
	struct bt t;
	struct blk_limits l = {.bytes_per_s = 64 * SECTOR, .bytes_burst = 8 * SECTOR};
	double dt;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, false);
	blk_set_limits(t.vdev, &l);
	/* 8 sectors from the burst, 16 more at 64 sectors/s: at least 0.25 s */
	dt = read_burst(&t, 24);
	ASSERT_TRUE(dt >= 0.2);
	ASSERT_TRUE(dt < 5.0);
	/* a request bigger than the burst still passes (once the bucket is full) */
	ASSERT_EQ(bt_read(&t, 0, 16 * SECTOR, NULL, NULL), VIRTIO_BLK_S_OK);
	/* limits off: 200 requests go through at once */
	l = (struct blk_limits){0};
	blk_set_limits(t.vdev, &l);
	ASSERT_TRUE(read_burst(&t, 200) < 2.0);
	bt_close(&t);
}

TEST(blk_rate_limit_reset_while_throttled)
{
	struct bt t;
	struct blk_limits l = {.ops_per_s = 1, .ops_burst = 1};
	struct fd_seg segs[3];

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, false);
	blk_set_limits(t.vdev, &l);
	ASSERT_EQ(bt_read(&t, 0, SECTOR, NULL, NULL), VIRTIO_BLK_S_OK);
	/* the second request waits about a second; reset the device under it */
	segs[0] = (struct fd_seg){bt_hdr(&t, VIRTIO_BLK_T_IN, 1), 16};
	segs[1] = (struct fd_seg){fd_alloc(t.g, SECTOR, 8), SECTOR};
	segs[2] = (struct fd_seg){fd_alloc(t.g, 1, 1), 1};
	ASSERT_OK(fd_vq_add(t.q, segs, 1, 2, 0));
	fd_vq_kick(t.q);
	usleep(20000);
	fd_dev_reset(t.d);
	l = (struct blk_limits){0};
	blk_set_limits(t.vdev, &l);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	t.q = fd_dev_vq(t.d, 0);
	/* the restarted device serves at once */
	ASSERT_TRUE(read_burst(&t, 20) < 2.0);
	bt_close(&t);
}

/* A second image of `sectors` sectors filled with byte v; returns its path in path. */
static void other_file(char path[64], size_t sectors, uint8_t v)
{
	uint8_t buf[SECTOR];
	int fd;

	memset(buf, v, sizeof(buf));
	snprintf(path, 64, "/tmp/microvm-test-blk2-XXXXXX");
	fd = mkstemp(path);
	ASSERT_OK(fd);
	for (size_t i = 0; i < sectors; i++)
		ASSERT_EQ(pwrite(fd, buf, SECTOR, (off_t)(i * SECTOR)), SECTOR);
	close(fd);
}

TEST(blk_swap_backing)
{
	for (int tr = 0; tr < 2; tr++) {
		for (int manual = 0; manual < 2; manual++) {
			struct bt t;
			char path[64];
			uint64_t cap, gpa;
			uint32_t gen, len = SECTOR;

			bt_open_on(&t, tr ? FD_PCI : FD_MMIO, FILE_SECTORS * SECTOR, false,
				   FD_FEATURES_ALL, manual);
			while (fd_dev_wait_irq(t.d, 0))
				;
			gen = fd_dev_config_generation(t.d);
			other_file(path, 2 * FILE_SECTORS, 0x5a);
			ASSERT_OK(blk_swap_backing(t.vdev, path, false));
			/* the guest is told: generation moved, config interrupt, new capacity */
			ASSERT_TRUE(fd_dev_wait_irq(t.d, 1000) & FD_IRQ_CONFIG);
			ASSERT_NE(fd_dev_config_generation(t.d), gen);
			ASSERT_TRUE(fd_dev_config_read_stable(t.d, 0, &cap, 8) >= 1);
			ASSERT_EQ(le64toh(cap), 2 * FILE_SECTORS);
			/* requests go to the new file, also past the old end */
			ASSERT_EQ(bt_read(&t, 2 * FILE_SECTORS - 1, SECTOR, &gpa, NULL),
				  VIRTIO_BLK_S_OK);
			ASSERT_EQ(*(uint8_t *)fd_ptr(t.g, gpa, 1), 0x5a);
			ASSERT_EQ(
				bt_req(&t, VIRTIO_BLK_T_OUT, FILE_SECTORS, &len, 1, NULL, NULL, 0),
				VIRTIO_BLK_S_OK);
			{
				int fd = open(path, O_RDONLY);
				uint8_t b = 1;

				ASSERT_OK(fd);
				ASSERT_EQ(pread(fd, &b, 1, FILE_SECTORS * SECTOR), 1);
				ASSERT_EQ(b, 0); /* the write landed in the new file */
				close(fd);
			}
			/* the old file was not touched */
			{
				uint8_t buf[SECTOR];

				ASSERT_EQ(pread(t.fd, buf, SECTOR, (FILE_SECTORS - 1) * SECTOR),
					  SECTOR);
				check_pattern(buf, FILE_SECTORS - 1, SECTOR);
			}
			/* a failed swap keeps the current file */
			ASSERT_ERR(blk_swap_backing(t.vdev, "/nonexistent/x.img", false), -ENOENT);
			ASSERT_ERR(blk_swap_backing(t.vdev, "/tmp", false), -EISDIR);
			ASSERT_EQ(bt_read(&t, 2 * FILE_SECTORS - 1, SECTOR, NULL, NULL),
				  VIRTIO_BLK_S_OK);
			/* swap to a smaller, read-only file: writes fail, old range is gone */
			unlink(path);
			other_file(path, FILE_SECTORS / 2, 0x33);
			ASSERT_OK(blk_swap_backing(t.vdev, path, true));
			ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_OUT, 0, &len, 1, NULL, NULL, 0),
				  VIRTIO_BLK_S_IOERR);
			ASSERT_EQ(bt_read(&t, FILE_SECTORS / 2, SECTOR, NULL, NULL),
				  VIRTIO_BLK_S_IOERR);
			ASSERT_EQ(bt_read(&t, 0, SECTOR, &gpa, NULL), VIRTIO_BLK_S_OK);
			ASSERT_EQ(*(uint8_t *)fd_ptr(t.g, gpa, 1), 0x33);
			fd_dev_config_read(t.d, 0, &cap, 8);
			ASSERT_EQ(le64toh(cap), FILE_SECTORS / 2);
			unlink(path);
			bt_close(&t);
		}
	}
}

/* VIRTIO_BLK_F_MQ: num_queues from the disk config, offered only with more than one queue,
 * and a read on every queue (each queue is its own ring to the same file). */
static void check_blk_multiqueue(enum fd_transport tr)
{
	struct disk_config cfg = {0};
	struct bt t;
	uint16_t nq;

	memset(&t, 0, sizeof(t));
	bt_file(&t, FILE_SECTORS * SECTOR);
	cfg.path = t.path;
	cfg.num_queues = 3;
	cfg.engine = bt_engine();
	t.g = fd_guest_new(4 << 20);
	ASSERT_OK(blk_create(&t.g->gm, 0, &cfg, &t.vdev));
	unlink(t.path);
	t.d = fd_dev_new_on(tr, t.g, t.vdev);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	ASSERT_TRUE(t.d->features & (1ULL << VIRTIO_BLK_F_MQ));
	ASSERT_EQ(t.d->num_queues, 3);
	fd_dev_config_read(t.d, offsetof(struct virtio_blk_config, num_queues), &nq, sizeof(nq));
	ASSERT_EQ(le16toh(nq), 3);
	for (unsigned int q = 0; q < 3; q++) {
		uint32_t lens[1] = {SECTOR}, used;
		uint64_t gpa;
		uint8_t *p;

		t.q = fd_dev_vq(t.d, q);
		ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_IN, 5 + q, lens, 1, &gpa, &used, 0),
			  VIRTIO_BLK_S_OK);
		p = fd_ptr(t.g, gpa, SECTOR);
		for (unsigned int i = 0; i < SECTOR; i++)
			ASSERT_EQ(p[i], pattern(5 + q, i));
	}
	bt_close(&t);
}

TEST(blk_multiqueue_mmio)
{
	check_blk_multiqueue(FD_MMIO);
}

TEST(blk_multiqueue_pci)
{
	check_blk_multiqueue(FD_PCI);
}

/* One queue (the default for a 1-vCPU guest): MQ is not offered. */
TEST(blk_single_queue_no_mq)
{
	struct bt t;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	ASSERT_FALSE(t.d->features & (1ULL << VIRTIO_BLK_F_MQ));
	ASSERT_EQ(t.d->num_queues, 1);
	bt_close(&t);
}
