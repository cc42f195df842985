// SPDX-License-Identifier: MIT
/* virtio-net control queue commands (every class, every error path) and rx filtering. */
#include <string.h>

#include "devices/virtio/net_ctrl.h"
#include "devices/virtio/virtqueue.h"
#include "tests/harness.h"

#define F(b) (1ULL << (b))
#define ALL_CTRL                                                                                   \
	(F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_RX) | F(VIRTIO_NET_F_CTRL_RX_EXTRA) |       \
	 F(VIRTIO_NET_F_CTRL_VLAN) | F(VIRTIO_NET_F_GUEST_ANNOUNCE) | F(VIRTIO_NET_F_MQ) |         \
	 F(VIRTIO_NET_F_CTRL_MAC_ADDR) | F(VIRTIO_NET_F_RSS) | F(VIRTIO_NET_F_HASH_REPORT) |       \
	 F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | F(VIRTIO_NET_F_GUEST_CSUM) |                        \
	 F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6))

static const uint8_t dev_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

/* A command: bytes sent, ack byte received. */
struct cmd {
	uint8_t out[2048];
	size_t len;
	uint8_t ack[4];
	struct vq_chain c;
};

static void cmd_begin(struct cmd *m, uint8_t cls, uint8_t op)
{
	memset(m, 0, sizeof(*m));
	m->out[0] = cls;
	m->out[1] = op;
	m->len = 2;
}

static void cmd_u8(struct cmd *m, uint8_t v)
{
	m->out[m->len++] = v;
}

static void cmd_le16(struct cmd *m, uint16_t v)
{
	cmd_u8(m, (uint8_t)v);
	cmd_u8(m, (uint8_t)(v >> 8));
}

static void cmd_le32(struct cmd *m, uint32_t v)
{
	cmd_le16(m, (uint16_t)v);
	cmd_le16(m, (uint16_t)(v >> 16));
}

static void cmd_bytes(struct cmd *m, const void *p, size_t n)
{
	memcpy(m->out + m->len, p, n);
	m->len += n;
}

/* Readable part split after the 2-byte header (as Linux sends it), writable ack of in_len. */
static void cmd_chain(struct cmd *m, uint32_t in_len)
{
	struct vq_chain *c = &m->c;

	memset(c, 0, sizeof(*c));
	c->iov[0].iov_base = m->out;
	c->iov[0].iov_len = 2;
	c->n_out = 1;
	if (m->len > 2) {
		c->iov[1].iov_base = m->out + 2;
		c->iov[1].iov_len = m->len - 2;
		c->n_out = 2;
	}
	c->out_len = (uint32_t)m->len;
	if (in_len) {
		c->iov[c->n_out].iov_base = m->ack;
		c->iov[c->n_out].iov_len = in_len;
		c->n_in = 1;
	}
	c->in_len = in_len;
	c->push_seg = c->n_out;
	memset(m->ack, 0xee, sizeof(m->ack));
}

struct env {
	struct net_ctrl_state st;
	struct net_ctrl_caps caps;
	struct net_ctrl_effects fx;
};

static void env_init(struct env *e, uint64_t features)
{
	memset(e, 0, sizeof(*e));
	e->caps.features = features;
	e->caps.max_queue_pairs = 4;
	e->caps.supported_hash_types = NET_RSS_SUPPORTED_HASH_TYPES;
	e->caps.rss_max_key_size = 40;
	e->caps.rss_max_indirection_table_length = 128;
	net_ctrl_reset(&e->st, dev_mac, features);
}

/* Run m; returns the ack byte (asserting used length 1). */
static int run(struct env *e, struct cmd *m)
{
	cmd_chain(m, 1);
	ASSERT_EQ(net_ctrl_handle(&e->st, &e->caps, &m->c, &e->fx), 1);
	return m->ack[0];
}

/* Run m expecting ERR and no state change at all. */
static void run_err(struct env *e, struct cmd *m)
{
	struct net_ctrl_state before = e->st;

	ASSERT_EQ(run(e, m), VIRTIO_NET_ERR);
	ASSERT_MEM_EQ(&before, &e->st, sizeof(before));
	ASSERT_FALSE(e->fx.mac_changed || e->fx.queue_pairs_changed || e->fx.offloads_changed ||
		     e->fx.announce_ack);
}

