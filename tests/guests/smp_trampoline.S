/* SPDX-License-Identifier: MIT */
/*
 * smp.elf, the application processors' way in.
 *
 * A STARTUP IPI with vector V starts an AP in real mode at CS = V << 8,
 * IP = 0, i.e. physical address V * 4 KiB. smp.c copies the bytes between
 * smp_trampoline_start and smp_trampoline_end to such a page below 1 MiB.
 * The copy only needs to reach protected mode: it loads the guest's GDT
 * (pvh_gdt, at its linked address) and far-jumps to ap_entry32 in the image.
 */

#define PVH_CS 0x08
#define PVH_DS 0x10
#define AP_STACK_SIZE 4096	/* must match SMP_AP_STACK_SIZE in smp.c */

	.section .text, "ax"
	.code16
	.globl smp_trampoline_start, smp_trampoline_end
smp_trampoline_start:
	cli
	cld
	movw	%cs, %ax
	movw	%ax, %ds
	/* DS-relative: the offset inside the copied page, not the linked address. */
	lgdtl	tramp_gdt_desc - smp_trampoline_start
	movl	%cr0, %eax
	orl	$1, %eax		/* CR0.PE */
	movl	%eax, %cr0
	ljmpl	$PVH_CS, $ap_entry32

	.p2align 2
tramp_gdt_desc:
	.word	3 * 8 - 1
	.long	pvh_gdt
smp_trampoline_end:

	.code32
ap_entry32:
	movl	$PVH_DS, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	/* Take the next free stack; APs come up in any order. */
	movl	$1, %eax
	lock xaddl %eax, smp_ap_next
	cmpl	smp_ap_max, %eax
	jae	1f
	incl	%eax
	imull	$AP_STACK_SIZE, %eax, %eax	/* stack top of slot eax - 1 */
	addl	$smp_ap_stacks, %eax
	movl	%eax, %esp
	xorl	%ebp, %ebp
	call	smp_ap_main
	/* More APs than stacks: park this one; the BSP will time out and report it. */
1:	cli
	hlt
	jmp	1b

	.section .note.GNU-stack, "", @progbits
