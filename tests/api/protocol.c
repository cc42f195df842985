/* SPDX-License-Identifier: MIT */
/* HTTP-level abuse: limits, timeouts, garbage, pipelining and many clients at once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <json-c/json.h>

#include "tests/api/suite.h"

#define N_CLIENTS 60

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct api_conn *conn_new(const char *sock, int timeout_ms)
{
	struct api_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->timeout_ms = timeout_ms;
	if (api_conn_open(c, sock) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

static void conn_free(struct api_conn *c)
{
	if (c) {
		api_conn_close(c);
		free(c);
	}
}

/*
 * Sends raw bytes on a fresh connection and checks the one answer: status, a fault_message
 * naming one of want's words, and (when closes) that the server then closes the connection.
 */
static void raw_expect(const char *sock, const char *data, size_t len, int status, const char *want,
		       bool closes, const char *name)
{
	struct api_conn *c = conn_new(sock, 5000);
	struct api_resp r = {0};
	char why[512] = "", msg[256];
	bool ok = false;
	int err;

	if (!c) {
		check_why(false, "cannot connect", "%s", name);
		return;
	}
	/* The server may answer and close before it has read everything: EPIPE is fine. */
	api_send_raw(c, data, len);
	err = api_recv(c, &r);
	if (err < 0)
		snprintf(why, sizeof(why), "no answer (%s)", strerror(-err));
	else if (r.status != status)
		snprintf(why, sizeof(why), "status %d, want %d: %.200s", r.status, status, r.body);
	else if (!api_fault_message(&r, msg, sizeof(msg)))
		snprintf(why, sizeof(why), "no fault_message in %.200s", r.body);
	else if (want && !contains_any(msg, want))
		snprintf(why, sizeof(why), "fault_message \"%s\" names none of %s", msg, want);
	else if (closes && !api_wait_closed(c, 2000))
		snprintf(why, sizeof(why), "connection left open");
	else
		ok = true;
	api_resp_free(&r);
	conn_free(c);
	check_why(ok, why, "%s", name);
}

static void limits(const char *sock)
{
	size_t big = 70 * 1024, n;
	char *buf = malloc(big + 512);

	if (!buf)
		return;
	/* A body over 64 KiB: refused from its Content-Length. */
	n = (size_t)snprintf(buf, 512,
			     "PUT /machine-config HTTP/1.1\r\nContent-Type: application/json\r\n"
			     "Content-Length: %zu\r\n\r\n",
			     big);
	memset(buf + n, ' ', big);
	raw_expect(sock, buf, n + big, 413, "large|body", true, "oversized body: 413");

	/* More header fields than the server keeps. */
	n = (size_t)snprintf(buf, 512, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 80; i++)
		n += (size_t)snprintf(buf + n, big + 512 - n, "X-Field-%d: %d\r\n", i, i);
	n += (size_t)snprintf(buf + n, big + 512 - n, "\r\n");
	raw_expect(sock, buf, n, 400, "header", true, "80 header fields: 400");

	/* One 9 KiB header: the head is over 8 KiB. */
	n = (size_t)snprintf(buf, 512, "GET / HTTP/1.1\r\nX-Long: ");
	memset(buf + n, 'a', 9000);
	n += 9000;
	n += (size_t)snprintf(buf + n, 16, "\r\n\r\n");
	raw_expect(sock, buf, n, 431, "head|header", true, "9 KiB header: 431");

	/* A 9 KiB request target. */
	n = (size_t)snprintf(buf, 512, "GET /");
	memset(buf + n, 'p', 9000);
	n += 9000;
	n += (size_t)snprintf(buf + n, 32, " HTTP/1.1\r\n\r\n");
	raw_expect(sock, buf, n, 431, "head|header", true, "9 KiB path: 431");
	free(buf);
}

