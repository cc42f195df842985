// SPDX-License-Identifier: MIT
/*
 * virtio-net receive-side scaling and hash reporting (VIRTIO 1.2 "Receive-side scaling (RSS)",
 * "Hash calculation for incoming packets", "Hash reporting for incoming packets"). Pure
 * functions over the frame bytes: every read is bounds-checked against len.
 *
 * Choices where the 1.2 text is silent:
 * - IP fragments (IPv4 MF/offset, IPv6 Fragment header) have no usable L4 header: they get
 *   the address-only types (Microsoft RSS does the same, so flows stay on one queue).
 * - An IPv6 packet without extension headers that matches none of IPv6/TCPv6/UDPv6 but
 *   whose _EX type is enabled is hashed by the _EX rule (which then uses the plain source
 *   and destination addresses) and reported as _EX, as Microsoft's NDIS definition reads.
 * - "Has a TCP/UDP header" means the whole minimal L4 header (20 / 8 bytes) is in the frame.
 */
#include "devices/virtio/net_rss.h"

#include <string.h>

#define ETH_HLEN_      14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define IPPROTO_TCP_   6
#define IPPROTO_UDP_   17
/* IPv6 extension headers we walk (RFC 8200 4.1) */
#define IP6_HOPOPTS	     0
#define IP6_ROUTING	     43
#define IP6_FRAGMENT	     44
#define IP6_AH		     51
#define IP6_DSTOPTS	     60
#define IP6_OPT_HOME_ADDRESS 201 /* RFC 6275 6.3 */
#define IP6_EXT_MAX	     8	 /* headers walked before giving up (loops, padding floods) */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t net_toeplitz(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len)
{
	uint32_t hash = 0, window = 0;
	size_t next = 4; /* next key byte to shift into the window */
	size_t i;
	int b;

	/* The window holds key bits [i*8 + b, i*8 + b + 32); bytes past key_len read as 0. */
	for (i = 0; i < 4; i++)
		window = window << 8 | (i < key_len ? key[i] : 0);
	for (i = 0; i < len; i++) {
		uint8_t kb = next < key_len ? key[next] : 0;

		next++;
		for (b = 7; b >= 0; b--) {
			if (data[i] & (1u << b))
				hash ^= window;
			window = window << 1 | ((kb >> b) & 1u);
		}
	}
	return hash;
}

/* Where the L3 header starts and its ethertype, skipping up to two VLAN tags. */
static bool net_l3(const uint8_t *f, size_t len, size_t *off, uint16_t *type)
{
	size_t o = 12;
	int tags;

	if (len < ETH_HLEN_)
		return false;
	*type = be16(f + o);
	for (tags = 0; tags < 2 && (*type == ETHERTYPE_VLAN || *type == ETHERTYPE_QINQ); tags++) {
		o += 4;
		if (o + 2 > len)
			return false;
		*type = be16(f + o);
	}
	*off = o + 2;
	return true;
}

/* What the hash parser found in one packet. */
struct net_flow {
	bool v6;
	bool has_ext; /* IPv6 extension headers present */
	uint8_t l4;   /* IPPROTO_TCP_, IPPROTO_UDP_ or 0 (none / fragment / truncated) */
	const uint8_t *src, *dst;  /* addresses */
	const uint8_t *home, *rt2; /* IPv6 Home Address option, Type 2 Routing address */
	const uint8_t *ports;	   /* 4 bytes: source port, destination port */
};

static void net_l4(struct net_flow *fl, const uint8_t *f, size_t len, size_t off, uint8_t proto)
{
	size_t need = proto == IPPROTO_TCP_ ? 20 : proto == IPPROTO_UDP_ ? 8 : 0;

	if (need && off <= len && len - off >= need) {
		fl->l4 = proto;
		fl->ports = f + off;
	}
}

static bool net_parse_v4(struct net_flow *fl, const uint8_t *f, size_t len, size_t off)
{
	size_t ihl;

	if (len - off < 20 || (f[off] >> 4) != 4)
		return false;
	ihl = (size_t)(f[off] & 0xf) * 4;
	if (ihl < 20 || len - off < ihl)
		return false;
	fl->src = f + off + 12;
	fl->dst = f + off + 16;
	/* A fragment other than a whole datagram: no ports to hash on. */
	if ((be16(f + off + 6) & 0x3fff) == 0)
		net_l4(fl, f, len, off + ihl, f[off + 9]);
	return true;
}

