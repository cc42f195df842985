/* SPDX-License-Identifier: MIT */
/*
 * virtio-pmem through the real transports and rings (tests/fakedrv), on a sparse temp file
 * whose first and last pages hold a pattern: the region the guest sees, the config and shared
 * memory region that describe it, FLUSH durability (dirty pages gone after the flush, the data
 * in the file through another fd), every malformed request and creation error. Key cases run
 * on both transports and both ring layouts.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_pmem.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "devices/virtio/pmem.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/fakedrv/fd_pci.h"
#include "tests/harness.h"
#include "vmm/util.h"

#define PAGE	    4096
#define WAIT_MS	    2000
#define BIT(n)	    (1ULL << (n))
#define RESP_POISON 0xeeeeeeeeU
/* Where the tests map the region for virtio-mmio (vm.c's job in the VMM): 2 MiB aligned. */
#define PT_MMIO_GPA 0x9000000000ULL

enum ring { SPLIT, PACKED };

struct pt {
	char path[64];
	int fd; /* our own handle on the file, to check what reached it */
	uint64_t size;
	enum fd_transport tr;
	struct fd_guest *g;
	struct virtio_dev *vdev;
	struct fd_dev *d;
	struct fd_vq *q;
	uint64_t start; /* config start */
	uint8_t *view;	/* the guest's view of [start, start + size) */
};

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 13 + (off >> 12));
}

/* A sparse file of `size` bytes, pattern in the first and the last page. Prefers /var/tmp,
 * which is a disk file system more often than /tmp. */
static void pt_file(struct pt *t, uint64_t size)
{
	static const char *const dirs[] = {"/var/tmp", "/tmp"};
	char *path = t->path;
	uint8_t page[PAGE];

	t->fd = -1;
	for (unsigned int i = 0; i < 2 && t->fd < 0; i++) {
		snprintf(path, sizeof(t->path), "%s/microvm-test-pmem-XXXXXX", dirs[i]);
		t->fd = mkstemp(path);
	}
	ASSERT_OK(t->fd);
	ASSERT_OK(ftruncate(t->fd, (off_t)size));
	for (uint64_t base = 0; size >= PAGE && base <= size - PAGE; base += size - PAGE) {
		for (unsigned int i = 0; i < PAGE; i++)
			page[i] = pattern(base + i);
		ASSERT_EQ(pwrite(t->fd, page, PAGE, (off_t)base), PAGE);
		if (base == size - PAGE)
			break; /* also ends the one-page case */
	}
}

/* The device on a fresh file, on transport tr, started with `want` (manual: no worker). */
static void pt_open(struct pt *t, enum fd_transport tr, uint64_t size, bool ro, uint64_t want,
		    bool manual)
{
	struct pmem_config cfg;
	struct virtio_pmem_config c;

	memset(t, 0, sizeof(*t));
	t->tr = tr;
	t->size = size;
	pt_file(t, size);
	cfg.path = t->path;
	cfg.read_only = ro;
	t->g = fd_guest_new(1 << 20);
	ASSERT_OK(pmem_create(&t->g->gm, 0, &cfg, &t->vdev));
	unlink(t->path); /* the device holds it open */
	t->d = fd_dev_new_on(tr, t->g, t->vdev);
	if (tr == FD_MMIO) {
		/* What vm.c does for virtio-mmio: map the region and record where. */
		ASSERT_OK(gmem_add_region(&t->g->gm, PT_MMIO_GPA, t->vdev->shm[0].hva, size));
		pthread_mutex_lock(&t->vdev->lock);
		t->vdev->shm[0].gpa = PT_MMIO_GPA;
		pthread_mutex_unlock(&t->vdev->lock);
	}
	if (manual)
		fd_dev_set_manual(t->d);
	ASSERT_OK(fd_dev_start(t->d, want));
	t->q = fd_dev_vq(t->d, 0);
	fd_dev_config_read(t->d, 0, &c, sizeof(c));
	t->start = le64toh(c.start);
	t->view = fd_ptr(t->g, t->start, size);
	ASSERT_TRUE(t->view != NULL);
}

