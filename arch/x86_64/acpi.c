/* SPDX-License-Identifier: MIT */
#include "arch/x86_64/acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/aml.h"
#include "devices/legacy/acpi_pm.h"
#include "devices/pci/pci.h"
#include "vmm/arch.h"
#include "vmm/guest_mem.h"
#include "vmm/util.h"
#include "vmm/vm.h"

/* Table layouts from the ACPI 6.5 specification, chapter 5 "ACPI Software Programming Model". */

#define ACPI_OEM_ID	  "MICROV"
#define ACPI_OEM_TABLE_ID "MICROVM "
#define ACPI_CREATOR_ID	  "MVMM"

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

/* 5.2.5.3 "Root System Description Pointer (RSDP) Structure" */
struct acpi_rsdp {
	char signature[8];
	uint8_t checksum; /* over the first 20 bytes (the ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_addr;
	uint32_t length;
	uint64_t xsdt_addr;
	uint8_t ext_checksum; /* over the whole structure */
	uint8_t reserved[3];
} __attribute__((packed));

/* 5.2.3.2 "Generic Address Structure (GAS)" */
struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));

#define ACPI_GAS_SYSTEM_IO   1
#define ACPI_GAS_ACCESS_BYTE 1

/* 5.2.9 "Fixed ACPI Description Table (FADT)", revision 6 */
struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_fadt) == ACPI_FADT_SIZE, "FADT layout");
_Static_assert(sizeof(struct acpi_rsdp) == ACPI_RSDP_SIZE, "RSDP layout");

/* IA-PC boot architecture flags: no VGA to probe, no CMOS RTC; MSI supported (bit 3 clear);
 * no 8042 flag: the keyboard controller is a PNP0303 device in the DSDT instead, which is
 * how Linux's i8042 driver finds it (with its IRQ) in an ACPI machine. */
#define ACPI_IAPC_NO_VGA      (1u << 2)
#define ACPI_IAPC_NO_CMOS_RTC (1u << 5)
/* Fixed feature flags */
#define ACPI_FADT_WBINVD	(1u << 0)
#define ACPI_FADT_PWR_BUTTON	(1u << 4) /* no fixed-hardware power button */
#define ACPI_FADT_SLP_BUTTON	(1u << 5) /* no fixed-hardware sleep button */
#define ACPI_FADT_RESET_REG_SUP (1u << 10)
#define ACPI_FADT_HW_REDUCED	(1u << 20)
/* C2/C3 latencies above these limits mean "not supported". */
#define ACPI_FADT_NO_C2 101
#define ACPI_FADT_NO_C3 1001

/* 5.2.12 "Multiple APIC Description Table (MADT)" */
struct acpi_madt {
	struct acpi_header h;
	uint32_t lapic_addr;
	uint32_t flags;
} __attribute__((packed));

struct madt_lapic {
	uint8_t type, length;
	uint8_t uid, apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type, length;
	uint8_t id, reserved;
	uint32_t addr;
	uint32_t gsi_base;
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type, length;
	uint8_t uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

#define MADT_LAPIC	   0
#define MADT_IOAPIC	   1
#define MADT_LAPIC_NMI	   4
#define MADT_LAPIC_ENABLED 1
#define MADT_UID_ALL	   0xff
#define MADT_IOAPIC_ID	   0 /* KVM's IOAPIC resets its ID register to 0 */

/* PCI Firmware Specification 3.2, 4.1.2 "MCFG Table Description" */
struct acpi_mcfg {
	struct acpi_header h;
	uint8_t reserved[8];
	uint64_t ecam_base;
	uint16_t segment;
	uint8_t bus_start, bus_end;
	uint32_t reserved2;
} __attribute__((packed));

#define ACPI_TABLE_ALIGN 16
#define ACPI_XSDT_MAX	 3	/* FADT, MADT, MCFG */
#define ACPI_PCI_PRT_ALL 0xffff /* _PRT address: any function of the slot */
#define ACPI_PCI_PINS	 4	/* INTA# .. INTD# */
#define ACPI_4G		 0x100000000ULL

static uint8_t acpi_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + b[i]);
	return (uint8_t)-sum;
}