TEST(net_ctrl_reset_defaults)
{
	struct env e;

	env_init(&e, ALL_CTRL);
	ASSERT_TRUE(e.st.promisc);
	ASSERT_FALSE(e.st.allmulti || e.st.alluni || e.st.nomulti || e.st.nouni || e.st.nobcast);
	ASSERT_MEM_EQ(e.st.mac, dev_mac, 6);
	ASSERT_EQ(e.st.n_uni, 0);
	ASSERT_EQ(e.st.n_multi, 0);
	ASSERT_EQ(e.st.queue_pairs, 1);
	ASSERT_FALSE(e.st.rss.enabled || e.st.rss.hash_report);
	ASSERT_EQ(e.st.guest_offloads, F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) |
					       F(VIRTIO_NET_F_GUEST_TSO6));
	ASSERT_EQ(e.st.vlans[0], 0);
}

TEST(net_ctrl_rx_modes)
{
	bool *fields[6];
	struct cmd m;
	struct env e;
	int i;

	env_init(&e, ALL_CTRL);
	fields[0] = &e.st.promisc;
	fields[1] = &e.st.allmulti;
	fields[2] = &e.st.alluni;
	fields[3] = &e.st.nomulti;
	fields[4] = &e.st.nouni;
	fields[5] = &e.st.nobcast;
	for (i = 0; i < 6; i++) {
		cmd_begin(&m, VIRTIO_NET_CTRL_RX, (uint8_t)i);
		cmd_u8(&m, 7); /* any non-zero is on */
		ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
		ASSERT_TRUE(*fields[i]);
		cmd_begin(&m, VIRTIO_NET_CTRL_RX, (uint8_t)i);
		cmd_u8(&m, 0);
		ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
		ASSERT_FALSE(*fields[i]);
	}
}

TEST(net_ctrl_rx_errors)
{
	struct cmd m;
	struct env e;

	env_init(&e, ALL_CTRL);
	/* No data, two bytes of data, unknown command. */
	cmd_begin(&m, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC);
	cmd_u8(&m, 0);
	cmd_u8(&m, 0);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_RX, 6);
	cmd_u8(&m, 1);
	run_err(&e, &m);
	/* The extra modes need CTRL_RX_EXTRA; PROMISC/ALLMULTI do not. */
	env_init(&e, ALL_CTRL & ~F(VIRTIO_NET_F_CTRL_RX_EXTRA));
	cmd_begin(&m, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST);
	cmd_u8(&m, 1);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI);
	cmd_u8(&m, 1);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	/* No CTRL_RX at all. */
	env_init(&e, ALL_CTRL & ~F(VIRTIO_NET_F_CTRL_RX));
	cmd_begin(&m, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC);
	cmd_u8(&m, 0);
	run_err(&e, &m);
	/* No control queue negotiated: nothing is accepted. */
	env_init(&e, ALL_CTRL & ~F(VIRTIO_NET_F_CTRL_VQ));
	cmd_begin(&m, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC);
	cmd_u8(&m, 0);
	run_err(&e, &m);
	/* Unknown class; a header of one byte. */
	env_init(&e, ALL_CTRL);
	cmd_begin(&m, 9, 0);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_RX, 0);
	m.len = 1;
	run_err(&e, &m);
}

static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0xa};
static const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0xb};
static const uint8_t mc_1[6] = {0x01, 0x00, 0x5e, 0, 0, 1};

TEST(net_ctrl_mac_table_set)
{
	struct cmd m;
	struct env e;
	uint32_t i;

	env_init(&e, ALL_CTRL);
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET);
	cmd_le32(&m, 2);
	cmd_bytes(&m, mac_a, 6);
	cmd_bytes(&m, mac_b, 6);
	cmd_le32(&m, 1);
	cmd_bytes(&m, mc_1, 6);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_EQ(e.st.n_uni, 2);
	ASSERT_EQ(e.st.n_multi, 1);
	ASSERT_MEM_EQ(e.st.uni[1], mac_b, 6);
	ASSERT_MEM_EQ(e.st.multi[0], mc_1, 6);
	ASSERT_FALSE(e.st.uni_overflow || e.st.multi_overflow);
	/* More unicast entries than the table holds: overflow, table emptied. */
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET);
	cmd_le32(&m, NET_MAC_TABLE_MAX + 1);
	for (i = 0; i < NET_MAC_TABLE_MAX + 1; i++)
		cmd_bytes(&m, mac_a, 6);
	cmd_le32(&m, 0);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_TRUE(e.st.uni_overflow);
	ASSERT_FALSE(e.st.multi_overflow);
	ASSERT_EQ(e.st.n_uni, 0);
	ASSERT_EQ(e.st.n_multi, 0);
	/* Empty tables clear the overflow. */
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET);
	cmd_le32(&m, 0);
	cmd_le32(&m, 0);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_FALSE(e.st.uni_overflow);
}

