/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/aml.h"
#include "arch/x86_64/layout.h"
#include "devices/legacy/acpi_pm.h"
#include "tests/harness.h"
#include "vmm/arch.h"
#include "vmm/guest_mem.h"
#include "vmm/vm.h"

#define ACPI_TEST_RAM (2u << 20)

static uint8_t acpi_sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* Check a table's checksum and signature; returns a host pointer to it. */
static const uint8_t *acpi_table(struct guest_mem *gm, uint64_t gpa, const char *sig)
{
	const uint8_t *h = gmem_range(gm, gpa, 36);
	uint32_t len;

	ASSERT_TRUE(h != NULL);
	ASSERT_MEM_EQ(h, sig, 4);
	len = rd32(h + 4);
	ASSERT_TRUE(len >= 36);
	h = gmem_range(gm, gpa, len);
	ASSERT_TRUE(h != NULL);
	ASSERT_EQ(acpi_sum(h, len), 0);
	return h;
}

static void acpi_guest(struct guest_mem *gm, uint8_t **ram)
{
	*ram = calloc(1, ACPI_TEST_RAM);
	ASSERT_TRUE(*ram != NULL);
	gmem_init_empty(gm);
	ASSERT_OK(gmem_add_region(gm, 0, *ram, ACPI_TEST_RAM));
}

static const struct vm_mmio_dev acpi_test_mmio[3] = {
	{.base = 0xd0000000, .size = 0x1000, .gsi = 5},
	{.base = 0xd0001000, .size = 0x1000, .gsi = 6},
	{.base = 0xd0002000, .size = 0x1000, .gsi = 7},
};

static const struct arch_pci_layout acpi_test_pci = {
	.ecam_base = X86_PCI_ECAM_BASE,
	.mmio32_base = X86_PCI_MMIO32_BASE,
	.mmio32_size = X86_PCI_MMIO32_SIZE,
	.mmio64_base = X86_PCI_MMIO64_BASE,
	.mmio64_size = X86_PCI_MMIO64_SIZE,
	.intx_gsi_base = X86_PCI_INTX_GSI0,
};

static const struct acpi_config acpi_test_cfg = {
	.n_cpus = 3,
	.pm_port = X86_ACPI_PM_PORT,
	.pvpanic_port = X86_PVPANIC_PORT,
	.com1_port = X86_COM1_PORT,
	.i8042_data_port = X86_I8042_DATA_PORT,
	.i8042_cmd_port = X86_I8042_CMD_PORT,
	.i8042_gsi = X86_I8042_GSI,
	.com1_gsi = X86_COM1_GSI,
	.ioapic_addr = X86_IOAPIC_ADDR,
	.lapic_addr = X86_LAPIC_ADDR,
	.mmio_devs = acpi_test_mmio,
	.n_mmio_devs = 3,
	.pci = &acpi_test_pci,
};

/* The tables acpi_build() wrote, found the way an OS finds them (RSDP -> XSDT -> ...). */
struct acpi_found {
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *mcfg, *dsdt;
	unsigned int n_xsdt;
	const uint8_t *aml; /* DSDT body */
	size_t aml_len;
};

static void acpi_find(struct guest_mem *gm, struct acpi_found *f)
{
	memset(f, 0, sizeof(*f));
	f->rsdp = gmem_range(gm, X86_ACPI_ADDR, ACPI_RSDP_SIZE);
	ASSERT_TRUE(f->rsdp != NULL);
	ASSERT_MEM_EQ(f->rsdp, "RSD PTR ", 8);
	f->xsdt = acpi_table(gm, rd64(f->rsdp + 24), "XSDT");
	f->n_xsdt = (rd32(f->xsdt + 4) - 36) / 8;
	for (unsigned int i = 0; i < f->n_xsdt; i++) {
		uint64_t gpa = rd64(f->xsdt + 36 + 8 * i);
		const uint8_t *t = gmem_range(gm, gpa, 4);

		ASSERT_TRUE(t != NULL);
		if (!memcmp(t, "FACP", 4))
			f->fadt = acpi_table(gm, gpa, "FACP");
		else if (!memcmp(t, "APIC", 4))
			f->madt = acpi_table(gm, gpa, "APIC");
		else if (!memcmp(t, "MCFG", 4))
			f->mcfg = acpi_table(gm, gpa, "MCFG");
		else
			ASSERT_TRUE(false); /* a table nobody asked for */
	}
	ASSERT_TRUE(f->fadt != NULL && f->madt != NULL);
	f->dsdt = acpi_table(gm, rd64(f->fadt + 140), "DSDT");
	f->aml = f->dsdt + 36;
	f->aml_len = rd32(f->dsdt + 4) - 36;
}

