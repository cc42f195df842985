/* SPDX-License-Identifier: MIT */
#include "arch/x86_64/platform.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/layout.h"
#include "devices/legacy/acpi_pm.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/pvpanic.h"
#include "devices/legacy/serial.h"
#include "vmm/arch.h"
#include "vmm/vm.h"

/* The UART's interrupt line: GSI 4 (the DSDT's PNP0501), an edge-triggered IOAPIC pin. */
static void platform_serial_irq(void *ctx, bool level)
{
	struct vm *vm = ctx;

	vm_irq_line(vm, X86_COM1_GSI, level);
}

/* The keyboard's interrupt: ISA IRQ 1, an edge on GSI 1 (raise and drop the line). */
static void platform_i8042_irq(void *ctx)
{
	struct vm *vm = ctx;

	vm_irq_line(vm, X86_I8042_GSI, true);
	vm_irq_line(vm, X86_I8042_GSI, false);
}

static int platform_register(struct vm *vm, uint64_t base, uint64_t len, bus_read_fn rd,
			     bus_write_fn wr, void *opaque, const char *name, char *err,
			     unsigned int errlen)
{
	int r = bus_register(&vm->pio, base, len, rd, wr, opaque, name);

	if (r < 0)
		snprintf(err, errlen, "cannot place %s at port 0x%llx: %s", name,
			 (unsigned long long)base, strerror(-r));
	return r;
}

int platform_create(struct vm *vm, int console_fd, char *err, unsigned int errlen)
{
	struct arch_vm *a;
	int r;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	vm->arch = a;

	r = serial_create(console_fd, platform_serial_irq, vm, &a->serial);
	if (r < 0)
		goto err_create;
	r = i8042_create(vm, platform_i8042_irq, vm, &a->i8042);
	if (r < 0)
		goto err_create;
	r = pvpanic_create(vm, &a->pvpanic);
	if (r < 0)
		goto err_create;
	r = acpi_pm_create(vm, &a->pm);
	if (r < 0)
		goto err_create;

	r = platform_register(vm, X86_COM1_PORT, SERIAL_NR_PORTS, serial_io_read, serial_io_write,
			      a->serial, "com1", err, errlen);
	if (r < 0)
		goto err;
	r = platform_register(vm, X86_I8042_DATA_PORT, 1, i8042_data_read, i8042_data_write,
			      a->i8042, "i8042-data", err, errlen);
	if (r < 0)
		goto err;
	r = platform_register(vm, X86_I8042_CMD_PORT, 1, i8042_cmd_read, i8042_cmd_write, a->i8042,
			      "i8042-cmd", err, errlen);
	if (r < 0)
		goto err;
	r = platform_register(vm, X86_PVPANIC_PORT, 1, pvpanic_io_read, pvpanic_io_write,
			      a->pvpanic, "pvpanic", err, errlen);
	if (r < 0)
		goto err;
	r = platform_register(vm, X86_ACPI_PM_PORT, ACPI_PM_NR_PORTS, acpi_pm_io_read,
			      acpi_pm_io_write, a->pm, "acpi-pm", err, errlen);
	if (r < 0)
		goto err;
	return 0;

err_create:
	snprintf(err, errlen, "cannot create the legacy devices: %s", strerror(-r));
err:
	platform_destroy(vm);
	return r;
}

int arch_send_ctrl_alt_del(struct vm *vm)
{
	if (!vm->arch || !vm->arch->i8042)
		return -ENODEV;
	return i8042_send_ctrl_alt_del(vm->arch->i8042);
}

void platform_destroy(struct vm *vm)
{
	struct arch_vm *a = vm->arch;

	if (!a)
		return;
	if (a->serial)
		serial_destroy(a->serial);
	i8042_destroy(a->i8042);
	pvpanic_destroy(a->pvpanic);
	acpi_pm_destroy(a->pm);
	free(a->cpuid);
	free(a);
	vm->arch = NULL;
}
