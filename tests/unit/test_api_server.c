/* SPDX-License-Identifier: MIT */
/* The router on its own, then the server end to end over a real UNIX socket in a temp dir. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"
#include "api/router.h"
#include "api/server.h"
#include "tests/harness.h"

/* ---- handlers used by the tests ---- */

static int h_root(void *opaque, const struct api_request *req, char **json)
{
	*json = strdup("{\"state\": \"Not started\"}");
	return 200;
}

/* PUT /drives/{id}: 204 with a body, 400 without; GET echoes the id. */
static int h_drive_put(void *opaque, const struct api_request *req, char **json)
{
	if (req->body_len == 0)
		return api_fault(json, 400, "drive %s: missing body", api_param(req, "id"));
	return 204;
}

static int h_drive_get(void *opaque, const struct api_request *req, char **json)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "{\"drive_id\": \"%s\"}", api_param(req, "id"));
	*json = strdup(buf);
	return 200;
}

static int h_echo_len(void *opaque, const struct api_request *req, char **json)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "{\"len\": %zu, \"nul\": %d}", req->body_len,
		 req->body[req->body_len] == '\0');
	*json = strdup(buf);
	return 200;
}

static int h_bad_status(void *opaque, const struct api_request *req, char **json)
{
	return 42;
}

static int h_bare_error(void *opaque, const struct api_request *req, char **json)
{
	return 409;
}

static void routes(struct api_router *r)
{
	api_router_init(r);
	ASSERT_OK(api_router_add(r, HTTP_GET, "/", h_root, NULL));
	ASSERT_OK(api_router_add(r, HTTP_PUT, "/drives/{id}", h_drive_put, NULL));
	ASSERT_OK(api_router_add(r, HTTP_GET, "/drives/{id}", h_drive_get, NULL));
	ASSERT_OK(api_router_add(r, HTTP_PATCH, "/drives/{id}", h_drive_put, NULL));
	ASSERT_OK(api_router_add(r, HTTP_PUT, "/echo", h_echo_len, NULL));
	ASSERT_OK(api_router_add(r, HTTP_GET, "/bad", h_bad_status, NULL));
	ASSERT_OK(api_router_add(r, HTTP_GET, "/conflict", h_bare_error, NULL));
}

/* ---- router ---- */

static int h_two(void *opaque, const struct api_request *req, char **json)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "%s|%s|%s", api_param(req, "a"), api_param(req, "b"),
		 api_param(req, "c") ? "?" : "-");
	*json = strdup(buf);
	return 200;
}

TEST(router_patterns)
{
	static struct api_router r;

	api_router_init(&r);
	ASSERT_ERR(api_router_add(&r, HTTP_GET, "", h_root, NULL), -EINVAL);
	ASSERT_ERR(api_router_add(&r, HTTP_GET, "drives", h_root, NULL), -EINVAL);
	ASSERT_ERR(api_router_add(&r, HTTP_GET, "/a//b", h_root, NULL), -EINVAL);
	ASSERT_ERR(api_router_add(&r, HTTP_GET, "/a/", h_root, NULL), -EINVAL);
	ASSERT_ERR(api_router_add(&r, HTTP_GET, "/a/{}", h_root, NULL), -EINVAL);
	ASSERT_ERR(api_router_add(&r, HTTP_GET, "/a/x{id}", h_root, NULL), -EINVAL);
	ASSERT_ERR(api_router_add(&r, HTTP_GET, "/a/{id", h_root, NULL), -EINVAL);
	ASSERT_ERR(api_router_add(&r, HTTP_GET, "/a/{i}d}", h_root, NULL), -EINVAL);
	ASSERT_ERR(api_router_add(&r, HTTP_GET, "/{a}/{b}/{c}/{d}/{e}", h_root, NULL), -EINVAL);
	ASSERT_ERR(api_router_add(&r, HTTP_GET, "/x", NULL, NULL), -EINVAL);
	ASSERT_OK(api_router_add(&r, HTTP_GET, "/x/{a}/y/{b}", h_two, NULL));
	ASSERT_ERR(api_router_add(&r, HTTP_GET, "/x/{a}/y/{b}", h_two, NULL), -EEXIST);
	ASSERT_OK(api_router_add(&r, HTTP_PUT, "/x/{a}/y/{b}", h_two, NULL));
	static char pats[API_MAX_ROUTES][16];

	for (unsigned int i = r.n; i < API_MAX_ROUTES; i++) {
		snprintf(pats[i], sizeof(pats[i]), "/r%u/{id}", i);
		ASSERT_OK(api_router_add(&r, HTTP_GET, pats[i], h_two, NULL));
	}
	ASSERT_ERR(api_router_add(&r, HTTP_POST, "/full", h_two, NULL), -ENOSPC);
}

