// SPDX-License-Identifier: MIT
/*
 * virtio-net control virtqueue (VIRTIO 1.2 "Control Virtqueue"): parses one chain, validates
 * the whole command into temporaries and only then commits, so an ERR never leaves half a
 * change behind. All command data is guest input.
 */
#include "devices/virtio/net_ctrl.h"

#include <string.h>

#include "devices/virtio/virtqueue.h"

#define BIT(f) (1ULL << (f))
/* Largest fixed-size command data we buffer: RSS_CONFIG with a full table and key. */
#define NET_CTRL_DATA_MAX (4 + 2 + 2 + 2 * NET_RSS_MAX_TABLE + 2 + 1 + 255)

void net_ctrl_reset(struct net_ctrl_state *st, const uint8_t mac[6], uint64_t negotiated)
{
	memset(st, 0, sizeof(*st));
	/*
	 * "Packet Receive Filtering" gives no reset value for the RX modes; only "the device
	 * MUST have an empty MAC filtering table on reset". An empty table with promiscuous off
	 * would drop everything but the own MAC until the driver speaks, and a driver without
	 * CTRL_RX never can: so promiscuous starts on (as QEMU does); Linux turns it off as soon
	 * as it opens the interface.
	 */
	st->promisc = true;
	memcpy(st->mac, mac, 6);
	st->queue_pairs = 1;
	st->guest_offloads = negotiated & NET_GUEST_OFFLOAD_MASK;
}

/* Read exactly n command bytes; false if the readable part is shorter. */
static bool net_ctrl_get(struct vq_chain *c, void *dst, size_t n)
{
	return vq_chain_pull(c, dst, n) == n;
}

static uint16_t le16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool has(const struct net_ctrl_caps *caps, unsigned int f)
{
	return caps->features & BIT(f);
}

/* VIRTIO_NET_CTRL_RX: one byte, zero = off. PROMISC/ALLMULTI need CTRL_RX, the rest also
 * CTRL_RX_EXTRA. */
static bool net_ctrl_rx(struct net_ctrl_state *st, const struct net_ctrl_caps *caps,
			struct vq_chain *c, uint8_t cmd)
{
	bool *mode[] = {
		[VIRTIO_NET_CTRL_RX_PROMISC] = &st->promisc,
		[VIRTIO_NET_CTRL_RX_ALLMULTI] = &st->allmulti,
		[VIRTIO_NET_CTRL_RX_ALLUNI] = &st->alluni,
		[VIRTIO_NET_CTRL_RX_NOMULTI] = &st->nomulti,
		[VIRTIO_NET_CTRL_RX_NOUNI] = &st->nouni,
		[VIRTIO_NET_CTRL_RX_NOBCAST] = &st->nobcast,
	};
	uint8_t on;

	if (!has(caps, VIRTIO_NET_F_CTRL_RX) || cmd >= sizeof(mode) / sizeof(mode[0]))
		return false;
	if (cmd > VIRTIO_NET_CTRL_RX_ALLMULTI && !has(caps, VIRTIO_NET_F_CTRL_RX_EXTRA))
		return false;
	if (!net_ctrl_get(c, &on, 1) || vq_chain_pull_left(c))
		return false;
	*mode[cmd] = on != 0;
	return true;
}

/* One MAC table of TABLE_SET: le32 entries, entries * 6 bytes. More entries than we hold are
 * consumed and turn the table into "accept all of that kind". */
static bool net_ctrl_mac_table(struct vq_chain *c, uint8_t tbl[][6], uint16_t *n, bool *overflow)
{
	uint8_t raw[4], skip[64];
	uint64_t bytes;
	uint32_t entries;

	if (!net_ctrl_get(c, raw, 4))
		return false;
	entries = le32_at(raw);
	bytes = (uint64_t)entries * 6;
	if (bytes > vq_chain_pull_left(c))
		return false;
	if (entries <= NET_MAC_TABLE_MAX) {
		*n = (uint16_t)entries;
		*overflow = false;
		return net_ctrl_get(c, tbl, (size_t)bytes);
	}
	*n = 0;
	*overflow = true;
	while (bytes) {
		size_t k = bytes < sizeof(skip) ? (size_t)bytes : sizeof(skip);

		if (!net_ctrl_get(c, skip, k))
			return false;
		bytes -= k;
	}
	return true;
}

static bool net_ctrl_mac(struct net_ctrl_state *st, const struct net_ctrl_caps *caps,
			 struct vq_chain *c, uint8_t cmd, struct net_ctrl_effects *fx)
{
	uint8_t uni[NET_MAC_TABLE_MAX][6], multi[NET_MAC_TABLE_MAX][6];
	uint16_t n_uni, n_multi;
	bool uo, mo;
	uint8_t mac[6];