static void acpi_header_init(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = 1;
}

/* Set the checksum of a finished table of h->length bytes and copy it into the guest. */
static int acpi_put_table(const struct guest_mem *gm, uint64_t gpa, void *table)
{
	struct acpi_header *h = table;

	h->checksum = 0;
	h->checksum = acpi_checksum(table, h->length);
	return gmem_write(gm, gpa, table, h->length);
}

/* A byte-wide I/O port register. */
static struct acpi_gas acpi_io_gas8(uint16_t port)
{
	return (struct acpi_gas){.space_id = ACPI_GAS_SYSTEM_IO,
				 .bit_width = 8,
				 .bit_offset = 0,
				 .access_size = ACPI_GAS_ACCESS_BYTE,
				 .address = port};
}

static void acpi_fill_fadt(struct acpi_fadt *f, const struct acpi_config *cfg, uint64_t dsdt)
{
	memset(f, 0, sizeof(*f));
	acpi_header_init(&f->h, "FACP", sizeof(*f), ACPI_FADT_REVISION);
	f->minor_version = ACPI_FADT_MINOR;
	/* Both pointers, equal: ACPICA warns when they differ. No FACS in HW-reduced mode. */
	f->dsdt = (uint32_t)dsdt;
	f->x_dsdt = dsdt;
	/*
	 * SCI_INT 0, no SMI_CMD, no PM1/PM2/PM timer/GPE blocks: with HW_REDUCED_ACPI ACPICA
	 * installs no SCI handler and Linux sets up no SCI override, so none of them is read.
	 */
	f->flags = ACPI_FADT_WBINVD | ACPI_FADT_PWR_BUTTON | ACPI_FADT_SLP_BUTTON |
		   ACPI_FADT_RESET_REG_SUP | ACPI_FADT_HW_REDUCED;
	f->p_lvl2_lat = ACPI_FADT_NO_C2;
	f->p_lvl3_lat = ACPI_FADT_NO_C3;
	f->iapc_boot_arch = ACPI_IAPC_NO_VGA | ACPI_IAPC_NO_CMOS_RTC;
	f->reset_reg = acpi_io_gas8((uint16_t)(cfg->pm_port + ACPI_PM_RESET));
	f->reset_value = ACPI_PM_RESET_VALUE;
	f->sleep_control_reg = acpi_io_gas8((uint16_t)(cfg->pm_port + ACPI_PM_SLEEP_CTL));
	f->sleep_status_reg = acpi_io_gas8((uint16_t)(cfg->pm_port + ACPI_PM_SLEEP_STS));
	memcpy(&f->hypervisor_vendor_id, "MICROVM", 8);
}

static size_t acpi_madt_size(unsigned int n_cpus)
{
	return sizeof(struct acpi_madt) + n_cpus * sizeof(struct madt_lapic) +
	       sizeof(struct madt_ioapic) + sizeof(struct madt_lapic_nmi);
}

