/* SPDX-License-Identifier: MIT */
/*
 * The control thread (vmm/control*.c) without KVM: its commands run with control_execute(),
 * then the real loop (control_run() on a thread, control_call() from others, a stop by
 * SIGTERM), then the whole API path: HTTP server -> routes -> control thread.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>

#include "api/router.h"
#include "api/routes.h"
#include "api/server.h"
#include "tests/unit/ctl_util.h"
#include "vmm/log.h"
#include "vmm/metrics.h"

#define NOT_RUNNING "The requested operation is not supported before starting the microVM."

/* printf into one of a few static buffers: request bodies with temp paths in them. */
static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static const char *fmt(const char *f, ...)
{
	static char bufs[4][1024];
	static unsigned int next;
	char *b = bufs[next++ % 4];
	va_list ap;

	va_start(ap, f);
	vsnprintf(b, sizeof(bufs[0]), f, ap);
	va_end(ap);
	return b;
}

static void put_kernel(struct ctl_fx *f, const char *path)
{
	CTL_OK(&f->ctl, CTL_PUT, "boot-source", NULL,
	       fmt("{\"kernel_image_path\": \"%s\", \"boot_args\": \"console=ttyS0\"}", path));
}

static void assert_state(struct control *ctl, const char *want)
{
	struct json_object *o = ctl_get(ctl, CTL_GET_INFO);

	ASSERT_JSTR(o, want, "state");
	json_object_put(o);
}

/* ---- commands on the calling thread ---- */

TEST(control_get_info)
{
	struct ctl_fx f;
	struct json_object *o;

	ctl_fx_init(&f);
	o = ctl_get(&f.ctl, CTL_GET_INFO);
	ASSERT_JSTR(o, "vm-test-1", "id");
	ASSERT_JSTR(o, "Not started", "state");
	ASSERT_JSTR(o, MICROVM_VERSION, "vmm_version");
	ASSERT_JSTR(o, "microvm", "app_name");
	ASSERT_EQ(json_object_object_length(o), 4);
	json_object_put(o);
	ctl_fx_fini(&f);

	/* Without an id the instance is called "microvm". */
	config_json_defaults(&f.cfg);
	ASSERT_OK(control_init(&f.ctl, &f.cfg, NULL));
	o = ctl_get(&f.ctl, CTL_GET_INFO);
	ASSERT_JSTR(o, "microvm", "id");
	json_object_put(o);
	control_destroy(&f.ctl);
	ASSERT_STR_EQ(control_state_name(CONTROL_RUNNING), "Running");
	ASSERT_STR_EQ(control_state_name(CONTROL_PAUSED), "Paused");
}