	if (cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET) {
		if (!has(caps, VIRTIO_NET_F_CTRL_MAC_ADDR))
			return false;
		if (!net_ctrl_get(c, mac, 6) || vq_chain_pull_left(c))
			return false;
		/* A station address is unicast and not all-zero (Linux's is_valid_ether_addr). */
		if ((mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
			return false;
		fx->mac_changed = memcmp(st->mac, mac, 6) != 0;
		memcpy(st->mac, mac, 6);
		return true;
	}
	/* TABLE_SET comes with CTRL_RX ("Setting MAC Address Filtering"). */
	if (cmd != VIRTIO_NET_CTRL_MAC_TABLE_SET || !has(caps, VIRTIO_NET_F_CTRL_RX))
		return false;
	if (!net_ctrl_mac_table(c, uni, &n_uni, &uo) ||
	    !net_ctrl_mac_table(c, multi, &n_multi, &mo) || vq_chain_pull_left(c))
		return false;
	memcpy(st->uni, uni, (size_t)n_uni * 6);
	memcpy(st->multi, multi, (size_t)n_multi * 6);
	st->n_uni = n_uni;
	st->n_multi = n_multi;
	st->uni_overflow = uo;
	st->multi_overflow = mo;
	return true;
}

static bool net_ctrl_vlan(struct net_ctrl_state *st, const struct net_ctrl_caps *caps,
			  struct vq_chain *c, uint8_t cmd)
{
	uint8_t raw[2];
	uint16_t vid;

	if (!has(caps, VIRTIO_NET_F_CTRL_VLAN) || cmd > VIRTIO_NET_CTRL_VLAN_DEL)
		return false;
	if (!net_ctrl_get(c, raw, 2) || vq_chain_pull_left(c))
		return false;
	vid = le16_at(raw);
	if (vid >= 4096)
		return false;
	if (cmd == VIRTIO_NET_CTRL_VLAN_ADD)
		st->vlans[vid / 32] |= 1u << (vid % 32);
	else
		st->vlans[vid / 32] &= ~(1u << (vid % 32));
	return true;
}

/*
 * RSS_CONFIG ("Setting RSS parameters") and HASH_CONFIG ("Hash calculation"), same layout up
 * to the table: le32 hash_types; le16 mask, le16 unclassified_queue, le16 table[mask + 1],
 * le16 max_tx_vq (HASH_CONFIG: le16 reserved[4], contents ignored); u8 key_len; key.
 */
static bool net_ctrl_rss(struct net_ctrl_state *st, const struct net_ctrl_caps *caps,
			 struct vq_chain *c, bool rss, struct net_ctrl_effects *fx)
{
	uint8_t d[NET_CTRL_DATA_MAX];
	size_t len = vq_chain_pull_left(c), o;
	struct net_rss r = st->rss;
	uint16_t pairs = st->queue_pairs, tlen = 1, i;
	uint8_t key_max =
		caps->rss_max_key_size < NET_RSS_MAX_KEY ? caps->rss_max_key_size : NET_RSS_MAX_KEY;
	uint16_t tbl_max = caps->rss_max_indirection_table_length < NET_RSS_MAX_TABLE
				   ? caps->rss_max_indirection_table_length
				   : NET_RSS_MAX_TABLE;

	if (!has(caps, rss ? VIRTIO_NET_F_RSS : VIRTIO_NET_F_HASH_REPORT))
		return false;
	if (len > sizeof(d) || len < 4 + 8 + 1 || !net_ctrl_get(c, d, len))
		return false;
	r.hash_types = le32_at(d);
	/* Only types the device offers in supported_hash_types (and can compute). */
	if (r.hash_types & ~(caps->supported_hash_types & NET_RSS_SUPPORTED_HASH_TYPES))
		return false;
	o = 4;
	if (rss) {
		uint16_t mask = le16_at(d + 4);

		/* mask + 1 entries, a power of two no larger than the device's maximum. */
		if (mask >= tbl_max || (mask & (mask + 1)))
			return false;
		tlen = (uint16_t)(mask + 1);
		if (len < 4 + 4 + 2u * tlen + 2 + 1)
			return false;
		r.unclassified = le16_at(d + 6);
		/* Guest-chosen queue indexes: every one must name an existing pair. */
		if (r.unclassified >= caps->max_queue_pairs)
			return false;
		for (i = 0; i < tlen; i++) {
			r.table[i] = le16_at(d + 8 + 2 * i);
			if (r.table[i] >= caps->max_queue_pairs)
				return false;
		}
		o = 8 + 2u * tlen;
		pairs = le16_at(d + o);
		if (pairs == 0 || pairs > caps->max_queue_pairs)
			return false;
		o += 2;
		r.table_len = tlen;
		r.enabled = true;
	} else {
		o += 8;
	}
	r.key_len = d[o++];
	if (r.key_len > key_max || len - o != r.key_len)
		return false;
	/* A hash needs a key ("No key provided" is refused, as a zero key hashes all to 0). */
	if (r.hash_types && r.key_len == 0)
		return false;
	memset(r.key, 0, sizeof(r.key));
	memcpy(r.key, d + o, r.key_len);
	r.hash_report = has(caps, VIRTIO_NET_F_HASH_REPORT) && r.hash_types != 0;
	st->rss = r;
	if (pairs != st->queue_pairs) {
		st->queue_pairs = pairs;
		fx->queue_pairs_changed = true;
	}
	return true;
}

static bool net_ctrl_mq(struct net_ctrl_state *st, const struct net_ctrl_caps *caps,
			struct vq_chain *c, uint8_t cmd, struct net_ctrl_effects *fx)
{
	uint8_t raw[2];
	uint16_t pairs;

	if (cmd == VIRTIO_NET_CTRL_MQ_RSS_CONFIG || cmd == VIRTIO_NET_CTRL_MQ_HASH_CONFIG)
		return net_ctrl_rss(st, caps, c, cmd == VIRTIO_NET_CTRL_MQ_RSS_CONFIG, fx);
	if (cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || !has(caps, VIRTIO_NET_F_MQ))
		return false;
	if (!net_ctrl_get(c, raw, 2) || vq_chain_pull_left(c))
		return false;
	pairs = le16_at(raw);
	if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > caps->max_queue_pairs)
		return false;
	/* "Automatic receive steering": VQ_PAIRS_SET replaces RSS steering (hash reporting,
	 * configured separately, stays). */
	st->rss.enabled = false;
	if (pairs != st->queue_pairs) {
		st->queue_pairs = pairs;
		fx->queue_pairs_changed = true;
	}
	return true;
}

static bool net_ctrl_offloads(struct net_ctrl_state *st, const struct net_ctrl_caps *caps,
			      struct vq_chain *c, uint8_t cmd, struct net_ctrl_effects *fx)
{
	uint8_t raw[8];
	uint64_t want;

