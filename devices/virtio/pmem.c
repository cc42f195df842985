/* SPDX-License-Identifier: MIT */
#include "devices/virtio/pmem.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pmem.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/virtio.h"
#include "vmm/log.h"
#include "vmm/util.h"

/* Linux keeps one FLUSH in flight per caller; a few hundred callers at once is plenty. */
#define PMEM_QUEUE_SIZE 256

struct pmem_dev {
	struct virtio_dev vdev; /* first: container_of() */
	int fd;
	bool read_only; /* MAP_PRIVATE: nothing of the guest's ever reaches the file */
	void *hva;
	uint64_t size;
	/* Data plane (worker thread). */
	bool flush_failed; /* a failed writeback may have dropped dirty pages: fail later flushes */
	struct pmem_stats stats; /* PMEM_STAT(): relaxed atomic adds, worker */
};

#define PMEM_STAT(p, field) STAT_ADD((p)->stats.field, 1)

static struct pmem_dev *to_pmem(struct virtio_dev *vdev)
{
	return container_of(vdev, struct pmem_dev, vdev);
}

/* Guest-caused trouble: tell the host user, but at a bounded rate. */
#define pmem_warn(p, fmt, ...) log_warn_ratelimited("%s: " fmt, (p)->vdev.name, __VA_ARGS__)

/*
 * VIRTIO_PMEM_REQ_TYPE_FLUSH: make every store the guest made through the mapping durable.
 * POSIX only promises msync() for stores made through a mapping; on Linux fdatasync() covers
 * them as well and also writes the metadata needed to read the data back. Both are cheap
 * when nothing is dirty. After one failure the kernel may have dropped the dirty pages and
 * report success next time, so every later flush fails too (as blk.c does).
 */
static uint32_t pmem_flush(struct pmem_dev *p)
{
	if (p->read_only)
		return VIRTIO_PMEM_RESP_TYPE_OK; /* private copy-on-write pages: nothing to write */
	if (p->flush_failed)
		return VIRTIO_PMEM_RESP_TYPE_EIO;
	if (msync(p->hva, p->size, MS_SYNC) < 0 || fdatasync(p->fd) < 0) {
		pmem_warn(p, "flush: %s; failing every later flush", strerror(errno));
		p->flush_failed = true;
		return VIRTIO_PMEM_RESP_TYPE_EIO;
	}
	return VIRTIO_PMEM_RESP_TYPE_OK;
}

/*
 * One request chain, guest-controlled from here on: readable struct virtio_pmem_req, then
 * writable struct virtio_pmem_resp (VIRTIO 1.2 "PMEM Device": "Device Operation"). Returns
 * the used length. A chain without room for the response cannot be answered, and the Linux
 * driver would read an unset ret: the device goes to DEVICE_NEEDS_RESET. A short request or
 * an unknown type gets ret EIO.
 */
static uint32_t pmem_handle(struct virtio_dev *vdev, struct vq_chain *c)
{
	struct pmem_dev *p = to_pmem(vdev);
	struct virtio_pmem_req req;
	struct virtio_pmem_resp resp;
	uint32_t ret;

	if (vq_chain_push_left(c) < sizeof(resp)) {
		pmem_warn(p, "request %u: %" PRIu32 " writable bytes, no room for the response",
			  c->head, c->in_len);
		PMEM_STAT(p, invalid_requests);
		virtio_dev_needs_reset(vdev, -EINVAL);
		return 0;
	}
	if (vq_chain_pull(c, &req, sizeof(req)) != sizeof(req)) {
		pmem_warn(p, "request %u: header of %" PRIu32 " bytes", c->head, c->out_len);
		PMEM_STAT(p, invalid_requests);
		ret = VIRTIO_PMEM_RESP_TYPE_EIO;
	} else if (le32toh(req.type) != VIRTIO_PMEM_REQ_TYPE_FLUSH) {
		pmem_warn(p, "request %u: unknown type %" PRIu32, c->head, le32toh(req.type));
		PMEM_STAT(p, invalid_requests);
		ret = VIRTIO_PMEM_RESP_TYPE_EIO;
	} else {
		ret = pmem_flush(p);
		if (ret == VIRTIO_PMEM_RESP_TYPE_OK)
			PMEM_STAT(p, flush_count);
		else
			PMEM_STAT(p, flush_errors);
	}
	resp.ret = htole32(ret);
	return (uint32_t)vq_chain_push(c, &resp, sizeof(resp));
}