TEST(control_put_each_resource_shows_in_config)
{
	struct ctl_fx f;
	struct json_object *o, *m;
	struct stat st;

	ctl_fx_init(&f);
	put_kernel(&f, ctl_fx_path(&f, "vmlinux"));
	CTL_OK(&f.ctl, CTL_PUT, "machine-config", NULL,
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 512}");
	CTL_OK(&f.ctl, CTL_PUT, "drives", "rootfs",
	       fmt("{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_root_device\": "
		   "true, \"is_read_only\": true}",
		   ctl_fx_path(&f, "root.img")));
	CTL_OK(&f.ctl, CTL_PUT, "network-interfaces", "eth0",
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap7\", \"guest_mac\": "
	       "\"02:00:00:00:00:07\"}");
	CTL_OK(&f.ctl, CTL_PUT, "vsock", NULL,
	       fmt("{\"guest_cid\": 3, \"uds_path\": \"%s\"}", ctl_fx_path(&f, "v.sock")));
	CTL_OK(&f.ctl, CTL_PUT, "pmem", "pm0",
	       fmt("{\"id\": \"pm0\", \"path_on_host\": \"%s\"}", ctl_fx_path(&f, "pmem.img")));
	CTL_OK(&f.ctl, CTL_PUT, "entropy", NULL, "{}");
	CTL_OK(&f.ctl, CTL_PUT, "scsi", NULL,
	       fmt("{\"luns\": [{\"path_on_host\": \"%s\"}]}", ctl_fx_path(&f, "lun0.img")));
	CTL_OK(&f.ctl, CTL_PUT, "console", NULL, "{\"type\": \"virtio\"}");
	CTL_OK(&f.ctl, CTL_PUT, "logger", NULL,
	       fmt("{\"log_path\": \"%s\", \"level\": \"Info\"}", ctl_fx_path(&f, "log")));
	CTL_OK(&f.ctl, CTL_PUT, "metrics", NULL,
	       fmt("{\"metrics_path\": \"%s\"}", ctl_fx_path(&f, "metrics")));

	o = ctl_get(&f.ctl, CTL_GET_CONFIG);
	ASSERT_JSTR(o, ctl_fx_path(&f, "vmlinux"), "boot-source", "kernel_image_path");
	ASSERT_JSTR(o, "console=ttyS0", "boot-source", "boot_args");
	ASSERT_JSTR(o, "2", "machine-config", "vcpu_count");
	ASSERT_JSTR(o, "512", "machine-config", "mem_size_mib");
	ASSERT_JSTR(o, "rootfs", "drives", "0", "drive_id");
	ASSERT_JSTR(o, ctl_fx_path(&f, "root.img"), "drives", "0", "path_on_host");
	ASSERT_JSTR(o, "true", "drives", "0", "is_root_device");
	ASSERT_JSTR(o, "true", "drives", "0", "is_read_only");
	ASSERT_JSTR(o, "eth0", "network-interfaces", "0", "iface_id");
	ASSERT_JSTR(o, "tap7", "network-interfaces", "0", "host_dev_name");
	ASSERT_JSTR(o, "02:00:00:00:00:07", "network-interfaces", "0", "guest_mac");
	ASSERT_JSTR(o, "3", "vsock", "guest_cid");
	ASSERT_JSTR(o, ctl_fx_path(&f, "v.sock"), "vsock", "uds_path");
	ASSERT_JSTR(o, "pm0", "pmem", "0", "id");
	ASSERT_TRUE(json_object_object_get_ex(o, "entropy", NULL));
	ASSERT_JSTR(o, ctl_fx_path(&f, "lun0.img"), "scsi", "luns", "0", "path_on_host");
	ASSERT_JSTR(o, "virtio", "console", "type");
	ASSERT_JSTR(o, ctl_fx_path(&f, "log"), "logger", "log_path");
	ASSERT_JSTR(o, "Info", "logger", "level");
	ASSERT_JSTR(o, ctl_fx_path(&f, "metrics"), "metrics", "metrics_path");

	/* GET /machine-config is that part of the whole. */
	ASSERT_TRUE(json_object_object_get_ex(o, "machine-config", &m));
	{
		struct json_object *mc = ctl_get(&f.ctl, CTL_GET_MACHINE);

		ASSERT_TRUE(json_object_equal(mc, m));
		json_object_put(mc);
	}
	json_object_put(o);
	/* The outputs were opened at once, as Firecracker does. */
	ASSERT_OK(stat(ctl_fx_path(&f, "log"), &st));
	ASSERT_OK(stat(ctl_fx_path(&f, "metrics"), &st));
	assert_state(&f.ctl, "Not started");
	ctl_fx_fini(&f);
}

/* A PUT the schema takes but config_validate() refuses leaves the configuration exactly as
 * it was; so does one the schema refuses. */
TEST(control_put_refused_rolls_back)
{
	struct ctl_fx f;
	char *before, *after;

	ctl_fx_init(&f);
	put_kernel(&f, ctl_fx_path(&f, "vmlinux"));
	CTL_OK(&f.ctl, CTL_PUT, "drives", "a",
	       fmt("{\"drive_id\": \"a\", \"path_on_host\": \"%s\", \"is_root_device\": false}",
		   ctl_fx_path(&f, "a.img")));
	CTL_OK(&f.ctl, CTL_PUT, "logger", NULL, "{\"level\": \"Warning\", \"show_level\": true}");
	before = ctl_config_text(&f.ctl);

	/* one file behind two drives */
	CTL_FAULT(&f.ctl, CTL_PUT, "drives", "b",
		  fmt("{\"drive_id\": \"b\", \"path_on_host\": \"%s\", \"is_root_device\": false}",
		      ctl_fx_path(&f, "a.img")),
		  400, "backs a drive and a drive");
	/* huge pages need whole 2 MiB pages */
	CTL_FAULT(&f.ctl, CTL_PUT, "machine-config", NULL,
		  "{\"vcpu_count\": 2, \"mem_size_mib\": 257, \"huge_pages\": \"2M\"}", 400,
		  "2 MiB huge page");
	/* two interfaces on one tap (refused by the schema) */
	CTL_OK(&f.ctl, CTL_PUT, "network-interfaces", "eth0",
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}");
	free(before);
	before = ctl_config_text(&f.ctl);
	CTL_FAULT(&f.ctl, CTL_PUT, "network-interfaces", "eth1",
		  "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap0\"}", 400,
		  "already interface 'eth0'");
	/* schema errors: path id against body id, unknown field, not JSON */
	CTL_FAULT(&f.ctl, CTL_PUT, "drives", "a",
		  "{\"drive_id\": \"z\", \"path_on_host\": \"/x\", \"is_root_device\": false}", 400,
		  "");
	CTL_FAULT(&f.ctl, CTL_PUT, "machine-config", NULL,
		  "{\"vcpu_count\": 2, \"mem_size_mib\": 128, \"bogus\": 1}", 400, "bogus");
	CTL_FAULT(&f.ctl, CTL_PUT, "boot-source", NULL, "{\"kernel_image_path\": ", 400, "JSON");
	after = ctl_config_text(&f.ctl);
	ASSERT_STR_EQ(after, before);
	free(after);
	free(before);
	ctl_fx_fini(&f);
}

