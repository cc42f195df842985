/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-net control-queue parser (net_ctrl_handle), the RSS hash and
 * queue selection (net_rss_select) and the rx filter (net_rx_accept) on fuzzer-made control
 * chains and frames. Pure functions: chains are built from heap segments of exact size, so
 * ASan flags any read past a segment or a frame.
 *
 * Input layout (short inputs are zero-extended):
 *   u64 features     ANDed with every feature the control queue knows
 *   u8  max_pairs    config max_virtqueue_pairs, 1 + v % NET_MAX_QUEUE_PAIRS
 *   u8  n_cmds       control chains, v % 16
 *   per chain: u16 len (% 1200), u8 n_out (1 + v % 4 readable segments, the split points
 *              spread evenly), u8 in_len (v % 4 writable bytes), len bytes
 *   then frames until the input ends: u16 len (% 1600), len bytes; each frame is also
 *   hashed with every hash type enabled and the input's first 40 bytes as key.
 * Invariants checked after every step: the state stays inside its bounds (queue pairs,
 * table length and entries, key length, MAC table counts), the selected pair is one that
 * exists, the report type is a 1.2 one, an ERR changes nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/net_ctrl.h"
#include "devices/virtio/virtqueue.h"
#include "tests/fuzz/fuzz_input.h"

#define F(b) (1ULL << (b))
#define CTRL_FEATURES                                                                              \
	(F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_RX) | F(VIRTIO_NET_F_CTRL_RX_EXTRA) |       \
	 F(VIRTIO_NET_F_CTRL_VLAN) | F(VIRTIO_NET_F_GUEST_ANNOUNCE) | F(VIRTIO_NET_F_MQ) |         \
	 F(VIRTIO_NET_F_CTRL_MAC_ADDR) | F(VIRTIO_NET_F_RSS) | F(VIRTIO_NET_F_HASH_REPORT) |       \
	 F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | NET_GUEST_OFFLOAD_MASK)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_state(const struct net_ctrl_state *st, const struct net_ctrl_caps *caps)
{
	uint16_t i;

	if (st->queue_pairs < 1 || st->queue_pairs > caps->max_queue_pairs)
		abort();
	if (st->n_uni > NET_MAC_TABLE_MAX || st->n_multi > NET_MAC_TABLE_MAX)
		abort();
	if (st->rss.key_len > NET_RSS_MAX_KEY)
		abort();
	if (st->guest_offloads & ~(caps->features & NET_GUEST_OFFLOAD_MASK))
		abort();
	if (!st->rss.enabled)
		return;
	if (st->rss.table_len == 0 || st->rss.table_len > NET_RSS_MAX_TABLE ||
	    (st->rss.table_len & (st->rss.table_len - 1)))
		abort();
	if (st->rss.unclassified >= caps->max_queue_pairs)
		abort();
	for (i = 0; i < st->rss.table_len; i++)
		if (st->rss.table[i] >= caps->max_queue_pairs)
			abort();
}

static void run_chain(struct net_ctrl_state *st, const struct net_ctrl_caps *caps,
		      struct fuzz_cursor *in)
{
	static struct vq_chain c;
	struct net_ctrl_state before = *st;
	struct net_ctrl_effects fx;
	uint8_t raw[4], *seg[4], *ack = NULL;
	size_t len, off = 0;
	unsigned int n_out, in_len, i;
	uint32_t used;

	fuzz_take(in, raw, 4);
	len = (size_t)(raw[0] | raw[1] << 8) % 1200;
	n_out = 1 + raw[2] % 4;
	in_len = raw[3] % 4;
	memset(&c, 0, sizeof(c));
	for (i = 0; i < n_out; i++) {
		size_t end = len * (i + 1) / n_out, n = end - off;

		seg[i] = malloc(n ? n : 1);
		fuzz_take(in, seg[i], n);
		c.iov[i].iov_base = seg[i];
		c.iov[i].iov_len = n;
		off = end;
	}
	c.n_out = (uint16_t)n_out;
	c.out_len = (uint32_t)len;
	if (in_len) {
		ack = malloc(in_len);
		memset(ack, 0xee, in_len);
		c.iov[n_out].iov_base = ack;
		c.iov[n_out].iov_len = in_len;
		c.n_in = 1;
	}
	c.in_len = in_len;
	c.push_seg = c.n_out;

