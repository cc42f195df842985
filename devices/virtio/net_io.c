/* SPDX-License-Identifier: MIT */
/* virtio-net data path: backend frames into receive buffers, transmit chains to the backend. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/virtio/net_internal.h"
#include "devices/virtio/net_rss.h"

/* What became of the frame a port holds. */
enum net_rx_res { NET_RX_DONE, NET_RX_NOBUF };

static unsigned int net_active_pairs(const struct net_dev *net)
{
	unsigned int p = net->ctrl.queue_pairs;

	return p >= 1 && p <= net->max_pairs ? p : 1;
}

static bool net_rxq_ready(struct net_dev *net, unsigned int pair)
{
	return pair < net->max_pairs && net->vdev.queues[2 * pair].vq.ready;
}

/*
 * A frame was read from port k: drop it (link down, rx filter, header the driver did not
 * negotiate) or decide its receive queue and the guest header. Returns false to drop.
 */
static bool net_rx_classify(struct net_dev *net, unsigned int k)
{
	struct net_port *port = &net->ports[k];
	const uint8_t *frame = port->buf + NET_TAP_HDR_LEN;
	size_t len = port->len - NET_TAP_HDR_LEN;
	struct virtio_net_hdr_v1 tap;
	uint32_t hash = 0;
	uint16_t report = VIRTIO_NET_HASH_REPORT_NONE, pair;

	if (!net_link_up(net)) {
		NET_STAT(net, rx_link_down, 1);
		return false;
	}
	if (!net_rx_accept(&net->ctrl, net->features, frame, len)) {
		NET_STAT(net, rx_filtered, 1);
		return false;
	}
	memcpy(&tap, port->buf, sizeof(tap));
	memset(&port->hdr, 0, sizeof(port->hdr));
	if (net_hdr_rx(&tap, net->offloads, len, &port->hdr.hdr) != NET_HDR_OK) {
		NET_STAT(net, rx_bad_hdr, 1);
		return false;
	}
	/* "Receive-side scaling": with RSS on, the indirection table picks the queue whatever
	 * tap queue the frame came from; without it the pair of the tap queue. */
	if (net->ctrl.rss.enabled)
		pair = net_rss_select(&net->ctrl.rss, frame, len, &hash, &report);
	else {
		pair = (uint16_t)(k < net_active_pairs(net) ? k : 0);
		if (net->ctrl.rss.hash_report)
			report = net_rss_hash(&net->ctrl.rss, frame, len, &hash);
	}
	/* The table was checked against max_virtqueue_pairs, but the driver may not have set
	 * that queue up: the first pair then. */
	if (pair >= net->max_pairs || !net_rxq_ready(net, pair))
		pair = 0;
	if (!net_rxq_ready(net, pair)) {
		NET_STAT(net, rx_errors, 1);
		return false;
	}
	/* VIRTIO_NET_F_MTU: "the device MUST NOT pass received packets that exceed mtu (plus
	 * low level ethernet header length) size with gso_type NONE or ECN". */
	if ((net->features & (1ULL << VIRTIO_NET_F_MTU)) &&
	    (tap.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_NONE &&
	    len > (size_t)net->mtu + NET_ETH_HLEN + (frame[12] == 0x81 && frame[13] == 0 ? 4 : 0)) {
		NET_STAT(net, rx_too_big, 1);
		return false;
	}
	if ((net->features & (1ULL << VIRTIO_NET_F_HASH_REPORT)) && net->ctrl.rss.hash_report) {
		port->hdr.hash_value = htole32(hash);
		port->hdr.hash_report = htole16(report);
	}
	port->pair = pair;
	return true;
}

/* Pop a receive buffer; when the ring is empty ask the driver for a kick first (and look
 * once more: buffers may have raced in). */
static int net_rx_pop(struct vq *vq, struct vq_chain *c)
{
	int r = vq_pop(vq, c);

	if (r == 0 && !vq_budget_spent(vq) && !vq_enable_notify(vq))
		r = vq_pop(vq, c);
	return r;
}

/* Copy [off, off + n) of (guest header | frame) into the chain. */
static size_t net_rx_copy(struct net_dev *net, struct net_port *port, struct vq_chain *c,
			  size_t off, size_t n)
{
	const uint8_t *frame = port->buf + NET_TAP_HDR_LEN;
	size_t done = 0, k;

	if (off < net->hdr_len) {
		k = MIN(n, net->hdr_len - off);
		done += vq_chain_push(c, (const uint8_t *)&port->hdr + off, k);
		off += k;
		n -= k;
	}
	if (n)
		done += vq_chain_push(c, frame + (off - net->hdr_len), n);
	return done;
}

/* Host address of byte `off` of the chain's writable part (the header is guest memory
 * already mapped by vq_pop(), possibly split over segments). */
static uint8_t *net_chain_byte(struct vq_chain *c, size_t off)
{
	for (unsigned int i = c->n_out; i < (unsigned int)c->n_out + c->n_in; i++) {
		if (off < c->iov[i].iov_len)
			return (uint8_t *)c->iov[i].iov_base + off;
		off -= c->iov[i].iov_len;
	}
	return NULL;
}

/* Without MRG_RXBUF: one buffer per frame, which must hold all of it ("Setting Up Receive
 * Buffers"); a frame no buffer can hold is dropped and the buffer kept for the next one. */
static enum net_rx_res net_rx_single(struct net_dev *net, struct net_port *port, struct vq *vq)
{
	size_t total = net->hdr_len + port->len - NET_TAP_HDR_LEN;
	struct vq_chain c;
	int r;

	r = net_rx_pop(vq, &c);
	if (r < 0) {
		virtio_dev_needs_reset(&net->vdev, r);
		return NET_RX_NOBUF;
	}
	if (r == 0)
		return NET_RX_NOBUF;
	if (c.in_len < total) {
		vq_unpop(vq);
		NET_STAT(net, rx_too_big, 1);
		return NET_RX_DONE;
	}
	net_rx_copy(net, port, &c, 0, total);
	vq_push(vq, &c, (uint32_t)total);
	net->rxq[port->pair].dirty = true;
	NET_STAT(net, rx_packets, 1);
	NET_STAT(net, rx_bytes, port->len - NET_TAP_HDR_LEN);
	return NET_RX_DONE;
}

/* Hand the held buffers of a (possibly truncated) frame to the driver, in order, with
 * num_buffers in the first one's header. */
static void net_rx_finish(struct net_dev *net, struct net_rxq *rq, struct vq *vq)
{
	uint16_t nb = htole16((uint16_t)rq->n_held);
	struct vq_chain c;

	if (rq->nb[0] && rq->nb[1]) {
		rq->nb[0][0] = (uint8_t)nb;
		rq->nb[1][0] = (uint8_t)(nb >> 8);
	}
	for (unsigned int i = 0; i < rq->n_held; i++) {
		/* vq_push() needs the chain's identity and writable size only */
		c.head = rq->held[i].head;
		c.n_desc = rq->held[i].n_desc;
		c.in_len = rq->held[i].in_len;
		vq_push(vq, &c, rq->held[i].written);
	}
	rq->port = -1;
	rq->off = 0;
	rq->n_held = rq->held_desc = 0;
	rq->nb[0] = rq->nb[1] = NULL;
	rq->dirty = true;
}

/*
 * With MRG_RXBUF: spread the frame over as many buffers as it needs ("Processing of Incoming
 * Packets": num_buffers of them, only the first starts with the header). Buffers are taken as
 * they come and held until the frame is complete, so a driver that posts buffers in batches
 * gets the frame across several kicks. If every ring descriptor is held and the frame still
 * does not fit, the guest gets it truncated (counted as rx_too_big).
 */
static enum net_rx_res net_rx_merge(struct net_dev *net, unsigned int k, struct vq *vq)
{
	struct net_port *port = &net->ports[k];
	struct net_rxq *rq = &net->rxq[port->pair];
	size_t total = net->hdr_len + port->len - NET_TAP_HDR_LEN, n;
	struct vq_chain c;
	int r;

	if (rq->port >= 0 && rq->port != (int)k)
		return NET_RX_NOBUF; /* another port's frame is being delivered there */
	rq->port = (int)k;
	while (rq->off < total) {
		if (rq->held_desc >= vq->size || rq->n_held == NET_QUEUE_SIZE) {
			NET_STAT(net, rx_too_big, 1);
			net_rx_finish(net, rq, vq);
			return NET_RX_DONE;
		}
		r = net_rx_pop(vq, &c);
		if (r < 0) {
			virtio_dev_needs_reset(&net->vdev, r);
			return NET_RX_NOBUF;
		}
		if (r == 0)
			return NET_RX_NOBUF;
		/* The first buffer must take the whole header ("each buffer MUST be at least the
		 * size of the struct virtio_net_hdr"): a smaller one is returned unused. */
		if (rq->n_held == 0 && c.in_len < net->hdr_len) {
			vq_push(vq, &c, 0);
			rq->dirty = true;
			NET_STAT(net, rx_errors, 1);
			continue;
		}
		n = net_rx_copy(net, port, &c, rq->off, MIN(total - rq->off, (size_t)c.in_len));
		if (rq->n_held == 0) {
			rq->nb[0] =
				net_chain_byte(&c, offsetof(struct virtio_net_hdr_v1, num_buffers));
			rq->nb[1] = net_chain_byte(
				&c, offsetof(struct virtio_net_hdr_v1, num_buffers) + 1);
		}
		rq->held[rq->n_held++] = (struct net_held){.head = c.head,
							   .n_desc = c.n_desc,
							   .in_len = c.in_len,
							   .written = (uint32_t)n};
		rq->held_desc += c.n_desc ? c.n_desc : 1;
		rq->off += n;
	}
	net_rx_finish(net, rq, vq);
	NET_STAT(net, rx_packets, 1);
	NET_STAT(net, rx_bytes, port->len - NET_TAP_HDR_LEN);
	return NET_RX_DONE;
}

/* Read and deliver port k's frames until the backend is empty, the receive queue has no
 * buffers, the limiter says wait, or the budget is spent. Returns whether a frame was
 * delivered or dropped (progress). */
static bool net_rx_port(struct net_dev *net, unsigned int k)
{
	struct net_port *port = &net->ports[k];
	bool progress = false;
	struct vq *vq;
	uint64_t wait;
	ssize_t n;

	for (unsigned int budget = NET_RX_BUDGET; budget; budget--) {
		if (net->rx_throttled || virtio_dev_is_broken(&net->vdev))
			return progress;
		if (!port->len) {
			n = read(port->fd, port->buf, NET_RX_BUF);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				/* EAGAIN: drained (the fd is edge-triggered, so the next frame
				 * wakes us); anything else is the backend's trouble */
				if (n < 0 && errno != EAGAIN)
					NET_STAT(net, rx_errors, 1);
				return progress;
			}
			if ((size_t)n < NET_TAP_HDR_LEN + NET_ETH_HLEN) {
				NET_STAT(net, rx_errors, 1);
				continue;
			}
			port->len = (size_t)n;
			port->paid = false;
			if (!net_rx_classify(net, k)) {
				port->len = 0;
				continue;
			}
		}
		if (!port->paid) {
			wait = net_limit_take(net, false, port->len - NET_TAP_HDR_LEN);
			if (wait && net_throttle(net, false, wait))
				return progress;
			port->paid = true;
		}
		vq = &net->vdev.queues[2 * port->pair].vq;
		if (!vq->ready) { /* reset under us: the first pair, or drop */
			port->len = 0;
			NET_STAT(net, rx_errors, 1);
			continue;
		}
		if ((net->features & (1ULL << VIRTIO_NET_F_MRG_RXBUF)
			     ? net_rx_merge(net, k, vq)
			     : net_rx_single(net, port, vq)) == NET_RX_NOBUF)
			return progress;
		port->len = 0;
		progress = true;
	}
	/* Budget spent: come back through the queue's kick once the others had their turn. */
	if (eventfd_write(net->vdev.queues[2 * k].kick_fd, 1) < 0)
		NET_STAT(net, rx_errors, 1);
	return progress;
}

