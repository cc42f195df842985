/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_LEGACY_PVPANIC_H
#define DEVICES_LEGACY_PVPANIC_H

#include <stdint.h>

/*
 * The QEMU pvpanic device (ACPI _HID "QEMU0001"; QEMU docs/specs/pvpanic.rst): one byte register.
 * Reading it returns the events the device supports; the guest writes an event when it panics.
 * Either event stops the VM with VM_EXIT_ERROR, status 1. Stateless apart from the VM, so any
 * number of vCPU threads may call the handlers at once.
 */

struct pvpanic;
struct vm;

#define PVPANIC_PANICKED     (1u << 0) /* the guest panicked */
#define PVPANIC_CRASH_LOADED (1u << 1) /* the guest panicked and a crash kernel is loaded */
#define PVPANIC_EVENTS	     (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED)

/* Main thread. Returns 0 or -ENOMEM. */
int pvpanic_create(struct vm *vm, struct pvpanic **out);

/* Bus handlers, opaque = struct pvpanic, one port. vCPU threads. */
void pvpanic_io_read(void *opaque, uint64_t off, void *data, uint32_t len);
void pvpanic_io_write(void *opaque, uint64_t off, const void *data, uint32_t len);

void pvpanic_destroy(struct pvpanic *p);

#endif /* DEVICES_LEGACY_PVPANIC_H */
