/* SPDX-License-Identifier: MIT */
/* --net and --vsock option parsing. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/config_validate.h"
#include "devices/virtio/net_ctrl.h"
#include "vmm/cli_internal.h"
#include "vmm/config.h"

/* aa:bb:cc:dd:ee:ff, a unicast address that is not all zero. */
static int cli_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
				      &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[3 * i]) || !isxdigit((unsigned char)s[3 * i + 1]))
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	if (mac[0] & 1 || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return -EINVAL;
	return 0;
}

/* The rate-limit options of --net: 1 if tok was one, 0 if not, -EINVAL. */
static int cli_parse_net_limit(const char *tok, struct net_if_config *n, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		size_t off;
	} limits[] = {
		{"rx_bps", offsetof(struct net_if_config, rx_bps)},
		{"rx_bps_burst", offsetof(struct net_if_config, rx_bps_burst)},
		{"rx_pps", offsetof(struct net_if_config, rx_pps)},
		{"rx_pps_burst", offsetof(struct net_if_config, rx_pps_burst)},
		{"tx_bps", offsetof(struct net_if_config, tx_bps)},
		{"tx_bps_burst", offsetof(struct net_if_config, tx_bps_burst)},
		{"tx_pps", offsetof(struct net_if_config, tx_pps)},
		{"tx_pps_burst", offsetof(struct net_if_config, tx_pps_burst)},
	};

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		int r = cli_parse_named_size(tok, limits[i].name,
					     (uint64_t *)((char *)n + limits[i].off), "--net", err,
					     errlen);
		if (r)
			return r;
	}
	return 0;
}

/* id=, tap=, mac=, queues=, mtu=, speed=, duplex= of --net: 1 if tok was one, 0 if not, -EINVAL. */
static int cli_parse_net_opt(char *tok, struct net_if_config *n, char *err, size_t errlen)
{
	unsigned int v;

	if (strncmp(tok, "id=", 3) == 0) {
		n->id = tok + 3; /* checked by config_validate() */
	} else if (strncmp(tok, "tap=", 4) == 0) {
		if (!config_ifname_ok(tok + 4)) {
			snprintf(err, errlen, "--net: '%s' is not an interface name (1-15 bytes)",
				 tok + 4);
			return -EINVAL;
		}
		n->tap = tok + 4;
	} else if (strncmp(tok, "mac=", 4) == 0) {
		if (cli_parse_mac(tok + 4, n->mac) < 0) {
			snprintf(err, errlen,
				 "--net: mac= takes a unicast address like 52:54:00:12:34:56, "
				 "not '%s'",
				 tok + 4);
			return -EINVAL;
		}
	} else if (strncmp(tok, "queues=", 7) == 0) {
		if (cli_parse_uint(tok + 7, &v) < 0 || v == 0 || v > NET_MAX_QUEUE_PAIRS) {
			snprintf(err, errlen, "--net: queues= takes 1 to %d, not '%s'",
				 NET_MAX_QUEUE_PAIRS, tok + 7);
			return -EINVAL;
		}
		n->queue_pairs = v;
	} else if (strncmp(tok, "mtu=", 4) == 0) {
		if (cli_parse_uint(tok + 4, &v) < 0 || v < 68 || v > 65535) {
			snprintf(err, errlen, "--net: mtu= takes 68 to 65535, not '%s'", tok + 4);
			return -EINVAL;
		}
		n->mtu = (uint16_t)v;
	} else if (strncmp(tok, "speed=", 6) == 0) {
		if (cli_parse_uint(tok + 6, &v) < 0 || v == 0 || v == UINT32_MAX) {
			snprintf(err, errlen, "--net: speed= takes Mbit/s, not '%s'", tok + 6);
			return -EINVAL;
		}
		n->speed = v;
	} else if (strncmp(tok, "duplex=", 7) == 0) {
		if (strcmp(tok + 7, "half") == 0) {
			n->duplex = 1;
		} else if (strcmp(tok + 7, "full") == 0) {
			n->duplex = 2;
		} else {
			snprintf(err, errlen, "--net: duplex= takes half or full, not '%s'",
				 tok + 7);
			return -EINVAL;
		}
	} else {
		return cli_parse_net_limit(tok, n, err, errlen);
	}
	return 1;
}

int cli_parse_net(char *arg, struct net_if_config *n, char *err, size_t errlen)
{
	char *save = NULL;
	int r;

	memset(n, 0, sizeof(*n));
	for (char *tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "auto") == 0) /* a new tap, every option at its default */
			continue;
		r = cli_parse_devopt(tok, &n->dev, "--net", err, errlen);
		if (r == 0)
			r = cli_parse_net_opt(tok, n, err, errlen);
		if (r < 0)
			return r;
		if (r == 0) {
			snprintf(err, errlen, "--net: unknown option '%s'", tok);
			return -EINVAL;
		}
	}
	return 0;
}

int cli_parse_vsock(char *arg, struct vsock_dev_config *v, char *err, size_t errlen)
{
	char *save = NULL, *end;
	int r;

	memset(v, 0, sizeof(*v));
	for (char *tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strncmp(tok, "cid=", 4) == 0) {
			errno = 0;
			v->cid = strtoull(tok + 4, &end, 10);
			if (!isdigit((unsigned char)tok[4]) || errno || *end || v->cid < 3 ||
			    v->cid >= UINT32_MAX) {
				snprintf(err, errlen,
					 "--vsock: cid= takes 3 to %" PRIu32 ", not '%s'",
					 UINT32_MAX - 1, tok + 4);
				return -EINVAL;
			}
		} else if (strncmp(tok, "path=", 5) == 0) {
			v->path = tok + 5;
		} else if ((r = cli_parse_devopt(tok, &v->dev, "--vsock", err, errlen)) != 0) {
			if (r < 0)
				return r;
		} else {
			snprintf(err, errlen, "--vsock: unknown option '%s'", tok);
			return -EINVAL;
		}
	}
	if (!v->path || !*v->path || !v->cid) {
		snprintf(err, errlen, "--vsock needs cid=N and path=SOCK");
		v->path = NULL;
		return -EINVAL;
	}
	return 0;
}
