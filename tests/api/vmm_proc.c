/* SPDX-License-Identifier: MIT */
/* The microvm process under test, and the suite's check reporting. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/api/suite.h"

static unsigned int n_passed, n_failed;

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool vcheck(bool ok, const char *why, const char *fmt, va_list ap)
{
	char name[512];

	vsnprintf(name, sizeof(name), fmt, ap);
	if (ok) {
		n_passed++;
		printf("ok   %s\n", name);
	} else {
		n_failed++;
		printf("FAIL %s%s%s\n", name, why ? ": " : "", why ? why : "");
	}
	fflush(stdout);
	return ok;
}

bool check(bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vcheck(ok, NULL, fmt, ap);
	va_end(ap);
	return ok;
}

bool check_why(bool ok, const char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vcheck(ok, why, fmt, ap);
	va_end(ap);
	return ok;
}

unsigned int check_failures(void)
{
	return n_failed;
}

int check_summary(void)
{
	printf("%u passed, %u failed\n", n_passed, n_failed);
	fflush(stdout);
	return n_failed ? 1 : 0;
}

bool contains_any(const char *s, const char *alts)
{
	char word[128];

	while (alts && *alts) {
		size_t n = strcspn(alts, "|");

		if (n && n < sizeof(word)) {
			memcpy(word, alts, n);
			word[n] = '\0';
			if (strcasestr(s, word))
				return true;
		}
		alts += n + (alts[n] == '|');
	}
	return false;
}

bool expect(const char *sock, const char *method, const char *path, const char *body, int status,
	    const char *want, const char *name)
{
	struct api_resp r;
	char why[512], msg[256];
	int err = api_call(sock, method, path, body, &r);
	bool ok = true;

	why[0] = '\0';
	if (err < 0) {
		snprintf(why, sizeof(why), "no answer (%s)", strerror(-err));
		ok = false;
	} else if (r.status != status) {
		snprintf(why, sizeof(why), "status %d, want %d; body %.200s", r.status, status,
			 r.body);
		ok = false;
	} else if (status == 204 && r.body_len) {
		snprintf(why, sizeof(why), "204 with a body: %.200s", r.body);
		ok = false;
	} else if (status >= 400) {
		if (!api_fault_message(&r, msg, sizeof(msg))) {
			snprintf(why, sizeof(why), "no fault_message in %.200s", r.body);
			ok = false;
		} else if (want && !contains_any(msg, want)) {
			snprintf(why, sizeof(why), "fault_message \"%s\" names none of %s", msg,
				 want);
			ok = false;
		}
	}
	api_resp_free(&r);
	return check_why(ok, why, "%s %s %s", method, path, name);
}

const char *vmm_path(const struct vmm *v, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", v->dir, name);
	return out;
}

int vmm_make_file(const struct vmm *v, const char *name, off_t size)
{
	char p[256];
	int fd = open(vmm_path(v, name, p, sizeof(p)), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC,
		      0600);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (size && ftruncate(fd, size) < 0)
		r = -errno;
	close(fd);
	return r;
}

int vmm_start(struct vmm *v, const char *bin, const char *const *extra)
{
	const char *argv[32];
	int n = 0, fd;

	memset(v, 0, sizeof(*v));
	v->pid = -1;
	snprintf(v->dir, sizeof(v->dir), "/tmp/microvm-api.XXXXXX");
	if (!mkdtemp(v->dir))
		return -errno;
	snprintf(v->sock, sizeof(v->sock), "%s/api.sock", v->dir);
	snprintf(v->log, sizeof(v->log), "%s/microvm.log", v->dir);
	argv[n++] = bin;
	argv[n++] = "--api-sock";
	argv[n++] = v->sock;
	for (; extra && *extra && n < 30; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;

	fflush(stdout);
	v->pid = fork();
	if (v->pid < 0)
		return -errno;
	if (v->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(v->log, O_CREAT | O_TRUNC | O_WRONLY, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		execv(bin, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	/* Up to 5 s for the socket to answer. */
	for (int i = 0; i < 500; i++) {
		struct api_resp r;

		if (!vmm_alive(v))
			return -ECHILD;
		if (access(v->sock, F_OK) == 0 && api_call(v->sock, "GET", "/", NULL, &r) == 0) {
			api_resp_free(&r);
			return 0;
		}
		sleep_ms(10);
	}
	return -ETIMEDOUT;
}

bool vmm_alive(struct vmm *v)
{
	if (v->pid <= 0 || v->exited)
		return false;
	if (waitpid(v->pid, &v->status, WNOHANG) == v->pid)
		v->exited = true;
	return !v->exited;
}

bool vmm_wait_exit(struct vmm *v, int timeout_ms)
{
	for (int t = 0; t < timeout_ms; t += 10) {
		if (!vmm_alive(v))
			return true;
		sleep_ms(10);
	}
	return !vmm_alive(v);
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

void vmm_stop(struct vmm *v)
{
	if (vmm_alive(v)) {
		kill(v->pid, SIGTERM);
		if (!vmm_wait_exit(v, 2000)) {
			kill(v->pid, SIGKILL);
			waitpid(v->pid, &v->status, 0);
			v->exited = true;
		}
	}
	if (v->dir[0] && !getenv("API_SUITE_KEEP"))
		rm_dir(v->dir);
}

long vmm_rss_kb(const struct vmm *v)
{
	char p[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/status", (int)v->pid);
	f = fopen(p, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

int vmm_fd_count(const struct vmm *v)
{
	char p[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(p, sizeof(p), "/proc/%d/fd", (int)v->pid);
	d = opendir(p);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

void vmm_log_tail(const struct vmm *v, int lines)
{
	char buf[8192];
	FILE *f = fopen(v->log, "r");
	size_t n;
	int seen = 0;

	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	if (ftell(f) > (long)sizeof(buf) - 1)
		fseek(f, -(long)sizeof(buf) + 1, SEEK_END);
	else
		fseek(f, 0, SEEK_SET);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (size_t i = n; i > 0; i--)
		if (buf[i - 1] == '\n' && ++seen > lines) {
			printf("  microvm log: ...\n%s", buf + i);
			return;
		}
	printf("  microvm log:\n%s\n", buf);
}
