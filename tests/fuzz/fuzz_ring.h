/* SPDX-License-Identifier: MIT */
#ifndef TESTS_FUZZ_FUZZ_RING_H
#define TESTS_FUZZ_FUZZ_RING_H

/*
 * The device fuzzers' split ring (fuzz_blk, fuzz_pmem, fuzz_net_hdr): every descriptor and
 * every avail entry comes from the input. A descriptor address with bit 31 set is taken as a
 * raw guest address (anywhere, valid or not); otherwise it points into the data area
 * [area, area + area_size). Header-only.
 */

#include <linux/virtio_ring.h>
#include <stdint.h>

#include "tests/fakedrv/fakedrv.h"
#include "tests/fuzz/fuzz_input.h"

static inline void fuzz_split_ring(struct fuzz_cursor *c, struct fd_vq *q, uint16_t qsize,
				   uint64_t area, uint32_t area_size)
{
	for (uint16_t i = 0; i < qsize; i++) {
		struct vring_desc *dd = &q->desc[i];
		uint32_t where, len;
		uint16_t f, next;

		fuzz_take(c, &where, 4);
		fuzz_take(c, &len, 4);
		fuzz_take(c, &f, 2);
		fuzz_take(c, &next, 2);
		dd->addr = where & 0x80000000u ? where & 0x7fffffffu : area + where % area_size;
		dd->len = len;
		dd->flags = f;
		dd->next = next;
	}
	for (uint16_t i = 0; i < qsize; i++)
		fuzz_take(c, &q->avail->ring[i], 2);
}

#endif /* TESTS_FUZZ_FUZZ_RING_H */
