/* SPDX-License-Identifier: MIT */
#ifndef TESTS_FAKEDRV_FAKEDRV_H
#define TESTS_FAKEDRV_FAKEDRV_H

/*
 * A fake virtio driver that runs on the host (STYLE.md section 12): fake guest RAM, split or
 * packed rings at spec alignment, and the register sequence of a real driver over virtio-mmio
 * (fd_dev_new()) or virtio-pci (fd_dev_new_pci()), driven through the transports' real
 * register handlers. Test code only; every allocation failure aborts the test.
 *
 * Usage, in a device test (tests/unit/test_rng.c):
 *
 *	struct fd_guest *g = fd_guest_new(1 << 20);	   // 1 MiB of RAM at FD_GUEST_BASE
 *	struct virtio_dev *vdev;
 *	ASSERT_OK(rng_create(&g->gm, ..., &vdev));	   // the device under test
 *	struct fd_dev *d = fd_dev_new(g, vdev);		   // virtio-mmio around it
 *	// or fd_dev_new_on(FD_PCI, g, vdev) for virtio-pci
 *	ASSERT_OK(fd_dev_start(d, FD_FEATURES_ALL));	   // ACK..FEATURES_OK, rings, DRIVER_OK
 *	struct fd_vq *q = fd_dev_vq(d, 0);
 *	uint64_t buf = fd_alloc(g, 64, 8);		   // guest address of a buffer
 *	struct fd_seg seg = { buf, 64 };
 *	ASSERT_OK(fd_vq_add(q, &seg, 0, 1, 0));	   // 0 readable, 1 writable; FD_INDIRECT
 *	fd_vq_kick(q);					   // notify (QueueNotify on MMIO)
 *	uint16_t id; uint32_t len;
 *	ASSERT_EQ(fd_vq_wait_used(q, &id, &len, 1000), 1); // waits with fd_dev_wait_irq()
 *	uint8_t *p = fd_ptr(g, buf, len);		   // host view of the buffer
 *	fd_dev_free(d);	   // status 0, virtio_dev_destroy() (frees the device)
 *	fd_guest_free(g);
 *
 * Deterministic variant without the worker thread: call fd_dev_set_manual(d) before
 * fd_dev_start(); then fd_vq_kick() runs the device's queue handlers on the calling thread
 * (virtio_dev_run_once()), and fd_vq_used() sees the result right after the kick.
 *
 * Hostile tests write raw descriptors / ring fields through the public fields of struct fd_vq
 * (desc/avail/used are host pointers into the fake RAM) and fd_vq_publish().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/mmio.h"
#include "devices/virtio/virtio.h"
#include "vmm/guest_mem.h"

struct fd_pci; /* tests/fakedrv/fd_pci.c: virtio-pci transport, fake platform, found caps */

struct vring_desc;
struct vring_avail;
struct vring_used;
struct vring_packed_desc;
struct vring_packed_desc_event;

/* Guest-physical base of the main fake RAM region (nonzero, so gpa 0 is never valid). */
#define FD_GUEST_BASE 0x100000ULL
/* fd_dev_start(): accept every feature the device offers. */
#define FD_FEATURES_ALL (~0ULL)
/* fd_vq_add() flag: put the chain in one indirect table (needs INDIRECT_DESC). */
#define FD_INDIRECT 1u

struct fd_guest {
	struct guest_mem gm;
	uint8_t *ram; /* main region: [FD_GUEST_BASE, FD_GUEST_BASE + size) */
	uint64_t size;
	uint64_t brk; /* bump allocator, next free gpa */
	void *extra[GMEM_MAX_REGIONS];
	unsigned int n_extra;
};

/* A guest buffer: guest-physical address and length. */
struct fd_seg {
	uint64_t gpa;
	uint32_t len;
};

struct fd_vq {
	struct fd_dev *dev; /* NULL for a standalone queue (fd_vq_init()) */
	struct fd_guest *g;
	unsigned int index;
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vring_desc *desc; /* host views of the rings */
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx; /* driver's shadow of avail->idx */
	uint16_t last_used; /* next used entry to read */
	uint16_t free_head, num_free;
	uint16_t next[VQ_MAX_SIZE];	 /* shadow of desc[].next: the free list and chains */
	uint16_t chain_len[VQ_MAX_SIZE]; /* descriptors owned by the chain at this head */
	uint64_t itable[VQ_MAX_SIZE];	 /* indirect table of the chain at this head (gpa) */
	uint16_t itable_cap[VQ_MAX_SIZE];
	bool event_manual; /* fd_vq_set_used_event() called: stop moving used_event */
	/* Packed ring (VIRTIO_F_RING_PACKED negotiated), tests/fakedrv/fd_packed.c. pdesc is
	 * then the descriptor ring (desc/avail/used NULL), the event suppression areas are at
	 * driver_event (avail_gpa) / device_event (used_gpa); itable[] is indexed by buffer id. */
	bool packed;
	struct vring_packed_desc *pdesc;
	struct vring_packed_desc_event *driver_event, *device_event;
	uint16_t next_avail;		/* next ring slot the driver fills */
	bool avail_wrap;		/* driver's wrap counter */
	uint16_t next_used;		/* next ring slot the driver reads back */
	bool used_wrap;			/* wrap counter expected in the next used descriptor */
	uint16_t free_ids[VQ_MAX_SIZE]; /* buffer ids not in flight (stack) */
	uint16_t n_free_ids;
	uint16_t id_slots[VQ_MAX_SIZE]; /* ring slots the chain with this id took (0: free) */
};

