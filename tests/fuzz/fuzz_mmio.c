/* SPDX-License-Identifier: MIT */
/* fuzz-srcs: tests/fuzz/fuzzdrv.c */
/*
 * libFuzzer target: virtio-mmio register sequences (devices/virtio/mmio.c) and the generic
 * device behind them (core.c), against the test echo device in manual mode (no worker
 * thread: "run once" ops run the queue handlers on this thread).
 *
 * Input: a sequence of 8-byte ops {u8 op, u8 width, u16 off, u32 val}:
 *   op % 8  0: 32-bit write of val at off % 0x110 (the control registers)
 *           1: write of 1/2/4/8 bytes (width % 4) at any off in the window
 *           2: read, same shapes as 1
 *           3: virtio_dev_run_once()
 *           4: the whole driver start sequence (fd_dev_start), features val
 *           5: post a chain on queue val & 1 (fd_vq_add): n_out, n_in, indirect from val
 *           6: copy the next 16 input bytes into guest RAM at val (corrupt rings/buffers)
 *           7: take an interrupt (InterruptStatus + ACK)
 * After each op the generic device's invariants are checked.
 */
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fakedrv/echo_dev.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/fuzz/fuzzdrv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzzdrv_init();
	return 0;
}

/* What must hold whatever the driver wrote. */
static void check(const struct fd_dev *d)
{
	const struct virtio_dev *v = d->vdev;
	uint32_t st = __atomic_load_n(&v->status, __ATOMIC_RELAXED);

	fuzzdrv_check(d);
	if ((st & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(v->driver_features & (1ULL << VIRTIO_F_VERSION_1)))
		abort();
	for (unsigned int q = 0; q < v->num_queues; q++)
		if (v->queues[q].vq.ready && !v->active)
			abort();
}

static void run_op(struct fd_dev *d, const uint8_t *op, const uint8_t *extra, size_t extra_len)
{
	uint8_t width = (uint8_t)(1u << (op[1] % 4));
	uint16_t off;
	uint32_t val;
	uint64_t buf = 0;

	memcpy(&off, op + 2, 2);
	memcpy(&val, op + 4, 4);
	switch (op[0] % 8) {
	case 0:
		fd_mmio_write(d, (off % 0x110) & ~3u, val);
		break;
	case 1:
		buf = val;
		virtio_mmio_write(&d->mmio, off % VIRTIO_MMIO_SIZE, &buf, width);
		break;
	case 2:
		virtio_mmio_read(&d->mmio, off % VIRTIO_MMIO_SIZE, &buf, width);
		break;
	case 3:
		virtio_dev_run_once(d->vdev);
		break;
	case 4:
		if (fuzzdrv_ram_left())
			fd_dev_start(d, (uint64_t)val << 32 | val);
		break;
	case 5:
		fuzzdrv_post(d, val);
		break;
	case 6:
		memcpy(fuzzdrv_guest->ram + val % (FUZZDRV_RAM_SIZE - 16), extra, extra_len);
		break;
	case 7:
		fd_dev_wait_irq(d, 0);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct echo_dev *e;
	struct fd_dev *d;

	fuzzdrv_reset_ram();
	if (echo_create(&fuzzdrv_guest->gm, ECHO_NORMAL, &e) < 0)
		abort();
	d = fd_dev_new(fuzzdrv_guest, &e->vdev);
	fd_dev_set_manual(d);
	while (size >= 8) {
		uint8_t extra[16] = {0};
		size_t n = 0;

		if (data[0] % 8 == 6) {
			n = size - 8 < sizeof(extra) ? size - 8 : sizeof(extra);
			memcpy(extra, data + 8, n);
		}
		run_op(d, data, extra, sizeof(extra));
		check(d);
		data += 8 + n;
		size -= 8 + n;
	}
	fd_dev_free(d);
	return 0;
}