	if (!has(caps, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) ||
	    cmd != VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET)
		return false;
	if (!net_ctrl_get(c, raw, 8) || vq_chain_pull_left(c))
		return false;
	want = (uint64_t)le32_at(raw) | (uint64_t)le32_at(raw + 4) << 32;
	/* "A driver MUST NOT enable an offload for which the appropriate feature has not been
	 * negotiated." */
	if (want & ~(caps->features & NET_GUEST_OFFLOAD_MASK))
		return false;
	if (want != st->guest_offloads) {
		st->guest_offloads = want;
		fx->offloads_changed = true;
	}
	return true;
}

static bool net_ctrl_exec(struct net_ctrl_state *st, const struct net_ctrl_caps *caps,
			  struct vq_chain *c, struct net_ctrl_effects *fx)
{
	uint8_t hdr[2];

	if (!has(caps, VIRTIO_NET_F_CTRL_VQ) || !net_ctrl_get(c, hdr, 2))
		return false;
	switch (hdr[0]) {
	case VIRTIO_NET_CTRL_RX:
		return net_ctrl_rx(st, caps, c, hdr[1]);
	case VIRTIO_NET_CTRL_MAC:
		return net_ctrl_mac(st, caps, c, hdr[1], fx);
	case VIRTIO_NET_CTRL_VLAN:
		return net_ctrl_vlan(st, caps, c, hdr[1]);
	case VIRTIO_NET_CTRL_ANNOUNCE:
		if (!has(caps, VIRTIO_NET_F_GUEST_ANNOUNCE) ||
		    hdr[1] != VIRTIO_NET_CTRL_ANNOUNCE_ACK || vq_chain_pull_left(c))
			return false;
		fx->announce_ack = true;
		return true;
	case VIRTIO_NET_CTRL_MQ:
		return net_ctrl_mq(st, caps, c, hdr[1], fx);
	case VIRTIO_NET_CTRL_GUEST_OFFLOADS:
		return net_ctrl_offloads(st, caps, c, hdr[1], fx);
	default:
		return false;
	}
}

uint32_t net_ctrl_handle(struct net_ctrl_state *st, const struct net_ctrl_caps *caps,
			 struct vq_chain *c, struct net_ctrl_effects *fx)
{
	struct net_ctrl_effects none = {0};
	uint8_t ack;
	int i;

	*fx = none;
	/* Without a writable byte there is nowhere to put the ack: do nothing at all. */
	if (c->in_len == 0)
		return 0;
	ack = net_ctrl_exec(st, caps, c, fx) ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
	if (ack != VIRTIO_NET_OK)
		*fx = none;
	/* The ack is the chain's last byte: the last non-empty writable segment's end. */
	for (i = c->n_out + c->n_in - 1; i >= c->n_out; i--) {
		if (c->iov[i].iov_len) {
			((uint8_t *)c->iov[i].iov_base)[c->iov[i].iov_len - 1] = ack;
			break;
		}
	}
	return c->in_len;
}
