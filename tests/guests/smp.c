/* SPDX-License-Identifier: MIT */
/*
 * smp.elf: starts every other vCPU with INIT/SIPI/SIPI through the local
 * APIC and checks that each one runs guest code.
 *
 * The CPU list comes from the ACPI MADT (found through the RSDP the start
 * info points to), or from the command line word cpus=N (APIC IDs 0..N-1),
 * which wins when present. The BSP prints "CPU <id> UP" for itself, copies a
 * real-mode trampoline (smp_trampoline.S) to a page below 1 MiB, kicks the
 * APs; each AP prints "CPU <apic id> UP" under a spinlock and counts itself.
 * The BSP waits (bounded) for all of them and prints "SMP <n> OK".
 */
#include "tests/guests/lib/guest.h"
#include "tests/guests/lib/pvh.h"

#define SMP_MAX_CPUS	  64
#define SMP_AP_STACK_SIZE 4096	 /* AP_STACK_SIZE in smp_trampoline.S */
#define SMP_TRAMPOLINE	  0x8000 /* SIPI vector 0x08; free in microvm's and QEMU's low RAM */

/* Local APIC (xAPIC MMIO; Intel SDM vol. 3 "Local APIC Register Address Map") */
#define LAPIC_BASE	     0xfee00000u
#define LAPIC_ID	     0x020
#define LAPIC_SVR	     0x0f0
#define LAPIC_ICR_LOW	     0x300
#define LAPIC_ICR_HIGH	     0x310
#define LAPIC_SVR_ENABLE     0x100
#define LAPIC_ICR_DM_INIT    0x500
#define LAPIC_ICR_DM_STARTUP 0x600
#define LAPIC_ICR_BUSY	     0x1000 /* delivery status: send pending */
#define LAPIC_ICR_ASSERT     0x4000
#define LAPIC_ICR_LEVEL	     0x8000

/* ACPI 6.4 5.2.5.3 "Root System Description Pointer (RSDP) Structure" */
struct acpi_rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;  /* first 20 bytes sum to 0 */
	char oem_id[6];
	uint8_t revision; /* 0: ACPI 1.0 (RSDT only), 2: XSDT fields valid */
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t ext_checksum; /* whole structure sums to 0 */
	uint8_t reserved[3];
} __attribute__((packed));

/* ACPI 6.4 5.2.6 "System Description Table Header" */
struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));

/* ACPI 6.4 5.2.12 "Multiple APIC Description Table (MADT)": header, 8 bytes, entries */
#define MADT_ENTRIES_OFFSET (sizeof(struct acpi_header) + 8)
#define MADT_TYPE_LAPIC	    0 /* 5.2.12.2: u8 uid, u8 apic_id, u32 flags */
#define MADT_TYPE_X2APIC    9 /* 5.2.12.12: u16 reserved, u32 x2apic_id, u32 flags, u32 uid */
#define MADT_LAPIC_ENABLED  0x1

/* Shared with smp_trampoline.S. */
extern const char smp_trampoline_start[], smp_trampoline_end[];
extern uint8_t smp_ap_stacks[SMP_MAX_CPUS][SMP_AP_STACK_SIZE];
extern volatile uint32_t smp_ap_next;
extern const uint32_t smp_ap_max;
void smp_ap_main(void);

uint8_t smp_ap_stacks[SMP_MAX_CPUS][SMP_AP_STACK_SIZE] __attribute__((aligned(16)));
volatile uint32_t smp_ap_next;
const uint32_t smp_ap_max = SMP_MAX_CPUS;

static volatile uint32_t print_lock;
static volatile uint32_t aps_up;

static uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(LAPIC_BASE + reg);
}

static void lapic_write(uint32_t reg, uint32_t val)
{
	mmio_write32(LAPIC_BASE + reg, val);
}

static uint32_t lapic_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}

static void say_up(uint32_t id)
{
	spin_lock(&print_lock);
	puts_serial("CPU ");
	print_dec(id);
	puts_serial(" UP\n");
	spin_unlock(&print_lock);
}

