// SPDX-License-Identifier: MIT
/* virtio-net RSS: Toeplitz vectors, hash types, queue selection, hostile frames. */
#include <string.h>

#include "devices/virtio/net_rss.h"
#include "tests/harness.h"

/* The Microsoft RSS verification key ("Verifying the RSS Hash Calculation"). */
static const uint8_t ms_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

struct v4_vec {
	uint8_t src[4], dst[4];
	uint16_t sport, dport;
	uint32_t ip, tcp;
};

static const struct v4_vec v4_vecs[] = {
	{{66, 9, 149, 187}, {161, 142, 100, 80}, 2794, 1766, 0x323e8fc2, 0x51ccc178},
	{{199, 92, 111, 2}, {65, 69, 140, 83}, 14230, 4739, 0xd718262a, 0xc626b0ea},
	{{24, 19, 198, 95}, {12, 22, 207, 184}, 12898, 38024, 0xd2d0a5de, 0x5c2b394a},
	{{38, 27, 205, 30}, {209, 142, 163, 6}, 48228, 2217, 0x82989176, 0xafc7327f},
	{{153, 39, 163, 191}, {202, 188, 127, 2}, 44251, 1303, 0x5d1809c5, 0x10e828a2},
};

struct v6_vec {
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t ip, tcp;
};

