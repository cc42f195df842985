/* SPDX-License-Identifier: MIT */
#ifndef VMM_CLI_INTERNAL_H
#define VMM_CLI_INTERNAL_H

/* Shared by the CLI's option parsers (cli.c, cli_net.c). */

#include <stddef.h>
#include <stdint.h>

struct net_if_config;
struct virtio_dev_config;
struct vsock_dev_config;

/* A decimal number that fits 32 bits. 0 or -EINVAL. */
int cli_parse_uint(const char *s, unsigned int *out);

/* One of the options every virtio device takes (transport=, packed=, iommu=): 1 if tok was
 * one, 0 if not, -EINVAL (message in err, prefixed with `what`) for a bad value. */
int cli_parse_devopt(const char *tok, struct virtio_dev_config *dev, const char *what, char *err,
		     size_t errlen);

/* NAME=VALUE with a size value (K/M/G suffixes): 1 if tok is NAME=..., -EINVAL if the value is
 * bad, 0 if tok is something else. */
int cli_parse_named_size(const char *tok, const char *name, uint64_t *out, const char *what,
			 char *err, size_t errlen);

/* --net and --vsock (cli_net.c); arg is edited in place. */
int cli_parse_net(char *arg, struct net_if_config *n, char *err, size_t errlen);
int cli_parse_vsock(char *arg, struct vsock_dev_config *v, char *err, size_t errlen);

#endif /* VMM_CLI_INTERNAL_H */
