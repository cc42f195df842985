/* SPDX-License-Identifier: MIT */
#include "devices/virtio/virtio.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/util.h"

/*
 * The generic virtio device: status state machine, feature negotiation, queue validation at
 * DRIVER_OK and one worker thread per device (VIRTIO 1.2 "Basic Facilities of a Virtio
 * Device", "Device Initialization"). The vCPU threads change the control plane under
 * vdev->lock; the worker owns the queues' data plane and never takes vdev->lock, so a vCPU
 * thread may join it while holding the lock. Bits in status are only ever added, with atomic
 * fetch-or, except by reset, which first stops the worker.
 */

/*
 * Bits the core offers to every device. IN_ORDER: our devices complete chains in the order
 * they pop them. NOTIFICATION_DATA: the data is a hint we record; the ring itself stays the
 * source of truth. ORDER_PLATFORM is not here: it makes the driver use mandatory (I/O)
 * barriers instead of SMP ones, which a device running on another host CPU does not need;
 * it comes with ACCESS_PLATFORM, for setups that want the device to look like hardware.
 */
#define VIRTIO_CORE_FEATURES                                                                       \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |                    \
	 (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_F_IN_ORDER) |                         \
	 (1ULL << VIRTIO_F_NOTIFICATION_DATA) | (1ULL << VIRTIO_F_RING_RESET))

/* epoll tags: kind in the high half, index in the low half. */
#define VIRTIO_EV_KILL	   0ULL
#define VIRTIO_EV_QUEUE	   1ULL
#define VIRTIO_EV_WATCH	   2ULL
#define VIRTIO_EV(kind, i) (((kind) << 32) | (i))

static uint8_t virtio_status_load(const struct virtio_dev *vdev)
{
	return (uint8_t)__atomic_load_n(&vdev->status, __ATOMIC_ACQUIRE);
}

/* Consume an eventfd's counter so a level-triggered epoll does not fire again. */
static void virtio_efd_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
}

static void virtio_efd_signal(int fd)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is saturated: a wakeup is pending anyway. */
	if (write(fd, &one, sizeof(one)) < 0)
		return;
}

/* vq->signal hook: the data plane asks the transport for a queue interrupt. */
static void virtio_vq_signal(void *opaque, unsigned int index)
{
	struct virtio_dev *vdev = opaque;

	if (vdev->transport && vdev->transport->signal_queue)
		vdev->transport->signal_queue(vdev, index);
}

/* Drop the data-plane state of queue i; keep its identity and interrupt hook. */
static void virtio_vq_drop(struct virtio_dev *vdev, unsigned int i)
{
	struct vq *vq = &vdev->queues[i].vq;

	vq_reset(vq);
	vq->index = i;
	vq->signal = virtio_vq_signal;
	vq->signal_opaque = vdev;
}

/* Back to the state after device reset ("Virtqueue Reset": the default state). */
static void virtio_queue_init(struct virtio_dev *vdev, unsigned int i)
{
	struct virtio_queue *q = &vdev->queues[i];

	memset(&q->addrs, 0, sizeof(q->addrs));
	q->size = vdev->ops->queue_max_size;
	q->ready = false;
	q->was_reset = false;
	__atomic_store_n(&q->notify_data, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&q->notify_count, 0, __ATOMIC_RELAXED);
	virtio_vq_drop(vdev, i);
}

static void virtio_close_fds(struct virtio_dev *vdev)
{
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (vdev->queues[i].kick_fd >= 0)
			close(vdev->queues[i].kick_fd);
	if (vdev->irq_fd >= 0)
		close(vdev->irq_fd);
	if (vdev->kill_fd >= 0)
		close(vdev->kill_fd);
}

