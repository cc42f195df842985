/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/pci_regs.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/pci/msix.h"
#include "devices/pci/pci.h"
#include "tests/harness.h"

#define NVEC	  4
#define MSIX_BAR  1
#define TABLE_OFF 0x0
#define PBA_OFF	  0x800
#define GSI0	  40

/* ---- a fake platform recording MSI routes ---- */

struct route {
	uint32_t gsi, data;
	uint64_t addr;
};

struct fake_plat {
	struct pci_platform ops;
	unsigned int n_alloc, n_updates;
	int fail_alloc_at; /* -1: never */
	struct route updates[256];
};

static int fake_msi_alloc(void *opaque, int efd, uint32_t *gsi)
{
	struct fake_plat *p = opaque;

	ASSERT_TRUE(efd >= 0);
	if ((int)p->n_alloc == p->fail_alloc_at)
		return -ENOSPC;
	*gsi = GSI0 + p->n_alloc++;
	return 0;
}

static int fake_msi_update(void *opaque, uint32_t gsi, uint64_t addr, uint32_t data)
{
	struct fake_plat *p = opaque;

	if (p->n_updates < 256)
		p->updates[p->n_updates] = (struct route){gsi, data, addr};
	p->n_updates++;
	return 0;
}

/* ---- a device whose config_write hook feeds msix_config_write, on a real bus ---- */

struct mx {
	struct fake_plat plat;
	struct pci_bus bus;
	struct pci_dev pdev;
	struct msix m;
};

static void dev_config_write(struct pci_dev *pdev, uint32_t off, const void *data, uint32_t len)
{
	msix_config_write(pdev->opaque, off, len);
}

static const struct pci_dev_ops dev_ops = {.config_write = dev_config_write};

static void msix_bar_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct msix *m = opaque;

	if (off >= PBA_OFF)
		msix_pba_read(m, off - PBA_OFF, data, len);
	else
		msix_table_read(m, off - TABLE_OFF, data, len);
}

static void msix_bar_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct msix *m = opaque;

	if (off < PBA_OFF)
		msix_table_write(m, off - TABLE_OFF, data, len);
}

static struct mx *mx_new(void)
{
	struct mx *t = calloc(1, sizeof(*t));
	struct pci_bar bar;

	ASSERT_TRUE(t);
	t->plat.ops = (struct pci_platform){
		.opaque = &t->plat, .msi_alloc = fake_msi_alloc, .msi_update = fake_msi_update};
	t->plat.fail_alloc_at = -1;
	ASSERT_OK(pci_bus_init(&t->bus, &t->plat.ops, 0xe0000000, 0xc0000000, 0x1000000, 0, 0, 16));
	pci_dev_init(&t->pdev, 0x1af4, 0x1041, 1, 0x020000, 0x1af4, 1, "msix");
	t->pdev.ops = &dev_ops;
	t->pdev.opaque = &t->m;
	bar = (struct pci_bar){
		.size = 0x1000, .read = msix_bar_read, .write = msix_bar_write, .opaque = &t->m};
	ASSERT_OK(pci_dev_set_bar(&t->pdev, MSIX_BAR, &bar));
	ASSERT_OK(msix_init(&t->m, &t->pdev, &t->plat.ops, NVEC, MSIX_BAR, TABLE_OFF, PBA_OFF));
	ASSERT_OK(pci_bus_add(&t->bus, &t->pdev));
	return t;
}

static void mx_free(struct mx *t)
{
	msix_destroy(&t->m);
	pci_bus_destroy(&t->bus);
	free(t);
}

static uint32_t ctrl_off(struct mx *t)
{
	return t->m.cap_off + PCI_MSIX_FLAGS;
}

static void set_ctrl(struct mx *t, uint16_t v)
{
	pci_config_write(&t->bus, t->pdev.slot, ctrl_off(t), &v, 2);
}

static uint32_t tbl_rd(struct mx *t, uint64_t off, uint32_t len)
{
	uint64_t v = 0x5a5a5a5a5a5a5a5aULL;

	msix_table_read(&t->m, off, &v, len);
	return (uint32_t)v;
}

