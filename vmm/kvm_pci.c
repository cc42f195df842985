/* SPDX-License-Identifier: MIT */
#include "vmm/kvm_pci.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "devices/pci/pci.h"
#include "vmm/arch.h"
#include "vmm/log.h"
#include "vmm/vm.h"

/* GSIs above the IOAPIC's 24 pins are free for MSI routes; KVM allows up to 1024 entries. */
#define KVM_PCI_FIRST_MSI_GSI 24U
#define KVM_PCI_MAX_ROUTES    1024U
/* Memory slots after guest RAM's, for RAM-backed BARs and shared memory regions. */
#define KVM_PCI_FIRST_SLOT 16
#define KVM_PCI_MAX_SLOTS  64

struct vm_kvm_pci {
	pthread_mutex_t lock; /* the routing table and the slot allocator */
	struct kvm_irq_routing *routes;
	uint32_t next_gsi;
	int next_slot;
	bool slot_live[KVM_PCI_MAX_SLOTS]; /* KVM has the slot (index: slot - FIRST_SLOT) */
};

/* Push the whole table to KVM (it has no per-entry update). Lock held. */
static int kvm_pci_commit(struct vm *vm)
{
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, vm->kpci->routes) < 0)
		return -errno;
	return 0;
}

static struct kvm_irq_routing_entry *kvm_pci_route(struct vm_kvm_pci *k, uint32_t gsi)
{
	for (unsigned int i = 0; i < k->routes->nr; i++)
		if (k->routes->entries[i].gsi == gsi &&
		    k->routes->entries[i].type == KVM_IRQ_ROUTING_MSI)
			return &k->routes->entries[i];
	return NULL;
}

static int kvm_pci_ioeventfd(void *opaque, uint64_t addr, uint32_t len, bool datamatch,
			     uint64_t data, int efd, bool assign)
{
	struct vm *vm = opaque;
	struct kvm_ioeventfd io = {
		.datamatch = data,
		.addr = addr,
		.len = len,
		.fd = efd,
		.flags = (datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
			 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
		return -errno;
	return 0;
}

static int kvm_pci_msi_alloc(void *opaque, int efd, uint32_t *gsi)
{
	struct vm *vm = opaque;
	struct vm_kvm_pci *k = vm->kpci;
	struct kvm_irq_routing_entry *e;
	int r;

	pthread_mutex_lock(&k->lock);
	if (k->routes->nr == KVM_PCI_MAX_ROUTES) {
		pthread_mutex_unlock(&k->lock);
		return -ENOSPC;
	}
	e = &k->routes->entries[k->routes->nr++];
	memset(e, 0, sizeof(*e));
	e->gsi = k->next_gsi++;
	/* A placeholder message until the guest programs the table; the vector is masked until
	 * then, so nothing is sent to it. */
	e->type = KVM_IRQ_ROUTING_MSI;
	*gsi = e->gsi;
	r = kvm_pci_commit(vm);
	pthread_mutex_unlock(&k->lock);
	if (r < 0)
		return r;
	return vm_irqfd_add(vm, *gsi, efd);
}

static int kvm_pci_msi_update(void *opaque, uint32_t gsi, uint64_t addr, uint32_t data)
{
	struct vm *vm = opaque;
	struct vm_kvm_pci *k = vm->kpci;
	struct kvm_irq_routing_entry *e;
	int r = -ENOENT;

	pthread_mutex_lock(&k->lock);
	e = kvm_pci_route(k, gsi);
	if (e) {
		e->u.msi.address_lo = (uint32_t)addr;
		e->u.msi.address_hi = (uint32_t)(addr >> 32);
		e->u.msi.data = data;
		r = kvm_pci_commit(vm);
	}
	pthread_mutex_unlock(&k->lock);
	return r;
}

static int kvm_pci_intx_irqfd(void *opaque, uint32_t gsi, int efd, int resample_efd)
{
	struct vm *vm = opaque;
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)efd,
		.gsi = gsi,
		.flags = KVM_IRQFD_FLAG_RESAMPLE,
		.resamplefd = (uint32_t)resample_efd,
	};

	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return -errno;
	return 0;
}

static int kvm_pci_map_ram(void *opaque, int *slot_id, uint64_t gpa, uint64_t size, void *hva)
{
	struct vm *vm = opaque;
	struct vm_kvm_pci *k = vm->kpci;
	struct kvm_userspace_memory_region mr = {0};
	bool *live;
	int r = 0;

	pthread_mutex_lock(&k->lock);
	if (*slot_id < 0) {
		if (!hva)
			goto out;
		if (k->next_slot == KVM_PCI_FIRST_SLOT + KVM_PCI_MAX_SLOTS) {
			r = -ENOSPC;
			goto out;
		}
		*slot_id = k->next_slot++;
	}
	live = &k->slot_live[*slot_id - KVM_PCI_FIRST_SLOT];
	mr.slot = (uint32_t)*slot_id;
	/* Moving a slot is delete + create: KVM refuses to change a live slot's address, and
	 * refuses to delete a slot it does not have. */
	if (*live) {
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
			r = -errno;
			goto out;
		}
		*live = false;
	}
	if (hva) {
		mr.guest_phys_addr = gpa;
		mr.memory_size = size;
		mr.userspace_addr = (uintptr_t)hva;
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
			r = -errno;
		else
			*live = true;
	}
out:
	pthread_mutex_unlock(&k->lock);
	return r;
}

int kvm_pci_platform_init(struct vm *vm, struct pci_platform *plat)
{
	struct vm_kvm_pci *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->routes = calloc(1, sizeof(*k->routes) +
				      KVM_PCI_MAX_ROUTES * sizeof(struct kvm_irq_routing_entry));
	if (!k->routes) {
		free(k);
		return -ENOMEM;
	}
	k->routes->nr = arch_irq_routes(k->routes->entries, KVM_PCI_MAX_ROUTES);
	k->next_gsi = KVM_PCI_FIRST_MSI_GSI;
	k->next_slot = KVM_PCI_FIRST_SLOT;
	pthread_mutex_init(&k->lock, NULL);
	vm->kpci = k;
	*plat = (struct pci_platform){
		.opaque = vm,
		.ioeventfd = kvm_pci_ioeventfd,
		.msi_alloc = kvm_pci_msi_alloc,
		.msi_update = kvm_pci_msi_update,
		.intx_irqfd = kvm_pci_intx_irqfd,
		.map_ram = kvm_pci_map_ram,
	};
	return 0;
}

void kvm_pci_platform_destroy(struct vm *vm)
{
	if (!vm->kpci)
		return;
	pthread_mutex_destroy(&vm->kpci->lock);
	free(vm->kpci->routes);
	free(vm->kpci);
	vm->kpci = NULL;
}
