/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk io_uring engine: one ring per device. READ / WRITE go out as READV / WRITEV
 * straight on the guest's iovecs, FLUSH as a data-only FSYNC; the rest is answered inline by
 * the shared code in blk_req.c. Completions raise an eventfd the device thread watches. A
 * request lives in a slot (blk_inflight.c) from pop to push.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices/virtio/blk_internal.h"

/*
 * The ring is born disabled (IORING_SETUP_R_DISABLED) and enabled only once it is restricted
 * to the opcodes this engine submits and to no further io_uring_register() call: a device
 * thread confused by a hostile guest could otherwise open, connect or read any file
 * through the ring, past its seccomp filter (which sees io_uring_enter, not the SQEs). A
 * forbidden SQE completes with -EACCES. A kernel without restrictions (before 5.10) refuses
 * the flag: the caller then falls back to the synchronous engine, as for no io_uring.
 */
static int blk_uring_restrict(struct io_uring *ring)
{
	static const uint8_t ops[] = {IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC};
	struct io_uring_restriction res[ARRAY_SIZE(ops)];

	memset(res, 0, sizeof(res));
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		res[i].opcode = IORING_RESTRICTION_SQE_OP;
		res[i].sqe_op = ops[i];
	}
	/* the syscall itself: Debian's liburing 2.3 declares io_uring_register_restrictions()
	 * and io_uring_enable_rings() but does not export them */
	if (syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_RESTRICTIONS, res,
		    ARRAY_SIZE(res)) < 0 ||
	    syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) <
		    0)
		return -errno;
	return 0;
}

int blk_uring_init(struct blk_dev *blk)
{
	int r = io_uring_queue_init(BLK_MAX_INFLIGHT, &blk->ring, IORING_SETUP_R_DISABLED);

	if (r < 0)
		return r;
	blk->ring_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (blk->ring_efd < 0) {
		r = -errno;
		goto err;
	}
	/* registered before the restrictions, which allow no registration afterwards */
	r = io_uring_register_eventfd(&blk->ring, blk->ring_efd);
	if (r == 0)
		r = blk_uring_restrict(&blk->ring);
	if (r < 0) {
		close(blk->ring_efd);
		goto err;
	}
	blk->uring = true;
	return 0;
err:
	blk->ring_efd = -1;
	io_uring_queue_exit(&blk->ring);
	return r;
}

void blk_uring_exit(struct blk_dev *blk)
{
	if (!blk->uring)
		return;
	io_uring_queue_exit(&blk->ring);
	close(blk->ring_efd);
	blk->uring = false;
}

void blk_uring_submit(struct blk_dev *blk)
{
	while (blk->n_queued) {
		int r = io_uring_submit(&blk->ring);

		if (r == -EINTR)
			continue;
		if (r <= 0) {
			/* Left in the SQ ring: the next wake-up submits them again. */
			blk_warn(blk, "io_uring submit: %s", strerror(r ? -r : EAGAIN));
			return;
		}
		blk->n_queued -= MIN((unsigned int)r, blk->n_queued);
	}
}

/* Prepare the SQE for op on slot s. False when no SQE can be had (cannot happen: the SQ ring
 * has one entry per slot). */
static bool blk_uring_prep(struct blk_dev *blk, struct blk_slot *s, enum blk_slot_op op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&blk->ring);
	struct blk_io *io = &s->io;

	if (!sqe) {
		blk_uring_submit(blk);
		sqe = io_uring_get_sqe(&blk->ring);
		if (!sqe)
			return false;
	}
	if (op != BLK_OP_RW)
		io_uring_prep_fsync(sqe, blk->fd, IORING_FSYNC_DATASYNC);
	else if (io->write)
		io_uring_prep_writev(sqe, blk_pick_fd(blk, io->off, io->iov, io->iovcnt), io->iov,
				     (unsigned int)io->iovcnt, (uint64_t)io->off);
	else
		io_uring_prep_readv(sqe, blk_pick_fd(blk, io->off, io->iov, io->iovcnt), io->iov,
				    (unsigned int)io->iovcnt, (uint64_t)io->off);
	io_uring_sqe_set_data(sqe, s);
	s->op = op;
	s->state = BLK_SLOT_INFLIGHT;
	blk->n_inflight++;
	blk->n_queued++;
	return true;
}

static void blk_uring_answer(struct blk_dev *blk, struct blk_slot *s, uint8_t st)
{
	s->used = blk_finish(blk, &s->io, st);
	blk_slot_done(blk, s);
}

/* A freshly popped chain: answer it inline or send it to the ring. */
static void blk_uring_start(struct blk_dev *blk, struct blk_slot *s)
{
	struct blk_io *io = &s->io;
	uint8_t st;

	switch (blk_parse(blk, &s->c, io)) {
	case BLK_DROP: /* counted by blk_parse() */
		s->used = 0;
		blk_slot_done(blk, s);
		return;
	case BLK_RW:
		if (io->len == 0) {
			st = VIRTIO_BLK_S_OK; /* nothing to move */
			break;
		}
		if (blk_uring_prep(blk, s, BLK_OP_RW))
			return;
		st = VIRTIO_BLK_S_IOERR;
		break;
	case BLK_FLUSH:
		if (!blk->flush_failed && blk_uring_prep(blk, s, BLK_OP_FLUSH))
			return;
		st = VIRTIO_BLK_S_IOERR;
		break;
	case BLK_INLINE:
		st = blk_exec_inline(blk, &s->c, io);
		break;
	default:
		st = io->st;
		break;
	}
	blk_uring_answer(blk, s, st);
}

