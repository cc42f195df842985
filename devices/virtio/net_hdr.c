/* SPDX-License-Identifier: MIT */
/* virtio-net header checks and translation, guest <-> tap. */
#include "devices/virtio/net_hdr.h"

#include <endian.h>
#include <linux/if_tun.h>
#include <stdbool.h>

#define BIT(n) (1ULL << (n))

size_t net_hdr_len(uint64_t features)
{
	return features & BIT(VIRTIO_NET_F_HASH_REPORT) ? sizeof(struct virtio_net_hdr_v1_hash)
							: sizeof(struct virtio_net_hdr_v1);
}

/* The checksum field must lie inside the frame: csum_start + csum_offset + 2 <= len
 * (16-bit fields, no overflow in size_t). */
static bool net_csum_fits(const struct virtio_net_hdr_v1 *h, size_t frame_len)
{
	return (size_t)le16toh(h->csum_start) + le16toh(h->csum_offset) + 2 <= frame_len;
}

/* The feature (bit) a GSO type needs, per direction; 0 for unknown types. */
static uint64_t net_gso_need(uint8_t gso, bool rx)
{
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return BIT(rx ? VIRTIO_NET_F_GUEST_TSO4 : VIRTIO_NET_F_HOST_TSO4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return BIT(rx ? VIRTIO_NET_F_GUEST_TSO6 : VIRTIO_NET_F_HOST_TSO6);
	case VIRTIO_NET_HDR_GSO_UDP:
		return BIT(rx ? VIRTIO_NET_F_GUEST_UFO : VIRTIO_NET_F_HOST_UFO);
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		/* rx: either USO direction will do; the tap only makes what was enabled */
		return rx ? BIT(VIRTIO_NET_F_GUEST_USO4) | BIT(VIRTIO_NET_F_GUEST_USO6)
			  : BIT(VIRTIO_NET_F_HOST_USO);
	default:
		return 0;
	}
}

/* gso_type check common to both directions. */
static enum net_hdr_err net_gso_check(const struct virtio_net_hdr_v1 *h, uint64_t f, bool rx)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	uint64_t need;

	if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return h->gso_type & VIRTIO_NET_HDR_GSO_ECN ? NET_HDR_BAD_ECN : NET_HDR_OK;
	need = net_gso_need(gso, rx);
	if (!(f & need))
		return NET_HDR_BAD_GSO;
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    !(f & BIT(rx ? VIRTIO_NET_F_GUEST_ECN : VIRTIO_NET_F_HOST_ECN)))
		return NET_HDR_BAD_ECN;
	if (!le16toh(h->gso_size))
		return NET_HDR_BAD_SIZE;
	return NET_HDR_OK;
}

enum net_hdr_err net_hdr_tx(const struct virtio_net_hdr_v1 *g, uint64_t features, size_t frame_len,
			    struct virtio_net_hdr_v1 *tap)
{
	bool gso = (g->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE;
	bool csum = g->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
	enum net_hdr_err e;

	e = net_gso_check(g, features, false);
	if (e)
		return e;
	/* "Packet Transmission": NEEDS_CSUM only with VIRTIO_NET_F_CSUM, and the checksum
	 * field inside the packet. */
	if (csum && (!(features & BIT(VIRTIO_NET_F_CSUM)) || !net_csum_fits(g, frame_len)))
		return NET_HDR_BAD_CSUM;
	if (gso) {
		/* "If gso_type differs from VIRTIO_NET_HDR_GSO_NONE, then the driver MUST also
		 * set the VIRTIO_NET_HDR_F_NEEDS_CSUM bit". */
		if (!csum)
			return NET_HDR_NO_CSUM;
		if (le16toh(g->hdr_len) > frame_len)
			return NET_HDR_BAD_LEN;
		/* GUEST_HDRLEN: hdr_len is the exact L2-L4 header length, so it covers the
		 * transport header up to its checksum field. */
		if ((features & BIT(VIRTIO_NET_F_GUEST_HDRLEN)) &&
		    le16toh(g->hdr_len) <
			    (size_t)le16toh(g->csum_start) + le16toh(g->csum_offset) + 2)
			return NET_HDR_BAD_LEN;
	}
	*tap = *g;
	tap->flags = csum ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
	tap->num_buffers = 0;
	if (!gso) {
		tap->gso_size = 0;
		tap->hdr_len = 0;
	}
	if (!csum) {
		tap->csum_start = 0;
		tap->csum_offset = 0;
	}
	return NET_HDR_OK;
}

enum net_hdr_err net_hdr_rx(const struct virtio_net_hdr_v1 *h, uint64_t offloads, size_t frame_len,
			    struct virtio_net_hdr_v1 *out)
{
	bool gso = (h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE;
	bool guest_csum = offloads & BIT(VIRTIO_NET_F_GUEST_CSUM);
	enum net_hdr_err e;

	e = net_gso_check(h, offloads, true);
	if (e)
		return e;
	/* "Processing of Incoming Packets": NEEDS_CSUM / DATA_VALID only with GUEST_CSUM. A
	 * partial checksum the driver cannot finish makes the packet useless: drop it. */
	if (h->flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) {
		if (!guest_csum)
			return NET_HDR_BAD_CSUM;
		if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !net_csum_fits(h, frame_len))
			return NET_HDR_BAD_CSUM;
	}
	if (gso && le16toh(h->hdr_len) > frame_len)
		return NET_HDR_BAD_LEN;
	*out = *h;
	out->flags = h->flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID);
	out->num_buffers = htole16(1);
	return NET_HDR_OK;
}

unsigned int net_hdr_tun_offloads(uint64_t offloads)
{
	unsigned int t = 0;

	if (!(offloads & BIT(VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	t |= TUN_F_CSUM;
	if (offloads & BIT(VIRTIO_NET_F_GUEST_TSO4))
		t |= TUN_F_TSO4;
	if (offloads & BIT(VIRTIO_NET_F_GUEST_TSO6))
		t |= TUN_F_TSO6;
	if (offloads & BIT(VIRTIO_NET_F_GUEST_ECN))
		t |= TUN_F_TSO_ECN;
	if (offloads & BIT(VIRTIO_NET_F_GUEST_UFO))
		t |= TUN_F_UFO;
	if (offloads & BIT(VIRTIO_NET_F_GUEST_USO4))
		t |= TUN_F_USO4;
	if (offloads & BIT(VIRTIO_NET_F_GUEST_USO6))
		t |= TUN_F_USO6;
	return t;
}
