/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "tests/harness.h"

/* Feeds s whole; returns the result, *used the bytes consumed. */
static enum http_feed_result feed(struct http_conn *c, const char *s, size_t *used)
{
	return http_conn_feed(c, s, strlen(s), used);
}

static struct http_conn *conn_new(void)
{
	struct http_conn *c = malloc(sizeof(*c));

	ASSERT_TRUE(c);
	http_conn_init(c);
	return c;
}

static void conn_del(struct http_conn *c)
{
	http_conn_free(c);
	free(c);
}

/* Expects s to be rejected with status. */
static void expect_error(const char *s, int status)
{
	struct http_conn *c = conn_new();
	size_t used;

	ASSERT_EQ(feed(c, s, &used), HTTP_FEED_ERROR);
	ASSERT_EQ(c->err_status, status);
	ASSERT_TRUE(c->err_msg[0]);
	/* the connection stays failed */
	ASSERT_EQ(feed(c, "GET / HTTP/1.1\r\n\r\n", &used), HTTP_FEED_ERROR);
	conn_del(c);
}

TEST(http_simple_get)
{
	struct http_conn *c = conn_new();
	const char *s = "GET /vm/config HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
	size_t used;

	ASSERT_FALSE(http_conn_in_request(c));
	ASSERT_EQ(feed(c, s, &used), HTTP_FEED_REQUEST);
	ASSERT_EQ(used, strlen(s));
	ASSERT_EQ(c->req.method, HTTP_GET);
	ASSERT_STR_EQ(c->req.path, "/vm/config");
	ASSERT_STR_EQ(c->req.body, "");
	ASSERT_EQ(c->req.body_len, 0);
	ASSERT_TRUE(c->req.keep_alive);
	ASSERT_FALSE(c->want_continue);
	ASSERT_FALSE(http_conn_in_request(c));
	conn_del(c);
}

TEST(http_put_body_and_query)
{
	struct http_conn *c = conn_new();
	const char *s = "PUT /drives/rootfs?x=1#frag HTTP/1.1\r\nContent-Type: application/json\r\n"
			"Content-Length: 17\r\n\r\n{\"drive_id\": \"a\"}";
	size_t used;

	ASSERT_EQ(feed(c, s, &used), HTTP_FEED_REQUEST);
	ASSERT_EQ(used, strlen(s));
	ASSERT_EQ(c->req.method, HTTP_PUT);
	ASSERT_STR_EQ(c->req.path, "/drives/rootfs");
	ASSERT_EQ(c->req.body_len, 17);
	ASSERT_STR_EQ(c->req.body, "{\"drive_id\": \"a\"}");
	conn_del(c);
}

TEST(http_pipelined)
{
	struct http_conn *c = conn_new();
	const char *one = "PATCH /vm HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
	const char *two = "GET / HTTP/1.1\r\n\r\n";
	const char *three =
		"PUT /actions HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}";
	char buf[512];
	size_t used, off = 0, len;

	snprintf(buf, sizeof(buf), "%s%s%s", one, two, three);
	len = strlen(buf);
	ASSERT_EQ(http_conn_feed(c, buf, len, &used), HTTP_FEED_REQUEST);
	ASSERT_EQ(used, strlen(one));
	ASSERT_EQ(c->req.method, HTTP_PATCH);
	ASSERT_STR_EQ(c->req.body, "abc");
	/* without http_conn_next() the same request is reported again, nothing consumed */
	ASSERT_EQ(http_conn_feed(c, buf + used, len - used, &used), HTTP_FEED_REQUEST);
	ASSERT_EQ(used, 0);
	off = strlen(one);
	http_conn_next(c);
	ASSERT_EQ(http_conn_feed(c, buf + off, len - off, &used), HTTP_FEED_REQUEST);
	ASSERT_EQ(used, strlen(two));
	ASSERT_EQ(c->req.method, HTTP_GET);
	ASSERT_STR_EQ(c->req.path, "/");
	ASSERT_STR_EQ(c->req.body, "");
	off += used;
	http_conn_next(c);
	ASSERT_EQ(http_conn_feed(c, buf + off, len - off, &used), HTTP_FEED_REQUEST);
	ASSERT_EQ(off + used, len);
	ASSERT_STR_EQ(c->req.path, "/actions");
	ASSERT_STR_EQ(c->req.body, "{}");
	ASSERT_FALSE(c->req.keep_alive);
	conn_del(c);
}

