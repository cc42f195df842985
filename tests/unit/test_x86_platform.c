/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "arch/x86_64/platform.h"
#include "devices/legacy/acpi_pm.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/pvpanic.h"
#include "tests/harness.h"
#include "vmm/arch.h"
#include "vmm/vm.h"

/* The devices report through the real vm_request_exit(), which signals vm->exit_efd. */
struct pf {
	struct vm vm;
	int out[2]; /* console pipe */
};

static void pf_open(struct pf *p)
{
	char err[160] = "";

	memset(p, 0, sizeof(*p));
	p->vm.kvm_fd = p->vm.vm_fd = -1; /* vm_irq_line() fails quietly: no KVM here */
	p->vm.exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_TRUE(p->vm.exit_efd >= 0);
	gmem_init_empty(&p->vm.mem);
	ASSERT_OK(pipe2(p->out, O_NONBLOCK | O_CLOEXEC));
	ASSERT_OK(platform_create(&p->vm, p->out[1], err, sizeof(err)));
	ASSERT_TRUE(p->vm.arch != NULL);
}

static void pf_close(struct pf *p)
{
	platform_destroy(&p->vm);
	ASSERT_TRUE(p->vm.arch == NULL);
	close(p->out[0]);
	close(p->out[1]);
	close(p->vm.exit_efd);
}

static uint8_t pio_in(struct pf *p, uint16_t port)
{
	uint8_t v = 0;

	ASSERT_TRUE(bus_dispatch(&p->vm.pio, port, &v, 1, false));
	return v;
}

static void pio_out(struct pf *p, uint16_t port, uint8_t v)
{
	ASSERT_TRUE(bus_dispatch(&p->vm.pio, port, &v, 1, true));
}

static uint16_t pio_in16(struct pf *p, uint16_t port)
{
	uint16_t v = 0;

	ASSERT_TRUE(bus_dispatch(&p->vm.pio, port, &v, 2, false));
	return v;
}

static void pio_out16(struct pf *p, uint16_t port, uint16_t v)
{
	ASSERT_TRUE(bus_dispatch(&p->vm.pio, port, &v, 2, true));
}

TEST(x86_platform_ports)
{
	char buf[16] = "";
	struct pf p;
	uint8_t v;

	pf_open(&p);
	/* COM1 writes reach the console fd (held until the newline). */
	pio_out(&p, X86_COM1_PORT, 'o');
	pio_out(&p, X86_COM1_PORT, 'k');
	pio_out(&p, X86_COM1_PORT, '\n');
	ASSERT_EQ(read(p.out[0], buf, sizeof(buf)), 3);
	ASSERT_MEM_EQ(buf, "ok\n", 3);
	/* Everything else answers; 0x61 (KVM's speaker port) and COM2 are not ours. */
	ASSERT_TRUE(bus_dispatch(&p.vm.pio, X86_COM1_PORT + 7, &v, 1, false));
	ASSERT_FALSE(bus_dispatch(&p.vm.pio, 0x61, &v, 1, false));
	ASSERT_FALSE(bus_dispatch(&p.vm.pio, 0x2f8, &v, 1, false));
	ASSERT_EQ(pio_in(&p, X86_PVPANIC_PORT), PVPANIC_EVENTS);
	ASSERT_EQ(pio_in16(&p, X86_ACPI_PM_PORT + ACPI_PM_SLEEP_CTL), 0);
	ASSERT_FALSE(bus_dispatch(&p.vm.pio, X86_ACPI_PM_PORT + ACPI_PM_NR_PORTS, &v, 1, false));
	ASSERT_EQ(p.vm.exit_kind, VM_EXIT_NONE);
	pf_close(&p);
}

