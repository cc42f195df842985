/* SPDX-License-Identifier: MIT */
/*
 * Soak: thousands of mixed valid and malformed requests from concurrent clients. Every
 * answer must be the expected one, and microvm's RSS and open fds after the last thousand
 * must be within a small margin of what they were after the first thousand (warm-up).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/api/suite.h"

#define SOAK_THREADS	6
#define SOAK_FIRST	1002 /* multiples of SOAK_THREADS */
#define SOAK_MIDDLE	2004
#define SOAK_LAST	1002
#define SOAK_RSS_MARGIN 1024 /* KiB */
#define SOAK_FD_MARGIN	2

struct soak_thread {
	pthread_t t;
	const struct vmm *v;
	unsigned int id, count, seq;
	unsigned int done, wrong;
	char first_wrong[256];
};

/* What one request of kind k is, and the status it must get. */
struct soak_req {
	const char *raw; /* sent as is when not NULL */
	const char *method, *path, *body;
	int status;
	bool fresh; /* on a connection of its own */
};

static void soak_kind(unsigned int k, unsigned int id, char *path, size_t plen, char *body,
		      size_t blen, struct soak_req *q)
{
	memset(q, 0, sizeof(*q));
	switch (k % 13) {
	case 0:
		*q = (struct soak_req){NULL, "GET", "/", NULL, 200, false};
		break;
	case 1:
		*q = (struct soak_req){NULL, "GET", "/machine-config", NULL, 200, false};
		break;
	case 2:
		*q = (struct soak_req){NULL, "PATCH", "/machine-config", "{\"vcpu_count\": 2}",
				       204,  false};
		break;
	case 3:
		*q = (struct soak_req){NULL, "PUT", "/machine-config", "{\"vcpu_count\": 2,",
				       400,  false};
		break;
	case 4:
		snprintf(path, plen, "/drives/soak%u", id);
		snprintf(body, blen,
			 "{\"drive_id\": \"soak%u\", \"path_on_host\": \"/tmp/soak%u.img\", "
			 "\"is_root_device\": false}",
			 id, id);
		*q = (struct soak_req){NULL, "PUT", path, body, 204, false};
		break;
	case 5:
		snprintf(path, plen, "/drives/soak%u", id);
		*q = (struct soak_req){NULL,
				       "PUT",
				       path,
				       "{\"drive_id\": \"other\", \"path_on_host\": \"/x\", "
				       "\"is_root_device\": false}",
				       400,
				       false};
		break;
	case 6:
		*q = (struct soak_req){NULL, "GET", "/nothing/here", NULL, 404, false};
		break;
	case 7:
		*q = (struct soak_req){NULL, "DELETE", "/", NULL, 405, false};
		break;
	case 8:
		*q = (struct soak_req){
			"BREW /pot HTCPCP/1.0\r\n\r\n", NULL, "(garbage)", NULL, 400, false};
		break;
	case 9:
		*q = (struct soak_req){NULL, "GET", "/vm/config", NULL, 200, false};
		break;
	case 10:
		*q = (struct soak_req){NULL, "GET", "/", NULL, 200, true};
		break;
	case 11:
		*q = (struct soak_req){NULL, "PATCH", "/vm", "{\"state\": \"Paused\"}", 400, false};
		break;
	default:
		*q = (struct soak_req){"PUT /entropy HTTP/1.1\r\nContent-Length: 100000\r\n\r\n",
				       NULL,
				       "(oversized)",
				       NULL,
				       413,
				       false};
		break;
	}
}

