/* SPDX-License-Identifier: MIT */
#include "tests/fuzz/fuzzdrv.h"

#include <linux/virtio_config.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"

#define RAM_RESERVE (16 * 1024) /* bump space kept free so fd_alloc() never aborts */

struct fd_guest *fuzzdrv_guest;

void fuzzdrv_init(void)
{
	log_max_level = LOG_ERR;
	fuzzdrv_guest = fd_guest_new(FUZZDRV_RAM_SIZE);
}

void fuzzdrv_reset_ram(void)
{
	memset(fuzzdrv_guest->ram, 0, FUZZDRV_RAM_SIZE);
	fuzzdrv_guest->brk = FD_GUEST_BASE;
}

bool fuzzdrv_ram_left(void)
{
	return fuzzdrv_guest->brk + RAM_RESERVE < FD_GUEST_BASE + FUZZDRV_RAM_SIZE;
}

void fuzzdrv_check(const struct fd_dev *d)
{
	const struct virtio_dev *v = d->vdev;
	uint32_t st = __atomic_load_n(&v->status, __ATOMIC_RELAXED);

	if (v->driver_features & ~v->offered_features)
		abort();
	if ((st & VIRTIO_CONFIG_S_DRIVER_OK) && !(st & VIRTIO_CONFIG_S_FEATURES_OK))
		abort();
	if ((st & VIRTIO_CONFIG_S_DRIVER_OK) && !(st & VIRTIO_CONFIG_S_NEEDS_RESET) && !v->active)
		abort();
	if (v->worker_running || (st & ~0xffu))
		abort();
}

struct fd_vq *fuzzdrv_post(struct fd_dev *d, uint32_t val)
{
	struct fd_vq *q = &d->vqs[val & 1];
	unsigned int n_out = (val >> 1) & 3, n_in = (val >> 3) & 3;
	struct fd_seg segs[6];

	if (!q->desc || q->size == 0 || q->size > VQ_MAX_SIZE || !fuzzdrv_ram_left() ||
	    n_out + n_in == 0)
		return NULL;
	for (unsigned int i = 0; i < n_out + n_in; i++) {
		uint32_t len = ((val >> (8 + 4 * (i % 6))) & 0xf) * 16 + 1;

		segs[i] = (struct fd_seg){fd_alloc(fuzzdrv_guest, len, 1), len};
	}
	return fd_vq_add(q, segs, n_out, n_in, (val >> 5) & 1 ? FD_INDIRECT : 0) >= 0 ? q : NULL;
}