static void garbage(const char *sock)
{
	static const char bin[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n";
	static const char *const lines[] = {
		"HELLO\r\n\r\n",
		"GET\r\n\r\n",
		"GET / HTTP/1.1 extra\r\n\r\n",
		"GET http://example/ HTTP/1.1\r\n\r\n",
		"PUT /machine-config HTTP/1.1\r\nContent-Length: x\r\n\r\n",
		"PUT /machine-config HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
		"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		char name[96];

		snprintf(name, sizeof(name), "garbage request %zu (%.20s...): 400", i, lines[i]);
		for (char *p = name; *p; p++)
			if (*p == '\r' || *p == '\n')
				*p = ' ';
		raw_expect(sock, lines[i], strlen(lines[i]), 400, NULL, true, name);
	}
	raw_expect(sock, bin, sizeof(bin) - 1, 400, NULL, true, "TLS hello bytes: 400");

	/* A chunked body is not Content-Length: refused, never half-read. */
	{
		static const char chunked[] = "PUT /entropy HTTP/1.1\r\nTransfer-Encoding: "
					      "chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
		struct api_resp r;
		struct api_conn *c = conn_new(sock, 5000);
		int err = c ? api_send_raw(c, chunked, sizeof(chunked) - 1) : -ENOMEM;

		err = err ? err : api_recv(c, &r);
		check(err == 0 && r.status >= 400 && r.status < 500,
		      "chunked body refused with a 4xx (%d)", err == 0 ? r.status : err);
		if (err == 0)
			api_resp_free(&r);
		conn_free(c);
	}
}

/* A client that stops mid-request gets 408 after the server's read timeout. */
static void slow_client(const char *sock)
{
	static const char part[] =
		"PUT /machine-config HTTP/1.1\r\nContent-Length: 40\r\n\r\n{\"vc";
	struct api_conn *c = conn_new(sock, 15000);
	struct api_resp r = {0};
	long long t0 = now_ms(), dt;
	char msg[256];
	int err;

	if (!c) {
		check(false, "slow client: connect");
		return;
	}
	api_send_raw(c, part, sizeof(part) - 1);
	err = api_recv(c, &r);
	dt = now_ms() - t0;
	check_why(err == 0 && r.status == 408 && api_fault_message(&r, msg, sizeof(msg)),
		  err ? strerror(-err) : r.body, "slow client: 408 after %lld ms", dt);
	check(err == 0 && dt >= 500 && dt <= 12000,
	      "slow client: answered after a read timeout, not at once nor never (%lld ms)", dt);
	check(api_wait_closed(c, 2000), "slow client: connection closed after the 408");
	api_resp_free(&r);
	conn_free(c);
}

static void pipelining(const char *sock)
{
	static const char three[] = "GET / HTTP/1.1\r\n\r\n"
				    "PATCH /machine-config HTTP/1.1\r\nContent-Length: 17\r\n\r\n"
				    "{\"vcpu_count\": 3}"
				    "GET /machine-config HTTP/1.1\r\n\r\n";
	struct api_conn *c = conn_new(sock, 5000);
	struct api_resp r[3] = {{0}};
	int got = 0;

	if (!c) {
		check(false, "pipelining: connect");
		return;
	}
	api_send_raw(c, three, sizeof(three) - 1);
	while (got < 3 && api_recv(c, &r[got]) == 0)
		got++;
	check(got == 3 && r[0].status == 200 && r[1].status == 204 && r[2].status == 200,
	      "pipelined GET, PATCH, GET in one write: 200, 204, 200 in order");
	{
		struct json_object *o = got == 3 ? api_resp_json(&r[2]) : NULL, *n;

		check(o && json_object_object_get_ex(o, "vcpu_count", &n) &&
			      json_object_get_int(n) == 3,
		      "pipelined GET sees the PATCH before it");
		json_object_put(o);
	}
	for (int i = 0; i < got; i++)
		api_resp_free(&r[i]);

	/* A request split into single bytes, then one following in the same write as the end. */
	{
		static const char req[] =
			"GET /machine-config HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n";
		int n = 0;

		for (size_t i = 0; i < sizeof(req) - 1; i++)
			api_send_raw(c, req + i, 1);
		while (n < 2 && api_recv(c, &r[n]) == 0)
			n++;
		check(n == 2 && r[0].status == 200 && r[1].status == 200,
		      "a request sent byte by byte, then another: both answered");
		for (int i = 0; i < n; i++)
			api_resp_free(&r[i]);
	}
	/* Connection: close is honoured after the answer. */
	api_send_raw(c, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 37);
	check(api_recv(c, &r[0]) == 0 && r[0].status == 200 && api_wait_closed(c, 2000),
	      "Connection: close: answered, then closed");
	api_resp_free(&r[0]);
	conn_free(c);

	/* HTTP/1.0 and Expect: 100-continue. */
	c = conn_new(sock, 5000);
	if (c) {
		api_send_raw(c, "GET / HTTP/1.0\r\n\r\n", 18);
		check(api_recv(c, &r[0]) == 0 && r[0].status == 200 && api_wait_closed(c, 2000),
		      "HTTP/1.0: answered, then closed");
		api_resp_free(&r[0]);
		conn_free(c);
	}
	c = conn_new(sock, 5000);
	if (c) {
		static const char exp[] =
			"PATCH /machine-config HTTP/1.1\r\nExpect: 100-continue\r\n"
			"Content-Length: 17\r\n\r\n";
		char head[64] = "";
		ssize_t n;

		api_send_raw(c, exp, sizeof(exp) - 1);
		/* The 100 comes before the body is sent. */
		n = recv(c->fd, head, sizeof(head) - 1, 0);
		if (n > 0)
			head[n] = '\0';
		check(strncmp(head, "HTTP/1.1 100", 12) == 0, "Expect: 100-continue gets a 100");
		api_send_raw(c, "{\"vcpu_count\": 2}", 17);
		check(api_recv(c, &r[0]) == 0 && r[0].status == 204, "then the body gets its 204");
		api_resp_free(&r[0]);
		conn_free(c);
	}
	expect(sock, "GET", "/?x=1#frag", NULL, 200, NULL, "(query and fragment ignored)");
}

/* 60 clients connected at once, each answered. */
static void many_clients(const char *sock)
{
	struct api_conn *c[N_CLIENTS] = {0};
	int connected = 0, answered = 0;

	for (int i = 0; i < N_CLIENTS; i++)
		if ((c[i] = conn_new(sock, 5000)))
			connected++;
	for (int i = 0; i < N_CLIENTS; i++)
		if (c[i])
			api_send(c[i], "GET", i % 2 ? "/" : "/machine-config", NULL);
	for (int i = N_CLIENTS - 1; i >= 0; i--) {
		struct api_resp r;

		if (c[i] && api_recv(c[i], &r) == 0 && r.status == 200)
			answered++;
		if (c[i])
			api_resp_free(&r);
	}
	/* A second round on the same connections: they are all kept alive. */
	for (int i = 0; i < N_CLIENTS; i++) {
		struct api_resp r;

		if (c[i] && api_request(c[i], "GET", "/", NULL, &r) == 0 && r.status == 200)
			answered++;
		if (c[i])
			api_resp_free(&r);
	}
	check(connected == N_CLIENTS && answered == 2 * N_CLIENTS,
	      "%d clients at once: %d connected, %d of %d requests answered 200", N_CLIENTS,
	      connected, answered, 2 * N_CLIENTS);
	for (int i = 0; i < N_CLIENTS; i++)
		conn_free(c[i]);
}

void suite_protocol(struct vmm *v)
{
	limits(v->sock);
	garbage(v->sock);
	pipelining(v->sock);
	many_clients(v->sock);
	slow_client(v->sock);
	check(vmm_alive(v) && expect(v->sock, "GET", "/", NULL, 200, NULL, "after the abuse"),
	      "microvm still serves after the protocol abuse");
}