TEST(net_ctrl_mac_table_errors)
{
	struct cmd m;
	struct env e;

	env_init(&e, ALL_CTRL);
	/* Seed a table so "no change" is visible. */
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET);
	cmd_le32(&m, 1);
	cmd_bytes(&m, mac_a, 6);
	cmd_le32(&m, 0);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	/* Count larger than the data (also 2^32-1: no overflow in count * 6). */
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET);
	cmd_le32(&m, 3);
	cmd_bytes(&m, mac_b, 6);
	cmd_le32(&m, 0);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET);
	cmd_le32(&m, 0xffffffff);
	cmd_le32(&m, 0);
	run_err(&e, &m);
	/* Multicast table missing; trailing bytes; unicast count cut short. */
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET);
	cmd_le32(&m, 1);
	cmd_bytes(&m, mac_b, 6);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET);
	cmd_le32(&m, 0);
	cmd_le32(&m, 0);
	cmd_u8(&m, 0);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET);
	cmd_le16(&m, 0);
	run_err(&e, &m);
	/* An overflowing table that is then cut short. */
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET);
	cmd_le32(&m, 100);
	m.len += 6 * 99;
	run_err(&e, &m);
	/* Unknown MAC command; TABLE_SET without CTRL_RX. */
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, 2);
	run_err(&e, &m);
	env_init(&e, ALL_CTRL & ~F(VIRTIO_NET_F_CTRL_RX));
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET);
	cmd_le32(&m, 0);
	cmd_le32(&m, 0);
	run_err(&e, &m);
}

TEST(net_ctrl_mac_addr_set)
{
	static const uint8_t zero[6];
	struct cmd m;
	struct env e;

	env_init(&e, ALL_CTRL);
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET);
	cmd_bytes(&m, mac_a, 6);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_TRUE(e.fx.mac_changed);
	ASSERT_MEM_EQ(e.st.mac, mac_a, 6);
	/* Same address again: OK, nothing to copy. */
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET);
	cmd_bytes(&m, mac_a, 6);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_FALSE(e.fx.mac_changed);
	/* Multicast, all-zero, short, long. */
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET);
	cmd_bytes(&m, mc_1, 6);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET);
	cmd_bytes(&m, zero, 6);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET);
	cmd_bytes(&m, mac_b, 5);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET);
	cmd_bytes(&m, mac_b, 6);
	cmd_u8(&m, 0);
	run_err(&e, &m);
	/* Without CTRL_MAC_ADDR. */
	env_init(&e, ALL_CTRL & ~F(VIRTIO_NET_F_CTRL_MAC_ADDR));
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET);
	cmd_bytes(&m, mac_b, 6);
	run_err(&e, &m);
}

TEST(net_ctrl_vlan_add_del)
{
	struct cmd m;
	struct env e;

	env_init(&e, ALL_CTRL);
	cmd_begin(&m, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD);
	cmd_le16(&m, 4095);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_EQ(e.st.vlans[127], 0x80000000u);
	cmd_begin(&m, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD);
	cmd_le16(&m, 33);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_EQ(e.st.vlans[1], 2);
	cmd_begin(&m, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_DEL);
	cmd_le16(&m, 4095);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_EQ(e.st.vlans[127], 0);
	ASSERT_EQ(e.st.vlans[1], 2);
	/* id >= 4096, short, long, unknown command, feature off. */
	cmd_begin(&m, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD);
	cmd_le16(&m, 4096);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD);
	cmd_u8(&m, 1);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD);
	cmd_le32(&m, 1);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_VLAN, 2);
	cmd_le16(&m, 1);
	run_err(&e, &m);
	env_init(&e, ALL_CTRL & ~F(VIRTIO_NET_F_CTRL_VLAN));
	cmd_begin(&m, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD);
	cmd_le16(&m, 1);
	run_err(&e, &m);
}

