/* SPDX-License-Identifier: MIT */
#ifndef TESTS_FAKEDRV_FD_PACKED_H
#define TESTS_FAKEDRV_FD_PACKED_H

/* Private to the fake driver: fd_ring.c's fd_vq_* functions dispatch here for packed rings. */

#include "tests/fakedrv/fakedrv.h"

/* The address the device sees for fake-RAM gpa (the device's IOVA offset, if any). */
uint64_t fd_vq_iova(const struct fd_vq *q, uint64_t gpa);

int fd_packed_add(struct fd_vq *q, const struct fd_seg *segs, unsigned int n_out, unsigned int n,
		  unsigned int flags);
void fd_packed_publish(struct fd_vq *q, uint16_t n_slots);
int fd_packed_used(struct fd_vq *q, uint16_t *id, uint32_t *len);
void fd_packed_set_used_event(struct fd_vq *q, uint16_t off_wrap);
void fd_packed_set_no_interrupt(struct fd_vq *q, bool on);
bool fd_packed_no_notify(struct fd_vq *q);
uint16_t fd_packed_avail_event(struct fd_vq *q);

#endif /* TESTS_FAKEDRV_FD_PACKED_H */
