/* SPDX-License-Identifier: MIT */
/*
 * MSI-X (PCI Local Bus 3.0 section 6.8.2 "MSI-X Capability and Table Structure").
 *
 * A vector is deliverable when MSI-X is enabled, the function is not masked and the vector's
 * mask bit is clear. msix_notify() runs on device threads without the lock, racing with vCPUs
 * that mask and unmask, so the two sides follow one protocol on seq_cst atomics:
 *   notify:  deliverable? -> send.  Else set pending, then re-check deliverable: if it became
 *            deliverable meanwhile, whoever clears the pending bit first sends.
 *   unmask:  route first, publish the unmasked state, then test-and-clear pending: set -> send.
 * Either the unmasking side sees the pending bit or the notifier sees the unmask, so a message
 * is never lost, and the test-and-clear makes sure it is sent once.
 *
 * Routes are updated lazily: a changed address/data marks the vector unrouted, and
 * plat->msi_update runs when the vector becomes deliverable (or at once if it already is),
 * so the guest's usual "mask, write address, write data, unmask" costs one route update.
 */
#include "devices/pci/msix.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/log.h"

#define MSIX_CAP_LEN   12
#define MSIX_PBA_WORDS ((MSIX_MAX_VECTORS + 63) / 64)

static bool vec_masked(const struct msix *m, uint16_t v)
{
	return __atomic_load_n(&m->vec[v].ctrl, __ATOMIC_SEQ_CST) & PCI_MSIX_ENTRY_CTRL_MASKBIT;
}

static bool vec_deliverable(const struct msix *m, uint16_t v)
{
	return __atomic_load_n(&m->enabled, __ATOMIC_SEQ_CST) &&
	       !__atomic_load_n(&m->func_masked, __ATOMIC_SEQ_CST) && !vec_masked(m, v);
}

static void vec_send(struct msix *m, uint16_t v)
{
	uint64_t one = 1;
	ssize_t n = write(m->vec[v].efd, &one, sizeof(one));

	/* Fails only when the counter would overflow: the interrupt is pending anyway. */
	(void)n;
}

static bool pending_test_and_clear(struct msix *m, uint16_t v)
{
	uint64_t bit = 1ULL << (v % 64);

	return __atomic_fetch_and(&m->pending[v / 64], ~bit, __ATOMIC_SEQ_CST) & bit;
}

static void pending_set(struct msix *m, uint16_t v)
{
	__atomic_fetch_or(&m->pending[v / 64], 1ULL << (v % 64), __ATOMIC_SEQ_CST);
}

int msix_init(struct msix *m, struct pci_dev *pdev, const struct pci_platform *plat,
	      uint16_t n_vectors, uint8_t bar, uint32_t table_off, uint32_t pba_off)
{
	uint8_t cap[MSIX_CAP_LEN] = {PCI_CAP_ID_MSIX};
	uint32_t table_len = (uint32_t)n_vectors * MSIX_ENTRY_SIZE;
	uint32_t pba_len = (n_vectors + 63u) / 64 * 8;
	uint64_t bar_size = pdev->bars[bar < PCI_NUM_BARS ? bar : 0].size;
	unsigned int i;
	int r, off;

	if (n_vectors == 0 || n_vectors > MSIX_MAX_VECTORS || bar >= PCI_NUM_BARS ||
	    (table_off & 7) || (pba_off & 7))
		return -EINVAL;
	/* Table and PBA must not overlap; inside the BAR when the BAR is already declared. */
	if (table_off < pba_off + pba_len && pba_off < table_off + table_len)
		return -EINVAL;
	if (bar_size && (table_off > bar_size || table_len > bar_size - table_off ||
			 pba_off > bar_size || pba_len > bar_size - pba_off))
		return -EINVAL;

	memset(m, 0, sizeof(*m));
	m->pdev = pdev;
	m->plat = plat;
	m->n_vectors = n_vectors;
	m->bar = bar;
	m->table_off = table_off;
	m->pba_off = pba_off;
	for (i = 0; i < MSIX_MAX_VECTORS; i++) {
		m->vec[i].efd = -1;
		m->vec[i].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;
	}
	r = pthread_mutex_init(&m->lock, NULL);
	if (r)
		return -r;
	for (i = 0; i < n_vectors; i++) {
		m->vec[i].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->vec[i].efd < 0) {
			r = -errno;
			goto err;
		}
		r = plat->msi_alloc(plat->opaque, m->vec[i].efd, &m->vec[i].gsi);
		if (r < 0)
			goto err;
	}

	/* Message control: table size N-1 (read-only), function mask and enable writable. */
	cap[PCI_MSIX_FLAGS] = (uint8_t)(n_vectors - 1);
	cap[PCI_MSIX_FLAGS + 1] = (uint8_t)((n_vectors - 1) >> 8);
	memcpy(&cap[PCI_MSIX_TABLE], &(uint32_t){table_off | bar}, 4);
	memcpy(&cap[PCI_MSIX_PBA], &(uint32_t){pba_off | bar}, 4);
	off = pci_add_cap(pdev, cap, sizeof(cap));
	if (off < 0) {
		r = off;
		goto err;
	}
	m->cap_off = (uint8_t)off;
	pci_dev_set_wmask(pdev, (uint32_t)off + PCI_MSIX_FLAGS, 2,
			  PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	return 0;

err:
	msix_destroy(m);
	return r;
}

