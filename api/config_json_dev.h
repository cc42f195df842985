/* SPDX-License-Identifier: MIT */
#ifndef API_CONFIG_JSON_DEV_H
#define API_CONFIG_JSON_DEV_H

/*
 * The list resources of the JSON configuration (config_json_dev.c): one body o into cfg,
 * replacing the device with the same id or adding one. url_id: the id from the request path,
 * which the body's id must match, or NULL (config file). New strings in cfg are owned copies;
 * the caller releases what replaced ones leave behind. 0, -EINVAL, -ENOENT (PATCH of a device
 * that does not exist) or -ENOMEM; cfg may be half-changed on error (the caller works on a
 * copy).
 */

struct cj_ctx;
struct json_object;
struct vm_config;

int cj_put_drive(const struct cj_ctx *ctx, struct json_object *o, const char *url_id,
		 struct vm_config *cfg);
int cj_patch_drive(const struct cj_ctx *ctx, struct json_object *o, const char *url_id,
		   struct vm_config *cfg);
int cj_put_net(const struct cj_ctx *ctx, struct json_object *o, const char *url_id,
	       struct vm_config *cfg);
int cj_patch_net(const struct cj_ctx *ctx, struct json_object *o, const char *url_id,
		 struct vm_config *cfg);
int cj_put_pmem(const struct cj_ctx *ctx, struct json_object *o, const char *url_id,
		struct vm_config *cfg);

#endif /* API_CONFIG_JSON_DEV_H */