void smp_ap_main(void)
{
	say_up(lapic_id());
	__atomic_add_fetch(&aps_up, 1, __ATOMIC_SEQ_CST);
	halt_forever();
}

static bool acpi_checksum_ok(const void *p, uint32_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return sum == 0;
}

/* Maps a table address from the RSDT/XSDT; NULL if bad. The guest data is untrusted. */
static const struct acpi_header *acpi_table(uint64_t paddr)
{
	const struct acpi_header *h = pvh_phys(paddr);

	if (!h || h->length < sizeof(*h) || !acpi_checksum_ok(h, h->length))
		return NULL;
	return h;
}

static const struct acpi_rsdp *acpi_find_rsdp(const struct hvm_start_info *si)
{
	const struct acpi_rsdp *rsdp = pvh_phys(si->rsdp_paddr);
	uintptr_t a;

	if (rsdp)
		return rsdp;
	/* No pointer in the start info: the legacy BIOS area, on 16-byte boundaries. */
	for (a = 0xe0000; a < 0x100000; a += 16)
		if (!memcmp((const void *)a, "RSD PTR ", 8))
			return (const void *)a;
	return NULL;
}

static const struct acpi_header *acpi_find_madt(const struct acpi_rsdp *rsdp)
{
	const struct acpi_header *root, *t;
	const uint8_t *entries;
	uint32_t i, n, width;
	uint64_t addr;

	if (memcmp(rsdp->signature, "RSD PTR ", 8) || !acpi_checksum_ok(rsdp, 20))
		guest_panic("smp: bad RSDP signature or checksum");
	if (rsdp->revision >= 2 && rsdp->xsdt_address) {
		if (rsdp->length < sizeof(*rsdp) || !acpi_checksum_ok(rsdp, rsdp->length))
			guest_panic("smp: bad RSDP extended checksum");
		root = acpi_table(rsdp->xsdt_address);
		width = 8;
	} else {
		root = acpi_table(rsdp->rsdt_address);
		width = 4;
	}
	if (!root)
		guest_panic("smp: bad RSDT/XSDT");
	entries = (const uint8_t *)root + sizeof(*root);
	n = (root->length - (uint32_t)sizeof(*root)) / width;
	for (i = 0; i < n; i++) {
		addr = 0;
		memcpy(&addr, entries + i * width, width);
		t = acpi_table(addr);
		if (t && !memcmp(t->signature, "APIC", 4))
			return t;
	}
	return NULL;
}

/* Fills ids[] with the APIC IDs of the MADT's usable processors; returns how many. */
static uint32_t madt_cpus(const struct acpi_header *madt, uint32_t *ids)
{
	const uint8_t *p = (const uint8_t *)madt + MADT_ENTRIES_OFFSET;
	const uint8_t *end = (const uint8_t *)madt + madt->length;
	uint32_t n = 0, id, flags;

	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
		if (p[0] == MADT_TYPE_LAPIC && p[1] >= 8) {
			id = p[3];
			memcpy(&flags, p + 4, 4);
		} else if (p[0] == MADT_TYPE_X2APIC && p[1] >= 16) {
			memcpy(&id, p + 4, 4);
			memcpy(&flags, p + 8, 4);
		} else {
			p += p[1];
			continue;
		}
		/* xAPIC IPIs address 8-bit IDs; 0xff is broadcast. */
		if ((flags & MADT_LAPIC_ENABLED) && id < 0xff && n < SMP_MAX_CPUS)
			ids[n++] = id;
		p += p[1];
	}
	return n;
}

static void delay_cycles(uint64_t cycles)
{
	uint64_t start = rdtsc();
	uint32_t i;

	/* TSC-timed, but capped in iterations in case the TSC does not move. */
	for (i = 0; rdtsc() - start < cycles && !spin_expired(i, start); i++)
		;
}

static void lapic_send_ipi(uint32_t apic_id, uint32_t icr_low)
{
	uint32_t i;

	lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
	lapic_write(LAPIC_ICR_LOW, icr_low);
	for (i = 0; i < GUEST_MMIO_SPIN_MAX; i++) {
		if (!(lapic_read(LAPIC_ICR_LOW) & LAPIC_ICR_BUSY))
			return;
		cpu_relax();
	}
	puts_serial("TIMEOUT ICR busy\n");
}

