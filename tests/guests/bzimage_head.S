/* SPDX-License-Identifier: MIT */
/*
 * hello-bzimage.bin, the parts before C: a file in Linux bzImage format
 * (Documentation/arch/x86/boot.rst, "THE LINUX/x86 BOOT PROTOCOL").
 *
 *   file offset 0       boot sector; the setup header at 0x1f1
 *               0x200   jump over the header into the real-mode setup code
 *               512*(setup_sects+1)  protected-mode payload, loaded at 1 MiB:
 *                 +0x000 startup_32  (code32_start, 32-bit boot protocol)
 *                 +0x200 startup_64  (64-bit boot protocol: what microvm enters)
 *
 * Three ways in, one way to C:
 *  - microvm (64-bit protocol): long mode, first 4 GiB identity-mapped,
 *    RSI = zero page it filled (header copy, e820, cmd_line_ptr) -> startup_64.
 *  - a 32-bit protocol loader: flat protected mode, ESI = zero page ->
 *    startup_32 builds identity page tables, enters long mode -> startup_64.
 *  - a BIOS loader such as QEMU's (16-bit protocol): real mode at setup+0x200
 *    -> setup_start builds a zero page at 0x7000 (header copy + BIOS e820),
 *    enters protected mode -> startup_32 -> startup_64.
 */

#define BOOT_CS32	0x08	/* our GDT: 32-bit code, used only on the way up */
#define BOOT_CS64	0x10	/* 64-bit code, the selector the 64-bit protocol uses too */
#define BOOT_DS		0x18
#define ZERO_PAGE_SEG	0x0700	/* zero page at 0x7000, where microvm puts it too */
#define ZP_E820_ENTRIES	0x1e8	/* struct boot_params offsets (asm/bootparam.h) */
#define ZP_E820_TABLE	0x2d0
#define ZP_HDR		0x1f1
#define E820_MAX	128
#define SMAP		0x534d4150	/* "SMAP", the int 15h e820 signature */
#define LOADED_HIGH	0x01
#define XLF_KERNEL_64	0x0001
#define PAYLOAD_BASE	0x100000
#define PTE_PRESENT_RW	0x003
#define PDE_2M		0x083	/* present, writable, page size */
#define CR0_PE		0x00000001
#define CR0_PG		0x80000000
#define CR4_PAE		0x00000020
#define MSR_EFER	0xc0000080
#define EFER_LME	0x00000100

/* ----------------------------------------------------------------------------
 * Setup sectors (real mode, linked at 0: offsets relative to the setup segment)
 */
	.section .setup, "ax"
	.code16
setup_begin:
	/* Boot sector: booting this file from a disk is not supported; just stop. */
	cli
1:	hlt
	jmp	1b

	.org 0x1f1
hdr:
setup_sects:	.byte	(setup_end - setup_begin) / 512 - 1
root_flags:	.word	0
syssize:	.long	bz_syssize		/* payload size in 16-byte units */
ram_size:	.word	0
vid_mode:	.word	0xffff			/* "normal" */
root_dev:	.word	0
boot_flag:	.word	0xaa55

	.org 0x200
jump:		.byte	0xeb, setup_start - 1f	/* jmp short setup_start */
1:
header:		.ascii	"HdrS"
version:	.word	0x020f
realmode_swtch:	.long	0
start_sys_seg:	.word	0x1000			/* obsolete, as Linux fills it */
kernel_version:	.word	version_str - 0x200
type_of_loader:	.byte	0
loadflags:	.byte	LOADED_HIGH
setup_move_size: .word	0x8000
code32_start:	.long	startup_32
ramdisk_image:	.long	0
ramdisk_size:	.long	0
bootsect_kludge: .long	0
heap_end_ptr:	.word	0
ext_loader_ver:	.byte	0
ext_loader_type: .byte	0
cmd_line_ptr:	.long	0
initrd_addr_max: .long	0x7fffffff
kernel_alignment: .long	0x100000
relocatable_kernel: .byte 0			/* linked for 1 MiB, nowhere else */
min_alignment:	.byte	20
xloadflags:	.word	XLF_KERNEL_64
cmdline_size:	.long	4095
hardware_subarch: .long	0
hardware_subarch_data: .quad 0
payload_offset:	.long	0
payload_length:	.long	0
setup_data:	.quad	0
pref_address:	.quad	PAYLOAD_BASE
init_size:	.long	bz_init_size		/* payload + bss + page tables */
handover_offset: .long	0
kernel_info_offset: .long kernel_info - PAYLOAD_BASE
hdr_end:

/*
 * Real-mode entry (16-bit protocol): CS = DS + 0x20, DS = ES = SS = setup
 * segment, stack set by the loader, header already patched by the loader
 * (cmd_line_ptr, type_of_loader, ramdisk_*).
 */
setup_start:
	cli
	cld
	movw	%cs, %ax
	subw	$0x20, %ax
	movw	%ax, %ds

	/* Zero page: clear 4 KiB, then copy the (loader-patched) header into it. */
	movw	$ZERO_PAGE_SEG, %ax
	movw	%ax, %es
	xorw	%di, %di
	xorw	%ax, %ax
	movw	$2048, %cx
	rep stosw
	movw	$ZP_HDR, %si
	movw	%si, %di
	movw	$(hdr_end - hdr), %cx
	rep movsb

	/*
	 * e820 from the BIOS (int 15h, ax=e820h), one 20-byte entry per call,
	 * into a buffer in the setup segment with DS = ES = SS as the loader set
	 * them: qboot (QEMU -M microvm) reads its register frame through DS and
	 * writes the entry through DS:EDI, so it only works the way Linux's own
	 * setup calls it. Each entry is then copied to the zero page.
	 */
	movw	%ds, %ax
	movw	%ax, %es
	xorl	%ebx, %ebx