TEST(router_dispatch)
{
	static struct api_router r;
	struct api_reply rep;

	routes(&r);
	ASSERT_OK(api_router_add(&r, HTTP_GET, "/x/{a}/y/{b}", h_two, NULL));

	api_router_dispatch(&r, HTTP_GET, "/x/one/y/two", "", 0, &rep);
	ASSERT_EQ(rep.status, 200);
	ASSERT_STR_EQ(rep.json, "one|two|-");
	free(rep.json);

	api_router_dispatch(&r, HTTP_GET, "/", "", 0, &rep);
	ASSERT_EQ(rep.status, 200);
	free(rep.json);

	/* a 204 never carries a body; a 4xx from api_fault() keeps its message */
	api_router_dispatch(&r, HTTP_PUT, "/drives/rootfs", "{}", 2, &rep);
	ASSERT_EQ(rep.status, 204);
	ASSERT_TRUE(rep.json == NULL);
	api_router_dispatch(&r, HTTP_PUT, "/drives/rootfs", "", 0, &rep);
	ASSERT_EQ(rep.status, 400);
	ASSERT_STR_EQ(rep.json, "{\"fault_message\": \"drive rootfs: missing body\"}");
	free(rep.json);

	/* unknown paths: 404; empty or extra segments do not match a parameter */
	const char *unknown[] = {"/nope",  "/drives", "/drives/", "/drives/a/b",
				 "/x/1/y", "//",      "/x/1/y/2/"};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		api_router_dispatch(&r, HTTP_GET, unknown[i], "", 0, &rep);
		ASSERT_EQ(rep.status, 404);
		ASSERT_TRUE(strstr(rep.json, "fault_message"));
		ASSERT_EQ(rep.allow[0], '\0');
		free(rep.json);
	}

	/* known path, wrong method: 405 listing every method of that path once */
	api_router_dispatch(&r, HTTP_DELETE, "/drives/a", "", 0, &rep);
	ASSERT_EQ(rep.status, 405);
	ASSERT_STR_EQ(rep.allow, "PUT, GET, PATCH");
	ASSERT_TRUE(strstr(rep.json, "DELETE"));
	free(rep.json);

	/* handler mistakes become a 500 or a default fault body */
	api_router_dispatch(&r, HTTP_GET, "/bad", "", 0, &rep);
	ASSERT_EQ(rep.status, 500);
	ASSERT_TRUE(strstr(rep.json, "fault_message"));
	free(rep.json);
	api_router_dispatch(&r, HTTP_GET, "/conflict", "", 0, &rep);
	ASSERT_EQ(rep.status, 409);
	ASSERT_STR_EQ(rep.json, "{\"fault_message\": \"Conflict\"}");
	free(rep.json);
}

/* ---- a small client ---- */

struct client {
	int fd;
	char buf[1 << 17];
	size_t len;
};

struct resp {
	int status;
	char head[2048];
	char body[4096];
};

static int connect_to(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ASSERT_TRUE(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void client_open(struct client *c, const char *path)
{
	c->fd = connect_to(path);
	ASSERT_OK(c->fd);
	c->len = 0;
}

static void client_close(struct client *c)
{
	close(c->fd);
	c->fd = -1;
}

static void send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		ASSERT_TRUE(w > 0);
		s += w;
		n -= (size_t)w;
	}
}

static void client_send(struct client *c, const char *s)
{
	send_all(c->fd, s, strlen(s));
}

/* Reads more into the buffer; false on EOF. */
static bool client_fill(struct client *c)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);

	if (n < 0 && errno == EAGAIN)
		TEST_FAIL_("%s", "no answer within 5 s");
	if (n <= 0)
		return false;
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	return true;
}