/*
 * Firecracker's clients (its Go SDK, firectl) PUT /logger and /machine-config before
 * /boot-source; each PUT must be accepted on its own, the kernel being required only by
 * InstanceStart.
 */
TEST(control_put_before_boot_source)
{
	struct ctl_fx f;
	struct json_object *o;

	ctl_fx_init(&f);
	CTL_OK(&f.ctl, CTL_PUT, "logger", NULL,
	       fmt("{\"log_path\": \"%s\", \"level\": \"Info\"}", ctl_fx_path(&f, "log")));
	CTL_OK(&f.ctl, CTL_PUT, "machine-config", NULL,
	       "{\"vcpu_count\": 2, \"mem_size_mib\": 512}");
	CTL_OK(&f.ctl, CTL_PATCH, "machine-config", NULL, "{\"vcpu_count\": 1}");
	CTL_OK(&f.ctl, CTL_PUT, "metrics", NULL,
	       fmt("{\"metrics_path\": \"%s\"}", ctl_fx_path(&f, "metrics")));
	put_kernel(&f, ctl_fx_path(&f, "vmlinux"));
	o = ctl_get(&f.ctl, CTL_GET_MACHINE);
	ASSERT_JSTR(o, "1", "vcpu_count");
	ASSERT_JSTR(o, "512", "mem_size_mib");
	json_object_put(o);
	ctl_fx_fini(&f);
}

TEST(control_patch_before_start)
{
	struct ctl_fx f;
	struct json_object *o;
	char *before, *after;

	ctl_fx_init(&f);
	put_kernel(&f, ctl_fx_path(&f, "vmlinux"));
	CTL_OK(&f.ctl, CTL_PUT, "drives", "rootfs",
	       fmt("{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_root_device\": true}",
		   ctl_fx_path(&f, "root.img")));
	CTL_OK(&f.ctl, CTL_PUT, "network-interfaces", "eth0",
	       "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}");
	before = ctl_config_text(&f.ctl);
	/* Devices are PATCHed at run time only (before the start a PUT replaces them). */
	CTL_FAULT(&f.ctl, CTL_PATCH, "drives", "rootfs",
		  fmt("{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\"}",
		      ctl_fx_path(&f, "other.img")),
		  400, NOT_RUNNING);
	CTL_FAULT(&f.ctl, CTL_PATCH, "network-interfaces", "eth0",
		  "{\"iface_id\": \"eth0\", \"rx_rate_limiter\": {\"ops\": {\"size\": 10, "
		  "\"refill_time\": 100}}}",
		  400, NOT_RUNNING);
	/* Pause and resume need a running VM. */
	CTL_FAULT(&f.ctl, CTL_VM_STATE, NULL, NULL, "{\"state\": \"Paused\"}", 400, NOT_RUNNING);
	CTL_FAULT(&f.ctl, CTL_VM_STATE, NULL, NULL, "{\"state\": \"Resumed\"}", 400, NOT_RUNNING);
	CTL_FAULT(&f.ctl, CTL_ACTION, NULL, NULL, "{\"action_type\": \"SendCtrlAltDel\"}", 400,
		  NOT_RUNNING);
	after = ctl_config_text(&f.ctl);
	ASSERT_STR_EQ(after, before);
	free(after);

	/* machine-config is PATCHed before the start; what the body leaves out stays. */
	CTL_OK(&f.ctl, CTL_PATCH, "machine-config", NULL, "{\"vcpu_count\": 2}");
	o = ctl_get(&f.ctl, CTL_GET_MACHINE);
	ASSERT_JSTR(o, "2", "vcpu_count");
	ASSERT_JSTR(o, "256", "mem_size_mib");
	json_object_put(o);
	free(before);
	before = ctl_config_text(&f.ctl);
	CTL_FAULT(&f.ctl, CTL_PATCH, "machine-config", NULL, "{\"vcpu_count\": 0}", 400,
		  "vcpu_count");
	CTL_FAULT(&f.ctl, CTL_PATCH, "boot-source", NULL, "{\"boot_args\": \"x\"}", 400, "PATCH");
	after = ctl_config_text(&f.ctl);
	ASSERT_STR_EQ(after, before);
	free(after);
	free(before);
	assert_state(&f.ctl, "Not started");
	ctl_fx_fini(&f);
}

