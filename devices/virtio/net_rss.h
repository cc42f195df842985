/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_NET_RSS_H
#define DEVICES_VIRTIO_NET_RSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/net_defs.h"

#define NET_RSS_MAX_KEY	  40
#define NET_RSS_MAX_TABLE 128
/* Hash types this device computes (config supported_hash_types): all nine 1.2 types. */
#define NET_RSS_SUPPORTED_HASH_TYPES                                                               \
	(VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv4 |                          \
	 VIRTIO_NET_RSS_HASH_TYPE_UDPv4 | VIRTIO_NET_RSS_HASH_TYPE_IPv6 |                          \
	 VIRTIO_NET_RSS_HASH_TYPE_TCPv6 | VIRTIO_NET_RSS_HASH_TYPE_UDPv6 |                         \
	 VIRTIO_NET_RSS_HASH_TYPE_IP_EX | VIRTIO_NET_RSS_HASH_TYPE_TCP_EX |                        \
	 VIRTIO_NET_RSS_HASH_TYPE_UDP_EX)

/* RSS / hash reporting state (VIRTIO 1.2 "Receive-side scaling", "Hash calculation"). */
struct net_rss {
	bool enabled;	     /* RSS on (VIRTIO_NET_CTRL_MQ_RSS_CONFIG accepted) */
	bool hash_report;    /* hash reporting on (RSS_CONFIG or HASH_CONFIG) */
	uint32_t hash_types; /* VIRTIO_NET_RSS_HASH_TYPE_* the driver enabled */
	uint8_t key[40];
	uint8_t key_len;
	uint16_t table[128];   /* indirection table: receive queue pair indexes */
	uint16_t table_len;    /* power of two, 1..128 */
	uint16_t unclassified; /* pair for packets with no hash type */
};

/* Compute a packet's hash per the enabled hash types (parses Ethernet/VLAN, IPv4/IPv6 with
 * extension headers as the spec lists, TCP/UDP ports). Returns the VIRTIO_NET_HASH_REPORT_*
 * type (NONE when no type applies, then *hash = 0). frame starts at the Ethernet header. */
uint16_t net_rss_hash(const struct net_rss *rss, const uint8_t *frame, size_t len, uint32_t *hash);
/* Receive queue PAIR index for the frame (RSS on: table[hash & (len-1)], NONE: unclassified;
 * RSS off: 0). Also returns the hash and its report type for the header. */
uint16_t net_rss_select(const struct net_rss *rss, const uint8_t *frame, size_t len, uint32_t *hash,
			uint16_t *report);

/* Toeplitz hash ("Hash calculation for incoming packets") of data[0..len) with key[0..key_len);
 * key bits past key_len count as zero. */
uint32_t net_toeplitz(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len);

#endif /* DEVICES_VIRTIO_NET_RSS_H */
