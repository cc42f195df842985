/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_CONSOLE_H
#define DEVICES_VIRTIO_CONSOLE_H

#include <stdint.h>

struct guest_mem;
struct virtio_dev;

/*
 * virtio-console (VIRTIO 1.2 "Console Device"), a single port (no MULTIPORT): transmitq bytes
 * go to out_fd, bytes read from in_fd fill the receiveq buffers the driver posted. Neither fd
 * is owned. in_fd may be a tty, a pipe or a socket, blocking or not (it is only read after
 * poll() reports data), or -1 for no input; while the guest has no receive buffer posted, input
 * stays in in_fd. EOF on in_fd ends input. Output blocks (poll) when out_fd is full, so no byte
 * the guest was told is sent gets lost. Creates device "console<index>". Main thread.
 * Returns 0 or -errno.
 */
int console_create(const struct guest_mem *gm, unsigned int index, int in_fd, int out_fd,
		   struct virtio_dev **out);

/* Counters (console_get_stats()), totals since creation; relaxed atomics, any thread reads. */
struct console_stats {
	uint64_t rx_bytes;	   /* input given to the guest */
	uint64_t tx_bytes;	   /* guest output written to out_fd */
	uint64_t tx_dropped_bytes; /* guest output discarded after out_fd failed */
	uint64_t errors;	   /* read or write errors on the fds (each ends that direction) */
};

void console_get_stats(struct virtio_dev *vdev, struct console_stats *out);

#endif /* DEVICES_VIRTIO_CONSOLE_H */