/* PUT /actions and PATCH /vm take one object with exactly one string field. */
TEST(control_bad_action_and_vm_bodies)
{
	static const struct {
		enum control_op op;
		const char *body, *want;
	} cases[] = {
		{CTL_ACTION, "InstanceStart", "invalid JSON"},
		{CTL_ACTION, "{\"action_type\": ", "invalid JSON"},
		{CTL_ACTION, "[\"InstanceStart\"]", "must be an object"},
		{CTL_ACTION, "\"InstanceStart\"", "must be an object"},
		{CTL_ACTION, "{}", "missing field 'action_type'"},
		{CTL_ACTION, "{\"action_type\": \"FlushMetrics\", \"x\": 1}", "unknown field 'x'"},
		{CTL_ACTION, "{\"type\": \"InstanceStart\"}", "unknown field 'type'"},
		{CTL_ACTION, "{\"action_type\": 1}", "field 'action_type' must be a string"},
		{CTL_ACTION, "{\"action_type\": null}", "missing field 'action_type'"},
		{CTL_ACTION, "{\"action_type\": \"Reboot\"}", "not \"Reboot\""},
		{CTL_ACTION, "{\"action_type\": \"instancestart\"}", "not \"instancestart\""},
		{CTL_VM_STATE, "Paused", "invalid JSON"},
		{CTL_VM_STATE, "42", "must be an object"},
		{CTL_VM_STATE, "{}", "missing field 'state'"},
		{CTL_VM_STATE, "{\"state\": \"Paused\", \"when\": \"now\"}",
		 "unknown field 'when'"},
		{CTL_VM_STATE, "{\"state\": true}", "field 'state' must be a string"},
		{CTL_VM_STATE, "{\"state\": \"Running\"}", "not \"Running\""},
	};
	struct ctl_fx f;

	ctl_fx_init(&f);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CTL_FAULT(&f.ctl, cases[i].op, NULL, NULL, cases[i].body, 400, cases[i].want);
	assert_state(&f.ctl, "Not started");
	ctl_fx_fini(&f);
}

/* An empty body (a PUT /actions without one), trailing bytes and JSON null are refused like
 * the configuration bodies are (api/config_json.c parses strictly), with a message that says
 * what is wrong, not json-c's internal state names. */
TEST(control_body_strict_json)
{
	static const struct {
		enum control_op op;
		const char *body;
	} cases[] = {
		{CTL_ACTION, ""},
		{CTL_ACTION, "{\"action_type\": \"FlushMetrics\"} xyz"},
		{CTL_ACTION, "{'action_type': 'FlushMetrics'}"},
		{CTL_ACTION, "{\"action_type\": \"FlushMetrics\",}"},
		{CTL_VM_STATE, "null"},
	};
	struct ctl_fx f;
	bool failed = false;

	ctl_fx_init(&f);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *j = NULL;
		int s = ctl_exec(&f.ctl, cases[i].op, NULL, NULL, cases[i].body, &j);

		/* Report every case before failing: each is its own finding. */
		if (s != 400 ||
		    !(ctl_is_fault(j, "JSON") || ctl_is_fault(j, "must be an object")) ||
		    strstr(j, "continue") || strstr(j, "success")) {
			fprintf(stderr, "  body '%s': %d %s\n", cases[i].body, s, j ? j : "(none)");
			failed = true;
		}
		free(j);
	}
	ctl_fx_fini(&f);
	ASSERT_FALSE(failed);
}