TEST(net_ctrl_announce_ack)
{
	struct cmd m;
	struct env e;

	env_init(&e, ALL_CTRL);
	cmd_begin(&m, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_TRUE(e.fx.announce_ack);
	cmd_begin(&m, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK);
	cmd_u8(&m, 0);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_ANNOUNCE, 1);
	run_err(&e, &m);
	env_init(&e, ALL_CTRL & ~F(VIRTIO_NET_F_GUEST_ANNOUNCE));
	cmd_begin(&m, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK);
	run_err(&e, &m);
}

TEST(net_ctrl_mq_pairs_set)
{
	struct cmd m;
	struct env e;

	env_init(&e, ALL_CTRL);
	cmd_begin(&m, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET);
	cmd_le16(&m, 4);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_TRUE(e.fx.queue_pairs_changed);
	ASSERT_EQ(e.st.queue_pairs, 4);
	cmd_begin(&m, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET);
	cmd_le16(&m, 4);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_FALSE(e.fx.queue_pairs_changed);
	/* 0, above max, short, long, unknown MQ command, without MQ. */
	cmd_begin(&m, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET);
	cmd_le16(&m, 0);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET);
	cmd_le16(&m, 5);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET);
	cmd_u8(&m, 1);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET);
	cmd_le16(&m, 1);
	cmd_u8(&m, 0);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_MQ, 3);
	cmd_le16(&m, 1);
	run_err(&e, &m);
	env_init(&e, ALL_CTRL & ~F(VIRTIO_NET_F_MQ));
	cmd_begin(&m, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET);
	cmd_le16(&m, 1);
	run_err(&e, &m);
}

/* 40 key bytes, then spare bytes for over-long key tests. */
static const uint8_t key40[64] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14,
				  15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
				  29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40};

/* RSS_CONFIG with table[i] = i % pairs. */
static void rss_cmd(struct cmd *m, uint32_t types, uint16_t tlen, uint16_t uncl, uint16_t pairs,
		    uint8_t key_len)
{
	uint16_t i;

	cmd_begin(m, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG);
	cmd_le32(m, types);
	cmd_le16(m, (uint16_t)(tlen - 1));
	cmd_le16(m, uncl);
	for (i = 0; i < tlen; i++)
		cmd_le16(m, (uint16_t)(i % (pairs ? pairs : 1)));
	cmd_le16(m, pairs);
	cmd_u8(m, key_len);
	cmd_bytes(m, key40, key_len);
}

TEST(net_ctrl_rss_config)
{
	struct cmd m;
	struct env e;
	uint16_t i;

	env_init(&e, ALL_CTRL);
	rss_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_TCPv4 | VIRTIO_NET_RSS_HASH_TYPE_IPv6, 128, 3, 4, 40);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_TRUE(e.st.rss.enabled);
	ASSERT_TRUE(e.st.rss.hash_report); /* HASH_REPORT negotiated */
	ASSERT_EQ(e.st.rss.hash_types,
		  VIRTIO_NET_RSS_HASH_TYPE_TCPv4 | VIRTIO_NET_RSS_HASH_TYPE_IPv6);
	ASSERT_EQ(e.st.rss.table_len, 128);
	for (i = 0; i < 128; i++)
		ASSERT_EQ(e.st.rss.table[i], i % 4);
	ASSERT_EQ(e.st.rss.unclassified, 3);
	ASSERT_EQ(e.st.rss.key_len, 40);
	ASSERT_MEM_EQ(e.st.rss.key, key40, 40);
	ASSERT_EQ(e.st.queue_pairs, 4);
	ASSERT_TRUE(e.fx.queue_pairs_changed);
	/* A one-entry table, short key (rest zero), hash report not negotiated. */
	env_init(&e, ALL_CTRL & ~F(VIRTIO_NET_F_HASH_REPORT));
	rss_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 1, 0, 1, 8);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_TRUE(e.st.rss.enabled);
	ASSERT_FALSE(e.st.rss.hash_report);
	ASSERT_EQ(e.st.rss.table_len, 1);
	ASSERT_EQ(e.st.rss.key_len, 8);
	ASSERT_EQ(e.st.rss.key[8], 0);
	ASSERT_FALSE(e.fx.queue_pairs_changed);
	/* VQ_PAIRS_SET afterwards turns RSS steering off. */
	cmd_begin(&m, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET);
	cmd_le16(&m, 2);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_FALSE(e.st.rss.enabled);
	ASSERT_EQ(e.st.queue_pairs, 2);
}