2:	movl	$0xe820, %eax
	movl	$20, %ecx
	movl	$SMAP, %edx
	movl	$e820_buf, %edi
	int	$0x15
	jc	3f
	cmpl	$SMAP, %eax
	jne	3f
	movw	$ZERO_PAGE_SEG, %ax
	movw	%ax, %es
	movzbw	%es:ZP_E820_ENTRIES, %di
	imulw	$20, %di, %di
	addw	$ZP_E820_TABLE, %di
	movw	$e820_buf, %si
	movw	$20, %cx
	rep movsb
	incb	%es:ZP_E820_ENTRIES
	cmpb	$E820_MAX, %es:ZP_E820_ENTRIES
	movw	%ds, %ax		/* ES = DS again; mov keeps the flags */
	movw	%ax, %es
	jae	3f
	testl	%ebx, %ebx
	jnz	2b
3:
	/* Fast A20 (port 0x92 bit 1; never bit 0, that is a reset). */
	inb	$0x92, %al
	orb	$0x02, %al
	andb	$0xfe, %al
	outb	%al, $0x92

	/* Far pointer to code32_start as the loader left it. */
	movl	code32_start, %eax
	movl	%eax, pm_jump

	lgdtl	setup_gdt_desc
	movl	%cr0, %eax
	orl	$CR0_PE, %eax
	movl	%eax, %cr0
	/* Flat data segments as the 32-bit protocol promises; CS still has the setup base. */
	movw	$BOOT_DS, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movl	$(ZERO_PAGE_SEG << 4), %esi
	ljmpl	*%cs:(pm_jump - 0x200)	/* CS = setup segment + 0x20 */

	.p2align 2
pm_jump:	.long	0
		.word	BOOT_CS32
setup_gdt_desc:	.word	boot_gdt_end - boot_gdt - 1
		.long	boot_gdt		/* linear: the GDT lives in the payload */
version_str:	.asciz	"microvm test guest hello-bzimage"
e820_buf:	.space	20

	.p2align 9
setup_end:

/* ----------------------------------------------------------------------------
 * Payload, loaded at 1 MiB
 */
	.section .head, "ax"
	.code32
	.globl startup_32
startup_32:
	/* 32-bit protocol: flat segments, paging off, ESI = zero page. */
	cli
	cld
	lgdt	boot_gdt_desc
	movl	$BOOT_DS, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs

	/* Identity-map 4 GiB with 2 MiB pages: PML4 -> PDPT -> 4 page directories. */
	movl	$boot_pgt, %edi
	xorl	%eax, %eax
	movl	$(6 * 4096 / 4), %ecx
	rep stosl
	movl	$(boot_pgt + 0x1000 + PTE_PRESENT_RW), boot_pgt
	movl	$(boot_pgt + 0x1000), %edi
	movl	$(boot_pgt + 0x2000 + PTE_PRESENT_RW), %eax
	movl	$4, %ecx
1:	movl	%eax, (%edi)
	addl	$0x1000, %eax
	addl	$8, %edi
	loop	1b
	movl	$(boot_pgt + 0x2000), %edi
	movl	$PDE_2M, %eax
	movl	$2048, %ecx
2:	movl	%eax, (%edi)
	addl	$0x200000, %eax
	addl	$8, %edi
	loop	2b

	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$boot_pgt, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$(CR0_PG | CR0_PE), %eax
	movl	%eax, %cr0
	ljmp	$BOOT_CS64, $from_32

	.code64
from_32:
	/* Upper halves are undefined after a mode switch: zero-extend ESI. */
	movl	%esi, %esi
	jmp	startup_64

	.p2align 3
boot_gdt:
	.quad	0				/* null */
	.quad	0x00cf9a000000ffff		/* BOOT_CS32 */
	.quad	0x00af9a000000ffff		/* BOOT_CS64: L=1 */
	.quad	0x00cf92000000ffff		/* BOOT_DS */
boot_gdt_end:
boot_gdt_desc:
	.word	boot_gdt_end - boot_gdt - 1
	.long	boot_gdt

	/* 64-bit protocol entry: load address + 0x200. */
	.org 0x200
	.globl startup_64
startup_64:
	/* Long mode, paging on, RSI = zero page, CS/DS from the loader's GDT. */
	cli
	cld
	movq	%rsi, %rbx
	movq	$__bss_start, %rdi
	movq	$__bss_end, %rcx
	subq	%rdi, %rcx
	xorl	%eax, %eax
	rep stosb
	movq	$bz_stack_top, %rsp
	xorl	%ebp, %ebp
	movq	%rbx, %rdi
	call	bz_main
3:	cli
	hlt
	jmp	3b

	/* Protocol 2.15 kernel_info: "LToP", size, total size, setup_type_max. */
	.section .rodata
	.p2align 2
kernel_info:
	.ascii	"LToP"
	.long	kernel_info_end - kernel_info
	.long	kernel_info_end - kernel_info
	.long	0
kernel_info_end:

	.section .bss
	.p2align 4
	.space	16384
bz_stack_top:

	/* Page tables only for the 32-bit way in; outside BSS so startup_64 keeps them. */
	.section .pgt, "aw", @nobits
	.p2align 12
boot_pgt:
	.space	6 * 4096

	.section .note.GNU-stack, "", @progbits