void msix_destroy(struct msix *m)
{
	unsigned int i;

	for (i = 0; i < MSIX_MAX_VECTORS; i++) {
		if (m->vec[i].efd >= 0)
			close(m->vec[i].efd);
		m->vec[i].efd = -1;
	}
	pthread_mutex_destroy(&m->lock);
}

/* Point vector v's GSI at its current message, if it is not already. m->lock held. */
static void vec_route(struct msix *m, uint16_t v)
{
	struct msix_vector *vec = &m->vec[v];
	int r;

	if (vec->routed)
		return;
	r = m->plat->msi_update(m->plat->opaque, vec->gsi, vec->addr, vec->data);
	if (r < 0) {
		log_warn_ratelimited("%s: MSI-X vector %u route: %d", m->pdev->name, v, r);
		return;
	}
	vec->routed = true;
}

/* After the state moved to deliverable for v: send what was held back. m->lock held. */
static void vec_flush_pending(struct msix *m, uint16_t v)
{
	if (vec_deliverable(m, v) && pending_test_and_clear(m, v))
		vec_send(m, v);
}

void msix_notify(struct msix *m, uint16_t v)
{
	if (v >= m->n_vectors)
		return;
	if (vec_deliverable(m, v)) {
		vec_send(m, v);
		return;
	}
	pending_set(m, v);
	/* An unmask may have raced past its pending check before our bit was set. */
	if (vec_deliverable(m, v) && pending_test_and_clear(m, v))
		vec_send(m, v);
}

bool msix_is_pending(const struct msix *m, uint16_t v)
{
	if (v >= m->n_vectors)
		return false;
	return __atomic_load_n(&m->pending[v / 64], __ATOMIC_SEQ_CST) & (1ULL << (v % 64));
}

bool msix_enabled(const struct msix *m)
{
	return __atomic_load_n(&m->enabled, __ATOMIC_SEQ_CST);
}

/* ---- table and PBA (guest accesses through the device's BAR) ---- */

static uint32_t table_read32(struct msix *m, uint64_t off)
{
	const struct msix_vector *vec = &m->vec[off / MSIX_ENTRY_SIZE];

	switch (off % MSIX_ENTRY_SIZE) {
	case PCI_MSIX_ENTRY_LOWER_ADDR:
		return (uint32_t)vec->addr;
	case PCI_MSIX_ENTRY_UPPER_ADDR:
		return (uint32_t)(vec->addr >> 32);
	case PCI_MSIX_ENTRY_DATA:
		return vec->data;
	default:
		return __atomic_load_n(&vec->ctrl, __ATOMIC_SEQ_CST);
	}
}