TEST(net_ctrl_rss_config_errors)
{
	struct cmd m;
	struct env e;

	env_init(&e, ALL_CTRL);
	/* Table not a power of two (3 entries), larger than the maximum (256). */
	rss_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 3, 0, 1, 40);
	run_err(&e, &m);
	rss_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 256, 0, 1, 40);
	run_err(&e, &m);
	/* mask 0xffff (65536 entries). */
	cmd_begin(&m, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG);
	cmd_le32(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4);
	cmd_le16(&m, 0xffff);
	cmd_le16(&m, 0);
	run_err(&e, &m);
	/* A smaller device maximum. */
	e.caps.rss_max_indirection_table_length = 64;
	rss_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 128, 0, 1, 40);
	run_err(&e, &m);
	e.caps.rss_max_indirection_table_length = 128;
	/* Out-of-range queue in the table (table[i] = i % 5 reaches 4 with 4 pairs). */
	rss_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 8, 0, 5, 40);
	m.out[m.len - 40 - 3] = 4; /* max_tx_vq back to 4, table keeps index 4 */
	run_err(&e, &m);
	/* Out-of-range unclassified queue. */
	rss_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 8, 4, 4, 40);
	run_err(&e, &m);
	/* max_tx_vq 0 and above max. */
	rss_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 8, 0, 0, 40);
	run_err(&e, &m);
	rss_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 8, 0, 5, 40);
	run_err(&e, &m);
	/* Key longer than the maximum; key length past the data; trailing byte. */
	e.caps.rss_max_key_size = 16;
	rss_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 8, 0, 2, 20);
	run_err(&e, &m);
	e.caps.rss_max_key_size = 40;
	rss_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 8, 0, 2, 40);
	m.len -= 1;
	run_err(&e, &m);
	rss_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 8, 0, 2, 40);
	cmd_u8(&m, 0);
	run_err(&e, &m);
	/* Hash types with no key. */
	rss_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 8, 0, 2, 0);
	run_err(&e, &m);
	/* Hash type the device does not offer; unknown bit. */
	e.caps.supported_hash_types = VIRTIO_NET_RSS_HASH_TYPE_IPv4;
	rss_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_TCPv4, 8, 0, 2, 40);
	run_err(&e, &m);
	e.caps.supported_hash_types = 0xffffffff;
	rss_cmd(&m, 1u << 9, 8, 0, 2, 40);
	run_err(&e, &m);
	/* Every truncation of a valid command. */
	rss_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 8, 0, 2, 40);
	for (size_t full = m.len; m.len > 2; m.len--)
		if (m.len < full)
			run_err(&e, &m);
	/* Data longer than any valid RSS command. */
	cmd_begin(&m, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG);
	m.len = 1500;
	run_err(&e, &m);
	/* Without RSS negotiated. */
	env_init(&e, ALL_CTRL & ~F(VIRTIO_NET_F_RSS));
	rss_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 8, 0, 2, 40);
	run_err(&e, &m);
	/* Hash types none with no key: accepted, everything unclassified. */
	env_init(&e, ALL_CTRL);
	rss_cmd(&m, 0, 1, 2, 3, 0);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_TRUE(e.st.rss.enabled);
	ASSERT_FALSE(e.st.rss.hash_report);
}

/* HASH_CONFIG as Linux sends it: reserved words carry stale RSS fields. */
static void hash_cmd(struct cmd *m, uint32_t types, uint8_t key_len)
{
	cmd_begin(m, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG);
	cmd_le32(m, types);
	cmd_le16(m, 0);
	cmd_le16(m, 0x1234);
	cmd_le16(m, 0xffff);
	cmd_le16(m, 9);
	cmd_u8(m, key_len);
	cmd_bytes(m, key40, key_len);
}

