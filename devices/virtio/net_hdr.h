/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_NET_HDR_H
#define DEVICES_VIRTIO_NET_HDR_H

/*
 * virtio_net_hdr checks and translation between the guest's layout (VIRTIO 1.2 "Packet
 * Transmission" / "Processing of Incoming Packets") and the tap's. The tap always uses the
 * 12-byte struct virtio_net_hdr_v1 (TUNSETVNETHDRSZ 12, num_buffers unused); the guest's header
 * is 12 bytes, or 20 with VIRTIO_NET_F_HASH_REPORT (hash_value, hash_report, padding after it).
 * Pure functions, little-endian fields.
 */
#include <linux/if_tun.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio/net_defs.h"

#define NET_TAP_HDR_LEN 12u
#define NET_HDR_MAX_LEN 20u

/* TUN_F_* offloads newer than Debian 12's <linux/if_tun.h> (Linux 6.2). */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

/* Why net_hdr_tx() / net_hdr_rx() refused a header. */
enum net_hdr_err {
	NET_HDR_OK = 0,
	NET_HDR_BAD_GSO,  /* gso_type unknown, or not negotiated / not enabled */
	NET_HDR_BAD_ECN,  /* ECN flag without HOST_ECN / GUEST_ECN, or on a non-GSO packet */
	NET_HDR_BAD_CSUM, /* NEEDS_CSUM without CSUM / GUEST_CSUM, or csum outside the frame */
	NET_HDR_BAD_LEN,  /* hdr_len beyond the frame (or not exact with GUEST_HDRLEN) */
	NET_HDR_BAD_SIZE, /* GSO with gso_size 0 */
	NET_HDR_NO_CSUM,  /* GSO without NEEDS_CSUM */
};

/* Guest header length for the negotiated features: 20 with HASH_REPORT, else 12 (VERSION_1
 * is mandatory here, so the num_buffers field is always there). */
size_t net_hdr_len(uint64_t features);

/*
 * Transmit: check the guest's header g (guest-controlled) for a frame of frame_len bytes
 * against the negotiated features (HOST_TSO4/TSO6/ECN/UFO/USO, CSUM, GUEST_HDRLEN) and write the
 * header for the tap to *tap: flags other than NEEDS_CSUM cleared, num_buffers 0, and gso_size
 * and hdr_len 0 on a non-GSO packet (hints only there). Returns NET_HDR_OK or the reason.
 */
enum net_hdr_err net_hdr_tx(const struct virtio_net_hdr_v1 *g, uint64_t features, size_t frame_len,
			    struct virtio_net_hdr_v1 *tap);

/*
 * Receive: check the tap's header h for a frame of frame_len bytes against the GUEST_*
 * offloads in force (negotiated, narrowed by CTRL_GUEST_OFFLOADS): never hand the driver a GSO
 * type or a partial checksum it did not ask for. Writes the guest's first 12 bytes to *out
 * (RSC_INFO cleared, num_buffers 1; the caller fixes num_buffers and appends the hash fields).
 */
enum net_hdr_err net_hdr_rx(const struct virtio_net_hdr_v1 *h, uint64_t offloads, size_t frame_len,
			    struct virtio_net_hdr_v1 *out);

/* TUNSETOFFLOAD flags for the GUEST_* offload bits (CSUM first: the tap ignores the rest
 * without it). */
unsigned int net_hdr_tun_offloads(uint64_t offloads);

#endif /* DEVICES_VIRTIO_NET_HDR_H */
