/* SPDX-License-Identifier: MIT */
#include "arch/x86_64/cpu.h"

#include <asm/kvm_para.h>
#include <asm/processor-flags.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/layout.h"
#include "vmm/util.h"

/* CPUID bits (Intel SDM vol. 2A "CPUID", AMD APM vol. 3 appendix E). */
#define CPUID_1_ECX_TSC_DEADLINE      (1u << 24)
#define CPUID_1_ECX_HYPERVISOR	      (1u << 31)
#define CPUID_1_EDX_HTT		      (1u << 28)
#define CPUID_80000001_ECX_CMP_LEGACY (1u << 1)
#define CPUID_TOPO_TYPE_SMT	      1
#define CPUID_TOPO_TYPE_CORE	      2
#define CPUID_MAX_ENTRIES	      256
#define CPUID_EXTRA_ENTRIES	      16 /* room for the topology subleaves we add */

/* MSRs (Intel SDM vol. 4 "Model-Specific Registers"). */
#define MSR_IA32_SYSENTER_CS	0x174
#define MSR_IA32_SYSENTER_ESP	0x175
#define MSR_IA32_SYSENTER_EIP	0x176
#define MSR_IA32_MISC_ENABLE	0x1a0
#define MSR_MTRR_DEF_TYPE	0x2ff
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MISC_ENABLE_FAST_STRING (1ULL << 0)
#define MTRR_DEF_TYPE_ENABLE	(1ULL << 11)
#define MTRR_TYPE_WRBACK	6ULL
#define CPU_MAX_MSRS		16

#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

/* Local APIC registers (offsets in the 4 KiB page, KVM_GET_LAPIC layout). */
#define APIC_LVT0	0x350
#define APIC_LVT1	0x360
#define APIC_DM_MASK	0x700
#define APIC_DM_NMI	0x400
#define APIC_DM_EXTINT	0x700
#define APIC_LVT_MASKED 0x10000

/* x87 and SSE state at reset (Intel SDM vol. 1 "FINIT" and "MXCSR"). */
#define FPU_FCW_DEFAULT 0x37f
#define MXCSR_DEFAULT	0x1f80
#define XCR0_X87	1ULL

int cpu_supported_cpuid(int kvm_fd, struct kvm_cpuid2 **out)
{
	unsigned int n = CPUID_MAX_ENTRIES;
	struct kvm_cpuid2 *c;
	int r;

	/* E2BIG means the table was too small: retry larger (KVM API doc). */
	for (;;) {
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		r = -errno;
		free(c);
		if (r != -E2BIG || n >= 16 * CPUID_MAX_ENTRIES)
			return r;
		n *= 2;
	}
	*out = c;
	return 0;
}

static struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == fn &&
		    (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == idx))
			return e;
	}
	return NULL;
}

static bool cpuid_is_amd(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0, 0);

	/* "AuthenticAMD" / "HygonGenuine": EBX holds the first four characters. */
	return e && (memcmp(&e->ebx, "Auth", 4) == 0 || memcmp(&e->ebx, "Hygo", 4) == 0);
}

static unsigned int cpu_order(unsigned int n)
{
	unsigned int s = 0;

	while ((1u << s) < n)
		s++;
	return s;
}

/* Leaves 0xb and 0x1f: an SMT level of one thread and a core level of n cores. */
static void cpuid_add_topology(struct kvm_cpuid2 *c, uint32_t fn, unsigned int id, unsigned int n)
{
	unsigned int shift = cpu_order(n);

	for (uint32_t sub = 0; sub < 3; sub++) {
		struct kvm_cpuid_entry2 *e = &c->entries[c->nent++];

		memset(e, 0, sizeof(*e));
		e->function = fn;
		e->index = sub;
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		e->edx = id; /* x2APIC ID */
		e->ecx = sub;
		if (sub == 0) {
			e->eax = 0; /* no bits of the APIC ID select a thread */
			e->ebx = 1;
			e->ecx |= CPUID_TOPO_TYPE_SMT << 8;
		} else if (sub == 1) {
			e->eax = shift;
			e->ebx = n;
			e->ecx |= CPUID_TOPO_TYPE_CORE << 8;
		} /* sub 2: level type 0 ends the enumeration */
	}
}

/* Deterministic cache parameters (leaf 4, AMD 0x8000001d): the L3 is shared by all cores. */
static void cpuid_fix_cache_leaf(struct kvm_cpuid_entry2 *e, unsigned int shift, bool intel)
{
	uint32_t level = (e->eax >> 5) & 7;
	uint32_t sharing = level == 3 ? (1u << shift) - 1 : 0;

	if (!(e->eax & 0x1f))
		return; /* no cache at this subleaf */
	e->eax = (e->eax & ~(0xfffu << 14)) | (sharing << 14);
	if (intel)
		e->eax = (e->eax & ~(0x3fu << 26)) | (MIN((1u << shift) - 1, 63u) << 26);
}

