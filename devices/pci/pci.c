/* SPDX-License-Identifier: MIT */
/* Being written. */
#include "devices/pci/pci.h"
