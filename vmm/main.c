/* SPDX-License-Identifier: MIT */
/*
 * microvm: read the configuration (command line, --config file, or later the API), sandbox
 * the process, run the control thread until the VM ends, exit with its status.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/config_json.h"
#include "api/config_validate.h"
#include "api/router.h"
#include "api/routes.h"
#include "api/server.h"
#include "devices/virtio/virtio.h"
#include "vmm/cli.h"
#include "vmm/config.h"
#include "vmm/control.h"
#include "vmm/jail.h"
#include "vmm/log.h"
#include "vmm/main_opts.h"
#include "vmm/metrics.h"
#include "vmm/sandbox.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* The largest config file read (the API's body limit is 64 KiB; a file may list more). */
#define MAIN_CONFIG_MAX (1 << 20)

static void main_set_log_level(void)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	const char *env = getenv("MICROVM_LOG");

	for (unsigned int i = 0; env && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(env, names[i]) == 0)
			log_max_level = (enum log_level)i;
}

/* Signals are handled through a signalfd on the control thread; block them before any thread
 * exists so that every thread inherits the mask. */
static void main_block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* --- sandbox of every thread class --- */

/* Capabilities are per thread and copied at thread creation: every thread sheds its own
 * before it installs its filter (the filter need not allow capset). */
static void main_sandbox_thread(const char *cls)
{
	char err[128];

	if (sandbox_drop_caps(err, sizeof(err)) < 0) {
		log_err("%s thread: %s", cls, err);
		exit(1);
	}
	sandbox_enter(cls);
}

static void main_vcpu_init(struct vcpu *vcpu)
{
	(void)vcpu;
	main_sandbox_thread("vcpu");
}

static void main_worker_init(struct virtio_dev *vdev)
{
	main_sandbox_thread(vdev->ops->name);
}

static void main_api_init(void *arg)
{
	(void)arg;
	main_sandbox_thread("api");
}

/* The VM is built and runs: the control thread needs no privilege any more. */
static void main_control_started(struct control *ctl)
{
	char err[128];

	(void)ctl;
	if (sandbox_drop_caps(err, sizeof(err)) < 0)
		log_warn("control thread: %s", err);
}

/* --- configuration --- */

static int main_read_file(const char *path, char **out, size_t *len)
{
	struct stat st;
	ssize_t n;
	char *buf;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (S_ISDIR(st.st_mode))
		r = -EISDIR;
	else if (!S_ISREG(st.st_mode) || st.st_size > MAIN_CONFIG_MAX)
		r = -EFBIG;
	if (r < 0) {
		close(fd);
		return r;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return n < 0 ? -errno : -EIO;
	}
	buf[n] = '\0';
	*out = buf;
	*len = (size_t)n;
	return 0;
}

static int main_load_config(const char *path, struct vm_config *cfg)
{
	char err[256], *text = NULL;
	size_t len = 0;
	int r;

	r = main_read_file(path, &text, &len);
	if (r < 0) {
		log_err("--config %s: %s", path, strerror(-r));
		return r;
	}
	r = config_json_load_buf(cfg, text, len, err, sizeof(err));
	free(text);
	if (r < 0)
		log_err("--config %s: %s", path, err);
	return r;
}

/*
 * The VM's configuration from the command line or the config file. *boot: it is complete
 * (a kernel is named), so the VM starts at once; without, only the API can configure it.
 * Returns 0, 1 (help/version printed: exit 0) or -1 (error printed).
 */
