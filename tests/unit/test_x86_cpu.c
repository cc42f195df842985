/* SPDX-License-Identifier: MIT */
#include <asm/kvm_para.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/layout.h"
#include "tests/harness.h"

/* A table shaped like KVM_GET_SUPPORTED_CPUID's (values made up, structure as KVM returns). */
static struct kvm_cpuid2 *fake_supported(const char *vendor)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 32 * sizeof(c->entries[0]));
	struct kvm_cpuid_entry2 *e;

#define ADD(fn, idx, flg, a, b, cc, d)                                                             \
	do {                                                                                       \
		e = &c->entries[c->nent++];                                                        \
		*e = (struct kvm_cpuid_entry2){.function = fn,                                     \
					       .index = idx,                                       \
					       .flags = flg,                                       \
					       .eax = a,                                           \
					       .ebx = b,                                           \
					       .ecx = cc,                                          \
					       .edx = d};                                          \
	} while (0)

	ASSERT_TRUE(c != NULL);
	ADD(0, 0, 0, 0x1f, 0, 0, 0);
	memcpy(&e->ebx, vendor, 4);
	memcpy(&e->edx, vendor + 4, 4);
	memcpy(&e->ecx, vendor + 8, 4);
	ADD(1, 0, 0, 0x806f8, 0x00ff0800, 0x7ffafbff, 0xbfebfbff);
	/* Leaf 4: L1d (level 1, type 1), L2 (level 2, type 3), L3 (level 3, type 3), end. */
	ADD(4, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, (1 << 5) | 1 | (0x3fu << 26) | (1 << 14), 0, 0,
	    0);
	ADD(4, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, (2 << 5) | 3 | (0x3fu << 26) | (1 << 14), 0, 0,
	    0);
	ADD(4, 2, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, (3 << 5) | 3 | (0x3fu << 26) | (0xffu << 14), 0,
	    0, 0);
	ADD(4, 3, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0, 0, 0, 0);
	ADD(0xb, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0, 0, 0, 0);
	ADD(0x1f, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0, 0, 0, 0);
	ADD(KVM_CPUID_SIGNATURE, 0, 0, KVM_CPUID_FEATURES, 0, 0, 0);
	ADD(KVM_CPUID_FEATURES, 0, 0, 1u << KVM_FEATURE_CLOCKSOURCE2, 0, 0, 0);
	ADD(0x80000000, 0, 0, 0x8000001e, 0, 0, 0);
	ADD(0x80000001, 0, 0, 0, 0, 0, 0);
	ADD(0x80000008, 0, 0, 0x3030, 0, 0x7007, 0);
	ADD(0x8000001e, 0, 0, 0, 0, 0, 0);
#undef ADD
	return c;
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	return NULL;
}