/* Destination Options header: look for the Home Address option (16-byte address). */
static void net_v6_dstopts(struct net_flow *fl, const uint8_t *h, size_t hlen)
{
	size_t o = 2;

	while (o < hlen) {
		uint8_t type = h[o];

		if (type == 0) { /* Pad1 */
			o++;
			continue;
		}
		if (hlen - o < 2 || hlen - o - 2 < h[o + 1])
			return;
		if (type == IP6_OPT_HOME_ADDRESS && h[o + 1] == 16 && !fl->home)
			fl->home = h + o + 2;
		o += 2 + (size_t)h[o + 1];
	}
}

static bool net_parse_v6(struct net_flow *fl, const uint8_t *f, size_t len, size_t off)
{
	uint8_t next;
	size_t hlen;
	int n;

	if (len - off < 40 || (f[off] >> 4) != 6)
		return false;
	fl->v6 = true;
	fl->src = f + off + 8;
	fl->dst = f + off + 24;
	next = f[off + 6];
	off += 40;
	for (n = 0; n < IP6_EXT_MAX; n++) {
		if (next != IP6_HOPOPTS && next != IP6_ROUTING && next != IP6_FRAGMENT &&
		    next != IP6_AH && next != IP6_DSTOPTS) {
			net_l4(fl, f, len, off, next);
			return true;
		}
		fl->has_ext = true;
		if (len - off < 8)
			return true; /* truncated: addresses only */
		if (next == IP6_FRAGMENT)
			hlen = 8;
		else if (next == IP6_AH)
			hlen = ((size_t)f[off + 1] + 2) * 4;
		else
			hlen = ((size_t)f[off + 1] + 1) * 8;
		if (len - off < hlen)
			return true;
		if (next == IP6_FRAGMENT) {
			/* Offset or More Fragments: the L4 header is not (all) here. */
			if (be16(f + off + 2) & 0xfff9)
				return true;
		} else if (next == IP6_DSTOPTS) {
			net_v6_dstopts(fl, f + off, hlen);
		} else if (next == IP6_ROUTING) {
			/* Type 2 (RFC 6275 6.4): one address, segments left 1, length 2. */
			if (f[off + 2] == 2 && f[off + 1] == 2 && !fl->rt2)
				fl->rt2 = f + off + 8;
		}
		next = f[off];
		off += hlen;
	}
	return true; /* too many headers: addresses only */
}

static uint32_t net_hash_fields(const struct net_rss *rss, const struct net_flow *fl, bool ex,
				bool ports)
{
	uint8_t in[36];
	size_t alen = fl->v6 ? 16 : 4, n = 0;

	memcpy(in + n, ex && fl->home ? fl->home : fl->src, alen);
	n += alen;
	memcpy(in + n, ex && fl->rt2 ? fl->rt2 : fl->dst, alen);
	n += alen;
	if (ports) {
		memcpy(in + n, fl->ports, 4);
		n += 4;
	}
	return net_toeplitz(rss->key, rss->key_len, in, n);
}

/* One family of hash types: TCP, then UDP, then the addresses alone, the first enabled one
 * that applies wins ("Hash calculation for incoming packets"). */
struct net_rss_rule {
	uint32_t type[3];   /* VIRTIO_NET_RSS_HASH_TYPE_*: TCP, UDP, IP */
	uint16_t report[3]; /* VIRTIO_NET_HASH_REPORT_* of each */
};

