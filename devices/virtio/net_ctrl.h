/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_NET_CTRL_H
#define DEVICES_VIRTIO_NET_CTRL_H

/*
 * virtio-net control queue state and parser (VIRTIO 1.2 "Control Virtqueue") and the rx filter
 * ("Packet Receive Filtering"). Pure functions over plain structs; the device thread owns the
 * state.
 *
 * Changes to the N1/N2 contract (for N1):
 * - net_ctrl_handle() returns c->in_len, the writable bytes up to and including the ack it
 *   wrote into the LAST writable byte: 1 for the usual one-byte status, 0 without one.
 * - RSS indirection entries and unclassified_queue are checked against
 *   caps->max_queue_pairs (the spec lets the table name any enabled receive queue), while
 *   st->queue_pairs becomes max_tx_vq: the rx path must cope with a selected pair >=
 *   queue_pairs (that queue exists; use it if ready, else drop or use pair 0).
 * - net_rss_select() reports hash/report only when st->rss.hash_report is on (NONE/0
 *   otherwise), so the header fields can be written whenever HASH_REPORT was negotiated.
 * - Additions: NET_RSS_SUPPORTED_HASH_TYPES (config supported_hash_types),
 *   NET_GUEST_OFFLOAD_MASK, net_toeplitz().
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/net_defs.h"
#include "devices/virtio/net_rss.h"

struct vq_chain;

#define NET_MAX_QUEUE_PAIRS 8
#define NET_MAC_TABLE_MAX   64 /* per table (unicast, multicast) */

/* What the device supports (negotiated features), given to the parser. */
struct net_ctrl_caps {
	uint64_t features;			   /* negotiated */
	uint16_t max_queue_pairs;		   /* config max_virtqueue_pairs */
	uint32_t supported_hash_types;		   /* config */
	uint8_t rss_max_key_size;		   /* 40 */
	uint16_t rss_max_indirection_table_length; /* 128 */
};

struct net_ctrl_state {
	/* VIRTIO_NET_CTRL_RX */
	bool promisc, allmulti, alluni, nomulti, nouni, nobcast;
	/* VIRTIO_NET_CTRL_MAC */
	uint8_t mac[6]; /* the device's MAC (config space mirrors it; ADDR_SET changes it) */
	uint8_t uni[NET_MAC_TABLE_MAX][6], multi[NET_MAC_TABLE_MAX][6];
	uint16_t n_uni, n_multi;
	bool uni_overflow, multi_overflow; /* more than the table holds: accept all of that kind */
	/* VIRTIO_NET_CTRL_VLAN: bitmap of 4096 VLAN ids; used only with CTRL_VLAN negotiated */
	uint32_t vlans[4096 / 32];
	/* VIRTIO_NET_CTRL_MQ */
	uint16_t queue_pairs; /* active pairs (1 after reset) */
	struct net_rss rss;
	/* VIRTIO_NET_CTRL_GUEST_OFFLOADS: the offload bits the driver wants now */
	uint64_t guest_offloads;
};

/* Effects the device must apply after a command (set by net_ctrl_handle). */
struct net_ctrl_effects {
	bool mac_changed; /* copy st->mac into config space */
	bool queue_pairs_changed;
	bool offloads_changed; /* re-program the tap (TUNSETOFFLOAD) from st->guest_offloads */
	bool announce_ack;     /* clear VIRTIO_NET_S_ANNOUNCE in config status */
};

/* The GUEST_* feature bits CTRL_GUEST_OFFLOADS_SET may toggle. */
#define NET_GUEST_OFFLOAD_MASK                                                                     \
	((1ULL << VIRTIO_NET_F_GUEST_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_TSO4) |                   \
	 (1ULL << VIRTIO_NET_F_GUEST_TSO6) | (1ULL << VIRTIO_NET_F_GUEST_ECN) |                    \
	 (1ULL << VIRTIO_NET_F_GUEST_UFO) | (1ULL << VIRTIO_NET_F_GUEST_USO4) |                    \
	 (1ULL << VIRTIO_NET_F_GUEST_USO6))

/* Defaults after device reset: promisc on (Linux expects "receive everything" until it
 * configures filters — check the spec's wording and say what you chose), queue_pairs 1,
 * RSS off, guest_offloads = every negotiated GUEST_* offload, MAC = the device's. */
void net_ctrl_reset(struct net_ctrl_state *st, const uint8_t mac[6], uint64_t negotiated);

/* Parse and execute one control-queue chain ("Control Virtqueue"): header {u8 class; u8 cmd},
 * command-specific data, u8 ack (VIRTIO_NET_OK / VIRTIO_NET_ERR) written to the last writable
 * byte. Every class/command the 1.2 spec defines for the negotiated features: RX (PROMISC,
 * ALLMULTI, ALLUNI, NOMULTI, NOUNI, NOBCAST with CTRL_RX_EXTRA), MAC (TABLE_SET, ADDR_SET),
 * VLAN (ADD, DEL), ANNOUNCE (ACK), MQ (VQ_PAIRS_SET, RSS_CONFIG, HASH_CONFIG),
 * GUEST_OFFLOADS (SET: only offloads that were negotiated; others -> ERR). Malformed (short,
 * over-long, out-of-range queue index in the RSS table, key too long, table length not a
 * power of two, pairs 0 or > max, command for a feature not negotiated) -> VIRTIO_NET_ERR and
 * no state change. Returns the used length (1, or 0 when the chain has no writable byte). */
uint32_t net_ctrl_handle(struct net_ctrl_state *st, const struct net_ctrl_caps *caps,
			 struct vq_chain *c, struct net_ctrl_effects *fx);

/* Rx filtering ("Packet Receive Filtering"): may the device deliver this frame to the driver?
 * Applies promisc/allmulti/alluni/nomulti/nouni/nobcast, the MAC tables (+ the own MAC), and
 * with VIRTIO_NET_F_CTRL_VLAN the VLAN filter for 802.1Q-tagged frames. */
bool net_rx_accept(const struct net_ctrl_state *st, uint64_t negotiated, const uint8_t *frame,
		   size_t len);

#endif /* DEVICES_VIRTIO_NET_CTRL_H */