TEST(net_ctrl_hash_config)
{
	struct cmd m;
	struct env e;

	env_init(&e, ALL_CTRL & ~F(VIRTIO_NET_F_RSS));
	hash_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_TCPv6, 40);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_TRUE(e.st.rss.hash_report);
	ASSERT_FALSE(e.st.rss.enabled);
	ASSERT_EQ(e.st.rss.hash_types, VIRTIO_NET_RSS_HASH_TYPE_TCPv6);
	ASSERT_MEM_EQ(e.st.rss.key, key40, 40);
	ASSERT_EQ(e.st.queue_pairs, 1);
	ASSERT_FALSE(e.fx.queue_pairs_changed);
	/* hash_types 0 turns reporting off. */
	hash_cmd(&m, 0, 40);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_FALSE(e.st.rss.hash_report);
	/* Errors: unsupported type, long key, short, trailing, no key, feature off. */
	hash_cmd(&m, 1u << 12, 40);
	run_err(&e, &m);
	hash_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 41);
	run_err(&e, &m);
	hash_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 40);
	m.len = 12;
	run_err(&e, &m);
	hash_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 40);
	cmd_u8(&m, 1);
	run_err(&e, &m);
	hash_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 0);
	run_err(&e, &m);
	env_init(&e, ALL_CTRL & ~F(VIRTIO_NET_F_HASH_REPORT));
	hash_cmd(&m, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 40);
	run_err(&e, &m);
}

TEST(net_ctrl_guest_offloads)
{
	struct cmd m;
	struct env e;
	uint64_t want = F(VIRTIO_NET_F_GUEST_CSUM);

	env_init(&e, ALL_CTRL);
	cmd_begin(&m, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET);
	cmd_le32(&m, (uint32_t)want);
	cmd_le32(&m, (uint32_t)(want >> 32));
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_TRUE(e.fx.offloads_changed);
	ASSERT_EQ(e.st.guest_offloads, want);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK); /* same again: no tap change */
	ASSERT_FALSE(e.fx.offloads_changed);
	/* Offload not negotiated (UFO), non-offload bit (MQ), bit 63, short, long, cmd 1. */
	want = F(VIRTIO_NET_F_GUEST_UFO);
	cmd_begin(&m, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET);
	cmd_le32(&m, (uint32_t)want);
	cmd_le32(&m, 0);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET);
	cmd_le32(&m, (uint32_t)F(VIRTIO_NET_F_MQ));
	cmd_le32(&m, 0);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET);
	cmd_le32(&m, 0);
	cmd_le32(&m, 0x80000000u);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET);
	cmd_le32(&m, 0);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET);
	cmd_le32(&m, 0);
	cmd_le32(&m, 0);
	cmd_u8(&m, 0);
	run_err(&e, &m);
	cmd_begin(&m, VIRTIO_NET_CTRL_GUEST_OFFLOADS, 1);
	cmd_le32(&m, 0);
	cmd_le32(&m, 0);
	run_err(&e, &m);
	env_init(&e, ALL_CTRL & ~F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS));
	cmd_begin(&m, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET);
	cmd_le32(&m, 0);
	cmd_le32(&m, 0);
	run_err(&e, &m);
}

TEST(net_ctrl_chain_shapes)
{
	struct cmd m;
	struct env e;

	env_init(&e, ALL_CTRL);
	/* No writable byte: nothing executed, nothing written, used length 0. */
	cmd_begin(&m, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC);
	cmd_u8(&m, 0);
	cmd_chain(&m, 0);
	ASSERT_EQ(net_ctrl_handle(&e.st, &e.caps, &m.c, &e.fx), 0);
	ASSERT_TRUE(e.st.promisc);
	/* Writable part of 4: the ack goes to the last byte. */
	cmd_chain(&m, 4);
	ASSERT_EQ(net_ctrl_handle(&e.st, &e.caps, &m.c, &e.fx), 4);
	ASSERT_EQ(m.ack[3], VIRTIO_NET_OK);
	ASSERT_EQ(m.ack[0], 0xee);
	ASSERT_FALSE(e.st.promisc);
	/* Header split across two one-byte segments, data in a third. */
	cmd_begin(&m, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI);
	cmd_u8(&m, 1);
	cmd_chain(&m, 1);
	m.c.iov[3] = m.c.iov[2];
	m.c.iov[2] = m.c.iov[1];
	m.c.iov[0].iov_len = 1;
	m.c.iov[1].iov_base = m.out + 1;
	m.c.iov[1].iov_len = 1;
	m.c.n_out = 3;
	m.c.push_seg = 3;
	ASSERT_EQ(net_ctrl_handle(&e.st, &e.caps, &m.c, &e.fx), 1);
	ASSERT_EQ(m.ack[0], VIRTIO_NET_OK);
	ASSERT_TRUE(e.st.allmulti);
	/* Empty readable part. */
	cmd_begin(&m, 0, 0);
	cmd_chain(&m, 1);
	m.c.n_out = 0;
	m.c.iov[0] = m.c.iov[1];
	m.c.out_len = 0;
	m.c.push_seg = 0;
	ASSERT_EQ(net_ctrl_handle(&e.st, &e.caps, &m.c, &e.fx), 1);
	ASSERT_EQ(m.ack[0], VIRTIO_NET_ERR);
}