/* cfg's tables built into a fresh guest (the caller frees *ram), then found. */
static void acpi_build_found(const struct acpi_config *cfg, struct guest_mem *gm, uint8_t **ram,
			     struct acpi_found *f)
{
	acpi_guest(gm, ram);
	ASSERT_OK(acpi_build(gm, cfg, X86_ACPI_ADDR, X86_ACPI_END));
	acpi_find(gm, f);
}

/* How often the byte string occurs in the DSDT body. */
static unsigned int aml_count(const struct acpi_found *f, const void *pat, size_t n)
{
	const uint8_t *p = f->aml, *end = f->aml + f->aml_len, *hit;
	unsigned int c = 0;

	while ((hit = memmem(p, (size_t)(end - p), pat, n)) != NULL) {
		c++;
		p = hit + 1;
	}
	return c;
}

/* AML decoding for the _PRT: a PkgLength (returns the length it encodes, which counts its
 * own bytes) and an integer (ZeroOp, OneOp, Byte/Word/DWord/QWord prefixes). */
static size_t aml_pkglen(const uint8_t **p)
{
	const uint8_t *b = *p;
	unsigned int follow = b[0] >> 6;
	size_t len;

	if (follow == 0) {
		*p += 1;
		return b[0] & 0x3f;
	}
	len = b[0] & 0x0f;
	for (unsigned int i = 1; i <= follow; i++)
		len |= (size_t)b[i] << (4 + 8 * (i - 1));
	*p += 1 + follow;
	return len;
}

static uint64_t aml_int(const uint8_t **p)
{
	const uint8_t *b = *p;
	unsigned int n;
	uint64_t v = 0;

	switch (b[0]) {
	case 0x00:
	case 0x01:
		*p += 1;
		return b[0];
	case 0x0a:
		n = 1;
		break;
	case 0x0b:
		n = 2;
		break;
	case 0x0c:
		n = 4;
		break;
	case 0x0e:
		n = 8;
		break;
	default:
		ASSERT_TRUE(false); /* not an integer */
		return 0;
	}
	memcpy(&v, b + 1, n);
	*p += 1 + n;
	return v;
}

TEST(x86_acpi_table_links)
{
	struct acpi_found f;
	struct guest_mem gm;
	uint8_t *ram;

	acpi_build_found(&acpi_test_cfg, &gm, &ram, &f);
	ASSERT_EQ(f.rsdp[15], 2);			/* revision */
	ASSERT_EQ(acpi_sum(f.rsdp, 20), 0);		/* ACPI 1.0 checksum */
	ASSERT_EQ(acpi_sum(f.rsdp, ACPI_RSDP_SIZE), 0); /* extended checksum */
	ASSERT_EQ(rd32(f.rsdp + 16), 0);		/* no RSDT */
	ASSERT_EQ(rd32(f.rsdp + 20), ACPI_RSDP_SIZE);
	ASSERT_EQ(f.n_xsdt, 3);
	ASSERT_TRUE(f.mcfg != NULL);
	ASSERT_EQ(rd32(f.madt + 36), X86_LAPIC_ADDR);
	ASSERT_TRUE(f.dsdt[8] >= 2); /* 64-bit integers */
	/* Every table lies inside the reserved BIOS area. */
	ASSERT_TRUE(rd64(f.rsdp + 24) >= X86_ACPI_ADDR && rd64(f.rsdp + 24) < X86_ACPI_END);
	ASSERT_TRUE(rd64(f.fadt + 140) + rd32(f.dsdt + 4) <= X86_ACPI_END);
	free(ram);
}