static void *soak_run(void *arg)
{
	struct soak_thread *st = arg;
	struct api_conn *c = calloc(1, sizeof(*c));
	char path[64], body[256];

	if (!c)
		return NULL;
	c->fd = -1;
	for (unsigned int i = 0; i < st->count; i++, st->seq++) {
		struct soak_req q;
		struct api_resp r = {0};
		int err;

		soak_kind(st->seq * 7 + st->id, st->id, path, sizeof(path), body, sizeof(body), &q);
		if (q.fresh) {
			err = api_call(st->v->sock, q.method, q.path, q.body, &r);
		} else {
			if (c->fd < 0) {
				c->timeout_ms = 5000;
				err = api_conn_open(c, st->v->sock);
				if (err < 0)
					goto done;
			}
			err = q.raw ? api_send_raw(c, q.raw, strlen(q.raw))
				    : api_send(c, q.method, q.path, q.body);
			if (err == 0)
				err = api_recv(c, &r);
			/* After an HTTP-level error the server closes: reconnect next time. */
			if (err < 0 || r.close)
				api_conn_close(c);
		}
	done:
		st->done++;
		if (err < 0 || r.status != q.status) {
			if (!st->wrong++)
				snprintf(st->first_wrong, sizeof(st->first_wrong),
					 "%s %s: %s%d, want %d", q.method ? q.method : "raw",
					 q.path, err < 0 ? "error " : "status ",
					 err < 0 ? err : r.status, q.status);
			api_conn_close(c);
		}
		api_resp_free(&r);
	}
	api_conn_close(c);
	free(c);
	return NULL;
}

/* One phase: count requests spread over the threads; returns how many were wrong. */
static unsigned int soak_phase(const struct vmm *v, struct soak_thread *st, unsigned int count,
			       unsigned int *done, char *first_wrong, size_t len)
{
	unsigned int wrong = 0;

	for (unsigned int i = 0; i < SOAK_THREADS; i++) {
		st[i].count = count / SOAK_THREADS;
		st[i].done = st[i].wrong = 0;
		st[i].first_wrong[0] = '\0';
		if (pthread_create(&st[i].t, NULL, soak_run, &st[i]) != 0)
			st[i].count = 0;
	}
	for (unsigned int i = 0; i < SOAK_THREADS; i++) {
		if (st[i].count)
			pthread_join(st[i].t, NULL);
		*done += st[i].done;
		if (st[i].wrong && !first_wrong[0])
			snprintf(first_wrong, len, "%s", st[i].first_wrong);
		wrong += st[i].wrong;
	}
	return wrong;
}

/* fds settle once the server has seen every client's EOF. */
static int settled_fds(const struct vmm *v, int below)
{
	int n = vmm_fd_count(v);

	for (int i = 0; i < 100 && n > below; i++) {
		struct timespec ts = {0, 20 * 1000000L};

		nanosleep(&ts, NULL);
		n = vmm_fd_count(v);
	}
	return n;
}

void suite_soak(struct vmm *v)
{
	static struct soak_thread st[SOAK_THREADS];
	unsigned int done = 0, wrong;
	long rss0, rss1;
	int fd0, fd1;
	char first[256] = "", why[320];
	struct timespec t0, t1;

	for (unsigned int i = 0; i < SOAK_THREADS; i++) {
		st[i].v = v;
		st[i].id = i;
		st[i].seq = 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wrong = soak_phase(v, st, SOAK_FIRST, &done, first, sizeof(first));
	fd0 = settled_fds(v, 0);
	rss0 = vmm_rss_kb(v);
	wrong += soak_phase(v, st, SOAK_MIDDLE, &done, first, sizeof(first));
	wrong += soak_phase(v, st, SOAK_LAST, &done, first, sizeof(first));
	fd1 = settled_fds(v, fd0);
	rss1 = vmm_rss_kb(v);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	snprintf(why, sizeof(why), "first: %s", first);
	check_why(wrong == 0 && done == SOAK_FIRST + SOAK_MIDDLE + SOAK_LAST, why,
		  "soak: %u requests from %d clients in %.1f s, %u answered wrong", done,
		  SOAK_THREADS,
		  (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, wrong);
	check(vmm_alive(v) && rss0 > 0 && rss1 > 0 && rss1 - rss0 <= SOAK_RSS_MARGIN,
	      "soak: RSS %ld kB after the first thousand, %ld kB after the last (margin %d)", rss0,
	      rss1, SOAK_RSS_MARGIN);
	check(fd0 > 0 && fd1 > 0 && fd1 - fd0 <= SOAK_FD_MARGIN,
	      "soak: %d open fds after the first thousand, %d after the last", fd0, fd1);
	expect(v->sock, "GET", "/", NULL, 200, NULL, "after the soak");
}
