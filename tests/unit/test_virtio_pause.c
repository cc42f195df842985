/* SPDX-License-Identifier: MIT */
/*
 * The persistent device worker (virtio_dev_spawn_worker()) and device pause/resume
 * (virtio_dev_pause()/virtio_dev_resume(), vm_pause()/vm_resume() without vCPUs), driven by
 * the fake driver over virtio-mmio with the echo device.
 */
#include <dirent.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tests/fakedrv/echo_dev.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/harness.h"
#include "vmm/vm.h"

#define WAIT_MS	 2000
#define QUIET_MS 50
/* Tests that read the split used ring by hand keep the split layout. */
#define SPLIT_ALL (FD_FEATURES_ALL & ~(1ULL << VIRTIO_F_RING_PACKED))

struct pt {
	struct fd_guest *g;
	struct echo_dev *e;
	struct fd_dev *d;
};

static struct pt pt_new(enum echo_mode mode, bool persistent)
{
	struct pt t;

	t.g = fd_guest_new(1 << 20);
	ASSERT_OK(echo_create(&t.g->gm, mode, &t.e));
	if (persistent)
		ASSERT_OK(virtio_dev_spawn_worker(&t.e->vdev));
	t.d = fd_dev_new(t.g, &t.e->vdev);
	return t;
}

static void pt_free(struct pt *t)
{
	fd_dev_free(t->d);
	fd_guest_free(t->g);
}

/* Post "ping<i>" (indirect with FD_INDIRECT: one ring slot) and a 16-byte reply buffer. */
static int pt_post(struct pt *t, unsigned int q, unsigned int i, unsigned int flags,
		   uint64_t *reply)
{
	char msg[16];
	int n = snprintf(msg, sizeof(msg), "ping%u", i);
	struct fd_seg s[2];

	s[0] = (struct fd_seg){fd_alloc(t->g, (size_t)n, 1), (uint32_t)n};
	s[1] = (struct fd_seg){fd_alloc(t->g, 16, 8), 16};
	memcpy(fd_ptr(t->g, s[0].gpa, (size_t)n), msg, (size_t)n);
	*reply = s[1].gpa;
	return fd_vq_add(fd_dev_vq(t->d, q), s, 1, 1, flags);
}

/* Wait for the answer to head and check its echo of "ping<i>". */
static void pt_expect(struct pt *t, unsigned int q, int head, unsigned int i, uint64_t reply)
{
	char want[16];
	int n = snprintf(want, sizeof(want), "ping%u", i);
	uint16_t id;
	uint32_t len;

	ASSERT_EQ(fd_vq_wait_used(fd_dev_vq(t->d, q), &id, &len, WAIT_MS), 1);
	ASSERT_EQ(id, head);
	ASSERT_EQ(len, n);
	ASSERT_MEM_EQ(fd_ptr(t->g, reply, len), want, len);
}

static void pt_roundtrip(struct pt *t, unsigned int q, unsigned int i)
{
	uint64_t reply;
	int head = pt_post(t, q, i, 0, &reply);

	ASSERT_OK(head);
	fd_vq_kick(fd_dev_vq(t->d, q));
	pt_expect(t, q, head, i, reply);
}

/* Nothing is answered for QUIET_MS. */
static void pt_expect_quiet(struct pt *t, unsigned int q)
{
	unsigned int chains = echo_count(&t->e->chains);
	uint16_t id;
	uint32_t len;

	usleep(QUIET_MS * 1000);
	ASSERT_EQ(fd_vq_used(fd_dev_vq(t->d, q), &id, &len), 0);
	ASSERT_EQ(echo_count(&t->e->chains), chains);
}

