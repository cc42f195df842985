/* SPDX-License-Identifier: MIT */
#ifndef API_SERVER_H
#define API_SERVER_H

/*
 * The API's HTTP/1.1 server: a listening UNIX stream socket and one thread ("api") running an
 * epoll loop over it and its connections (non-blocking, a buffer pair each, keep-alive,
 * pipelining). Requests go to an api_router; handlers run on this thread.
 */

struct api_router;
struct api_server;

struct api_server_config {
	const char *path;		 /* socket path; must not exist */
	const struct api_router *router; /* read-only while the server runs */
	unsigned int read_timeout_ms;	 /* silence inside a request -> 408; 0: 5000 */
	unsigned int idle_timeout_ms;	 /* idle keep-alive connection closed; 0: 60000 */
	unsigned int max_conns;		 /* more are answered 503 and closed; 0: 64 */
	/* Runs first on the server thread, before any client byte is read (its seccomp filter). */
	void (*thread_init)(void *arg);
	void *thread_arg;
	/* Called for every response the server sends (metrics). Optional; server thread. */
	void (*on_response)(int status);
};

/*
 * Creates the socket at cfg->path, mode 0600 (only its owner and root connect), and starts
 * the thread. Returns 0, -EADDRINUSE when the path exists, -ENAMETOOLONG, or another -errno.
 * Calling thread: any (the control thread).
 */
int api_server_start(const struct api_server_config *cfg, struct api_server **out);

/* Stops the thread, closes every connection and removes the socket file. */
void api_server_stop(struct api_server *s);

#endif /* API_SERVER_H */