static void tbl_wr(struct mx *t, uint64_t off, uint64_t val, uint32_t len)
{
	msix_table_write(&t->m, off, &val, len);
}

static void vec_program(struct mx *t, uint16_t v, uint64_t addr, uint32_t data)
{
	tbl_wr(t, v * 16 + PCI_MSIX_ENTRY_LOWER_ADDR, (uint32_t)addr, 4);
	tbl_wr(t, v * 16 + PCI_MSIX_ENTRY_UPPER_ADDR, addr >> 32, 4);
	tbl_wr(t, v * 16 + PCI_MSIX_ENTRY_DATA, data, 4);
}

static void vec_mask(struct mx *t, uint16_t v, bool mask)
{
	tbl_wr(t, v * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, mask, 4);
}

/* Eventfd count of vector v (0 if nothing arrived). */
static uint64_t fired(struct mx *t, uint16_t v)
{
	uint64_t n = 0;

	if (read(t->m.vec[v].efd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

TEST(msix_capability_layout)
{
	struct mx *t = mx_new();
	uint32_t cap = t->m.cap_off, v = 0;

	ASSERT_EQ(t->pdev.cfg[PCI_CAPABILITY_LIST], cap);
	ASSERT_EQ(t->pdev.cfg[cap], PCI_CAP_ID_MSIX);
	ASSERT_EQ(pci_cfg_get(&t->pdev, cap + PCI_MSIX_FLAGS, 2), NVEC - 1);
	ASSERT_EQ(pci_cfg_get(&t->pdev, cap + PCI_MSIX_TABLE, 4), TABLE_OFF | MSIX_BAR);
	ASSERT_EQ(pci_cfg_get(&t->pdev, cap + PCI_MSIX_PBA, 4), PBA_OFF | MSIX_BAR);
	/* Only enable and function mask are writable; table size and BIRs stay. */
	set_ctrl(t, 0xffff);
	pci_config_read(&t->bus, t->pdev.slot, ctrl_off(t), &v, 2);
	ASSERT_EQ(v, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | (NVEC - 1));
	ASSERT_TRUE(msix_enabled(&t->m));
	v = 0;
	pci_config_write(&t->bus, t->pdev.slot, cap + PCI_MSIX_TABLE, &v, 4);
	ASSERT_EQ(pci_cfg_get(&t->pdev, cap + PCI_MSIX_TABLE, 4), TABLE_OFF | MSIX_BAR);
	set_ctrl(t, 0);
	ASSERT_FALSE(msix_enabled(&t->m));
	/* One GSI per vector; all start masked. */
	ASSERT_EQ(t->plat.n_alloc, NVEC);
	for (v = 0; v < NVEC; v++) {
		ASSERT_EQ(t->m.vec[v].gsi, GSI0 + v);
		ASSERT_EQ(tbl_rd(t, v * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 4), 1);
	}
	mx_free(t);
}

TEST(msix_table_access_widths)
{
	struct mx *t = mx_new();
	uint64_t q = 0;

	vec_program(t, 1, 0xfee01000ULL | 0x1234500000000ULL, 0x4041);
	ASSERT_EQ(tbl_rd(t, 16 + PCI_MSIX_ENTRY_LOWER_ADDR, 4), 0xfee01000);
	ASSERT_EQ(tbl_rd(t, 16 + PCI_MSIX_ENTRY_UPPER_ADDR, 4), 0x12345);
	ASSERT_EQ(tbl_rd(t, 16 + PCI_MSIX_ENTRY_DATA, 4), 0x4041);
	msix_table_read(&t->m, 16, &q, 8);
	ASSERT_EQ(q, 0x12345fee01000ULL);
	msix_table_read(&t->m, 24, &q, 8); /* data | vector control << 32 */
	ASSERT_EQ(q, 0x0000000100004041ULL);
	/* 8-byte write of the address, then of data + control (unmasks). */
	tbl_wr(t, 32, 0xfee02000ULL, 8);
	ASSERT_EQ(t->m.vec[2].addr, 0xfee02000ULL);
	tbl_wr(t, 40, 0x55ULL, 8);
	ASSERT_EQ(t->m.vec[2].data, 0x55);
	ASSERT_EQ(tbl_rd(t, 44, 4), 0);
	/* Reserved vector control bits read 0. */
	tbl_wr(t, 44, 0xfffffffe, 4);
	ASSERT_EQ(tbl_rd(t, 44, 4), 0);
	tbl_wr(t, 44, 0xffffffff, 4);
	ASSERT_EQ(tbl_rd(t, 44, 4), 1);
	/* Byte, word and unaligned accesses read 0 and are dropped. */
	ASSERT_EQ(tbl_rd(t, 16, 1) & 0xff, 0);
	ASSERT_EQ(tbl_rd(t, 16, 2) & 0xffff, 0);
	ASSERT_EQ(tbl_rd(t, 18, 4), 0);
	q = 0x5a;
	msix_table_read(&t->m, 20, &q, 8);
	ASSERT_EQ(q, 0);
	tbl_wr(t, 16, 0xab, 1);
	tbl_wr(t, 16, 0xabcd, 2);
	tbl_wr(t, 17, 0xabcdef01, 4);
	tbl_wr(t, 20, 0xabcdef0123ULL, 8);
	ASSERT_EQ(t->m.vec[1].addr, 0x12345fee01000ULL);
	mx_free(t);
}

TEST(msix_vector_index_bounds)
{
	struct mx *t = mx_new();
	uint64_t q;

	/* Past the last entry: reads 0, writes vanish, nothing beyond the table moves. */
	ASSERT_EQ(tbl_rd(t, NVEC * 16, 4), 0);
	ASSERT_EQ(tbl_rd(t, NVEC * 16 - 4, 4), 1);
	ASSERT_EQ(tbl_rd(t, UINT64_MAX - 3, 4), 0);
	q = 0x5a;
	msix_table_read(&t->m, NVEC * 16 - 4, &q, 8);
	ASSERT_EQ(q, 0);
	tbl_wr(t, NVEC * 16, 0, 4);
	tbl_wr(t, UINT64_MAX - 7, 0, 8);
	ASSERT_EQ(t->m.vec[NVEC].ctrl, 1);
	ASSERT_EQ(t->m.vec[NVEC].efd, -1);
	/* Notifying a vector that does not exist (or VIRTIO_MSI_NO_VECTOR) does nothing. */
	set_ctrl(t, PCI_MSIX_FLAGS_ENABLE);
	msix_notify(&t->m, NVEC);
	msix_notify(&t->m, 0xffff);
	ASSERT_FALSE(msix_is_pending(&t->m, NVEC));
	ASSERT_FALSE(msix_is_pending(&t->m, 0xffff));
	for (uint16_t v = 0; v < NVEC; v++)
		ASSERT_FALSE(msix_is_pending(&t->m, v));
	q = 0x5a;
	msix_pba_read(&t->m, 8, &q, 4);
	ASSERT_EQ(q, 0); /* one PBA qword for 4 vectors */
	mx_free(t);
}

TEST(msix_mask_pending_unmask)
{
	struct mx *t = mx_new();
	uint64_t q = 0;

	set_ctrl(t, PCI_MSIX_FLAGS_ENABLE);
	vec_program(t, 2, 0xfee00000, 0x31);
	ASSERT_EQ(t->plat.n_updates, 0); /* masked: route comes at unmask */
	msix_notify(&t->m, 2);
	msix_notify(&t->m, 2);
	ASSERT_EQ(fired(t, 2), 0);
	ASSERT_TRUE(msix_is_pending(&t->m, 2));
	msix_pba_read(&t->m, 0, &q, 8);
	ASSERT_EQ(q, 1 << 2);
	q = 0;
	msix_pba_read(&t->m, 0, &q, 4);
	ASSERT_EQ(q, 1 << 2);
	msix_pba_read(&t->m, 4, &q, 4);
	ASSERT_EQ(q, 0);
	/* Unmask: route first with what the guest wrote, then one message, bit cleared. */
	vec_mask(t, 2, false);
	ASSERT_EQ(t->plat.n_updates, 1);
	ASSERT_EQ(t->plat.updates[0].gsi, GSI0 + 2);
	ASSERT_EQ(t->plat.updates[0].addr, 0xfee00000);
	ASSERT_EQ(t->plat.updates[0].data, 0x31);
	ASSERT_EQ(fired(t, 2), 1);
	ASSERT_FALSE(msix_is_pending(&t->m, 2));
	/* Unmasked: straight through. */
	msix_notify(&t->m, 2);
	ASSERT_EQ(fired(t, 2), 1);
	ASSERT_EQ(fired(t, 1), 0);
	/* Masked again, nothing pending: unmask sends nothing and needs no new route. */
	vec_mask(t, 2, true);
	vec_mask(t, 2, false);
	ASSERT_EQ(fired(t, 2), 0);
	ASSERT_EQ(t->plat.n_updates, 1);
	/* The PBA is read-only (no write path), and a table write cannot set pending bits. */
	tbl_wr(t, 2 * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0xfffffffe, 4);
	ASSERT_FALSE(msix_is_pending(&t->m, 2));
	mx_free(t);
}

TEST(msix_address_change_updates_route)
{
	struct mx *t = mx_new();

	set_ctrl(t, PCI_MSIX_FLAGS_ENABLE);
	vec_program(t, 0, 0xfee00000, 0x20);
	vec_mask(t, 0, false);
	ASSERT_EQ(t->plat.n_updates, 1);
	/* Changing an unmasked entry re-routes at once, each with the full current message. */
	tbl_wr(t, PCI_MSIX_ENTRY_DATA, 0x21, 4);
	ASSERT_EQ(t->plat.n_updates, 2);
	ASSERT_EQ(t->plat.updates[1].addr, 0xfee00000);
	ASSERT_EQ(t->plat.updates[1].data, 0x21);
	tbl_wr(t, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee03000, 4);
	ASSERT_EQ(t->plat.n_updates, 3);
	ASSERT_EQ(t->plat.updates[2].addr, 0xfee03000);
	ASSERT_EQ(t->plat.updates[2].data, 0x21);
	/* Same value again: no route update. */
	tbl_wr(t, PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee03000, 4);
	ASSERT_EQ(t->plat.n_updates, 3);
	/* Masked changes are collected and routed once at unmask. */
	vec_mask(t, 0, true);
	vec_program(t, 0, 0x1fee04000ULL, 0x22);
	ASSERT_EQ(t->plat.n_updates, 3);
	vec_mask(t, 0, false);
	ASSERT_EQ(t->plat.n_updates, 4);
	ASSERT_EQ(t->plat.updates[3].gsi, GSI0);
	ASSERT_EQ(t->plat.updates[3].addr, 0x1fee04000ULL);
	ASSERT_EQ(t->plat.updates[3].data, 0x22);
	mx_free(t);
}

TEST(msix_function_mask)
{
	struct mx *t = mx_new();

	set_ctrl(t, PCI_MSIX_FLAGS_ENABLE);
	vec_program(t, 1, 0xfee00000, 0x41);
	vec_program(t, 3, 0xfee00000, 0x43);
	vec_mask(t, 1, false);
	vec_mask(t, 3, false);
	set_ctrl(t, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	ASSERT_TRUE(msix_enabled(&t->m));
	msix_notify(&t->m, 1);
	msix_notify(&t->m, 3);
	ASSERT_EQ(fired(t, 1), 0);
	ASSERT_EQ(fired(t, 3), 0);
	ASSERT_TRUE(msix_is_pending(&t->m, 1) && msix_is_pending(&t->m, 3));
	/* Masking vector 3 too: clearing the function mask releases only vector 1. */
	vec_mask(t, 3, true);
	set_ctrl(t, PCI_MSIX_FLAGS_ENABLE);
	ASSERT_EQ(fired(t, 1), 1);
	ASSERT_FALSE(msix_is_pending(&t->m, 1));
	ASSERT_EQ(fired(t, 3), 0);
	ASSERT_TRUE(msix_is_pending(&t->m, 3));
	vec_mask(t, 3, false);
	ASSERT_EQ(fired(t, 3), 1);
	/* Unmasking a vector while the function is masked still holds it back. */
	set_ctrl(t, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	vec_mask(t, 1, true);
	msix_notify(&t->m, 1);
	vec_mask(t, 1, false);
	ASSERT_EQ(fired(t, 1), 0);
	ASSERT_TRUE(msix_is_pending(&t->m, 1));
	set_ctrl(t, PCI_MSIX_FLAGS_ENABLE);
	ASSERT_EQ(fired(t, 1), 1);
	mx_free(t);
}

TEST(msix_enable_routes_and_releases)
{
	struct mx *t = mx_new();
	unsigned int i;
	bool seen[NVEC] = {0};

	/* Programmed and unmasked before enable (as Linux does): no route yet, no message. */
	for (i = 0; i < NVEC; i++) {
		vec_program(t, (uint16_t)i, 0xfee00000 + 0x1000 * i, 0x50 + i);
		if (i != 2)
			vec_mask(t, (uint16_t)i, false);
	}
	ASSERT_EQ(t->plat.n_updates, 0);
	msix_notify(&t->m, 0);
	ASSERT_EQ(fired(t, 0), 0);
	ASSERT_TRUE(msix_is_pending(&t->m, 0));
	/* Enable: every unmasked vector routed with its message, pending vector 0 sent. */
	set_ctrl(t, PCI_MSIX_FLAGS_ENABLE);
	ASSERT_EQ(t->plat.n_updates, NVEC - 1);
	for (i = 0; i < t->plat.n_updates; i++) {
		uint32_t v = t->plat.updates[i].gsi - GSI0;

		ASSERT_TRUE(v < NVEC && v != 2 && !seen[v]);
		seen[v] = true;
		ASSERT_EQ(t->plat.updates[i].addr, 0xfee00000 + 0x1000 * v);
		ASSERT_EQ(t->plat.updates[i].data, 0x50 + v);
	}
	ASSERT_EQ(fired(t, 0), 1);
	ASSERT_FALSE(msix_is_pending(&t->m, 0));
	/* Writing enable again (other bytes of the dword) re-routes nothing. */
	set_ctrl(t, PCI_MSIX_FLAGS_ENABLE);
	ASSERT_EQ(t->plat.n_updates, NVEC - 1);
	/* Disabled: pending again, delivered at the next enable. */
	set_ctrl(t, 0);
	msix_notify(&t->m, 1);
	ASSERT_EQ(fired(t, 1), 0);
	set_ctrl(t, PCI_MSIX_FLAGS_ENABLE);
	ASSERT_EQ(fired(t, 1), 1);
	mx_free(t);
}

TEST(msix_init_errors)
{
	struct mx *t = mx_new();
	struct pci_dev *p = calloc(1, sizeof(*p));
	struct msix *m = calloc(1, sizeof(*m));
	struct pci_bar bar = {.size = 0x1000};

	ASSERT_TRUE(p && m);
	pci_dev_init(p, 1, 1, 0, 0, 0, 0, "e");
	ASSERT_OK(pci_dev_set_bar(p, 0, &bar));
	ASSERT_ERR(msix_init(m, p, &t->plat.ops, 0, 0, 0, 0x800), -EINVAL);
	ASSERT_ERR(msix_init(m, p, &t->plat.ops, MSIX_MAX_VECTORS + 1, 0, 0, 0x800), -EINVAL);
	ASSERT_ERR(msix_init(m, p, &t->plat.ops, 4, 6, 0, 0x800), -EINVAL);
	ASSERT_ERR(msix_init(m, p, &t->plat.ops, 4, 0, 4, 0x800), -EINVAL);	/* unaligned */
	ASSERT_ERR(msix_init(m, p, &t->plat.ops, 4, 0, 0, 0x30), -EINVAL);	/* overlap */
	ASSERT_ERR(msix_init(m, p, &t->plat.ops, 4, 0, 0xff8, 0x800), -EINVAL); /* past BAR */
	ASSERT_ERR(msix_init(m, p, &t->plat.ops, 4, 0, 0, 0x1000), -EINVAL);
	/* A failing GSI allocation unwinds (no capability added). */
	t->plat.fail_alloc_at = (int)t->plat.n_alloc + 2;
	ASSERT_ERR(msix_init(m, p, &t->plat.ops, 4, 0, 0, 0x800), -ENOSPC);
	ASSERT_EQ(p->last_cap, 0);
	t->plat.fail_alloc_at = -1;
	ASSERT_OK(msix_init(m, p, &t->plat.ops, MSIX_MAX_VECTORS, 0, 0, 0x400));
	ASSERT_EQ(pci_cfg_get(p, m->cap_off + PCI_MSIX_FLAGS, 2), MSIX_MAX_VECTORS - 1);
	msix_destroy(m);
	free(m);
	free(p);
	mx_free(t);
}

/* ---- concurrency: a device thread notifies while the guest toggles masks ---- */

/*
 * Each round both threads meet at a barrier; the notifier sends one message after a varying
 * delay while the guest flips the vector mask, the function mask or the enable bit, ending
 * unmasked; both meet again. From then on nothing unmasks any more, so a message lost in
 * the race (pending bit set but never sent) stays lost and the count is 0; one sent twice
 * counts 2. Either fails the round.
 */
struct race {
	struct mx *t;
	int rounds;
	int arrived, phase; /* spin barrier: both threads leave within nanoseconds */
	bool stop;	    /* set before a barrier: the notifier leaves after it */
};

/* Rounds stop at this much wall time too: on a loaded machine a preempted partner costs a
 * barrier a whole time slice, and fewer rounds still race notify against the mask. */
#define RACE_BUDGET_MS 3000

/* A futex-based barrier wakes the sleeper microseconds late, so the two sides would never
 * overlap; spinning keeps them within the race window. */
static void spin_barrier(struct race *r)
{
	int phase = __atomic_load_n(&r->phase, __ATOMIC_ACQUIRE);

	if (__atomic_add_fetch(&r->arrived, 1, __ATOMIC_ACQ_REL) == 2) {
		__atomic_store_n(&r->arrived, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&r->phase, phase + 1, __ATOMIC_RELEASE);
		return;
	}
	for (unsigned int n = 0; __atomic_load_n(&r->phase, __ATOMIC_ACQUIRE) == phase; n++)
		if (n > 256)
			sched_yield(); /* partner preempted (or one CPU): let it run */
}

static void spin(unsigned int n)
{
	for (volatile unsigned int i = 0; i < n; i++)
		;
}

static void *notifier(void *arg)
{
	struct race *r = arg;
	int i;

	for (i = 0;; i++) {
		spin_barrier(r);
		if (__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE))
			break;
		spin((unsigned int)(i * 7) % 97);
		msix_notify(&r->t->m, 0);
		spin_barrier(r);
	}
	return NULL;
}

TEST(msix_notify_races_masking)
{
	struct mx *t = mx_new();
	struct race r = {.t = t, .rounds = 20000};
	struct timespec ts;
	long deadline;
	pthread_t th;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	deadline = ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + RACE_BUDGET_MS;
	set_ctrl(t, PCI_MSIX_FLAGS_ENABLE);
	vec_program(t, 0, 0xfee00000, 0x30);
	vec_mask(t, 0, false);
	ASSERT_OK(-pthread_create(&th, NULL, notifier, &r));
	for (i = 0;; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (i == r.rounds || ts.tv_sec * 1000 + ts.tv_nsec / 1000000 > deadline) {
			__atomic_store_n(&r.stop, true, __ATOMIC_RELEASE);
			spin_barrier(&r);
			break;
		}
		spin_barrier(&r);
		spin((unsigned int)(i * 13) % 89);
		/* Vector mask, function mask and enable, all through the guest's paths. */
		switch (i % 3) {
		case 0:
			vec_mask(t, 0, true);
			vec_mask(t, 0, false);
			break;
		case 1:
			set_ctrl(t, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
			set_ctrl(t, PCI_MSIX_FLAGS_ENABLE);
			break;
		default:
			set_ctrl(t, 0);
			set_ctrl(t, PCI_MSIX_FLAGS_ENABLE);
			break;
		}
		spin_barrier(&r);
		/* A failure exits the forked test process, notifier thread and all. */
		ASSERT_EQ(fired(t, 0), 1);
		ASSERT_FALSE(msix_is_pending(&t->m, 0));
	}
	ASSERT_OK(-pthread_join(th, NULL));
	ASSERT_TRUE(i > 0);
	mx_free(t);
}
