/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_NET_INTERNAL_H
#define DEVICES_VIRTIO_NET_INTERNAL_H

/* Shared by net.c (device, features, config, control queue, link, limits) and net_io.c (the
 * receive and transmit paths). Not for other devices. */

#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/net.h"
#include "devices/virtio/net_ctrl.h"
#include "devices/virtio/net_defs.h"
#include "devices/virtio/net_hdr.h"
#include "devices/virtio/token_bucket.h"
#include "devices/virtio/virtio.h"
#include "vmm/util.h"

#define NET_QUEUE_SIZE 256
/* A received frame at most: a 64 KiB GSO packet plus its Ethernet (and VLAN) header. */
#define NET_FRAME_MAX (65536 + 64)
#define NET_RX_BUF    (NET_TAP_HDR_LEN + NET_FRAME_MAX)
/* Frames one port hands over per wake-up before the others get their turn. */
#define NET_RX_BUDGET 64
#define NET_ETH_HLEN  14

/* One backend fd (queue pair k uses ports[k]) and the frame read from it but not delivered
 * yet (no rx buffer, or the limiter said wait). */
struct net_port {
	int fd;
	uint8_t *buf;			   /* tap header + frame */
	size_t len;			   /* bytes in buf; 0: nothing pending */
	bool paid;			   /* the rx limiter has charged this frame */
	uint16_t pair;			   /* rx queue pair it goes to */
	struct virtio_net_hdr_v1_hash hdr; /* the guest's header for it */
};

/* A chain taken for a frame spread over several buffers (MRG_RXBUF), pushed when the frame
 * is complete: what vq_push() needs of it. */
struct net_held {
	uint16_t head, n_desc;
	uint32_t in_len, written;
};

/* Per receive queue: the frame being spread over buffers, which may take several wake-ups
 * when the driver posts buffers in batches. */
struct net_rxq {
	int port; /* -1: none */
	size_t off;
	unsigned int n_held, held_desc;
	struct net_held held[NET_QUEUE_SIZE];
	uint8_t *nb[2]; /* host bytes of num_buffers in the first buffer */
	bool dirty;	/* pushed since the last notify */
};

struct net_dev {
	struct virtio_dev vdev; /* first: container_of() */
	unsigned int max_pairs;
	bool is_tap;
	char ifname[IFNAMSIZ];
	unsigned int tap_offloads; /* TUN_F_* the backend takes */
	uint8_t cfg_mac[6];	   /* configured MAC: the device's after every reset */
	/* Config space. mac and status are atomics: the device thread changes them (ADDR_SET,
	 * ANNOUNCE ack) and must not take vdev.lock (it is held while the worker is joined). */
	uint64_t mac; /* 6 bytes, little-endian order */
	uint16_t status;
	uint16_t mtu;
	uint32_t speed;
	uint8_t duplex;
	/* Rate limiter: buckets under lim_lock (main thread replaces them). */
	pthread_mutex_t lim_lock;
	struct token_bucket rx_bytes, rx_pkts, tx_bytes, tx_pkts;
	uint64_t lim_last_ns;
	int timer_fd;
	/* Data plane: device thread only (set at activate, worker not running). */
	bool rx_throttled, tx_throttled;
	uint64_t timer_deadline; /* CLOCK_MONOTONIC ns the timer is armed for; 0: idle */
	uint64_t features;	 /* negotiated */
	uint64_t offloads;	 /* GUEST_* offloads in force */
	size_t hdr_len;		 /* the guest's virtio_net_hdr size */
	unsigned int ctrl_q;	 /* control queue index; UINT32_MAX without CTRL_VQ */
	struct net_ctrl_caps caps;
	struct net_ctrl_state ctrl;
	struct net_port ports[NET_MAX_QUEUE_PAIRS];
	struct net_rxq rxq[NET_MAX_QUEUE_PAIRS];
	struct net_stats stats; /* atomic adds */
};

static inline struct net_dev *to_net(struct virtio_dev *vdev)
{
	return container_of(vdev, struct net_dev, vdev);
}

#define NET_STAT(net, field, v) STAT_ADD((net)->stats.field, (v))

/* net.c: link state as the data path sees it. */
bool net_link_up(struct net_dev *net);
/* net.c: pay for a packet of `bytes` in direction tx/rx: 0 when paid, else nanoseconds to
 * wait (nothing taken). */
uint64_t net_limit_take(struct net_dev *net, bool tx, uint64_t bytes);
/* net.c: stop direction tx/rx until the limiter's timer fires in wait_ns. False when the
 * timer cannot be armed (then the caller goes on rather than stall for good). */
bool net_throttle(struct net_dev *net, bool tx, uint64_t wait_ns);

/* net_io.c, device thread. */
void net_rx_run(struct net_dev *net);
void net_tx_run(struct net_dev *net, unsigned int pair);
/* Drop the receive state (queue or device reset): nothing held is pushed. */
void net_rxq_drop(struct net_dev *net, unsigned int pair);

#endif /* DEVICES_VIRTIO_NET_INTERNAL_H */
