/* SPDX-License-Identifier: MIT */
#include "api/server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"
#include "api/router.h"
#include "vmm/log.h"

#define SRV_IN_BUF	16384
#define SRV_OUT_HIGH	(64 * 1024) /* stop taking requests while this much output waits */
#define SRV_MAX_EVENTS	32
#define SRV_REQ_LIMIT	6   /* a whole request may take at most this many read timeouts */
#define SRV_ACCEPT_WAIT 100 /* ms the listener rests after accept() ran out of fds */

static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";
static const char oom_json[] = "{\"fault_message\": \"out of memory\"}";

struct srv_conn {
	int fd;
	uint32_t events;  /* what epoll watches now */
	bool closing;	  /* close once out is flushed */
	bool eof;	  /* the client shut its side */
	bool dead;	  /* closed; freed after the current epoll batch */
	uint64_t last_ms; /* last byte in or out */
	uint64_t req_start_ms;
	struct http_buf out;
	size_t in_len;
	char in[SRV_IN_BUF];
	struct http_conn http;
};

struct api_server {
	struct api_server_config cfg;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd, stop_fd, epoll_fd;
	bool listen_paused;
	uint64_t listen_resume_ms;
	pthread_t thread;
	struct srv_conn **conns;
	unsigned int n_conns;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void conn_kill(struct api_server *s, struct srv_conn *c)
{
	if (c->dead)
		return;
	epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->dead = true;
}

/* Appends one response; on ENOMEM the connection is simply dropped. */
static void conn_respond(struct api_server *s, struct srv_conn *c, int status, const char *json,
			 const char *allow, bool keep_alive)
{
	if (!json && status >= 400)
		json = oom_json; /* a fault body could not be built */
	if (s->cfg.on_response)
		s->cfg.on_response(status);
	if (http_write_response(&c->out, status, json, allow, keep_alive) < 0)
		conn_kill(s, c);
	if (!keep_alive)
		c->closing = true;
}

static void conn_fault(struct api_server *s, struct srv_conn *c, int status, const char *msg)
{
	char *json = http_fault_json(msg);

	conn_respond(s, c, status, json, NULL, false);
	free(json);
}

static void conn_request(struct api_server *s, struct srv_conn *c)
{
	const struct http_request *req = &c->http.req;
	struct api_reply reply;

	api_router_dispatch(s->cfg.router, req->method, req->path, req->body, req->body_len,
			    &reply);
	conn_respond(s, c, reply.status, reply.json, reply.allow[0] ? reply.allow : NULL,
		     req->keep_alive);
	free(reply.json);
}

/* Parses buffered input and answers each complete request, until output backs up. */
static void conn_process(struct api_server *s, struct srv_conn *c)
{
	size_t off = 0, used;

	while (!c->dead && !c->closing && c->out.len < SRV_OUT_HIGH && off < c->in_len) {
		enum http_feed_result r;

		r = http_conn_feed(&c->http, c->in + off, c->in_len - off, &used);
		off += used;
		if (c->http.want_continue) {
			c->http.want_continue = false;
			if (http_buf_append(&c->out, continue_line, sizeof(continue_line) - 1) < 0)
				conn_kill(s, c);
		}
		if (r == HTTP_FEED_REQUEST) {
			conn_request(s, c);
			http_conn_next(&c->http);
		} else if (r == HTTP_FEED_ERROR) {
			conn_fault(s, c, c->http.err_status, c->http.err_msg);
		}
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	/* a half-closed client still gets the answers to what it sent */
	if (c->eof && c->in_len == 0)
		c->closing = true;
}

static int conn_flush(struct srv_conn *c)
{
	while (c->out.len) {
		ssize_t n = send(c->fd, c->out.p, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		http_buf_consume(&c->out, (size_t)n);
		c->last_ms = now_ms();
	}
	return 0;
}

static void conn_watch(struct api_server *s, struct srv_conn *c)
{
	struct epoll_event ev = {.data.ptr = c};

	if (!c->closing && !c->eof && c->in_len < sizeof(c->in) && c->out.len < SRV_OUT_HIGH)
		ev.events |= EPOLLIN;
	if (c->out.len)
		ev.events |= EPOLLOUT;
	if (ev.events != c->events && epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = ev.events;
}

/* Process, write, and again while output drains and input waits; then adjust the watch. */
static void conn_pump(struct api_server *s, struct srv_conn *c)
{
	for (;;) {
		conn_process(s, c);
		if (c->dead)
			return;
		if (conn_flush(c) < 0 || (c->closing && !c->out.len)) {
			conn_kill(s, c);
			return;
		}
		if (c->out.len || c->closing || !c->in_len)
			break;
	}
	conn_watch(s, c);
}

static void conn_read(struct api_server *s, struct srv_conn *c)
{
	ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_kill(s, c);
		return;
	}
	c->last_ms = now_ms();
	if (n == 0) {
		c->eof = true;
	} else {
		if (!http_conn_in_request(&c->http))
			c->req_start_ms = c->last_ms;
		c->in_len += (size_t)n;
	}
	conn_pump(s, c);
}

static void conn_event(struct api_server *s, struct srv_conn *c, uint32_t events)
{
	if (c->dead)
		return;
	if (events & EPOLLIN) {
		conn_read(s, c);
	} else if (events & (EPOLLERR | EPOLLHUP)) {
		/* both directions gone and nothing left to read: no one to answer */
		conn_kill(s, c);
		return;
	}
	if (!c->dead && (events & EPOLLOUT))
		conn_pump(s, c);
}

/* The peer is answered 503 on a best-effort write: it is not kept waiting in the backlog. */
static void refuse(int fd)
{
	char *json = http_fault_json("too many API connections");
	struct http_buf out = {0};

	if (json && http_write_response(&out, 503, json, NULL, false) == 0 &&
	    send(fd, out.p, out.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("api: refusing a connection: %s", strerror(errno));
	http_buf_free(&out);
	free(json);
	close(fd);
}

static void srv_accept(struct api_server *s)
{
	for (int i = 0; i < 16; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
		struct srv_conn *c;
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
			    errno == ENOBUFS) {
				/* level-triggered: without a rest this would spin */
				log_warn_ratelimited("api: accept: %s", strerror(errno));
				ev.events = 0;
				ev.data.ptr = &s->listen_fd;
				epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, s->listen_fd, &ev);
				s->listen_paused = true;
				s->listen_resume_ms = now_ms() + SRV_ACCEPT_WAIT;
			}
			return;
		}
		if (s->n_conns == s->cfg.max_conns) {
			refuse(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->events = EPOLLIN;
		c->last_ms = now_ms();
		http_conn_init(&c->http);
		ev.data.ptr = c;
		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			http_conn_free(&c->http);
			free(c);
			close(fd);
			continue;
		}
		s->conns[s->n_conns++] = c;
	}
}

/* When this connection next needs attention without any event. */
static uint64_t conn_deadline(const struct api_server *s, const struct srv_conn *c)
{
	uint64_t rt = s->cfg.read_timeout_ms;

	if (http_conn_in_request(&c->http) || c->in_len) {
		uint64_t a = c->last_ms + rt, b = c->req_start_ms + SRV_REQ_LIMIT * rt;

		return a < b ? a : b;
	}
	if (c->out.len || c->closing)
		return c->last_ms + rt;
	return c->last_ms + s->cfg.idle_timeout_ms;
}

static void srv_timeouts(struct api_server *s, uint64_t now)
{
	for (unsigned int i = 0; i < s->n_conns; i++) {
		struct srv_conn *c = s->conns[i];

		if (c->dead || now < conn_deadline(s, c))
			continue;
		if (c->out.len || c->closing || !(http_conn_in_request(&c->http) || c->in_len)) {
			/* idle, or the client does not read what we send */
			conn_kill(s, c);
			continue;
		}
		c->in_len = 0;
		conn_fault(s, c, 408, "request not received in time");
		c->last_ms = now;
		conn_pump(s, c);
	}
	if (s->listen_paused && now >= s->listen_resume_ms) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->listen_fd};

		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, s->listen_fd, &ev) == 0)
			s->listen_paused = false;
	}
}