static const struct v6_vec v6_vecs[] = {
	{/* 3ffe:2501:200:1fff::7 -> 3ffe:2501:200:3::1 */
	 {0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 7},
	 {0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 1},
	 2794,
	 1766,
	 0x2cc18cd5,
	 0x40207d3d},
	{/* 3ffe:501:8::260:97ff:fe40:efab -> ff02::1 */
	 {0x3f, 0xfe, 0x05, 0x01, 0x00, 0x08, 0, 0, 0x02, 0x60, 0x97, 0xff, 0xfe, 0x40, 0xef, 0xab},
	 {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
	 14230,
	 4739,
	 0x0f0c461c,
	 0xdde51bbf},
	{/* 3ffe:1900:4545:3:200:f8ff:fe21:67cf -> fe80::200:f8ff:fe21:67cf */
	 {0x3f, 0xfe, 0x19, 0x00, 0x45, 0x45, 0, 3, 0x02, 0x00, 0xf8, 0xff, 0xfe, 0x21, 0x67, 0xcf},
	 {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0xf8, 0xff, 0xfe, 0x21, 0x67, 0xcf},
	 44251,
	 38024,
	 0x4b61e985,
	 0x02d1feef},
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void rss_init(struct net_rss *r, uint32_t types)
{
	memset(r, 0, sizeof(*r));
	r->enabled = true;
	r->hash_report = true;
	r->hash_types = types;
	memcpy(r->key, ms_key, sizeof(ms_key));
	r->key_len = 40;
	r->table_len = 1;
}

/* Ethernet (+ optional 802.1Q tag) header; returns the L3 offset. */
static size_t put_eth(uint8_t *f, uint16_t type, bool vlan)
{
	size_t o = 12;

	memset(f, 0, 12);
	f[0] = 0x52;
	f[6] = 0x52;
	if (vlan) {
		put16(f + o, 0x8100);
		put16(f + o + 2, 5);
		o += 4;
	}
	put16(f + o, type);
	return o + 2;
}

/* IPv4 + L4 (proto 6 TCP with a 20-byte header, 17 UDP with 8, else none): frame length. */
static size_t build_v4(uint8_t *f, const struct v4_vec *v, uint8_t proto, bool vlan)
{
	size_t o = put_eth(f, 0x0800, vlan), l4 = proto == 6 ? 20 : proto == 17 ? 8 : 0;

	memset(f + o, 0, 20 + l4);
	f[o] = 0x45;
	put16(f + o + 2, (uint16_t)(20 + l4));
	f[o + 8] = 64;
	f[o + 9] = proto;
	memcpy(f + o + 12, v->src, 4);
	memcpy(f + o + 16, v->dst, 4);
	if (l4) {
		put16(f + o + 20, v->sport);
		put16(f + o + 22, v->dport);
	}
	return o + 20 + l4;
}

/* IPv6 + extension headers (raw bytes, their own next-header chain, first type ext_first)
 * + L4: frame length. */
static size_t build_v6(uint8_t *f, const struct v6_vec *v, uint8_t proto, uint8_t ext_first,
		       const uint8_t *ext, size_t ext_len)
{
	size_t o = put_eth(f, 0x86dd, false), l4 = proto == 6 ? 20 : proto == 17 ? 8 : 0;

	memset(f + o, 0, 40);
	f[o] = 0x60;
	put16(f + o + 4, (uint16_t)(ext_len + l4));
	f[o + 6] = ext_len ? ext_first : proto;
	f[o + 7] = 64;
	memcpy(f + o + 8, v->src, 16);
	memcpy(f + o + 24, v->dst, 16);
	o += 40;
	if (ext_len)
		memcpy(f + o, ext, ext_len);
	o += ext_len;
	memset(f + o, 0, l4);
	if (l4) {
		put16(f + o, v->sport);
		put16(f + o + 2, v->dport);
	}
	return o + l4;
}

TEST(net_rss_toeplitz_ms_ipv4_vectors)
{
	uint8_t in[12];
	size_t i;

	for (i = 0; i < sizeof(v4_vecs) / sizeof(v4_vecs[0]); i++) {
		const struct v4_vec *v = &v4_vecs[i];

		memcpy(in, v->src, 4);
		memcpy(in + 4, v->dst, 4);
		put16(in + 8, v->sport);
		put16(in + 10, v->dport);
		ASSERT_EQ(net_toeplitz(ms_key, 40, in, 8), v->ip);
		ASSERT_EQ(net_toeplitz(ms_key, 40, in, 12), v->tcp);
	}
}

TEST(net_rss_toeplitz_ms_ipv6_vectors)
{
	uint8_t in[36];
	size_t i;

	for (i = 0; i < sizeof(v6_vecs) / sizeof(v6_vecs[0]); i++) {
		const struct v6_vec *v = &v6_vecs[i];

		memcpy(in, v->src, 16);
		memcpy(in + 16, v->dst, 16);
		put16(in + 32, v->sport);
		put16(in + 34, v->dport);
		ASSERT_EQ(net_toeplitz(ms_key, 40, in, 32), v->ip);
		ASSERT_EQ(net_toeplitz(ms_key, 40, in, 36), v->tcp);
	}
}

TEST(net_rss_toeplitz_short_key_reads_zero)
{
	uint8_t key[40] = {0}, in[4] = {0xff, 0xff, 0xff, 0xff};

	memcpy(key, ms_key, 8);
	/* Bytes past key_len count as zero: an 8-byte key equals the 40-byte one zero-padded. */
	ASSERT_EQ(net_toeplitz(ms_key, 8, in, 4), net_toeplitz(key, 40, in, 4));
	ASSERT_EQ(net_toeplitz(ms_key, 0, in, 4), 0);
	ASSERT_EQ(net_toeplitz(ms_key, 40, in, 0), 0);
}

TEST(net_rss_hash_ipv4_types)
{
	uint32_t all4 = VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv4 |
			VIRTIO_NET_RSS_HASH_TYPE_UDPv4;
	struct net_rss r;
	uint8_t f[128];
	uint32_t h;
	size_t n;

	rss_init(&r, all4);
	n = build_v4(f, &v4_vecs[0], 6, false);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_TCPv4);
	ASSERT_EQ(h, v4_vecs[0].tcp);
	/* UDP is hashed over the same 12 bytes. */
	n = build_v4(f, &v4_vecs[1], 17, false);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_UDPv4);
	ASSERT_EQ(h, v4_vecs[1].tcp);
	/* Other protocols (ICMP): addresses only. */
	n = build_v4(f, &v4_vecs[2], 1, false);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_IPv4);
	ASSERT_EQ(h, v4_vecs[2].ip);
	/* TCP with only IPv4 enabled falls back to the address hash. */
	rss_init(&r, VIRTIO_NET_RSS_HASH_TYPE_IPv4);
	n = build_v4(f, &v4_vecs[3], 6, false);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_IPv4);
	ASSERT_EQ(h, v4_vecs[3].ip);
	/* TCPv4 only: UDP gets nothing. */
	rss_init(&r, VIRTIO_NET_RSS_HASH_TYPE_TCPv4);
	n = build_v4(f, &v4_vecs[4], 17, false);
	h = 1;
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_NONE);
	ASSERT_EQ(h, 0);
	/* IPv6 types do not apply to IPv4. */
	rss_init(&r, VIRTIO_NET_RSS_HASH_TYPE_IPv6 | VIRTIO_NET_RSS_HASH_TYPE_TCPv6);
	n = build_v4(f, &v4_vecs[4], 6, false);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_NONE);
}