/*
 * A READV / WRITEV completed with res. Short (0 < res < len): the rest synchronously, as the
 * sync engine would; nothing (res 0): the file ended early. 0 or -errno.
 */
static int blk_uring_rw_rest(struct blk_dev *blk, struct blk_io *io, int res)
{
	struct iovec *iov = io->iov;
	int cnt = io->iovcnt;
	size_t done;

	if (res < 0 && res != -EINTR && res != -EAGAIN)
		return res;
	if (res == 0)
		return -EIO; /* the file shrank under us */
	done = res > 0 ? (size_t)res : 0;
	if (done >= io->len)
		return 0;
	vq_iov_advance(&iov, &cnt, done);
	return blk_rw(blk_pick_fd(blk, io->off + (off_t)done, iov, cnt), iov, cnt,
		      io->off + (off_t)done, io->write);
}

static void blk_uring_complete(struct blk_dev *blk, struct blk_slot *s)
{
	struct blk_io *io = &s->io;
	int r = s->res;

	switch (s->op) {
	case BLK_OP_FLUSH:
		blk_uring_answer(blk, s, blk_flush_status(blk, r));
		return;
	case BLK_OP_WT_SYNC:
		break;
	default:
		r = blk_uring_rw_rest(blk, io, r);
		/* write-through: the data is stable before the request completes */
		if (r == 0 && io->write && blk_writethrough(blk)) {
			if (blk_uring_prep(blk, s, BLK_OP_WT_SYNC))
				return;
			r = -EAGAIN;
		}
		break;
	}
	if (r < 0) {
		blk_warn(blk, "%s at sector %" PRIu64 ": %s", io->write ? "write" : "read",
			 io->sector, strerror(-r));
		blk_uring_answer(blk, s, VIRTIO_BLK_S_IOERR);
		return;
	}
	if (!io->write)
		io->written = (uint32_t)io->len;
	blk_uring_answer(blk, s, VIRTIO_BLK_S_OK);
}

int blk_uring_reap(struct blk_dev *blk, bool wait)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;
	int r;

	if (wait && blk->n_inflight) {
		/* submits what is still queued too: never wait for an SQE the kernel lacks */
		do
			r = io_uring_submit_and_wait(&blk->ring, 1);
		while (r == -EINTR);
		if (r < 0) {
			log_err("%s: io_uring wait: %s", blk->vdev.name, strerror(-r));
			return r;
		}
		blk->n_queued -= MIN((unsigned int)r, blk->n_queued);
	}
	io_uring_for_each_cqe(&blk->ring, head, cqe)
	{
		struct blk_slot *s = io_uring_cqe_get_data(cqe);

		n++;
		blk->n_inflight--;
		if (s->dropped) { /* its queue was reset: guest memory is no longer ours */
			blk_slot_put(blk, s);
			continue;
		}
		s->res = cqe->res;
		s->state = BLK_SLOT_REAPED;
		s->link = NULL;
		*blk->reaped_tail = s;
		blk->reaped_tail = &s->link;
	}
	io_uring_cq_advance(&blk->ring, n);
	return 0;
}

bool blk_uring_process(struct blk_dev *blk)
{
	struct blk_slot *s;

	while ((s = blk->reaped)) {
		blk->reaped = s->link;
		if (!blk->reaped)
			blk->reaped_tail = &blk->reaped;
		blk_uring_complete(blk, s);
	}
	if (blk->starved && (blk->free_slots || blk->n_slots < blk->max_slots)) {
		blk->starved = false;
		return true;
	}
	return false;
}

void blk_uring_serve(struct blk_dev *blk, unsigned int q)
{
	struct virtio_dev *vdev = &blk->vdev;
	struct vq *vq = &vdev->queues[q].vq;
	struct blk_slot *s;
	uint64_t wait;
	int r;

	if (blk->throttled || blk->starved || !vq->ready)
		return;
	do {
		if (virtio_dev_is_broken(vdev))
			return;
		vq_disable_notify(vq);
		for (;;) {
			s = blk_slot_get(blk, q);
			if (!s) {
				/* a completion frees one and serves the queues again */
				blk->starved = true;
				return;
			}
			r = vq_pop(vq, &s->c);
			if (r <= 0) {
				blk_slot_put(blk, s);
				break;
			}
			wait = blk_limiter_take(&blk->lim, blk_req_bytes(&s->c), blk_now_ns());
			if (wait && blk_throttle(blk, wait)) {
				blk_slot_put(blk, s);
				vq_unpop(vq);
				return;
			}
			blk_uring_start(blk, s);
		}
		if (r < 0) {
			virtio_dev_needs_reset(vdev, r);
			return;
		}
	} while (!vq_budget_spent(vq) && !vq_enable_notify(vq));
}

void blk_uring_quiesce(struct blk_dev *blk, int q)
{
	if (!blk->uring)
		return;
	blk_slots_drop(blk, q);
	blk_uring_submit(blk); /* every in-flight request then has a CQE coming */
	while (blk->n_inflight && (q < 0 || blk->fifo[q].head))
		if (blk_uring_reap(blk, true) < 0)
			break;
	if (q < 0) {
		blk_slots_drop(blk, -1);
		blk->starved = false;
		blk->notify_mask = 0;
	}
}
