/* SPDX-License-Identifier: MIT */
/* The REST API's routes: request -> control command -> reply. */
#include "api/routes.h"

#include <errno.h>
#include <string.h>

#include "api/router.h"
#include "vmm/control.h"

/* The resource is the path's first segment ("/drives/x" -> "drives"). */
static void routes_resource(const char *path, char *out, size_t len)
{
	size_t n;

	path += *path == '/';
	n = strcspn(path, "/");
	if (n >= len)
		n = len - 1;
	memcpy(out, path, n);
	out[n] = '\0';
}

static int routes_call(void *opaque, const struct api_request *req, char **json, enum control_op op)
{
	struct control_cmd cmd = {.op = op, .body = req->body};
	char resource[32];

	routes_resource(req->path, resource, sizeof(resource));
	cmd.resource = resource;
	/* Every parameterised route has one parameter: the device's id. */
	cmd.id = req->n_params == 1 ? req->params[0].value : NULL;
	control_call(opaque, &cmd);
	*json = cmd.json;
	return cmd.status;
}

static int routes_get_info(void *opaque, const struct api_request *req, char **json)
{
	return routes_call(opaque, req, json, CTL_GET_INFO);
}

static int routes_get_config(void *opaque, const struct api_request *req, char **json)
{
	return routes_call(opaque, req, json, CTL_GET_CONFIG);
}

static int routes_get_machine(void *opaque, const struct api_request *req, char **json)
{
	return routes_call(opaque, req, json, CTL_GET_MACHINE);
}

static int routes_put(void *opaque, const struct api_request *req, char **json)
{
	return routes_call(opaque, req, json, CTL_PUT);
}

static int routes_patch(void *opaque, const struct api_request *req, char **json)
{
	return routes_call(opaque, req, json, CTL_PATCH);
}

static int routes_action(void *opaque, const struct api_request *req, char **json)
{
	return routes_call(opaque, req, json, CTL_ACTION);
}

static int routes_vm_state(void *opaque, const struct api_request *req, char **json)
{
	return routes_call(opaque, req, json, CTL_VM_STATE);
}

int api_routes_register(struct api_router *r, struct control *ctl)
{
	static const struct {
		enum http_method method;
		const char *pattern;
		api_handler_fn fn;
	} table[] = {
		{HTTP_GET, "/", routes_get_info},
		{HTTP_GET, "/vm/config", routes_get_config},
		{HTTP_GET, "/machine-config", routes_get_machine},
		{HTTP_PUT, "/machine-config", routes_put},
		{HTTP_PATCH, "/machine-config", routes_patch},
		{HTTP_PUT, "/boot-source", routes_put},
		{HTTP_PUT, "/drives/{drive_id}", routes_put},
		{HTTP_PATCH, "/drives/{drive_id}", routes_patch},
		{HTTP_PUT, "/network-interfaces/{iface_id}", routes_put},
		{HTTP_PATCH, "/network-interfaces/{iface_id}", routes_patch},
		{HTTP_PUT, "/vsock", routes_put},
		{HTTP_PUT, "/pmem/{id}", routes_put},
		{HTTP_PUT, "/entropy", routes_put},
		{HTTP_PUT, "/scsi", routes_put},
		{HTTP_PUT, "/console", routes_put},
		{HTTP_PUT, "/logger", routes_put},
		{HTTP_PUT, "/metrics", routes_put},
		{HTTP_PUT, "/actions", routes_action},
		{HTTP_PATCH, "/vm", routes_vm_state},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		int err = api_router_add(r, table[i].method, table[i].pattern, table[i].fn, ctl);

		if (err < 0)
			return err;
	}
	return 0;
}
