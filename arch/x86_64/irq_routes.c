/* SPDX-License-Identifier: MIT */
/* KVM's default x86 GSI routes, repeated in every KVM_SET_GSI_ROUTING table. */
#include <linux/kvm.h>
#include <string.h>

#include "vmm/arch.h"

#define X86_IOAPIC_PINS 24
#define X86_PIC_PINS	16

static void irq_route(struct kvm_irq_routing_entry *e, unsigned int gsi, unsigned int chip,
		      unsigned int pin)
{
	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

/*
 * KVM_CREATE_IRQCHIP routes GSI n to IOAPIC pin n for all 24 pins and, for n < 16, also to the
 * 8259 pair (master pins 0-7, slave 8-15). KVM_SET_GSI_ROUTING replaces the whole table, so
 * the MSI routes of virtio-pci go in next to a copy of these, or the legacy lines would die.
 */
unsigned int arch_irq_routes(struct kvm_irq_routing_entry *out, unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int gsi = 0; gsi < X86_IOAPIC_PINS && n < max; gsi++) {
		irq_route(&out[n++], gsi, KVM_IRQCHIP_IOAPIC, gsi);
		if (gsi < X86_PIC_PINS && n < max)
			irq_route(&out[n++], gsi,
				  gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
				  gsi % 8);
	}
	return n;
}
