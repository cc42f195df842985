/* SPDX-License-Identifier: MIT */
#include "tests/api/client.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int api_conn_open(struct api_conn *c, const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	c->fd = -1;
	c->len = 0;
	if (!c->timeout_ms)
		c->timeout_ms = 5000;
	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = -errno;

		close(c->fd);
		c->fd = -1;
		return e;
	}
	return 0;
}

void api_conn_close(struct api_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

int api_send_raw(struct api_conn *c, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int api_send(struct api_conn *c, const char *method, const char *path, const char *body)
{
	char head[1024];
	int n;

	if (body)
		n = snprintf(head, sizeof(head),
			     "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			     method, path, strlen(body));
	else
		n = snprintf(
			head, sizeof(head),
			"%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n",
			method, path);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -ENAMETOOLONG;
	if (api_send_raw(c, head, (size_t)n) < 0)
		return -EPIPE;
	return body ? api_send_raw(c, body, strlen(body)) : 0;
}

/* Reads more into c->buf, waiting until deadline. 0, -ETIMEDOUT, -ECONNRESET (EOF), -ENOBUFS. */
static int conn_fill(struct api_conn *c, long long deadline)
{
	for (;;) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		long long left = deadline - mono_ms();
		ssize_t n;
		int r;

		if (c->len >= sizeof(c->buf) - 1)
			return -ENOBUFS;
		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return errno == ECONNRESET ? -ECONNRESET : -errno;
		if (n == 0)
			return -ECONNRESET;
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
		return 0;
	}
}

/* The value of header name in head (which ends at "\r\n\r\n"), copied into out. */
static bool header(const char *head, size_t head_len, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);
	const char *p = strstr(head, "\r\n");

	while (p && (size_t)(p - head) < head_len) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *e = strstr(v, "\r\n");
			size_t n;

			while (*v == ' ' || *v == '\t')
				v++;
			n = e ? (size_t)(e - v) : strlen(v);
			if (n >= len)
				n = len - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return true;
		}
		p = strstr(p, "\r\n");
	}
	return false;
}

int api_recv(struct api_conn *c, struct api_resp *r)
{
	long long deadline = mono_ms() + c->timeout_ms;
	char *end, val[64];
	size_t head_len, body_len = 0, total;
	int status, err;

	memset(r, 0, sizeof(*r));
	for (;;) {
		c->buf[c->len] = '\0';
		end = c->len ? strstr(c->buf, "\r\n\r\n") : NULL;
		if (end)
			break;
		err = conn_fill(c, deadline);
		if (err < 0)
			return err;
	}
	head_len = (size_t)(end - c->buf) + 4;
	if (sscanf(c->buf, "HTTP/1.%*1[01] %3d", &status) != 1 || status < 100 || status > 599)
		return -EPROTO;
	if (header(c->buf, head_len, "Content-Length", val, sizeof(val))) {
		char *e;

		body_len = strtoul(val, &e, 10);
		if (*e || body_len > sizeof(c->buf) / 2)
			return -EPROTO;
	}
	r->close = header(c->buf, head_len, "Connection", val, sizeof(val)) &&
		   strcasecmp(val, "close") == 0;
	header(c->buf, head_len, "Allow", r->allow, sizeof(r->allow));
	total = head_len + body_len;
	while (c->len < total) {
		err = conn_fill(c, deadline);
		if (err < 0)
			return err;
	}
	r->body = malloc(body_len + 1);
	if (!r->body)
		return -ENOMEM;
	memcpy(r->body, c->buf + head_len, body_len);
	r->body[body_len] = '\0';
	r->body_len = body_len;
	r->status = status;
	memmove(c->buf, c->buf + total, c->len - total);
	c->len -= total;
	/* 1xx (100 Continue) is informational: the real answer follows. */
	if (status < 200) {
		api_resp_free(r);
		return api_recv(c, r);
	}
	return 0;
}

bool api_wait_closed(struct api_conn *c, int timeout_ms)
{
	long long deadline = mono_ms() + timeout_ms;

	for (;;) {
		int r = conn_fill(c, deadline);

		if (r == -ECONNRESET)
			return true;
		if (r == -ETIMEDOUT)
			return false;
		if (r == -ENOBUFS)
			c->len = 0; /* drop what was read: only the EOF matters */
		else if (r < 0)
			return true;
	}
}

int api_request(struct api_conn *c, const char *method, const char *path, const char *body,
		struct api_resp *r)
{
	int err = api_send(c, method, path, body);

	if (err < 0) {
		memset(r, 0, sizeof(*r));
		return err;
	}
	return api_recv(c, r);
}

int api_call(const char *sock, const char *method, const char *path, const char *body,
	     struct api_resp *r)
{
	struct api_conn *c = calloc(1, sizeof(*c));
	int err;

	memset(r, 0, sizeof(*r));
	if (!c)
		return -ENOMEM;
	err = api_conn_open(c, sock);
	if (err == 0)
		err = api_request(c, method, path, body, r);
	api_conn_close(c);
	free(c);
	return err;
}

void api_resp_free(struct api_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

struct json_object *api_resp_json(const struct api_resp *r)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (!r->body || !r->body_len)
		return NULL;
	tok = json_tokener_new();
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, r->body, (int)r->body_len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

const char *api_fault_message(const struct api_resp *r, char *out, size_t len)
{
	struct json_object *o = api_resp_json(r), *m;
	const char *res = NULL;

	if (o && json_object_object_get_ex(o, "fault_message", &m) &&
	    json_object_is_type(m, json_type_string) && json_object_get_string_len(m) > 0) {
		snprintf(out, len, "%s", json_object_get_string(m));
		res = out;
	}
	json_object_put(o);
	return res;
}
