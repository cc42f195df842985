/* SPDX-License-Identifier: MIT */
/* virtio-blk: device setup, features, config space, serving the queues (both engines), resets,
 * backend swap, O_DIRECT. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "devices/virtio/blk_internal.h"
#include "vmm/config.h"

#define BLK_WRITEBACK_DEFAULT 0xff

uint8_t blk_writeback(struct blk_dev *blk)
{
	uint8_t wb = __atomic_load_n(&blk->writeback, __ATOMIC_RELAXED);

	/* "Device configuration layout": with CONFIG_WCE but without FLUSH the device starts
	 * in writethrough; with FLUSH in writeback. */
	if (wb == BLK_WRITEBACK_DEFAULT)
		return virtio_has_feature(&blk->vdev, VIRTIO_BLK_F_FLUSH) ? 1 : 0;
	return wb;
}

/* Arm the limiter's timer and stop processing the queue until it fires. False when the timer
 * cannot be armed: then the request is served anyway rather than stall the disk for good. */
bool blk_throttle(struct blk_dev *blk, uint64_t wait_ns)
{
	struct itimerspec its = {
		.it_value = {.tv_sec = (time_t)(wait_ns / 1000000000ULL),
			     .tv_nsec = (long)(wait_ns % 1000000000ULL)},
	};

	if (timerfd_settime(blk->timer_fd, 0, &its, NULL) < 0) {
		blk_warn(blk, "rate limiter timer: %s", strerror(errno));
		return false;
	}
	blk->throttled = true;
	BLK_STAT(blk, rate_limiter_throttled_events, 1);
	return true;
}

/*
 * Sync engine, worker thread: serve queue q like virtio_queue_serve(), with the rate limiter in
 * front of each request: a request the buckets cannot pay for goes back to the ring (vq_unpop())
 * and the queue rests until the timer fires. Each request runs under io_lock (backend swap).
 */
static void blk_serve(struct blk_dev *blk, unsigned int q)
{
	struct virtio_dev *vdev = &blk->vdev;
	struct vq *vq = &vdev->queues[q].vq;
	struct vq_chain c;
	uint64_t wait;
	uint32_t used;
	int r;

	if (blk->throttled)
		return;
	do {
		if (virtio_dev_is_broken(vdev))
			return;
		vq_disable_notify(vq);
		while ((r = vq_pop(vq, &c)) > 0) {
			pthread_mutex_lock(&blk->io_lock);
			wait = blk_limiter_take(&blk->lim, blk_req_bytes(&c), blk_now_ns());
			if (wait && blk_throttle(blk, wait)) {
				pthread_mutex_unlock(&blk->io_lock);
				vq_unpop(vq);
				vq_notify(vq); /* for what was pushed before */
				return;
			}
			used = blk_handle(blk, &c);
			pthread_mutex_unlock(&blk->io_lock);
			vq_push(vq, &c, used);
		}
		vq_notify(vq);
		if (r < 0) {
			virtio_dev_needs_reset(vdev, r);
			return;
		}
	} while (!vq_budget_spent(vq) && !vq_enable_notify(vq));
}

/*
 * io_uring engine, worker thread: one wake-up. Take the completions in (reap: from the ring),
 * serve the queues in qmask (every queue when a completion ended a slot shortage), submit
 * once, then interrupt each queue that got used buffers once. io_lock is held from the first
 * pop to the submit, so a backend swap never sees an SQE prepared on the old fd unsubmitted.
 * Manual mode (tests, fuzzers) has no thread to wait for completions on: run until idle,
 * unless a test holds the requests in flight (blk->hold).
 */
static void blk_uring_run(struct blk_dev *blk, uint32_t qmask, bool reap)
{
	struct virtio_dev *vdev = &blk->vdev;
	bool all;

	pthread_mutex_lock(&blk->io_lock);
	if (reap)
		blk_uring_reap(blk, false);
	for (;;) {
		all = blk_uring_process(blk);
		for (unsigned int q = 0; q < vdev->num_queues; q++)
			if ((all || (qmask & (1u << q))) && !virtio_dev_is_broken(vdev))
				blk_uring_serve(blk, q);
		blk_uring_submit(blk);
		if (!vdev->manual || blk->hold || !blk->n_inflight || blk_uring_reap(blk, true) < 0)
			break;
		qmask = 0;
	}
	pthread_mutex_unlock(&blk->io_lock);
	blk_slots_notify(blk);
}