/* How many of this process's threads are called name; *tid gets the last one's id. */
static unsigned int threads_named(const char *name, pid_t *tid)
{
	char path[64], comm[32], want[32];
	struct dirent *de;
	unsigned int n = 0;
	DIR *dir = opendir("/proc/self/task");

	snprintf(want, sizeof(want), "%s\n", name);
	while (dir && (de = readdir(dir))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%.20s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && strcmp(comm, want) == 0) {
			n++;
			if (tid)
				*tid = (pid_t)atoi(de->d_name);
		}
		fclose(f);
	}
	if (dir)
		closedir(dir);
	return n;
}

static unsigned int threads_total(void)
{
	unsigned int n = 0;
	struct dirent *de;
	DIR *dir = opendir("/proc/self/task");

	while (dir && (de = readdir(dir)))
		n += de->d_name[0] != '.';
	if (dir)
		closedir(dir);
	return n;
}

/* virtio_worker_thread_init: which thread ran it, how often. */
static unsigned int init_calls; /* atomic */
static pid_t init_tid;		/* atomic */

static void note_worker_init(struct virtio_dev *vdev)
{
	__atomic_store_n(&init_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	__atomic_fetch_add(&init_calls, 1, __ATOMIC_ACQ_REL);
}

static pid_t worker_tid(void)
{
	pid_t tid = 0;

	ASSERT_EQ(threads_named("v-echo0", &tid), 1);
	return tid;
}

TEST(vpause_persistent_worker_one_thread)
{
	struct pt t;
	pid_t tid;
	unsigned int total;

	virtio_worker_thread_init = note_worker_init;
	t = pt_new(ECHO_NORMAL, true);
	/* The thread exists from the spawn on, before any activation; it names itself, then
	 * runs its init. */
	for (int i = 0; i < WAIT_MS && !__atomic_load_n(&init_calls, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	ASSERT_EQ(__atomic_load_n(&init_calls, __ATOMIC_ACQUIRE), 1);
	tid = worker_tid();
	ASSERT_EQ(__atomic_load_n(&init_tid, __ATOMIC_ACQUIRE), tid);
	total = threads_total();

	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	ASSERT_TRUE(t.e->vdev.worker_running);
	for (unsigned int i = 0; i < 50; i++)
		pt_roundtrip(&t, i % 2, i);
	ASSERT_EQ(worker_tid(), tid);

	/* Device reset and a new activation: the same thread serves again. */
	fd_dev_reset(t.d);
	ASSERT_FALSE(t.e->vdev.worker_running);
	ASSERT_EQ(worker_tid(), tid);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	pt_roundtrip(&t, 0, 100);
	pt_roundtrip(&t, 1, 101);
	ASSERT_EQ(echo_count(&t.e->activations), 2);
	ASSERT_EQ(worker_tid(), tid);

	/* A queue reset stops and restarts the worker: still the same thread. */
	fd_vq_reset(fd_dev_vq(t.d, 0));
	ASSERT_EQ(echo_count(&t.e->queue_resets), 1);
	pt_roundtrip(&t, 1, 102);
	fd_vq_reenable(fd_dev_vq(t.d, 0));
	pt_roundtrip(&t, 0, 103);
	ASSERT_EQ(worker_tid(), tid);

	/* No thread was created for any of it; the init ran once. */
	ASSERT_EQ(threads_total(), total);
	ASSERT_EQ(__atomic_load_n(&init_calls, __ATOMIC_ACQUIRE), 1);
	/* Spawning again is a no-op. */
	ASSERT_OK(virtio_dev_spawn_worker(&t.e->vdev));
	ASSERT_EQ(threads_named("v-echo0", NULL), 1);
	pt_free(&t);
	ASSERT_EQ(threads_named("v-echo0", NULL), 0);
}

/* Without the spawn, each activation has its own thread (tests, fuzzers): init per thread. */
TEST(vpause_thread_per_activation_runs_init)
{
	struct pt t;

	virtio_worker_thread_init = note_worker_init;
	t = pt_new(ECHO_NORMAL, false);
	ASSERT_EQ(threads_named("v-echo0", NULL), 0);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	pt_roundtrip(&t, 0, 1);
	ASSERT_EQ(__atomic_load_n(&init_calls, __ATOMIC_ACQUIRE), 1);
	fd_dev_reset(t.d);
	ASSERT_EQ(threads_named("v-echo0", NULL), 0);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	pt_roundtrip(&t, 0, 2);
	ASSERT_EQ(__atomic_load_n(&init_calls, __ATOMIC_ACQUIRE), 2);
	pt_free(&t);
}

/* Requests made while paused wait; resume answers them. Both calls idempotent. */
static void pause_holds_requests(bool persistent)
{
	struct pt t = pt_new(ECHO_NORMAL, persistent);
	uint64_t r0, r1;
	int h0, h1;

	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	pt_roundtrip(&t, 0, 1);
	virtio_dev_pause(&t.e->vdev);
	ASSERT_TRUE(t.e->vdev.paused);
	ASSERT_FALSE(t.e->vdev.worker_running);
	h0 = pt_post(&t, 0, 2, 0, &r0);
	h1 = pt_post(&t, 1, 3, FD_INDIRECT, &r1);
	ASSERT_OK(h0);
	ASSERT_OK(h1);
	fd_vq_kick(fd_dev_vq(t.d, 0));
	fd_vq_kick(fd_dev_vq(t.d, 1));
	pt_expect_quiet(&t, 0);
	pt_expect_quiet(&t, 1);
	virtio_dev_pause(&t.e->vdev); /* again: nothing changes */
	ASSERT_FALSE(t.e->vdev.worker_running);
	pt_expect_quiet(&t, 0);

	/* The kicks came while paused: the worker's first pass finds the chains anyway. */
	virtio_dev_resume(&t.e->vdev);
	ASSERT_FALSE(t.e->vdev.paused);
	ASSERT_TRUE(t.e->vdev.worker_running);
	pt_expect(&t, 0, h0, 2, r0);
	pt_expect(&t, 1, h1, 3, r1);
	virtio_dev_resume(&t.e->vdev); /* again: still one worker, still serving */
	ASSERT_TRUE(t.e->vdev.worker_running);
	pt_roundtrip(&t, 1, 4);
	ASSERT_EQ(threads_named("v-echo0", NULL), 1);
	ASSERT_EQ(echo_count(&t.e->activations), 1);
	ASSERT_EQ(echo_count(&t.e->resets), 0);
	pt_free(&t);
}

TEST(vpause_holds_requests_persistent)
{
	pause_holds_requests(true);
}

TEST(vpause_holds_requests_per_activation)
{
	pause_holds_requests(false);
}

/* A pause before the driver activates the device: DRIVER_OK succeeds, but the worker only
 * starts at resume. */
static void pause_before_activation(bool persistent)
{
	struct pt t = pt_new(ECHO_NORMAL, persistent);
	uint64_t reply;
	int head;

	virtio_dev_pause(&t.e->vdev);
	ASSERT_FALSE(t.e->vdev.worker_running);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	ASSERT_TRUE(fd_dev_status(t.d) & VIRTIO_CONFIG_S_DRIVER_OK);
	ASSERT_EQ(echo_count(&t.e->activations), 1);
	ASSERT_TRUE(t.e->vdev.active);
	ASSERT_FALSE(t.e->vdev.worker_running);
	head = pt_post(&t, 0, 1, 0, &reply);
	ASSERT_OK(head);
	fd_vq_kick(fd_dev_vq(t.d, 0));
	pt_expect_quiet(&t, 0);
	virtio_dev_resume(&t.e->vdev);
	ASSERT_TRUE(t.e->vdev.worker_running);
	pt_expect(&t, 0, head, 1, reply);

	/* Paused across a device reset and a new activation, and a pause/resume of a device
	 * the driver has reset (no worker to stop or start). */
	virtio_dev_pause(&t.e->vdev);
	fd_dev_reset(t.d);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	ASSERT_FALSE(t.e->vdev.worker_running);
	virtio_dev_resume(&t.e->vdev);
	pt_roundtrip(&t, 1, 2);
	fd_dev_reset(t.d);
	virtio_dev_pause(&t.e->vdev);
	virtio_dev_resume(&t.e->vdev);
	ASSERT_FALSE(t.e->vdev.worker_running);
	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	pt_roundtrip(&t, 0, 3);
	pt_free(&t);
}

TEST(vpause_before_activation_persistent)
{
	pause_before_activation(true);
}

TEST(vpause_before_activation_per_activation)
{
	pause_before_activation(false);
}

/* A queue reset while paused must not start the worker behind the pause's back. */
TEST(vpause_queue_reset_while_paused)
{
	struct pt t = pt_new(ECHO_NORMAL, true);
	uint64_t reply;
	int head;

	ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
	virtio_dev_pause(&t.e->vdev);
	fd_vq_reset(fd_dev_vq(t.d, 0));
	ASSERT_FALSE(t.e->vdev.worker_running);
	fd_vq_reenable(fd_dev_vq(t.d, 0));
	ASSERT_FALSE(t.e->vdev.worker_running);
	head = pt_post(&t, 0, 1, 0, &reply);
	fd_vq_kick(fd_dev_vq(t.d, 0));
	pt_expect_quiet(&t, 0);
	virtio_dev_resume(&t.e->vdev);
	pt_expect(&t, 0, head, 1, reply);
	pt_free(&t);
}

/* Destroying a paused device (with requests pending, or never activated) neither hangs nor
 * leaks (ASan); the persistent thread is gone afterwards. */
TEST(vpause_destroy_while_paused)
{
	for (int round = 0; round < 4; round++) {
		bool persistent = round & 1, activate = round & 2;
		struct pt t = pt_new(ECHO_NORMAL, persistent);
		uint64_t reply;

		if (activate) {
			ASSERT_OK(fd_dev_start(t.d, FD_FEATURES_ALL));
			pt_roundtrip(&t, 0, 1);
		}
		virtio_dev_pause(&t.e->vdev);
		if (activate) {
			ASSERT_OK(pt_post(&t, 0, 2, 0, &reply));
			fd_vq_kick(fd_dev_vq(t.d, 0));
		}
		pt_free(&t);
		ASSERT_EQ(threads_named("v-echo0", NULL), 0);
	}
}

/*
 * A pause while slow chains are being served waits for the worker to finish the chain in
 * hand: once it returns, every chain the device popped has been pushed (the used ring and the
 * device's counter agree), and nothing moves until resume.
 */
TEST(vpause_stops_between_chains)
{
	struct pt t = pt_new(ECHO_SLOW, true);
	struct virtio_dev *vdev = &t.e->vdev;
	struct fd_vq *q;
	unsigned int posted = 0, used = 0, chains;
	uint16_t id, used_idx;
	uint32_t len;
	uint64_t reply;

	ASSERT_OK(fd_dev_start(t.d, SPLIT_ALL));
	q = fd_dev_vq(t.d, 0);
	for (unsigned int round = 0; round < 10; round++) {
		/* Fill the ring with indirect chains (1 ms each), kick, let some be served. */
		while (pt_post(&t, 0, posted, FD_INDIRECT, &reply) >= 0)
			posted++;
		fd_vq_kick(q);
		usleep((useconds_t)(1000 + round * 700));
		virtio_dev_pause(vdev);
		chains = echo_count(&t.e->chains);
		used_idx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
		/* No chain half done: popped == pushed == counted. */
		ASSERT_EQ(used_idx, (uint16_t)chains);
		ASSERT_EQ(vdev->queues[0].vq.last_avail, used_idx);
		ASSERT_EQ(vdev->queues[0].vq.used_idx, used_idx);
		usleep(QUIET_MS * 1000);
		ASSERT_EQ(echo_count(&t.e->chains), chains);
		ASSERT_EQ(__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE), used_idx);
		while (fd_vq_used(q, &id, &len))
			used++;
		ASSERT_EQ(used, chains);
		virtio_dev_resume(vdev);
	}
	/* After the last resume everything posted is answered. */
	while (used < posted) {
		ASSERT_EQ(fd_vq_wait_used(q, &id, &len, WAIT_MS), 1);
		used++;
	}
	ASSERT_EQ(echo_count(&t.e->chains), posted);
	pt_free(&t);
}

/* A ring the guest keeps full (ECHO_REFILL re-posts each chain) cannot keep pause waiting. */
TEST(vpause_endless_ring)
{
	struct pt t = pt_new(ECHO_REFILL, true);
	unsigned int chains;
	uint64_t reply;

	ASSERT_OK(fd_dev_start(t.d, SPLIT_ALL));
	ASSERT_OK(pt_post(&t, 0, 1, 0, &reply));
	fd_vq_kick(fd_dev_vq(t.d, 0));
	for (int i = 0; i < WAIT_MS && echo_count(&t.e->chains) < 1000; i++)
		usleep(1000);
	for (int round = 0; round < 5; round++) {
		virtio_dev_pause(&t.e->vdev);
		chains = echo_count(&t.e->chains);
		usleep(20000);
		ASSERT_EQ(echo_count(&t.e->chains), chains);
		virtio_dev_resume(&t.e->vdev);
		for (int i = 0; i < WAIT_MS && echo_count(&t.e->chains) < chains + 100; i++)
			usleep(1000);
		ASSERT_TRUE(echo_count(&t.e->chains) >= chains + 100);
	}
	virtio_dev_pause(&t.e->vdev);
	pt_free(&t);
}

/* vm_pause()/vm_resume() on a VM without vCPUs: they reduce to its devices' pause/resume. */
TEST(vpause_vm_pause_devices_only)
{
	static struct vm vm;
	struct pt a = pt_new(ECHO_NORMAL, true), b = pt_new(ECHO_NORMAL, false);
	struct virtio_dev *devs[4];
	uint64_t ra, rb;
	int ha, hb;

	pthread_mutex_init(&vm.pause_lock, NULL);
	pthread_cond_init(&vm.pause_cond, NULL);
	vm.mmio_devs[0].vdev = &a.e->vdev;
	vm.mmio_devs[1].vdev = &b.e->vdev;
	vm.n_mmio_devs = 2;
	ASSERT_EQ(vm_virtio_devices(&vm, devs, 4), 2);
	ASSERT_TRUE(devs[0] == &a.e->vdev && devs[1] == &b.e->vdev);
	ASSERT_EQ(vm_virtio_devices(&vm, devs, 1), 1);
	ASSERT_OK(fd_dev_start(a.d, FD_FEATURES_ALL));
	ASSERT_OK(fd_dev_start(b.d, FD_FEATURES_ALL));

	ASSERT_FALSE(vm_is_paused(&vm));
	ASSERT_OK(vm_pause(&vm));
	ASSERT_TRUE(vm_is_paused(&vm));
	ASSERT_TRUE(a.e->vdev.paused && b.e->vdev.paused);
	ASSERT_OK(vm_pause(&vm));
	ha = pt_post(&a, 0, 1, 0, &ra);
	hb = pt_post(&b, 1, 2, 0, &rb);
	fd_vq_kick(fd_dev_vq(a.d, 0));
	fd_vq_kick(fd_dev_vq(b.d, 1));
	pt_expect_quiet(&a, 0);
	pt_expect_quiet(&b, 1);
	vm_resume(&vm);
	ASSERT_FALSE(vm_is_paused(&vm));
	ASSERT_FALSE(a.e->vdev.paused || b.e->vdev.paused);
	pt_expect(&a, 0, ha, 1, ra);
	pt_expect(&b, 1, hb, 2, rb);
	vm_resume(&vm);
	pt_roundtrip(&a, 1, 3);
	pt_free(&a);
	pt_free(&b);
	pthread_cond_destroy(&vm.pause_cond);
	pthread_mutex_destroy(&vm.pause_lock);
}
