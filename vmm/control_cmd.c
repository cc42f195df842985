/* SPDX-License-Identifier: MIT */
/*
 * The API's commands, executed on the control thread: configuration changes before the VM
 * starts, the few run-time changes (drive media and rate limits, interface rate limits),
 * actions and pause/resume. Each checks the state first, then changes the one configuration;
 * a change the device refuses rolls the configuration back, so GET /vm/config always
 * says what the VM really uses.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/config_json.h"
#include "api/config_validate.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/net.h"
#include "vmm/arch.h"
#include "vmm/control.h"
#include "vmm/log.h"

/* Firecracker's wording for requests that only make sense before InstanceStart. */
#define CTL_MSG_STARTED	    "The requested operation is not supported after starting the microVM."
#define CTL_MSG_NOT_RUNNING "The requested operation is not supported before starting the microVM."

static void ctl_reply(struct control_cmd *cmd, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* status with {"fault_message": ...}, or 204 without a body. */
static void ctl_reply(struct control_cmd *cmd, int status, const char *fmt, ...)
{
	struct json_object *o;
	char msg[512];
	va_list ap;

	cmd->status = status;
	if (!fmt)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = json_object_new_object();
	json_object_object_add(o, "fault_message", json_object_new_string(msg));
	cmd->json = strdup(json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void ctl_reply_json(struct control_cmd *cmd, struct json_object *o)
{
	cmd->status = 200;
	cmd->json = strdup(json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	if (!cmd->json)
		cmd->status = 500;
}

/* The configuration as the config file would say it, to undo a change that failed later. */
struct ctl_checkpoint {
	char *dump;
};

static int ctl_checkpoint(struct control *ctl, struct ctl_checkpoint *cp)
{
	cp->dump = config_json_dump(ctl->cfg);
	return cp->dump ? 0 : -ENOMEM;
}

static void ctl_rollback(struct control *ctl, struct ctl_checkpoint *cp)
{
	char err[256];

	if (config_json_load(ctl->cfg, cp->dump, err, sizeof(err)) < 0)
		log_err("control: cannot restore the configuration: %s", err);
	free(cp->dump);
	cp->dump = NULL;
}

static void ctl_checkpoint_drop(struct ctl_checkpoint *cp)
{
	free(cp->dump);
	cp->dump = NULL;
}

/* config_validate() on what the API has built so far: before InstanceStart the kernel may
 * still come, so its absence is not an error yet (InstanceStart checks it). */
static int ctl_validate(const struct control *ctl, char *err, size_t errlen)
{
	struct vm_config tmp;

	if (ctl->cfg->kernel)
		return config_validate(ctl->cfg, err, errlen);
	tmp = *ctl->cfg;
	tmp.kernel = "(to come)";
	return config_validate(&tmp, err, errlen);
}

/* The end of a change: kept (204), or rolled back with the reason (400; 500 without memory). */
static void ctl_commit(struct control *ctl, struct control_cmd *cmd, struct ctl_checkpoint *cp,
		       int r, const char *err)
{
	if (r < 0) {
		ctl_rollback(ctl, cp);
		ctl_reply(cmd, r == -ENOMEM ? 500 : 400, "%s", err);
		return;
	}
	ctl_checkpoint_drop(cp);
	ctl_reply(cmd, 204, NULL);
}

/* Resources that only set up the process's outputs take effect at once (Firecracker opens
 * the logger's and the metrics' files when they are PUT). */
static int ctl_apply_outputs(struct control *ctl, const char *resource, char *err, size_t errlen)
{
	if (strcmp(resource, "logger") == 0)
		return control_logger_apply(ctl, err, errlen);
	if (strcmp(resource, "metrics") == 0)
		return control_metrics_apply(ctl, err, errlen);
	return 0;
}

static void ctl_put(struct control *ctl, struct control_cmd *cmd)
{
	struct ctl_checkpoint cp;
	char err[256];
	int r;

	if (ctl->state != CONTROL_NOT_STARTED) {
		ctl_reply(cmd, 400, CTL_MSG_STARTED);
		return;
	}
	if (ctl_checkpoint(ctl, &cp) < 0) {
		ctl_reply(cmd, 500, "out of memory");
		return;
	}
	r = config_json_apply(ctl->cfg, cmd->resource, cmd->id, cmd->body, err, sizeof(err));
	if (r == 0)
		r = ctl_validate(ctl, err, sizeof(err));
	if (r == 0)
		r = ctl_apply_outputs(ctl, cmd->resource, err, sizeof(err));
	ctl_commit(ctl, cmd, &cp, r, err);
}

/* PATCH /drives/{id} on a running VM: a new backing file and/or new rate limits. */
static int ctl_patch_drive_live(struct control *ctl, const char *id, const char *old_path,
				char *err, size_t errlen)
{
	int i = config_json_find(ctl->cfg, "drives", id);
	const struct disk_config *d;
	struct blk_limits lim;
	int r;

	if (i < 0 || !ctl->vm.disk_devs[i]) {
		snprintf(err, errlen, "drives: no drive '%s'", id);
		return -ENOENT;
	}
	d = &ctl->cfg->disks[i];
	if (strcmp(d->path, old_path) != 0) {
		r = blk_swap_backing(ctl->vm.disk_devs[i], d->path, d->read_only);
		if (r < 0) {
			snprintf(err, errlen, "drives: cannot use '%s' for drive '%s': %s", d->path,
				 id, strerror(-r));
			return r;
		}
		log_info("drive %s now uses %s", id, d->path);
	}
	lim = (struct blk_limits){d->bps, d->bps_burst, d->iops, d->iops_burst};
	blk_set_limits(ctl->vm.disk_devs[i], &lim);
	return 0;
}

/* PATCH /network-interfaces/{id} on a running VM: new rate limits. */
static int ctl_patch_net_live(struct control *ctl, const char *id, char *err, size_t errlen)
{
	int i = config_json_find(ctl->cfg, "network-interfaces", id);
	const struct net_if_config *n;
	struct net_limits lim;

	if (i < 0 || !ctl->vm.net_devs[i]) {
		snprintf(err, errlen, "network-interfaces: no network interface '%s'", id);
		return -ENOENT;
	}
	n = &ctl->cfg->nets[i];
	lim = (struct net_limits){
		.rx = {n->rx_bps, n->rx_bps_burst, n->rx_pps, n->rx_pps_burst},
		.tx = {n->tx_bps, n->tx_bps_burst, n->tx_pps, n->tx_pps_burst},
	};
	net_set_limits(ctl->vm.net_devs[i], &lim);
	return 0;
}

static void ctl_patch(struct control *ctl, struct control_cmd *cmd)
{
	bool live = strcmp(cmd->resource, "drives") == 0 ||
		    strcmp(cmd->resource, "network-interfaces") == 0;
	char err[256], old_path[4096] = "";
	struct ctl_checkpoint cp;
	int r, i;

	if (live && ctl->state == CONTROL_NOT_STARTED) {
		/* Firecracker: PATCH of a device is a run-time update; before the start a PUT
		 * replaces the device. */
		ctl_reply(cmd, 400, CTL_MSG_NOT_RUNNING);
		return;
	}
	if (!live && ctl->state != CONTROL_NOT_STARTED) {
		ctl_reply(cmd, 400, CTL_MSG_STARTED);
		return;
	}
	if (live && cmd->id && strcmp(cmd->resource, "drives") == 0 &&
	    (i = config_json_find(ctl->cfg, "drives", cmd->id)) >= 0)
		snprintf(old_path, sizeof(old_path), "%s", ctl->cfg->disks[i].path);
	if (ctl_checkpoint(ctl, &cp) < 0) {
		ctl_reply(cmd, 500, "out of memory");
		return;
	}
	r = config_json_patch(ctl->cfg, cmd->resource, cmd->id, cmd->body, err, sizeof(err));
	if (r == 0)
		r = ctl_validate(ctl, err, sizeof(err));
	if (r == 0 && live && strcmp(cmd->resource, "drives") == 0)
		r = ctl_patch_drive_live(ctl, cmd->id, old_path, err, sizeof(err));
	else if (r == 0 && live)
		r = ctl_patch_net_live(ctl, cmd->id, err, sizeof(err));
	ctl_commit(ctl, cmd, &cp, r, err);
}

/* InstanceStart: the whole configuration must be valid and its files openable. */
static void ctl_instance_start(struct control *ctl, struct control_cmd *cmd)
{
	char err[256];

	if (ctl->state != CONTROL_NOT_STARTED) {
		ctl_reply(cmd, 400, CTL_MSG_STARTED);
		return;
	}
	if (!ctl->cfg->kernel) {
		ctl_reply(cmd, 400, "Cannot start microvm without kernel configuration.");
		return;
	}
	if (config_validate(ctl->cfg, err, sizeof(err)) < 0 ||
	    control_check_files(ctl->cfg, err, sizeof(err)) < 0 ||
	    control_start_vm(ctl, err, sizeof(err)) < 0) {
		ctl_reply(cmd, 400, "Cannot start the microVM: %s", err);
		return;
	}
	ctl_reply(cmd, 204, NULL);
}

/* The one string field `key` of a body that must have exactly that field; 400 otherwise. */
static int ctl_body_string(struct control_cmd *cmd, const char *what, const char *key, char **out)
{
	char err[256];
	int r = config_json_body_string(cmd->body, strlen(cmd->body), what, key, out, err,
					sizeof(err));

	if (r < 0)
		ctl_reply(cmd, r == -ENOMEM ? 500 : 400, "%s",
			  r == -ENOMEM ? "out of memory" : err);
	return r;
}

static void ctl_action(struct control *ctl, struct control_cmd *cmd)
{
	char err[256], *type = NULL;

	if (ctl_body_string(cmd, "actions", "action_type", &type) < 0)
		return;
	if (strcmp(type, "InstanceStart") == 0) {
		ctl_instance_start(ctl, cmd);
	} else if (strcmp(type, "SendCtrlAltDel") == 0) {
		if (ctl->state == CONTROL_NOT_STARTED)
			ctl_reply(cmd, 400, CTL_MSG_NOT_RUNNING);
		else if (arch_send_ctrl_alt_del(&ctl->vm) < 0)
			ctl_reply(cmd, 400,
				  "the guest's keyboard does not take keys now "
				  "(no i8042 driver, or its buffer is full)");
		else
			ctl_reply(cmd, 204, NULL);
	} else if (strcmp(type, "FlushMetrics") == 0) {
		if (control_metrics_flush(ctl, err, sizeof(err)) < 0)
			ctl_reply(cmd, 400, "%s", err);
		else
			ctl_reply(cmd, 204, NULL);
	} else {
		ctl_reply(cmd, 400,
			  "field 'action_type' must be \"InstanceStart\", \"SendCtrlAltDel\" or "
			  "\"FlushMetrics\", not \"%s\"",
			  type);
	}
	free(type);
}

static void ctl_vm_state(struct control *ctl, struct control_cmd *cmd)
{
	char *state = NULL;

	if (ctl_body_string(cmd, "vm", "state", &state) < 0)
		return;
	if (strcmp(state, "Paused") != 0 && strcmp(state, "Resumed") != 0) {
		ctl_reply(cmd, 400, "field 'state' must be \"Paused\" or \"Resumed\", not \"%s\"",
			  state);
	} else if (ctl->state == CONTROL_NOT_STARTED) {
		ctl_reply(cmd, 400, CTL_MSG_NOT_RUNNING);
	} else if (strcmp(state, "Paused") == 0) {
		if (vm_pause(&ctl->vm) < 0) {
			ctl_reply(cmd, 500, "a vCPU did not stop in time; the VM runs on");
		} else {
			ctl->state = CONTROL_PAUSED;
			log_info("VM paused");
			ctl_reply(cmd, 204, NULL);
		}
	} else {
		vm_resume(&ctl->vm);
		ctl->state = CONTROL_RUNNING;
		log_info("VM resumed");
		ctl_reply(cmd, 204, NULL);
	}
	free(state);
}

static void ctl_get_info(struct control *ctl, struct control_cmd *cmd)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(ctl->instance_id));
	json_object_object_add(o, "state", json_object_new_string(control_state_name(ctl->state)));
	json_object_object_add(o, "vmm_version", json_object_new_string(MICROVM_VERSION));
	json_object_object_add(o, "app_name", json_object_new_string("microvm"));
	ctl_reply_json(cmd, o);
}

/* GET /vm/config, or one resource of it (GET /machine-config). */
static void ctl_get_config(struct control *ctl, struct control_cmd *cmd, const char *resource)
{
	struct json_object *root, *part;
	char *dump = config_json_dump(ctl->cfg);

	if (!dump) {
		ctl_reply(cmd, 500, "out of memory");
		return;
	}
	if (!resource) {
		cmd->status = 200;
		cmd->json = dump;
		return;
	}
	root = json_tokener_parse(dump);
	free(dump);
	if (!root || !json_object_object_get_ex(root, resource, &part)) {
		json_object_put(root);
		ctl_reply(cmd, 500, "cannot describe '%s'", resource);
		return;
	}
	ctl_reply_json(cmd, json_object_get(part));
	json_object_put(root);
}

void control_execute(struct control *ctl, struct control_cmd *cmd)
{
	cmd->json = NULL;
	switch (cmd->op) {
	case CTL_GET_INFO:
		ctl_get_info(ctl, cmd);
		break;
	case CTL_GET_CONFIG:
		ctl_get_config(ctl, cmd, NULL);
		break;
	case CTL_GET_MACHINE:
		ctl_get_config(ctl, cmd, "machine-config");
		break;
	case CTL_PUT:
		ctl_put(ctl, cmd);
		break;
	case CTL_PATCH:
		ctl_patch(ctl, cmd);
		break;
	case CTL_ACTION:
		ctl_action(ctl, cmd);
		break;
	case CTL_VM_STATE:
		ctl_vm_state(ctl, cmd);
		break;
	default:
		ctl_reply(cmd, 500, "unknown command");
	}
}