/* Worker thread. With VIRTIO_BLK_F_MQ the guest submits on one queue per vCPU without
 * sharing a ring lock; the device thread serves them in turn, and with io_uring their
 * requests overlap in the kernel. */
static void blk_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct blk_dev *blk = to_blk(vdev);

	if (blk->uring)
		blk_uring_run(blk, 1u << q, false);
	else
		blk_serve(blk, q);
}

/* Worker thread: the rate limiter's timer fired, or the ring completed requests. */
static void blk_backend_event(struct virtio_dev *vdev, int fd, uint32_t events)
{
	struct blk_dev *blk = to_blk(vdev);
	uint64_t ticks;

	if (fd != blk->timer_fd && fd != blk->ring_efd)
		return;
	while (read(fd, &ticks, sizeof(ticks)) < 0 && errno == EINTR)
		;
	if (fd == blk->ring_efd) {
		blk_uring_run(blk, 0, true);
		return;
	}
	blk->throttled = false;
	/* The throttle covers the whole drive: every queue rested, every queue resumes. */
	if (blk->uring) {
		blk_uring_run(blk, ~0u, false);
		return;
	}
	for (unsigned int q = 0; q < vdev->num_queues; q++)
		if (vdev->queues[q].vq.ready && !virtio_dev_is_broken(vdev))
			blk_serve(blk, q);
}

static uint64_t blk_features(struct virtio_dev *vdev)
{
	struct blk_dev *blk = to_blk(vdev);
	uint64_t f = 1ULL << VIRTIO_BLK_F_SIZE_MAX | 1ULL << VIRTIO_BLK_F_SEG_MAX |
		     1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_FLUSH |
		     1ULL << VIRTIO_BLK_F_TOPOLOGY | 1ULL << VIRTIO_BLK_F_CONFIG_WCE |
		     1ULL << VIRTIO_BLK_F_DISCARD | 1ULL << VIRTIO_BLK_F_WRITE_ZEROES |
		     1ULL << VIRTIO_BLK_F_SECURE_ERASE | 1ULL << VIRTIO_BLK_F_LIFETIME;

	if (vdev->num_queues > 1)
		f |= 1ULL << VIRTIO_BLK_F_MQ;

	/* vdev->lock held: no io_lock here (lock order), an atomic read instead */
	if (__atomic_load_n(&blk->read_only, __ATOMIC_RELAXED))
		f |= 1ULL << VIRTIO_BLK_F_RO;
	return f;
}

static void blk_config_read(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len)
{
	struct blk_dev *blk = to_blk(vdev);
	struct virtio_blk_config cfg = blk->config;

	cfg.wce = blk_writeback(blk);
	memcpy(buf, (const uint8_t *)&cfg + off, len);
}

/* Only CONFIG_WCE's writeback byte is writable ("Device configuration layout"); 0
 * writethrough, anything else writeback. Other bytes, or without the feature: dropped. */
static void blk_config_write(struct virtio_dev *vdev, uint32_t off, const void *buf, uint32_t len)
{
	const uint32_t wce = offsetof(struct virtio_blk_config, wce);

	if (!virtio_has_feature(vdev, VIRTIO_BLK_F_CONFIG_WCE) || off > wce || off + len <= wce)
		return;
	__atomic_store_n(&to_blk(vdev)->writeback, ((const uint8_t *)buf)[wce - off] ? 1 : 0,
			 __ATOMIC_RELAXED);
}

static int blk_activate(struct virtio_dev *vdev)
{
	to_blk(vdev)->throttled = false;
	return 0;
}

/* Worker joined: wait out and drop the requests in flight (reads still write into guest
 * memory until their CQE), forget the throttle and the driver's cache mode. */
static void blk_reset(struct virtio_dev *vdev)
{
	struct blk_dev *blk = to_blk(vdev);
	struct itimerspec off = {0};

	if (blk->uring) {
		blk_uring_quiesce(blk, -1);
		blk_slots_free_all(blk); /* an idle device keeps no slot memory */
	}
	timerfd_settime(blk->timer_fd, 0, &off, NULL);
	blk->throttled = false;
	__atomic_store_n(&blk->writeback, BLK_WRITEBACK_DEFAULT, __ATOMIC_RELAXED);
}