/* Worker thread. */
static void pmem_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	virtio_queue_serve(vdev, q, pmem_handle);
}

static uint64_t pmem_features(struct virtio_dev *vdev)
{
	/* Region 0 is always declared, so the newer way to find it is always valid. */
	return 1ULL << VIRTIO_PMEM_F_SHMEM_REGION;
}

/* vdev->lock held, which the transports also hold while they move the region (PCI BAR
 * reprogramming), so start and the region never disagree. */
static void pmem_config_read(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_pmem_config cfg = {
		.start = htole64(vdev->shm[0].gpa),
		.size = htole64(to_pmem(vdev)->size),
	};

	memcpy(buf, (const uint8_t *)&cfg + off, len);
}

static void pmem_destroy(struct virtio_dev *vdev)
{
	struct pmem_dev *p = to_pmem(vdev);

	/* Shared dirty pages stay in the page cache and reach the file in the kernel's own
	 * time; only a guest FLUSH promises durability. */
	munmap(p->hva, p->size);
	close(p->fd);
	free(p);
}

void pmem_get_stats(struct virtio_dev *vdev, struct pmem_stats *out)
{
	const struct pmem_stats *s = &to_pmem(vdev)->stats;

	out->flush_count = __atomic_load_n(&s->flush_count, __ATOMIC_RELAXED);
	out->flush_errors = __atomic_load_n(&s->flush_errors, __ATOMIC_RELAXED);
	out->invalid_requests = __atomic_load_n(&s->invalid_requests, __ATOMIC_RELAXED);
}

static const struct virtio_dev_ops pmem_ops = {
	.name = "pmem",
	.device_id = VIRTIO_ID_PMEM,
	.num_queues = 1,
	.queue_max_size = PMEM_QUEUE_SIZE,
	.features = pmem_features,
	.config_size = sizeof(struct virtio_pmem_config),
	.config_read = pmem_config_read,
	/* no config_write: both fields are read-only */
	.queue_notify = pmem_queue_notify,
	.destroy = pmem_destroy,
};

/* The backing file's size, checked against PMEM_ALIGN. Returns 0 or -errno. */
static int pmem_size(int fd, uint64_t *size)
{
	struct stat st;
	off_t end;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	/* lseek works for regular files and block devices alike. */
	end = lseek(fd, 0, SEEK_END);
	if (end < 0)
		return -errno;
	if (end == 0 || !IS_ALIGNED((uint64_t)end, PMEM_ALIGN) || (uint64_t)end > SIZE_MAX)
		return -EINVAL;
	*size = (uint64_t)end;
	return 0;
}

int pmem_create(const struct guest_mem *gm, unsigned int index, const struct pmem_config *cfg,
		struct virtio_dev **out)
{
	struct pmem_dev *p;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->read_only = cfg->read_only;
	p->fd = open(cfg->path, (cfg->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (p->fd < 0) {
		r = -errno;
		goto err_free;
	}
	r = pmem_size(p->fd, &p->size);
	if (r < 0)
		goto err_close;
	/* Read-only: private and writable, so guest stores land in copy-on-write pages; no swap
	 * is reserved for them up front (the guest may never write). */
	p->hva = mmap(NULL, p->size, PROT_READ | PROT_WRITE,
		      cfg->read_only ? MAP_PRIVATE | MAP_NORESERVE : MAP_SHARED, p->fd, 0);
	if (p->hva == MAP_FAILED) {
		r = -errno;
		goto err_close;
	}
	r = virtio_dev_init(&p->vdev, &pmem_ops, gm, index);
	if (r < 0)
		goto err_unmap;
	r = virtio_dev_add_shm(&p->vdev, VIRTIO_PMEM_SHMEM_REGION_ID, p->size, p->hva);
	if (r < 0) {
		virtio_dev_destroy(&p->vdev); /* pmem_destroy() unmaps, closes and frees */
		return r;
	}
	*out = &p->vdev;
	return 0;

err_unmap:
	munmap(p->hva, p->size);
err_close:
	close(p->fd);
err_free:
	free(p);
	return r;
}
