/* SPDX-License-Identifier: MIT */
/* virtio_net_hdr checks and translation (net_hdr.c) and the token bucket. */
#include <endian.h>
#include <linux/if_tun.h>
#include <string.h>

#include "devices/virtio/net_hdr.h"
#include "devices/virtio/token_bucket.h"
#include "tests/harness.h"

#define BIT(n) (1ULL << (n))

TEST(net_hdr_len_by_features)
{
	ASSERT_EQ(net_hdr_len(BIT(VIRTIO_F_VERSION_1)), 12);
	ASSERT_EQ(net_hdr_len(BIT(VIRTIO_NET_F_MRG_RXBUF)), 12);
	ASSERT_EQ(net_hdr_len(BIT(VIRTIO_NET_F_HASH_REPORT)), 20);
}

TEST(net_hdr_tx_every_gso_type)
{
	static const struct {
		uint8_t gso;
		unsigned int feature;
	} types[] = {
		{VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_F_HOST_TSO4},
		{VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_F_HOST_TSO6},
		{VIRTIO_NET_HDR_GSO_UDP, VIRTIO_NET_F_HOST_UFO},
		{VIRTIO_NET_HDR_GSO_UDP_L4, VIRTIO_NET_F_HOST_USO},
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct virtio_net_hdr_v1 g = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					      .gso_type = types[i].gso,
					      .gso_size = htole16(1400),
					      .csum_start = htole16(34),
					      .csum_offset = htole16(6),
					      .hdr_len = htole16(42),
					      .num_buffers = htole16(5)},
					 t;
		uint64_t f = BIT(VIRTIO_NET_F_CSUM) | BIT(types[i].feature);

		ASSERT_EQ(net_hdr_tx(&g, f, 3000, &t), NET_HDR_OK);
		ASSERT_EQ(t.gso_type, types[i].gso);
		ASSERT_EQ(le16toh(t.gso_size), 1400);
		ASSERT_EQ(le16toh(t.hdr_len), 42);
		ASSERT_EQ(t.num_buffers, 0);
		/* without the feature, or without CSUM */
		ASSERT_EQ(net_hdr_tx(&g, BIT(VIRTIO_NET_F_CSUM), 3000, &t), NET_HDR_BAD_GSO);
		ASSERT_EQ(net_hdr_tx(&g, BIT(types[i].feature), 3000, &t), NET_HDR_BAD_CSUM);
		/* ECN needs HOST_ECN */
		g.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
		ASSERT_EQ(net_hdr_tx(&g, f, 3000, &t), NET_HDR_BAD_ECN);
		ASSERT_EQ(net_hdr_tx(&g, f | BIT(VIRTIO_NET_F_HOST_ECN), 3000, &t), NET_HDR_OK);
	}
}

TEST(net_hdr_tx_bounds)
{
	uint64_t f = BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4);
	struct virtio_net_hdr_v1 g = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				      .csum_start = htole16(40),
				      .csum_offset = htole16(18)},
				 t;

	/* checksum field ends exactly at the frame end */
	ASSERT_EQ(net_hdr_tx(&g, f, 60, &t), NET_HDR_OK);
	ASSERT_EQ(net_hdr_tx(&g, f, 59, &t), NET_HDR_BAD_CSUM);
	g.csum_start = g.csum_offset = htole16(0xffff);
	ASSERT_EQ(net_hdr_tx(&g, f, 65535, &t), NET_HDR_BAD_CSUM);
	/* GSO: hdr_len within the frame, NEEDS_CSUM, gso_size */
	g = (struct virtio_net_hdr_v1){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				       .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				       .gso_size = htole16(1000),
				       .csum_start = htole16(34),
				       .csum_offset = htole16(16),
				       .hdr_len = htole16(61)};
	ASSERT_EQ(net_hdr_tx(&g, f, 60, &t), NET_HDR_BAD_LEN);
	ASSERT_EQ(net_hdr_tx(&g, f, 61, &t), NET_HDR_OK);
	g.gso_size = 0;
	ASSERT_EQ(net_hdr_tx(&g, f, 61, &t), NET_HDR_BAD_SIZE);
	g.gso_size = htole16(1000);
	g.flags = 0;
	ASSERT_EQ(net_hdr_tx(&g, f, 61, &t), NET_HDR_NO_CSUM);
	/* GUEST_HDRLEN: hdr_len must cover the checksum field */
	g.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	g.hdr_len = htole16(51);
	ASSERT_EQ(net_hdr_tx(&g, f, 100, &t), NET_HDR_OK);
	ASSERT_EQ(net_hdr_tx(&g, f | BIT(VIRTIO_NET_F_GUEST_HDRLEN), 100, &t), NET_HDR_BAD_LEN);
	g.hdr_len = htole16(52);
	ASSERT_EQ(net_hdr_tx(&g, f | BIT(VIRTIO_NET_F_GUEST_HDRLEN), 100, &t), NET_HDR_OK);
	/* non-GSO: hints zeroed, stray flags cleared */
	g = (struct virtio_net_hdr_v1){.flags = 0xfe, .gso_size = htole16(9), .hdr_len = 9999};
	ASSERT_EQ(net_hdr_tx(&g, f, 60, &t), NET_HDR_OK);
	ASSERT_EQ(t.flags, 0);
	ASSERT_EQ(t.gso_size, 0);
	ASSERT_EQ(t.hdr_len, 0);
	g.gso_type = 0x7f; /* unknown */
	ASSERT_EQ(net_hdr_tx(&g, ~0ULL, 60, &t), NET_HDR_BAD_GSO);
}