/* RING_RESET of queue q, worker stopped: its requests in flight are waited for and dropped.
 * Completions of other queues reaped meanwhile stay in their slots; the worker processes and
 * pushes them when it runs again (it serves every queue when it starts). */
static void blk_queue_reset(struct virtio_dev *vdev, unsigned int q)
{
	struct blk_dev *blk = to_blk(vdev);

	blk_uring_quiesce(blk, (int)q);
}

static void blk_destroy(struct virtio_dev *vdev)
{
	struct blk_dev *blk = to_blk(vdev);

	blk_uring_quiesce(blk, -1);
	blk_slots_free_all(blk);
	blk_uring_exit(blk);
	if (blk->dfd >= 0)
		close(blk->dfd);
	close(blk->fd);
	close(blk->timer_fd);
	pthread_mutex_destroy(&blk->io_lock);
	free(blk);
}

void blk_get_stats(struct virtio_dev *vdev, struct blk_stats *out)
{
	const uint64_t *src = (const uint64_t *)&to_blk(vdev)->stats;
	uint64_t *dst = (uint64_t *)out;

	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

static const struct virtio_dev_ops blk_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = VIRTIO_MAX_QUEUES, /* the most; blk_create() sets the instance's count */
	.queue_max_size = BLK_QUEUE_SIZE,
	.features = blk_features,
	.config_size = sizeof(struct virtio_blk_config),
	.config_read = blk_config_read,
	.config_write = blk_config_write,
	.activate = blk_activate,
	.reset = blk_reset,
	.queue_reset = blk_queue_reset,
	.queue_notify = blk_queue_notify,
	.backend_event = blk_backend_event,
	.destroy = blk_destroy,
};

/*
 * A serial that survives restarts and renames: the file's device and inode in hex, zero
 * padded; if that does not fit in 20 bytes, a 64-bit hash of them (FNV-1a).
 */
static void blk_make_id(char id[VIRTIO_BLK_ID_BYTES], const struct stat *st)
{
	char buf[64];
	uint64_t h = 0xcbf29ce484222325ULL, v[2] = {st->st_dev, st->st_ino};
	int n;

	n = snprintf(buf, sizeof(buf), "%" PRIx64 "-%" PRIx64, v[0], v[1]);
	if (n > VIRTIO_BLK_ID_BYTES) {
		for (size_t i = 0; i < sizeof(v); i++) {
			h ^= ((const uint8_t *)v)[i];
			h *= 0x100000001b3ULL;
		}
		n = snprintf(buf, sizeof(buf), "mvm%016" PRIx64, h);
	}
	memset(id, 0, VIRTIO_BLK_ID_BYTES);
	memcpy(id, buf, (size_t)n);
}

/* The file system's preferred I/O size in sectors: a power of two, 1 (512 B) to 128 (64 KiB),
 * so physical_block_exp and the le16 min_io_size always fit. */
static uint32_t blk_io_align(const struct stat *st)
{
	uint32_t s = 1;

	while (s < 128 && (uint64_t)(s * 2) * BLK_SECTOR_SIZE <= (uint64_t)st->st_blksize)
		s *= 2;
	return s;
}

static void blk_fill_config(struct blk_dev *blk)
{
	struct virtio_blk_config *cfg = &blk->config;
	uint8_t exp = 0;

	while ((1u << exp) < blk->io_align)
		exp++;
	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = htole64(blk->capacity);
	cfg->size_max = htole32(BLK_SIZE_MAX);
	cfg->seg_max = htole32(BLK_SEG_MAX);
	cfg->blk_size = htole32(BLK_SECTOR_SIZE);
	/* TOPOLOGY: in logical blocks; the host file system's block is the physical one */
	cfg->physical_block_exp = exp;
	cfg->alignment_offset = 0;
	cfg->min_io_size = htole16((uint16_t)blk->io_align);
	cfg->opt_io_size = htole32(blk->io_align);
	cfg->num_queues = htole16((uint16_t)blk->vdev.num_queues); /* read with F_MQ */
	cfg->max_discard_sectors = htole32(BLK_MAX_DISCARD_SECTORS);
	cfg->max_discard_seg = htole32(BLK_MAX_DISCARD_SEG);
	cfg->discard_sector_alignment = htole32(blk->io_align);
	cfg->max_write_zeroes_sectors = htole32(BLK_MAX_WZ_SECTORS);
	cfg->max_write_zeroes_seg = htole32(BLK_MAX_WZ_SEG);
	cfg->write_zeroes_may_unmap = 1; /* with unmap we punch holes */
	cfg->max_secure_erase_sectors = htole32(BLK_MAX_SE_SECTORS);
	cfg->max_secure_erase_seg = htole32(BLK_MAX_SE_SEG);
	cfg->secure_erase_sector_alignment = htole32(blk->io_align);
}