TEST(x86_acpi_fadt_hw_reduced)
{
	const uint8_t *fadt;
	struct acpi_found f;
	struct guest_mem gm;
	uint32_t flags;
	uint16_t iapc;
	uint8_t *ram;

	acpi_build_found(&acpi_test_cfg, &gm, &ram, &f);
	fadt = f.fadt;
	ASSERT_EQ(rd32(fadt + 4), ACPI_FADT_SIZE);
	ASSERT_EQ(fadt[8], 6);	 /* revision 6 ... */
	ASSERT_EQ(fadt[131], 5); /* ... .5 */
	flags = rd32(fadt + 112);
	ASSERT_TRUE(flags & (1u << 20));	      /* HW_REDUCED_ACPI */
	ASSERT_TRUE(flags & (1u << 10));	      /* RESET_REG_SUP */
	ASSERT_EQ(rd64(fadt + 140), rd32(fadt + 40)); /* X_DSDT == DSDT */
	/* No FACS, SCI, SMI command port or fixed-hardware blocks. */
	ASSERT_EQ(rd32(fadt + 36), 0);		     /* FIRMWARE_CTRL */
	ASSERT_EQ(rd64(fadt + 132), 0);		     /* X_FIRMWARE_CTRL */
	ASSERT_EQ(fadt[46] | fadt[47] << 8, 0);	     /* SCI_INT */
	ASSERT_EQ(rd32(fadt + 48), 0);		     /* SMI_CMD */
	for (unsigned int off = 56; off < 96; off++) /* PM1x, PM2, PM_TMR, GPEx and lengths */
		ASSERT_EQ(fadt[off], 0);
	for (unsigned int off = 148; off < 244; off++) /* X_PM1a_EVT_BLK .. X_GPE1_BLK */
		ASSERT_EQ(fadt[off], 0);
	/* IAPC_BOOT_ARCH: no VGA, no CMOS RTC, no 8042; MSI supported (bit 3 clear). */
	iapc = (uint16_t)(fadt[109] | fadt[110] << 8);
	ASSERT_EQ(iapc, (1u << 2) | (1u << 5));
	/* Reset register: system I/O, 8 bits, byte access, value 1. */
	ASSERT_EQ(fadt[116], 1);
	ASSERT_EQ(fadt[117], 8);
	ASSERT_EQ(fadt[118], 0);
	ASSERT_EQ(fadt[119], 1);
	ASSERT_EQ(rd64(fadt + 120), X86_ACPI_PM_PORT + ACPI_PM_RESET);
	ASSERT_EQ(fadt[128], ACPI_PM_RESET_VALUE);
	/* SLEEP_CONTROL_REG and SLEEP_STATUS_REG: the acpi_pm device's bytes. */
	ASSERT_EQ(fadt[244], 1);
	ASSERT_EQ(fadt[245], 8);
	ASSERT_EQ(fadt[247], 1);
	ASSERT_EQ(rd64(fadt + 248), X86_ACPI_PM_PORT + ACPI_PM_SLEEP_CTL);
	ASSERT_EQ(fadt[256], 1);
	ASSERT_EQ(fadt[257], 8);
	ASSERT_EQ(fadt[259], 1);
	ASSERT_EQ(rd64(fadt + 260), X86_ACPI_PM_PORT + ACPI_PM_SLEEP_STS);
	ASSERT_MEM_EQ(fadt + 268, "MICROVM", 8);
	free(ram);
}

TEST(x86_acpi_madt_cpus)
{
	unsigned int lapics = 0, ioapics = 0, nmis = 0;
	struct acpi_config cfg = acpi_test_cfg;
	struct acpi_found f;
	struct guest_mem gm;
	uint32_t len;
	uint8_t *ram;

	cfg.n_cpus = 7;
	acpi_build_found(&cfg, &gm, &ram, &f);
	len = rd32(f.madt + 4);
	ASSERT_EQ(rd32(f.madt + 40), 0); /* not PCAT_COMPAT: no 8259s for the guest */
	for (uint32_t off = 44; off < len; off += f.madt[off + 1]) {
		const uint8_t *e = f.madt + off;

		ASSERT_TRUE(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0: /* local APIC: UID = APIC ID = index, enabled */
			ASSERT_EQ(e[2], lapics);
			ASSERT_EQ(e[3], lapics);
			ASSERT_EQ(rd32(e + 4) & 1, 1);
			lapics++;
			break;
		case 1:
			ASSERT_EQ(rd32(e + 4), X86_IOAPIC_ADDR);
			ASSERT_EQ(rd32(e + 8), 0); /* GSI base */
			ioapics++;
			break;
		case 4:
			ASSERT_EQ(e[2], 0xff);
			ASSERT_EQ(e[5], 1); /* LINT1 */
			nmis++;
			break;
		default: /* no interrupt source overrides: there is no ISA bus */
			ASSERT_TRUE(false);
		}
	}
	ASSERT_EQ(lapics, 7);
	ASSERT_EQ(ioapics, 1);
	ASSERT_EQ(nmis, 1);
	free(ram);
}

