/* SPDX-License-Identifier: MIT */
/*
 * virtio-vsock: the connection table and the state machine of VIRTIO 1.2 "Socket Device",
 * "Device Operation": packets from the guest (tx), packets owed to it (rx), credit-based flow
 * control, shutdown and reset. Device thread only.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio/vsock_internal.h"
#include "vmm/log.h"
#include "vmm/util.h"

struct vsock_conn *vsock_conn_alloc(struct vsock_dev *v)
{
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *cn = &v->conns[i];
		uint32_t gen = cn->gen + 1;

		if (cn->state != VSOCK_FREE)
			continue;
		memset(cn, 0, sizeof(*cn));
		cn->gen = gen;
		cn->fd = -1;
		return cn;
	}
	return NULL;
}

/* Connections the guest can address: they have both ports. */
static bool vsock_conn_addressable(const struct vsock_conn *cn, bool include_dead)
{
	return cn->state == VSOCK_REQ_SENT || cn->state == VSOCK_ESTABLISHED ||
	       (include_dead && cn->state == VSOCK_DEAD);
}

struct vsock_conn *vsock_conn_find(struct vsock_dev *v, uint32_t local, uint32_t peer,
				   bool include_dead)
{
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *cn = &v->conns[i];

		if (vsock_conn_addressable(cn, include_dead) && cn->local_port == local &&
		    cn->peer_port == peer)
			return cn;
	}
	return NULL;
}

bool vsock_port_in_use(struct vsock_dev *v, uint32_t local)
{
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++)
		if (vsock_conn_addressable(&v->conns[i], true) && v->conns[i].local_port == local)
			return true;
	return false;
}

static void vsock_conn_close_host(struct vsock_dev *v, struct vsock_conn *cn)
{
	if (cn->fd >= 0) {
		epoll_ctl(v->epoll_fd, EPOLL_CTL_DEL, cn->fd, NULL);
		close(cn->fd);
		cn->fd = -1;
	}
	free(cn->buf);
	free(cn->stage);
	cn->buf = cn->stage = NULL;
	cn->buf_len = cn->buf_off = cn->stage_len = cn->stage_off = 0;
	cn->n_msg = 0;
	cn->stage_full = false;
}

void vsock_conn_free(struct vsock_dev *v, struct vsock_conn *cn)
{
	vsock_conn_close_host(v, cn);
	cn->state = VSOCK_FREE;
	cn->pending = 0;
	cn->deadline_ms = 0;
}

void vsock_conn_reset(struct vsock_dev *v, struct vsock_conn *cn, bool send_rst)
{
	vsock_conn_close_host(v, cn);
	/* A host program still at its CONNECT line is unknown to the guest: nothing to tell. */
	if (!send_rst || cn->state == VSOCK_LINE || cn->state == VSOCK_FREE) {
		vsock_conn_free(v, cn);
		return;
	}
	cn->state = VSOCK_DEAD;
	cn->pending = VSOCK_P_RST;
	cn->deadline_ms = 0;
}

void vsock_conns_drop_all(struct vsock_dev *v)
{
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conns[i].state != VSOCK_FREE)
			vsock_conn_free(v, &v->conns[i]);
	v->rst_count = 0;
}

/* Answer a packet that matches no connection (never an RST: RSTs are not answered). */
static void vsock_queue_rst(struct vsock_dev *v, const struct virtio_vsock_hdr *h)
{
	uint16_t type = le16toh(h->type);

	if (v->rst_count == VSOCK_RST_RING) {
		log_warn_ratelimited("%s: RST backlog full, one dropped", v->vdev.name);
		return;
	}
	v->rst[(v->rst_head + v->rst_count++) % VSOCK_RST_RING] = (struct vsock_rst){
		.src_port = le32toh(h->src_port),
		.dst_port = le32toh(h->dst_port),
		.type = type == VIRTIO_VSOCK_TYPE_SEQPACKET ? type : VIRTIO_VSOCK_TYPE_STREAM,
	};
}

/* What the guest may still receive: buf_alloc - (tx_cnt - fwd_cnt), 0 if it overcommitted. */
static uint32_t vsock_peer_credit(const struct vsock_conn *cn)
{
	uint32_t inflight = cn->tx_cnt - cn->peer_fwd_cnt;

	return inflight < cn->peer_buf_alloc ? cn->peer_buf_alloc - inflight : 0;
}

/* Both directions are over and our buffer is empty: RST ends it (as Linux does when the peer
 * shut down both halves). Also shuts our writing half once the guest's SEND shutdown and
 * every buffered byte went out. */
