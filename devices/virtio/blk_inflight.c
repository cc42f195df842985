/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk in-flight request slots (io_uring engine): a per-device pool allocated on demand
 * up to max_slots (a slot holds a whole chain and its iovec, ~8 KiB, so an idle disk keeps
 * none of the 256 it may use), and one FIFO per queue in pop order. VIRTIO 1.2 "In-order use
 * of descriptors" (VIRTIO_F_IN_ORDER): used buffers go back in the order they were made
 * available, so a finished request waits until everything popped before it on its queue was
 * pushed; without the feature it is pushed as soon as it is done.
 */
#include <stdlib.h>

#include "devices/virtio/blk_internal.h"

struct blk_slot *blk_slot_get(struct blk_dev *blk, unsigned int q)
{
	struct blk_fifo *f = &blk->fifo[q];
	struct blk_slot *s = blk->free_slots;

	if (s) {
		blk->free_slots = s->link;
	} else {
		if (blk->n_slots >= blk->max_slots)
			return NULL;
		s = malloc(sizeof(*s));
		if (!s)
			return NULL; /* like an empty pool: a completion will retry */
		blk->n_slots++;
	}
	s->link = NULL;
	s->state = BLK_SLOT_INFLIGHT;
	s->op = BLK_OP_RW;
	s->q = q;
	s->dropped = false;
	s->res = 0;
	s->used = 0;
	s->next = NULL;
	s->prev = f->tail;
	if (f->tail)
		f->tail->next = s;
	else
		f->head = s;
	f->tail = s;
	return s;
}

static void blk_fifo_unlink(struct blk_fifo *f, struct blk_slot *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		f->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		f->tail = s->prev;
	s->prev = s->next = NULL;
}

void blk_slot_put(struct blk_dev *blk, struct blk_slot *s)
{
	blk_fifo_unlink(&blk->fifo[s->q], s);
	s->state = BLK_SLOT_FREE;
	s->link = blk->free_slots;
	blk->free_slots = s;
}

static void blk_slot_push(struct blk_dev *blk, struct blk_slot *s)
{
	vq_push(&blk->vdev.queues[s->q].vq, &s->c, s->used);
	blk->notify_mask |= 1u << s->q;
	blk_slot_put(blk, s);
}

void blk_slot_done(struct blk_dev *blk, struct blk_slot *s)
{
	struct blk_fifo *f = &blk->fifo[s->q];

	s->state = BLK_SLOT_DONE;
	if (!blk->vdev.queues[s->q].vq.in_order) {
		blk_slot_push(blk, s);
		return;
	}
	while (f->head && f->head->state == BLK_SLOT_DONE)
		blk_slot_push(blk, f->head);
}

void blk_slots_notify(struct blk_dev *blk)
{
	for (unsigned int q = 0; q < blk->vdev.num_queues; q++)
		if (blk->notify_mask & (1u << q))
			vq_notify(&blk->vdev.queues[q].vq);
	blk->notify_mask = 0;
}

void blk_slots_drop(struct blk_dev *blk, int q)
{
	struct blk_slot **pp;

	/* reaped but unprocessed: the CQE is in, nothing touches guest memory any more */
	for (pp = &blk->reaped; *pp;) {
		struct blk_slot *s = *pp;

		if (q >= 0 && s->q != (unsigned int)q) {
			pp = &s->link;
			continue;
		}
		*pp = s->link;
		blk_slot_put(blk, s);
	}
	blk->reaped_tail = pp;
	for (unsigned int i = 0; i < blk->vdev.num_queues; i++) {
		struct blk_slot *s = blk->fifo[i].head, *next;

		if (q >= 0 && i != (unsigned int)q)
			continue;
		for (; s; s = next) {
			next = s->next;
			if (s->state == BLK_SLOT_INFLIGHT)
				s->dropped = true;
			else
				blk_slot_put(blk, s);
		}
	}
	blk->notify_mask &= q >= 0 ? ~(1u << q) : 0;
}

void blk_slots_free_all(struct blk_dev *blk)
{
	struct blk_slot *s;

	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		while (blk->fifo[i].head)
			blk_slot_put(blk, blk->fifo[i].head);
	while ((s = blk->free_slots)) {
		blk->free_slots = s->link;
		free(s);
	}
	blk->n_slots = 0;
	blk->reaped = NULL;
	blk->reaped_tail = &blk->reaped;
}