static void pt_close(struct pt *t)
{
	fd_dev_free(t->d);
	fd_guest_free(t->g);
	close(t->fd);
}

static uint64_t ring_want(enum ring r)
{
	return r == PACKED ? FD_FEATURES_ALL : FD_FEATURES_ALL & ~BIT(VIRTIO_F_RING_PACKED);
}

/* Post a chain, kick, collect its completion. Returns used.len. */
static uint32_t pt_run(struct pt *t, const struct fd_seg *segs, unsigned int n_out,
		       unsigned int n_in, unsigned int flags)
{
	uint16_t id;
	uint32_t len;
	int head = fd_vq_add(t->q, segs, n_out, n_in, flags);

	ASSERT_OK(head);
	fd_vq_kick(t->q);
	ASSERT_EQ(fd_vq_wait_used(t->q, &id, &len, WAIT_MS), 1);
	ASSERT_EQ(id, head);
	return len;
}

/* A guest buffer of len bytes holding a request of type `type` (its first 4 bytes). */
static uint64_t pt_req_buf(struct pt *t, uint32_t type, uint32_t len)
{
	uint64_t gpa = fd_alloc(t->g, len ? len : 1, 8);
	uint32_t le = htole32(type);

	memcpy(fd_ptr(t->g, gpa, len), &le, MIN(len, (uint32_t)sizeof(le)));
	return gpa;
}

/* A response buffer of len bytes, poisoned so that an unwritten ret shows. */
static uint64_t pt_resp_buf(struct pt *t, uint32_t len)
{
	uint64_t gpa = fd_alloc(t->g, len, 8);

	memset(fd_ptr(t->g, gpa, len), 0xee, len);
	return gpa;
}

static uint32_t pt_ret(struct pt *t, uint64_t resp)
{
	uint32_t v;

	memcpy(&v, fd_ptr(t->g, resp, 4), 4);
	return le32toh(v);
}

/* The Linux driver's request: 4-byte type, 4-byte response. Returns ret; used.len must be 4. */
static uint32_t pt_request(struct pt *t, uint32_t type, unsigned int flags)
{
	struct fd_seg s[2] = {
		{pt_req_buf(t, type, 4), 4},
		{pt_resp_buf(t, 4), 4},
	};

	ASSERT_EQ(pt_run(t, s, 1, 1, flags), 4);
	return pt_ret(t, s[1].gpa);
}

static uint32_t pt_flush(struct pt *t)
{
	return pt_request(t, VIRTIO_PMEM_REQ_TYPE_FLUSH, 0);
}

/* Dirty kB of the mapping that starts at hva (/proc/self/smaps), -1 if not found. */
static long mapping_dirty_kb(const void *hva)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	bool in = false, found = false;
	long kb = 0, v;
	unsigned long lo, hi;

	ASSERT_TRUE(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = lo == (unsigned long)hva;
			found |= in;
			continue;
		}
		if (in && (sscanf(line, "Shared_Dirty: %ld kB", &v) == 1 ||
			   sscanf(line, "Private_Dirty: %ld kB", &v) == 1))
			kb += v;
	}
	fclose(f);
	return found ? kb : -1;
}

/* Whether writeback means anything for our file (tmpfs and ramfs keep pages dirty). */
static bool file_has_writeback(int fd)
{
	struct statfs sf;

	ASSERT_OK(fstatfs(fd, &sf));
	return sf.f_type != TMPFS_MAGIC && sf.f_type != RAMFS_MAGIC;
}

