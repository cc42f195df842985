/* SPDX-License-Identifier: MIT */
/* virtio-vsock: the host side, UNIX sockets. Every socket is non-blocking; the device thread
 * never waits on one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio/vsock_internal.h"
#include "vmm/log.h"
#include "vmm/util.h"

int vsock_host_listen(struct vsock_dev *v)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, r;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, v->path, strlen(v->path) + 1);
	/* bind() fails with EADDRINUSE when the path exists: we never remove someone's file. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int vsock_host_watch(struct vsock_dev *v, struct vsock_conn *cn)
{
	/* Edge-triggered: a socket we cannot serve now (no rx buffer, no guest credit) stays
	 * ready without waking us in a loop; cn->readable / writable remember the edge. */
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.u64 = VSOCK_EV(VSOCK_EV_CONN, cn->gen, (uint64_t)(cn - v->conns)),
	};

	return epoll_ctl(v->epoll_fd, EPOLL_CTL_ADD, cn->fd, &ev) < 0 ? -errno : 0;
}

void vsock_host_accept(struct vsock_dev *v)
{
	struct vsock_conn *cn;
	int fd;

	for (;;) {
		fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return; /* EAGAIN, or EMFILE & co: level-triggered, we come back */
		}
		cn = vsock_conn_alloc(v);
		if (!cn) {
			log_warn_ratelimited("%s: connection table full, host connection refused",
					     v->vdev.name);
			close(fd);
			continue;
		}
		cn->fd = fd;
		cn->state = VSOCK_LINE;
		cn->host_initiated = true;
		cn->type = VIRTIO_VSOCK_TYPE_STREAM;
		cn->deadline_ms = vsock_now_ms() + v->connect_timeout_ms;
		if (vsock_host_watch(v, cn) < 0)
			vsock_conn_free(v, cn);
	}
}

/* "CONNECT <port>": decimal, 1 to 10 digits, at most UINT32_MAX, nothing else. */
static bool vsock_parse_connect(const char *s, size_t n, uint32_t *port)
{
	static const char kw[] = "CONNECT ";
	uint64_t val = 0;
	size_t i = sizeof(kw) - 1;

	if (n <= i || memcmp(s, kw, i) != 0 || n - i > 10)
		return false;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		val = val * 10 + (uint64_t)(s[i] - '0');
	}
	if (val > UINT32_MAX)
		return false;
	*port = (uint32_t)val;
	return true;
}

static uint32_t vsock_alloc_port(struct vsock_dev *v)
{
	for (;;) {
		uint32_t p = v->next_port;

		v->next_port = p == UINT32_MAX ? VSOCK_FIRST_PORT : p + 1;
		/* at most VSOCK_MAX_CONNS ports are taken: this ends quickly */
		if (!vsock_port_in_use(v, p))
			return p;
	}
}

void vsock_host_line(struct vsock_dev *v, struct vsock_conn *cn)
{
	char *nl;
	ssize_t n;
	uint32_t port;

	/* Peek: bytes the program sends after the line belong to the connection. */
	do
		n = recv(cn->fd, cn->line, VSOCK_MAX_LINE, MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0)
		goto bad;
	cn->line[n] = 0;
	nl = memchr(cn->line, '\n', (size_t)n);
	if (!nl) {
		if (n < VSOCK_MAX_LINE)
			return; /* the rest comes with the next edge */
		goto bad;
	}
	if (!vsock_parse_connect(cn->line, (size_t)(nl - cn->line), &port))
		goto bad;
	/* consume exactly the line; it is in the socket already, so this cannot be short */
	if (recv(cn->fd, cn->line, (size_t)(nl - cn->line) + 1, MSG_DONTWAIT) != nl - cn->line + 1)
		goto bad;
	cn->peer_port = port;
	cn->local_port = vsock_alloc_port(v);
	cn->state = VSOCK_REQ_SENT;
	cn->pending |= VSOCK_P_REQUEST;
	cn->writable = true;
	cn->readable = true; /* bytes behind the line were part of the edge we consumed */
	cn->deadline_ms = vsock_now_ms() + v->connect_timeout_ms;
	return;
bad:
	log_warn_ratelimited("%s: bad or missing CONNECT line from a host program", v->vdev.name);
	vsock_conn_free(v, cn);
}