/* Rx filtering. */

static size_t frame(uint8_t *f, const uint8_t *dst, int vid)
{
	size_t o = 12;

	memset(f, 0, 64);
	memcpy(f, dst, 6);
	memcpy(f + 6, mac_b, 6);
	if (vid >= 0) {
		f[o] = 0x81;
		f[o + 1] = 0x00;
		f[o + 2] = (uint8_t)(0x20 | vid >> 8); /* PCP 1 must not matter */
		f[o + 3] = (uint8_t)vid;
		o += 4;
	}
	f[o] = 0x08;
	return 60;
}

static void set_rx(struct env *e, uint8_t cmd, uint8_t on)
{
	struct cmd m;

	cmd_begin(&m, VIRTIO_NET_CTRL_RX, cmd);
	cmd_u8(&m, on);
	ASSERT_EQ(run(e, &m), VIRTIO_NET_OK);
}

TEST(net_rx_filter_modes)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t mc_2[6] = {0x33, 0x33, 0, 0, 0, 1};
	uint64_t neg = ALL_CTRL;
	uint8_t f[64];
	struct cmd m;
	struct env e;
	size_t n;

	env_init(&e, neg);
	/* Promiscuous after reset: anything with an Ethernet header. */
	n = frame(f, mac_a, -1);
	ASSERT_TRUE(net_rx_accept(&e.st, neg, f, n));
	ASSERT_FALSE(net_rx_accept(&e.st, neg, f, 13));
	set_rx(&e, VIRTIO_NET_CTRL_RX_PROMISC, 0);
	/* Unicast: own MAC yes, others no, until in the table. */
	ASSERT_FALSE(net_rx_accept(&e.st, neg, f, n));
	n = frame(f, dev_mac, -1);
	ASSERT_TRUE(net_rx_accept(&e.st, neg, f, n));
	cmd_begin(&m, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET);
	cmd_le32(&m, 1);
	cmd_bytes(&m, mac_a, 6);
	cmd_le32(&m, 1);
	cmd_bytes(&m, mc_1, 6);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	n = frame(f, mac_a, -1);
	ASSERT_TRUE(net_rx_accept(&e.st, neg, f, n));
	/* Broadcast on by default. */
	n = frame(f, bcast, -1);
	ASSERT_TRUE(net_rx_accept(&e.st, neg, f, n));
	/* Multicast: table entry yes, another group no, ALLMULTI yes. */
	n = frame(f, mc_1, -1);
	ASSERT_TRUE(net_rx_accept(&e.st, neg, f, n));
	n = frame(f, mc_2, -1);
	ASSERT_FALSE(net_rx_accept(&e.st, neg, f, n));
	set_rx(&e, VIRTIO_NET_CTRL_RX_ALLMULTI, 1);
	ASSERT_TRUE(net_rx_accept(&e.st, neg, f, n));
	/* NOMULTI beats ALLMULTI and the table. */
	set_rx(&e, VIRTIO_NET_CTRL_RX_NOMULTI, 1);
	ASSERT_FALSE(net_rx_accept(&e.st, neg, f, n));
	n = frame(f, mc_1, -1);
	ASSERT_FALSE(net_rx_accept(&e.st, neg, f, n));
	/* ...but not broadcast; NOBCAST does. */
	n = frame(f, bcast, -1);
	ASSERT_TRUE(net_rx_accept(&e.st, neg, f, n));
	set_rx(&e, VIRTIO_NET_CTRL_RX_NOBCAST, 1);
	ASSERT_FALSE(net_rx_accept(&e.st, neg, f, n));
	/* ALLUNI: any unicast. */
	n = frame(f, mac_b, -1);
	ASSERT_FALSE(net_rx_accept(&e.st, neg, f, n));
	set_rx(&e, VIRTIO_NET_CTRL_RX_ALLUNI, 1);
	ASSERT_TRUE(net_rx_accept(&e.st, neg, f, n));
	/* NOUNI: no unicast at all, not even the own MAC. */
	set_rx(&e, VIRTIO_NET_CTRL_RX_NOUNI, 1);
	ASSERT_FALSE(net_rx_accept(&e.st, neg, f, n));
	n = frame(f, dev_mac, -1);
	ASSERT_FALSE(net_rx_accept(&e.st, neg, f, n));
	/* Promiscuous overrides every "no". */
	set_rx(&e, VIRTIO_NET_CTRL_RX_PROMISC, 1);
	ASSERT_TRUE(net_rx_accept(&e.st, neg, f, n));
	n = frame(f, bcast, -1);
	ASSERT_TRUE(net_rx_accept(&e.st, neg, f, n));
}