TEST(x86_acpi_mcfg)
{
	struct acpi_found f;
	struct guest_mem gm;
	uint8_t *ram;

	acpi_build_found(&acpi_test_cfg, &gm, &ram, &f);
	ASSERT_EQ(rd32(f.mcfg + 4), 36 + 8 + 16); /* one allocation */
	ASSERT_EQ(f.mcfg[8], 1);
	for (unsigned int i = 36; i < 44; i++)
		ASSERT_EQ(f.mcfg[i], 0);
	ASSERT_EQ(rd64(f.mcfg + 44), X86_PCI_ECAM_BASE);
	ASSERT_EQ(f.mcfg[52] | f.mcfg[53] << 8, 0); /* segment */
	ASSERT_EQ(f.mcfg[54], 0);		    /* start bus */
	ASSERT_EQ(f.mcfg[55], 0);		    /* end bus */
	free(ram);
}

TEST(x86_acpi_dsdt_platform_devices)
{
	/* Name (\_S5_, Package (4) { 5, 5, 0, 0 }) */
	static const uint8_t s5[] = {0x08, '\\', '_',  'S',  '5',  '_',	 0x12, 0x08,
				     0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00};
	/* pvpanic: IO (Decode16, 0x505, 0x505, 1, 1) and the end tag */
	static const uint8_t pvpanic[] = {0x47, 0x01, 0x05, 0x05, 0x05,
					  0x05, 0x01, 0x01, 0x79, 0x00};
	/* COM1: _HID EISAID ("PNP0501"); IO (0x3f8, 8 ports), Interrupt (Edge, High) { 4 } */
	static const uint8_t com1_hid[] = {0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01};
	static const uint8_t com1_crs[] = {0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, 0x89,
					   0x06, 0x00, 0x03, 0x01, 0x04, 0x00, 0x00, 0x00, 0x79};
	/* PS2K: _HID EISAID ("PNP0303"); IO (0x60, 1), IO (0x64, 1), Interrupt (Edge, High) { 1 }
	 */
	static const uint8_t kbd_hid[] = {0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x03, 0x03};
	static const uint8_t kbd_crs[] = {0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01, 0x47,
					  0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01, 0x89, 0x06,
					  0x00, 0x03, 0x01, 0x01, 0x00, 0x00, 0x00, 0x79};
	static const char lnro[] = "\x08_HID\x0dLNRO0005";
	struct acpi_found f;
	struct guest_mem gm;
	uint8_t *ram;

	acpi_build_found(&acpi_test_cfg, &gm, &ram, &f);
	ASSERT_EQ(aml_count(&f, s5, sizeof(s5)), 1);
	ASSERT_EQ(aml_count(&f, "\x0dQEMU0001", 10), 1);
	ASSERT_EQ(aml_count(&f, pvpanic, sizeof(pvpanic)), 1);
	ASSERT_EQ(aml_count(&f, "\x5b\x82", 2), 8); /* COM1 PS2K PEVT VR00-02 PCI0 RES0 */
	ASSERT_EQ(aml_count(&f, "PS2K", 4), 1);
	ASSERT_EQ(aml_count(&f, kbd_hid, sizeof(kbd_hid)), 1);
	ASSERT_EQ(aml_count(&f, kbd_crs, sizeof(kbd_crs)), 1);
	ASSERT_EQ(aml_count(&f, "COM1", 4), 1);
	ASSERT_EQ(aml_count(&f, com1_hid, sizeof(com1_hid)), 1);
	ASSERT_EQ(aml_count(&f, com1_crs, sizeof(com1_crs)), 1);

	/* One LNRO0005 device per slot, _UID = index, its window and its GSI (edge, high). */
	ASSERT_EQ(aml_count(&f, lnro, sizeof(lnro)), 3);
	for (unsigned int i = 0; i < 3; i++) {
		const struct vm_mmio_dev *d = &acpi_test_mmio[i];
		char name[5];
		uint8_t crs[21] = {0x86, 0x09, 0x00, 0x01};
		const uint8_t *hid;

		snprintf(name, sizeof(name), "VR%02X", i);
		ASSERT_EQ(aml_count(&f, name, 4), 1);
		memcpy(crs + 4, &(uint32_t){(uint32_t)d->base}, 4);
		memcpy(crs + 8, &(uint32_t){(uint32_t)d->size}, 4);
		memcpy(crs + 12, "\x89\x06\x00\x03\x01", 5);
		memcpy(crs + 17, &d->gsi, 4);
		ASSERT_EQ(aml_count(&f, crs, sizeof(crs)), 1);
		/* Name (_UID, i) right after the _HID string: ZeroOp, OneOp, BytePrefix 2. */
		hid = memmem(f.aml, f.aml_len, name, 4);
		hid = memmem(hid, f.aml_len - (size_t)(hid - f.aml), lnro, sizeof(lnro));
		ASSERT_TRUE(hid != NULL);
		ASSERT_MEM_EQ(hid + sizeof(lnro), "\x08_UID", 5);
		if (i < 2)
			ASSERT_EQ(hid[sizeof(lnro) + 5], i);
		else
			ASSERT_MEM_EQ(hid + sizeof(lnro) + 5, "\x0a\x02", 2);
	}
	free(ram);
}