TEST(net_rss_hash_vlan_tagged)
{
	struct net_rss r;
	uint8_t f[128];
	uint32_t h;
	size_t n;

	rss_init(&r, VIRTIO_NET_RSS_HASH_TYPE_TCPv4);
	n = build_v4(f, &v4_vecs[2], 6, true);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_TCPv4);
	ASSERT_EQ(h, v4_vecs[2].tcp);
	/* QinQ outer tag + 802.1Q inner tag. */
	memmove(f + 16, f + 12, n - 12);
	put16(f + 12, 0x88a8);
	put16(f + 14, 7);
	ASSERT_EQ(net_rss_hash(&r, f, n + 4, &h), VIRTIO_NET_HASH_REPORT_TCPv4);
	ASSERT_EQ(h, v4_vecs[2].tcp);
	/* A tag cut short. */
	ASSERT_EQ(net_rss_hash(&r, f, 17, &h), VIRTIO_NET_HASH_REPORT_NONE);
}

TEST(net_rss_hash_ipv4_fragments_and_options)
{
	struct net_rss r;
	uint8_t f[160];
	uint32_t h;
	size_t n, o = 14;

	rss_init(&r, VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv4);
	n = build_v4(f, &v4_vecs[0], 6, false);
	put16(f + o + 6, 0x2000); /* More Fragments */
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_IPv4);
	ASSERT_EQ(h, v4_vecs[0].ip);
	put16(f + o + 6, 0x0010); /* offset 128 */
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_IPv4);
	put16(f + o + 6, 0x4000); /* DF only: a whole datagram */
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_TCPv4);
	ASSERT_EQ(h, v4_vecs[0].tcp);
	/* IHL 6: ports move 4 bytes on. */
	memmove(f + o + 24, f + o + 20, 20);
	memset(f + o + 20, 1, 4);
	f[o] = 0x46;
	ASSERT_EQ(net_rss_hash(&r, f, n + 4, &h), VIRTIO_NET_HASH_REPORT_TCPv4);
	ASSERT_EQ(h, v4_vecs[0].tcp);
}

TEST(net_rss_hash_ipv4_hostile)
{
	struct net_rss r;
	uint8_t f[128];
	uint32_t h;
	size_t n, o = 14, k;

	rss_init(&r, NET_RSS_SUPPORTED_HASH_TYPES);
	n = build_v4(f, &v4_vecs[0], 6, false);
	/* Every truncation: never a TCP hash without the whole TCP header, never a read past
	 * len (ASan checks the latter: the copy is exactly k bytes long). */
	for (k = 0; k < n; k++) {
		uint8_t *cut = malloc(k ? k : 1);
		uint16_t t;

		memcpy(cut, f, k);
		t = net_rss_hash(&r, cut, k, &h);
		if (k < o + 20)
			ASSERT_EQ(t, VIRTIO_NET_HASH_REPORT_NONE);
		else
			ASSERT_EQ(t, VIRTIO_NET_HASH_REPORT_IPv4);
		free(cut);
	}
	/* IHL below 5 and IHL past the frame: not IPv4. */
	f[o] = 0x44;
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_NONE);
	f[o] = 0x4f; /* 60 bytes of header, frame has 40 after Ethernet */
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_NONE);
	/* Wrong version nibble under an IPv4 ethertype. */
	f[o] = 0x65;
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_NONE);
	/* Unknown ethertype (ARP). */
	f[o] = 0x45;
	put16(f + 12, 0x0806);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_NONE);
}