struct kvm_cpuid2 *cpu_cpuid_for_vcpu(const struct kvm_cpuid2 *supported, unsigned int id,
				      unsigned int n, bool tsc_deadline)
{
	unsigned int shift = cpu_order(n);
	struct kvm_cpuid_entry2 *e;
	struct kvm_cpuid2 *c;
	bool amd, has_0b = false, has_1f = false;

	c = calloc(1, sizeof(*c) + (supported->nent + CPUID_EXTRA_ENTRIES) * sizeof(c->entries[0]));
	if (!c)
		return NULL;
	/* Copy all but the topology leaves, which KVM leaves empty and we rebuild. */
	for (uint32_t i = 0; i < supported->nent; i++) {
		const struct kvm_cpuid_entry2 *s = &supported->entries[i];

		if (s->function == 0xb || s->function == 0x1f) {
			has_0b |= s->function == 0xb;
			has_1f |= s->function == 0x1f;
			continue;
		}
		c->entries[c->nent++] = *s;
	}
	amd = cpuid_is_amd(c);
	if (has_0b)
		cpuid_add_topology(c, 0xb, id, n);
	if (has_1f)
		cpuid_add_topology(c, 0x1f, id, n);

	for (uint32_t i = 0; i < c->nent; i++) {
		e = &c->entries[i];
		switch (e->function) {
		case 0x1:
			/* EBX: initial APIC ID, addressable logical processor IDs (HTT). */
			e->ebx = (e->ebx & 0x0000ffffu) | (id << 24) |
				 (MIN(1u << shift, 0xffu) << 16);
			e->edx = n > 1 ? e->edx | CPUID_1_EDX_HTT : e->edx & ~CPUID_1_EDX_HTT;
			/* Linux looks for the KVM leaves only behind the hypervisor bit. */
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			/* The in-kernel LAPIC emulates the TSC-deadline timer; with it Linux
			 * needs no PIT ticks to calibrate the LAPIC timer. */
			if (tsc_deadline)
				e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
			else
				e->ecx &= ~CPUID_1_ECX_TSC_DEADLINE;
			break;
		case 0x4:
			if (!amd)
				cpuid_fix_cache_leaf(e, shift, true);
			break;
		case 0x80000001:
			if (amd && n > 1)
				e->ecx |= CPUID_80000001_ECX_CMP_LEGACY;
			break;
		case 0x80000008:
			/* ECX: NC (cores - 1) and ApicIdSize. */
			if (amd)
				e->ecx = (e->ecx & ~0xf0ffu) | (shift << 12) | (n - 1);
			break;
		case 0x8000001d:
			if (amd)
				cpuid_fix_cache_leaf(e, shift, false);
			break;
		case 0x8000001e:
			/* Extended APIC ID, core ID with one thread per core, node 0. */
			if (amd) {
				e->eax = id;
				e->ebx = id & 0xff;
				e->ecx = 0;
			}
			break;
		case KVM_CPUID_SIGNATURE:
			e->eax = MAX(e->eax, (uint32_t)KVM_CPUID_FEATURES);
			memcpy(&e->ebx, "KVMK", 4);
			memcpy(&e->ecx, "VMKV", 4);
			memcpy(&e->edx, "M\0\0\0", 4);
			break;
		default:
			break;
		}
	}
	return c;
}

unsigned int cpu_boot_msrs(struct kvm_msr_entry *out, unsigned int max)
{
	/*
	 * SYSENTER/SYSCALL targets cleared as at reset, fast string operations on (Linux warns
	 * when firmware left them off), and MTRRs enabled with write-back as the default type so
	 * that all of RAM is cacheable without variable ranges.
	 */
	static const struct {
		uint32_t index;
		uint64_t data;
	} msrs[] = {
		{MSR_IA32_SYSENTER_CS, 0},
		{MSR_IA32_SYSENTER_ESP, 0},
		{MSR_IA32_SYSENTER_EIP, 0},
		{MSR_STAR, 0},
		{MSR_LSTAR, 0},
		{MSR_CSTAR, 0},
		{MSR_SYSCALL_MASK, 0},
		{MSR_KERNEL_GS_BASE, 0},
		{MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING},
		{MSR_MTRR_DEF_TYPE, MTRR_DEF_TYPE_ENABLE | MTRR_TYPE_WRBACK},
	};
	unsigned int n = 0;

	for (; n < ARRAY_SIZE(msrs) && n < max; n++) {
		memset(&out[n], 0, sizeof(out[n]));
		out[n].index = msrs[n].index;
		out[n].data = msrs[n].data;
	}
	return n;
}