TEST(x86_i8042_probe_answers)
{
	struct pf p;

	pf_open(&p);
	ASSERT_EQ(pio_in(&p, X86_I8042_CMD_PORT), I8042_STR_SYS | I8042_STR_UNLOCK);
	/* Read the configuration byte; it comes back in the output buffer. */
	pio_out(&p, X86_I8042_CMD_PORT, I8042_CMD_READ_CTR);
	ASSERT_TRUE(pio_in(&p, X86_I8042_CMD_PORT) & I8042_STR_OBF);
	ASSERT_EQ(pio_in(&p, X86_I8042_DATA_PORT), 0x45);
	ASSERT_FALSE(pio_in(&p, X86_I8042_CMD_PORT) & I8042_STR_OBF);
	/* Write it back changed, read it again. */
	pio_out(&p, X86_I8042_CMD_PORT, I8042_CMD_WRITE_CTR);
	pio_out(&p, X86_I8042_DATA_PORT, 0x44);
	pio_out(&p, X86_I8042_CMD_PORT, I8042_CMD_READ_CTR);
	ASSERT_EQ(pio_in(&p, X86_I8042_DATA_PORT), 0x44);
	/* Self-test passes; the AUX loopback does not come back as AUX data; AUX test fails. */
	pio_out(&p, X86_I8042_CMD_PORT, I8042_CMD_SELF_TEST);
	ASSERT_EQ(pio_in(&p, X86_I8042_DATA_PORT), I8042_SELF_TEST_OK);
	pio_out(&p, X86_I8042_CMD_PORT, I8042_CMD_AUX_LOOP);
	pio_out(&p, X86_I8042_DATA_PORT, 0x5a);
	ASSERT_EQ(pio_in(&p, X86_I8042_CMD_PORT) & (I8042_STR_OBF | I8042_STR_AUXDATA),
		  I8042_STR_OBF);
	ASSERT_EQ(pio_in(&p, X86_I8042_DATA_PORT), 0x5a);
	pio_out(&p, X86_I8042_CMD_PORT, I8042_CMD_AUX_TEST);
	ASSERT_EQ(pio_in(&p, X86_I8042_DATA_PORT), I8042_AUX_TEST_CLOCK_LOW);
	/* A byte for the keyboard: it answers at once (get ID: ACK, AB 83, translated AB 41). */
	pio_out(&p, X86_I8042_DATA_PORT, I8042_KBD_CMD_GET_ID);
	ASSERT_EQ(pio_in(&p, X86_I8042_CMD_PORT) & (I8042_STR_OBF | I8042_STR_TIMEOUT),
		  I8042_STR_OBF);
	ASSERT_EQ(pio_in(&p, X86_I8042_DATA_PORT), I8042_KBD_ACK);
	ASSERT_EQ(pio_in(&p, X86_I8042_DATA_PORT), I8042_KBD_ID0);
	ASSERT_EQ(pio_in(&p, X86_I8042_DATA_PORT), I8042_KBD_ID1_XLAT);
	ASSERT_FALSE(pio_in(&p, X86_I8042_CMD_PORT) & I8042_STR_OBF);
	/* Output port with the reset line high: no reset. */
	pio_out(&p, X86_I8042_CMD_PORT, I8042_CMD_WRITE_OUTPORT);
	pio_out(&p, X86_I8042_DATA_PORT, 0x03);
	pio_out(&p, X86_I8042_CMD_PORT, 0xff); /* pulse nothing */
	ASSERT_EQ(p.vm.exit_kind, VM_EXIT_NONE);
	pf_close(&p);
}

TEST(x86_i8042_reset)
{
	struct pf p;

	pf_open(&p);
	pio_out(&p, X86_I8042_CMD_PORT, I8042_CMD_RESET);
	ASSERT_EQ(p.vm.exit_kind, VM_EXIT_RESET);
	ASSERT_EQ(p.vm.exit_status, 0);
	pf_close(&p);

	/* The other way: output port bit 0 (reset, active low) cleared. */
	pf_open(&p);
	pio_out(&p, X86_I8042_CMD_PORT, I8042_CMD_WRITE_OUTPORT);
	pio_out(&p, X86_I8042_DATA_PORT, 0x02);
	ASSERT_EQ(p.vm.exit_kind, VM_EXIT_RESET);
	pf_close(&p);
}

