/* SPDX-License-Identifier: MIT */
#ifndef API_CONFIG_VALIDATE_H
#define API_CONFIG_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

struct vm_config;

/*
 * The one check of a whole configuration, whichever door it came through (CLI, config file,
 * API): a kernel, vCPU and memory ranges the arch supports, device counts and per-device
 * ranges, ids (1 to 64 of [A-Za-z0-9_-], unique per kind, a missing one being its positional
 * name "drive<N>", "net<N>", "pmem<N>"), what must be unique (drive serials; files shared by
 * two devices; taps; MACs), the root drive (at most one, the first, partuuid well-formed),
 * huge pages (RAM in whole 2 MiB pages), the logger level, and what fits the transports
 * (virtio-mmio slots, PCI slots). Files are not opened here. Returns 0, or -EINVAL with a one-line
 * reason in err. Any thread.
 */
int config_validate(const struct vm_config *cfg, char *err, size_t errlen);

/* A Linux interface name: 1 to 15 bytes (IFNAMSIZ - 1), not "." or "..", no '/', ':' or
 * whitespace. */
bool config_ifname_ok(const char *s);

#endif /* API_CONFIG_VALIDATE_H */