void net_rx_run(struct net_dev *net)
{
	if (!net->vdev.active)
		return;
	/* A port may wait for a receive queue another port's frame is being spread over: go
	 * round again while anything moved, a few times at most (budget-spent ports kicked
	 * themselves anyway). */
	for (unsigned int pass = 0, progress = 1; progress && pass < 4; pass++) {
		progress = 0;
		for (unsigned int k = 0; k < net->max_pairs; k++)
			progress |= net_rx_port(net, k);
	}
	for (unsigned int p = 0; p < net->max_pairs; p++) {
		if (net->rxq[p].dirty && net->vdev.queues[2 * p].vq.ready)
			vq_notify(&net->vdev.queues[2 * p].vq);
		net->rxq[p].dirty = false;
	}
}

void net_rxq_drop(struct net_dev *net, unsigned int pair)
{
	struct net_rxq *rq = &net->rxq[pair];

	/* The held buffers belong to rings that are gone; the frame itself stays with its port
	 * and is delivered again from the start. */
	rq->port = -1;
	rq->off = 0;
	rq->n_held = rq->held_desc = 0;
	rq->nb[0] = rq->nb[1] = NULL;
	rq->dirty = false;
}

/* What became of a transmit chain. */
enum net_tx_res { NET_TX_DONE, NET_TX_WAIT };

