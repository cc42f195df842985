/* SPDX-License-Identifier: MIT */
#ifndef VMM_CONTROL_H
#define VMM_CONTROL_H

/*
 * The control thread (the process's main thread) owns the VM and its configuration: it
 * builds the VM, runs the event loop (signals, console, VM exit, metrics timer) and executes
 * the API's commands one at a time. The API thread only parses HTTP, then posts a command
 * here and waits for the reply (control_call()); so the lifecycle
 * (not started -> running <-> paused -> ended) has one writer and no locks around it.
 */

#include <pthread.h>
#include <stdbool.h>

#include "vmm/vm.h"

struct metrics;

enum control_state { CONTROL_NOT_STARTED, CONTROL_RUNNING, CONTROL_PAUSED, CONTROL_ENDED };

enum control_op {
	CTL_GET_INFO,	 /* GET /: id, state, version */
	CTL_GET_CONFIG,	 /* GET /vm/config: the whole effective configuration */
	CTL_GET_MACHINE, /* GET /machine-config */
	CTL_PUT,	 /* PUT /<resource>[/<id>] (pre-boot) */
	CTL_PATCH,	 /* PATCH /<resource>[/<id>] */
	CTL_ACTION,	 /* PUT /actions */
	CTL_VM_STATE,	 /* PATCH /vm */
};

/* One API request for the control thread. The strings stay the caller's (it waits). */
struct control_cmd {
	enum control_op op;
	const char *resource; /* CTL_PUT/CTL_PATCH: "drives", "machine-config", ... */
	const char *id;	      /* the path's id, or NULL */
	const char *body;     /* JSON, NUL-terminated */
	/* the reply */
	int status; /* HTTP status: 200, 204, 400, ... */
	char *json; /* malloc'd body (200) or {"fault_message": ...}; NULL for 204 */
	/* the queue */
	bool done;
	struct control_cmd *next;
};

struct control {
	struct vm_config *cfg; /* the one configuration (CLI, config file, API) */
	struct vm vm;
	bool vm_built;
	enum control_state state;
	char instance_id[65];
	/* commands posted by the API thread */
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	struct control_cmd *head, *tail;
	bool closing; /* the loop ended: new commands are refused (503) */
	int cmd_efd;
	/* outputs */
	struct metrics *metrics; /* NULL: no metrics path */
	int metrics_tfd;	 /* periodic flush timer, -1 without metrics */
	/* the event loop */
	int epfd, sfd;
	bool start_requested; /* InstanceStart ran: the loop builds and starts the VM */
	void (*on_started)(struct control *ctl); /* after the VM's vCPUs run (sandbox) */
};

/* cfg stays the caller's and must outlive ctl; the API may change it until the VM starts.
 * instance_id: GET /'s "id" (NULL: "microvm"). Returns 0 or -errno. Main thread. */
int control_init(struct control *ctl, struct vm_config *cfg, const char *instance_id);

/* Main thread: with boot, build and start the VM at once (exit status 1 when that fails);
 * otherwise wait for InstanceStart. Serves commands until the VM ends or a signal stops it;
 * returns the process exit status. */
int control_run(struct control *ctl, bool boot);

/* Any thread but the control thread: run cmd there and wait for its reply (a stopped loop
 * answers 503 at once). */
void control_call(struct control *ctl, struct control_cmd *cmd);

/* After control_run() and after the API server stopped. */
void control_destroy(struct control *ctl);

/* control_cmd.c, control thread: execute one command, filling cmd->status and cmd->json. */
void control_execute(struct control *ctl, struct control_cmd *cmd);

/* control.c, control thread: build the VM from ctl->cfg and start its vCPUs. 0, or -errno
 * with a message in err (the VM is torn down again). */
int control_start_vm(struct control *ctl, char *err, size_t errlen);

/* control.c: the files the configuration names can be opened as it asks (kernel, initrd,
 * disks): fail early, before any KVM work. 0 or -errno with a message. */
int control_check_files(const struct vm_config *cfg, char *err, size_t errlen);

/* control_outputs.c, control thread: (re)open the outputs cfg names (log_path and level;
 * metrics_path, with its periodic timer), flush a metrics line now (FlushMetrics; -EINVAL
 * without metrics or before the start), on the timer, at the end; close. 0 or -errno with a
 * message. */
int control_logger_apply(struct control *ctl, char *err, size_t errlen);
int control_metrics_apply(struct control *ctl, char *err, size_t errlen);
int control_metrics_flush(struct control *ctl, char *err, size_t errlen);
void control_metrics_tick(struct control *ctl);
void control_metrics_final(struct control *ctl);
void control_metrics_close(struct control *ctl);

/* The state's name as GET / reports it: "Not started", "Running", "Paused". */
const char *control_state_name(enum control_state s);

#endif /* VMM_CONTROL_H */
