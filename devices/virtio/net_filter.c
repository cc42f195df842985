// SPDX-License-Identifier: MIT
/*
 * virtio-net receive filter (VIRTIO 1.2 "Packet Receive Filtering", "VLAN Filtering"): the
 * decision whether a frame from the backend reaches the driver, from the state the control
 * queue set. The spec calls filtering best-effort; we apply it exactly.
 *
 * Order: runts (shorter than an Ethernet header, or a VLAN tag cut short) are dropped;
 * promiscuous accepts everything else (VLAN filter included, as QEMU does); then the VLAN
 * filter for 802.1Q-tagged frames when CTRL_VLAN was negotiated; then broadcast, multicast
 * and unicast rules.
 */
#include <string.h>

#include "devices/virtio/net_ctrl.h"

#define ETH_HLEN_      14
#define ETHERTYPE_VLAN 0x8100

static bool net_mac_in(const uint8_t (*tbl)[6], uint16_t n, const uint8_t *mac)
{
	uint16_t i;

	for (i = 0; i < n && i < NET_MAC_TABLE_MAX; i++)
		if (!memcmp(tbl[i], mac, 6))
			return true;
	return false;
}

bool net_rx_accept(const struct net_ctrl_state *st, uint64_t negotiated, const uint8_t *frame,
		   size_t len)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	const uint8_t *dst = frame;

	if (len < ETH_HLEN_)
		return false;
	if ((frame[12] << 8 | frame[13]) == ETHERTYPE_VLAN && len < ETH_HLEN_ + 4)
		return false;
	if (st->promisc)
		return true;
	if ((negotiated & (1ULL << VIRTIO_NET_F_CTRL_VLAN)) &&
	    (frame[12] << 8 | frame[13]) == ETHERTYPE_VLAN) {
		unsigned int vid = (unsigned int)(frame[14] << 8 | frame[15]) & 0xfff;

		if (!(st->vlans[vid / 32] & (1u << (vid % 32))))
			return false;
	}
	if (!memcmp(dst, bcast, 6))
		return !st->nobcast;
	if (dst[0] & 1) { /* multicast */
		if (st->nomulti)
			return false;
		if (st->allmulti || st->multi_overflow)
			return true;
		return net_mac_in((const uint8_t(*)[6])st->multi, st->n_multi, dst);
	}
	if (st->nouni)
		return false;
	if (st->alluni || st->uni_overflow || !memcmp(dst, st->mac, 6))
		return true;
	return net_mac_in((const uint8_t(*)[6])st->uni, st->n_uni, dst);
}