TEST(http_byte_by_byte)
{
	struct http_conn *c = conn_new();
	const char *s = "PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"
			"0123456789GET / HTTP/1.1\r\n\r\n";
	size_t first = strlen(s) - strlen("GET / HTTP/1.1\r\n\r\n"), used;

	for (size_t i = 0; i < first - 1; i++) {
		ASSERT_EQ(http_conn_feed(c, s + i, 1, &used), HTTP_FEED_MORE);
		ASSERT_EQ(used, 1);
		ASSERT_TRUE(http_conn_in_request(c));
	}
	ASSERT_EQ(http_conn_feed(c, s + first - 1, 1, &used), HTTP_FEED_REQUEST);
	ASSERT_EQ(used, 1);
	ASSERT_STR_EQ(c->req.body, "0123456789");
	ASSERT_STR_EQ(c->req.path, "/machine-config");
	http_conn_next(c);
	for (size_t i = first; i < strlen(s) - 1; i++)
		ASSERT_EQ(http_conn_feed(c, s + i, 1, &used), HTTP_FEED_MORE);
	ASSERT_EQ(http_conn_feed(c, s + strlen(s) - 1, 1, &used), HTTP_FEED_REQUEST);
	ASSERT_STR_EQ(c->req.path, "/");
	conn_del(c);
}

TEST(http_keep_alive_rules)
{
	struct {
		const char *req;
		bool keep;
	} cases[] = {
		{"GET / HTTP/1.1\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nconnection: CLOSE\r\n\r\n", false},
		{"GET / HTTP/1.0\r\n\r\n", false},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_conn *c = conn_new();
		size_t used;

		ASSERT_EQ(feed(c, cases[i].req, &used), HTTP_FEED_REQUEST);
		ASSERT_EQ(c->req.keep_alive, cases[i].keep);
		conn_del(c);
	}
}

TEST(http_bad_request_lines)
{
	expect_error("FOO / HTTP/1.1\r\n\r\n", 400);
	expect_error("GET\r\n\r\n", 400);
	expect_error("GET / HTTP/x.1\r\n\r\n", 400);
	expect_error("GET / HTTP/2.0\r\n\r\n", 505);
	expect_error("GET /\r\n\r\n", 505); /* HTTP/0.9 */
	expect_error("\x01\x02\x03", 400);
	expect_error("GET / junk\r\n\r\n", 400);
	expect_error("GET * HTTP/1.1\r\n\r\n", 400);
	expect_error("GET http://host/vm HTTP/1.1\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n", 400);
	expect_error("CONNECT host:80 HTTP/1.1\r\n\r\n", 400);
}

