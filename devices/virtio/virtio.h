/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_VIRTIO_H
#define DEVICES_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_config.h>

#include "devices/virtio/virtqueue.h"

/* VIRTIO 1.2 "Reserved Feature Bits" that Debian 12's Linux 6.1 uapi headers lack. */
#ifndef VIRTIO_F_NOTIFICATION_DATA
#define VIRTIO_F_NOTIFICATION_DATA 38
#endif
#ifndef VIRTIO_F_NOTIF_CONFIG_DATA
#define VIRTIO_F_NOTIF_CONFIG_DATA 39
#endif
#ifndef VIRTIO_F_RING_RESET
#define VIRTIO_F_RING_RESET 40
#endif

/* Shared memory regions are mapped with page granularity. */
#define VIRTIO_SHM_ALIGN 4096ULL

struct guest_mem;
struct virtio_dev;

#define VIRTIO_MAX_QUEUES    17 /* virtio-net: 8 queue pairs + the control queue */
#define VIRTIO_MAX_WATCH_FDS 12 /* virtio-net: a tap fd per pair + timers */
#define VIRTIO_MAX_SHM	     4

/*
 * What a device file provides; const, one per device type. The generic device (core.c) does
 * status, feature negotiation, queue setup and the worker thread; the transports only translate
 * registers into calls on the generic device.
 */
struct virtio_dev_ops {
	const char *name;   /* "blk": thread "v-blk0", log prefix "blk0:" */
	uint32_t device_id; /* VIRTIO_ID_* */
	uint16_t num_queues;
	uint16_t queue_max_size; /* <= VQ_MAX_SIZE */
	/* vCPU thread, vdev->lock held. Device-specific feature bits to offer (core adds
	 * VERSION_1, INDIRECT_DESC, EVENT_IDX). */
	uint64_t (*features)(struct virtio_dev *vdev);
	/* vCPU thread, vdev->lock held; off/len already checked against config_size. */
	uint32_t config_size;
	void (*config_read)(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len);
	void (*config_write)(struct virtio_dev *vdev, uint32_t off, const void *buf, uint32_t len);
	/* vCPU thread, vdev->lock held, at DRIVER_OK with every ready queue validated, before the
	 * worker starts. Nonzero: the device refuses (it goes to DEVICE_NEEDS_RESET). */
	int (*activate)(struct virtio_dev *vdev);
	/* vCPU thread, vdev->lock held, worker already joined: drop per-activation state. */
	void (*reset)(struct virtio_dev *vdev);
	/* VIRTIO_F_RING_RESET: queue q alone is reset (worker stopped meanwhile); drop what the
	 * device holds of that queue (in-flight chains are not pushed afterwards). Optional. */
	void (*queue_reset)(struct virtio_dev *vdev, unsigned int q);
	/* Worker thread: queue q was kicked (or the worker just started). */
	void (*queue_notify)(struct virtio_dev *vdev, unsigned int q);
	/* Worker thread: a fd registered with virtio_dev_watch_fd() is ready. */
	void (*backend_event)(struct virtio_dev *vdev, int fd, uint32_t events);
	/* Main thread, after the device is stopped: free the device. */
	void (*destroy)(struct virtio_dev *vdev);
};

/* How the generic device raises interrupts; set by the transport (mmio.c, pci.c). */
struct virtio_transport_ops {
	void (*signal_queue)(struct virtio_dev *vdev, unsigned int q);
	void (*signal_config)(struct virtio_dev *vdev);
	/* Transport-specific feature bits the core may offer on top of its own (PCI:
	 * VIRTIO_F_NOTIF_CONFIG_DATA, which MMIO has no register for). */
	uint64_t features;
};

/*
 * A shared memory region ("Shared Memory Regions"): host memory the device and the driver
 * both see. The device declares it (virtio_dev_add_shm(), before the transport binds); the
 * transport exposes it (MMIO SHM registers, PCI cfg_type 8 in a 64-bit BAR) and has the VMM
 * map it into guest physical space, then records where in gpa.
 */
struct virtio_shm {
	uint8_t id;
	uint64_t size; /* page multiple */
	void *hva;     /* page-aligned, size bytes, owned by the device */
	uint64_t gpa;  /* set by the transport; 0 while unmapped */
};