	used = net_ctrl_handle(st, caps, &c, &fx);
	if (used != in_len)
		abort();
	if (in_len && ack[in_len - 1] != VIRTIO_NET_OK && ack[in_len - 1] != VIRTIO_NET_ERR)
		abort();
	/* ERR or no ack: no state change, no effects. */
	if (!in_len || ack[in_len - 1] == VIRTIO_NET_ERR) {
		if (memcmp(&before, st, sizeof(before)) || fx.mac_changed ||
		    fx.queue_pairs_changed || fx.offloads_changed || fx.announce_ack)
			abort();
	}
	check_state(st, caps);
	for (i = 0; i < n_out; i++)
		free(seg[i]);
	free(ack);
}

static void run_frame(const struct net_ctrl_state *st, const struct net_ctrl_caps *caps,
		      const struct net_rss *all, struct fuzz_cursor *in)
{
	uint8_t raw[2], *f;
	size_t len;
	uint32_t hash;
	uint16_t report, q;

	fuzz_take(in, raw, 2);
	len = (size_t)(raw[0] | raw[1] << 8) % 1600;
	if (len > in->left)
		len = in->left;
	f = malloc(len ? len : 1);
	fuzz_take(in, f, len);
	(void)net_rx_accept(st, caps->features, f, len);
	q = net_rss_select(&st->rss, f, len, &hash, &report);
	if (q >= caps->max_queue_pairs || report > VIRTIO_NET_HASH_REPORT_UDPv6_EX)
		abort();
	if (report == VIRTIO_NET_HASH_REPORT_NONE && hash)
		abort();
	q = net_rss_select(all, f, len, &hash, &report);
	if (q >= caps->max_queue_pairs || report > VIRTIO_NET_HASH_REPORT_UDPv6_EX)
		abort();
	free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = {0x52, 0x54, 0, 0, 0, 1};
	struct fuzz_cursor in = {data, size};
	struct net_ctrl_state st;
	struct net_ctrl_caps caps = {0};
	struct net_rss all = {0};
	uint8_t hdr[10];
	unsigned int n_cmds, i;
	uint64_t feat;

	fuzz_take(&in, hdr, 10);
	memcpy(&feat, hdr, 8);
	caps.features = feat & CTRL_FEATURES;
	caps.max_queue_pairs = (uint16_t)(1 + hdr[8] % NET_MAX_QUEUE_PAIRS);
	caps.supported_hash_types = NET_RSS_SUPPORTED_HASH_TYPES;
	caps.rss_max_key_size = NET_RSS_MAX_KEY;
	caps.rss_max_indirection_table_length = NET_RSS_MAX_TABLE;
	n_cmds = hdr[9] % 16;

	/* A second RSS state with every type on, keyed from the input, table over all pairs. */
	all.enabled = true;
	all.hash_report = true;
	all.hash_types = NET_RSS_SUPPORTED_HASH_TYPES;
	all.key_len = NET_RSS_MAX_KEY;
	memcpy(all.key, data, size < NET_RSS_MAX_KEY ? size : NET_RSS_MAX_KEY);
	all.table_len = NET_RSS_MAX_TABLE;
	for (i = 0; i < NET_RSS_MAX_TABLE; i++)
		all.table[i] = (uint16_t)(i % caps.max_queue_pairs);

	net_ctrl_reset(&st, mac, caps.features);
	check_state(&st, &caps);
	for (i = 0; i < n_cmds; i++)
		run_chain(&st, &caps, &in);
	while (in.left)
		run_frame(&st, &caps, &all, &in);
	return 0;
}
