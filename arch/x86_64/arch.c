/* SPDX-License-Identifier: MIT */
/* vmm/arch.h for x86_64: ties layout, irqchip, platform devices, loaders, ACPI and CPU setup. */
#include "vmm/arch.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/boot.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/irqchip.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/platform.h"
#include "devices/legacy/serial.h"
#include "devices/pci/pci.h"
#include "vmm/guest_mem.h"
#include "vmm/log.h"
#include "vmm/util.h"
#include "vmm/vm.h"

/* Enough for boot data below 1 MiB plus a tiny kernel; the loaders check real kernels. */
#define ARCH_MIN_MEM (4 * SZ_1M)
/* Well inside the 40 physical address bits of the smallest CPUs KVM guests see. */
#define ARCH_MAX_MEM (256 * SZ_1G)
/* The CPUID cache leaf (4) counts cores in 6 bits; keep the topology exact. */
#define ARCH_MAX_VCPUS 64U

_Static_assert(ARCH_MAX_MEM - X86_LOW_RAM_END <= X86_HIGH_RAM_MAX, "RAM reaches the PCI window");
_Static_assert(X86_PCI_ECAM_SIZE == PCI_ECAM_BUS_SIZE, "ECAM size");
_Static_assert(X86_PCI_MMIO32_BASE >= X86_LOW_RAM_END &&
		       X86_PCI_MMIO32_BASE + X86_PCI_MMIO32_SIZE <= X86_VIRTIO_MMIO_BASE,
	       "32-bit PCI window overlaps RAM or the virtio-mmio slots");
_Static_assert(X86_VIRTIO_MMIO_BASE + X86_VIRTIO_MMIO_SLOTS * X86_VIRTIO_MMIO_SIZE <=
			       X86_PCI_ECAM_BASE &&
		       X86_PCI_ECAM_BASE + X86_PCI_ECAM_SIZE <= X86_IOAPIC_ADDR,
	       "virtio-mmio slots overlap the ECAM or the ECAM the IOAPIC");
_Static_assert(X86_VIRTIO_MMIO_GSI0 + X86_VIRTIO_MMIO_SLOTS <= X86_PCI_INTX_GSI0 &&
		       (X86_COM1_GSI < X86_VIRTIO_MMIO_GSI0),
	       "virtio-mmio GSIs overlap COM1 or the PCI INTx lines");
_Static_assert(X86_PCI_MMIO64_BASE + X86_PCI_MMIO64_SIZE <= X86_VIRTIO_SHM_BASE,
	       "64-bit PCI window overlaps the shared memory window");

int arch_ram_layout(uint64_t mem_size, struct gmem_region *out, unsigned int max)
{
	uint64_t low = MIN(mem_size, X86_LOW_RAM_END);
	unsigned int n = 0;

	if (mem_size == 0 || mem_size > ARCH_MAX_MEM || !IS_ALIGNED(mem_size, 4096ULL) ||
	    mem_size - low > X86_HIGH_RAM_MAX)
		return -EINVAL;
	if (max < (mem_size > low ? 2U : 1U))
		return -EINVAL;
	/* RAM up to 3 GiB, then a 1 GiB hole for MMIO (PCI, virtio-mmio, IOAPIC, LAPIC). */
	out[n++] = (struct gmem_region){.gpa = 0, .size = low, .hva = NULL};
	if (mem_size > low)
		out[n++] = (struct gmem_region){
			.gpa = X86_HIGH_RAM_START, .size = mem_size - low, .hva = NULL};
	return (int)n;
}

uint64_t arch_min_mem(void)
{
	return ARCH_MIN_MEM;
}

int arch_virtio_mmio_slot(unsigned int i, uint64_t *base, uint64_t *size, uint32_t *gsi)
{
	if (i >= X86_VIRTIO_MMIO_SLOTS)
		return -ENOSPC;
	*base = X86_VIRTIO_MMIO_BASE + i * X86_VIRTIO_MMIO_SIZE;
	*size = X86_VIRTIO_MMIO_SIZE;
	*gsi = X86_VIRTIO_MMIO_GSI0 + i;
	return 0;
}

void arch_pci_layout(struct arch_pci_layout *l)
{
	*l = (struct arch_pci_layout){
		.ecam_base = X86_PCI_ECAM_BASE,
		.mmio32_base = X86_PCI_MMIO32_BASE,
		.mmio32_size = X86_PCI_MMIO32_SIZE,
		.mmio64_base = X86_PCI_MMIO64_BASE,
		.mmio64_size = X86_PCI_MMIO64_SIZE,
		.intx_gsi_base = X86_PCI_INTX_GSI0,
		.shm_base = X86_VIRTIO_SHM_BASE,
		.shm_size = X86_VIRTIO_SHM_SIZE,
	};
}

unsigned int arch_max_vcpus(void)
{
	return ARCH_MAX_VCPUS;
}