static void acpi_fill_madt(uint8_t *buf, size_t size, const struct acpi_config *cfg)
{
	struct acpi_madt *m = (struct acpi_madt *)buf;
	struct madt_lapic_nmi nmi = {
		.type = MADT_LAPIC_NMI, .length = sizeof(nmi), .uid = MADT_UID_ALL, .lint = 1};
	struct madt_ioapic io = {
		.type = MADT_IOAPIC,
		.length = sizeof(io),
		.id = MADT_IOAPIC_ID,
		.addr = (uint32_t)cfg->ioapic_addr,
		.gsi_base = 0,
	};
	size_t off = sizeof(*m);

	memset(buf, 0, size);
	acpi_header_init(&m->h, "APIC", (uint32_t)size, ACPI_MADT_REVISION);
	m->lapic_addr = (uint32_t)cfg->lapic_addr;
	/* Flags 0, not PCAT_COMPAT: the guest is to leave KVM's 8259 model alone. */
	m->flags = 0;
	for (unsigned int i = 0; i < cfg->n_cpus; i++) {
		struct madt_lapic l = {.type = MADT_LAPIC,
				       .length = sizeof(l),
				       .uid = (uint8_t)i,
				       .apic_id = (uint8_t)i,
				       .flags = MADT_LAPIC_ENABLED};

		memcpy(buf + off, &l, sizeof(l));
		off += sizeof(l);
	}
	memcpy(buf + off, &io, sizeof(io));
	off += sizeof(io);
	/* LINT1 of every local APIC is the NMI input. */
	memcpy(buf + off, &nmi, sizeof(nmi));
}

static void acpi_fill_mcfg(struct acpi_mcfg *m, const struct arch_pci_layout *pci)
{
	memset(m, 0, sizeof(*m));
	acpi_header_init(&m->h, "MCFG", sizeof(*m), ACPI_MCFG_REVISION);
	m->ecam_base = pci->ecam_base;
	m->segment = 0;
	m->bus_start = 0;
	m->bus_end = 0;
}

/* Name (_HID, EISAID (id)) or Name (_HID, "id") for IDs that are no EISA ID. */
static void acpi_dsdt_hid(struct aml *a, const char *id, bool eisa)
{
	aml_name(a, "_HID");
	if (eisa)
		aml_eisaid(a, id);
	else
		aml_string(a, id);
}

static void acpi_dsdt_int(struct aml *a, const char *name, uint64_t v)
{
	aml_name(a, name);
	aml_integer(a, v);
}

/* Device (name) { Name (_HID, hid) [Name (_UID, uid), when uid >= 0] Name (_CRS,
 * ResourceTemplate () { ... the caller's resources, then acpi_dsdt_dev_end(). The shape of every
 * platform device in the DSDT. */
static void acpi_dsdt_dev_begin(struct aml *a, const char *name, const char *hid, bool eisa,
				int64_t uid, size_t *dev, size_t *res)
{
	*dev = aml_device_begin(a, name);
	acpi_dsdt_hid(a, hid, eisa);
	if (uid >= 0)
		acpi_dsdt_int(a, "_UID", (uint64_t)uid);
	aml_name(a, "_CRS");
	*res = aml_restemplate_begin(a);
}

static void acpi_dsdt_dev_end(struct aml *a, size_t dev, size_t res)
{
	aml_restemplate_end(a, res);
	aml_end(a, dev);
}

/* Device (COM1) { PNP0501, _CRS: IO 8 ports, Interrupt (Edge, ActiveHigh, Exclusive) } */
static void acpi_dsdt_com1(struct aml *a, const struct acpi_config *cfg)
{
	size_t dev, res;

	acpi_dsdt_dev_begin(a, "COM1", "PNP0501", true, 0, &dev, &res);
	aml_res_io(a, cfg->com1_port, cfg->com1_port, 1, 8);
	aml_res_interrupt(a, true, false, false, cfg->com1_gsi);
	acpi_dsdt_dev_end(a, dev, res);
}

/* Device (PS2K) { PNP0303, _CRS: IO data port, IO command port, Interrupt (Edge) }: the i8042
 * keyboard, for Ctrl+Alt+Del from the API (Firecracker describes its i8042 the same way). */
static void acpi_dsdt_i8042(struct aml *a, const struct acpi_config *cfg)
{
	size_t dev, res;

	acpi_dsdt_dev_begin(a, "PS2K", "PNP0303", true, -1, &dev, &res);
	aml_res_io(a, cfg->i8042_data_port, cfg->i8042_data_port, 1, 1);
	aml_res_io(a, cfg->i8042_cmd_port, cfg->i8042_cmd_port, 1, 1);
	aml_res_interrupt(a, true, false, false, cfg->i8042_gsi);
	acpi_dsdt_dev_end(a, dev, res);
}

