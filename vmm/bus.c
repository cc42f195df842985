/* SPDX-License-Identifier: MIT */
#include "vmm/bus.h"

#include <errno.h>
#include <string.h>

int bus_register(struct bus *bus, uint64_t base, uint64_t len, bus_read_fn read, bus_write_fn write,
		 void *opaque, const char *name)
{
	unsigned int i;
	uint64_t end;

	if (len == 0 || __builtin_add_overflow(base, len - 1, &end))
		return -EINVAL;
	if (bus->n == BUS_MAX_RANGES)
		return -ENOSPC;
	for (i = 0; i < bus->n; i++) {
		const struct bus_range *r = &bus->ranges[i];

		if (base <= r->base + (r->len - 1) && r->base <= end)
			return -EEXIST;
	}
	/* Keep the table sorted so dispatch can binary-search it. */
	for (i = bus->n; i > 0 && bus->ranges[i - 1].base > base; i--)
		bus->ranges[i] = bus->ranges[i - 1];
	bus->ranges[i] = (struct bus_range){base, len, read, write, opaque, name};
	bus->n++;
	return 0;
}

bool bus_dispatch(const struct bus *bus, uint64_t addr, void *data, uint32_t len, bool is_write)
{
	unsigned int lo = 0, hi = bus->n;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];

		if (addr < r->base) {
			hi = mid;
		} else if (addr - r->base >= r->len) {
			lo = mid + 1;
		} else {
			uint64_t off = addr - r->base;

			/* An access straddling the end of a range is not that device's. */
			if (len > r->len - off)
				return false;
			if (is_write) {
				if (r->write)
					r->write(r->opaque, off, data, len);
			} else if (r->read) {
				r->read(r->opaque, off, data, len);
			} else {
				memset(data, 0, len);
			}
			return true;
		}
	}
	return false;
}