void cpu_boot_regs(const struct boot_info *bi, struct kvm_regs *regs)
{
	memset(regs, 0, sizeof(*regs));
	regs->rflags = X86_EFLAGS_FIXED; /* interrupts off */
	regs->rip = bi->entry;
	if (bi->kind == BOOT_BZIMAGE) {
		regs->rsi = bi->params; /* boot.rst "64-bit Boot Protocol" */
		regs->rsp = X86_BOOT_STACK_ADDR;
		regs->rbp = X86_BOOT_STACK_ADDR;
	} else {
		regs->rbx = bi->params; /* PVH: EBX = hvm_start_info */
	}
}

/* Turn a GDT descriptor into KVM's unpacked form. */
static void cpu_segment(uint64_t d, uint16_t selector, struct kvm_segment *s)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | (((d >> 48) & 0xf) << 16));

	memset(s, 0, sizeof(*s));
	s->base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
	s->g = (d >> 55) & 1;
	s->limit = s->g ? (limit << 12) | 0xfff : limit;
	s->selector = selector;
	s->type = (d >> 40) & 0xf;
	s->s = (d >> 44) & 1;
	s->dpl = (d >> 45) & 3;
	s->present = (d >> 47) & 1;
	s->avl = (d >> 52) & 1;
	s->l = (d >> 53) & 1;
	s->db = (d >> 54) & 1;
	s->unusable = !s->present;
}

void cpu_boot_sregs(const struct boot_info *bi, struct kvm_sregs *sregs)
{
	uint64_t gdt[BOOT_GDT_ENTRIES];
	struct kvm_segment data;

	/* The same GDT the loader wrote into guest memory, so a reload sees these values. */
	boot_gdt(bi->kind, gdt);
	cpu_segment(gdt[X86_GDT_CODE_SEL / 8], X86_GDT_CODE_SEL, &sregs->cs);
	cpu_segment(gdt[X86_GDT_DATA_SEL / 8], X86_GDT_DATA_SEL, &data);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	cpu_segment(gdt[X86_GDT_TSS_SEL / 8], X86_GDT_TSS_SEL, &sregs->tr);
	memset(&sregs->ldt, 0, sizeof(sregs->ldt));
	sregs->ldt.type = 2; /* LDT */
	sregs->ldt.unusable = 1;
	sregs->gdt.base = X86_GDT_ADDR;
	sregs->gdt.limit = sizeof(gdt) - 1;
	sregs->idt.base = 0;
	sregs->idt.limit = 0;

	if (bi->kind == BOOT_BZIMAGE) {
		/* Long mode with the loader's identity map of the first 4 GiB. */
		sregs->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
		sregs->cr3 = X86_PML4_ADDR;
		sregs->cr4 = X86_CR4_PAE;
		sregs->efer = EFER_LME | EFER_LMA;
	} else {
		/* PVH: 32-bit protected mode, paging off. */
		sregs->cr0 = X86_CR0_PE | X86_CR0_ET;
		sregs->cr3 = 0;
		sregs->cr4 = 0;
		sregs->efer = 0;
	}
}

static void cpu_lapic_set_lvt(struct kvm_lapic_state *lapic, unsigned int reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &lapic->regs[reg], 4);
	v = (v & ~(uint32_t)APIC_DM_MASK) | mode;
	memcpy(&lapic->regs[reg], &v, 4);
}

void cpu_lapic_lint(struct kvm_lapic_state *lapic)
{
	uint32_t v;

	/*
	 * LINT0 would carry the 8259's ExtINT, but with hardware-reduced ACPI the guest never
	 * programs KVM's 8259 model, whose reset state (no mask, vector base 0) would turn every
	 * edge on GSIs 0-15 into a bogus vector 0-15 on vCPU 0. Masked, Linux leaves it masked.
	 */
	cpu_lapic_set_lvt(lapic, APIC_LVT0, APIC_DM_EXTINT);
	memcpy(&v, &lapic->regs[APIC_LVT0], 4);
	v |= APIC_LVT_MASKED;
	memcpy(&lapic->regs[APIC_LVT0], &v, 4);
	cpu_lapic_set_lvt(lapic, APIC_LVT1, APIC_DM_NMI);
}