/* The device's own descriptor of our file (same inode, other fd), found in /proc/self/fd. */
static int device_fd(struct pt *t)
{
	struct stat mine, st;
	struct dirent *e;
	DIR *dir = opendir("/proc/self/fd");
	int found = -1;

	ASSERT_TRUE(dir != NULL);
	ASSERT_OK(fstat(t->fd, &mine));
	while ((e = readdir(dir))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == t->fd || fd == dirfd(dir) || fstat(fd, &st) < 0)
			continue;
		if (st.st_dev == mine.st_dev && st.st_ino == mine.st_ino)
			found = fd;
	}
	closedir(dir);
	ASSERT_OK(found);
	return found;
}

/* Instantiate check_<name>(transport, ring) for both transports and ring layouts. */
#define PT_TESTS_EACH_RING(name)                                                                   \
	TEST(pmem_##name##_mmio_split)                                                             \
	{                                                                                          \
		check_##name(FD_MMIO, SPLIT);                                                      \
	}                                                                                          \
	TEST(pmem_##name##_mmio_packed)                                                            \
	{                                                                                          \
		check_##name(FD_MMIO, PACKED);                                                     \
	}                                                                                          \
	TEST(pmem_##name##_pci_split)                                                              \
	{                                                                                          \
		check_##name(FD_PCI, SPLIT);                                                       \
	}                                                                                          \
	TEST(pmem_##name##_pci_packed)                                                             \
	{                                                                                          \
		check_##name(FD_PCI, PACKED);                                                      \
	}
#define PT_TESTS(name)                                                                             \
	TEST(pmem_##name##_mmio)                                                                   \
	{                                                                                          \
		check_##name(FD_MMIO);                                                             \
	}                                                                                          \
	TEST(pmem_##name##_pci)                                                                    \
	{                                                                                          \
		check_##name(FD_PCI);                                                              \
	}

/* --- identity, config, shared memory region --- */

static void check_config(enum fd_transport tr)
{
	struct pt t;
	struct virtio_pmem_config c;
	uint64_t base, len, junk = 0x1234;
	uint8_t b;

	pt_open(&t, tr, 2 * PMEM_ALIGN, false, FD_FEATURES_ALL, true);
	if (tr == FD_MMIO)
		ASSERT_EQ(fd_mmio_read(t.d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_PMEM);
	else
		ASSERT_EQ(fd_pci_cfg_read(t.d, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_PMEM);
	ASSERT_EQ(t.vdev->ops->config_size, sizeof(struct virtio_pmem_config));
	/* SHMEM_REGION offered and taken; VERSION_1 as for every device */
	ASSERT_TRUE(t.d->features & BIT(VIRTIO_PMEM_F_SHMEM_REGION));
	ASSERT_TRUE(t.d->features & BIT(VIRTIO_F_VERSION_1));
	/* config: where the region is and how big; 2 MiB aligned; the same as region 0 */
	fd_dev_config_read(t.d, 0, &c, sizeof(c));
	ASSERT_EQ(le64toh(c.size), 2 * PMEM_ALIGN);
	ASSERT_NE(le64toh(c.start), 0);
	ASSERT_EQ(le64toh(c.start) % PMEM_ALIGN, 0);
	if (tr == FD_MMIO)
		ASSERT_EQ(le64toh(c.start), PT_MMIO_GPA);
	else
		ASSERT_EQ(le64toh(c.start), fd_pci(t.d)->bar_addr[2]);
	ASSERT_OK(fd_dev_shm(t.d, VIRTIO_PMEM_SHMEM_REGION_ID, &base, &len));
	ASSERT_EQ(base, le64toh(c.start));
	ASSERT_EQ(len, le64toh(c.size));
	ASSERT_ERR(fd_dev_shm(t.d, 1, &base, &len), -ENOENT);
	/* byte-wise reads see the same little-endian layout */
	for (unsigned int i = 0; i < 16; i++) {
		fd_dev_config_read(t.d, i, &b, 1);
		ASSERT_EQ(b, ((const uint8_t *)&c)[i]);
	}
	/* past the end: zero; writes change nothing */
	fd_dev_config_read(t.d, 16, &b, 1);
	ASSERT_EQ(b, 0);
	fd_dev_config_write(t.d, 0, &junk, 8);
	fd_dev_config_write(t.d, 8, &junk, 8);
	fd_dev_config_read(t.d, 0, &c, sizeof(c));
	ASSERT_EQ(le64toh(c.start), t.start);
	ASSERT_EQ(le64toh(c.size), 2 * PMEM_ALIGN);
	/* the guest sees the file: the pattern in the first and the last page */
	for (unsigned int i = 0; i < PAGE; i++) {
		ASSERT_EQ(t.view[i], pattern(i));
		ASSERT_EQ(t.view[t.size - PAGE + i], pattern(t.size - PAGE + i));
	}
	ASSERT_EQ(t.view[PAGE], 0); /* the hole in between */
	pt_close(&t);
}
PT_TESTS(config)

/* Linux 6.1 reads start only through the config: on PCI it follows BAR 2 when it moves. */
TEST(pmem_config_start_follows_pci_bar)
{
	struct pt t;
	struct virtio_pmem_config c;
	uint64_t old, new;

	pt_open(&t, FD_PCI, PMEM_ALIGN, false, FD_FEATURES_ALL, true);
	old = t.start;
	new = old + 4 * PMEM_ALIGN;
	fd_pci_cfg_write(t.d, PCI_BASE_ADDRESS_2, 4,
			 (uint32_t) new | PCI_BASE_ADDRESS_MEM_TYPE_64 |
				 PCI_BASE_ADDRESS_MEM_PREFETCH);
	fd_pci_cfg_write(t.d, PCI_BASE_ADDRESS_3, 4, (uint32_t)(new >> 32));
	fd_pci_rescan_bars(t.d);
	ASSERT_EQ(fd_pci(t.d)->bar_addr[2], new);
	fd_dev_config_read(t.d, 0, &c, sizeof(c));
	ASSERT_EQ(le64toh(c.start), new);
	ASSERT_TRUE(fd_ptr(t.g, old, 1) == NULL);
	ASSERT_EQ(*(uint8_t *)fd_ptr(t.g, new + 5, 1), pattern(5));
	/* memory decoding off: the region is unmapped and start reads 0 (read through the
	 * generic device: the config window in BAR 0 is off too) */
	fd_pci_cfg_write(t.d, PCI_COMMAND, 2,
			 fd_pci_cfg_read(t.d, PCI_COMMAND, 2) & ~(uint32_t)PCI_COMMAND_MEMORY);
	ASSERT_TRUE(fd_ptr(t.g, new, 1) == NULL);
	pthread_mutex_lock(&t.vdev->lock);
	virtio_config_read(t.vdev, 0, &c, sizeof(c));
	pthread_mutex_unlock(&t.vdev->lock);
	ASSERT_EQ(le64toh(c.start), 0);
	ASSERT_EQ(le64toh(c.size), PMEM_ALIGN);
	/* and back on: mapped again where BAR 2 points */
	fd_pci_cfg_write(t.d, PCI_COMMAND, 2,
			 fd_pci_cfg_read(t.d, PCI_COMMAND, 2) | PCI_COMMAND_MEMORY);
	fd_dev_config_read(t.d, 0, &c, sizeof(c));
	ASSERT_EQ(le64toh(c.start), new);
	pt_close(&t);
}

/* --- FLUSH --- */

static void check_flush_durable(enum fd_transport tr, enum ring r)
{
	struct pt t;
	uint8_t back[64];
	const char msg[] = "stored through the pmem mapping";
	bool wb;

	pt_open(&t, tr, 2 * PMEM_ALIGN, false, ring_want(r), true);
	ASSERT_EQ(!!(t.d->features & BIT(VIRTIO_F_RING_PACKED)), r == PACKED);
	wb = file_has_writeback(t.fd);
	/* the guest stores into the region (a page in the middle, and the last bytes) */
	memcpy(t.view + PMEM_ALIGN + 100, msg, sizeof(msg));
	memcpy(t.view + t.size - 4, "tail", 4);
	/* dirty now (unless the kernel's background writeback was quicker: no assertion) */
	ASSERT_OK(mapping_dirty_kb(t.vdev->shm[0].hva));
	ASSERT_EQ(pt_flush(&t), VIRTIO_PMEM_RESP_TYPE_OK);
	/* written back: nothing of the mapping is dirty any more */
	if (wb)
		ASSERT_EQ(mapping_dirty_kb(t.vdev->shm[0].hva), 0);
	/* and the file has it, read through another descriptor */
	ASSERT_EQ(pread(t.fd, back, sizeof(msg), PMEM_ALIGN + 100), (ssize_t)sizeof(msg));
	ASSERT_MEM_EQ(back, msg, sizeof(msg));
	ASSERT_EQ(pread(t.fd, back, 4, (off_t)t.size - 4), 4);
	ASSERT_MEM_EQ(back, "tail", 4);
	/* a second flush with nothing dirty succeeds as well */
	ASSERT_EQ(pt_flush(&t), VIRTIO_PMEM_RESP_TYPE_OK);
	pt_close(&t);
}
PT_TESTS_EACH_RING(flush_durable)

/* The worker thread (no manual mode) answers, and interrupts the driver. */
static void check_flush_worker(enum fd_transport tr)
{
	struct pt t;

	pt_open(&t, tr, PMEM_ALIGN, false, FD_FEATURES_ALL, false);
	t.view[7] = 0x42;
	ASSERT_EQ(pt_flush(&t), VIRTIO_PMEM_RESP_TYPE_OK);
	ASSERT_EQ(pt_request(&t, 9, 0), VIRTIO_PMEM_RESP_TYPE_EIO);
	ASSERT_EQ(pt_flush(&t), VIRTIO_PMEM_RESP_TYPE_OK);
	pt_close(&t);
}
PT_TESTS(flush_worker)

/* Several requests, direct and indirect, published together and answered in order. */
static void check_flush_batch(enum fd_transport tr, enum ring r)
{
	struct pt t;
	uint64_t resp[8];
	int head[8];
	uint16_t id;
	uint32_t len;

	pt_open(&t, tr, PMEM_ALIGN, false, ring_want(r), true);
	for (unsigned int i = 0; i < 8; i++) {
		uint32_t type = i == 5 ? 77 : VIRTIO_PMEM_REQ_TYPE_FLUSH;
		struct fd_seg s[2] = {
			{pt_req_buf(&t, type, 4), 4},
			{pt_resp_buf(&t, 4), 4},
		};

		t.view[i * PAGE] = (uint8_t)i;
		resp[i] = s[1].gpa;
		head[i] = fd_vq_add(t.q, s, 1, 1, i % 2 ? FD_INDIRECT : 0);
		ASSERT_OK(head[i]);
	}
	fd_vq_kick(t.q);
	for (unsigned int i = 0; i < 8; i++) {
		ASSERT_EQ(fd_vq_wait_used(t.q, &id, &len, WAIT_MS), 1);
		ASSERT_EQ(id, head[i]);
		ASSERT_EQ(len, 4);
		ASSERT_EQ(pt_ret(&t, resp[i]),
			  i == 5 ? VIRTIO_PMEM_RESP_TYPE_EIO : VIRTIO_PMEM_RESP_TYPE_OK);
	}
	ASSERT_EQ(fd_vq_used(t.q, &id, &len), 0);
	pt_close(&t);
}
PT_TESTS_EACH_RING(flush_batch)

/* Request and response split over several segments, with extra bytes the device ignores. */
TEST(pmem_flush_split_segments)
{
	struct pt t;
	uint64_t req = 0, r1, r2;
	uint8_t *p;

	pt_open(&t, FD_MMIO, PMEM_ALIGN, false, FD_FEATURES_ALL, true);
	req = pt_req_buf(&t, VIRTIO_PMEM_REQ_TYPE_FLUSH, 12); /* 8 bytes of trailing junk */
	memset(fd_ptr(t.g, req + 4, 8), 0xab, 8);
	r1 = pt_resp_buf(&t, 2);
	r2 = pt_resp_buf(&t, 16);
	{
		struct fd_seg s[4] = {{req, 1}, {req + 1, 11}, {r1, 2}, {r2, 16}};

		ASSERT_EQ(pt_run(&t, s, 2, 2, 0), 4);
	}
	p = fd_ptr(t.g, r1, 2);
	ASSERT_EQ(p[0], 0);
	ASSERT_EQ(p[1], 0);
	p = fd_ptr(t.g, r2, 16);
	ASSERT_EQ(p[0], 0);
	ASSERT_EQ(p[1], 0);
	ASSERT_EQ(p[2], 0xee); /* nothing past the 4-byte response */
	ASSERT_EQ(p[15], 0xee);
	pt_close(&t);
}

/* --- malformed requests: answered with EIO where a response fits --- */

static void check_bad_requests(enum fd_transport tr, enum ring r)
{
	struct pt t;

	pt_open(&t, tr, PMEM_ALIGN, false, ring_want(r), true);
	/* unknown types */
	ASSERT_EQ(pt_request(&t, 1, 0), VIRTIO_PMEM_RESP_TYPE_EIO);
	ASSERT_EQ(pt_request(&t, 0xffffffffU, FD_INDIRECT), VIRTIO_PMEM_RESP_TYPE_EIO);
	/* a 3-byte request */
	{
		struct fd_seg s[2] = {{pt_req_buf(&t, 0, 3), 3}, {pt_resp_buf(&t, 4), 4}};

		ASSERT_EQ(pt_run(&t, s, 1, 1, 0), 4);
		ASSERT_EQ(pt_ret(&t, s[1].gpa), VIRTIO_PMEM_RESP_TYPE_EIO);
	}
	/* no request at all, only the response */
	{
		struct fd_seg s[1] = {{pt_resp_buf(&t, 4), 4}};

		ASSERT_EQ(pt_run(&t, s, 0, 1, 0), 4);
		ASSERT_EQ(pt_ret(&t, s[0].gpa), VIRTIO_PMEM_RESP_TYPE_EIO);
	}
	/* a zero-length readable segment in front of a good request */
	{
		uint64_t req = pt_req_buf(&t, 0, 4);
		struct fd_seg s[3] = {{req, 0}, {req, 4}, {pt_resp_buf(&t, 4), 4}};

		ASSERT_EQ(pt_run(&t, s, 2, 1, 0), 4);
		ASSERT_EQ(pt_ret(&t, s[2].gpa), VIRTIO_PMEM_RESP_TYPE_OK);
	}
	/* none of this broke the device */
	ASSERT_FALSE(fd_dev_status(t.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ASSERT_EQ(pt_flush(&t), VIRTIO_PMEM_RESP_TYPE_OK);
	pt_close(&t);
}
PT_TESTS_EACH_RING(bad_requests)

/* No room for the 4-byte response: nothing can be answered, the device needs a reset; after
 * the driver resets it, it works again. */
static void check_no_response_space(enum fd_transport tr, enum ring r)
{
	for (uint32_t n_in = 0; n_in < 2; n_in++) {
		struct pt t;
		uint64_t resp;
		uint32_t len;
		uint16_t id;

		pt_open(&t, tr, PMEM_ALIGN, false, ring_want(r), true);
		resp = pt_resp_buf(&t, 3);
		{
			struct fd_seg s[2] = {{pt_req_buf(&t, 0, 4), 4}, {resp, 3}};

			ASSERT_OK(fd_vq_add(t.q, s, 1, n_in, 0));
		}
		fd_vq_kick(t.q);
		ASSERT_TRUE(fd_dev_status(t.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
		/* the chain is returned with nothing written */
		ASSERT_EQ(fd_vq_used(t.q, &id, &len), 1);
		ASSERT_EQ(len, 0);
		ASSERT_EQ(*(uint8_t *)fd_ptr(t.g, resp, 1), 0xee);
		/* later requests are not served until the reset */
		{
			struct fd_seg s[2] = {{pt_req_buf(&t, 0, 4), 4}, {pt_resp_buf(&t, 4), 4}};

			ASSERT_OK(fd_vq_add(t.q, s, 1, 1, 0));
			fd_vq_kick(t.q);
			ASSERT_EQ(fd_vq_used(t.q, &id, &len), 0);
		}
		ASSERT_OK(fd_dev_start(t.d, ring_want(r)));
		t.q = fd_dev_vq(t.d, 0);
		ASSERT_EQ(pt_flush(&t), VIRTIO_PMEM_RESP_TYPE_OK);
		pt_close(&t);
	}
}
PT_TESTS_EACH_RING(no_response_space)

/* A broken ring (head index out of range) goes through the usual core path. */
static void check_broken_ring(enum fd_transport tr)
{
	struct pt t;

	pt_open(&t, tr, PMEM_ALIGN, false, ring_want(SPLIT), true);
	fd_vq_publish(t.q, 999);
	fd_vq_kick(t.q);
	ASSERT_TRUE(fd_dev_status(t.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ASSERT_OK(fd_dev_start(t.d, ring_want(SPLIT)));
	t.q = fd_dev_vq(t.d, 0);
	ASSERT_EQ(pt_flush(&t), VIRTIO_PMEM_RESP_TYPE_OK);
	pt_close(&t);
}
PT_TESTS(broken_ring)

/* The region and its contents outlive a device reset (a driver reload). */
static void check_reset_keeps_region(enum fd_transport tr)
{
	struct pt t;
	struct virtio_pmem_config c;
	uint8_t back;

	pt_open(&t, tr, PMEM_ALIGN, false, FD_FEATURES_ALL, true);
	t.view[3] = 0x99;
	fd_dev_reset(t.d);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	t.q = fd_dev_vq(t.d, 0);
	fd_dev_config_read(t.d, 0, &c, sizeof(c));
	ASSERT_EQ(le64toh(c.start), t.start);
	ASSERT_EQ(le64toh(c.size), PMEM_ALIGN);
	ASSERT_EQ(*(uint8_t *)fd_ptr(t.g, t.start + 3, 1), 0x99);
	ASSERT_EQ(pt_flush(&t), VIRTIO_PMEM_RESP_TYPE_OK);
	ASSERT_EQ(pread(t.fd, &back, 1, 3), 1);
	ASSERT_EQ(back, 0x99);
	pt_close(&t);
}
PT_TESTS(reset_keeps_region)

/* fdatasync fails (the device's descriptor now refers to a pipe): EIO, and every later flush
 * fails too, even once the file is back, since the lost dirty pages are not coming back. */
static void check_flush_error_sticky(enum fd_transport tr)
{
	struct pt t;
	char self[64];
	int dfd, pfd[2], again;

	pt_open(&t, tr, PMEM_ALIGN, false, FD_FEATURES_ALL, true);
	dfd = device_fd(&t);
	ASSERT_OK(pipe(pfd));
	ASSERT_OK(dup2(pfd[0], dfd));
	t.view[0] = 1;
	ASSERT_EQ(pt_flush(&t), VIRTIO_PMEM_RESP_TYPE_EIO);
	snprintf(self, sizeof(self), "/proc/self/fd/%d", t.fd);
	again = open(self, O_RDWR);
	ASSERT_OK(again);
	ASSERT_OK(dup2(again, dfd));
	ASSERT_OK(fdatasync(dfd));
	ASSERT_EQ(pt_flush(&t), VIRTIO_PMEM_RESP_TYPE_EIO);
	ASSERT_EQ(pt_flush(&t), VIRTIO_PMEM_RESP_TYPE_EIO);
	close(again);
	close(pfd[0]);
	close(pfd[1]);
	pt_close(&t);
}
PT_TESTS(flush_error_sticky)

/* --- read-only: guest writes stay private --- */

static void check_read_only(enum fd_transport tr)
{
	struct pt t;
	struct virtio_pmem_config c;
	uint8_t back[8];
	int dfd;

	pt_open(&t, tr, PMEM_ALIGN, true, FD_FEATURES_ALL, true);
	dfd = device_fd(&t);
	ASSERT_EQ(fcntl(dfd, F_GETFL) & O_ACCMODE, O_RDONLY);
	fd_dev_config_read(t.d, 0, &c, sizeof(c));
	ASSERT_EQ(le64toh(c.size), PMEM_ALIGN);
	ASSERT_EQ(t.view[1], pattern(1));
	memcpy(t.view, "private!", 8);
	ASSERT_EQ(pt_flush(&t), VIRTIO_PMEM_RESP_TYPE_OK);
	ASSERT_MEM_EQ(t.view, "private!", 8); /* the guest keeps seeing its own write */
	ASSERT_EQ(pread(t.fd, back, 8, 0), 8);
	for (unsigned int i = 0; i < 8; i++)
		ASSERT_EQ(back[i], pattern(i)); /* the file never changes */
	/* a change made to the file before the guest touched a page shows through */
	back[0] = 0x77;
	ASSERT_EQ(pwrite(t.fd, back, 1, 2 * PAGE), 1);
	ASSERT_EQ(t.view[2 * PAGE], 0x77);
	pt_close(&t);
}
PT_TESTS(read_only)

/* --- creation errors --- */

static void create_sized(struct fd_guest *g, uint64_t size, bool ro, int want)
{
	struct pt t;
	struct pmem_config cfg = {.read_only = ro};
	struct virtio_dev *vdev = NULL;
	int r;

	memset(&t, 0, sizeof(t));
	pt_file(&t, size);
	cfg.path = t.path;
	r = pmem_create(&g->gm, 1, &cfg, &vdev);
	unlink(t.path);
	close(t.fd);
	ASSERT_EQ(r, want);
	if (r == 0) {
		ASSERT_STR_EQ(vdev->name, "pmem1");
		ASSERT_EQ(vdev->n_shm, 1);
		ASSERT_EQ(vdev->shm[0].id, VIRTIO_PMEM_SHMEM_REGION_ID);
		ASSERT_EQ(vdev->shm[0].size, size);
		ASSERT_EQ(vdev->shm[0].gpa, 0);
		virtio_dev_destroy(vdev);
	}
}

TEST(pmem_create_errors)
{
	struct fd_guest *g = fd_guest_new(1 << 20);
	struct pmem_config cfg = {.path = "/nonexistent/microvm.pmem"};
	struct virtio_dev *vdev;

	ASSERT_ERR(pmem_create(&g->gm, 0, &cfg, &vdev), -ENOENT);
	cfg.path = "/tmp";
	ASSERT_ERR(pmem_create(&g->gm, 0, &cfg, &vdev), -EISDIR);
	cfg.read_only = true;
	ASSERT_ERR(pmem_create(&g->gm, 0, &cfg, &vdev), -EISDIR);
	for (int ro = 0; ro < 2; ro++) {
		create_sized(g, 0, ro, -EINVAL);
		create_sized(g, PAGE, ro, -EINVAL);
		create_sized(g, PMEM_ALIGN / 2, ro, -EINVAL);
		create_sized(g, PMEM_ALIGN + PAGE, ro, -EINVAL);
		create_sized(g, 3 * PMEM_ALIGN - 1, ro, -EINVAL);
		create_sized(g, PMEM_ALIGN, ro, 0);
		create_sized(g, 3 * PMEM_ALIGN, ro, 0);
	}
	fd_guest_free(g);
}