TEST(control_instance_start_refused)
{
	static const char not_a_kernel[] = "this is not a kernel image\n";
	static const char elf_only[] = "\177ELF";
	struct ctl_fx f;
	const char *junk, *elf;

	ctl_fx_init(&f);
	CTL_FAULT(&f.ctl, CTL_ACTION, NULL, NULL, "{\"action_type\": \"InstanceStart\"}", 400,
		  "Cannot start microvm without kernel configuration.");
	assert_state(&f.ctl, "Not started");

	/* a missing file, then one that is no bzImage or ELF */
	put_kernel(&f, ctl_fx_path(&f, "missing"));
	CTL_FAULT(&f.ctl, CTL_ACTION, NULL, NULL, "{\"action_type\": \"InstanceStart\"}", 400,
		  "No such file");
	junk = ctl_fx_file(&f, "junk", not_a_kernel, sizeof(not_a_kernel) - 1);
	put_kernel(&f, junk);
	CTL_FAULT(&f.ctl, CTL_ACTION, NULL, NULL, "{\"action_type\": \"InstanceStart\"}", 400,
		  "not a bzImage or an ELF vmlinux");
	assert_state(&f.ctl, "Not started");
	ASSERT_FALSE(f.ctl.vm_built);

	/* A kernel that passes the first check, then a missing initrd or disk. */
	elf = ctl_fx_file(&f, "elf", elf_only, sizeof(elf_only) - 1);
	CTL_OK(&f.ctl, CTL_PUT, "boot-source", NULL,
	       fmt("{\"kernel_image_path\": \"%s\", \"initrd_path\": \"%s\"}", elf,
		   ctl_fx_path(&f, "no-initrd")));
	CTL_FAULT(&f.ctl, CTL_ACTION, NULL, NULL, "{\"action_type\": \"InstanceStart\"}", 400,
		  "initrd");
	put_kernel(&f, elf);
	CTL_OK(&f.ctl, CTL_PUT, "drives", "d0",
	       fmt("{\"drive_id\": \"d0\", \"path_on_host\": \"%s\", \"is_root_device\": false}",
		   ctl_fx_path(&f, "no-disk")));
	CTL_FAULT(&f.ctl, CTL_ACTION, NULL, NULL, "{\"action_type\": \"InstanceStart\"}", 400,
		  "disk");
	/* Files all there: without /dev/kvm (or with this 4-byte "kernel") vm_create() fails,
	 * cleans up, and the VM stays not started. */
	ctl_fx_file(&f, "no-disk", "", 0);
	CTL_FAULT(&f.ctl, CTL_ACTION, NULL, NULL, "{\"action_type\": \"InstanceStart\"}", 400,
		  "Cannot start the microVM");
	assert_state(&f.ctl, "Not started");
	ASSERT_FALSE(f.ctl.vm_built);

	/* The configuration is still open to changes. */
	put_kernel(&f, ctl_fx_path(&f, "vmlinux"));
	CTL_OK(&f.ctl, CTL_PUT, "machine-config", NULL,
	       "{\"vcpu_count\": 1, \"mem_size_mib\": 128}");
	ctl_fx_fini(&f);
}

TEST(control_metrics_outputs)
{
	struct ctl_fx f;
	const char *m1;
	char *before, *after;
	struct stat st;

	ctl_fx_init(&f);
	CTL_FAULT(&f.ctl, CTL_ACTION, NULL, NULL, "{\"action_type\": \"FlushMetrics\"}", 400,
		  "metrics are not configured");
	put_kernel(&f, ctl_fx_path(&f, "vmlinux"));
	m1 = ctl_fx_path(&f, "metrics.json");
	CTL_OK(&f.ctl, CTL_PUT, "metrics", NULL, fmt("{\"metrics_path\": \"%s\"}", m1));
	ASSERT_OK(stat(m1, &st));
	ASSERT_TRUE(S_ISREG(st.st_mode));
	ASSERT_EQ(st.st_mode & 0777, 0600);
	ASSERT_TRUE(f.ctl.metrics != NULL);
	ASSERT_TRUE(f.ctl.metrics->fd >= 0);
	ASSERT_TRUE(f.ctl.metrics_tfd >= 0); /* the periodic flush */

	/* A directory that does not exist: 400 naming the path, configuration and the open
	 * file unchanged. */
	before = ctl_config_text(&f.ctl);
	CTL_FAULT(&f.ctl, CTL_PUT, "metrics", NULL,
		  fmt("{\"metrics_path\": \"%s/nodir/m.json\"}", f.dir), 400, "nodir/m.json");
	after = ctl_config_text(&f.ctl);
	ASSERT_STR_EQ(after, before);
	free(after);
	free(before);
	ASSERT_TRUE(f.ctl.metrics != NULL && f.ctl.metrics->fd >= 0);

	/* Another file replaces the first. */
	CTL_OK(&f.ctl, CTL_PUT, "metrics", NULL,
	       fmt("{\"metrics_path\": \"%s\"}", ctl_fx_path(&f, "m2.json")));
	ASSERT_OK(stat(ctl_fx_path(&f, "m2.json"), &st));
	ctl_fx_fini(&f);
}