static int srv_wait_ms(const struct api_server *s, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (unsigned int i = 0; i < s->n_conns; i++) {
		uint64_t d = conn_deadline(s, s->conns[i]);

		if (!s->conns[i]->dead && d < next)
			next = d;
	}
	if (s->listen_paused && s->listen_resume_ms < next)
		next = s->listen_resume_ms;
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : next - now > 60000 ? 60000 : (int)(next - now);
}

/* Frees the connections closed during this round (the batch may still have named them). */
static void srv_sweep(struct api_server *s)
{
	for (unsigned int i = 0; i < s->n_conns;) {
		struct srv_conn *c = s->conns[i];

		if (!c->dead) {
			i++;
			continue;
		}
		http_conn_free(&c->http);
		http_buf_free(&c->out);
		free(c);
		s->conns[i] = s->conns[--s->n_conns];
	}
}

static void *srv_thread(void *arg)
{
	struct api_server *s = arg;
	struct epoll_event evs[SRV_MAX_EVENTS];
	sigset_t all;

	pthread_setname_np(pthread_self(), "api");
	/* signals are the control thread's business */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	if (s->cfg.thread_init)
		s->cfg.thread_init(s->cfg.thread_arg);

	for (bool stop = false; !stop;) {
		int n = epoll_wait(s->epoll_fd, evs, SRV_MAX_EVENTS, srv_wait_ms(s, now_ms()));

		if (n < 0 && errno != EINTR) {
			log_err("api: epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &s->stop_fd)
				stop = true;
			else if (evs[i].data.ptr == &s->listen_fd)
				srv_accept(s);
			else
				conn_event(s, evs[i].data.ptr, evs[i].events);
		}
		srv_timeouts(s, now_ms());
		srv_sweep(s);
	}
	return NULL;
}

static int epoll_add(int ep, int fd, void *ptr)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ptr};

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int api_server_start(const struct api_server_config *cfg, struct api_server **out)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct api_server *s;
	int r;

	if (!cfg->path || !cfg->router)
		return -EINVAL;
	if (strlen(cfg->path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	if (!s->cfg.read_timeout_ms)
		s->cfg.read_timeout_ms = 5000;
	if (!s->cfg.idle_timeout_ms)
		s->cfg.idle_timeout_ms = 60000;
	if (!s->cfg.max_conns)
		s->cfg.max_conns = 64;
	strcpy(s->path, cfg->path);
	strcpy(addr.sun_path, cfg->path);
	s->listen_fd = s->stop_fd = s->epoll_fd = -1;
	s->conns = calloc(s->cfg.max_conns, sizeof(*s->conns));
	if (!s->conns) {
		r = -ENOMEM;
		goto err_free;
	}

	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0) {
		r = -errno;
		goto err_free;
	}
	/* bind() never replaces an existing file: EADDRINUSE, as the API promises */
	if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = -errno;
		goto err_free;
	}
	/* owner only; no client can connect before listen() */
	if (chmod(s->path, 0600) < 0 || listen(s->listen_fd, 64) < 0) {
		r = -errno;
		goto err_unlink;
	}
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->epoll_fd < 0 || s->stop_fd < 0) {
		r = -errno;
		goto err_unlink;
	}
	r = epoll_add(s->epoll_fd, s->listen_fd, &s->listen_fd);
	if (!r)
		r = epoll_add(s->epoll_fd, s->stop_fd, &s->stop_fd);
	if (r)
		goto err_unlink;
	r = -pthread_create(&s->thread, NULL, srv_thread, s);
	if (r)
		goto err_unlink;
	*out = s;
	return 0;

err_unlink:
	unlink(s->path);
err_free:
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	free(s->conns);
	free(s);
	return r;
}

void api_server_stop(struct api_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (write(s->stop_fd, &one, sizeof(one)) < 0)
		log_err("api: stop: %s", strerror(errno));
	pthread_join(s->thread, NULL);
	for (unsigned int i = 0; i < s->n_conns; i++)
		conn_kill(s, s->conns[i]);
	srv_sweep(s);
	unlink(s->path);
	close(s->epoll_fd);
	close(s->stop_fd);
	close(s->listen_fd);
	free(s->conns);
	free(s);
}