/* Control-plane view of one queue, as the transport registers program it. */
struct virtio_queue {
	struct vq_addrs addrs;
	uint16_t size; /* QueueNum; defaults to the maximum */
	bool ready;    /* QueueReady */
	int kick_fd;   /* eventfd: ioeventfd target, or written by the transport itself */
	struct vq vq;  /* data plane, valid while the worker runs */
	/* VIRTIO_F_RING_RESET: set by virtio_queue_reset(), cleared when the queue is enabled
	 * again or the device is reset. */
	bool was_reset;
	/* VIRTIO_F_NOTIFICATION_DATA: the last notify value the transport saw for this queue
	 * (bits 16-31: next_off / next_wrap), and how many it saw. Atomic. */
	uint32_t notify_data;
	uint32_t notify_count;
};

/*
 * One virtio device instance. Embedded first in each device's struct (container_of back).
 * Control-plane fields are touched only under `lock` (vCPU threads, transports); the queues'
 * data plane only by the worker thread while it runs.
 */
struct virtio_dev {
	const struct virtio_dev_ops *ops;
	const struct virtio_transport_ops *transport;
	void *transport_data;
	const struct guest_mem *gm;
	char name[16]; /* "blk0" */
	pthread_mutex_t lock;
	uint32_t status; /* device status byte; atomic loads/stores (needs-reset from worker) */
	uint64_t offered_features;
	uint64_t driver_features; /* acked, always a subset of offered */
	uint32_t config_generation;
	unsigned int num_queues;
	struct virtio_queue queues[VIRTIO_MAX_QUEUES];
	int irq_fd;   /* eventfd: the transport's interrupt (irqfd); written to signal */
	uint32_t isr; /* VIRTIO_MMIO_INT_VRING / _CONFIG bits, atomic */
	bool active;  /* ops->activate() succeeded; ops->reset() is due at reset */
	struct virtio_shm shm[VIRTIO_MAX_SHM];
	unsigned int n_shm;
	/* VIRTIO_F_ACCESS_PLATFORM: offer it (the VMM's per-device option), and the
	 * translation ring addresses go through once it is negotiated (NULL: identity, i.e. no
	 * IOMMU yet; virtio-iommu plugs in here). */
	bool offer_access_platform;
	const struct vq_iommu *iommu;
	/* Per-device option: do not offer VIRTIO_F_RING_PACKED. */
	bool no_packed;
	/* worker */
	pthread_t worker;
	bool worker_running;
	int kill_fd;
	int epoll_fd; /* the worker's, -1 while it is not running */
	int watch_fds[VIRTIO_MAX_WATCH_FDS];
	uint32_t watch_events[VIRTIO_MAX_WATCH_FDS];
	unsigned int n_watch_fds;
	bool manual; /* tests/fuzzers: no worker thread, see virtio_dev_set_manual() */
	bool paused; /* virtio_dev_pause(): the worker is stopped until virtio_dev_resume() */
	/* virtio_dev_spawn_worker(): one thread for the device's life, woken per activation */
	bool persistent;
	pthread_mutex_t w_lock;
	pthread_cond_t w_cond;
	bool w_go;   /* an activation is due or running; the worker clears it when it ends */
	bool w_exit; /* the thread ends (virtio_dev_destroy) */
};

/* Set up the generic part: clears *vdev, then eventfds (irq_fd, kill_fd, one kick_fd per
 * queue), lock, name "<ops->name><index>". Call it before touching any other vdev field.
 * Returns 0, -EINVAL for an ops table past VIRTIO_MAX_QUEUES / VQ_MAX_SIZE, or -errno. */
int virtio_dev_init(struct virtio_dev *vdev, const struct virtio_dev_ops *ops,
		    const struct guest_mem *gm, unsigned int index);

/* Stop the worker, ops->reset if the device is active, close fds, ops->destroy. Main thread,
 * no transport access any more. */
void virtio_dev_destroy(struct virtio_dev *vdev);

/* Backend fds the worker should also wait on (before the device is activated). */
int virtio_dev_watch_fd(struct virtio_dev *vdev, int fd, uint32_t epoll_events);

/* --- called by transports, vCPU threads, with vdev->lock held --- */
uint8_t virtio_get_status(struct virtio_dev *vdev);
/* Applies the status state machine: 0 resets the device; FEATURES_OK is refused (bit stays
 * clear) unless the acked features are acceptable; DRIVER_OK validates the ready queues,
 * activates the device and starts its worker, or sets DEVICE_NEEDS_RESET. */