int virtio_dev_init(struct virtio_dev *vdev, const struct virtio_dev_ops *ops,
		    const struct guest_mem *gm, unsigned int index)
{
	int r;

	if (ops->num_queues > VIRTIO_MAX_QUEUES || ops->queue_max_size == 0 ||
	    ops->queue_max_size > VQ_MAX_SIZE || !IS_POW2(ops->queue_max_size))
		return -EINVAL;
	memset(vdev, 0, sizeof(*vdev));
	vdev->ops = ops;
	vdev->gm = gm;
	vdev->num_queues = ops->num_queues;
	vdev->irq_fd = vdev->kill_fd = vdev->epoll_fd = -1;
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vdev->queues[i].kick_fd = -1;
	snprintf(vdev->name, sizeof(vdev->name), "%s%u", ops->name, index);

	vdev->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vdev->kill_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vdev->irq_fd < 0 || vdev->kill_fd < 0)
		goto err_errno;
	for (unsigned int i = 0; i < vdev->num_queues; i++) {
		vdev->queues[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vdev->queues[i].kick_fd < 0)
			goto err_errno;
		virtio_queue_init(vdev, i);
	}
	r = -pthread_mutex_init(&vdev->lock, NULL);
	if (r < 0)
		goto err_close;
	return 0;

err_errno:
	r = -errno;
err_close:
	virtio_close_fds(vdev);
	return r;
}

int virtio_dev_watch_fd(struct virtio_dev *vdev, int fd, uint32_t epoll_events)
{
	if (vdev->n_watch_fds == VIRTIO_MAX_WATCH_FDS)
		return -ENOSPC;
	vdev->watch_fds[vdev->n_watch_fds] = fd;
	vdev->watch_events[vdev->n_watch_fds] = epoll_events;
	vdev->n_watch_fds++;
	return 0;
}

bool virtio_has_feature(const struct virtio_dev *vdev, unsigned int bit)
{
	return bit < 64 && (vdev->driver_features & (1ULL << bit));
}

bool virtio_dev_is_broken(const struct virtio_dev *vdev)
{
	return virtio_status_load(vdev) & VIRTIO_CONFIG_S_NEEDS_RESET;
}

