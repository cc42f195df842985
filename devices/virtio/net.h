/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_NET_H
#define DEVICES_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/net_ctrl.h"

struct guest_mem;
struct virtio_dev;

/*
 * Per-interface rate limit, each direction on its own: a bytes bucket and a packets bucket
 * (token buckets refilled at the rate per second up to the burst; burst 0: one second's
 * worth; rate 0: that bucket is off). A packet's cost is its frame length (a GSO packet
 * counts whole) and one packet. What the buckets cannot pay for waits on a timerfd: tx
 * buffers stay in the ring, received frames stay in the tap (which drops when full).
 */
struct net_dir_limits {
	uint64_t bytes_per_s, bytes_burst;
	uint64_t pkts_per_s, pkts_burst;
};

struct net_limits {
	struct net_dir_limits rx, tx; /* rx: host to guest; tx: guest to host */
};

enum net_duplex { NET_DUPLEX_UNKNOWN, NET_DUPLEX_HALF, NET_DUPLEX_FULL };

struct net_config {
	/* Backend: a tap by name (must exist), or NULL to have one created (named by the
	 * kernel, gone with the VM). n_fds > 0 instead hands over already open fds, one per
	 * queue pair, which the device then owns: tap fds (set up as net_tap_open() does), or
	 * any fd that carries one frame per read/write with the 12-byte virtio_net_hdr first,
	 * e.g. a SOCK_SEQPACKET socket (tests: every offload is then assumed). */
	const char *tap;
	int fds[NET_MAX_QUEUE_PAIRS];
	unsigned int n_fds;
	uint8_t mac[6];		  /* all zero: a random locally administered unicast MAC */
	unsigned int queue_pairs; /* 0: 1; capped at NET_PAIRS_LIMIT */
	uint16_t mtu;		  /* 0: no VIRTIO_NET_F_MTU; else 68..65535 */
	uint32_t speed;		  /* Mbit/s for SPEED_DUPLEX; 0: unknown */
	enum net_duplex duplex;
	struct net_limits limits;
};

/* Counters (net_get_stats()), for the API and tests. */
struct net_stats {
	uint64_t rx_packets, rx_bytes; /* delivered to the guest */
	uint64_t tx_packets, tx_bytes; /* written to the backend */
	uint64_t rx_filtered;	       /* dropped by the rx filter (CTRL_RX, MAC, VLAN) */
	uint64_t rx_too_big;	       /* no posted buffer could hold the frame */
	uint64_t rx_bad_hdr;	       /* backend header the guest did not negotiate */
	uint64_t rx_link_down;	       /* dropped while the link was down */
	uint64_t rx_errors;	       /* backend read errors, runt frames, useless buffers */
	uint64_t tx_bad_hdr;	       /* guest header refused (GSO/csum/length checks) */
	uint64_t tx_errors;	       /* backend write errors, chains without a header */
	uint64_t tx_link_down;
	uint64_t throttled;		     /* times a direction waited for the rate limiter */
	uint64_t rx_throttled, tx_throttled; /* the same, per direction */
};

/*
 * The most queue pairs one device can have: queues 2k (rx) and 2k+1 (tx) per pair plus the
 * control queue must fit VIRTIO_MAX_QUEUES, and each pair's fd plus the limiter's timer
 * VIRTIO_MAX_WATCH_FDS.
 */
unsigned int net_pairs_limit(void);

/*
 * virtio-net (VIRTIO 1.2 "Network Device") "net<index>" on a tap. Offers MAC, STATUS, MTU
 * (when set), MRG_RXBUF, CSUM, GUEST_CSUM, GUEST/HOST TSO4, TSO6, ECN, UFO and USO (as far as
 * the tap accepts them, see net_tap_probe_offloads()), CTRL_VQ with CTRL_RX, CTRL_RX_EXTRA,
 * CTRL_VLAN, CTRL_MAC_ADDR, CTRL_GUEST_OFFLOADS, GUEST_ANNOUNCE, MQ (pairs > 1), RSS,
 * HASH_REPORT, GUEST_HDRLEN and SPEED_DUPLEX. One device thread serves every queue pair and
 * the control queue (no cross-queue locking). Main thread; 0 or -errno (tap errors are
 * logged with the tap's name). The fds in cfg are owned by the device even on failure.
 */
int net_create(const struct guest_mem *gm, unsigned int index, const struct net_config *cfg,
	       struct virtio_dev **out);

/* Link up or down at run time (config status LINK_UP; with GUEST_ANNOUNCE negotiated, going up
 * also asks the driver to announce itself: VIRTIO_NET_S_ANNOUNCE), then a configuration
 * change interrupt. While down, frames are dropped both ways (counted). Main thread. */
void net_set_link(struct virtio_dev *vdev, bool up);

/* Replace the rate limits (all zero: none); buckets start full. Main thread, any time. */
void net_set_limits(struct virtio_dev *vdev, const struct net_limits *limits);

/* A snapshot of the counters. Any thread. */
void net_get_stats(struct virtio_dev *vdev, struct net_stats *st);

/* The interface name of the tap ("" for a non-tap backend). */
const char *net_ifname(struct virtio_dev *vdev);

#endif /* DEVICES_VIRTIO_NET_H */
