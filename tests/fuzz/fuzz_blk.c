/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-blk request path (ring walk + request parser + file I/O) on
 * fuzzer-controlled rings and guest RAM, backed by a small temp file. The device is started
 * through the real MMIO registers (tests/fakedrv) in manual mode, then the rings and the data
 * area are overwritten from the input and the queue handler runs once on this thread
 * (virtio_dev_run_once()).
 *
 * Input layout (short inputs are zero-extended):
 *   u8  flags        bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 FLUSH, bit 3 read-only disk,
 *                    bit 4 run the queue a second time, bit 5 NO_INTERRUPT, bit 6 DISCARD,
 *                    WRITE_ZEROES, SECURE_ERASE, LIFETIME and CONFIG_WCE (then the writeback
 *                    byte is written from bit 7), bit 7 a tight rate limit (2 ops, 4 KiB
 *                    burst: the rest of the queue is throttled, i.e. unpopped)
 *   u8  qsize_log2   queue size 2^(1 + v % 8); bit 7 engine=sync (else io_uring, drained
 *                    until idle after each run: manual mode), bit 6 direct=on
 *   u16 avail_idx    value written to avail->idx (may jump past the ring: -EINVAL path)
 *   then per descriptor (queue size of them), 12 bytes:
 *     u32 where      bit 31 clear: gpa = data area + (where % DATA_SIZE); set: raw gpa
 *                    (where & 0x7fffffff), mostly outside RAM
 *     u32 len, u16 flags, u16 next
 *   then queue-size u16 avail ring entries
 *   then the data area contents (request headers, indirect tables, buffers).
 */
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/blk.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_ring.h"
#include "vmm/config.h"
#include "vmm/log.h"

#define RAM_SIZE  (256 * 1024)
#define DATA_SIZE (128 * 1024)
#define DISK_SIZE (64 * 512 + 100) /* a partial last sector on purpose */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char disk_path[64];

static void cleanup(void)
{
	unlink(disk_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_max_level = LOG_ERR; /* guest-caused warnings are expected by the thousand */
	fuzz_scratch_file(disk_path, sizeof(disk_path), "blk", DISK_SIZE);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_cursor c = {data, size};
	struct disk_config cfg = {.path = disk_path};
	struct virtio_dev *vdev;
	struct fd_guest *g;
	struct fd_dev *d;
	struct fd_vq *q;
	uint8_t flags, qlog;
	uint16_t avail_idx, qsize;
	uint64_t want = 0, area;
	uint8_t *area_p;

	fuzz_take(&c, &flags, 1);
	fuzz_take(&c, &qlog, 1);
	fuzz_take(&c, &avail_idx, 2);
	qsize = (uint16_t)(1u << (1 + (qlog & 0x3f) % 8));
	cfg.read_only = flags & 8;
	cfg.engine = qlog & 0x80 ? DISK_ENGINE_SYNC : DISK_ENGINE_URING;
	cfg.direct = qlog & 0x40;
	if (flags & 1)
		want |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (flags & 2)
		want |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (flags & 4)
		want |= 1ULL << VIRTIO_BLK_F_FLUSH;
	if (flags & 64)
		want |= 1ULL << VIRTIO_BLK_F_DISCARD | 1ULL << VIRTIO_BLK_F_WRITE_ZEROES |
			1ULL << VIRTIO_BLK_F_SECURE_ERASE | 1ULL << 15 /* LIFETIME */ |
			1ULL << VIRTIO_BLK_F_CONFIG_WCE;

	g = fd_guest_new(RAM_SIZE);
	if (blk_create(&g->gm, 0, &cfg, &vdev) < 0)
		abort();
	d = fd_dev_new(g, vdev);
	fd_dev_set_manual(d);
	fd_dev_set_qsize(d, 0, qsize);
	if (fd_dev_start(d, want) < 0)
		abort();
	if (flags & 64) {
		uint8_t wb = flags >> 7;

		fd_dev_config_write(d, offsetof(struct virtio_blk_config, wce), &wb, 1);
	}
	if (flags & 128) {
		struct blk_limits l = {
			.ops_per_s = 1, .ops_burst = 2, .bytes_per_s = 1, .bytes_burst = 4096};

		blk_set_limits(vdev, &l);
	}
	q = fd_dev_vq(d, 0);
	area = fd_alloc(g, DATA_SIZE, 16);
	area_p = fd_ptr(g, area, DATA_SIZE);

	fuzz_split_ring(&c, q, qsize, area, DATA_SIZE);
	fuzz_take(&c, area_p, DATA_SIZE);
	q->avail->flags = flags & 32 ? VRING_AVAIL_F_NO_INTERRUPT : 0;
	__atomic_store_n(&q->avail->idx, avail_idx, __ATOMIC_RELEASE);

	fd_vq_kick(q); /* manual mode: runs the handler once */
	if (flags & 16) {
		/* the driver recycles: publish the same heads again */
		__atomic_store_n(&q->avail->idx, (uint16_t)(avail_idx * 2), __ATOMIC_RELEASE);
		fd_vq_kick(q);
	}

	fd_dev_free(d);
	fd_guest_free(g);
	return 0;
}
