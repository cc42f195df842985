/* SPDX-License-Identifier: MIT */
#ifndef DEVICES_VIRTIO_VQ_RING_H
#define DEVICES_VIRTIO_VQ_RING_H

/*
 * Private to the virtqueue files: virtqueue.c (the API, chains, address mapping) dispatches
 * to one ring layout, vq_split.c or vq_packed.c. Not for devices.
 */

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtqueue.h"

/*
 * Full barrier (store-load ordering). ThreadSanitizer cannot model fences (gcc refuses them
 * with -fsanitize=thread), so TSan builds use a seq_cst read-modify-write instead, which is
 * also a full barrier on x86 and arm64.
 */
#ifdef __SANITIZE_THREAD__
extern int vq_tsan_fence;
#define vq_mb() __atomic_fetch_add(&vq_tsan_fence, 0, __ATOMIC_SEQ_CST)
#else
#define vq_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

/* Ring fields shared with the guest: single-copy atomic, little-endian. */
static inline uint16_t vq_load16(const void *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED));
}

static inline void vq_store16(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELAXED);
}

/*
 * The one place a ring or buffer address becomes a host pointer: through the IOMMU first when
 * ACCESS_PLATFORM is in use (write: the device will write there), then gmem_range(). NULL when
 * the address does not translate or [addr, addr + len) is not inside one RAM region.
 */
void *vq_map(const struct guest_mem *gm, const struct vq_iommu *iommu, uint64_t addr, uint64_t len,
	     bool write);

/* Start an empty chain for buffer head / ID `head`. */
void vq_chain_init(struct vq_chain *c, uint16_t head);
/* Map one buffer element and append it to the chain: -EINVAL for a readable element after a
 * writable one, more than VQ_MAX_SEGS elements, a total above UINT32_MAX, an unmapped range. */
int vq_chain_add(const struct vq *vq, struct vq_chain *c, uint64_t addr, uint32_t len,
		 bool writable);

/* One layout each; the vq_* API checks ready / budget and dispatches. */
int vq_split_setup(struct vq *vq, const struct vq_addrs *a);
int vq_split_pop(struct vq *vq, struct vq_chain *c);
void vq_split_unpop(struct vq *vq);
void vq_split_push(struct vq *vq, const struct vq_chain *c, uint32_t written);
bool vq_split_should_notify(struct vq *vq);
void vq_split_disable_notify(struct vq *vq);
bool vq_split_enable_notify(struct vq *vq);

int vq_packed_setup(struct vq *vq, const struct vq_addrs *a);
int vq_packed_pop(struct vq *vq, struct vq_chain *c);
void vq_packed_unpop(struct vq *vq);
void vq_packed_push(struct vq *vq, const struct vq_chain *c, uint32_t written);
bool vq_packed_should_notify(struct vq *vq);
void vq_packed_disable_notify(struct vq *vq);
bool vq_packed_enable_notify(struct vq *vq);

#endif /* DEVICES_VIRTIO_VQ_RING_H */