TEST(net_rss_hash_ipv6_types)
{
	struct net_rss r;
	uint8_t f[256];
	uint32_t h;
	size_t n;

	rss_init(&r, VIRTIO_NET_RSS_HASH_TYPE_IPv6 | VIRTIO_NET_RSS_HASH_TYPE_TCPv6 |
			     VIRTIO_NET_RSS_HASH_TYPE_UDPv6);
	n = build_v6(f, &v6_vecs[0], 6, 0, NULL, 0);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_TCPv6);
	ASSERT_EQ(h, v6_vecs[0].tcp);
	n = build_v6(f, &v6_vecs[1], 17, 0, NULL, 0);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_UDPv6);
	ASSERT_EQ(h, v6_vecs[1].tcp);
	n = build_v6(f, &v6_vecs[2], 58, 0, NULL, 0); /* ICMPv6 */
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_IPv6);
	ASSERT_EQ(h, v6_vecs[2].ip);
	/* IPv4 types do not apply to IPv6. */
	rss_init(&r, VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv4);
	n = build_v6(f, &v6_vecs[0], 6, 0, NULL, 0);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_NONE);
	/* Truncated IPv6 header. */
	rss_init(&r, NET_RSS_SUPPORTED_HASH_TYPES);
	ASSERT_EQ(net_rss_hash(&r, f, 14 + 39, &h), VIRTIO_NET_HASH_REPORT_NONE);
	/* TCP header cut short: addresses only. */
	ASSERT_EQ(net_rss_hash(&r, f, n - 1, &h), VIRTIO_NET_HASH_REPORT_IPv6);
	ASSERT_EQ(h, v6_vecs[0].ip);
}

/* A Destination Options header carrying a Home Address option, then (next) TCP/UDP. */
static size_t ext_hao(uint8_t *e, uint8_t next, const uint8_t *home)
{
	e[0] = next;
	e[1] = 2; /* (2 + 1) * 8 = 24 bytes */
	e[2] = 1; /* PadN, 2 bytes of padding */
	e[3] = 0;
	e[4] = 0xc9; /* Home Address */
	e[5] = 16;
	memcpy(e + 6, home, 16);
	e[22] = 0; /* Pad1 x2 */
	e[23] = 0;
	return 24;
}

/* A Type 2 Routing header with one address. */
static size_t ext_rt2(uint8_t *e, uint8_t next, const uint8_t *addr)
{
	memset(e, 0, 24);
	e[0] = next;
	e[1] = 2;
	e[2] = 2; /* routing type 2 */
	e[3] = 1; /* segments left */
	memcpy(e + 8, addr, 16);
	return 24;
}