enum fd_transport { FD_MMIO, FD_PCI };

/* Transport-independent interrupt causes, as fd_dev_wait_irq() reports them. */
#define FD_IRQ_VRING  1u
#define FD_IRQ_CONFIG 2u

/*
 * What the generic fake driver asks of a transport (tests/fakedrv/fd_transport.h has the
 * table; fakedrv.c implements MMIO, fd_pci.c PCI).
 */
struct fd_transport_ops;

struct fd_dev {
	struct fd_guest *g;
	struct virtio_dev *vdev;
	enum fd_transport transport;
	const struct fd_transport_ops *tops;
	struct virtio_mmio mmio; /* FD_MMIO */
	struct fd_pci *pci;	 /* FD_PCI */
	uint64_t features;	 /* negotiated by fd_dev_start() */
	/* ACCESS_PLATFORM tests: added to every ring address the driver programs (the test's
	 * fake IOMMU subtracts it again). Buffer addresses are the test's own business. */
	uint64_t iova_offset;
	unsigned int num_queues;
	uint16_t qsize[VIRTIO_MAX_QUEUES]; /* 0: use QueueNumMax */
	bool manual;
	struct fd_vq vqs[VIRTIO_MAX_QUEUES];
};

/* Fake RAM: size bytes (zeroed) at FD_GUEST_BASE. */
struct fd_guest *fd_guest_new(size_t size);
/* One more RAM region of size bytes at gpa (zeroed); returns its host pointer. */
void *fd_guest_add_region(struct fd_guest *g, uint64_t gpa, size_t size);
void fd_guest_free(struct fd_guest *g);
/* Bump-allocate len bytes (zeroed) at the given power-of-two alignment; returns the gpa. */
uint64_t fd_alloc(struct fd_guest *g, size_t len, size_t align);
/* Host pointer for [gpa, gpa + len), or NULL (gmem_range()). */
void *fd_ptr(struct fd_guest *g, uint64_t gpa, size_t len);

/* Wrap vdev in a virtio-mmio transport (virtio_mmio_init()) and check MagicValue / Version.
 * Nothing is written yet. */
struct fd_dev *fd_dev_new(struct fd_guest *g, struct virtio_dev *vdev);
/* Wrap vdev in a virtio-pci transport on a fake PCI bus with a fake KVM platform (eventfds
 * stand in for irqfds), walk the config space the way Linux's virtio_pci_modern does (vendor
 * and device ID, capability list, BAR addresses) and enable MSI-X with one vector per queue
 * plus one for config changes (fd_pci_set_msix() before fd_dev_start() changes that). */
struct fd_dev *fd_dev_new_pci(struct fd_guest *g, struct virtio_dev *vdev);
/* fd_dev_new() or fd_dev_new_pci(): for tests that run on both transports. */
struct fd_dev *fd_dev_new_on(enum fd_transport t, struct fd_guest *g, struct virtio_dev *vdev);
/* Reset the device (status 0), destroy it (virtio_dev_destroy()) and free d. */
void fd_dev_free(struct fd_dev *d);
/* No worker thread: kicks run the handlers synchronously. Call before fd_dev_start(). */
void fd_dev_set_manual(struct fd_dev *d);
/* Use a queue size other than QueueNumMax for queue q. Call before fd_dev_start(). */
void fd_dev_set_qsize(struct fd_dev *d, unsigned int q, uint16_t size);

/* MMIO only: 32-bit register access through virtio_mmio_read()/virtio_mmio_write(). */
uint32_t fd_mmio_read(struct fd_dev *d, uint32_t off);
void fd_mmio_write(struct fd_dev *d, uint32_t off, uint32_t val);
uint8_t fd_dev_status(struct fd_dev *d);

/*
 * The driver initialisation of VIRTIO 1.2 "Device Initialization": reset, ACKNOWLEDGE, DRIVER,
 * features (offered & want; VERSION_1 is always kept), FEATURES_OK and re-read, set up every
 * queue the device has (QueueNumMax != 0) with fresh rings, DRIVER_OK.
 * Returns 0; -EIO if FEATURES_OK did not stick; -ENODEV if the device set
 * DEVICE_NEEDS_RESET instead of going live.
 */
int fd_dev_start(struct fd_dev *d, uint64_t want);
/* Steps of fd_dev_start() for tests of the start sequence itself. */
int fd_dev_negotiate(struct fd_dev *d, uint64_t want); /* up to FEATURES_OK */
void fd_dev_setup_queues(struct fd_dev *d);	       /* rings + QueueReady */
/* Write status 0 and forget the rings' driver state. */
void fd_dev_reset(struct fd_dev *d);

