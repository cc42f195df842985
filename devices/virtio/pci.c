/* SPDX-License-Identifier: MIT */
/* Being written. */
#include "devices/virtio/pci.h"