static void vsock_conn_check_done(struct vsock_dev *v, struct vsock_conn *cn)
{
	if (cn->state != VSOCK_ESTABLISHED || cn->buf_len || cn->n_msg)
		return;
	if (cn->peer_shut_snd && !cn->host_wr_shut) {
		shutdown(cn->fd, SHUT_WR);
		cn->host_wr_shut = true;
	}
	if (cn->peer_shut_snd && cn->peer_shut_rcv)
		vsock_conn_reset(v, cn, true);
}

/* The host will send no more: SHUTDOWN(SEND) to the guest; if it closed entirely also RCV,
 * and give the guest shutdown_timeout_ms for its RST. */
static void vsock_conn_host_done(struct vsock_dev *v, struct vsock_conn *cn)
{
	uint32_t want = VIRTIO_VSOCK_SHUTDOWN_SEND;

	if (cn->host_hup)
		want |= VIRTIO_VSOCK_SHUTDOWN_RCV;
	if ((cn->shutdown_send & want) == want)
		return; /* already said */
	cn->shutdown_send |= want;
	cn->pending |= VSOCK_P_SHUTDOWN;
	if (cn->host_hup && !cn->deadline_ms)
		cn->deadline_ms = vsock_now_ms() + v->shutdown_timeout_ms;
}

void vsock_conn_host_event(struct vsock_dev *v, struct vsock_conn *cn, uint32_t events)
{
	if (cn->state == VSOCK_LINE) {
		vsock_host_line(v, cn);
		return;
	}
	if (events & EPOLLERR) {
		vsock_conn_reset(v, cn, true);
		return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP))
		cn->readable = true;
	if (events & EPOLLHUP) {
		cn->host_hup = true;
		cn->readable = true;
		if (cn->state == VSOCK_REQ_SENT) {
			/* the program left before the guest answered */
			vsock_conn_reset(v, cn, true);
			return;
		}
	}
	if (cn->state != VSOCK_ESTABLISHED)
		return;
	if (events & EPOLLOUT) {
		cn->writable = true;
		if (vsock_host_flush(v, cn) < 0) {
			vsock_conn_reset(v, cn, true);
			return;
		}
	}
	/* We read no more once the guest shut its receiving half: a hang-up ends it now. */
	if (cn->host_hup && (cn->host_eof || cn->peer_shut_rcv))
		vsock_conn_host_done(v, cn);
	vsock_conn_check_done(v, cn);
}

uint64_t vsock_conns_expire(struct vsock_dev *v, uint64_t now)
{
	uint64_t next = 0;

	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *cn = &v->conns[i];

		if (cn->state == VSOCK_FREE || !cn->deadline_ms)
			continue;
		if (now >= cn->deadline_ms) {
			log_warn_ratelimited("%s: connection %u:%u timed out", v->vdev.name,
					     cn->local_port, cn->peer_port);
			/* CONNECT line: just close; a REQUEST or a shutdown the guest did not
			 * answer: RST, so a late answer finds nothing. */
			vsock_conn_reset(v, cn, true);
			continue;
		}
		if (!next || cn->deadline_ms < next)
			next = cn->deadline_ms;
	}
	return next;
}

/* --- tx: packets from the guest --- */

static void vsock_handle_request(struct vsock_dev *v, const struct virtio_vsock_hdr *h)
{
	uint32_t local = le32toh(h->dst_port), peer = le32toh(h->src_port);
	uint16_t type = le16toh(h->type);
	struct vsock_conn *cn;
	int fd;

	/* the same pair still waiting for its RST to go out: refuse, the guest retries */
	if (vsock_conn_find(v, local, peer, true)) {
		VSOCK_STAT_INC(v, conns_refused);
		vsock_queue_rst(v, h);
		return;
	}
	fd = vsock_host_connect(v, local, type);
	if (fd < 0) {
		log_debug("%s: guest connect to port %u: %s", v->vdev.name, local, strerror(-fd));
		VSOCK_STAT_INC(v, conns_refused);
		vsock_queue_rst(v, h);
		return;
	}
	cn = vsock_conn_alloc(v);
	if (!cn) {
		log_warn_ratelimited("%s: connection table full, guest connect refused",
				     v->vdev.name);
		close(fd);
		VSOCK_STAT_INC(v, conns_refused);
		vsock_queue_rst(v, h);
		return;
	}
	cn->fd = fd;
	cn->type = type;
	cn->local_port = local;
	cn->peer_port = peer;
	cn->peer_buf_alloc = le32toh(h->buf_alloc);
	cn->peer_fwd_cnt = le32toh(h->fwd_cnt);
	cn->state = VSOCK_ESTABLISHED;
	cn->pending = VSOCK_P_RESPONSE;
	cn->writable = true;
	if (vsock_host_watch(v, cn) < 0) {
		vsock_conn_free(v, cn);
		VSOCK_STAT_INC(v, conns_refused);
		vsock_queue_rst(v, h);
		return;
	}
	VSOCK_STAT_INC(v, conns_established);
}