TEST(control_logger_output)
{
	struct ctl_fx f;
	const char *log1;
	char *before, *after, buf[4096];
	FILE *fp;
	size_t n;

	ctl_fx_init(&f);
	put_kernel(&f, ctl_fx_path(&f, "vmlinux"));
	log1 = ctl_fx_path(&f, "vmm.log");
	CTL_OK(&f.ctl, CTL_PUT, "logger", NULL,
	       fmt("{\"log_path\": \"%s\", \"level\": \"Info\", \"show_level\": true}", log1));
	log_info("control test line %d", 1);

	before = ctl_config_text(&f.ctl);
	CTL_FAULT(&f.ctl, CTL_PUT, "logger", NULL,
		  fmt("{\"log_path\": \"%s/nodir/vmm.log\", \"level\": \"Debug\"}", f.dir), 400,
		  "nodir/vmm.log");
	after = ctl_config_text(&f.ctl);
	ASSERT_STR_EQ(after, before);
	free(after);
	free(before);
	/* Still the first file, still at Info. */
	log_info("control test line %d", 2);
	log_debug("control test line %d", 3);
	fp = fopen(log1, "r");
	ASSERT_TRUE(fp != NULL);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	ASSERT_TRUE(strstr(buf, "control test line 1") != NULL);
	ASSERT_TRUE(strstr(buf, "control test line 2") != NULL);
	ASSERT_TRUE(strstr(buf, "control test line 3") == NULL);
	ASSERT_TRUE(strstr(buf, "INFO") != NULL || strstr(buf, "Info") != NULL);
	CTL_FAULT(&f.ctl, CTL_PUT, "logger", NULL, "{\"module\": \"api\"}", 400, "module");
	ctl_fx_fini(&f);
}

/* ---- the real loop: control_run() on its own thread ---- */

struct loop {
	struct ctl_fx f;
	pthread_t th;
	int status;
};

static void *loop_thread(void *arg)
{
	struct loop *l = arg;

	l->status = control_run(&l->f.ctl, false);
	return NULL;
}

/* control_run() takes SIGTERM/SIGINT/SIGHUP through a signalfd: they must be blocked in
 * every thread, so block them before any thread exists. */
static void loop_start(struct loop *l)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	ASSERT_OK(-pthread_sigmask(SIG_BLOCK, &set, NULL));
	ctl_fx_init(&l->f);
	l->status = -1;
	ASSERT_OK(-pthread_create(&l->th, NULL, loop_thread, l));
}

static void loop_stop(struct loop *l)
{
	ASSERT_OK(kill(getpid(), SIGTERM));
	ASSERT_OK(-pthread_join(l->th, NULL));
	ASSERT_EQ(l->status, 0);
	ASSERT_EQ(l->f.ctl.state, CONTROL_ENDED);
}

