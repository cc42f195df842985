/* SPDX-License-Identifier: MIT */
/* Being written. */
#include "devices/pci/msix.h"