static void table_write32(struct msix *m, uint64_t off, uint32_t val)
{
	uint16_t v = (uint16_t)(off / MSIX_ENTRY_SIZE);
	struct msix_vector *vec = &m->vec[v];
	uint64_t addr = vec->addr;
	uint32_t data = vec->data;
	bool was_deliverable;

	switch (off % MSIX_ENTRY_SIZE) {
	case PCI_MSIX_ENTRY_LOWER_ADDR:
		addr = (addr & ~0xffffffffULL) | val;
		break;
	case PCI_MSIX_ENTRY_UPPER_ADDR:
		addr = (addr & 0xffffffffULL) | (uint64_t)val << 32;
		break;
	case PCI_MSIX_ENTRY_DATA:
		data = val;
		break;
	default:
		/* Only the mask bit is defined; the rest of Vector Control is reserved (RO 0). */
		val &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
		if (!val && vec_masked(m, v)) {
			if (m->enabled && !m->func_masked)
				vec_route(m, v);
			__atomic_store_n(&vec->ctrl, val, __ATOMIC_SEQ_CST);
			vec_flush_pending(m, v);
		} else {
			__atomic_store_n(&vec->ctrl, val, __ATOMIC_SEQ_CST);
		}
		return;
	}
	if (addr == vec->addr && data == vec->data)
		return;
	was_deliverable = vec_deliverable(m, v);
	vec->addr = addr;
	vec->data = data;
	vec->routed = false;
	/* PCI 3.0 6.8.3.5 leaves changing an unmasked entry undefined; keep the route current. */
	if (was_deliverable)
		vec_route(m, v);
}

/* 4- or 8-byte naturally aligned accesses inside [0, limit); others are not honoured. */
static bool access_ok(uint64_t off, uint32_t len, uint64_t limit)
{
	return (len == 4 || len == 8) && (off & (len - 1)) == 0 && off < limit &&
	       len <= limit - off;
}

void msix_table_read(struct msix *m, uint64_t off, void *data, uint32_t len)
{
	uint32_t lo, hi;

	memset(data, 0, len);
	if (!access_ok(off, len, (uint64_t)m->n_vectors * MSIX_ENTRY_SIZE))
		return;
	pthread_mutex_lock(&m->lock);
	lo = table_read32(m, off);
	memcpy(data, &lo, 4);
	if (len == 8) {
		hi = table_read32(m, off + 4);
		memcpy((uint8_t *)data + 4, &hi, 4);
	}
	pthread_mutex_unlock(&m->lock);
}

void msix_table_write(struct msix *m, uint64_t off, const void *data, uint32_t len)
{
	uint32_t lo, hi;

	if (!access_ok(off, len, (uint64_t)m->n_vectors * MSIX_ENTRY_SIZE))
		return;
	memcpy(&lo, data, 4); /* guest-controlled */
	pthread_mutex_lock(&m->lock);
	table_write32(m, off, lo);
	if (len == 8) {
		memcpy(&hi, (const uint8_t *)data + 4, 4);
		table_write32(m, off + 4, hi);
	}
	pthread_mutex_unlock(&m->lock);
}

void msix_pba_read(struct msix *m, uint64_t off, void *data, uint32_t len)
{
	uint64_t word;

	memset(data, 0, len);
	if (!access_ok(off, len, (m->n_vectors + 63u) / 64 * 8))
		return;
	word = __atomic_load_n(&m->pending[off / 8], __ATOMIC_SEQ_CST) >> (8 * (off % 8));
	memcpy(data, &word, len);
}

/* ---- message control ---- */

void msix_config_write(struct msix *m, uint32_t off, uint32_t len)
{
	uint32_t ctrl_off = m->cap_off + PCI_MSIX_FLAGS;
	bool en, fmask, was_blocked;
	uint16_t ctl, v;

	if (!(off < ctrl_off + 2 && ctrl_off < off + len))
		return;
	pthread_mutex_lock(&m->lock);
	ctl = (uint16_t)pci_cfg_get(m->pdev, ctrl_off, 2);
	en = ctl & PCI_MSIX_FLAGS_ENABLE;
	fmask = ctl & PCI_MSIX_FLAGS_MASKALL;
	was_blocked = !m->enabled || m->func_masked;
	if (en && !fmask && was_blocked) {
		/* Routes before the first message can go out. */
		for (v = 0; v < m->n_vectors; v++)
			if (!vec_masked(m, v))
				vec_route(m, v);
	}
	__atomic_store_n(&m->enabled, en, __ATOMIC_SEQ_CST);
	__atomic_store_n(&m->func_masked, fmask, __ATOMIC_SEQ_CST);
	if (en && !fmask && was_blocked)
		for (v = 0; v < m->n_vectors; v++)
			vec_flush_pending(m, v);
	pthread_mutex_unlock(&m->lock);
}