TEST(net_hdr_rx_offloads)
{
	uint64_t on = BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
		      BIT(VIRTIO_NET_F_GUEST_USO6);
	struct virtio_net_hdr_v1 h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM |
					       VIRTIO_NET_HDR_F_RSC_INFO,
				      .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				      .gso_size = htole16(1448),
				      .csum_start = htole16(34),
				      .csum_offset = htole16(16),
				      .hdr_len = htole16(66)},
				 o;

	ASSERT_EQ(net_hdr_rx(&h, on, 3000, &o), NET_HDR_OK);
	ASSERT_EQ(o.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM); /* RSC_INFO cleared */
	ASSERT_EQ(le16toh(o.num_buffers), 1);
	ASSERT_EQ(net_hdr_rx(&h, BIT(VIRTIO_NET_F_GUEST_CSUM), 3000, &o), NET_HDR_BAD_GSO);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4; /* USO6 in force: either USO will do */
	ASSERT_EQ(net_hdr_rx(&h, on, 3000, &o), NET_HDR_OK);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	ASSERT_EQ(net_hdr_rx(&h, on, 3000, &o), NET_HDR_BAD_ECN);
	ASSERT_EQ(net_hdr_rx(&h, on | BIT(VIRTIO_NET_F_GUEST_ECN), 3000, &o), NET_HDR_OK);
	h.gso_type = 0;
	ASSERT_EQ(net_hdr_rx(&h, 0, 3000, &o), NET_HDR_BAD_CSUM);
	ASSERT_EQ(net_hdr_rx(&h, on, 40, &o), NET_HDR_BAD_CSUM); /* field outside */
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	ASSERT_EQ(net_hdr_rx(&h, 0, 3000, &o), NET_HDR_BAD_CSUM);
	ASSERT_EQ(net_hdr_rx(&h, on, 3000, &o), NET_HDR_OK);
	ASSERT_EQ(o.flags, VIRTIO_NET_HDR_F_DATA_VALID);
}

TEST(net_hdr_tun_offload_map)
{
	ASSERT_EQ(net_hdr_tun_offloads(BIT(VIRTIO_NET_F_GUEST_TSO4)), 0); /* no CSUM: nothing */
	ASSERT_EQ(net_hdr_tun_offloads(BIT(VIRTIO_NET_F_GUEST_CSUM)), TUN_F_CSUM);
	ASSERT_EQ(net_hdr_tun_offloads(BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
				       BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN) |
				       BIT(VIRTIO_NET_F_GUEST_UFO) | BIT(VIRTIO_NET_F_GUEST_USO4) |
				       BIT(VIRTIO_NET_F_GUEST_USO6)),
		  0x7f);
}

TEST(token_bucket_rates)
{
	struct token_bucket b;

	token_bucket_set(&b, 1000, 0); /* burst: one second */
	ASSERT_EQ(token_bucket_wait(&b, 1000), 0);
	token_bucket_take(&b, 1000);
	/* 500 tokens take half a second */
	ASSERT_TRUE(token_bucket_wait(&b, 500) > 499000000ULL);
	ASSERT_TRUE(token_bucket_wait(&b, 500) < 501000000ULL);
	token_bucket_refill(&b, 250000000ULL);
	ASSERT_TRUE(token_bucket_wait(&b, 250) <= 1);
	/* capped at the burst; a cost above it needs a full bucket only */
	token_bucket_refill(&b, 10000000000ULL);
	ASSERT_EQ(token_bucket_wait(&b, 5000), 0);
	token_bucket_take(&b, 5000);
	ASSERT_TRUE(token_bucket_wait(&b, 1) > 3000000000ULL);
	/* rate 0: unlimited */
	token_bucket_set(&b, 0, 0);
	ASSERT_EQ(token_bucket_wait(&b, ~0ULL), 0);
}