static void acpi_dsdt_pvpanic(struct aml *a, const struct acpi_config *cfg)
{
	size_t dev, res;

	acpi_dsdt_dev_begin(a, "PEVT", "QEMU0001", false, -1, &dev, &res);
	aml_res_io(a, cfg->pvpanic_port, cfg->pvpanic_port, 1, 1);
	acpi_dsdt_dev_end(a, dev, res);
}

/*
 * Device (VRnn) { Name (_HID, "LNRO0005") Name (_UID, n)
 *                 Name (_CRS, { Memory32Fixed (window), Interrupt (Edge, ActiveHigh) }) }
 * Linux's virtio_mmio driver matches LNRO0005 and takes the first memory and IRQ resources.
 */
static void acpi_dsdt_virtio_mmio(struct aml *a, unsigned int i, const struct vm_mmio_dev *d)
{
	static const char hex[] = "0123456789ABCDEF";
	char name[5] = {'V', 'R', hex[(i >> 4) & 0xf], hex[i & 0xf], 0};
	size_t dev, res;

	acpi_dsdt_dev_begin(a, name, "LNRO0005", false, i, &dev, &res);
	aml_res_mem32_fixed(a, true, (uint32_t)d->base, (uint32_t)d->size);
	aml_res_interrupt(a, true, false, false, d->gsi);
	acpi_dsdt_dev_end(a, dev, res);
}

/*
 * Device (PCI0): the host bridge of segment 0, bus 0.
 *   _CRS: bus 0-0; the CONFIG_ADDRESS/CONFIG_DATA ports (consumed); the 32-bit BAR window
 *   (non-prefetchable) and the 64-bit one (prefetchable). No I/O port window: the bus decodes
 *   no I/O BARs (virtio-pci has none), and a window would let Linux assign ports nobody serves.
 *   _PRT: for slots 1-31 and INTA#-INTD#, Package { slot << 16 | 0xffff, pin, Zero, GSI }
 *   with GSI = intx_gsi_base + (slot + pin) % 8, the swizzle the PCI bus code uses (Zero as
 *   the source: a GSI wired straight to the IOAPIC, level triggered, active low).
 */
static void acpi_dsdt_pci(struct aml *a, const struct arch_pci_layout *pci)
{
	size_t dev, res, prt, entry;

	dev = aml_device_begin(a, "PCI0");
	acpi_dsdt_hid(a, "PNP0A08", true); /* PCI Express root bridge: ECAM */
	aml_name(a, "_CID");
	aml_eisaid(a, "PNP0A03"); /* PCI root bridge */
	acpi_dsdt_int(a, "_ADR", 0);
	acpi_dsdt_int(a, "_SEG", 0);
	acpi_dsdt_int(a, "_BBN", 0);
	acpi_dsdt_int(a, "_UID", 0);

	aml_name(a, "_CRS");
	res = aml_restemplate_begin(a);
	aml_res_word_bus_number(a, 0, 0);
	aml_res_io(a, 0xcf8, 0xcf8, 1, 8);
	aml_res_dword_memory(a, false, (uint32_t)pci->mmio32_base,
			     (uint32_t)(pci->mmio32_base + pci->mmio32_size - 1));
	aml_res_qword_memory(a, true, pci->mmio64_base, pci->mmio64_base + pci->mmio64_size - 1);
	aml_restemplate_end(a, res);

	aml_name(a, "_PRT");
	prt = aml_package_begin(a, (PCI_MAX_DEVICES - 1) * ACPI_PCI_PINS);
	for (unsigned int slot = 1; slot < PCI_MAX_DEVICES; slot++) {
		for (unsigned int pin = 0; pin < ACPI_PCI_PINS; pin++) {
			entry = aml_package_begin(a, 4);
			aml_integer(a, (uint64_t)slot << 16 | ACPI_PCI_PRT_ALL);
			aml_integer(a, pin);
			aml_integer(a, 0);
			aml_integer(a, pci->intx_gsi_base + (slot + pin) % PCI_NUM_INTX_GSIS);
			aml_end(a, entry);
		}
	}
	aml_end(a, prt);
	aml_end(a, dev);

	/* Motherboard resources: Linux uses the MCFG's ECAM only if something reserves it. */
	dev = aml_device_begin(a, "RES0");
	acpi_dsdt_hid(a, "PNP0C02", true);
	acpi_dsdt_int(a, "_UID", 0);
	aml_name(a, "_CRS");
	res = aml_restemplate_begin(a);
	aml_res_mem32_fixed(a, true, (uint32_t)pci->ecam_base, (uint32_t)PCI_ECAM_BUS_SIZE);
	aml_restemplate_end(a, res);
	aml_end(a, dev);
}