void virtio_set_status(struct virtio_dev *vdev, uint8_t status);
uint32_t virtio_get_features(struct virtio_dev *vdev, uint32_t sel);
/* Ignored unless the driver is in the negotiation window; unoffered bits are masked. */
void virtio_set_features(struct virtio_dev *vdev, uint32_t sel, uint32_t val);
/* Config space access; out-of-range bytes read as 0 and writes are dropped. */
void virtio_config_read(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len);
void virtio_config_write(struct virtio_dev *vdev, uint32_t off, const void *buf, uint32_t len);
/* The transport wrote QueueNotify without an ioeventfd: wake the worker for queue q.
 * An index past num_queues is ignored (rate-limited warning). */
void virtio_queue_kick(struct virtio_dev *vdev, uint32_t q);
/* A notify write that carries VIRTIO_F_NOTIFICATION_DATA: bits 0-15 the queue (already
 * mapped from queue_notify_data by the transport), bits 16-31 next_off/next_wrap. Records the
 * value in queues[q].notify_data and kicks q. Without the feature: same as a kick of q. */
void virtio_queue_notify_data(struct virtio_dev *vdev, uint32_t q, uint32_t value);
/* VIRTIO_F_RING_RESET (QueueReset / queue_reset = 1): stop queue q alone, drop its ring
 * state and the device's in-flight state for it (ops->queue_reset), leave q->ready false and
 * the other queues running. Synchronous: when it returns the reset is complete. Ignored
 * (warning) without the feature or before DRIVER_OK. */
void virtio_queue_reset(struct virtio_dev *vdev, uint32_t q);
/* QueueReady / queue_enable = 1. Before DRIVER_OK it just marks the queue ready; after
 * DRIVER_OK it is only valid for a queue reset with RING_RESET: the ring is validated and
 * the queue goes live (a bad ring: DEVICE_NEEDS_RESET). */
void virtio_queue_enable(struct virtio_dev *vdev, uint32_t q);

/* Device creation (before the transport binds): declare shared memory region id. -ENOSPC,
 * -EINVAL (size not a page multiple, hva not page-aligned, id taken). */
int virtio_dev_add_shm(struct virtio_dev *vdev, uint8_t id, uint64_t size, void *hva);

/* VM pause (control thread): stop the worker between two events, so no request is half
 * done; resume starts it again (a worker start failure puts the device into
 * DEVICE_NEEDS_RESET). Submitted backend I/O completes meanwhile and is pushed after resume.
 * Both idempotent. */
void virtio_dev_pause(struct virtio_dev *vdev);
void virtio_dev_resume(struct virtio_dev *vdev);

/* Create the device's worker thread now, for its whole life (the VMM does this on its control
 * thread right after creating the device, so the worker's sandbox is its own and not that
 * of the vCPU that activates the device). Without it, each activation creates a thread
 * (tests). 0 or -errno. */
int virtio_dev_spawn_worker(struct virtio_dev *vdev);

/* Set once before any device starts: runs first on every worker thread (its seccomp filter). */
extern void (*virtio_worker_thread_init)(struct virtio_dev *vdev);

/* --- any thread --- */
bool virtio_has_feature(const struct virtio_dev *vdev, unsigned int bit);
/* The guest broke the protocol: set DEVICE_NEEDS_RESET and raise a config interrupt; the
 * worker stops processing queues until the driver resets the device. Never aborts. */
void virtio_dev_needs_reset(struct virtio_dev *vdev, int err);
/* Device config changed: bump the generation and raise a config interrupt. */
void virtio_config_changed(struct virtio_dev *vdev);
/* Whether the device is in DEVICE_NEEDS_RESET (devices stop processing). */
bool virtio_dev_is_broken(const struct virtio_dev *vdev);

/*
 * Worker thread: serve queue q the usual way for devices that answer each chain at once:
 * pop every chain, push it back with handle()'s used length, interrupt the driver as it asked,
 * re-enable kicks and re-check for racing requests. A broken ring puts the device into
 * DEVICE_NEEDS_RESET. Stops early when the queue's per-wake-up budget is spent (the core kicks
 * the queue again after other events had their turn).
 */
typedef uint32_t (*virtio_chain_fn)(struct virtio_dev *vdev, struct vq_chain *c);
void virtio_queue_serve(struct virtio_dev *vdev, unsigned int q, virtio_chain_fn handle);

/* Fuzzers/tests: run queue_notify for every ready queue once on the calling thread, as if
 * the worker had been kicked (the device must be at DRIVER_OK with the worker not started,
 * see virtio_dev_set_manual()). */
void virtio_dev_run_once(struct virtio_dev *vdev);
/* Fuzzers/tests: do not start a worker thread at DRIVER_OK. */
void virtio_dev_set_manual(struct virtio_dev *vdev, bool manual);

#endif /* DEVICES_VIRTIO_VIRTIO_H */
