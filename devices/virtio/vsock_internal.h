/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_VSOCK_INTERNAL_H
#define DEVICES_VIRTIO_VSOCK_INTERNAL_H

/* Shared by vsock.c (device, queues, config, events), vsock_conn.c (connection table, packet
 * state machine, credit) and vsock_host.c (the UNIX socket side). Not for other devices. */

#include <linux/virtio_vsock.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "devices/virtio/virtio.h"
#include "devices/virtio/vsock.h"
#include "vmm/util.h"

/* VIRTIO 1.2 bits that Debian 12's Linux 6.1 uapi header lacks. */
#ifndef VIRTIO_VSOCK_F_STREAM
#define VIRTIO_VSOCK_F_STREAM 0
#endif

#define VSOCK_RXQ	 0
#define VSOCK_TXQ	 1
#define VSOCK_EVQ	 2
#define VSOCK_QUEUE_SIZE 256

#define VSOCK_HOST_CID		 2ULL
#define VSOCK_HDR_SIZE		 ((uint32_t)sizeof(struct virtio_vsock_hdr))
#define VSOCK_MAX_PKT		 (64u * 1024)  /* payload bound of one packet, either way */
#define VSOCK_BUF_ALLOC		 (256u * 1024) /* our buf_alloc: what we hold per connection */
#define VSOCK_MAX_CONNS		 128
#define VSOCK_MAX_LINE		 32 /* "CONNECT <port>\n" must end within this many bytes */
#define VSOCK_RST_RING		 64 /* RSTs for packets that match no connection */
#define VSOCK_SEQ_MAX_MSG	 64 /* complete SEQPACKET messages held for the host at once */
#define VSOCK_FIRST_PORT	 1024
#define VSOCK_DEFAULT_TIMEOUT_MS 2000

/* Control packets a connection owes the guest (sent as rx buffers allow). */
#define VSOCK_P_REQUEST	   (1u << 0)
#define VSOCK_P_RESPONSE   (1u << 1)
#define VSOCK_P_CREDIT_UPD (1u << 2)
#define VSOCK_P_CREDIT_REQ (1u << 3)
#define VSOCK_P_SHUTDOWN   (1u << 4)
#define VSOCK_P_RST	   (1u << 5) /* last packet: the slot is freed once it is sent */

enum vsock_state {
	VSOCK_FREE = 0,
	VSOCK_LINE,	   /* host program connected, reading its CONNECT line */
	VSOCK_REQ_SENT,	   /* REQUEST (to be) sent to the guest, waiting for RESPONSE */
	VSOCK_ESTABLISHED, /* data flows */
	VSOCK_DEAD,	   /* host socket closed; only the pending RST remains */
};

struct vsock_conn {
	enum vsock_state state;
	uint32_t gen; /* bumped when the slot is reused: stale epoll events are ignored */
	int fd;
	uint16_t type;	     /* VIRTIO_VSOCK_TYPE_* */
	uint32_t local_port; /* host side port (src_port of our packets) */
	uint32_t peer_port;  /* guest port */
	bool host_initiated;
	uint32_t pending;	/* VSOCK_P_* */
	uint32_t shutdown_send; /* flags of the pending SHUTDOWN */
	/* Edge-triggered host socket: what the last events said, until EAGAIN says otherwise. */
	bool readable, writable;
	bool host_eof;	    /* read returned 0: no more data to the guest */
	bool host_hup;	    /* the host closed both halves */
	bool peer_shut_rcv; /* guest: no more data to it */
	bool peer_shut_snd; /* guest: no more data from it */
	bool host_wr_shut;  /* shutdown(SHUT_WR) done */
	bool credit_req_sent;
	bool credit_upd_asked; /* the guest's CREDIT_REQUEST: answer with a CREDIT_UPDATE */
	uint64_t deadline_ms;  /* 0: none; CLOCK_MONOTONIC */
	/* Credit ("Device Operation: Flow control"): the guest's view of its buffer ... */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint32_t tx_cnt; /* payload bytes we sent the guest */
	/* ... and ours: what the guest sent us, what reached the host socket. */
	uint32_t rx_cnt, fwd_cnt, fwd_cnt_sent;
	/* Guest -> host bytes the host socket did not take yet: buf[off, off + len), capacity
	 * VSOCK_BUF_ALLOC (allocated on first use). SEQPACKET: complete messages end at the
	 * offsets (relative to off) in msg_end[]; bytes after the last are the open message. */
	uint8_t *buf;
	uint32_t buf_off, buf_len;
	uint32_t msg_end[VSOCK_SEQ_MAX_MSG];
	unsigned int n_msg;
	/* Host -> guest bytes read but not yet in an rx buffer (VSOCK_MAX_PKT, allocated on
	 * first use): SEQPACKET one host message, stream one read of up to the credit, so one
	 * recv() fills many small rx buffers. Sent in pieces. */
	uint8_t *stage;
	uint32_t stage_len, stage_off;
	bool stage_full;
	/* VSOCK_LINE: bytes of the CONNECT line seen so far (peeked, not consumed) */
	char line[VSOCK_MAX_LINE + 1];
};