static void vsock_handle_rw(struct vsock_dev *v, struct vsock_conn *cn, struct vq_chain *c,
			    uint32_t len, uint32_t flags)
{
	uint32_t held = cn->rx_cnt - cn->fwd_cnt;

	if (cn->state != VSOCK_ESTABLISHED || cn->peer_shut_snd) {
		vsock_conn_reset(v, cn, true);
		return;
	}
	/* "Flow control": the guest must stay within what we advertised. */
	if (held > VSOCK_BUF_ALLOC || len > VSOCK_BUF_ALLOC - held) {
		log_warn_ratelimited("%s: guest overran the credit of %u:%u (%u held, %u more)",
				     v->vdev.name, cn->local_port, cn->peer_port, held, len);
		vsock_conn_reset(v, cn, true);
		return;
	}
	/* many small messages in one wake-up: make room in the message table early */
	if (cn->n_msg == VSOCK_SEQ_MAX_MSG && vsock_host_flush(v, cn) < 0) {
		vsock_conn_reset(v, cn, true);
		return;
	}
	cn->rx_cnt += len;
	VSOCK_STAT_ADD(v, tx_bytes, len);
	/* Buffered only: vsock_conns_flush() writes it after the whole tx batch. */
	if (vsock_host_append(cn, c, len, flags & VIRTIO_VSOCK_SEQ_EOM) < 0)
		vsock_conn_reset(v, cn, true);
}

void vsock_conns_flush(struct vsock_dev *v)
{
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *cn = &v->conns[i];

		/* a socket that said EAGAIN is flushed by its EPOLLOUT edge instead */
		if (cn->state != VSOCK_ESTABLISHED || !cn->writable || !(cn->buf_len || cn->n_msg))
			continue;
		if (vsock_host_flush(v, cn) < 0) {
			vsock_conn_reset(v, cn, true);
			continue;
		}
		vsock_conn_check_done(v, cn);
	}
}

static void vsock_handle_shutdown(struct vsock_dev *v, struct vsock_conn *cn, uint32_t flags)
{
	if (cn->state != VSOCK_ESTABLISHED) {
		vsock_conn_reset(v, cn, true);
		return;
	}
	if ((flags & VIRTIO_VSOCK_SHUTDOWN_RCV) && !cn->peer_shut_rcv) {
		/* the host program's further writes fail (EPIPE) instead of piling up */
		shutdown(cn->fd, SHUT_RD);
		cn->peer_shut_rcv = true;
	}
	if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND) {
		cn->peer_shut_snd = true;
		/* what this tx batch buffered goes out before the shutdown(2) or the RST */
		if (vsock_host_flush(v, cn) < 0) {
			vsock_conn_reset(v, cn, true);
			return;
		}
	}
	vsock_conn_check_done(v, cn);
}

/* Header checks every packet must pass ("Device Operation", and our own bounds). */
static bool vsock_hdr_ok(struct vsock_dev *v, const struct virtio_vsock_hdr *h, uint32_t left)
{
	uint16_t type = le16toh(h->type), op = le16toh(h->op);
	uint32_t len = le32toh(h->len);

	if (le64toh(h->src_cid) != v->guest_cid || le64toh(h->dst_cid) != VSOCK_HOST_CID)
		return false;
	if (len > VSOCK_MAX_PKT || len > left)
		return false;
	if (type != VIRTIO_VSOCK_TYPE_STREAM &&
	    !(type == VIRTIO_VSOCK_TYPE_SEQPACKET &&
	      virtio_has_feature(&v->vdev, VIRTIO_VSOCK_F_SEQPACKET)))
		return false;
	return op >= VIRTIO_VSOCK_OP_REQUEST && op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST;
}