/* Transport-independent steps (dispatch through d->tops). */
uint32_t fd_dev_config_generation(struct fd_dev *d);
/* Per-queue reset (RING_RESET): write 1, wait for the register to read 0; then the queue is
 * disabled. fd_vq_reenable() lays out fresh rings and enables it again. */
void fd_vq_reset(struct fd_vq *q);
void fd_vq_reenable(struct fd_vq *q);
/* Whether the transport reports queue q enabled (QueueReady / queue_enable). */
bool fd_dev_queue_enabled(struct fd_dev *d, unsigned int q);
/* Shared memory region id: 0 with base and len filled (guest address), -ENOENT when absent. */
int fd_dev_shm(struct fd_dev *d, uint8_t id, uint64_t *base, uint64_t *len);
/* Write a raw value to queue q's notify register (hostile tests; fd_vq_kick() computes the
 * right value itself, with NOTIFICATION_DATA / NOTIF_CONFIG_DATA when negotiated). In manual
 * mode the device then runs once. */
void fd_dev_notify_raw(struct fd_dev *d, unsigned int q, uint32_t value);

/* Device config space through the transport (MMIO window at VIRTIO_MMIO_CONFIG, PCI device
 * cfg capability; natural widths). */
void fd_dev_config_read(struct fd_dev *d, uint32_t off, void *buf, uint32_t len);
void fd_dev_config_write(struct fd_dev *d, uint32_t off, const void *buf, uint32_t len);
/* fd_dev_config_read() inside the generation check of "Device Configuration Space" (retry
 * while the generation changes, like Linux's virtio_cread_bytes()). Returns the number of
 * attempts (>= 1), -EAGAIN after 1000. */
int fd_dev_config_read_stable(struct fd_dev *d, uint32_t off, void *buf, uint32_t len);

/* Wait up to timeout_ms for an interrupt (MMIO: irq eventfd, then InterruptStatus + ACK; PCI:
 * the MSI-X vector eventfds, or INTx + ISR read). Returns FD_IRQ_* bits, 0 on timeout. */
uint32_t fd_dev_wait_irq(struct fd_dev *d, int timeout_ms);

struct fd_vq *fd_dev_vq(struct fd_dev *d, unsigned int q);

/* Lay out fresh rings for a queue of `size` entries in g, with no device around it (for
 * tests of virtqueue.c alone; fd_vq_kick() needs a device). */
void fd_vq_init(struct fd_vq *q, struct fd_guest *g, uint16_t size);
/* The same for a packed ring (fd_packed.c): descriptor ring and both event areas. */
void fd_vq_init_packed(struct fd_vq *q, struct fd_guest *g, uint16_t size);
/* The notification data of the next kick, already in bits 16-31 (OR in the queue index):
 * split: avail idx (15 bits) + bit 15 of it; packed: next_off + avail wrap counter. */
uint32_t fd_vq_notify_data(const struct fd_vq *q);

/*
 * Post a chain: segs[0..n_out) device-readable, then segs[n_out..n_out+n_in) device-writable.
 * flags: FD_INDIRECT. Publishes it (release fence, avail->idx++; packed: the first
 * descriptor's flags last). Returns the head index (packed: the buffer id), -ENOSPC when the
 * ring has no free descriptors (packed: or no free buffer id).
 */
int fd_vq_add(struct fd_vq *q, const struct fd_seg *segs, unsigned int n_out, unsigned int n_in,
	      unsigned int flags);
/* Put head into the next avail slot and bump avail->idx (for raw, hand-written chains).
 * Packed: `head` is the number of slots the hand-written list fills from next_avail; sets
 * their AVAIL/USED bits for the lap (the first one last) and moves next_avail past them. */
void fd_vq_publish(struct fd_vq *q, uint16_t head);
/* QueueNotify; in manual mode also run the device once. */
void fd_vq_kick(struct fd_vq *q);
/* Take the next used element: 1 with *id and *len filled, 0 if none. Frees the descriptors of
 * chains posted with fd_vq_add() and, unless fd_vq_set_used_event() took over, moves
 * used_event to the next entry (as Linux does). */
int fd_vq_used(struct fd_vq *q, uint16_t *id, uint32_t *len);
/* fd_vq_used(), waiting up to timeout_ms for interrupts. Returns 1 or 0 (timeout). */
int fd_vq_wait_used(struct fd_vq *q, uint16_t *id, uint32_t *len, int timeout_ms);
/* Notification suppression, driver side: used_event (EVENT_IDX) and NO_INTERRUPT. Packed:
 * idx is the driver area off_wrap (slot | wrap << 15), set with mode DESC; NO_INTERRUPT is
 * mode DISABLE (off: back to DESC after fd_vq_set_used_event(), else ENABLE). */
void fd_vq_set_used_event(struct fd_vq *q, uint16_t idx);
void fd_vq_set_no_interrupt(struct fd_vq *q, bool on);
/* Device side hints: used->flags NO_NOTIFY and avail_event (EVENT_IDX). Packed: device area
 * mode DISABLE, and its off_wrap. */
bool fd_vq_no_notify(struct fd_vq *q);
uint16_t fd_vq_avail_event(struct fd_vq *q);

#endif /* TESTS_FAKEDRV_FAKEDRV_H */