TEST(net_rss_hash_ipv6_ex_types)
{
	struct net_rss r;
	uint8_t f[256], e[64], in[36];
	uint32_t h;
	size_t n, el;

	/* DSTOPTS(HAO = vec1.src) -> ROUTING type 2 (vec1.dst) -> TCP, addresses of vec0. */
	el = ext_rt2(e, 60, v6_vecs[1].dst);
	el += ext_hao(e + el, 6, v6_vecs[1].src);
	rss_init(&r, VIRTIO_NET_RSS_HASH_TYPE_TCP_EX | VIRTIO_NET_RSS_HASH_TYPE_TCPv6);
	n = build_v6(f, &v6_vecs[0], 6, 43, e, el);
	/* TCP_EX: home address and type 2 address replace source and destination. */
	memcpy(in, v6_vecs[1].src, 16);
	memcpy(in + 16, v6_vecs[1].dst, 16);
	put16(in + 32, v6_vecs[0].sport);
	put16(in + 34, v6_vecs[0].dport);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_TCPv6_EX);
	ASSERT_EQ(h, net_toeplitz(ms_key, 40, in, 36));
	/* Without TCP_EX: extension headers skipped, TCPv6 over the plain addresses. */
	rss_init(&r, VIRTIO_NET_RSS_HASH_TYPE_TCPv6);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_TCPv6);
	ASSERT_EQ(h, v6_vecs[0].tcp);
	/* IP_EX: addresses only, substituted. */
	rss_init(&r, VIRTIO_NET_RSS_HASH_TYPE_IP_EX | VIRTIO_NET_RSS_HASH_TYPE_IPv6);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_IPv6_EX);
	ASSERT_EQ(h, net_toeplitz(ms_key, 40, in, 32));
	/* UDP_EX over a UDP packet with only a Hop-by-Hop header: no substitution. */
	memset(e, 0, 8);
	e[0] = 17;
	e[2] = 1; /* PadN of 4 */
	e[3] = 4;
	n = build_v6(f, &v6_vecs[2], 17, 0, e, 8);
	rss_init(&r, VIRTIO_NET_RSS_HASH_TYPE_UDP_EX);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_UDPv6_EX);
	ASSERT_EQ(h, v6_vecs[2].tcp);
	/* _EX only, no extension headers: the _EX rule on plain addresses. */
	n = build_v6(f, &v6_vecs[2], 6, 0, NULL, 0);
	rss_init(&r, VIRTIO_NET_RSS_HASH_TYPE_TCP_EX);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_TCPv6_EX);
	ASSERT_EQ(h, v6_vecs[2].tcp);
	/* ...but a non-_EX type that applies wins there. */
	rss_init(&r, VIRTIO_NET_RSS_HASH_TYPE_IP_EX | VIRTIO_NET_RSS_HASH_TYPE_TCPv6);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_TCPv6);
}

TEST(net_rss_hash_ipv6_fragment_and_ah)
{
	struct net_rss r;
	uint8_t f[256], e[64];
	uint32_t h;
	size_t n;

	rss_init(&r, VIRTIO_NET_RSS_HASH_TYPE_IPv6 | VIRTIO_NET_RSS_HASH_TYPE_TCPv6);
	/* Fragment header, first fragment with More Fragments: no L4. */
	memset(e, 0, 8);
	e[0] = 6;
	put16(e + 2, 0x0001);
	n = build_v6(f, &v6_vecs[0], 6, 44, e, 8);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_IPv6);
	ASSERT_EQ(h, v6_vecs[0].ip);
	/* An atomic fragment (offset 0, no M): L4 is whole. */
	put16(e + 2, 0);
	n = build_v6(f, &v6_vecs[0], 6, 44, e, 8);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_TCPv6);
	ASSERT_EQ(h, v6_vecs[0].tcp);
	/* AH: length in 4-byte units minus 2 (here 12 bytes: 1). */
	memset(e, 0, 12);
	e[0] = 6;
	e[1] = 1;
	n = build_v6(f, &v6_vecs[0], 6, 51, e, 12);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_TCPv6);
	ASSERT_EQ(h, v6_vecs[0].tcp);
}