TEST(http_bodies_need_content_length)
{
	expect_error("PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		     411);
	expect_error("PUT /a HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
		     400);
	expect_error("PUT /a HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400);
	expect_error("PUT /a HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400);
	expect_error("PUT /a HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400);
}

/* A request whose head (request line to the blank line) is exactly len bytes. */
static char *head_of_size(size_t len)
{
	static const char pre[] = "GET / HTTP/1.1\r\nX-Pad: ", post[] = "\r\n\r\n";
	size_t a = sizeof(pre) - 1, b = sizeof(post) - 1;
	char *s = malloc(len + 1);

	ASSERT_TRUE(s && len > a + b);
	memcpy(s, pre, a);
	memset(s + a, 'a', len - a - b);
	memcpy(s + len - b, post, b + 1);
	ASSERT_EQ(strlen(s), len);
	return s;
}

TEST(http_head_limit)
{
	char *ok = head_of_size(HTTP_MAX_HEAD), *big = head_of_size(HTTP_MAX_HEAD + 1);
	struct http_conn *c = conn_new();
	size_t used;

	ASSERT_EQ(feed(c, ok, &used), HTTP_FEED_REQUEST);
	ASSERT_EQ(used, HTTP_MAX_HEAD);
	conn_del(c);

	c = conn_new();
	ASSERT_EQ(feed(c, big, &used), HTTP_FEED_ERROR);
	ASSERT_EQ(c->err_status, 431);
	conn_del(c);

	/* the same, trickled: the error comes once the limit is crossed, not at the end */
	c = conn_new();
	for (size_t i = 0; i < HTTP_MAX_HEAD - 1; i++)
		ASSERT_EQ(http_conn_feed(c, big + i, 1, &used), HTTP_FEED_MORE);
	ASSERT_EQ(http_conn_feed(c, big + HTTP_MAX_HEAD - 1, 2, &used), HTTP_FEED_ERROR);
	ASSERT_EQ(c->err_status, 431);
	conn_del(c);

	/* a megabyte of header never gets further than the limit */
	c = conn_new();
	{
		size_t n = 1 << 20;
		char *huge = head_of_size(n);

		ASSERT_EQ(http_conn_feed(c, huge, n, &used), HTTP_FEED_ERROR);
		ASSERT_EQ(c->err_status, 431);
		ASSERT_TRUE(used <= HTTP_MAX_HEAD);
		free(huge);
	}
	conn_del(c);
	free(ok);
	free(big);
}

static char *with_headers(unsigned int n)
{
	char *s = malloc(64 + 16 * (size_t)n), *w = s;

	w += sprintf(w, "GET / HTTP/1.1\r\n");
	for (unsigned int i = 0; i < n; i++)
		w += sprintf(w, "X-H%u: %u\r\n", i, i);
	strcpy(w, "\r\n");
	return s;
}

TEST(http_header_count)
{
	char *ok = with_headers(HTTP_MAX_HEADERS), *bad = with_headers(HTTP_MAX_HEADERS + 1);
	struct http_conn *c = conn_new();
	size_t used;

	ASSERT_EQ(feed(c, ok, &used), HTTP_FEED_REQUEST);
	conn_del(c);
	expect_error(bad, 400);
	free(ok);
	free(bad);
}

TEST(http_body_limit)
{
	struct http_conn *c = conn_new();
	char head[128], *body = malloc(HTTP_MAX_BODY);
	size_t used;

	memset(body, 'x', HTTP_MAX_BODY);
	snprintf(head, sizeof(head), "PUT /a HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
		 HTTP_MAX_BODY);
	ASSERT_EQ(feed(c, head, &used), HTTP_FEED_MORE);
	ASSERT_TRUE(http_conn_in_request(c));
	ASSERT_EQ(http_conn_feed(c, body, HTTP_MAX_BODY, &used), HTTP_FEED_REQUEST);
	ASSERT_EQ(used, HTTP_MAX_BODY);
	ASSERT_EQ(c->req.body_len, HTTP_MAX_BODY);
	ASSERT_EQ(c->req.body[HTTP_MAX_BODY], '\0');
	conn_del(c);

	/* one byte more: refused from the head alone, before any of the body */
	c = conn_new();
	snprintf(head, sizeof(head), "PUT /a HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
		 HTTP_MAX_BODY + 1);
	ASSERT_EQ(feed(c, head, &used), HTTP_FEED_ERROR);
	ASSERT_EQ(c->err_status, 413);
	conn_del(c);
	free(body);
}

TEST(http_expect_continue)
{
	struct http_conn *c = conn_new();
	size_t used;

	ASSERT_EQ(feed(c, "PUT /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
		       &used),
		  HTTP_FEED_MORE);
	ASSERT_TRUE(c->want_continue);
	c->want_continue = false;
	ASSERT_EQ(feed(c, "{}", &used), HTTP_FEED_REQUEST);
	ASSERT_FALSE(c->want_continue);
	conn_del(c);

	/* a body over the limit is refused instead of invited */
	c = conn_new();
	ASSERT_EQ(feed(c,
		       "PUT /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 999999\r\n\r\n",
		       &used),
		  HTTP_FEED_ERROR);
	ASSERT_FALSE(c->want_continue);
	ASSERT_EQ(c->err_status, 413);
	conn_del(c);
}

TEST(http_response_format)
{
	struct http_buf b = {0};
	const char *want204 =
		"HTTP/1.1 204 No Content\r\nServer: microvm\r\nConnection: keep-alive\r\n"
		"\r\n";
	const char *want200 = "HTTP/1.1 200 OK\r\nServer: microvm\r\nConnection: close\r\n"
			      "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
	const char *want405 = "HTTP/1.1 405 Method Not Allowed\r\nServer: microvm\r\n"
			      "Connection: keep-alive\r\nAllow: GET, PUT\r\n"
			      "Content-Type: application/json\r\nContent-Length: 5\r\n\r\n{\"a\"}";

	ASSERT_OK(http_write_response(&b, 204, "{\"ignored\": 1}", NULL, true));
	ASSERT_EQ(b.len, strlen(want204));
	ASSERT_MEM_EQ(b.p, want204, b.len);
	http_buf_consume(&b, b.len);
	ASSERT_OK(http_write_response(&b, 200, "{}", NULL, false));
	ASSERT_EQ(b.len, strlen(want200));
	ASSERT_MEM_EQ(b.p, want200, b.len);
	http_buf_consume(&b, 5);
	ASSERT_MEM_EQ(b.p, want200 + 5, b.len);
	http_buf_consume(&b, b.len);
	ASSERT_OK(http_write_response(&b, 405, "{\"a\"}", "GET, PUT", true));
	ASSERT_EQ(b.len, strlen(want405));
	ASSERT_MEM_EQ(b.p, want405, b.len);
	http_buf_free(&b);
	ASSERT_STR_EQ(http_reason(413), "Payload Too Large");
	ASSERT_STR_EQ(http_reason(799), "Unknown");
}

TEST(http_fault_json_escapes)
{
	char *j = http_fault_json("bad \"x\"\\\n\x01 ok");

	ASSERT_STR_EQ(j, "{\"fault_message\": \"bad \\\"x\\\"\\\\\\u000a\\u0001 ok\"}");
	free(j);
	j = http_fault_json("");
	ASSERT_STR_EQ(j, "{\"fault_message\": \"\"}");
	free(j);
}

TEST(http_buf_grows)
{
	struct http_buf b = {0};
	char chunk[1000];

	memset(chunk, 'z', sizeof(chunk));
	for (int i = 0; i < 200; i++)
		ASSERT_OK(http_buf_append(&b, chunk, sizeof(chunk)));
	ASSERT_EQ(b.len, 200 * sizeof(chunk));
	ASSERT_TRUE(b.cap >= b.len);
	http_buf_consume(&b, b.len + 5);
	ASSERT_EQ(b.len, 0);
	http_buf_free(&b);
	ASSERT_TRUE(b.p == NULL);
}