TEST(x86_acpi_dsdt_pci_root)
{
	/* _HID EISAID ("PNP0A08"), _CID EISAID ("PNP0A03"), then _ADR, _SEG, _BBN, _UID = 0 */
	static const uint8_t ids[] = {0x08, '_',  'H',	'I', 'D',  0x0c, 0x41, 0xd0, 0x0a,
				      0x08, 0x08, '_',	'C', 'I',  'D',	 0x0c, 0x41, 0xd0,
				      0x0a, 0x03, 0x08, '_', 'A',  'D',	 'R',  0x00, 0x08,
				      '_',  'S',  'E',	'G', 0x00, 0x08, '_',  'B',  'B',
				      'N',  0x00, 0x08, '_', 'U',  'I',	 'D',  0x00};
	/* _CRS: WordBusNumber 0-0, IO 0xcf8 x 8, DWordMemory 0xc0000000-0xcfffffff
	 * (non-cacheable, RW), QWordMemory 0x8000000000-0x8fffffffff (prefetchable, RW). */
	static const uint8_t crs[] = {
		0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x00, 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08, 0x87, 0x17, 0x00, 0x00,
		0x0c, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff, 0xcf,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x07,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00,
		0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x8f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x79, 0x00};
	/* Device (RES0) { _HID EISAID ("PNP0C02") ... Memory32Fixed (ECAM, 1 MiB) } */
	static const uint8_t mb_hid[] = {0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0c, 0x02};
	static const uint8_t mb_crs[] = {0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00,
					 0xe0, 0x00, 0x00, 0x10, 0x00, 0x79, 0x00};
	bool seen[32][4];
	const uint8_t *p, *start, *end;
	struct acpi_found f;
	struct guest_mem gm;
	uint8_t *ram;

	acpi_build_found(&acpi_test_cfg, &gm, &ram, &f);
	ASSERT_EQ(aml_count(&f, "PCI0", 4), 1);
	ASSERT_EQ(aml_count(&f, ids, sizeof(ids)), 1);
	ASSERT_EQ(aml_count(&f, crs, sizeof(crs)), 1);
	ASSERT_EQ(aml_count(&f, mb_hid, sizeof(mb_hid)), 1);
	ASSERT_EQ(aml_count(&f, mb_crs, sizeof(mb_crs)), 1);

	/* _PRT: Package (124) { Package (4) { slot << 16 | 0xffff, pin, Zero, GSI } ... } */
	p = memmem(f.aml, f.aml_len, "\x08_PRT\x12", 6);
	ASSERT_TRUE(p != NULL);
	p += 6;
	start = p;
	end = start + aml_pkglen(&p);
	ASSERT_TRUE(end <= f.aml + f.aml_len);
	ASSERT_EQ(*p++, 31 * 4);
	memset(seen, 0, sizeof(seen));
	for (unsigned int i = 0; i < 31 * 4; i++) {
		const uint8_t *e;
		uint64_t addr, pin, gsi;
		unsigned int slot;

		ASSERT_EQ(*p++, 0x12);
		e = p;
		e += aml_pkglen(&p);
		ASSERT_EQ(*p++, 4);
		addr = aml_int(&p);
		pin = aml_int(&p);
		ASSERT_EQ(aml_int(&p), 0); /* source: none, a GSI */
		gsi = aml_int(&p);
		ASSERT_TRUE(p == e);
		ASSERT_EQ(addr & 0xffff, 0xffff);
		slot = (unsigned int)(addr >> 16);
		ASSERT_TRUE(slot >= 1 && slot < 32 && pin < 4);
		ASSERT_FALSE(seen[slot][pin]);
		seen[slot][pin] = true;
		ASSERT_EQ(gsi, 16 + (slot + pin) % 8);
	}
	ASSERT_TRUE(p == end);
	free(ram);
}