/* Reads one response; returns false on EOF before any byte of it. */
static bool client_read(struct client *c, struct resp *r)
{
	char *end, *cl;
	size_t head_len, body_len = 0;

	while (!(c->len && (end = strstr(c->buf, "\r\n\r\n")))) {
		if (!client_fill(c)) {
			ASSERT_EQ(c->len, 0);
			return false;
		}
	}
	head_len = (size_t)(end - c->buf) + 4;
	ASSERT_TRUE(head_len < sizeof(r->head));
	memcpy(r->head, c->buf, head_len);
	r->head[head_len] = '\0';
	ASSERT_EQ(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
	cl = strcasestr(r->head, "\r\nContent-Length: ");
	if (cl)
		body_len = strtoul(cl + 18, NULL, 10);
	ASSERT_TRUE(body_len < sizeof(r->body));
	while (c->len < head_len + body_len)
		ASSERT_TRUE(client_fill(c));
	memcpy(r->body, c->buf + head_len, body_len);
	r->body[body_len] = '\0';
	memmove(c->buf, c->buf + head_len + body_len, c->len - head_len - body_len);
	c->len -= head_len + body_len;
	c->buf[c->len] = '\0';
	return true;
}

static int roundtrip(struct client *c, const char *req, struct resp *r)
{
	client_send(c, req);
	ASSERT_TRUE(client_read(c, r));
	return r->status;
}

static bool is_eof(struct client *c)
{
	return !client_fill(c);
}

/* Every error: JSON content type and a fault_message body. */
static void assert_fault(const struct resp *r, int status)
{
	ASSERT_EQ(r->status, status);
	ASSERT_TRUE(strstr(r->head, "\r\nContent-Type: application/json\r\n"));
	ASSERT_TRUE(strncmp(r->body, "{\"fault_message\": \"", 19) == 0);
}

/* ---- server fixture ---- */

struct fixture {
	char dir[64], path[96];
	struct api_router router;
	struct api_server *srv;
};

static void fx_start(struct fixture *f, unsigned int read_ms, unsigned int idle_ms,
		     unsigned int max_conns)
{
	struct api_server_config cfg = {0};

	strcpy(f->dir, "/tmp/mvapi.XXXXXX");
	ASSERT_TRUE(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/api.sock", f->dir);
	routes(&f->router);
	cfg.path = f->path;
	cfg.router = &f->router;
	cfg.read_timeout_ms = read_ms;
	cfg.idle_timeout_ms = idle_ms;
	cfg.max_conns = max_conns;
	ASSERT_OK(api_server_start(&cfg, &f->srv));
}

static void fx_stop(struct fixture *f)
{
	struct stat st;

	api_server_stop(f->srv);
	ASSERT_TRUE(stat(f->path, &st) < 0 && errno == ENOENT);
	ASSERT_OK(rmdir(f->dir));
}

static const char *thread_name_seen;

static void note_thread(void *arg)
{
	static char name[16];

	pthread_getname_np(pthread_self(), name, sizeof(name));
	thread_name_seen = name;
	*(int *)arg = 1;
}

TEST(api_server_start_errors)
{
	static struct api_router r;
	struct api_server_config cfg = {.router = &r};
	char dir[] = "/tmp/mvapi.XXXXXX", path[128], longp[200];
	struct api_server *s;
	int fd;

	api_router_init(&r);
	ASSERT_TRUE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/exists", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ASSERT_OK(fd);
	close(fd);
	cfg.path = path;
	ASSERT_ERR(api_server_start(&cfg, &s), -EADDRINUSE);
	ASSERT_OK(unlink(path)); /* the refusal left the file alone */
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	cfg.path = longp;
	ASSERT_ERR(api_server_start(&cfg, &s), -ENAMETOOLONG);
	cfg.path = NULL;
	ASSERT_ERR(api_server_start(&cfg, &s), -EINVAL);
	ASSERT_OK(rmdir(dir));
}

TEST(api_server_basic)
{
	static struct fixture f;
	static struct client c;
	struct resp r;
	struct stat st;
	int ran = 0;
	struct api_server_config cfg = {0};

	strcpy(f.dir, "/tmp/mvapi.XXXXXX");
	ASSERT_TRUE(mkdtemp(f.dir));
	snprintf(f.path, sizeof(f.path), "%s/api.sock", f.dir);
	routes(&f.router);
	cfg.path = f.path;
	cfg.router = &f.router;
	cfg.thread_init = note_thread;
	cfg.thread_arg = &ran;
	ASSERT_OK(api_server_start(&cfg, &f.srv));
	ASSERT_OK(stat(f.path, &st));
	ASSERT_TRUE(S_ISSOCK(st.st_mode));
	ASSERT_EQ(st.st_mode & 0777, 0600);
	{
		/* a second server on the same path is refused */
		struct api_server *s2;

		ASSERT_ERR(api_server_start(&cfg, &s2), -EADDRINUSE);
	}

	client_open(&c, f.path);
	ASSERT_EQ(roundtrip(&c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", &r), 200);
	ASSERT_STR_EQ(r.body, "{\"state\": \"Not started\"}");
	ASSERT_TRUE(strstr(r.head, "Connection: keep-alive"));
	ASSERT_TRUE(strstr(r.head, "Content-Type: application/json"));
	ASSERT_EQ(ran, 1);
	ASSERT_STR_EQ(thread_name_seen, "api");

	/* the same connection keeps serving: keep-alive is the default */
	ASSERT_EQ(roundtrip(&c, "PUT /drives/rootfs HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", &r),
		  204);
	ASSERT_FALSE(strstr(r.head, "Content-Length"));
	ASSERT_EQ(roundtrip(&c, "GET /drives/vdb HTTP/1.1\r\n\r\n", &r), 200);
	ASSERT_STR_EQ(r.body, "{\"drive_id\": \"vdb\"}");
	ASSERT_EQ(roundtrip(&c, "PUT /drives/rootfs HTTP/1.1\r\n\r\n", &r), 400);
	assert_fault(&r, 400);
	ASSERT_TRUE(strstr(r.body, "missing body"));
	ASSERT_EQ(roundtrip(&c, "GET /machine-config HTTP/1.1\r\n\r\n", &r), 404);
	assert_fault(&r, 404);
	ASSERT_EQ(roundtrip(&c, "POST /drives/a HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r), 405);
	assert_fault(&r, 405);
	ASSERT_TRUE(strstr(r.head, "\r\nAllow: PUT, GET, PATCH\r\n"));

	/* Expect: 100-continue gets its interim answer before the body is sent */
	client_send(&c, "PUT /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
	while (!strstr(c.buf, "\r\n\r\n"))
		ASSERT_TRUE(client_fill(&c));
	ASSERT_TRUE(strncmp(c.buf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
	memmove(c.buf, c.buf + 25, c.len - 25 + 1);
	c.len -= 25;
	ASSERT_EQ(roundtrip(&c, "hello", &r), 200);
	ASSERT_STR_EQ(r.body, "{\"len\": 5, \"nul\": 1}");

	/* pipelined: three requests in one write, three answers in order */
	client_send(&c, "GET /drives/a HTTP/1.1\r\n\r\nGET /drives/b HTTP/1.1\r\n\r\n"
			"GET /drives/c HTTP/1.1\r\n\r\n");
	for (const char *id = "abc"; *id; id++) {
		char want[64];

		ASSERT_TRUE(client_read(&c, &r));
		snprintf(want, sizeof(want), "{\"drive_id\": \"%c\"}", *id);
		ASSERT_STR_EQ(r.body, want);
	}

	/* Connection: close is answered, then the server closes */
	ASSERT_EQ(roundtrip(&c, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &r), 200);
	ASSERT_TRUE(strstr(r.head, "Connection: close"));
	ASSERT_TRUE(is_eof(&c));
	client_close(&c);

	/* malformed: 400 with a fault message, then closed */
	client_open(&c, f.path);
	ASSERT_EQ(roundtrip(&c, "GARBAGE\r\n\r\n", &r), 400);
	assert_fault(&r, 400);
	ASSERT_TRUE(strstr(r.head, "Connection: close"));
	ASSERT_TRUE(is_eof(&c));
	client_close(&c);

	/* chunked bodies: 411 */
	client_open(&c, f.path);
	ASSERT_EQ(roundtrip(&c, "PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r),
		  411);
	assert_fault(&r, 411);
	client_close(&c);

	/* a client that sends and half-closes still gets its answer */
	client_open(&c, f.path);
	client_send(&c, "GET /drives/z HTTP/1.1\r\n\r\n");
	shutdown(c.fd, SHUT_WR);
	ASSERT_TRUE(client_read(&c, &r));
	ASSERT_STR_EQ(r.body, "{\"drive_id\": \"z\"}");
	ASSERT_TRUE(is_eof(&c));
	client_close(&c);
	fx_stop(&f);
}

TEST(api_server_413_before_body)
{
	static struct fixture f;
	static struct client c;
	struct resp r;

	fx_start(&f, 0, 0, 0);
	client_open(&c, f.path);
	/* only the head is sent: the refusal must not wait for 100 KiB that never come */
	ASSERT_EQ(roundtrip(&c, "PUT /echo HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", &r), 413);
	assert_fault(&r, 413);
	ASSERT_TRUE(is_eof(&c));
	client_close(&c);

	/* the largest allowed body goes through */
	{
		char head[128], *body = malloc(HTTP_MAX_BODY + 1);

		memset(body, 'b', HTTP_MAX_BODY);
		body[HTTP_MAX_BODY] = '\0';
		snprintf(head, sizeof(head), "PUT /echo HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
			 HTTP_MAX_BODY);
		client_open(&c, f.path);
		client_send(&c, head);
		client_send(&c, body);
		ASSERT_TRUE(client_read(&c, &r));
		ASSERT_EQ(r.status, 200);
		ASSERT_STR_EQ(r.body, "{\"len\": 65536, \"nul\": 1}");
		client_close(&c);
		free(body);
	}

	/* an oversized head: 431 */
	{
		char *big = malloc(HTTP_MAX_HEAD + 64);

		strcpy(big, "GET / HTTP/1.1\r\nX-Pad: ");
		memset(big + strlen(big), 'p', HTTP_MAX_HEAD);
		strcpy(big + HTTP_MAX_HEAD, "\r\n\r\n");
		client_open(&c, f.path);
		ASSERT_EQ(roundtrip(&c, big, &r), 431);
		assert_fault(&r, 431);
		client_close(&c);
		free(big);
	}
	fx_stop(&f);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

TEST(api_server_timeouts)
{
	static struct fixture f;
	static struct client slow, idle, busy;
	struct resp r;
	uint64_t t0;

	fx_start(&f, 300, 800, 0);
	client_open(&slow, f.path);
	client_open(&idle, f.path);
	client_open(&busy, f.path);
	ASSERT_EQ(roundtrip(&idle, "GET / HTTP/1.1\r\n\r\n", &r), 200);

	/* silence mid-request: 408, then closed */
	t0 = mono_ms();
	client_send(&slow, "GET /drives/a HTT");
	ASSERT_TRUE(client_read(&slow, &r));
	assert_fault(&r, 408);
	ASSERT_TRUE(mono_ms() - t0 >= 250);
	ASSERT_TRUE(is_eof(&slow));

	/* a client that keeps trickling is still bounded (6 read timeouts for one request) */
	t0 = mono_ms();
	client_send(&busy, "GET /");
	for (int i = 0; i < 40; i++) {
		char ch = 'a';

		usleep(100 * 1000);
		if (send(busy.fd, &ch, 1, MSG_NOSIGNAL) < 0)
			break;
	}
	ASSERT_TRUE(client_read(&busy, &r));
	assert_fault(&r, 408);
	ASSERT_TRUE(mono_ms() - t0 < 3000);

	/* idle keep-alive connection: closed without a word after the idle timeout */
	ASSERT_TRUE(is_eof(&idle));
	client_close(&slow);
	client_close(&idle);
	client_close(&busy);
	fx_stop(&f);
}

TEST(api_server_conn_cap)
{
	static struct fixture f;
	static struct client a, b, c;
	struct resp r;

	fx_start(&f, 0, 0, 2);
	client_open(&a, f.path);
	client_open(&b, f.path);
	ASSERT_EQ(roundtrip(&a, "GET / HTTP/1.1\r\n\r\n", &r), 200);
	ASSERT_EQ(roundtrip(&b, "GET / HTTP/1.1\r\n\r\n", &r), 200);
	client_open(&c, f.path);
	ASSERT_TRUE(client_read(&c, &r));
	assert_fault(&r, 503);
	ASSERT_TRUE(is_eof(&c));
	client_close(&c);
	/* a freed slot is usable again */
	client_close(&a);
	for (int tries = 0;; tries++) {
		client_open(&c, f.path);
		client_send(&c, "GET / HTTP/1.1\r\n\r\n");
		ASSERT_TRUE(client_read(&c, &r));
		if (r.status == 200)
			break;
		ASSERT_EQ(r.status, 503); /* the server has not seen a's close yet */
		ASSERT_TRUE(tries < 100);
		client_close(&c);
		usleep(10 * 1000);
	}
	client_close(&c);
	client_close(&b);
	fx_stop(&f);
}

/* Stopping the server with a client mid-request closes it and removes the socket. */
TEST(api_server_stop_with_clients)
{
	static struct fixture f;
	static struct client c;
	struct resp r;

	fx_start(&f, 0, 0, 0);
	client_open(&c, f.path);
	ASSERT_EQ(roundtrip(&c, "GET / HTTP/1.1\r\n\r\n", &r), 200);
	client_send(&c, "PUT /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
	fx_stop(&f);
	ASSERT_TRUE(is_eof(&c));
	client_close(&c);
	ASSERT_ERR(connect_to(f.path), -ENOENT);
}

/* ---- concurrency and soak ---- */

struct worker {
	const char *path;
	unsigned int id, rounds;
	int failures;
};

/* Many keep-alive requests on one connection, each answer checked. */
static void *concurrent_client(void *arg)
{
	struct worker *w = arg;
	struct client *c = malloc(sizeof(*c));

	client_open(c, w->path);
	for (unsigned int i = 0; i < w->rounds; i++) {
		char req[128], want[64];
		struct resp r;

		snprintf(req, sizeof(req), "GET /drives/w%u-%u HTTP/1.1\r\n\r\n", w->id, i);
		snprintf(want, sizeof(want), "{\"drive_id\": \"w%u-%u\"}", w->id, i);
		if (roundtrip(c, req, &r) != 200 || strcmp(r.body, want) != 0)
			w->failures++;
	}
	client_close(c);
	free(c);
	return NULL;
}

TEST(api_server_concurrent_clients)
{
	static struct fixture f;
	struct worker w[8];
	pthread_t t[8];

	fx_start(&f, 0, 0, 0);
	for (unsigned int i = 0; i < 8; i++) {
		w[i] = (struct worker){.path = f.path, .id = i, .rounds = 200};
		ASSERT_EQ(pthread_create(&t[i], NULL, concurrent_client, &w[i]), 0);
	}
	for (unsigned int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ASSERT_EQ(w[i].failures, 0);
	}
	fx_stop(&f);
}

static unsigned int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	ASSERT_TRUE(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* One soak request: what to send, the status expected, whether the server then closes. */
struct soak_case {
	const char *req;
	int status;
	bool closes;
};

static const struct soak_case soak_cases[] = {
	{"GET / HTTP/1.1\r\n\r\n", 200, false},
	{"PUT /drives/d HTTP/1.1\r\nContent-Length: 9\r\n\r\n{\"a\": 1}\n", 204, false},
	{"PATCH /drives/d HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400, false},
	{"GET /nope HTTP/1.1\r\n\r\n", 404, false},
	{"DELETE /drives/d HTTP/1.1\r\n\r\n", 405, false},
	{"PUT /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz", 200, false},
	{"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 200, true},
	{"BREW /pot HTTP/1.1\r\n\r\n", 400, true},
	{"GET / HTTP/1.1\r\nbroken header\r\n\r\n", 400, true},
	{"PUT /echo HTTP/1.1\r\nContent-Length: 70000\r\n\r\n", 413, true},
	{"PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411, true},
	{"GET / HTTP/9.9\r\n\r\n", 505, true},
	{"\x16\x03\x01\x02\x01\x01\xfc\x03\x03\r\n\r\n", 400, true}, /* a TLS hello */
};

static void *soak_client(void *arg)
{
	struct worker *w = arg;
	struct client *c = malloc(sizeof(*c));
	unsigned int seed = w->id * 7919 + 1;
	const size_t n_cases = sizeof(soak_cases) / sizeof(soak_cases[0]);

	client_open(c, w->path);
	for (unsigned int i = 0; i < w->rounds; i++) {
		const struct soak_case *sc = &soak_cases[rand_r(&seed) % n_cases];
		struct resp r;

		if (roundtrip(c, sc->req, &r) != sc->status)
			w->failures++;
		if (sc->closes) {
			if (!is_eof(c))
				w->failures++;
			client_close(c);
			client_open(c, w->path);
		}
	}
	client_close(c);
	free(c);
	return NULL;
}

TEST(api_server_soak)
{
	static struct fixture f;
	static struct client probe;
	unsigned int before, after = 0;
	struct worker w[4];
	pthread_t t[4];
	struct resp r;

	fx_start(&f, 0, 0, 0);
	before = count_fds();
	for (unsigned int i = 0; i < 4; i++) {
		w[i] = (struct worker){.path = f.path, .id = i, .rounds = 1000};
		ASSERT_EQ(pthread_create(&t[i], NULL, soak_client, &w[i]), 0);
	}
	for (unsigned int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ASSERT_EQ(w[i].failures, 0);
	}
	/* still serving */
	client_open(&probe, f.path);
	ASSERT_EQ(roundtrip(&probe, "GET / HTTP/1.1\r\n\r\n", &r), 200);
	client_close(&probe);
	/* every connection the server saw closed is closed on its side too */
	for (int i = 0; i < 200 && (after = count_fds()) != before; i++)
		usleep(10 * 1000);
	ASSERT_EQ(after, before);
	fx_stop(&f);
}