/* SendCtrlAltDel reaches the keyboard behind port 0x60: set 1 after translation. */
TEST(x86_i8042_ctrl_alt_del)
{
	static const uint8_t cad[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
	struct pf p;

	pf_open(&p);
	ASSERT_OK(arch_send_ctrl_alt_del(&p.vm));
	for (unsigned int i = 0; i < sizeof(cad); i++) {
		ASSERT_TRUE(pio_in(&p, X86_I8042_CMD_PORT) & I8042_STR_OBF);
		ASSERT_EQ(pio_in(&p, X86_I8042_DATA_PORT), cad[i]);
	}
	ASSERT_FALSE(pio_in(&p, X86_I8042_CMD_PORT) & I8042_STR_OBF);
	/* The guest turns the keyboard off: the API gets -EAGAIN. */
	pio_out(&p, X86_I8042_DATA_PORT, I8042_KBD_CMD_RESET_DIS);
	ASSERT_EQ(pio_in(&p, X86_I8042_DATA_PORT), I8042_KBD_ACK);
	ASSERT_EQ(arch_send_ctrl_alt_del(&p.vm), -EAGAIN);
	ASSERT_EQ(p.vm.exit_kind, VM_EXIT_NONE);
	pf_close(&p);
}

TEST(x86_pvpanic_events)
{
	struct pf p;

	pf_open(&p);
	pio_out(&p, X86_PVPANIC_PORT, 0);    /* no event */
	pio_out(&p, X86_PVPANIC_PORT, 0x80); /* unknown bit */
	ASSERT_EQ(p.vm.exit_kind, VM_EXIT_NONE);
	pio_out(&p, X86_PVPANIC_PORT, PVPANIC_PANICKED);
	ASSERT_EQ(p.vm.exit_kind, VM_EXIT_ERROR);
	ASSERT_EQ(p.vm.exit_status, 1);
	ASSERT_TRUE(strstr(p.vm.exit_reason, "panicked") != NULL);
	pf_close(&p);

	pf_open(&p);
	pio_out(&p, X86_PVPANIC_PORT, PVPANIC_CRASH_LOADED);
	ASSERT_EQ(p.vm.exit_kind, VM_EXIT_ERROR);
	ASSERT_EQ(p.vm.exit_status, 1);
	pf_close(&p);
}

/* What ACPICA's acpi_hw_extended_sleep() writes for S5: SLP_TYP << 2 | SLP_EN. */
#define PM_SLEEP(typ) ((uint8_t)((typ) << ACPI_PM_SLP_TYP_SHIFT | ACPI_PM_SLP_EN))

TEST(x86_acpi_pm_sleep_and_reset)
{
	uint16_t ctl = X86_ACPI_PM_PORT + ACPI_PM_SLEEP_CTL;
	uint16_t sts = X86_ACPI_PM_PORT + ACPI_PM_SLEEP_STS;
	uint16_t rst = X86_ACPI_PM_PORT + ACPI_PM_RESET;
	struct pf p;

	pf_open(&p);
	/* ACPICA first clears WAK_STS; it never becomes set, so the wake-up poll keeps going. */
	pio_out(&p, sts, ACPI_PM_WAK_STS);
	ASSERT_EQ(pio_in(&p, sts), 0);
	/* SLP_TYP without SLP_EN, S3 (not offered), S5 without SLP_EN: nothing happens. */
	pio_out(&p, ctl, ACPI_PM_SLP_TYP_S5 << ACPI_PM_SLP_TYP_SHIFT);
	pio_out(&p, ctl, PM_SLEEP(3));
	pio_out(&p, ctl, ACPI_PM_SLP_EN); /* S0 */
	pio_out(&p, rst, 0x42);		  /* not the reset value */
	pio_out(&p, X86_ACPI_PM_PORT + 3, 0xff);
	ASSERT_EQ(pio_in(&p, ctl), 0); /* write-only */
	ASSERT_EQ(p.vm.exit_kind, VM_EXIT_NONE);
	pio_out(&p, ctl, PM_SLEEP(ACPI_PM_SLP_TYP_S5));
	ASSERT_EQ(p.vm.exit_kind, VM_EXIT_POWEROFF);
	ASSERT_EQ(p.vm.exit_status, 0);
	ASSERT_EQ(pio_in(&p, sts) & ACPI_PM_WAK_STS, 0);
	/* The first reason sticks. */
	pio_out(&p, rst, ACPI_PM_RESET_VALUE);
	ASSERT_EQ(p.vm.exit_kind, VM_EXIT_POWEROFF);
	pf_close(&p);

	/* Reserved bits around SLP_TYP and SLP_EN do not matter. */
	pf_open(&p);
	pio_out(&p, ctl, PM_SLEEP(ACPI_PM_SLP_TYP_S5) | 0xc3);
	ASSERT_EQ(p.vm.exit_kind, VM_EXIT_POWEROFF);
	pf_close(&p);

	/* A 16-bit write is two byte writes: sleep control, then sleep status. */
	pf_open(&p);
	pio_out16(&p, ctl, (uint16_t)(ACPI_PM_WAK_STS << 8 | PM_SLEEP(ACPI_PM_SLP_TYP_S5)));
	ASSERT_EQ(p.vm.exit_kind, VM_EXIT_POWEROFF);
	pf_close(&p);

	pf_open(&p);
	pio_out(&p, rst, ACPI_PM_RESET_VALUE);
	ASSERT_EQ(p.vm.exit_kind, VM_EXIT_RESET);
	ASSERT_EQ(p.vm.exit_status, 0);
	pf_close(&p);
}

TEST(x86_ram_layout)
{
	struct gmem_region r[4];

	ASSERT_EQ(arch_ram_layout(256ULL << 20, r, 4), 1);
	ASSERT_EQ(r[0].gpa, 0);
	ASSERT_EQ(r[0].size, 256ULL << 20);
	ASSERT_EQ(arch_ram_layout(3ULL << 30, r, 4), 1);
	ASSERT_EQ(r[0].size, 3ULL << 30);
	ASSERT_EQ(arch_ram_layout(5ULL << 30, r, 4), 2);
	ASSERT_EQ(r[0].size, 3ULL << 30);
	ASSERT_EQ(r[1].gpa, 4ULL << 30);
	ASSERT_EQ(r[1].size, 2ULL << 30);
	ASSERT_ERR(arch_ram_layout(5ULL << 30, r, 1), -EINVAL);
	ASSERT_ERR(arch_ram_layout(0, r, 4), -EINVAL);
	ASSERT_ERR(arch_ram_layout((256ULL << 20) + 1, r, 4), -EINVAL);
	/* RAM never reaches the 64-bit PCI window. */
	ASSERT_ERR(arch_ram_layout(X86_PCI_MMIO64_BASE, r, 4), -EINVAL);
	ASSERT_TRUE(arch_min_mem() >= (2ULL << 20));
	ASSERT_TRUE(arch_max_vcpus() >= 4);
}

TEST(x86_virtio_mmio_slots)
{
	uint64_t base, size;
	uint32_t gsi;

	ASSERT_OK(arch_virtio_mmio_slot(0, &base, &size, &gsi));
	ASSERT_EQ(base, 0xd0000000ULL);
	ASSERT_EQ(size, 0x1000);
	ASSERT_EQ(gsi, 5);
	ASSERT_OK(arch_virtio_mmio_slot(10, &base, &size, &gsi));
	ASSERT_EQ(base, 0xd000a000ULL);
	ASSERT_EQ(gsi, 15);
	ASSERT_ERR(arch_virtio_mmio_slot(11, &base, &size, &gsi), -ENOSPC);
}

TEST(x86_pci_layout)
{
	struct arch_pci_layout l;
	uint64_t base, size;
	uint32_t gsi;

	memset(&l, 0xa5, sizeof(l));
	arch_pci_layout(&l);
	ASSERT_EQ(l.mmio32_base, 0xc0000000ULL);
	ASSERT_EQ(l.mmio32_size, 0x10000000ULL);
	ASSERT_EQ(l.ecam_base, 0xe0000000ULL);
	ASSERT_EQ(l.mmio64_base, 0x8000000000ULL);
	ASSERT_EQ(l.mmio64_size, 0x1000000000ULL);
	ASSERT_EQ(l.shm_base, 0x9000000000ULL);
	ASSERT_EQ(l.shm_size, 0x1000000000ULL);
	ASSERT_EQ(l.intx_gsi_base, 16);
	/* Nothing overlaps: low RAM, the 32-bit window, the virtio-mmio slots, the ECAM, the
	 * IOAPIC; the largest RAM ends below the 64-bit window, which ends below the shm one. */
	ASSERT_TRUE(l.mmio32_base >= X86_LOW_RAM_END);
	ASSERT_OK(arch_virtio_mmio_slot(0, &base, &size, &gsi));
	ASSERT_TRUE(l.mmio32_base + l.mmio32_size <= base);
	ASSERT_OK(arch_virtio_mmio_slot(X86_VIRTIO_MMIO_SLOTS - 1, &base, &size, &gsi));
	ASSERT_TRUE(base + size <= l.ecam_base);
	ASSERT_TRUE(gsi < l.intx_gsi_base);
	ASSERT_TRUE(l.ecam_base + (1ULL << 20) <= X86_IOAPIC_ADDR);
	ASSERT_TRUE(X86_HIGH_RAM_START + (256ULL << 30) <= l.mmio64_base);
	ASSERT_TRUE(l.mmio64_base + l.mmio64_size <= l.shm_base);
	ASSERT_TRUE(l.shm_base + l.shm_size <= (1ULL << 40));
	ASSERT_TRUE(l.intx_gsi_base + 8 <= 24); /* KVM's IOAPIC has 24 pins */
}