void vsock_tx_packet(struct vsock_dev *v, struct vq_chain *c)
{
	struct virtio_vsock_hdr h;
	struct vsock_conn *cn;
	uint16_t op;
	uint32_t credit_before;

	/* The header may be split across descriptors; pull copies it out once. */
	if (vq_chain_pull(c, &h, sizeof(h)) != sizeof(h)) {
		log_warn_ratelimited("%s: tx packet shorter than its header", v->vdev.name);
		VSOCK_STAT_INC(v, tx_bad_packets);
		return;
	}
	op = le16toh(h.op);
	cn = vsock_conn_find(v, le32toh(h.dst_port), le32toh(h.src_port), false);
	if (!vsock_hdr_ok(v, &h, (uint32_t)MIN(vq_chain_pull_left(c), UINT32_MAX))) {
		log_warn_ratelimited("%s: bad tx packet (op %u type %u len %u cid %llu->%llu)",
				     v->vdev.name, op, le16toh(h.type), le32toh(h.len),
				     (unsigned long long)le64toh(h.src_cid),
				     (unsigned long long)le64toh(h.dst_cid));
		VSOCK_STAT_INC(v, tx_bad_packets);
		if (op == VIRTIO_VSOCK_OP_RST)
			return;
		if (cn)
			vsock_conn_reset(v, cn, true);
		else
			vsock_queue_rst(v, &h);
		return;
	}
	if (!cn) {
		if (op == VIRTIO_VSOCK_OP_REQUEST)
			vsock_handle_request(v, &h);
		else if (op != VIRTIO_VSOCK_OP_RST)
			vsock_queue_rst(v, &h);
		return;
	}
	if (cn->type != le16toh(h.type)) {
		vsock_conn_reset(v, cn, op != VIRTIO_VSOCK_OP_RST);
		return;
	}
	/* Every packet carries the guest's credit ("Flow control"). */
	credit_before = vsock_peer_credit(cn);
	cn->peer_buf_alloc = le32toh(h.buf_alloc);
	cn->peer_fwd_cnt = le32toh(h.fwd_cnt);
	if (vsock_peer_credit(cn) > credit_before)
		cn->credit_req_sent = false;
	switch (op) {
	case VIRTIO_VSOCK_OP_RST:
		/* best effort, as before batching: what reached us before the RST is written */
		if (cn->state == VSOCK_ESTABLISHED)
			vsock_host_flush(v, cn);
		VSOCK_STAT_INC(v, rst_received);
		vsock_conn_free(v, cn); /* never answered */
		break;
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (cn->state != VSOCK_REQ_SENT) {
			vsock_conn_reset(v, cn, true);
			break;
		}
		{
			char ok[24];
			int n = snprintf(ok, sizeof(ok), "OK %u\n", cn->local_port);

			/* a fresh socket's buffer takes a dozen bytes; anything else: gone */
			if (send(cn->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
				vsock_conn_reset(v, cn, true);
				break;
			}
		}
		cn->state = VSOCK_ESTABLISHED;
		VSOCK_STAT_INC(v, conns_established);
		cn->pending &= ~VSOCK_P_REQUEST; /* a guest that guessed the port early */
		cn->deadline_ms = 0;
		if (cn->host_hup) /* left meanwhile: the read will see EOF */
			cn->readable = true;
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		vsock_handle_shutdown(v, cn, le32toh(h.flags));
		break;
	case VIRTIO_VSOCK_OP_RW:
		vsock_handle_rw(v, cn, c, le32toh(h.len), le32toh(h.flags));
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break; /* taken above */
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		cn->pending |= VSOCK_P_CREDIT_UPD;
		cn->credit_upd_asked = true;
		break;
	default: /* REQUEST for a live connection */
		vsock_conn_reset(v, cn, true);
		break;
	}
}

/* --- rx: packets to the guest --- */

static void vsock_hdr_fill(struct vsock_dev *v, struct virtio_vsock_hdr *h, uint32_t src_port,
			   uint32_t dst_port, uint16_t type, uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = htole64(VSOCK_HOST_CID);
	h->dst_cid = htole64(v->guest_cid);
	h->src_port = htole32(src_port);
	h->dst_port = htole32(dst_port);
	h->type = htole16(type);
	h->op = htole16(op);
	h->buf_alloc = htole32(VSOCK_BUF_ALLOC);
}

static uint32_t vsock_send_conn_pkt(struct vsock_dev *v, struct vsock_conn *cn, struct vq_chain *c,
				    uint16_t op, uint32_t flags, const uint8_t *data, uint32_t len)
{
	struct virtio_vsock_hdr h;

	vsock_hdr_fill(v, &h, cn->local_port, cn->peer_port, cn->type, op);
	h.flags = htole32(flags);
	h.len = htole32(len);
	h.fwd_cnt = htole32(cn->fwd_cnt);
	cn->fwd_cnt_sent = cn->fwd_cnt;
	/* every packet carries fwd_cnt: an update we owe only by the quarter rule is paid */
	if (!cn->credit_upd_asked || op == VIRTIO_VSOCK_OP_CREDIT_UPDATE) {
		cn->pending &= ~VSOCK_P_CREDIT_UPD;
		cn->credit_upd_asked = false;
	}
	if (op == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
		VSOCK_STAT_INC(v, credit_updates);
	vq_chain_push(c, &h, sizeof(h));
	if (len)
		vq_chain_push(c, data, len);
	return VSOCK_HDR_SIZE + len;
}

/* Whether a data packet for cn may go out now (no side effects). */
static bool vsock_conn_data_ready(const struct vsock_conn *cn)
{
	return cn->state == VSOCK_ESTABLISHED && !cn->peer_shut_rcv &&
	       (cn->stage_full || (cn->readable && !cn->host_eof)) && vsock_peer_credit(cn);
}

/* The next control packet of cn, in protocol order; SHUTDOWN only once no data is left. */
static uint32_t vsock_send_control(struct vsock_dev *v, struct vsock_conn *cn, struct vq_chain *c)
{
	static const struct {
		uint32_t bit;
		uint16_t op;
	} order[] = {
		{VSOCK_P_REQUEST, VIRTIO_VSOCK_OP_REQUEST},
		{VSOCK_P_RESPONSE, VIRTIO_VSOCK_OP_RESPONSE},
		{VSOCK_P_CREDIT_REQ, VIRTIO_VSOCK_OP_CREDIT_REQUEST},
		{VSOCK_P_CREDIT_UPD, VIRTIO_VSOCK_OP_CREDIT_UPDATE},
		{VSOCK_P_SHUTDOWN, VIRTIO_VSOCK_OP_SHUTDOWN},
		{VSOCK_P_RST, VIRTIO_VSOCK_OP_RST},
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(order); i++) {
		uint32_t flags = 0, n;

		if (!(cn->pending & order[i].bit))
			continue;
		/* a data packet carries fwd_cnt anyway: the quarter-rule update rides on it */
		if (order[i].bit == VSOCK_P_CREDIT_UPD && !cn->credit_upd_asked &&
		    vsock_conn_data_ready(cn))
			continue;
		if (order[i].bit == VSOCK_P_SHUTDOWN) {
			if (cn->stage_full)
				continue; /* the rest of the message first */
			flags = cn->shutdown_send;
		}
		cn->pending &= ~order[i].bit;
		n = vsock_send_conn_pkt(v, cn, c, order[i].op, flags, NULL, 0);
		if (order[i].bit == VSOCK_P_RST) {
			VSOCK_STAT_INC(v, rst_sent);
			vsock_conn_free(v, cn);
		}
		return n;
	}
	return 0;
}

/* recv() into buf; returns bytes, 0 for "nothing now" (readable cleared), or -1 for EOF
 * (host_eof set, SHUTDOWN queued). A socket error resets the connection (-2). */
static ssize_t vsock_host_read(struct vsock_dev *v, struct vsock_conn *cn, void *buf, size_t len,
			       int flags)
{
	ssize_t n;

	do
		n = recv(cn->fd, buf, len, MSG_DONTWAIT | flags);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		return n;
	if (n < 0 && errno == EAGAIN) {
		cn->readable = false;
		return 0;
	}
	if (n < 0) {
		vsock_conn_reset(v, cn, true);
		return -2;
	}
	cn->readable = false;
	cn->host_eof = true;
	/* closed, or only shut for writing? Its HUP may still be on its way to our epoll. */
	{
		struct pollfd p = {.fd = cn->fd, .events = POLLIN};

		if (poll(&p, 1, 0) > 0 && (p.revents & POLLHUP))
			cn->host_hup = true;
	}
	vsock_conn_host_done(v, cn);
	return -1;
}

/* Stream: one recv() of up to the credit into the stage, handed out over as many rx buffers
 * as it takes (Linux posts 4 KiB ones). SEQPACKET: stage one host message, EOM on its last
 * piece. A staged byte is always within the credit it was read under. */
static uint32_t vsock_send_data(struct vsock_dev *v, struct vsock_conn *cn, struct vq_chain *c,
				uint32_t credit)
{
	bool seq = cn->type == VIRTIO_VSOCK_TYPE_SEQPACKET;
	uint32_t room = (uint32_t)MIN(vq_chain_push_left(c) - VSOCK_HDR_SIZE, VSOCK_MAX_PKT);
	uint32_t len, flags = 0;
	ssize_t n;

	room = MIN(room, credit);
	if (!room)
		return 0; /* a header-sized buffer: recv(0) would look like EOF */
	if (!cn->stage_full) {
		if (!cn->stage) {
			cn->stage = malloc(VSOCK_MAX_PKT);
			if (!cn->stage) {
				vsock_conn_reset(v, cn, true);
				return 0;
			}
		}
		VSOCK_STAT_INC(v, host_reads);
		/* SEQPACKET: MSG_TRUNC gives the real length; a longer message arrives cut to
		 * our size. Stream: no more than the guest may take. */
		n = seq ? vsock_host_read(v, cn, cn->stage, VSOCK_MAX_PKT, MSG_TRUNC)
			: vsock_host_read(v, cn, cn->stage, MIN(credit, VSOCK_MAX_PKT), 0);
		if (n <= 0)
			return 0;
		cn->stage_len = (uint32_t)MIN((size_t)n, VSOCK_MAX_PKT);
		cn->stage_off = 0;
		cn->stage_full = true;
		if (seq)
			cn->readable = true; /* one message per recv: there may be more */
	}
	len = MIN(room, cn->stage_len - cn->stage_off);
	if (cn->stage_off + len == cn->stage_len) {
		if (seq)
			flags = VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR;
		cn->stage_full = false;
	}
	n = vsock_send_conn_pkt(v, cn, c, VIRTIO_VSOCK_OP_RW, flags, cn->stage + cn->stage_off,
				len);
	cn->stage_off += len;
	cn->tx_cnt += len;
	VSOCK_STAT_ADD(v, rx_bytes, len);
	return (uint32_t)n;
}

/* Whether cn has data for the guest now; asks the guest for credit once when it has none. */
static bool vsock_conn_has_data(struct vsock_conn *cn, uint32_t *credit)
{
	if (cn->state != VSOCK_ESTABLISHED || cn->peer_shut_rcv)
		return false;
	if (!cn->stage_full && (!cn->readable || cn->host_eof))
		return false;
	*credit = vsock_peer_credit(cn);
	if (*credit)
		return true;
	if (!cn->credit_req_sent) {
		cn->credit_req_sent = true;
		cn->pending |= VSOCK_P_CREDIT_REQ;
	}
	return false;
}

bool vsock_rx_has_work(struct vsock_dev *v)
{
	uint32_t credit;

	if (v->rst_count)
		return true;
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *cn = &v->conns[i];

		if (cn->state == VSOCK_FREE || cn->state == VSOCK_LINE)
			continue;
		if (cn->pending || vsock_conn_has_data(cn, &credit) || cn->pending)
			return true;
	}
	return false;
}

uint32_t vsock_rx_fill(struct vsock_dev *v, struct vq_chain *c)
{
	uint32_t credit, n;

	if (v->rst_count) {
		struct vsock_rst r = v->rst[v->rst_head];
		struct virtio_vsock_hdr h;

		v->rst_head = (v->rst_head + 1) % VSOCK_RST_RING;
		v->rst_count--;
		vsock_hdr_fill(v, &h, r.dst_port, r.src_port, r.type, VIRTIO_VSOCK_OP_RST);
		vq_chain_push(c, &h, sizeof(h));
		VSOCK_STAT_INC(v, rst_sent);
		return VSOCK_HDR_SIZE;
	}
	/* Round robin, so one busy connection cannot starve the others. */
	for (unsigned int k = 0; k < VSOCK_MAX_CONNS; k++) {
		unsigned int i = (v->rr + k) % VSOCK_MAX_CONNS;
		struct vsock_conn *cn = &v->conns[i];

		if (cn->state == VSOCK_FREE || cn->state == VSOCK_LINE)
			continue;
		/* a read may turn into EOF (SHUTDOWN) or a reset (RST): look again */
		for (int tries = 0; tries < 3 && cn->state != VSOCK_FREE; tries++) {
			n = vsock_send_control(v, cn, c);
			if (!n && vsock_conn_has_data(cn, &credit))
				n = vsock_send_data(v, cn, c, credit);
			if (n) {
				v->rr = i + 1;
				return n;
			}
			if (!cn->pending)
				break;
		}
	}
	return 0;
}
