/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_NET_DEFS_H
#define DEVICES_VIRTIO_NET_DEFS_H

/*
 * VIRTIO 1.2 "Network Device" constants and structs that older <linux/virtio_net.h> (Debian 12
 * ships 6.1) lacks. Every define is guarded so a newer header wins; the structs are declared
 * only when the header predates them (it gained HASH_REPORT, RSS and the structs together).
 */
#include <linux/types.h>
#include <linux/virtio_net.h>
#include <linux/virtio_types.h>

/* The uapi header gained HASH_REPORT, RSS and their structs together: probe before fallbacks. */
#ifndef VIRTIO_NET_F_HASH_REPORT
#define NET_DEFS_NEED_HASH_STRUCTS 1
#endif

/* Feature bits */
#ifndef VIRTIO_NET_F_GUEST_RSC4
#define VIRTIO_NET_F_GUEST_RSC4 41 /* legacy only */
#endif
#ifndef VIRTIO_NET_F_GUEST_RSC6
#define VIRTIO_NET_F_GUEST_RSC6 42 /* legacy only */
#endif
#ifndef VIRTIO_NET_F_VQ_NOTF_COAL
#define VIRTIO_NET_F_VQ_NOTF_COAL 52 /* post-1.2 */
#endif
#ifndef VIRTIO_NET_F_NOTF_COAL
#define VIRTIO_NET_F_NOTF_COAL 53 /* post-1.2 */
#endif
#ifndef VIRTIO_NET_F_GUEST_USO4
#define VIRTIO_NET_F_GUEST_USO4 54 /* post-1.2 */
#endif
#ifndef VIRTIO_NET_F_GUEST_USO6
#define VIRTIO_NET_F_GUEST_USO6 55 /* post-1.2 */
#endif
#ifndef VIRTIO_NET_F_HOST_USO
#define VIRTIO_NET_F_HOST_USO 56
#endif
#ifndef VIRTIO_NET_F_HASH_REPORT
#define VIRTIO_NET_F_HASH_REPORT 57
#endif
#ifndef VIRTIO_NET_F_GUEST_HDRLEN
#define VIRTIO_NET_F_GUEST_HDRLEN 59
#endif
#ifndef VIRTIO_NET_F_RSS
#define VIRTIO_NET_F_RSS 60
#endif
#ifndef VIRTIO_NET_F_RSC_EXT
#define VIRTIO_NET_F_RSC_EXT 61
#endif
#ifndef VIRTIO_NET_F_STANDBY
#define VIRTIO_NET_F_STANDBY 62
#endif
#ifndef VIRTIO_NET_F_SPEED_DUPLEX
#define VIRTIO_NET_F_SPEED_DUPLEX 63
#endif

/* virtio_net_hdr gso_type / flags */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif
#ifndef VIRTIO_NET_HDR_F_RSC_INFO
#define VIRTIO_NET_HDR_F_RSC_INFO 4
#endif

/* Config status */
#ifndef VIRTIO_NET_S_LINK_UP
#define VIRTIO_NET_S_LINK_UP 1
#endif
#ifndef VIRTIO_NET_S_ANNOUNCE
#define VIRTIO_NET_S_ANNOUNCE 2
#endif

/* CTRL_RX_EXTRA is named in the 1.2 text but missing from its feature list. */
#ifndef VIRTIO_NET_F_CTRL_RX_EXTRA
#define VIRTIO_NET_F_CTRL_RX_EXTRA 20
#endif

/* RSS hash types ("Supported/enabled hash types") */
#ifndef VIRTIO_NET_RSS_HASH_TYPE_IPv4
#define VIRTIO_NET_RSS_HASH_TYPE_IPv4	(1 << 0)
#define VIRTIO_NET_RSS_HASH_TYPE_TCPv4	(1 << 1)
#define VIRTIO_NET_RSS_HASH_TYPE_UDPv4	(1 << 2)
#define VIRTIO_NET_RSS_HASH_TYPE_IPv6	(1 << 3)
#define VIRTIO_NET_RSS_HASH_TYPE_TCPv6	(1 << 4)
#define VIRTIO_NET_RSS_HASH_TYPE_UDPv6	(1 << 5)
#define VIRTIO_NET_RSS_HASH_TYPE_IP_EX	(1 << 6)
#define VIRTIO_NET_RSS_HASH_TYPE_TCP_EX (1 << 7)
#define VIRTIO_NET_RSS_HASH_TYPE_UDP_EX (1 << 8)
#endif

/* Hash report types (virtio_net_hdr_v1_hash.hash_report) */
#ifndef VIRTIO_NET_HASH_REPORT_NONE
#define VIRTIO_NET_HASH_REPORT_NONE	0
#define VIRTIO_NET_HASH_REPORT_IPv4	1
#define VIRTIO_NET_HASH_REPORT_TCPv4	2
#define VIRTIO_NET_HASH_REPORT_UDPv4	3
#define VIRTIO_NET_HASH_REPORT_IPv6	4
#define VIRTIO_NET_HASH_REPORT_TCPv6	5
#define VIRTIO_NET_HASH_REPORT_UDPv6	6
#define VIRTIO_NET_HASH_REPORT_IPv6_EX	7
#define VIRTIO_NET_HASH_REPORT_TCPv6_EX 8
#define VIRTIO_NET_HASH_REPORT_UDPv6_EX 9
#endif

/* Control classes/commands (all in 6.1, guarded for older headers) */
#ifndef VIRTIO_NET_CTRL_MQ_RSS_CONFIG
#define VIRTIO_NET_CTRL_MQ_RSS_CONFIG 1
#endif
#ifndef VIRTIO_NET_CTRL_MQ_HASH_CONFIG
#define VIRTIO_NET_CTRL_MQ_HASH_CONFIG 2
#endif
#ifndef VIRTIO_NET_CTRL_GUEST_OFFLOADS
#define VIRTIO_NET_CTRL_GUEST_OFFLOADS	   5
#define VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET 0
#endif

#ifdef NET_DEFS_NEED_HASH_STRUCTS
/* "Setting RSS parameters": indirection_table has mask + 1 entries; key follows key_length. */
struct virtio_net_rss_config {
	__le32 hash_types;
	__le16 indirection_table_mask;
	__le16 unclassified_queue;
	__le16 indirection_table[1];
	__le16 max_tx_vq;
	__u8 hash_key_length;
	__u8 hash_key_data[];
};

/* "Hash calculation for incoming packets": same shape as rss_config minus the table. */
struct virtio_net_hash_config {
	__le32 hash_types;
	__le16 reserved[4];
	__u8 hash_key_length;
	__u8 hash_key_data[];
};

/* Header with VIRTIO_NET_F_HASH_REPORT (20 bytes). */
struct virtio_net_hdr_v1_hash {
	struct virtio_net_hdr_v1 hdr;
	__le32 hash_value;
	__le16 hash_report;
	__le16 padding;
};
#endif

#endif /* DEVICES_VIRTIO_NET_DEFS_H */