/* One chain: guest header + frame. Bad chains are dropped (counted), never fatal. */
static enum net_tx_res net_tx_one(struct net_dev *net, unsigned int pair, struct vq_chain *c)
{
	struct iovec iov[VQ_MAX_SEGS + 1];
	struct virtio_net_hdr_v1_hash g = {0};
	struct virtio_net_hdr_v1 tap;
	size_t frame_len, got;
	uint64_t wait;
	ssize_t n;
	int cnt;

	if (c->out_len < net->hdr_len + NET_ETH_HLEN) {
		NET_STAT(net, tx_errors, 1);
		return NET_TX_DONE;
	}
	frame_len = c->out_len - net->hdr_len;
	if (!net_link_up(net)) {
		NET_STAT(net, tx_link_down, 1);
		return NET_TX_DONE;
	}
	/* guest-controlled header: copied once, then checked */
	vq_chain_pull(c, &g, net->hdr_len);
	if (net_hdr_tx(&g.hdr, net->features, frame_len, &tap) != NET_HDR_OK) {
		NET_STAT(net, tx_bad_hdr, 1);
		return NET_TX_DONE;
	}
	wait = net_limit_take(net, true, frame_len);
	if (wait && net_throttle(net, true, wait))
		return NET_TX_WAIT;
	iov[0] = (struct iovec){.iov_base = &tap, .iov_len = sizeof(tap)};
	cnt = vq_chain_pull_iov(c, frame_len, iov + 1, VQ_MAX_SEGS, &got);
	do
		n = writev(net->ports[pair].fd, iov, cnt + 1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		/* EAGAIN: the backend is full; like a NIC with a full ring, drop */
		NET_STAT(net, tx_errors, 1);
		return NET_TX_DONE;
	}
	NET_STAT(net, tx_packets, 1);
	NET_STAT(net, tx_bytes, got);
	return NET_TX_DONE;
}

void net_tx_run(struct net_dev *net, unsigned int pair)
{
	struct vq *vq = &net->vdev.queues[2 * pair + 1].vq;
	struct vq_chain c;
	int r;

	/* "Automatic receive steering in multiqueue mode": only the active pairs carry
	 * traffic; buffers on the others wait until VQ_PAIRS_SET brings them back. */
	if (!vq->ready || net->tx_throttled || pair >= net_active_pairs(net))
		return;
	do {
		if (virtio_dev_is_broken(&net->vdev))
			return;
		vq_disable_notify(vq);
		while ((r = vq_pop(vq, &c)) > 0) {
			if (net_tx_one(net, pair, &c) == NET_TX_WAIT) {
				vq_unpop(vq);
				vq_notify(vq); /* for what was pushed before */
				return;
			}
			vq_push(vq, &c, 0);
		}
		vq_notify(vq);
		if (r < 0) {
			virtio_dev_needs_reset(&net->vdev, r);
			return;
		}
	} while (!vq_budget_spent(vq) && !vq_enable_notify(vq));
}
