/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-pmem request path (ring walk + request parser + flush) on
 * fuzzer-controlled split rings and guest RAM, backed by a 2 MiB sparse temp file. The device
 * is started through the real MMIO registers (tests/fakedrv) in manual mode, then the rings and
 * the data area are overwritten from the input and the queue handler runs once on this thread
 * (virtio_dev_run_once()). Afterwards every used element must be a 4-byte response, or carry
 * 0 bytes with the device in DEVICE_NEEDS_RESET.
 *
 * Input layout (short inputs are zero-extended):
 *   u8  flags        bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 read-only file,
 *                    bit 3 run the queue a second time, bit 4 NO_INTERRUPT,
 *                    bit 5 a guest store into the region first (the flush has work)
 *   u8  qsize_log2   queue size 2^(1 + v % 8)
 *   u16 avail_idx    value written to avail->idx (may jump past the ring: -EINVAL path)
 *   then per descriptor (queue size of them), 12 bytes:
 *     u32 where      bit 31 clear: gpa = data area + (where % DATA_SIZE); set: raw gpa
 *                    (where & 0x7fffffff), mostly outside RAM
 *     u32 len, u16 flags, u16 next
 *   then queue-size u16 avail ring entries
 *   then the data area contents (requests, indirect tables, response buffers).
 */
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/pmem.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_ring.h"
#include "vmm/log.h"

#define RAM_SIZE  (256 * 1024)
#define DATA_SIZE (128 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char file_path[64];

static void cleanup(void)
{
	unlink(file_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_max_level = LOG_ERR; /* guest-caused warnings are expected by the thousand */
	fuzz_scratch_file(file_path, sizeof(file_path), "pmem", (off_t)PMEM_ALIGN);
	atexit(cleanup);
	return 0;
}

/* The device's answers: 4 bytes each, or 0 only once it gave up on the driver. */
static void check_used(struct fd_dev *d, struct fd_vq *q)
{
	uint16_t idx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
	uint16_t n = idx < q->size ? idx : q->size;
	bool broken = fd_dev_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET;

	for (uint16_t i = 1; i <= n; i++) {
		uint32_t len = q->used->ring[(uint16_t)(idx - i) % q->size].len;

		if (len != 4 && !(len == 0 && broken))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_cursor c = {data, size};
	struct pmem_config cfg = {.path = file_path};
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
	qsize = (uint16_t)(1u << (1 + qlog % 8));
	cfg.read_only = flags & 4;
	if (flags & 1)
		want |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (flags & 2)
		want |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;

	g = fd_guest_new(RAM_SIZE);
	if (pmem_create(&g->gm, 0, &cfg, &vdev) < 0)
		abort();
	d = fd_dev_new(g, vdev);
	fd_dev_set_manual(d);
	fd_dev_set_qsize(d, 0, qsize);
	if (fd_dev_start(d, want) < 0)
		abort();
	q = fd_dev_vq(d, 0);
	area = fd_alloc(g, DATA_SIZE, 16);
	area_p = fd_ptr(g, area, DATA_SIZE);
	if (flags & 32)
		((volatile uint8_t *)vdev->shm[0].hva)[avail_idx] = flags;

	fuzz_split_ring(&c, q, qsize, area, DATA_SIZE);
	fuzz_take(&c, area_p, DATA_SIZE);
	q->avail->flags = flags & 16 ? VRING_AVAIL_F_NO_INTERRUPT : 0;
	__atomic_store_n(&q->avail->idx, avail_idx, __ATOMIC_RELEASE);

	fd_vq_kick(q); /* manual mode: runs the handler once */
	if (flags & 8) {
		/* the driver recycles: publish the same heads again */
		__atomic_store_n(&q->avail->idx, (uint16_t)(avail_idx * 2), __ATOMIC_RELEASE);
		fd_vq_kick(q);
	}
	check_used(d, q);

	fd_dev_free(d);
	fd_guest_free(g);
	return 0;
}
