/* SPDX-License-Identifier: MIT */
#include "tests/fakedrv/fd_vqt.h"

#include <string.h>

static void fd_vqt_signal(void *opaque, unsigned int index)
{
	struct fd_vqt *t = opaque;

	t->signals++;
}

int fd_vqt_init(struct fd_vqt *t, uint16_t size, const struct vq_features *f, uint64_t addr_off)
{
	struct vq_addrs a;
	int r;

	fd_guest_free(t->g);
	memset(t, 0, sizeof(*t));
	t->g = fd_guest_new(1 << 20);
	if (f->packed)
		fd_vq_init_packed(&t->fq, t->g, size);
	else
		fd_vq_init(&t->fq, t->g, size);
	a = (struct vq_addrs){t->fq.desc_gpa + addr_off, t->fq.avail_gpa + addr_off,
			      t->fq.used_gpa + addr_off};
	r = vq_setup(&t->vq, &t->g->gm, &a, size, f);
	t->vq.signal = fd_vqt_signal;
	t->vq.signal_opaque = t;
	return r;
}

uint64_t fd_vqt_buf(struct fd_vqt *t, uint32_t len, uint8_t fill)
{
	uint64_t gpa = fd_alloc(t->g, len, 8);

	memset(fd_ptr(t->g, gpa, len), fill, len);
	return gpa;
}