/* The MP start-up sequence: INIT assert, INIT deassert, then two STARTUP IPIs. */
static void start_ap(uint32_t apic_id)
{
	uint32_t vector = SMP_TRAMPOLINE >> 12;

	lapic_send_ipi(apic_id, LAPIC_ICR_DM_INIT | LAPIC_ICR_LEVEL | LAPIC_ICR_ASSERT);
	delay_cycles(10000000);
	lapic_send_ipi(apic_id, LAPIC_ICR_DM_INIT | LAPIC_ICR_LEVEL);
	lapic_send_ipi(apic_id, LAPIC_ICR_DM_STARTUP | vector);
	delay_cycles(1000000);
	/* A running AP ignores the second SIPI; it covers a lost first one. */
	lapic_send_ipi(apic_id, LAPIC_ICR_DM_STARTUP | vector);
	delay_cycles(1000000);
}

static bool page_is_ram(const struct hvm_start_info *si, uint64_t addr)
{
	const struct hvm_memmap_table_entry *e;
	uint32_t i;

	e = si->version >= 1 ? pvh_phys(si->memmap_paddr) : NULL;
	if (!e)
		return true; /* no map to check against */
	for (i = 0; i < si->memmap_entries; i++)
		if (e[i].type == PVH_MEMMAP_RAM && e[i].addr <= addr &&
		    addr + 4096 <= e[i].addr + e[i].size)
			return true;
	return false;
}

void guest_main(struct hvm_start_info *si)
{
	static uint32_t ids[SMP_MAX_CPUS];
	const struct acpi_rsdp *rsdp;
	const struct acpi_header *madt;
	const char *cmdline;
	uint32_t n, i, bsp, want;
	uint64_t cpus, start;

	serial_init();
	cmdline = pvh_check(si);
	bsp = lapic_id();

	if (cmdline_get_u64(cmdline, "cpus", &cpus)) {
		if (cpus < 1 || cpus > SMP_MAX_CPUS)
			guest_panic("smp: cpus= out of range");
		n = (uint32_t)cpus;
		for (i = 0; i < n; i++)
			ids[i] = i;
		puts_serial("SMP cpus from cmdline: ");
	} else {
		rsdp = acpi_find_rsdp(si);
		if (!rsdp)
			guest_panic("smp: no RSDP and no cpus=N");
		madt = acpi_find_madt(rsdp);
		if (!madt)
			guest_panic("smp: no MADT");
		n = madt_cpus(madt, ids);
		puts_serial("SMP cpus from ACPI MADT: ");
	}
	print_dec(n);
	putc_serial('\n');
	for (i = 0; i < n && ids[i] != bsp; i++)
		;
	if (i == n)
		guest_panic("smp: the BSP's APIC ID is not in the CPU list");

	/* Everything the VMM passed has been read: the trampoline page may overwrite it. */
	if (!page_is_ram(si, SMP_TRAMPOLINE))
		guest_panic("smp: trampoline page is not RAM");
	memcpy((void *)SMP_TRAMPOLINE, smp_trampoline_start,
	       (size_t)(smp_trampoline_end - smp_trampoline_start));
	barrier();

	lapic_write(LAPIC_SVR, lapic_read(LAPIC_SVR) | LAPIC_SVR_ENABLE | 0xff);
	say_up(bsp);
	for (i = 0; i < n; i++)
		if (ids[i] != bsp)
			start_ap(ids[i]);

	want = n - 1;
	start = rdtsc();
	for (i = 0; aps_up < want && !spin_expired(i, start); i++)
		;
	spin_lock(&print_lock);
	if (aps_up < want) {
		puts_serial("TIMEOUT ");
		print_dec(aps_up + 1);
		puts_serial(" of ");
		print_dec(n);
		puts_serial(" CPUs up\n");
		guest_panic("smp: not every CPU came up");
	}
	puts_serial("SMP ");
	print_dec(n);
	puts_serial(" OK\n");
	guest_reset();
}