/* The DSDT body: Name (\_S5, Package (4) { S5, S5, 0, 0 }) and Scope (\_SB) { devices }. */
static void acpi_dsdt_body(struct aml *a, const struct acpi_config *cfg)
{
	size_t scope, pkg;

	aml_name(a, "\\_S5");
	pkg = aml_package_begin(a, 4);
	aml_integer(a, ACPI_PM_SLP_TYP_S5); /* SLP_TYPa: what goes into SLEEP_CONTROL_REG */
	aml_integer(a, ACPI_PM_SLP_TYP_S5); /* SLP_TYPb */
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a, pkg);

	scope = aml_scope_begin(a, "\\_SB");
	if (cfg->com1_port)
		acpi_dsdt_com1(a, cfg);
	if (cfg->i8042_data_port)
		acpi_dsdt_i8042(a, cfg);
	if (cfg->pvpanic_port)
		acpi_dsdt_pvpanic(a, cfg);
	for (unsigned int i = 0; i < cfg->n_mmio_devs; i++)
		acpi_dsdt_virtio_mmio(a, i, &cfg->mmio_devs[i]);
	if (cfg->pci)
		acpi_dsdt_pci(a, cfg->pci);
	aml_end(a, scope);
}

/* Only what the tables can express: 8-bit APIC IDs, 32-bit windows where they must be. */
static bool acpi_config_ok(const struct acpi_config *cfg)
{
	const struct arch_pci_layout *pci = cfg->pci;

	if (cfg->n_cpus == 0 || cfg->n_cpus > ACPI_MAX_CPUS ||
	    cfg->n_mmio_devs > ACPI_MAX_MMIO_DEVS || (cfg->n_mmio_devs && !cfg->mmio_devs))
		return false;
	for (unsigned int i = 0; i < cfg->n_mmio_devs; i++) {
		const struct vm_mmio_dev *d = &cfg->mmio_devs[i];

		if (d->size == 0 || d->base >= ACPI_4G || d->size > ACPI_4G - d->base)
			return false;
	}
	if (!pci)
		return true;
	return pci->ecam_base < ACPI_4G && PCI_ECAM_BUS_SIZE <= ACPI_4G - pci->ecam_base &&
	       pci->mmio32_size && pci->mmio32_base < ACPI_4G &&
	       pci->mmio32_size <= ACPI_4G - pci->mmio32_base && pci->mmio64_size &&
	       pci->mmio64_size - 1 <= UINT64_MAX - pci->mmio64_base;
}

