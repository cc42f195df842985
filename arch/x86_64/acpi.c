/* SPDX-License-Identifier: MIT */
#include "arch/x86_64/acpi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/aml.h"
#include "devices/legacy/acpi_pm.h"
#include "vmm/guest_mem.h"
#include "vmm/util.h"

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
#define ACPI_GAS_ACCESS_WORD 2

/* 5.2.10 "Firmware ACPI Control Structure (FACS)": no waking vector, no global lock owner. */
struct acpi_facs {
	char signature[4];
	uint32_t length;
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version;
	uint8_t reserved[3];
	uint32_t ospm_flags;
	uint8_t reserved2[24];
} __attribute__((packed));

#define ACPI_FACS_SIZE	  64
#define ACPI_FACS_ALIGN	  64
#define ACPI_FACS_VERSION 2

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
_Static_assert(sizeof(struct acpi_facs) == ACPI_FACS_SIZE, "FACS layout");

/* IA-PC boot architecture flags: no VGA to probe, no CMOS RTC; no 8042 flag, so Linux does
 * not probe the keyboard controller (the i8042 ports still exist for the reset line). */
#define ACPI_IAPC_NO_VGA      (1u << 2)
#define ACPI_IAPC_NO_CMOS_RTC (1u << 5)
/* Fixed feature flags */
#define ACPI_FADT_WBINVD	(1u << 0)
#define ACPI_FADT_PWR_BUTTON	(1u << 4) /* no fixed-hardware power button */
#define ACPI_FADT_SLP_BUTTON	(1u << 5) /* no fixed-hardware sleep button */
#define ACPI_FADT_RESET_REG_SUP (1u << 10)
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

struct madt_iso {
	uint8_t type, length;
	uint8_t bus, source;
	uint32_t gsi;
	uint16_t flags;
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type, length;
	uint8_t uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

#define MADT_LAPIC	   0
#define MADT_IOAPIC	   1
#define MADT_ISO	   2
#define MADT_LAPIC_NMI	   4
#define MADT_LAPIC_ENABLED 1
#define MADT_UID_ALL	   0xff
#define MADT_PCAT_COMPAT   1 /* flags: dual 8259 PICs present */
/* MPS INTI flags: active high (01), edge triggered (01 << 2), as the ISA bus has it. */
#define MADT_INTI_EDGE_HIGH 0x0005
#define MADT_IOAPIC_ID	    0 /* KVM's IOAPIC resets its ID register to 0 */

#define ACPI_TABLE_ALIGN 16

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

/* An I/O port register of bits width, accessed in units of access (1 byte, 2 word). */
static struct acpi_gas acpi_io_gas(uint16_t port, uint8_t bits, uint8_t access)
{
	return (struct acpi_gas){.space_id = ACPI_GAS_SYSTEM_IO,
				 .bit_width = bits,
				 .bit_offset = 0,
				 .access_size = access,
				 .address = port};
}

static void acpi_fill_fadt(struct acpi_fadt *f, const struct acpi_config *cfg, uint64_t dsdt,
			   uint64_t facs)
{
	uint16_t evt = (uint16_t)(cfg->pm_port + ACPI_PM1_STS);
	uint16_t cnt = (uint16_t)(cfg->pm_port + ACPI_PM1_CNT);

	memset(f, 0, sizeof(*f));
	acpi_header_init(&f->h, "FACP", sizeof(*f), ACPI_FADT_REVISION);
	f->minor_version = ACPI_FADT_MINOR;
	/* The 32-bit pointers only: ACPICA uses them when the X_ ones are zero. */
	f->firmware_ctrl = (uint32_t)facs;
	f->dsdt = (uint32_t)dsdt;
	f->x_dsdt = dsdt;
	/*
	 * The SCI is wired to a pin nobody else drives; with SMI_CMD 0 the platform is always
	 * in ACPI mode, so the SCI would only ever report fixed events, and none are enabled.
	 */
	f->sci_int = cfg->sci_gsi;
	f->pm1a_evt_blk = evt;
	f->pm1a_cnt_blk = cnt;
	f->pm1_evt_len = ACPI_PM1_EVT_LEN;
	f->pm1_cnt_len = ACPI_PM1_CNT_LEN;
	f->x_pm1a_evt_blk = acpi_io_gas(evt, 8 * ACPI_PM1_EVT_LEN, ACPI_GAS_ACCESS_WORD);
	f->x_pm1a_cnt_blk = acpi_io_gas(cnt, 8 * ACPI_PM1_CNT_LEN, ACPI_GAS_ACCESS_WORD);
	/* No PM timer, GPE blocks, C2/C3 or P_BLK: kvm-clock and the LAPIC timer suffice. */
	f->p_lvl2_lat = ACPI_FADT_NO_C2;
	f->p_lvl3_lat = ACPI_FADT_NO_C3;
	f->flags = ACPI_FADT_WBINVD | ACPI_FADT_PWR_BUTTON | ACPI_FADT_SLP_BUTTON |
		   ACPI_FADT_RESET_REG_SUP;
	f->iapc_boot_arch = ACPI_IAPC_NO_VGA | ACPI_IAPC_NO_CMOS_RTC;
	f->reset_reg =
		acpi_io_gas((uint16_t)(cfg->pm_port + ACPI_PM_RESET), 8, ACPI_GAS_ACCESS_BYTE);
	f->reset_value = ACPI_PM_RESET_VALUE;
	memcpy(&f->hypervisor_vendor_id, "MICROVM", 8);
}

static size_t acpi_madt_size(unsigned int n_cpus)
{
	return sizeof(struct acpi_madt) + n_cpus * sizeof(struct madt_lapic) +
	       sizeof(struct madt_ioapic) + sizeof(struct madt_iso) + sizeof(struct madt_lapic_nmi);
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
	/* The PIT's IRQ 0 arrives on IOAPIC pin 2, as on every PC (and in KVM's routing). */
	struct madt_iso iso0 = {.type = MADT_ISO,
				.length = sizeof(iso0),
				.bus = 0,
				.source = 0,
				.gsi = 2,
				.flags = MADT_INTI_EDGE_HIGH};
	size_t off = sizeof(*m);

	memset(buf, 0, size);
	acpi_header_init(&m->h, "APIC", (uint32_t)size, ACPI_MADT_REVISION);
	m->lapic_addr = (uint32_t)cfg->lapic_addr;
	/* KVM's in-kernel irqchip has the two 8259s; declaring them keeps GSI n = IRQ n. */
	m->flags = MADT_PCAT_COMPAT;
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
	/* ISA IRQs 1-15 keep the default identity mapping, edge triggered and active high. */
	memcpy(buf + off, &iso0, sizeof(iso0));
	off += sizeof(iso0);
	/* LINT1 of every local APIC is the NMI input. */
	memcpy(buf + off, &nmi, sizeof(nmi));
}

/*
 * The DSDT body:
 *   Name (\_S5, Package (4) { S5, S5, 0, 0 })
 *   Scope (\_SB) { Device (PEVT) { Name (_HID, "QEMU0001")
 *                                  Name (_CRS, ResourceTemplate () { IO (...) }) } }
 */
static void acpi_dsdt_body(struct aml *a, const struct acpi_config *cfg)
{
	size_t scope, dev, pkg, res;

	aml_name(a, "\\_S5");
	pkg = aml_package_begin(a, 4);
	aml_integer(a, ACPI_PM_SLP_TYP_S5); /* SLP_TYPa */
	aml_integer(a, ACPI_PM_SLP_TYP_S5); /* SLP_TYPb */
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a, pkg);

