/* SPDX-License-Identifier: MIT */
/*
 * triple-fault.elf: loads an IDT with limit 0 and executes ud2. The #UD
 * cannot be delivered (vector beyond the limit -> #GP), neither can the #GP
 * (-> #DF) nor the #DF: the CPU shuts down. Under KVM that is
 * KVM_EXIT_SHUTDOWN, which microvm must turn into exit status 1 with a
 * one-line reason.
 */
#include "tests/guests/lib/guest.h"
#include "tests/guests/lib/pvh.h"

struct idt_desc {
	uint16_t limit;
	uint32_t base;
} __attribute__((packed));

void guest_main(struct hvm_start_info *si)
{
	static const struct idt_desc empty_idt = {0, 0};

	serial_init();
	pvh_check(si);
	puts_serial("ABOUT TO TRIPLE FAULT\n");
	__asm__ volatile("lidt %0\n\t"
			 "ud2"
			 :
			 : "m"(empty_idt)
			 : "memory");
	/* Not reached; if it is, the VMM ignored the fault: say so and fail. */
	guest_panic("triple fault did not stop the VM");
}