TEST(x86_cpuid_intel_topology)
{
	struct kvm_cpuid2 *sup = fake_supported("GenuineIntelX");
	struct kvm_cpuid2 *c = cpu_cpuid_for_vcpu(sup, 2, 3, true);
	struct kvm_cpuid_entry2 *e;

	ASSERT_TRUE(c != NULL);
	e = find(c, 1, 0);
	ASSERT_EQ(e->ebx >> 24, 2);	     /* APIC ID */
	ASSERT_EQ((e->ebx >> 16) & 0xff, 4); /* addressable IDs: 3 rounded up */
	ASSERT_EQ(e->ebx & 0xffff, 0x0800);  /* CLFLUSH size etc. kept */
	ASSERT_TRUE(e->edx & (1u << 28));    /* HTT */
	ASSERT_TRUE(e->ecx & (1u << 31));    /* hypervisor */
	ASSERT_TRUE(e->ecx & (1u << 24));    /* TSC deadline */

	/* Leaf 4: 4 addressable cores; only the L3 is shared. */
	ASSERT_EQ(find(c, 4, 0)->eax >> 26, 3);
	ASSERT_EQ((find(c, 4, 0)->eax >> 14) & 0xfff, 0);
	ASSERT_EQ((find(c, 4, 1)->eax >> 14) & 0xfff, 0);
	ASSERT_EQ((find(c, 4, 2)->eax >> 14) & 0xfff, 3);
	ASSERT_EQ(find(c, 4, 3)->eax, 0);

	/* Leaves 0xb and 0x1f: SMT level of 1, core level of 3, then the end. */
	for (uint32_t fn = 0xb; fn <= 0x1f; fn += 0x1f - 0xb) {
		e = find(c, fn, 0);
		ASSERT_TRUE(e != NULL);
		ASSERT_EQ(e->flags, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
		ASSERT_EQ(e->eax, 0);
		ASSERT_EQ(e->ebx, 1);
		ASSERT_EQ((e->ecx >> 8) & 0xff, 1);
		ASSERT_EQ(e->edx, 2);
		e = find(c, fn, 1);
		ASSERT_EQ(e->eax, 2);
		ASSERT_EQ(e->ebx, 3);
		ASSERT_EQ(e->ecx, 1 | (2 << 8));
		ASSERT_EQ(e->edx, 2);
		e = find(c, fn, 2);
		ASSERT_EQ(e->ebx, 0);
		ASSERT_EQ((e->ecx >> 8) & 0xff, 0);
	}

	/* KVM signature and features kept for kvm-clock. */
	e = find(c, KVM_CPUID_SIGNATURE, 0);
	ASSERT_MEM_EQ(&e->ebx, "KVMK", 4);
	ASSERT_MEM_EQ(&e->ecx, "VMKV", 4);
	ASSERT_MEM_EQ(&e->edx, "M\0\0\0", 4);
	ASSERT_EQ(e->eax, KVM_CPUID_FEATURES);
	ASSERT_EQ(find(c, KVM_CPUID_FEATURES, 0)->eax, 1u << KVM_FEATURE_CLOCKSOURCE2);
	/* AMD leaves untouched on Intel. */
	ASSERT_EQ(find(c, 0x80000008, 0)->ecx, 0x7007);
	free(c);

	/* One vCPU: no HTT, no TSC deadline when KVM lacks it. */
	c = cpu_cpuid_for_vcpu(sup, 0, 1, false);
	e = find(c, 1, 0);
	ASSERT_EQ(e->ebx >> 24, 0);
	ASSERT_FALSE(e->edx & (1u << 28));
	ASSERT_FALSE(e->ecx & (1u << 24));
	ASSERT_EQ(find(c, 0xb, 1)->eax, 0);
	ASSERT_EQ(find(c, 0xb, 1)->ebx, 1);
	free(c);
	free(sup);
}

TEST(x86_cpuid_amd_topology)
{
	struct kvm_cpuid2 *sup = fake_supported("AuthenticAMD");
	struct kvm_cpuid2 *c = cpu_cpuid_for_vcpu(sup, 5, 8, false);
	struct kvm_cpuid_entry2 *e;

	ASSERT_TRUE(c != NULL);
	ASSERT_EQ(find(c, 1, 0)->ebx >> 24, 5);
	e = find(c, 0x80000008, 0);
	ASSERT_EQ(e->ecx & 0xff, 7);	    /* NC = cores - 1 */
	ASSERT_EQ((e->ecx >> 12) & 0xf, 3); /* ApicIdSize */
	ASSERT_EQ(find(c, 0x8000001e, 0)->eax, 5);
	ASSERT_EQ(find(c, 0x8000001e, 0)->ebx, 5);
	ASSERT_TRUE(find(c, 0x80000001, 0)->ecx & 2); /* CmpLegacy */
	/* Intel's leaf 4 is reserved on AMD: left alone. */
	ASSERT_EQ(find(c, 4, 2)->eax >> 26, 0x3f);
	free(c);
	free(sup);
}

TEST(x86_boot_registers)
{
	struct boot_info bz = {.kind = BOOT_BZIMAGE, .entry = 0x100200, .params = 0x7000};
	struct boot_info pvh = {.kind = BOOT_PVH, .entry = 0x1000040, .params = 0x6000};
	struct kvm_sregs s;
	struct kvm_regs r;

	cpu_boot_regs(&bz, &r);
	ASSERT_EQ(r.rip, 0x100200);
	ASSERT_EQ(r.rsi, 0x7000);
	ASSERT_EQ(r.rflags, 2); /* IF clear */
	memset(&s, 0, sizeof(s));
	s.apic_base = 0xfee00900; /* kept from KVM_GET_SREGS */
	cpu_boot_sregs(&bz, &s);
	ASSERT_EQ(s.apic_base, 0xfee00900);
	ASSERT_EQ(s.cs.selector, 0x10);
	ASSERT_EQ(s.cs.l, 1);
	ASSERT_EQ(s.cs.db, 0);
	ASSERT_EQ(s.cs.type, 11);
	ASSERT_EQ(s.cs.present, 1);
	ASSERT_EQ(s.cs.s, 1);
	ASSERT_EQ(s.cs.limit, 0xffffffff);
	ASSERT_EQ(s.ds.selector, 0x18);
	ASSERT_EQ(s.ss.selector, 0x18);
	ASSERT_EQ(s.ds.type, 3);
	ASSERT_EQ(s.ds.db, 1);
	ASSERT_EQ(s.tr.selector, 0x20);
	ASSERT_EQ(s.tr.type, 11);
	ASSERT_EQ(s.tr.s, 0);
	ASSERT_EQ(s.tr.limit, 0x67);
	ASSERT_EQ(s.ldt.unusable, 1);
	ASSERT_EQ(s.gdt.base, X86_GDT_ADDR);
	ASSERT_EQ(s.gdt.limit, 8 * BOOT_GDT_ENTRIES - 1);
	ASSERT_EQ(s.cr0 & 0x80000001, 0x80000001); /* PG | PE */
	ASSERT_EQ(s.cr3, X86_PML4_ADDR);
	ASSERT_EQ(s.cr4 & 0x20, 0x20); /* PAE */
	ASSERT_EQ(s.efer, 0x500);      /* LME | LMA */

	cpu_boot_regs(&pvh, &r);
	ASSERT_EQ(r.rip, 0x1000040);
	ASSERT_EQ(r.rbx, 0x6000);
	cpu_boot_sregs(&pvh, &s);
	ASSERT_EQ(s.cs.l, 0);
	ASSERT_EQ(s.cs.db, 1);
	ASSERT_EQ(s.cs.limit, 0xffffffff);
	ASSERT_EQ(s.cr0 & 0x80000001, 1); /* PE, no paging */
	ASSERT_EQ(s.cr4, 0);
	ASSERT_EQ(s.efer, 0);
}

TEST(x86_boot_msrs_and_lapic)
{
	struct kvm_msr_entry m[16];
	struct kvm_lapic_state lapic;
	unsigned int n;
	uint32_t v;
	bool misc = false, mtrr = false;

	n = cpu_boot_msrs(m, 16);
	ASSERT_TRUE(n >= 10);
	for (unsigned int i = 0; i < n; i++) {
		if (m[i].index == 0x1a0) {
			ASSERT_EQ(m[i].data & 1, 1); /* fast strings */
			misc = true;
		} else if (m[i].index == 0x2ff) {
			ASSERT_EQ(m[i].data, 0x806); /* enabled, default write-back */
			mtrr = true;
		} else {
			ASSERT_EQ(m[i].data, 0);
		}
	}
	ASSERT_TRUE(misc && mtrr);
	ASSERT_EQ(cpu_boot_msrs(m, 3), 3);

	memset(&lapic, 0, sizeof(lapic));
	v = 0x10000; /* masked, as after reset */
	memcpy(&lapic.regs[0x350], &v, 4);
	memcpy(&lapic.regs[0x360], &v, 4);
	cpu_lapic_lint(&lapic);
	memcpy(&v, &lapic.regs[0x350], 4);
	ASSERT_EQ(v, 0x10700); /* ExtINT, masked */
	memcpy(&v, &lapic.regs[0x360], 4);
	ASSERT_EQ(v, 0x10400); /* NMI */
	/* KVM's boot vCPU starts with LINT0 unmasked: it ends masked all the same. */
	v = 0x700;
	memcpy(&lapic.regs[0x350], &v, 4);
	cpu_lapic_lint(&lapic);
	memcpy(&v, &lapic.regs[0x350], 4);
	ASSERT_EQ(v, 0x10700);
}
