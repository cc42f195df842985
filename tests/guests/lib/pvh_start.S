/* SPDX-License-Identifier: MIT */
/*
 * PVH entry shared by the 32-bit test guests.
 *
 * The Xen PVH boot ABI enters here in 32-bit protected mode, paging off,
 * with flat CS/DS/ES/SS of the VMM's choosing and EBX = the physical address
 * of struct hvm_start_info. We do not trust the VMM's GDT to stay put (it
 * lives in guest RAM we may reuse), so we load our own, clear BSS, switch to
 * our own stack and call guest_main(EBX).
 */

#define PVH_CS 0x08
#define PVH_DS 0x10
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/*
 * ELF note "Xen", type 18, 4-byte descriptor: the 32-bit physical entry.
 * The linker script puts it in a PT_NOTE program header (and in the load
 * segment, as Linux does), which is where VMMs look for it.
 */
	.section .note.Xen, "a"
	.p2align 2
	.long 4				/* namesz: "Xen\0" */
	.long 4				/* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.p2align 2
	.long pvh_start

	.section .text.head, "ax"
	.code32
	.globl pvh_start
pvh_start:
	cli
	cld
	lgdt	pvh_gdt_desc
	ljmp	$PVH_CS, $1f
1:	movl	$PVH_DS, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs

	/* The loader should zero p_memsz beyond p_filesz; do it anyway (no stack yet). */
	movl	%ebx, %edx
	movl	$__bss_start, %edi
	movl	$__bss_end, %ecx
	subl	%edi, %ecx
	xorl	%eax, %eax
	rep stosb

	movl	$pvh_stack_top, %esp
	xorl	%ebp, %ebp
	pushl	%edx			/* struct hvm_start_info * */
	call	guest_main
2:	cli
	hlt
	jmp	2b

	.section .data
	.p2align 3
	.globl pvh_gdt
pvh_gdt:
	.quad 0				/* null */
	.quad 0x00cf9a000000ffff	/* PVH_CS: 32-bit code, base 0, 4 GiB */
	.quad 0x00cf92000000ffff	/* PVH_DS: data, base 0, 4 GiB */
pvh_gdt_end:

	.p2align 2
	.globl pvh_gdt_desc
pvh_gdt_desc:
	.word pvh_gdt_end - pvh_gdt - 1
	.long pvh_gdt

	.section .bss
	.p2align 4
	.space 16384
pvh_stack_top:

	.section .note.GNU-stack, "", @progbits
