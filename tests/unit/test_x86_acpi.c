/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/aml.h"
#include "arch/x86_64/layout.h"
#include "devices/legacy/acpi_pm.h"
#include "tests/harness.h"
#include "vmm/guest_mem.h"

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

static const struct acpi_config acpi_test_cfg = {
	.n_cpus = 3,
	.pm_port = X86_ACPI_PM_PORT,
	.sci_gsi = X86_ACPI_SCI_GSI,
	.pvpanic_port = X86_PVPANIC_PORT,
	.ioapic_addr = X86_IOAPIC_ADDR,
	.lapic_addr = X86_LAPIC_ADDR,
};

TEST(x86_acpi_table_links)
{
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt, *facs;
	struct guest_mem gm;
	uint8_t *ram;

	acpi_guest(&gm, &ram);
	ASSERT_OK(acpi_build(&gm, &acpi_test_cfg, X86_ACPI_ADDR, X86_ACPI_END));

	rsdp = gmem_range(&gm, X86_ACPI_ADDR, ACPI_RSDP_SIZE);
	ASSERT_MEM_EQ(rsdp, "RSD PTR ", 8);
	ASSERT_EQ(rsdp[15], 2);			      /* revision */
	ASSERT_EQ(acpi_sum(rsdp, 20), 0);	      /* ACPI 1.0 checksum */
	ASSERT_EQ(acpi_sum(rsdp, ACPI_RSDP_SIZE), 0); /* extended checksum */
	ASSERT_EQ(rd32(rsdp + 20), ACPI_RSDP_SIZE);

	xsdt = acpi_table(&gm, rd64(rsdp + 24), "XSDT");
	ASSERT_EQ(rd32(xsdt + 4), 36 + 2 * 8);
	fadt = acpi_table(&gm, rd64(xsdt + 36), "FACP");
	madt = acpi_table(&gm, rd64(xsdt + 44), "APIC");

	/* FADT: revision 6 with fixed hardware (not hardware-reduced), DSDT by both pointers. */
	ASSERT_EQ(rd32(fadt + 4), ACPI_FADT_SIZE);
	ASSERT_EQ(fadt[8], 6);
	ASSERT_FALSE(rd32(fadt + 112) & (1u << 20));  /* HW_REDUCED_ACPI */
	ASSERT_TRUE(rd32(fadt + 112) & (1u << 10));   /* RESET_REG_SUP */
	ASSERT_EQ(rd64(fadt + 140), rd32(fadt + 40)); /* X_DSDT == DSDT */
	dsdt = acpi_table(&gm, rd64(fadt + 140), "DSDT");
	facs = gmem_range(&gm, rd32(fadt + 36), 64); /* FIRMWARE_CTRL */
	ASSERT_TRUE(facs != NULL);
	ASSERT_MEM_EQ(facs, "FACS", 4);
	ASSERT_EQ(rd32(facs + 4), 64);
	ASSERT_EQ(rd32(fadt + 36) % 64, 0);
	ASSERT_EQ(rd32(fadt + 48), 0); /* no SMI_CMD: always ACPI mode */
	ASSERT_EQ(fadt[46] | fadt[47] << 8, X86_ACPI_SCI_GSI);
	ASSERT_EQ(rd32(fadt + 56), X86_ACPI_PM_PORT + ACPI_PM1_STS);	  /* PM1a_EVT_BLK */
	ASSERT_EQ(rd32(fadt + 64), X86_ACPI_PM_PORT + ACPI_PM1_CNT);	  /* PM1a_CNT_BLK */
	ASSERT_EQ(fadt[88], 4);						  /* PM1_EVT_LEN */
	ASSERT_EQ(fadt[89], 2);						  /* PM1_CNT_LEN */
	ASSERT_EQ(rd64(fadt + 148 + 4), X86_ACPI_PM_PORT + ACPI_PM1_STS); /* X_PM1a_EVT */
	ASSERT_EQ(fadt[148 + 1], 32);
	ASSERT_EQ(rd64(fadt + 172 + 4), X86_ACPI_PM_PORT + ACPI_PM1_CNT); /* X_PM1a_CNT */
	ASSERT_EQ(fadt[172 + 1], 16);
	ASSERT_EQ(fadt[116], 1); /* reset reg: system I/O */
	ASSERT_EQ(fadt[117], 8); /* 8 bits */
	ASSERT_EQ(rd64(fadt + 120), X86_ACPI_PM_PORT + ACPI_PM_RESET);
	ASSERT_EQ(fadt[128], ACPI_PM_RESET_VALUE);
	ASSERT_EQ(rd32(fadt + 76), 0);	   /* no PM timer */
	ASSERT_EQ(fadt[109] & 0x02, 0);	   /* no 8042 flag */
	ASSERT_EQ(fadt[109] & 0x20, 0x20); /* no CMOS RTC */

	ASSERT_EQ(rd32(madt + 36), X86_LAPIC_ADDR);
	ASSERT_TRUE(dsdt[8] >= 2); /* 64-bit integers */
	free(ram);
}