TEST(x86_acpi_without_pci)
{
	struct acpi_config cfg = acpi_test_cfg;
	struct acpi_found f;
	struct guest_mem gm;
	uint8_t *ram;

	cfg.pci = NULL;
	cfg.n_mmio_devs = 0;
	cfg.com1_port = 0;
	cfg.pvpanic_port = 0;
	cfg.i8042_data_port = 0;
	acpi_build_found(&cfg, &gm, &ram, &f);
	ASSERT_EQ(f.n_xsdt, 2);
	ASSERT_TRUE(f.mcfg == NULL);
	ASSERT_EQ(aml_count(&f, "\x5b\x82", 2), 0); /* no devices at all */
	ASSERT_EQ(aml_count(&f, "_S5_", 4), 1);
	free(ram);
}

TEST(x86_acpi_errors)
{
	struct vm_mmio_dev high = {.base = 0xfffff000, .size = 0x2000, .gsi = 5};
	struct arch_pci_layout pci = acpi_test_pci;
	struct acpi_config cfg = acpi_test_cfg;
	struct guest_mem gm;
	uint8_t *ram;

	acpi_guest(&gm, &ram);
	cfg.n_cpus = 0;
	ASSERT_ERR(acpi_build(&gm, &cfg, X86_ACPI_ADDR, X86_ACPI_END), -EINVAL);
	cfg.n_cpus = ACPI_MAX_CPUS + 1;
	ASSERT_ERR(acpi_build(&gm, &cfg, X86_ACPI_ADDR, X86_ACPI_END), -EINVAL);
	cfg.n_cpus = ACPI_MAX_CPUS;
	ASSERT_OK(acpi_build(&gm, &cfg, X86_ACPI_ADDR, X86_ACPI_END));
	ASSERT_ERR(acpi_build(&gm, &cfg, X86_ACPI_ADDR, X86_ACPI_ADDR + 512), -ENOSPC);
	/* Outside RAM */
	ASSERT_ERR(acpi_build(&gm, &acpi_test_cfg, ACPI_TEST_RAM, ACPI_TEST_RAM + 0x10000),
		   -EFAULT);
	/* Windows Memory32Fixed cannot describe, too many devices to name. */
	cfg = acpi_test_cfg;
	cfg.mmio_devs = &high;
	cfg.n_mmio_devs = 1;
	ASSERT_ERR(acpi_build(&gm, &cfg, X86_ACPI_ADDR, X86_ACPI_END), -EINVAL);
	cfg = acpi_test_cfg;
	cfg.n_mmio_devs = ACPI_MAX_MMIO_DEVS + 1;
	ASSERT_ERR(acpi_build(&gm, &cfg, X86_ACPI_ADDR, X86_ACPI_END), -EINVAL);
	cfg = acpi_test_cfg;
	cfg.pci = &pci;
	pci.ecam_base = 1ULL << 32;
	ASSERT_ERR(acpi_build(&gm, &cfg, X86_ACPI_ADDR, X86_ACPI_END), -EINVAL);
	pci = acpi_test_pci;
	pci.mmio32_size = 0;
	ASSERT_ERR(acpi_build(&gm, &cfg, X86_ACPI_ADDR, X86_ACPI_END), -EINVAL);
	pci = acpi_test_pci;
	pci.mmio64_base = UINT64_MAX - 0xfff;
	ASSERT_ERR(acpi_build(&gm, &cfg, X86_ACPI_ADDR, X86_ACPI_END), -EINVAL);
	free(ram);
}