/* One vCPU ioctl; on failure the reason names the vCPU and the request. */
static int cpu_ioctl(const struct cpu_vcpu_args *a, unsigned long req, void *arg, const char *name,
		     char *err, unsigned int errlen)
{
	int r;

	if (ioctl(a->vcpu_fd, req, arg) >= 0)
		return 0;
	r = -errno;
	snprintf(err, errlen, "vcpu%u: %s: %s", a->id, name, strerror(-r));
	return r;
}

#define CPU_IOCTL(a, req, arg, err, errlen) cpu_ioctl(a, req, arg, #req, err, errlen)

static int cpu_set_msrs(const struct cpu_vcpu_args *a, char *err, unsigned int errlen)
{
	struct kvm_msrs *msrs;
	unsigned int n;
	int r;

	msrs = calloc(1, sizeof(*msrs) + CPU_MAX_MSRS * sizeof(msrs->entries[0]));
	if (!msrs)
		return -ENOMEM;
	n = cpu_boot_msrs(msrs->entries, CPU_MAX_MSRS);
	msrs->nmsrs = n;
	/* KVM_SET_MSRS returns how many it set; it stops at the first one it refuses. */
	r = ioctl(a->vcpu_fd, KVM_SET_MSRS, msrs);
	if (r < 0) {
		r = -errno;
		snprintf(err, errlen, "vcpu%u: KVM_SET_MSRS: %s", a->id, strerror(-r));
	} else if ((unsigned int)r < n) {
		snprintf(err, errlen, "vcpu%u: KVM refused MSR 0x%x", a->id,
			 msrs->entries[r].index);
		r = -EINVAL;
	} else {
		r = 0;
	}
	free(msrs);
	return r;
}

static int cpu_set_boot_regs(const struct cpu_vcpu_args *a, char *err, unsigned int errlen)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int r;

	/* Start from KVM's values: the APIC base and pending-interrupt bitmap stay as they are. */
	r = CPU_IOCTL(a, KVM_GET_SREGS, &sregs, err, errlen);
	if (r < 0)
		return r;
	cpu_boot_sregs(a->boot, &sregs);
	r = CPU_IOCTL(a, KVM_SET_SREGS, &sregs, err, errlen);
	if (r < 0)
		return r;
	cpu_boot_regs(a->boot, &regs);
	return CPU_IOCTL(a, KVM_SET_REGS, &regs, err, errlen);
}

static int cpu_set_fpu(const struct cpu_vcpu_args *a, char *err, unsigned int errlen)
{
	struct kvm_xcrs xcrs;
	struct kvm_fpu fpu;
	int r;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = FPU_FCW_DEFAULT;
	fpu.mxcsr = MXCSR_DEFAULT;
	r = CPU_IOCTL(a, KVM_SET_FPU, &fpu, err, errlen);
	if (r < 0 || !a->has_xcrs)
		return r;
	memset(&xcrs, 0, sizeof(xcrs));
	xcrs.nr_xcrs = 1;
	xcrs.xcrs[0].xcr = 0;
	xcrs.xcrs[0].value = XCR0_X87; /* x87 only until the guest enables more */
	return CPU_IOCTL(a, KVM_SET_XCRS, &xcrs, err, errlen);
}

static int cpu_set_lapic(const struct cpu_vcpu_args *a, char *err, unsigned int errlen)
{
	struct kvm_lapic_state lapic;
	int r;

	r = CPU_IOCTL(a, KVM_GET_LAPIC, &lapic, err, errlen);
	if (r < 0)
		return r;
	cpu_lapic_lint(&lapic);
	return CPU_IOCTL(a, KVM_SET_LAPIC, &lapic, err, errlen);
}

int cpu_setup_vcpu(const struct cpu_vcpu_args *a, char *err, unsigned int errlen)
{
	struct kvm_cpuid2 *cpuid;
	int r;

	cpuid = cpu_cpuid_for_vcpu(a->supported, a->id, a->n_vcpus, a->tsc_deadline);
	if (!cpuid)
		return -ENOMEM;
	/* CPUID first: KVM checks some MSRs and register bits against it. */
	r = CPU_IOCTL(a, KVM_SET_CPUID2, cpuid, err, errlen);
	free(cpuid);
	if (r < 0)
		return r;
	r = cpu_set_msrs(a, err, errlen);
	if (r < 0)
		return r;
	if (a->boot) {
		r = cpu_set_boot_regs(a, err, errlen);
		if (r < 0)
			return r;
	}
	r = cpu_set_fpu(a, err, errlen);
	if (r < 0)
		return r;
	return cpu_set_lapic(a, err, errlen);
}
