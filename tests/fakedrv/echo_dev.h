/* SPDX-License-Identifier: MIT */
#ifndef TESTS_FAKEDRV_ECHO_DEV_H
#define TESTS_FAKEDRV_ECHO_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtio.h"

/*
 * A test-only virtio device that drives the generic device: each chain's readable bytes are
 * copied into its writable part. Two queues of up to 16 entries, 8 bytes of read/write
 * config space, one device feature bit, optionally one shared memory region. Counters let
 * tests see what the core called.
 */
#define ECHO_DEVICE_ID	 0xec40
#define ECHO_NUM_QUEUES	 2
#define ECHO_QUEUE_MAX	 16
#define ECHO_CONFIG_SIZE 8
#define ECHO_F_TEST	 0 /* the one device feature bit offered */
#define ECHO_SHM_ID	 0
#define ECHO_SHM_SIZE	 0x10000

enum echo_mode {
	ECHO_NORMAL,
	ECHO_SLOW,	    /* sleep 1 ms per chain: keeps the worker busy */
	ECHO_FAIL_ACTIVATE, /* activate() refuses */
	ECHO_REFILL, /* after each push, re-post the chain itself: a never-empty ring (split) */
};

struct echo_dev {
	struct virtio_dev vdev;
	enum echo_mode mode;
	uint8_t config[ECHO_CONFIG_SIZE];
	/* counters, atomic */
	unsigned int activations, resets, notifies, chains, backend_events, queue_resets;
	unsigned int held; /* chains popped but not yet pushed (all queues) */
	int last_err;	   /* last vq_pop() error */
	/* Set while the worker is stopped (before DRIVER_OK): queue q keeps popped chains
	 * until hold[q] are in flight, then answers them all (requests in flight for
	 * queue-reset tests). 0: answer at once. Held chains are dropped by a queue or device
	 * reset, never pushed. */
	unsigned int hold[ECHO_NUM_QUEUES];
	void *shm; /* echo_add_shm() */
	/* worker only */
	unsigned int n_held[ECHO_NUM_QUEUES];
	struct vq_chain held_chains[ECHO_NUM_QUEUES][ECHO_QUEUE_MAX];
};

/* Create an echo device on gm (index 0: name "echo0"). Returns 0 or -errno. */
int echo_create(const struct guest_mem *gm, enum echo_mode mode, struct echo_dev **out);
/* Declare shared memory region ECHO_SHM_ID (ECHO_SHM_SIZE bytes, zeroed) before the
 * transport binds (fd_dev_new*). Returns 0 or -errno. */
int echo_add_shm(struct echo_dev *e);
/* Change the config space as a device would on its own: new bytes and a config change
 * (generation bump + interrupt), atomically for a driver that reads under vdev->lock. */
void echo_config_set(struct echo_dev *e, const void *cfg);

static inline unsigned int echo_count(const unsigned int *c)
{
	return __atomic_load_n(c, __ATOMIC_ACQUIRE);
}

#endif /* TESTS_FAKEDRV_ECHO_DEV_H */
