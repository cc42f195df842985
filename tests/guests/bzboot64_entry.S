/* SPDX-License-Identifier: MIT */
/*
 * bzboot64.elf: the switch from 32-bit protected mode to the state the
 * 64-bit boot protocol (and microvm's loader) promises at load + 0x200.
 * void bzboot64_enter(u32 pml4, u32 entry, u32 zero_page), cdecl.
 */

#define CS32		0x08
#define CS64		0x10	/* the contract's 64-bit code selector */
#define DS64		0x18	/* the contract's data selector */
#define CR0_PG		0x80000000
#define CR4_PAE		0x00000020
#define MSR_EFER	0xc0000080
#define EFER_LME	0x00000100

	.section .text, "ax"
	.code32
	.globl bzboot64_enter
bzboot64_enter:
	cli
	movl	4(%esp), %eax		/* pml4 */
	movl	8(%esp), %edi		/* entry */
	movl	12(%esp), %esi		/* zero page */
	lgdt	bzboot64_gdt_desc
	ljmp	$CS32, $1f		/* same kind of CS, now from our GDT */
1:	movl	%eax, %cr3
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$CR0_PG, %eax
	movl	%eax, %cr0
	ljmp	$CS64, $2f

	.code64
2:	movl	$DS64, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	xorl	%eax, %eax
	movl	%eax, %fs
	movl	%eax, %gs
	movl	%esi, %esi		/* zero-extend: upper halves undefined after the switch */
	movl	%edi, %edi
	/* Only RSI is part of the protocol: clear what a kernel might mistake for input. */
	xorl	%ebx, %ebx
	xorl	%ecx, %ecx
	xorl	%edx, %edx
	xorl	%ebp, %ebp
	movq	%rdi, %rax
	xorl	%edi, %edi
	xorl	%esp, %esp
	jmp	*%rax

	.section .data
	.p2align 3
bzboot64_gdt:
	.quad	0
	.quad	0x00cf9a000000ffff	/* CS32 */
	.quad	0x00af9a000000ffff	/* CS64: long mode code */
	.quad	0x00cf92000000ffff	/* DS64 */
bzboot64_gdt_end:
bzboot64_gdt_desc:
	.word	bzboot64_gdt_end - bzboot64_gdt - 1
	.long	bzboot64_gdt

	.section .note.GNU-stack, "", @progbits