void virtio_dev_needs_reset(struct virtio_dev *vdev, int err)
{
	uint32_t old =
		__atomic_fetch_or(&vdev->status, VIRTIO_CONFIG_S_NEEDS_RESET, __ATOMIC_ACQ_REL);

	if (old & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	log_warn_ratelimited("%s: device needs reset (error %d)", vdev->name, err);
	/* "Device Status Field": after setting DEVICE_NEEDS_RESET the device MUST send a
	 * configuration change notification if DRIVER_OK is set. We send it regardless. */
	if (vdev->transport && vdev->transport->signal_config)
		vdev->transport->signal_config(vdev);
}

void virtio_config_changed(struct virtio_dev *vdev)
{
	/* "Device Configuration Space": the generation changes with the config, before the
	 * interrupt that tells the driver to re-read it. */
	__atomic_fetch_add(&vdev->config_generation, 1, __ATOMIC_RELEASE);
	if (vdev->transport && vdev->transport->signal_config)
		vdev->transport->signal_config(vdev);
}

/* --- worker thread --- */

/* The guest broke the device: stop watching backend fds (a level-triggered fd we no longer
 * service would spin epoll). */
static void virtio_worker_quiesce(struct virtio_dev *vdev)
{
	for (unsigned int i = 0; i < vdev->n_watch_fds; i++)
		epoll_ctl(vdev->epoll_fd, EPOLL_CTL_DEL, vdev->watch_fds[i], NULL);
}

static void virtio_budgets_refill(struct virtio_dev *vdev)
{
	for (unsigned int q = 0; q < vdev->num_queues; q++)
		vq_refill_budget(&vdev->queues[q].vq);
}

/* A queue that used up its pop budget (see vq_pop()) may hold more work: kick it again, so
 * the worker returns to epoll (kill, other queues) before it carries on. */
static void virtio_budgets_check(struct virtio_dev *vdev)
{
	for (unsigned int q = 0; q < vdev->num_queues; q++)
		if (vq_budget_spent(&vdev->queues[q].vq))
			virtio_efd_signal(vdev->queues[q].kick_fd);
}

void virtio_queue_serve(struct virtio_dev *vdev, unsigned int q, virtio_chain_fn handle)
{
	struct vq *vq = &vdev->queues[q].vq;
	struct vq_chain c;
	int r;

	do {
		if (virtio_dev_is_broken(vdev))
			return;
		vq_disable_notify(vq);
		while ((r = vq_pop(vq, &c)) > 0)
			vq_push(vq, &c, handle(vdev, &c));
		vq_notify(vq);
		if (r < 0) {
			virtio_dev_needs_reset(vdev, r);
			return;
		}
	} while (!vq_budget_spent(vq) && !vq_enable_notify(vq));
}

static void virtio_worker_queue(struct virtio_dev *vdev, unsigned int q)
{
	virtio_efd_drain(vdev->queues[q].kick_fd);
	if (virtio_dev_is_broken(vdev) || !vdev->queues[q].vq.ready || !vdev->ops->queue_notify)
		return;
	virtio_budgets_refill(vdev);
	vdev->ops->queue_notify(vdev, q);
	virtio_budgets_check(vdev);
}

/* Returns false when the worker must exit. */
static bool virtio_worker_event(struct virtio_dev *vdev, const struct epoll_event *ev)
{
	uint64_t kind = ev->data.u64 >> 32;
	unsigned int i = (unsigned int)ev->data.u64;

	if (kind == VIRTIO_EV_KILL)
		return false;
	if (kind == VIRTIO_EV_QUEUE) {
		virtio_worker_queue(vdev, i);
	} else if (virtio_dev_is_broken(vdev) || !vdev->ops->backend_event) {
		virtio_worker_quiesce(vdev);
	} else {
		virtio_budgets_refill(vdev);
		vdev->ops->backend_event(vdev, vdev->watch_fds[i], ev->events);
		virtio_budgets_check(vdev);
	}
	return true;
}

void (*virtio_worker_thread_init)(struct virtio_dev *vdev);

/* One activation of the worker: until the kill event (or a fatal epoll error). */
static void virtio_worker_serve(struct virtio_dev *vdev)
{
	struct epoll_event evs[VIRTIO_MAX_QUEUES + VIRTIO_MAX_WATCH_FDS + 1];
	int n;

	/* Buffers made available before DRIVER_OK (or kicks that came before we ran) are
	 * picked up by one pass over every queue. */
	for (unsigned int q = 0; q < vdev->num_queues; q++)
		virtio_worker_queue(vdev, q);
	for (;;) {
		n = epoll_wait(vdev->epoll_fd, evs, (int)ARRAY_SIZE(evs), -1);
		if (n < 0 && errno != EINTR) {
			int err = -errno;

			log_err("%s: epoll_wait failed (error %d), worker stops", vdev->name, err);
			virtio_dev_needs_reset(vdev, err);
			return;
		}
		for (int i = 0; i < n; i++)
			if (!virtio_worker_event(vdev, &evs[i]))
				return;
	}
}

/* A thread per activation (devices built without virtio_dev_spawn_worker(): tests). */
static void *virtio_worker(void *arg)
{
	struct virtio_dev *vdev = arg;

	if (virtio_worker_thread_init)
		virtio_worker_thread_init(vdev);
	virtio_worker_serve(vdev);
	return NULL;
}

/*
 * The persistent worker: created with the device by the VMM's control thread, it installs its
 * own sandbox first and then serves one activation after another (start: w_go; stop: the kill
 * event, then it reports idle). Starting and stopping the worker at DRIVER_OK, reset and queue
 * reset happen on vCPU threads: they only wake this thread, so a device's thread never
 * inherits a vCPU's seccomp filter and no thread is created while the guest runs.
 */
static void *virtio_worker_persistent(void *arg)
{
	struct virtio_dev *vdev = arg;

	if (virtio_worker_thread_init)
		virtio_worker_thread_init(vdev);
	pthread_mutex_lock(&vdev->w_lock);
	for (;;) {
		while (!vdev->w_go && !vdev->w_exit)
			pthread_cond_wait(&vdev->w_cond, &vdev->w_lock);
		if (vdev->w_exit)
			break;
		pthread_mutex_unlock(&vdev->w_lock);
		virtio_worker_serve(vdev);
		pthread_mutex_lock(&vdev->w_lock);
		vdev->w_go = false;
		pthread_cond_broadcast(&vdev->w_cond);
	}
	pthread_mutex_unlock(&vdev->w_lock);
	return NULL;
}

static int virtio_thread_create(struct virtio_dev *vdev, void *(*fn)(void *))
{
	char tname[16];
	sigset_t all, old;
	int r;

	/* Signals belong to the main thread (signalfd); the worker inherits a full mask. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&vdev->worker, NULL, fn, vdev);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0) {
		/* Named by its creator, so the name is there when this returns (the persistent
		 * worker's creator is the control thread, building the VM). */
		snprintf(tname, sizeof(tname), "v-%.13s", vdev->name);
		pthread_setname_np(vdev->worker, tname);
	}
	return r;
}