struct vsock_rst {
	uint32_t src_port, dst_port; /* as the guest sent them */
	uint16_t type;
};

struct vsock_dev {
	struct virtio_dev vdev; /* first: container_of() */
	struct virtio_vsock_config config;
	uint64_t guest_cid;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	unsigned int connect_timeout_ms, shutdown_timeout_ms;
	int listen_fd;
	int epoll_fd;	      /* every host socket, the listener, reset_fd, timer_fd */
	int reset_fd;	      /* eventfd: vsock_transport_reset() from another thread */
	int timer_fd;	      /* next connection deadline */
	bool reset_requested; /* atomic */
	/* Data plane (device thread). */
	bool event_pending; /* TRANSPORT_RESET not yet posted */
	struct vsock_conn conns[VSOCK_MAX_CONNS];
	unsigned int rr; /* round-robin start of the rx pump */
	uint32_t next_port;
	struct vsock_rst rst[VSOCK_RST_RING];
	unsigned int rst_head, rst_count;
	uint64_t timer_armed;	  /* deadline timer_fd is set to (0: disarmed), saves syscalls */
	struct vsock_stats stats; /* relaxed atomics: vsock_get_stats() reads from any thread */
};

#define VSOCK_STAT_INC(v, field)    __atomic_add_fetch(&(v)->stats.field, 1, __ATOMIC_RELAXED)
#define VSOCK_STAT_ADD(v, field, n) STAT_ADD((v)->stats.field, (n))

static inline struct vsock_dev *to_vsock(struct virtio_dev *vdev)
{
	return (struct vsock_dev *)vdev;
}

/* epoll tags of the internal epoll fd: kind in bits 56-63, generation 32-55, slot 0-31. */
#define VSOCK_EV_LISTEN 1ULL
#define VSOCK_EV_RESET	2ULL
#define VSOCK_EV_TIMER	3ULL
#define VSOCK_EV_CONN	4ULL
#define VSOCK_EV(kind, gen, i)                                                                     \
	(((uint64_t)(kind) << 56) | ((uint64_t)((gen)&0xffffff) << 32) | (uint64_t)(i))

uint64_t vsock_now_ms(void);

/* vsock_conn.c: connection table and the guest-facing state machine. Device thread. */
struct vsock_conn *vsock_conn_alloc(struct vsock_dev *v);
struct vsock_conn *vsock_conn_find(struct vsock_dev *v, uint32_t local, uint32_t peer,
				   bool include_dead);
bool vsock_port_in_use(struct vsock_dev *v, uint32_t local);
/* Close the host socket, then RST to the guest (send_rst) or free the slot at once. */
void vsock_conn_reset(struct vsock_dev *v, struct vsock_conn *cn, bool send_rst);
void vsock_conn_free(struct vsock_dev *v, struct vsock_conn *cn);
void vsock_conns_drop_all(struct vsock_dev *v);
/* One guest tx packet: c's readable part. Stream payload is only buffered ... */
void vsock_tx_packet(struct vsock_dev *v, struct vq_chain *c);
/* ... and written here, once per connection at the end of a tx wake-up (one send() for
 * many packets). */
void vsock_conns_flush(struct vsock_dev *v);
/* Fill one rx chain with the next packet owed to the guest. Returns the bytes written, 0 if
 * there is nothing to send. */
uint32_t vsock_rx_fill(struct vsock_dev *v, struct vq_chain *c);
bool vsock_rx_has_work(struct vsock_dev *v);
/* Timeouts; returns the next deadline (0: none). */
uint64_t vsock_conns_expire(struct vsock_dev *v, uint64_t now);
/* A host socket became writable or readable: move the buffered bytes, check for the end. */
void vsock_conn_host_event(struct vsock_dev *v, struct vsock_conn *cn, uint32_t events);

/* vsock_host.c: the UNIX socket side. */
int vsock_host_listen(struct vsock_dev *v);
void vsock_host_accept(struct vsock_dev *v);
/* VSOCK_LINE: read the CONNECT line if complete. */
void vsock_host_line(struct vsock_dev *v, struct vsock_conn *cn);
/* Guest REQUEST to host port: connect to "<path>_<port>". Returns the fd or -errno. */
int vsock_host_connect(struct vsock_dev *v, uint32_t port, uint16_t type);
int vsock_host_watch(struct vsock_dev *v, struct vsock_conn *cn);
/* Write the buffered guest bytes; updates fwd_cnt. Returns 0, or -errno when the host
 * socket failed for good. */
int vsock_host_flush(struct vsock_dev *v, struct vsock_conn *cn);
/* Pull len payload bytes from c straight into cn's buffer (SEQPACKET: eom closes the
 * message); nothing is written to the host socket yet. The caller checked the credit, so it
 * fits. Returns 0 or -errno. */
int vsock_host_append(struct vsock_conn *cn, struct vq_chain *c, uint32_t len, bool eom);

#endif /* DEVICES_VIRTIO_VSOCK_INTERNAL_H */