/* Open a backing file: fd, its stat, its size in sectors. */
static int blk_open(const char *path, bool read_only, struct stat *st, uint64_t *sectors)
{
	off_t size;
	int fd, r;

	fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		r = -errno;
		goto err;
	}
	if (S_ISDIR(st->st_mode)) {
		r = -EISDIR;
		goto err;
	}
	/* lseek works for regular files and block devices alike. */
	size = lseek(fd, 0, SEEK_END);
	if (size < 0) {
		r = -errno;
		goto err;
	}
	*sectors = (uint64_t)size >> BLK_SECTOR_SHIFT;
	return fd;
err:
	close(fd);
	return r;
}

/*
 * direct=on: the same file once more with O_DIRECT, and the alignment direct I/O needs
 * (STATX_DIOALIGN, else 4096). -1 when the file system refuses (then the page cache serves
 * every request, logged once).
 */
static int blk_open_direct(const char *name, const char *path, bool read_only,
			   const struct stat *st, uint32_t *mem_align, uint32_t *off_align)
{
	struct statx sx;
	struct stat dst;
	int fd;

	fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_DIRECT);
	if (fd < 0) {
		log_info("%s: %s: O_DIRECT not possible (%s), using the page cache", name, path,
			 strerror(errno));
		return -1;
	}
	/* renamed meanwhile: not the same file */
	if (fstat(fd, &dst) < 0 || dst.st_dev != st->st_dev || dst.st_ino != st->st_ino)
		goto refuse;
	*mem_align = *off_align = BLK_DIO_ALIGN_DEFAULT;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
	    (sx.stx_mask & STATX_DIOALIGN)) {
		if (!sx.stx_dio_offset_align)
			goto refuse; /* the kernel says: no direct I/O on this file */
		*mem_align = sx.stx_dio_mem_align ? sx.stx_dio_mem_align : 1;
		*off_align = sx.stx_dio_offset_align;
	}
	return fd;
refuse:
	log_info("%s: %s: no direct I/O on this file, using the page cache", name, path);
	close(fd);
	return -1;
}

int blk_create(const struct guest_mem *gm, unsigned int index, const struct disk_config *cfg,
	       struct virtio_dev **out)
{
	const struct blk_limits none = {0};
	struct blk_dev *blk;
	struct stat st;
	int r;