int arch_vm_setup(struct vm *vm, char *err, unsigned int errlen)
{
	struct arch_vm *a;
	int r;

	r = irqchip_create(vm->kvm_fd, vm->vm_fd, err, errlen);
	if (r < 0)
		return r;
	r = platform_create(vm, STDOUT_FILENO, err, errlen);
	if (r < 0)
		return r;
	a = vm->arch;
	r = cpu_supported_cpuid(vm->kvm_fd, &a->cpuid);
	if (r < 0) {
		snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID: %s", strerror(-r));
		return r;
	}
	a->tsc_deadline = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	a->has_xcrs = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
	return 0;
}

int arch_load_guest(struct vm *vm, char *err, unsigned int errlen)
{
	const struct vm_config *cfg = vm->cfg;
	struct arch_pci_layout pci;
	struct acpi_config acpi = {
		.n_cpus = cfg->cpus,
		.pm_port = X86_ACPI_PM_PORT,
		.pvpanic_port = X86_PVPANIC_PORT,
		.com1_port = X86_COM1_PORT,
		.com1_gsi = X86_COM1_GSI,
		.i8042_data_port = X86_I8042_DATA_PORT,
		.i8042_cmd_port = X86_I8042_CMD_PORT,
		.i8042_gsi = X86_I8042_GSI,
		.ioapic_addr = X86_IOAPIC_ADDR,
		.lapic_addr = X86_LAPIC_ADDR,
		.mmio_devs = vm->mmio_devs,
		.n_mmio_devs = vm->n_mmio_devs,
		.pci = &pci,
	};
	struct boot_params_in in;
	struct boot_info *bi;
	char *cmdline;
	int r;

	if (!vm->arch)
		return -EINVAL;
	arch_pci_layout(&pci);
	bi = &vm->arch->boot;
	cmdline = malloc(X86_CMDLINE_MAX);
	if (!cmdline)
		return -ENOMEM;
	r = boot_compose_cmdline(cfg, cmdline, X86_CMDLINE_MAX);
	if (r < 0) {
		snprintf(err, errlen, "kernel command line longer than %llu bytes",
			 (unsigned long long)X86_CMDLINE_MAX - 1);
		goto out;
	}
	r = acpi_build(&vm->mem, &acpi, X86_ACPI_ADDR, X86_ACPI_END);
	if (r < 0) {
		snprintf(err, errlen, "cannot write the ACPI tables: %s", strerror(-r));
		goto out;
	}
	in = (struct boot_params_in){
		.kernel = cfg->kernel,
		.initrd = cfg->initrd,
		.cmdline = cmdline,
		.rsdp = X86_ACPI_ADDR,
	};
	r = boot_load(&vm->mem, &in, bi, err, errlen);
	if (r < 0)
		goto out;
	log_info("%s kernel, entry 0x%" PRIx64 ", kernel end 0x%" PRIx64 ", initrd 0x%" PRIx64
		 "+0x%" PRIx64 ", cmdline \"%s\"",
		 bi->kind == BOOT_BZIMAGE ? "bzImage" : "PVH", bi->entry, bi->kernel_end,
		 bi->initrd_addr, bi->initrd_size, cmdline);
out:
	free(cmdline);
	return r;
}

int arch_vcpu_setup(struct vm *vm, struct vcpu *vcpu, char *err, unsigned int errlen)
{
	struct arch_vm *a = vm->arch;
	struct cpu_vcpu_args args = {
		.vcpu_fd = vcpu->fd,
		.id = vcpu->id,
		.n_vcpus = vm->cfg->cpus,
		.supported = a->cpuid,
		.tsc_deadline = a->tsc_deadline,
		.has_xcrs = a->has_xcrs,
		/* vCPU 0 is KVM's boot CPU; the others wait for INIT/SIPI in the LAPIC. */
		.boot = vcpu->id == 0 ? &a->boot : NULL,
	};

	return cpu_setup_vcpu(&args, err, errlen);
}

void arch_console_input(struct vm *vm, const uint8_t *buf, unsigned int len)
{
	if (vm->arch && vm->arch->serial)
		serial_input(vm->arch->serial, buf, len);
}

void arch_console_flush(struct vm *vm)
{
	if (vm->arch && vm->arch->serial)
		serial_flush(vm->arch->serial);
}

int arch_check_kernel(const char *path, char *err, unsigned int errlen)
{
	uint8_t head[0x210];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "kernel %s: %s", path, strerror(errno));
		return -errno;
	}
	n = pread(fd, head, sizeof(head), 0);
	close(fd);
	/* The full validation is the loader's; this only catches files that are no kernel. */
	if (n >= 4 && memcmp(head, ELFMAG, SELFMAG) == 0)
		return 0;
	if (n == (ssize_t)sizeof(head) && head[0x1fe] == 0x55 && head[0x1ff] == 0xaa &&
	    memcmp(head + 0x202, "HdrS", 4) == 0)
		return 0;
	snprintf(err, errlen, "kernel %s: not a bzImage or an ELF vmlinux", path);
	return -ENOEXEC;
}

void arch_vm_destroy(struct vm *vm)
{
	platform_destroy(vm);
}