int virtio_dev_spawn_worker(struct virtio_dev *vdev)
{
	int r;

	if (vdev->persistent)
		return 0;
	pthread_mutex_init(&vdev->w_lock, NULL);
	pthread_cond_init(&vdev->w_cond, NULL);
	r = virtio_thread_create(vdev, virtio_worker_persistent);
	if (r < 0) {
		pthread_cond_destroy(&vdev->w_cond);
		pthread_mutex_destroy(&vdev->w_lock);
		return r;
	}
	vdev->persistent = true;
	return 0;
}

static void virtio_worker_reap(struct virtio_dev *vdev)
{
	if (!vdev->persistent)
		return;
	pthread_mutex_lock(&vdev->w_lock);
	vdev->w_exit = true;
	pthread_cond_broadcast(&vdev->w_cond);
	pthread_mutex_unlock(&vdev->w_lock);
	pthread_join(vdev->worker, NULL);
	pthread_cond_destroy(&vdev->w_cond);
	pthread_mutex_destroy(&vdev->w_lock);
	vdev->persistent = false;
}

static int virtio_epoll_add(int epfd, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = {.events = events, .data.u64 = tag};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int virtio_worker_epoll(struct virtio_dev *vdev)
{
	int epfd, r;

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -errno;
	r = virtio_epoll_add(epfd, vdev->kill_fd, EPOLLIN, VIRTIO_EV(VIRTIO_EV_KILL, 0));
	for (unsigned int q = 0; q < vdev->num_queues && !r; q++)
		r = virtio_epoll_add(epfd, vdev->queues[q].kick_fd, EPOLLIN,
				     VIRTIO_EV(VIRTIO_EV_QUEUE, q));
	for (unsigned int i = 0; i < vdev->n_watch_fds && !r; i++)
		r = virtio_epoll_add(epfd, vdev->watch_fds[i], vdev->watch_events[i],
				     VIRTIO_EV(VIRTIO_EV_WATCH, i));
	if (r < 0) {
		close(epfd);
		return r;
	}
	return epfd;
}

static int virtio_worker_start(struct virtio_dev *vdev)
{
	int r;

	if (vdev->paused)
		return 0; /* virtio_dev_resume() starts it */
	r = virtio_worker_epoll(vdev);
	if (r < 0)
		return r;
	vdev->epoll_fd = r;
	if (vdev->persistent) {
		pthread_mutex_lock(&vdev->w_lock);
		vdev->w_go = true;
		pthread_cond_broadcast(&vdev->w_cond);
		pthread_mutex_unlock(&vdev->w_lock);
		vdev->worker_running = true;
		return 0;
	}
	r = virtio_thread_create(vdev, virtio_worker);
	if (r < 0) {
		close(vdev->epoll_fd);
		vdev->epoll_fd = -1;
		return r;
	}
	vdev->worker_running = true;
	return 0;
}

/* Kill and join the worker. vdev->lock may be held: the worker never takes it. */
static void virtio_worker_stop(struct virtio_dev *vdev)
{
	if (!vdev->worker_running)
		return;
	virtio_efd_signal(vdev->kill_fd);
	if (vdev->persistent) {
		pthread_mutex_lock(&vdev->w_lock);
		while (vdev->w_go)
			pthread_cond_wait(&vdev->w_cond, &vdev->w_lock);
		pthread_mutex_unlock(&vdev->w_lock);
	} else {
		pthread_join(vdev->worker, NULL);
	}
	vdev->worker_running = false;
	virtio_efd_drain(vdev->kill_fd);
	close(vdev->epoll_fd);
	vdev->epoll_fd = -1;
}

void virtio_dev_pause(struct virtio_dev *vdev)
{
	pthread_mutex_lock(&vdev->lock);
	if (!vdev->paused) {
		vdev->paused = true;
		virtio_worker_stop(vdev);
	}
	pthread_mutex_unlock(&vdev->lock);
}

void virtio_dev_resume(struct virtio_dev *vdev)
{
	int r = 0;

	pthread_mutex_lock(&vdev->lock);
	if (vdev->paused) {
		vdev->paused = false;
		/* Only a live device had a worker; its first pass picks up what the rings hold. */
		if (vdev->active && !vdev->manual && !virtio_dev_is_broken(vdev))
			r = virtio_worker_start(vdev);
	}
	pthread_mutex_unlock(&vdev->lock);
	if (r < 0)
		virtio_dev_needs_reset(vdev, r);
}

/* --- control plane: vCPU threads, vdev->lock held --- */

static uint64_t virtio_offered(struct virtio_dev *vdev)
{
	uint64_t f = VIRTIO_CORE_FEATURES;

	if (vdev->ops->features)
		f |= vdev->ops->features(vdev);
	if (!vdev->no_packed)
		f |= 1ULL << VIRTIO_F_RING_PACKED;
	/* Without it the device bypasses any IOMMU: only offered when the VMM asks. */
	if (vdev->offer_access_platform)
		f |= (1ULL << VIRTIO_F_ACCESS_PLATFORM) | (1ULL << VIRTIO_F_ORDER_PLATFORM);
	if (vdev->transport)
		f |= vdev->transport->features;
	vdev->offered_features = f;
	return f;
}

static void virtio_dev_reset(struct virtio_dev *vdev)
{
	virtio_worker_stop(vdev);
	if (vdev->active && vdev->ops->reset)
		vdev->ops->reset(vdev);
	vdev->active = false;
	for (unsigned int i = 0; i < vdev->num_queues; i++) {
		virtio_queue_init(vdev, i);
		virtio_efd_drain(vdev->queues[i].kick_fd);
	}
	vdev->driver_features = 0;
	__atomic_store_n(&vdev->isr, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&vdev->status, 0, __ATOMIC_RELEASE);
}

uint8_t virtio_get_status(struct virtio_dev *vdev)
{
	return virtio_status_load(vdev);
}

uint32_t virtio_get_features(struct virtio_dev *vdev, uint32_t sel)
{
	/* "Feature Bits": words past the ones we have read as 0. */
	return sel < 2 ? (uint32_t)(virtio_offered(vdev) >> (32 * sel)) : 0;
}

void virtio_set_features(struct virtio_dev *vdev, uint32_t sel, uint32_t val)
{
	uint8_t st = virtio_status_load(vdev);
	uint64_t word;

	/* "Device Initialization": features are written after DRIVER and before FEATURES_OK;
	 * later writes must not change what was negotiated. */
	if (!(st & VIRTIO_CONFIG_S_DRIVER) || (st & VIRTIO_CONFIG_S_FEATURES_OK)) {
		log_warn_ratelimited("%s: driver features written in status 0x%x, ignored",
				     vdev->name, st);
		return;
	}
	if (sel >= 2)
		return;
	word = (uint64_t)val << (32 * sel);
	vdev->driver_features &= ~(0xffffffffULL << (32 * sel));
	/* Only offered bits can be acked; the rest are dropped here, so driver_features is
	 * always a subset of offered_features. */
	vdev->driver_features |= word & virtio_offered(vdev);
}

/* FEATURES_OK: we have no legacy interface, so VERSION_1 is mandatory. */
static bool virtio_features_ok(struct virtio_dev *vdev)
{
	if (!virtio_has_feature(vdev, VIRTIO_F_VERSION_1)) {
		log_warn_ratelimited("%s: driver did not accept VERSION_1", vdev->name);
		return false;
	}
	return true;
}

static void virtio_queues_drop(struct virtio_dev *vdev)
{
	for (unsigned int i = 0; i < vdev->num_queues; i++)
		virtio_vq_drop(vdev, i);
}

/* What was negotiated that changes how the rings work. */
static struct vq_features virtio_vq_features(const struct virtio_dev *vdev)
{
	return (struct vq_features){
		.event_idx = virtio_has_feature(vdev, VIRTIO_RING_F_EVENT_IDX),
		.packed = virtio_has_feature(vdev, VIRTIO_F_RING_PACKED),
		.in_order = virtio_has_feature(vdev, VIRTIO_F_IN_ORDER),
		.iommu = virtio_has_feature(vdev, VIRTIO_F_ACCESS_PLATFORM) ? vdev->iommu : NULL,
	};
}

/* Validate queue i's rings (guest-programmed) and cache them in its struct vq. vq_setup()
 * checks the layout's own rules (split: power of two; packed: any size). */
static int virtio_queue_setup(struct virtio_dev *vdev, unsigned int i)
{
	struct virtio_queue *q = &vdev->queues[i];
	struct vq_features f = virtio_vq_features(vdev);
	int r;

	r = q->size == 0 || q->size > vdev->ops->queue_max_size ? -EINVAL : 0;
	if (!r)
		r = vq_setup(&q->vq, vdev->gm, &q->addrs, q->size, &f);
	if (r < 0) {
		virtio_vq_drop(vdev, i);
		log_warn_ratelimited("%s: queue %u: bad ring (size %u desc 0x%llx driver 0x%llx "
				     "device 0x%llx)",
				     vdev->name, i, q->size, (unsigned long long)q->addrs.desc,
				     (unsigned long long)q->addrs.avail,
				     (unsigned long long)q->addrs.used);
	}
	return r;
}

/* Validate every ready queue. */
static int virtio_queues_setup(struct virtio_dev *vdev)
{
	int r;

	for (unsigned int i = 0; i < vdev->num_queues; i++) {
		if (!vdev->queues[i].ready)
			continue;
		r = virtio_queue_setup(vdev, i);
		if (r < 0)
			return r;
	}
	return 0;
}

/* DRIVER_OK: queues, activate, worker. Any failure leaves the device broken. */
static int virtio_dev_go_live(struct virtio_dev *vdev)
{
	int r;

	r = virtio_queues_setup(vdev);
	if (r < 0)
		goto err_queues;
	if (vdev->ops->activate) {
		r = vdev->ops->activate(vdev);
		if (r) {
			r = r < 0 ? r : -EIO;
			goto err_queues;
		}
	}
	vdev->active = true;
	if (vdev->manual)
		return 0;
	r = virtio_worker_start(vdev);
	if (r < 0)
		goto err_reset;
	return 0;

err_reset:
	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	vdev->active = false;
err_queues:
	virtio_queues_drop(vdev);
	return r;
}

/* The status bits the driver may add given the current status, in spec order. */
static uint8_t virtio_status_accept(struct virtio_dev *vdev, uint8_t old, uint8_t added)
{
	uint8_t ok = 0, cur = old;

	if (added & VIRTIO_CONFIG_S_ACKNOWLEDGE)
		ok |= VIRTIO_CONFIG_S_ACKNOWLEDGE;
	cur |= ok;
	if ((added & VIRTIO_CONFIG_S_DRIVER) && (cur & VIRTIO_CONFIG_S_ACKNOWLEDGE))
		ok |= VIRTIO_CONFIG_S_DRIVER;
	cur |= ok;
	if ((added & VIRTIO_CONFIG_S_FEATURES_OK) && (cur & VIRTIO_CONFIG_S_DRIVER) &&
	    virtio_features_ok(vdev))
		ok |= VIRTIO_CONFIG_S_FEATURES_OK;
	cur |= ok;
	if ((added & VIRTIO_CONFIG_S_DRIVER_OK) && (cur & VIRTIO_CONFIG_S_FEATURES_OK))
		ok |= VIRTIO_CONFIG_S_DRIVER_OK;
	ok |= added & VIRTIO_CONFIG_S_FAILED;
	if (added & ~ok)
		log_warn_ratelimited("%s: status 0x%x -> +0x%x: refused 0x%x", vdev->name, old,
				     added, added & ~ok);
	return ok;
}

void virtio_set_status(struct virtio_dev *vdev, uint8_t status)
{
	uint8_t old = virtio_status_load(vdev), added;

	if (status == 0) {
		virtio_dev_reset(vdev);
		return;
	}
	/* DEVICE_NEEDS_RESET is the device's bit: the driver can neither set nor clear it. */
	status &= (uint8_t)~VIRTIO_CONFIG_S_NEEDS_RESET;
	/* "Device Status Field": the driver never clears a bit except by writing 0. We keep
	 * the old bits and ignore the write. */
	if (old & ~VIRTIO_CONFIG_S_NEEDS_RESET & ~status) {
		log_warn_ratelimited("%s: status 0x%x -> 0x%x clears bits, ignored", vdev->name,
				     old, status);
		return;
	}
	added = virtio_status_accept(vdev, old, status & ~old);
	__atomic_fetch_or(&vdev->status, added, __ATOMIC_ACQ_REL);
	if ((added & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_NEEDS_RESET)) {
		int r = virtio_dev_go_live(vdev);

		if (r < 0)
			virtio_dev_needs_reset(vdev, r);
	}
}

void virtio_config_read(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len)
{
	uint32_t size = vdev->ops->config_size;

	memset(buf, 0, len);
	if (off >= size || !vdev->ops->config_read)
		return;
	vdev->ops->config_read(vdev, off, buf, MIN(len, size - off));
}

void virtio_config_write(struct virtio_dev *vdev, uint32_t off, const void *buf, uint32_t len)
{
	uint32_t size = vdev->ops->config_size;

	if (off >= size || len > size - off || !vdev->ops->config_write) {
		log_warn_ratelimited("%s: config write %u@0x%x dropped", vdev->name, len, off);
		return;
	}
	vdev->ops->config_write(vdev, off, buf, len);
}

void virtio_queue_kick(struct virtio_dev *vdev, uint32_t q)
{
	/* Guest-controlled index (QEMU CVE-2011-2512 was this check missing). */
	if (q >= vdev->num_queues) {
		log_warn_ratelimited("%s: notify for queue %u of %u ignored", vdev->name, q,
				     vdev->num_queues);
		return;
	}
	virtio_efd_signal(vdev->queues[q].kick_fd);
}

void virtio_queue_notify_data(struct virtio_dev *vdev, uint32_t q, uint32_t value)
{
	struct virtio_queue *vq;

	if (q >= vdev->num_queues) {
		log_warn_ratelimited("%s: notify data 0x%x for queue %u of %u ignored", vdev->name,
				     value, q, vdev->num_queues);
		return;
	}
	vq = &vdev->queues[q];
	/* "Driver notifications": next_off / next_wrap are a hint only (the driver may send
	 * stale or duplicate ones), so we record them for inspection and read the ring. */
	if (virtio_has_feature(vdev, VIRTIO_F_NOTIFICATION_DATA)) {
		__atomic_store_n(&vq->notify_data, value, __ATOMIC_RELEASE);
		__atomic_fetch_add(&vq->notify_count, 1, __ATOMIC_ACQ_REL);
	}
	virtio_efd_signal(vq->kick_fd);
}

/* Whether a per-queue reset or re-enable may happen now; warns if not. */
static bool virtio_ring_reset_ok(struct virtio_dev *vdev, uint32_t q, const char *what)
{
	uint8_t st = virtio_status_load(vdev);

	if (q < vdev->num_queues && virtio_has_feature(vdev, VIRTIO_F_RING_RESET) &&
	    (st & VIRTIO_CONFIG_S_DRIVER_OK) && vdev->active)
		return true;
	log_warn_ratelimited("%s: queue %u %s ignored (status 0x%x, RING_RESET %s)", vdev->name, q,
			     what, st,
			     virtio_has_feature(vdev, VIRTIO_F_RING_RESET) ? "on" : "off");
	return false;
}

/* After the worker was stopped for a single queue: start it again for the others. Its first
 * pass looks at every live queue, so buffers posted meanwhile are not missed. */
static void virtio_worker_restart(struct virtio_dev *vdev)
{
	int r;

	if (vdev->manual || !vdev->active)
		return;
	r = virtio_worker_start(vdev);
	if (r < 0)
		virtio_dev_needs_reset(vdev, r);
}

void virtio_queue_reset(struct virtio_dev *vdev, uint32_t q)
{
	if (!virtio_ring_reset_ok(vdev, q, "reset"))
		return;
	/* "Virtqueue Reset": once the driver sees the reset complete, the device must not
	 * touch the old rings. The worker is the only writer; it is joined before the ring
	 * state goes, and the device drops what it still holds of the queue. */
	virtio_worker_stop(vdev);
	if (vdev->ops->queue_reset)
		vdev->ops->queue_reset(vdev, q);
	virtio_queue_init(vdev, q);
	virtio_efd_drain(vdev->queues[q].kick_fd);
	vdev->queues[q].was_reset = true;
	virtio_worker_restart(vdev);
}

void virtio_queue_enable(struct virtio_dev *vdev, uint32_t q)
{
	struct virtio_queue *vq;
	int r;

	if (q >= vdev->num_queues) {
		log_warn_ratelimited("%s: enable of queue %u of %u ignored", vdev->name, q,
				     vdev->num_queues);
		return;
	}
	vq = &vdev->queues[q];
	/* "Device Initialization": before DRIVER_OK the queues are validated at DRIVER_OK. */
	if (!(virtio_status_load(vdev) & VIRTIO_CONFIG_S_DRIVER_OK)) {
		vq->ready = true;
		return;
	}
	/* After DRIVER_OK only a queue the driver reset on its own may come back. */
	if (!vq->was_reset) {
		log_warn_ratelimited("%s: enable of live queue %u after DRIVER_OK ignored",
				     vdev->name, q);
		return;
	}
	if (!virtio_ring_reset_ok(vdev, q, "enable"))
		return;
	virtio_worker_stop(vdev);
	r = virtio_queue_setup(vdev, q);
	if (r < 0) {
		virtio_dev_needs_reset(vdev, r);
	} else {
		vq->ready = true;
		vq->was_reset = false;
	}
	virtio_worker_restart(vdev);
}

int virtio_dev_add_shm(struct virtio_dev *vdev, uint8_t id, uint64_t size, void *hva)
{
	if (vdev->n_shm == VIRTIO_MAX_SHM)
		return -ENOSPC;
	if (size == 0 || !IS_ALIGNED(size, VIRTIO_SHM_ALIGN) || !hva ||
	    !IS_ALIGNED((uintptr_t)hva, VIRTIO_SHM_ALIGN))
		return -EINVAL;
	for (unsigned int i = 0; i < vdev->n_shm; i++)
		if (vdev->shm[i].id == id)
			return -EINVAL;
	/* Not touched by device reset: the guest mapping outlives a driver reload. */
	vdev->shm[vdev->n_shm++] = (struct virtio_shm){.id = id, .size = size, .hva = hva};
	return 0;
}

void virtio_dev_set_manual(struct virtio_dev *vdev, bool manual)
{
	vdev->manual = manual;
}

void virtio_dev_run_once(struct virtio_dev *vdev)
{
	if (!vdev->manual || !vdev->active)
		return;
	for (unsigned int q = 0; q < vdev->num_queues; q++)
		virtio_worker_queue(vdev, q);
}

void virtio_dev_destroy(struct virtio_dev *vdev)
{
	virtio_worker_stop(vdev);
	virtio_worker_reap(vdev);
	if (vdev->active && vdev->ops->reset)
		vdev->ops->reset(vdev);
	vdev->active = false;
	virtio_close_fds(vdev);
	pthread_mutex_destroy(&vdev->lock);
	if (vdev->ops->destroy)
		vdev->ops->destroy(vdev);
}
