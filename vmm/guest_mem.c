/* SPDX-License-Identifier: MIT */
#include "vmm/guest_mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/log.h"

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT) /* log2 of the page size, as linux/mman.h has it */
#endif

void gmem_init_empty(struct guest_mem *gm)
{
	memset(gm, 0, sizeof(*gm));
}

static bool gmem_overlaps(const struct guest_mem *gm, uint64_t gpa, uint64_t size)
{
	for (unsigned int i = 0; i < gm->n_regions; i++) {
		const struct gmem_region *r = &gm->regions[i];

		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return true;
	}
	return false;
}

int gmem_add_region(struct guest_mem *gm, uint64_t gpa, void *hva, uint64_t size)
{
	uint64_t end;

	if (size == 0 || __builtin_add_overflow(gpa, size, &end) || gmem_overlaps(gm, gpa, size))
		return -EINVAL;
	if (gm->n_regions == GMEM_MAX_REGIONS)
		return -ENOSPC;
	gm->regions[gm->n_regions++] = (struct gmem_region){.gpa = gpa, .size = size, .hva = hva};
	return 0;
}

#define GMEM_HUGE_SIZE (2ULL << 20)

/* gm->map = size bytes of anonymous memory starting on a 2 MiB boundary. */
static int gmem_map_aligned(struct guest_mem *gm, uint64_t size)
{
	uint64_t span = size + GMEM_HUGE_SIZE, head, tail;
	uint8_t *p;

	if (span < size)
		return -EINVAL;
	p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	head = (GMEM_HUGE_SIZE - ((uintptr_t)p & (GMEM_HUGE_SIZE - 1))) & (GMEM_HUGE_SIZE - 1);
	tail = span - head - size;
	if (head)
		munmap(p, head);
	if (tail)
		munmap(p + head + size, tail);
	gm->map = p + head;
	gm->map_size = size;
	return 0;
}

#define GMEM_HUGETLB_SYSFS "/sys/kernel/mm/hugepages/hugepages-2048kB/"

/* A number from one of the pool's sysfs files, 0 when unreadable. */
static unsigned long gmem_pool_count(const char *name)
{
	char path[96];
	unsigned long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), GMEM_HUGETLB_SYSFS "%s", name);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%lu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/*
 * gm->map = size bytes of 2 MiB hugetlbfs pages. Without MAP_NORESERVE the kernel reserves
 * every page at mmap time, so a short pool fails here, with a reason, and not as a SIGBUS in
 * the guest's first touch of a page.
 */
static int gmem_map_hugetlb(struct guest_mem *gm, uint64_t size)
{
	uint64_t pages = (size + GMEM_HUGE_SIZE - 1) / GMEM_HUGE_SIZE;
	unsigned long free_pages, resv;
	void *p;

	p = mmap(NULL, pages * GMEM_HUGE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
	if (p == MAP_FAILED) {
		int e = errno;

		free_pages = gmem_pool_count("free_hugepages");
		resv = gmem_pool_count("resv_hugepages");
		log_err("guest RAM in huge pages: %llu pages of 2 MiB needed, %lu available in the "
			"pool; raise /proc/sys/vm/nr_hugepages (%s)",
			(unsigned long long)pages, free_pages > resv ? free_pages - resv : 0,
			strerror(e));
		return -e;
	}
	gm->map = p;
	gm->map_size = pages * GMEM_HUGE_SIZE;
	return 0;
}

int gmem_init(struct guest_mem *gm, const struct gmem_region *layout, unsigned int n)
{
	return gmem_init_ex(gm, layout, n, false);
}

int gmem_init_ex(struct guest_mem *gm, const struct gmem_region *layout, unsigned int n,
		 bool huge_pages)
{
	uint64_t total = 0, off = 0;
	int r;

	gmem_init_empty(gm);
	for (unsigned int i = 0; i < n; i++)
		if (__builtin_add_overflow(total, layout[i].size, &total))
			return -EINVAL;
	if (total == 0 || total > SIZE_MAX)
		return -EINVAL;

	/* Anonymous private memory, as QEMU and Firecracker use: transparent huge pages work
	 * with the host's default THP settings, where shmem (a memfd) only gets them with
	 * shmem_enabled=advise. Nested guests feel it most: every 4 KiB page is a separate
	 * nested fault and TLB entry. Aligned to 2 MiB so huge pages line up with the guest's. */
	r = huge_pages ? gmem_map_hugetlb(gm, total) : gmem_map_aligned(gm, total);
	if (r < 0)
		return r;
	/* Guest RAM never belongs in a core dump of the VMM. */
	madvise(gm->map, gm->map_size, MADV_DONTDUMP);
	/* Transparent huge pages above the first 2 MiB only: below it live the boot structures
	 * and the whole of a tiny guest, which touches a few pages and should not cost a 2 MiB
	 * one. hugetlbfs memory is huge already and takes no THP advice. */
	if (!huge_pages && total > GMEM_HUGE_SIZE) {
		madvise(gm->map, GMEM_HUGE_SIZE, MADV_NOHUGEPAGE);
		madvise(gm->map + GMEM_HUGE_SIZE, total - GMEM_HUGE_SIZE, MADV_HUGEPAGE);
	}
	for (unsigned int i = 0; i < n; i++) {
		r = gmem_add_region(gm, layout[i].gpa, gm->map + off, layout[i].size);
		if (r < 0)
			goto err_unmap;
		off += layout[i].size;
	}
	return 0;

err_unmap:
	munmap(gm->map, gm->map_size);
	gm->map = NULL;
	return r;
}

void gmem_destroy(struct guest_mem *gm)
{
	if (gm->map)
		munmap(gm->map, gm->map_size);
	gmem_init_empty(gm);
}

void *gmem_range(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(gpa, len, &end))
		return NULL;
	for (unsigned int i = 0; i < gm->n_regions; i++) {
		const struct gmem_region *r = &gm->regions[i];

		/* gpa - r->gpa cannot wrap once gpa >= r->gpa; compare lengths, not ends. */
		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

int gmem_read(const struct guest_mem *gm, uint64_t gpa, void *dst, size_t len)
{
	const void *src = gmem_range(gm, gpa, len);

	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int gmem_write(const struct guest_mem *gm, uint64_t gpa, const void *src, size_t len)
{
	void *dst = gmem_range(gm, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

uint64_t gmem_total(const struct guest_mem *gm)
{
	uint64_t total = 0;

	for (unsigned int i = 0; i < gm->n_regions; i++)
		total += gm->regions[i].size;
	return total;
}