int acpi_build(const struct guest_mem *gm, const struct acpi_config *cfg, uint64_t base,
	       uint64_t end)
{
	uint64_t rsdp_addr, xsdt_addr, fadt_addr, madt_addr, mcfg_addr, dsdt_addr, top;
	uint64_t entries[ACPI_XSDT_MAX];
	size_t madt_size, xsdt_size, dsdt_size;
	unsigned int n_entries = 0;
	struct acpi_rsdp rsdp;
	struct acpi_fadt fadt;
	struct acpi_mcfg mcfg;
	uint8_t *madt = NULL, *xsdt = NULL, *dsdt = NULL;
	struct aml body;
	int r;

	if (!acpi_config_ok(cfg))
		return -EINVAL;
	aml_init(&body);
	acpi_dsdt_body(&body, cfg);
	if (body.err) {
		r = body.err;
		goto out;
	}
	madt_size = acpi_madt_size(cfg->n_cpus);
	xsdt_size = sizeof(struct acpi_header) + (cfg->pci ? 3 : 2) * sizeof(entries[0]);
	dsdt_size = sizeof(struct acpi_header) + body.len;

	rsdp_addr = ALIGN_UP(base, ACPI_TABLE_ALIGN);
	xsdt_addr = ALIGN_UP(rsdp_addr + sizeof(rsdp), ACPI_TABLE_ALIGN);
	fadt_addr = ALIGN_UP(xsdt_addr + xsdt_size, ACPI_TABLE_ALIGN);
	madt_addr = ALIGN_UP(fadt_addr + sizeof(fadt), ACPI_TABLE_ALIGN);
	mcfg_addr = ALIGN_UP(madt_addr + madt_size, ACPI_TABLE_ALIGN);
	dsdt_addr = ALIGN_UP(mcfg_addr + (cfg->pci ? sizeof(mcfg) : 0), ACPI_TABLE_ALIGN);
	top = dsdt_addr + dsdt_size;
	if (top > end || top > UINT32_MAX) {
		r = -ENOSPC;
		goto out;
	}

	madt = malloc(madt_size);
	xsdt = malloc(xsdt_size);
	dsdt = malloc(dsdt_size);
	if (!madt || !xsdt || !dsdt) {
		r = -ENOMEM;
		goto out;
	}

	acpi_header_init((struct acpi_header *)dsdt, "DSDT", (uint32_t)dsdt_size,
			 ACPI_DSDT_REVISION);
	memcpy(dsdt + sizeof(struct acpi_header), body.buf, body.len);
	r = acpi_put_table(gm, dsdt_addr, dsdt);
	if (r < 0)
		goto out;

	acpi_fill_fadt(&fadt, cfg, dsdt_addr);
	r = acpi_put_table(gm, fadt_addr, &fadt);
	if (r < 0)
		goto out;
	entries[n_entries++] = fadt_addr;

	acpi_fill_madt(madt, madt_size, cfg);
	r = acpi_put_table(gm, madt_addr, madt);
	if (r < 0)
		goto out;
	entries[n_entries++] = madt_addr;

	if (cfg->pci) {
		acpi_fill_mcfg(&mcfg, cfg->pci);
		r = acpi_put_table(gm, mcfg_addr, &mcfg);
		if (r < 0)
			goto out;
		entries[n_entries++] = mcfg_addr;
	}

	acpi_header_init((struct acpi_header *)xsdt, "XSDT", (uint32_t)xsdt_size, 1);
	memcpy(xsdt + sizeof(struct acpi_header), entries, n_entries * sizeof(entries[0]));
	r = acpi_put_table(gm, xsdt_addr, xsdt);
	if (r < 0)
		goto out;

	/* ACPI 2.0+ RSDP: the XSDT only (no RSDT), so 64-bit addresses throughout. */
	memset(&rsdp, 0, sizeof(rsdp));
	memcpy(rsdp.signature, "RSD PTR ", 8);
	memcpy(rsdp.oem_id, ACPI_OEM_ID, 6);
	rsdp.revision = 2;
	rsdp.length = sizeof(rsdp);
	rsdp.xsdt_addr = xsdt_addr;
	rsdp.checksum = acpi_checksum(&rsdp, 20);
	rsdp.ext_checksum = acpi_checksum(&rsdp, sizeof(rsdp));
	r = gmem_write(gm, rsdp_addr, &rsdp, sizeof(rsdp));
out:
	free(madt);
	free(xsdt);
	free(dsdt);
	aml_free(&body);
	return r;
}