int vsock_host_connect(struct vsock_dev *v, uint32_t port, uint16_t type)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, n, r;

	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", v->path, port);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG; /* vsock_create() leaves room; kept for safety */
	fd = socket(AF_UNIX,
		    (type == VIRTIO_VSOCK_TYPE_SEQPACKET ? SOCK_SEQPACKET : SOCK_STREAM) |
			    SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	/* A UNIX connect completes at once or fails (EAGAIN: the listener's backlog is full,
	 * which we treat as a refusal rather than wait). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* The guest sent fwd bytes' worth of progress: tell it when a quarter of our buffer came
 * free since the last packet we sent (every packet carries fwd_cnt). The guest sees at least
 * 3/4 of the buffer free whenever ours is empty, so it never waits on us for nothing. */
static void vsock_host_forwarded(struct vsock_conn *cn, uint32_t n)
{
	cn->fwd_cnt += n;
	if (cn->fwd_cnt - cn->fwd_cnt_sent >= VSOCK_BUF_ALLOC / 4)
		cn->pending |= VSOCK_P_CREDIT_UPD;
}

int vsock_host_flush(struct vsock_dev *v, struct vsock_conn *cn)
{
	bool seq = cn->type == VIRTIO_VSOCK_TYPE_SEQPACKET;
	ssize_t n;

	/* SEQPACKET: whole messages only (an open one waits for its EOM); empty ones too. */
	while ((seq ? cn->n_msg > 0 : cn->buf_len > 0) && cn->fd >= 0) {
		uint32_t want = seq ? cn->msg_end[0] : cn->buf_len;

		n = send(cn->fd, cn->buf + cn->buf_off, want, MSG_NOSIGNAL | MSG_DONTWAIT);
		VSOCK_STAT_INC(v, host_writes);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				cn->writable = false;
				return 0;
			}
			return -errno;
		}
		if (seq) {
			if ((uint32_t)n != want)
				return -EMSGSIZE; /* records are atomic; cannot happen */
			cn->n_msg--;
			memmove(cn->msg_end, cn->msg_end + 1, cn->n_msg * sizeof(cn->msg_end[0]));
			for (unsigned int i = 0; i < cn->n_msg; i++)
				cn->msg_end[i] -= want;
		}
		cn->buf_off += (uint32_t)n;
		cn->buf_len -= (uint32_t)n;
		vsock_host_forwarded(cn, (uint32_t)n);
	}
	if (!cn->buf_len)
		cn->buf_off = 0;
	return 0;
}

int vsock_host_append(struct vsock_conn *cn, struct vq_chain *c, uint32_t len, bool eom)
{
	if (len) {
		/* Credit: buf_len + len <= VSOCK_BUF_ALLOC, so compacting makes room. */
		if (!cn->buf) {
			cn->buf = malloc(VSOCK_BUF_ALLOC);
			if (!cn->buf)
				return -ENOMEM;
		}
		if (cn->buf_off + cn->buf_len + len > VSOCK_BUF_ALLOC) {
			memmove(cn->buf, cn->buf + cn->buf_off, cn->buf_len);
			cn->buf_off = 0;
		}
		/* straight from the chain: no bounce copy */
		if (vq_chain_pull(c, cn->buf + cn->buf_off + cn->buf_len, len) != len)
			return -EINVAL; /* the caller checked the payload length */
		cn->buf_len += len;
	}
	if (cn->type == VIRTIO_VSOCK_TYPE_SEQPACKET && eom) {
		if (cn->n_msg == VSOCK_SEQ_MAX_MSG)
			return -ENOBUFS;
		cn->msg_end[cn->n_msg++] = cn->buf_len;
	}
	return 0;
}