TEST(x86_acpi_madt_cpus)
{
	unsigned int lapics = 0, ioapics = 0, isos = 0, nmis = 0;
	const uint8_t *rsdp, *xsdt, *madt;
	struct acpi_config cfg = acpi_test_cfg;
	struct guest_mem gm;
	uint32_t len;
	uint8_t *ram;

	acpi_guest(&gm, &ram);
	cfg.n_cpus = 7;
	ASSERT_OK(acpi_build(&gm, &cfg, X86_ACPI_ADDR, X86_ACPI_END));
	rsdp = gmem_range(&gm, X86_ACPI_ADDR, ACPI_RSDP_SIZE);
	xsdt = acpi_table(&gm, rd64(rsdp + 24), "XSDT");
	madt = acpi_table(&gm, rd64(xsdt + 44), "APIC");
	len = rd32(madt + 4);
	ASSERT_EQ(rd32(madt + 40), 1); /* PCAT_COMPAT: the 8259s exist */
	for (uint32_t off = 44; off < len; off += madt[off + 1]) {
		const uint8_t *e = madt + off;

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
		case 2: /* IRQ 0 -> GSI 2, edge, active high */
			ASSERT_EQ(e[3], 0);
			ASSERT_EQ(rd32(e + 4), 2);
			ASSERT_EQ(e[8] | e[9] << 8, 5);
			isos++;
			break;
		case 4:
			ASSERT_EQ(e[2], 0xff);
			ASSERT_EQ(e[5], 1); /* LINT1 */
			nmis++;
			break;
		default:
			ASSERT_TRUE(false);
		}
	}
	ASSERT_EQ(lapics, 7);
	ASSERT_EQ(ioapics, 1);
	ASSERT_EQ(isos, 1);
	ASSERT_EQ(nmis, 1);
	free(ram);
}

TEST(x86_acpi_dsdt_contents)
{
	/* Name (\_S5_, Package (4) { 5, 5, 0, 0 }) */
	static const uint8_t s5[] = {0x08, '\\', '_',  'S',  '5',  '_',	 0x12, 0x08,
				     0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00};
	/* IO (Decode16, 0x505, 0x505, 1, 1) and the end tag */
	static const uint8_t io[] = {0x47, 0x01, 0x05, 0x05, 0x05, 0x05, 0x01, 0x01, 0x79, 0x00};
	const uint8_t *rsdp, *xsdt, *fadt, *dsdt;
	struct guest_mem gm;
	uint8_t *ram;
	uint32_t len;

	acpi_guest(&gm, &ram);
	ASSERT_OK(acpi_build(&gm, &acpi_test_cfg, X86_ACPI_ADDR, X86_ACPI_END));
	rsdp = gmem_range(&gm, X86_ACPI_ADDR, ACPI_RSDP_SIZE);
	xsdt = acpi_table(&gm, rd64(rsdp + 24), "XSDT");
	fadt = acpi_table(&gm, rd64(xsdt + 36), "FACP");
	dsdt = acpi_table(&gm, rd64(fadt + 140), "DSDT");
	len = rd32(dsdt + 4);
	ASSERT_TRUE(memmem(dsdt + 36, len - 36, s5, sizeof(s5)) != NULL);
	ASSERT_TRUE(memmem(dsdt + 36, len - 36, "\x0dQEMU0001", 10) != NULL);
	ASSERT_TRUE(memmem(dsdt + 36, len - 36, io, sizeof(io)) != NULL);
	ASSERT_TRUE(memmem(dsdt + 36, len - 36, "\x5b\x82", 2) != NULL); /* DeviceOp */
	free(ram);
}

TEST(x86_acpi_errors)
{
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