TEST(net_rx_filter_overflow_tables)
{
	static const uint8_t mc_2[6] = {0x33, 0x33, 0, 0, 0, 1};
	uint64_t neg = ALL_CTRL;
	uint8_t f[64];
	struct env e;
	size_t n;

	env_init(&e, neg);
	set_rx(&e, VIRTIO_NET_CTRL_RX_PROMISC, 0);
	n = frame(f, mac_b, -1);
	ASSERT_FALSE(net_rx_accept(&e.st, neg, f, n));
	e.st.uni_overflow = true;
	ASSERT_TRUE(net_rx_accept(&e.st, neg, f, n));
	n = frame(f, mc_2, -1);
	ASSERT_FALSE(net_rx_accept(&e.st, neg, f, n));
	e.st.multi_overflow = true;
	ASSERT_TRUE(net_rx_accept(&e.st, neg, f, n));
	/* A corrupt count never reads past the table. */
	e.st.multi_overflow = false;
	e.st.n_multi = 0xffff;
	ASSERT_FALSE(net_rx_accept(&e.st, neg, f, n));
}

TEST(net_rx_filter_vlan)
{
	uint64_t neg = ALL_CTRL;
	uint8_t f[64];
	struct cmd m;
	struct env e;
	size_t n;

	env_init(&e, neg);
	set_rx(&e, VIRTIO_NET_CTRL_RX_PROMISC, 0);
	/* Tagged frame to the own MAC: dropped until its VLAN is added. */
	n = frame(f, dev_mac, 100);
	ASSERT_FALSE(net_rx_accept(&e.st, neg, f, n));
	cmd_begin(&m, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD);
	cmd_le16(&m, 100);
	ASSERT_EQ(run(&e, &m), VIRTIO_NET_OK);
	ASSERT_TRUE(net_rx_accept(&e.st, neg, f, n));
	n = frame(f, dev_mac, 101);
	ASSERT_FALSE(net_rx_accept(&e.st, neg, f, n));
	/* The MAC rules still apply to an allowed VLAN. */
	n = frame(f, mac_b, 100);
	ASSERT_FALSE(net_rx_accept(&e.st, neg, f, n));
	/* Untagged frames are not VLAN-filtered. */
	n = frame(f, dev_mac, -1);
	ASSERT_TRUE(net_rx_accept(&e.st, neg, f, n));
	/* Without CTRL_VLAN negotiated the table is not consulted. */
	n = frame(f, dev_mac, 101);
	ASSERT_TRUE(net_rx_accept(&e.st, neg & ~F(VIRTIO_NET_F_CTRL_VLAN), f, n));
	/* Promiscuous accepts every VLAN. */
	set_rx(&e, VIRTIO_NET_CTRL_RX_PROMISC, 1);
	ASSERT_TRUE(net_rx_accept(&e.st, neg, f, n));
	/* A tag cut short is a runt in every mode. */
	ASSERT_FALSE(net_rx_accept(&e.st, neg, f, 17));
	ASSERT_TRUE(net_rx_accept(&e.st, neg, f, 18));
}