static int call(struct control *ctl, enum control_op op, const char *res, const char *body,
		char **json)
{
	struct control_cmd cmd = {.op = op, .resource = res, .body = body};

	control_call(ctl, &cmd);
	*json = cmd.json;
	return cmd.status;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct caller {
	struct control *ctl;
	unsigned int id, n_ok, n_503;
	bool until_503; /* call until the loop refuses, else CALLER_ROUNDS times */
};

#define CALLER_ROUNDS 100

static void *caller_thread(void *arg)
{
	struct caller *c = arg;

	for (unsigned int i = 0; c->until_503 || i < CALLER_ROUNDS; i++) {
		char *j = NULL;
		int s;

		if (i % 2) {
			s = call(c->ctl, CTL_GET_INFO, NULL, "", &j);
			if (s == 200 && !strstr(j, "\"id\":\"vm-test-1\""))
				s = -1;
		} else {
			/* Each caller's own body: replies must not be crossed. */
			char body[64];

			snprintf(body, sizeof(body), "{\"action_type\": \"Caller%u\"}", c->id);
			s = call(c->ctl, CTL_ACTION, NULL, body, &j);
			snprintf(body, sizeof(body), "not \"Caller%u\"", c->id);
			if (s == 400)
				s = ctl_is_fault(j, body) ? 200 : -1;
		}
		free(j);
		if (s == 503) {
			c->n_503++;
			break;
		}
		if (s != 200)
			return (void *)1;
		c->n_ok++;
	}
	return NULL;
}

TEST(control_loop_concurrent_calls_then_sigterm)
{
	static struct loop l;
	struct caller cs[4];
	pthread_t th[4];
	char *j = NULL;
	uint64_t t0;

	loop_start(&l);
	for (unsigned int i = 0; i < 4; i++) {
		cs[i] = (struct caller){&l.f.ctl, i, 0, 0, false};
		ASSERT_OK(-pthread_create(&th[i], NULL, caller_thread, &cs[i]));
	}
	for (unsigned int i = 0; i < 4; i++) {
		void *ret;

		ASSERT_OK(-pthread_join(th[i], &ret));
		ASSERT_TRUE(ret == NULL);
		ASSERT_EQ(cs[i].n_ok, CALLER_ROUNDS);
	}
	/* The loop changes the configuration for its callers. */
	ASSERT_EQ(call(&l.f.ctl, CTL_PUT, "boot-source",
		       fmt("{\"kernel_image_path\": \"%s\"}", ctl_fx_path(&l.f, "vmlinux")), &j),
		  204);
	ASSERT_TRUE(j == NULL);
	ASSERT_STR_EQ(l.f.cfg.kernel, ctl_fx_path(&l.f, "vmlinux"));
	loop_stop(&l);

	/* After the loop: refused at once, with a reason. */
	t0 = mono_ms();
	ASSERT_EQ(call(&l.f.ctl, CTL_GET_INFO, NULL, "", &j), 503);
	ASSERT_TRUE(ctl_is_fault(j, "shutting down"));
	free(j);
	ASSERT_EQ(call(&l.f.ctl, CTL_ACTION, NULL, "{\"action_type\": \"InstanceStart\"}", &j),
		  503);
	free(j);
	ASSERT_TRUE(mono_ms() - t0 < 1000);
	ctl_fx_fini(&l.f);
}

/* SIGTERM while callers keep calling: every one of them gets its answer, then 503; none
 * hangs on a command the loop never saw. */
TEST(control_loop_sigterm_under_load)
{
	static struct loop l;
	struct caller cs[4];
	pthread_t th[4];

	loop_start(&l);
	for (unsigned int i = 0; i < 4; i++) {
		cs[i] = (struct caller){&l.f.ctl, i, 0, 0, true};
		ASSERT_OK(-pthread_create(&th[i], NULL, caller_thread, &cs[i]));
	}
	usleep(20000);
	loop_stop(&l);
	for (unsigned int i = 0; i < 4; i++) {
		void *ret;

		ASSERT_OK(-pthread_join(th[i], &ret));
		ASSERT_TRUE(ret == NULL);
		ASSERT_EQ(cs[i].n_503, 1);
	}
	ctl_fx_fini(&l.f);
}

/* SIGINT and SIGHUP stop a loop that has no VM as well. */
TEST(control_loop_other_signals)
{
	static struct loop l;
	int sigs[] = {SIGINT, SIGHUP};

	for (unsigned int i = 0; i < 2; i++) {
		loop_start(&l);
		ASSERT_OK(kill(getpid(), sigs[i]));
		ASSERT_OK(-pthread_join(l.th, NULL));
		ASSERT_EQ(l.status, 0);
		ASSERT_EQ(l.f.ctl.state, CONTROL_ENDED);
		ctl_fx_fini(&l.f);
	}
}

/* ---- HTTP: server -> routes -> control thread ---- */

struct http_resp {
	int status;
	char head[2048];
	char body[8192];
	size_t body_len;
	bool has_length;
};

static int http_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ASSERT_TRUE(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	ASSERT_OK(connect(fd, (struct sockaddr *)&a, sizeof(a)));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Send one request on a keep-alive connection and read its whole response. */
static int http(int fd, const char *method, const char *path, const char *body, struct http_resp *r)
{
	static char buf[16384];
	size_t len = 0, head_len, body_len = 0;
	char req[4096], *end = NULL, *cl;
	int n;

	if (body)
		n = snprintf(req, sizeof(req),
			     "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			     method, path, strlen(body), body);
	else
		n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\n\r\n", method,
			     path);
	ASSERT_TRUE(n > 0 && (size_t)n < sizeof(req));
	ASSERT_EQ(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
	for (;;) {
		ssize_t got;

		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n"))) {
			head_len = (size_t)(end - buf) + 4;
			cl = strcasestr(buf, "\r\nContent-Length: ");
			r->has_length = cl && cl < end;
			body_len = r->has_length ? strtoul(cl + 18, NULL, 10) : 0;
			if (len >= head_len + body_len)
				break;
		}
		got = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (got <= 0)
			TEST_FAIL_("%s %s: no complete response (%zu bytes)", method, path, len);
		len += (size_t)got;
	}
	ASSERT_TRUE(head_len < sizeof(r->head) && body_len < sizeof(r->body));
	ASSERT_EQ(len, head_len + body_len); /* one response, nothing after it */
	memcpy(r->head, buf, head_len);
	r->head[head_len] = '\0';
	memcpy(r->body, buf + head_len, body_len);
	r->body[body_len] = '\0';
	r->body_len = body_len;
	ASSERT_EQ(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
	return r->status;
}

static void http_fault(const struct http_resp *r, int status, const char *want)
{
	if (r->status != status || !ctl_is_fault(r->body, want) ||
	    !strstr(r->head, "\r\nContent-Type: application/json\r\n"))
		TEST_FAIL_("%d %s, want %d with \"%s\"", r->status, r->body, status, want);
}

static void http_no_content(const struct http_resp *r)
{
	if (r->status != 204 || r->body_len != 0)
		TEST_FAIL_("%d %s, want 204 without a body", r->status, r->body);
	ASSERT_TRUE(strncmp(r->head, "HTTP/1.1 204 No Content\r\n", 25) == 0);
}

TEST(control_http_end_to_end)
{
	static struct loop l;
	static struct api_router router;
	struct api_server_config scfg = {0};
	struct api_server *srv;
	struct http_resp r;
	struct json_object *o;
	const char *sock;
	int fd;

	loop_start(&l);
	api_router_init(&router);
	ASSERT_OK(api_routes_register(&router, &l.f.ctl));
	sock = ctl_fx_path(&l.f, "api.sock");
	scfg.path = sock;
	scfg.router = &router;
	ASSERT_OK(api_server_start(&scfg, &srv));
	fd = http_connect(sock);

	ASSERT_EQ(http(fd, "GET", "/", NULL, &r), 200);
	o = json_tokener_parse(r.body);
	ASSERT_JSTR(o, "Not started", "state");
	ASSERT_JSTR(o, "vm-test-1", "id");
	json_object_put(o);

	http(fd, "PUT", "/boot-source",
	     fmt("{\"kernel_image_path\": \"%s\"}", ctl_fx_path(&l.f, "vmlinux")), &r);
	http_no_content(&r);
	http(fd, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 384}", &r);
	http_no_content(&r);
	http(fd, "PUT", "/drives/rootfs",
	     fmt("{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_root_device\": true}",
		 ctl_fx_path(&l.f, "root.img")),
	     &r);
	http_no_content(&r);
	/* The path's id must match the body's. */
	http(fd, "PUT", "/drives/other",
	     "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/x\", \"is_root_device\": true}", &r);
	http_fault(&r, 400, "");
	http(fd, "PATCH", "/drives/rootfs",
	     fmt("{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\"}", ctl_fx_path(&l.f, "b")),
	     &r);
	http_fault(&r, 400, NOT_RUNNING);
	http(fd, "PATCH", "/vm", "{\"state\": \"Paused\"}", &r);
	http_fault(&r, 400, NOT_RUNNING);
	http(fd, "PUT", "/actions", "{\"action_type\": \"Reboot\"}", &r);
	http_fault(&r, 400, "not \"Reboot\"");
	http(fd, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", &r);
	http_fault(&r, 400, "Cannot start the microVM");
	http(fd, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", &r);
	http_fault(&r, 400, "metrics are not configured");

	ASSERT_EQ(http(fd, "GET", "/machine-config", NULL, &r), 200);
	o = json_tokener_parse(r.body);
	ASSERT_JSTR(o, "2", "vcpu_count");
	ASSERT_JSTR(o, "384", "mem_size_mib");
	json_object_put(o);
	ASSERT_EQ(http(fd, "GET", "/vm/config", NULL, &r), 200);
	o = json_tokener_parse(r.body);
	ASSERT_JSTR(o, ctl_fx_path(&l.f, "root.img"), "drives", "0", "path_on_host");
	ASSERT_JSTR(o, ctl_fx_path(&l.f, "vmlinux"), "boot-source", "kernel_image_path");
	json_object_put(o);
	ASSERT_EQ(http(fd, "GET", "/", NULL, &r), 200);
	ASSERT_TRUE(strstr(r.body, "Not started") != NULL);

	/* The loop ends: the server still answers, with 503. */
	loop_stop(&l);
	http(fd, "GET", "/", NULL, &r);
	http_fault(&r, 503, "shutting down");
	close(fd);
	api_server_stop(srv);
	ctl_fx_fini(&l.f);
}