static int main_configure(const struct main_opts *o, int argc, char **argv, struct vm_config *cfg,
			  bool *boot)
{
	char err[256];
	int r;

	config_json_defaults(cfg);
	if (o->config_file && argc > 1) {
		log_err("--config takes the whole VM from the file: no VM options with it ('%s')",
			argv[1]);
		return -1;
	}
	if (o->config_file) {
		if (main_load_config(o->config_file, cfg) < 0)
			return -1;
	} else if (argc > 1 || !o->api_sock) {
		r = cli_parse(argc, argv, cfg, err, sizeof(err));
		if (r < 0) {
			log_err("%s", err);
			return -1;
		}
		if (r == CLI_HELP) {
			fputs(cli_usage, stdout);
			fputs(main_opts_usage, stdout);
			return 1;
		}
		if (r == CLI_VERSION) {
			printf("microvm %s\n", MICROVM_VERSION);
			return 1;
		}
	}
	*boot = cfg->kernel != NULL;
	if (*boot && config_validate(cfg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -1;
	}
	if (*boot && control_check_files(cfg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -1;
	}
	return 0;
}

/* Outputs the configuration names (logger, metrics) open before anything runs. */
static int main_open_outputs(struct control *ctl)
{
	char err[256];

	if ((ctl->cfg->log_path || ctl->cfg->log_level != -1 || ctl->cfg->log_show_level ||
	     ctl->cfg->log_show_origin) &&
	    control_logger_apply(ctl, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -1;
	}
	if (ctl->cfg->metrics_path && control_metrics_apply(ctl, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -1;
	}
	return 0;
}

static int main_start_api(const struct main_opts *o, struct control *ctl, struct api_router *router,
			  struct api_server **srv)
{
	struct api_server_config scfg = {
		.path = o->api_sock,
		.router = router,
		.thread_init = main_api_init,
		.on_response = metrics_api_request,
	};
	int r;

	api_router_init(router);
	r = api_routes_register(router, ctl);
	if (r == 0)
		r = api_server_start(&scfg, srv);
	if (r < 0)
		log_err("--api-sock %s: %s", o->api_sock,
			r == -EADDRINUSE ? "the path exists already (remove it first)"
					 : strerror(-r));
	return r;
}

int main(int argc, char **argv)
{
	static struct vm_config cfg;
	static struct api_router router;
	struct api_server *srv = NULL;
	struct main_opts opts;
	struct control ctl;
	char err[256];
	bool boot = false;
	int r, status;

	main_set_log_level();
	r = main_opts_parse(&argc, argv, &opts, err, sizeof(err));
	if (r < 0) {
		log_err("%s", err);
		return 1;
	}
	if (opts.jail.dir && jail_enter(&opts.jail, err, sizeof(err)) < 0) {
		log_err("--jail %s: %s", opts.jail.dir, err);
		return 1;
	}
	r = main_configure(&opts, argc, argv, &cfg, &boot);
	if (r != 0)
		return r < 0 ? 1 : 0;
	if (!boot && !opts.api_sock) {
		log_err("no kernel: give --kernel, --config or --api-sock (see --help)");
		return 1;
	}

	main_block_signals();
	if (vcpu_init_kick_signal() < 0) {
		log_err("cannot install the vCPU kick signal: %s", strerror(errno));
		return 1;
	}
	sandbox_configure(opts.seccomp, opts.seccomp_selftest);
	vcpu_thread_init = main_vcpu_init;
	virtio_worker_thread_init = main_worker_init;
	if (control_init(&ctl, &cfg, opts.id) < 0) {
		log_err("cannot set up the control thread: %s", strerror(errno));
		return 1;
	}
	ctl.on_started = main_control_started;
	if (main_open_outputs(&ctl) < 0) {
		control_destroy(&ctl);
		return 1;
	}
	/* From here on the control thread handles client input (API commands) and builds the
	 * VM: its filter allows that and everything the threads it creates need. */
	sandbox_enter("control");
	if (opts.api_sock && main_start_api(&opts, &ctl, &router, &srv) < 0) {
		control_destroy(&ctl);
		return 1;
	}
	status = control_run(&ctl, boot);
	if (srv)
		api_server_stop(srv);
	control_destroy(&ctl);
	config_json_free(&cfg);
	return status;
}