TEST(net_rss_hash_ipv6_ext_hostile)
{
	struct net_rss r;
	uint8_t f[512], e[256];
	uint32_t h;
	size_t n, k, i;

	rss_init(&r, NET_RSS_SUPPORTED_HASH_TYPES);
	/* A chain of 20 Hop-by-Hop headers, each naming another: stops after a bound and
	 * hashes the addresses. */
	for (i = 0; i < 20; i++) {
		memset(e + 8 * i, 0, 8);
		e[8 * i] = 0;
		e[8 * i + 2] = 1;
		e[8 * i + 3] = 4;
	}
	n = build_v6(f, &v6_vecs[0], 6, 0, e, 160);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_IPv6_EX);
	ASSERT_EQ(h, v6_vecs[0].ip);
	/* Extension header length past the frame. */
	memset(e, 0, 8);
	e[0] = 6;
	e[1] = 200;
	n = build_v6(f, &v6_vecs[0], 6, 60, e, 8);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_IPv6_EX);
	ASSERT_EQ(h, v6_vecs[0].ip);
	/* Home Address option whose length runs past its header; an option list of only
	 * Pad1; a TLV with a bogus length: none read outside the header. */
	k = ext_hao(e, 6, v6_vecs[1].src);
	e[5] = 40;
	n = build_v6(f, &v6_vecs[0], 6, 60, e, k);
	ASSERT_EQ(net_rss_hash(&r, f, n, &h), VIRTIO_NET_HASH_REPORT_TCPv6_EX);
	ASSERT_EQ(h, v6_vecs[0].tcp); /* the option was ignored */
	/* Every truncation of a frame with extension headers, copied to an exact-size buffer
	 * so ASan catches any read past len. */
	k = ext_rt2(e, 60, v6_vecs[1].dst);
	k += ext_hao(e + k, 6, v6_vecs[1].src);
	n = build_v6(f, &v6_vecs[0], 6, 43, e, k);
	for (i = 0; i <= n; i++) {
		uint8_t *cut = malloc(i ? i : 1);
		uint16_t t;

		memcpy(cut, f, i);
		t = net_rss_hash(&r, cut, i, &h);
		if (i < 54)
			ASSERT_EQ(t, VIRTIO_NET_HASH_REPORT_NONE);
		else if (i < n)
			ASSERT_EQ(t, VIRTIO_NET_HASH_REPORT_IPv6_EX);
		else
			ASSERT_EQ(t, VIRTIO_NET_HASH_REPORT_TCPv6_EX);
		free(cut);
	}
}

TEST(net_rss_select_table_and_unclassified)
{
	struct net_rss r;
	uint8_t f[128];
	uint32_t h;
	uint16_t rep, i;
	size_t n;

	rss_init(&r, VIRTIO_NET_RSS_HASH_TYPE_TCPv4);
	r.table_len = 8;
	for (i = 0; i < 8; i++)
		r.table[i] = (uint16_t)(i % 3);
	r.unclassified = 2;
	n = build_v4(f, &v4_vecs[0], 6, false);
	ASSERT_EQ(net_rss_select(&r, f, n, &h, &rep), (v4_vecs[0].tcp & 7) % 3);
	ASSERT_EQ(rep, VIRTIO_NET_HASH_REPORT_TCPv4);
	ASSERT_EQ(h, v4_vecs[0].tcp);
	/* No applicable type: the unclassified queue, report NONE. */
	n = build_v4(f, &v4_vecs[0], 17, false);
	ASSERT_EQ(net_rss_select(&r, f, n, &h, &rep), 2);
	ASSERT_EQ(rep, VIRTIO_NET_HASH_REPORT_NONE);
	ASSERT_EQ(h, 0);
	/* Steering without reporting: queue from the hash, nothing reported. */
	r.hash_report = false;
	n = build_v4(f, &v4_vecs[1], 6, false);
	ASSERT_EQ(net_rss_select(&r, f, n, &h, &rep), (v4_vecs[1].tcp & 7) % 3);
	ASSERT_EQ(rep, VIRTIO_NET_HASH_REPORT_NONE);
	ASSERT_EQ(h, 0);
	/* Reporting without steering: queue 0, hash reported. */
	r.hash_report = true;
	r.enabled = false;
	ASSERT_EQ(net_rss_select(&r, f, n, &h, &rep), 0);
	ASSERT_EQ(rep, VIRTIO_NET_HASH_REPORT_TCPv4);
	ASSERT_EQ(h, v4_vecs[1].tcp);
	/* Both off. */
	r.hash_report = false;
	ASSERT_EQ(net_rss_select(&r, f, n, &h, &rep), 0);
	ASSERT_EQ(rep, VIRTIO_NET_HASH_REPORT_NONE);
	/* A corrupt table length never indexes past the table. */
	r.enabled = true;
	r.table_len = 0;
	ASSERT_EQ(net_rss_select(&r, f, n, &h, &rep), 2);
	r.table_len = 4096;
	ASSERT_EQ(net_rss_select(&r, f, n, &h, &rep), 2);
}
