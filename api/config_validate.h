/* SPDX-License-Identifier: MIT */
#ifndef API_CONFIG_VALIDATE_H
#define API_CONFIG_VALIDATE_H

#include <stddef.h>

struct vm_config;

/*
 * The one check of a whole configuration, whichever door it came through (CLI, config file,
 * API): a kernel, vCPU and memory ranges the arch supports, device counts and per-device
 * ranges, what must be unique (drive serials, which are the drive ids; files shared by two
 * devices; taps; MACs) and what fits the transports (virtio-mmio slots, PCI slots). Files are
 * not opened here. Returns 0, or -EINVAL with a one-line reason in err. Any thread.
 */
int config_validate(const struct vm_config *cfg, char *err, size_t errlen);

#endif /* API_CONFIG_VALIDATE_H */
