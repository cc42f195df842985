/* SPDX-License-Identifier: MIT */
#ifndef TESTS_FAKEDRV_ECHO_DEV_H
#define TESTS_FAKEDRV_ECHO_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtio.h"

/*
 * A test-only virtio device that drives the generic device: each chain's readable bytes are
 * copied into its writable part. Two queues of up to 16 entries, 8 bytes of read/write
 * config space, one device feature bit. Counters let tests see what the core called.
 */
#define ECHO_DEVICE_ID	 0xec40
#define ECHO_NUM_QUEUES	 2
#define ECHO_QUEUE_MAX	 16
#define ECHO_CONFIG_SIZE 8
#define ECHO_F_TEST	 0 /* the one device feature bit offered */

enum echo_mode {
	ECHO_NORMAL,
	ECHO_SLOW,	    /* sleep 1 ms per chain: keeps the worker busy */
	ECHO_FAIL_ACTIVATE, /* activate() refuses */
	ECHO_REFILL,	    /* after each push, re-post the chain itself: a never-empty ring */
};

struct echo_dev {
	struct virtio_dev vdev;
	enum echo_mode mode;
	uint8_t config[ECHO_CONFIG_SIZE];
	/* counters, atomic */
	unsigned int activations, resets, notifies, chains, backend_events;
	int last_err; /* last vq_pop() error */
};

/* Create an echo device on gm (index 0: name "echo0"). Returns 0 or -errno. */
int echo_create(const struct guest_mem *gm, enum echo_mode mode, struct echo_dev **out);

static inline unsigned int echo_count(const unsigned int *c)
{
	return __atomic_load_n(c, __ATOMIC_ACQUIRE);
}

#endif /* TESTS_FAKEDRV_ECHO_DEV_H */