	scope = aml_scope_begin(a, "\\_SB");
	if (cfg->pvpanic_port) {
		dev = aml_device_begin(a, "PEVT");
		aml_name(a, "_HID");
		aml_string(a, "QEMU0001");
		aml_name(a, "_CRS");
		res = aml_restemplate_begin(a);
		aml_res_io(a, cfg->pvpanic_port, cfg->pvpanic_port, 1, 1);
		aml_restemplate_end(a, res);
		aml_end(a, dev);
	}
	aml_end(a, scope);
}

int acpi_build(const struct guest_mem *gm, const struct acpi_config *cfg, uint64_t base,
	       uint64_t end)
{
	uint64_t rsdp_addr, xsdt_addr, fadt_addr, madt_addr, dsdt_addr, facs_addr, top;
	size_t madt_size, xsdt_size, dsdt_size;
	struct acpi_rsdp rsdp;
	struct acpi_fadt fadt;
	struct acpi_facs facs;
	uint8_t *madt = NULL, *xsdt = NULL, *dsdt = NULL;
	struct aml body;
	uint64_t entries[2];
	int r;

	if (cfg->n_cpus == 0 || cfg->n_cpus > ACPI_MAX_CPUS)
		return -EINVAL;
	aml_init(&body);
	acpi_dsdt_body(&body, cfg);
	if (body.err) {
		r = body.err;
		goto out;
	}
	madt_size = acpi_madt_size(cfg->n_cpus);
	xsdt_size = sizeof(struct acpi_header) + sizeof(entries);
	dsdt_size = sizeof(struct acpi_header) + body.len;

	rsdp_addr = ALIGN_UP(base, ACPI_TABLE_ALIGN);
	xsdt_addr = ALIGN_UP(rsdp_addr + sizeof(rsdp), ACPI_TABLE_ALIGN);
	fadt_addr = ALIGN_UP(xsdt_addr + xsdt_size, ACPI_TABLE_ALIGN);
	madt_addr = ALIGN_UP(fadt_addr + sizeof(fadt), ACPI_TABLE_ALIGN);
	dsdt_addr = ALIGN_UP(madt_addr + madt_size, ACPI_TABLE_ALIGN);
	facs_addr = ALIGN_UP(dsdt_addr + dsdt_size, ACPI_FACS_ALIGN);
	top = facs_addr + sizeof(facs);
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

	acpi_fill_madt(madt, madt_size, cfg);
	r = acpi_put_table(gm, madt_addr, madt);
	if (r < 0)
		goto out;

	/* The FACS has no checksum; the OS owns its fields once booted. */
	memset(&facs, 0, sizeof(facs));
	memcpy(facs.signature, "FACS", 4);
	facs.length = sizeof(facs);
	facs.version = ACPI_FACS_VERSION;
	r = gmem_write(gm, facs_addr, &facs, sizeof(facs));
	if (r < 0)
		goto out;

	acpi_fill_fadt(&fadt, cfg, dsdt_addr, facs_addr);
	r = acpi_put_table(gm, fadt_addr, &fadt);
	if (r < 0)
		goto out;

	entries[0] = fadt_addr;
	entries[1] = madt_addr;
	acpi_header_init((struct acpi_header *)xsdt, "XSDT", (uint32_t)xsdt_size, 1);
	memcpy(xsdt + sizeof(struct acpi_header), entries, sizeof(entries));
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