static void aml_expect(struct aml *a, const uint8_t *want, size_t n)
{
	ASSERT_EQ(a->err, 0);
	ASSERT_EQ(a->len, n);
	ASSERT_MEM_EQ(a->buf, want, n);
	aml_free(a);
}

TEST(x86_aml_integers_and_names)
{
	struct aml a;

	aml_init(&a);
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 0x2a);
	aml_integer(&a, 0x1234);
	aml_integer(&a, 0x12345678);
	aml_integer(&a, 0x100000000ULL);
	aml_expect(&a, (const uint8_t[]){0x00, 0x01, 0x0a, 0x2a, 0x0b, 0x34, 0x12,
					 0x0c, 0x78, 0x56, 0x34, 0x12, 0x0e, 0,
					 0,    0,    0,	   1,	 0,    0,    0},
		   21);

	aml_init(&a);
	aml_name_string(&a, "\\_SB.PCI0");
	aml_expect(&a, (const uint8_t *)"\\\x2e_SB_PCI0", 10);

	aml_init(&a);
	aml_name_string(&a, "^AB.C.D");
	aml_expect(&a,
		   (const uint8_t *)"^\x2f\x03"
				    "AB__C___D___",
		   15);

	aml_init(&a);
	aml_name_string(&a, "_S5");
	aml_expect(&a, (const uint8_t *)"_S5_", 4);

	/* EISAID("PNP0A03") is the DWord 0x030ad041. */
	aml_init(&a);
	aml_eisaid(&a, "PNP0A03");
	aml_expect(&a, (const uint8_t[]){0x0c, 0x41, 0xd0, 0x0a, 0x03}, 5);

	aml_init(&a);
	aml_name_string(&a, "1ABC");
	ASSERT_ERR(a.err, -EINVAL);
	aml_integer(&a, 7); /* sticky: ignored */
	ASSERT_EQ(a.len, 0);
	aml_free(&a);

	aml_init(&a);
	aml_name_string(&a, "TOOLONG");
	ASSERT_ERR(a.err, -EINVAL);
	aml_free(&a);

	aml_init(&a);
	aml_eisaid(&a, "pnp0a03");
	ASSERT_ERR(a.err, -EINVAL);
	aml_free(&a);
}

TEST(x86_aml_pkglength)
{
	static uint8_t body[5000];
	char str[67];
	struct aml a;
	size_t m;

	/* One byte: Package (2) { 1, "A" } */
	aml_init(&a);
	m = aml_package_begin(&a, 2);
	aml_integer(&a, 1);
	aml_string(&a, "A");
	aml_end(&a, m);
	aml_expect(&a, (const uint8_t[]){0x12, 0x06, 0x02, 0x01, 0x0d, 'A', 0x00}, 7);

	/* Two bytes: 69 bytes of body + 2 = 71 = 0x47 -> 0x47 0x04 */
	memset(str, 'x', 66);
	str[66] = 0;
	aml_init(&a);
	m = aml_package_begin(&a, 1);
	aml_string(&a, str);
	aml_end(&a, m);
	ASSERT_EQ(a.len, 1 + 2 + 69);
	ASSERT_EQ(a.buf[0], 0x12);
	ASSERT_EQ(a.buf[1], 0x47);
	ASSERT_EQ(a.buf[2], 0x04);
	ASSERT_EQ(a.buf[3], 1);
	aml_free(&a);

	/* Three bytes: 5000 + 3 = 5003 = 0x138b -> 0x8b 0x38 0x01 */
	aml_init(&a);
	m = aml_scope_begin(&a, "");
	a.len = m; /* drop the NullName: raw body only */
	aml_bytes(&a, body, sizeof(body));
	aml_end(&a, m);
	ASSERT_EQ(a.len, 1 + 3 + 5000);
	ASSERT_EQ(a.buf[1], 0x8b);
	ASSERT_EQ(a.buf[2], 0x38);
	ASSERT_EQ(a.buf[3], 0x01);
	aml_free(&a);

	/* Boundary: 62 bytes of body + 1 = 63 still fits one byte; 63 needs two. */
	aml_init(&a);
	m = aml_scope_begin(&a, "");
	a.len = m;
	aml_bytes(&a, body, 62);
	aml_end(&a, m);
	ASSERT_EQ(a.buf[1], 63);
	aml_free(&a);
	aml_init(&a);
	m = aml_scope_begin(&a, "");
	a.len = m;
	aml_bytes(&a, body, 63);
	aml_end(&a, m);
	ASSERT_EQ(a.buf[1], 0x41); /* 65 = 0x41: low nibble 1, next byte 4 */
	ASSERT_EQ(a.buf[2], 0x04);
	aml_free(&a);
}