	blk = calloc(1, sizeof(*blk));
	if (!blk)
		return -ENOMEM;
	pthread_mutex_init(&blk->io_lock, NULL);
	blk->dfd = blk->ring_efd = -1;
	blk->max_slots = BLK_MAX_INFLIGHT;
	blk->reaped_tail = &blk->reaped;
	blk->read_only = cfg->read_only;
	blk->fd = blk_open(cfg->path, cfg->read_only, &st, &blk->capacity);
	if (blk->fd < 0) {
		r = blk->fd;
		goto err_free;
	}
	blk->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (blk->timer_fd < 0) {
		r = -errno;
		goto err_close;
	}
	blk->io_align = blk_io_align(&st);
	blk->lifetime = (struct blk_lifetime){.pre_eol_info = 1, .est_typ_a = 1, .est_typ_b = 1};
	blk->writeback = BLK_WRITEBACK_DEFAULT;
	blk_limiter_set(&blk->lim, &none, blk_now_ns());
	blk_make_id(blk->id, &st);
	r = virtio_dev_init(&blk->vdev, &blk_ops, gm, index);
	if (r < 0)
		goto err_timer;
	blk->direct = cfg->direct;
	if (cfg->direct)
		blk->dfd = blk_open_direct(blk->vdev.name, cfg->path, cfg->read_only, &st,
					   &blk->dio_mem_align, &blk->dio_off_align);
	if (cfg->engine == DISK_ENGINE_URING) {
		r = blk_uring_init(blk);
		if (r < 0)
			log_info("%s: io_uring unavailable (%s), using synchronous I/O",
				 blk->vdev.name, strerror(-r));
	}
	/* ops->num_queues is the most; this drive has as many as it was given */
	blk->vdev.num_queues = cfg->num_queues ? MIN(cfg->num_queues, VIRTIO_MAX_QUEUES) : 1;
	blk_fill_config(blk);
	r = virtio_dev_watch_fd(&blk->vdev, blk->timer_fd, EPOLLIN);
	if (r == 0 && blk->uring)
		r = virtio_dev_watch_fd(&blk->vdev, blk->ring_efd, EPOLLIN);
	if (r < 0) { /* cannot happen: a fresh device watches nothing */
		virtio_dev_destroy(&blk->vdev);
		return r;
	}
	*out = &blk->vdev;
	return 0;

err_timer:
	close(blk->timer_fd);
err_close:
	close(blk->fd);
err_free:
	pthread_mutex_destroy(&blk->io_lock);
	free(blk);
	return r;
}

void blk_set_limits(struct virtio_dev *vdev, const struct blk_limits *limits)
{
	struct blk_dev *blk = to_blk(vdev);

	pthread_mutex_lock(&blk->io_lock);
	blk_limiter_set(&blk->lim, limits, blk_now_ns());
	pthread_mutex_unlock(&blk->io_lock);
}

int blk_set_lifetime(struct virtio_dev *vdev, const struct blk_lifetime *lt)
{
	struct blk_dev *blk = to_blk(vdev);

	if (lt->pre_eol_info > 3 || lt->est_typ_a > 0x0b || lt->est_typ_b > 0x0b)
		return -EINVAL;
	pthread_mutex_lock(&blk->io_lock);
	blk->lifetime = *lt;
	pthread_mutex_unlock(&blk->io_lock);
	return 0;
}

int blk_set_serial(struct virtio_dev *vdev, const char *serial)
{
	struct blk_dev *blk = to_blk(vdev);
	size_t n = strlen(serial);

	if (n > VIRTIO_BLK_ID_BYTES)
		return -EINVAL;
	pthread_mutex_lock(&blk->io_lock);
	memset(blk->id, 0, sizeof(blk->id));
	memcpy(blk->id, serial, n);
	pthread_mutex_unlock(&blk->io_lock);
	return 0;
}

int blk_swap_backing(struct virtio_dev *vdev, const char *path, bool read_only)
{
	struct blk_dev *blk = to_blk(vdev);
	uint32_t mem_align = 0, off_align = 0;
	int fd, dfd = -1, old, old_dfd;
	uint64_t sectors;
	struct stat st;

	fd = blk_open(path, read_only, &st, &sectors);
	if (fd < 0)
		return fd;
	if (blk->direct)
		dfd = blk_open_direct(vdev->name, path, read_only, &st, &mem_align, &off_align);
	/* No request is being popped or submitted while we hold io_lock: the next one goes to
	 * the new file. Requests the ring already has finish on the old one (io_uring holds its
	 * own reference); a write-through sync or the rest of a short transfer that follows
	 * one goes to the new file. */
	pthread_mutex_lock(&blk->io_lock);
	old = blk->fd;
	old_dfd = blk->dfd;
	blk->fd = fd;
	blk->dfd = dfd;
	blk->dio_mem_align = mem_align;
	blk->dio_off_align = off_align;
	__atomic_store_n(&blk->read_only, read_only, __ATOMIC_RELAXED);
	blk->capacity = sectors;
	blk->flush_failed = false;
	pthread_mutex_unlock(&blk->io_lock);
	close(old);
	if (old_dfd >= 0)
		close(old_dfd);
	pthread_mutex_lock(&vdev->lock);
	blk->config.capacity = htole64(sectors);
	pthread_mutex_unlock(&vdev->lock);
	/* "Device Configuration Space": new generation, then the config interrupt. */
	virtio_config_changed(vdev);
	return 0;
}