static const struct net_rss_rule net_rss_v4 = {
	{VIRTIO_NET_RSS_HASH_TYPE_TCPv4, VIRTIO_NET_RSS_HASH_TYPE_UDPv4,
	 VIRTIO_NET_RSS_HASH_TYPE_IPv4},
	{VIRTIO_NET_HASH_REPORT_TCPv4, VIRTIO_NET_HASH_REPORT_UDPv4, VIRTIO_NET_HASH_REPORT_IPv4},
};
static const struct net_rss_rule net_rss_v6 = {
	{VIRTIO_NET_RSS_HASH_TYPE_TCPv6, VIRTIO_NET_RSS_HASH_TYPE_UDPv6,
	 VIRTIO_NET_RSS_HASH_TYPE_IPv6},
	{VIRTIO_NET_HASH_REPORT_TCPv6, VIRTIO_NET_HASH_REPORT_UDPv6, VIRTIO_NET_HASH_REPORT_IPv6},
};
static const struct net_rss_rule net_rss_ex = {
	{VIRTIO_NET_RSS_HASH_TYPE_TCP_EX, VIRTIO_NET_RSS_HASH_TYPE_UDP_EX,
	 VIRTIO_NET_RSS_HASH_TYPE_IP_EX},
	{VIRTIO_NET_HASH_REPORT_TCPv6_EX, VIRTIO_NET_HASH_REPORT_UDPv6_EX,
	 VIRTIO_NET_HASH_REPORT_IPv6_EX},
};

/* Apply one rule; ext_addrs: hash the extension headers' addresses (_EX with them present).
 * Returns the report, NONE when no type of the rule is enabled for this packet. */
static uint16_t net_rss_apply(const struct net_rss *rss, const struct net_flow *fl,
			      const struct net_rss_rule *r, bool ext_addrs, uint32_t *hash)
{
	const bool applies[3] = {fl->l4 == IPPROTO_TCP_, fl->l4 == IPPROTO_UDP_, true};

	for (unsigned int i = 0; i < 3; i++) {
		if (!applies[i] || !(rss->hash_types & r->type[i]))
			continue;
		*hash = net_hash_fields(rss, fl, ext_addrs, i < 2);
		return r->report[i];
	}
	return VIRTIO_NET_HASH_REPORT_NONE;
}

uint16_t net_rss_hash(const struct net_rss *rss, const uint8_t *frame, size_t len, uint32_t *hash)
{
	struct net_flow fl = {0};
	uint16_t type, rep;
	size_t off;

	*hash = 0;
	if (!net_l3(frame, len, &off, &type))
		return VIRTIO_NET_HASH_REPORT_NONE;
	if (type == ETHERTYPE_IPV4 ? !net_parse_v4(&fl, frame, len, off)
				   : type != ETHERTYPE_IPV6 || !net_parse_v6(&fl, frame, len, off))
		return VIRTIO_NET_HASH_REPORT_NONE;
	if (!fl.v6) /* "IPv4 packets" */
		return net_rss_apply(rss, &fl, &net_rss_v4, false, hash);
	/* "IPv6 packets with extension header": the _EX types first. */
	if (fl.has_ext) {
		rep = net_rss_apply(rss, &fl, &net_rss_ex, true, hash);
		if (rep != VIRTIO_NET_HASH_REPORT_NONE)
			return rep;
	}
	/* "IPv6 packets without extension header" (or with them skipped). */
	rep = net_rss_apply(rss, &fl, &net_rss_v6, false, hash);
	if (rep != VIRTIO_NET_HASH_REPORT_NONE || fl.has_ext)
		return rep;
	/* Only _EX types enabled, no extension headers: the _EX rule with plain addresses. */
	return net_rss_apply(rss, &fl, &net_rss_ex, false, hash);
}

/* "Receive-side scaling": unclassified_queue for NONE, else table[hash & mask]. The table_len
 * guard keeps a zero or oversized length (never accepted) from indexing out. */
static uint16_t net_rss_queue(const struct net_rss *rss, uint16_t report, uint32_t hash)
{
	if (report == VIRTIO_NET_HASH_REPORT_NONE || rss->table_len == 0 ||
	    rss->table_len > NET_RSS_MAX_TABLE)
		return rss->unclassified;
	return rss->table[hash & (uint32_t)(rss->table_len - 1)];
}

uint16_t net_rss_select(const struct net_rss *rss, const uint8_t *frame, size_t len, uint32_t *hash,
			uint16_t *report)
{
	uint16_t q;

	*hash = 0;
	*report = VIRTIO_NET_HASH_REPORT_NONE;
	if (!rss->enabled && !rss->hash_report)
		return 0;
	*report = net_rss_hash(rss, frame, len, hash);
	q = rss->enabled ? net_rss_queue(rss, *report, *hash) : 0;
	if (!rss->hash_report) { /* steering only: nothing to report in the header */
		*hash = 0;
		*report = VIRTIO_NET_HASH_REPORT_NONE;
	}
	return q;
}