TEST(x86_aml_device_restemplate)
{
	struct aml a;
	size_t dev, res;

	/* Device (PEVT) { Name (_CRS, ResourceTemplate () { IO (Decode16, 0x505, 0x505, 1, 1) }) }
	 */
	aml_init(&a);
	dev = aml_device_begin(&a, "PEVT");
	aml_name(&a, "_CRS");
	res = aml_restemplate_begin(&a);
	aml_res_io(&a, 0x505, 0x505, 1, 1);
	aml_restemplate_end(&a, res);
	aml_end(&a, dev);
	aml_expect(&a, (const uint8_t[]){0x5b, 0x82, 0x18, 'P',	 'E',  'V',  'T',  0x08, '_',
					 'C',  'R',  'S',  0x11, 0x0d, 0x0a, 0x0a, 0x47, 0x01,
					 0x05, 0x05, 0x05, 0x05, 0x01, 0x01, 0x79, 0x00},
		   26);

	aml_init(&a);
	res = aml_restemplate_begin(&a);
	aml_res_mem32_fixed(&a, true, 0xd0000000, 0x1000);
	aml_res_interrupt(&a, true, false, false, 5);
	aml_restemplate_end(&a, res);
	aml_expect(&a, (const uint8_t[]){0x11, 0x1a, 0x0a, 0x17, 0x86, 0x09, 0x00, 0x01, 0x00,
					 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00, 0x89, 0x06,
					 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00, 0x79, 0x00},
		   27);
}

TEST(x86_aml_address_descriptors)
{
	struct aml a;

	/* WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0x1f, 0, 0x20) */
	aml_init(&a);
	aml_res_word_bus_number(&a, 0, 0x1f);
	aml_expect(&a,
		   (const uint8_t[]){0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00,
				     0x1f, 0x00, 0x00, 0x00, 0x20, 0x00},
		   16);

	/* DWordMemory (..., Prefetchable, ReadWrite, 0, 0x1000, 0x1fff, 0, 0x1000) */
	aml_init(&a);
	aml_res_dword_memory(&a, true, 0x1000, 0x1fff);
	aml_expect(&a, (const uint8_t[]){0x87, 0x17, 0x00, 0x00, 0x0c, 0x07, 0,	   0,	 0,
					 0,    0x00, 0x10, 0x00, 0x00, 0xff, 0x1f, 0x00, 0x00,
					 0,    0,    0,	   0,	 0x00, 0x10, 0x00, 0x00},
		   26);

	/* QWordMemory (..., NonCacheable, ReadWrite, 0, 4G, 8G - 1, 0, 4G) */
	aml_init(&a);
	aml_res_qword_memory(&a, false, 1ULL << 32, (2ULL << 32) - 1);
	aml_expect(&a, (const uint8_t[]){0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x01, 0, 0, 0, 0, 0,    0,
					 0,    0,    0,	   0,	 0,    0,    1, 0, 0, 0, 0xff, 0xff,
					 0xff, 0xff, 1,	   0,	 0,    0,    0, 0, 0, 0, 0,    0,
					 0,    0,    0,	   0,	 0,    0,    1, 0, 0, 0},
		   46);

	/* An empty range is an error, and sticky. */
	aml_init(&a);
	aml_res_dword_memory(&a, false, 0x2000, 0x1fff);
	ASSERT_ERR(a.err, -EINVAL);
	aml_res_word_bus_number(&a, 0, 0);
	ASSERT_EQ(a.len, 0);
	aml_free(&a);
}
