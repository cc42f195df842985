/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk DISCARD, WRITE_ZEROES, SECURE_ERASE and GET_LIFETIME through the fake driver:
 * what reaches the image file, every error status, and feature gating.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/blk.h"
#include "tests/fakedrv/fakedrv.h"
#include "tests/harness.h"
#include "tests/unit/blk_util.h"

#define T_GET_LIFETIME 10
#define F_LIFETIME     15
/* The device's segment limits (checked against config space in blk_range_config). */
#define BLK_MAX_DISCARD_SEG_T 32
#define BLK_MAX_WZ_SEG_T      32
#define BLK_MAX_SE_SEG_T      8

typedef struct virtio_blk_discard_write_zeroes blk_seg;

/* A range request: header, then `len` payload bytes (readable, one segment; none when 0),
 * then the status. Returns the status; *used the used length. */
static uint8_t bt_raw(struct bt *t, uint32_t type, const void *payload, uint32_t len,
		      uint32_t *used)
{
	struct fd_seg segs[3];
	uint64_t st = fd_alloc(t->g, 1, 1);
	unsigned int n = 0;
	uint32_t u;

	*(uint8_t *)fd_ptr(t->g, st, 1) = 0xee;
	segs[n++] = (struct fd_seg){bt_hdr(t, type, 0), sizeof(struct virtio_blk_outhdr)};
	if (len) {
		segs[n] = (struct fd_seg){fd_alloc(t->g, len, 8), len};
		memcpy(fd_ptr(t->g, segs[n].gpa, len), payload, len);
		n++;
	}
	segs[n++] = (struct fd_seg){st, 1};
	u = bt_run(t, segs, n - 1, 1, 0);
	if (used)
		*used = u;
	return *(uint8_t *)fd_ptr(t->g, st, 1);
}

static uint8_t bt_range(struct bt *t, uint32_t type, uint64_t sector, uint32_t nsec, uint32_t flags)
{
	blk_seg s = {htole64(sector), htole32(nsec), htole32(flags)};
	uint32_t used;
	uint8_t st = bt_raw(t, type, &s, sizeof(s), &used);

	ASSERT_EQ(used, 1);
	return st;
}

/* The image still holds the pattern in [sector, sector + n). */
static void file_has_pattern(struct bt *t, uint64_t sector, unsigned int n)
{
	uint8_t buf[SECTOR];

	for (unsigned int i = 0; i < n; i++) {
		ASSERT_EQ(pread(t->fd, buf, SECTOR, (off_t)((sector + i) * SECTOR)), SECTOR);
		check_pattern(buf, sector + i, SECTOR);
	}
}

static void file_is_zero(struct bt *t, uint64_t sector, unsigned int n)
{
	uint8_t buf[SECTOR], zero[SECTOR] = {0};

	for (unsigned int i = 0; i < n; i++) {
		ASSERT_EQ(pread(t->fd, buf, SECTOR, (off_t)((sector + i) * SECTOR)), SECTOR);
		ASSERT_MEM_EQ(buf, zero, SECTOR);
	}
}

static uint32_t cfg32(struct bt *t, uint32_t off)
{
	uint32_t v;

	fd_dev_config_read(t->d, off, &v, 4);
	return le32toh(v);
}

/* Sectors per host block, as the device derives it from st_blksize (1..128). */
static uint32_t io_align(struct bt *t)
{
	return cfg32(t, offsetof(struct virtio_blk_config, discard_sector_alignment));
}

static uint64_t file_blocks(struct bt *t)
{
	struct stat st;

	ASSERT_OK(fstat(t->fd, &st));
	return (uint64_t)st.st_blocks;
}

TEST(blk_discard)
{
	struct bt t;
	uint32_t a;
	uint64_t before;
	bool punch;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	ASSERT_TRUE(t.d->features & BIT(VIRTIO_BLK_F_DISCARD));
	a = io_align(&t);
	ASSERT_TRUE(a >= 1 && 4 * a <= FILE_SECTORS);
	before = file_blocks(&t);
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_DISCARD, a, 2 * a, 0), VIRTIO_BLK_S_OK);
	/* neighbours keep their data */
	file_has_pattern(&t, 0, a);
	file_has_pattern(&t, 3 * a, a);
	/* where the file system punches holes, the blocks are gone and read as zeroes */
	punch = file_blocks(&t) < before;
	if (punch)
		file_is_zero(&t, a, 2 * a);
	/* the size is kept */
	ASSERT_EQ(lseek(t.fd, 0, SEEK_END), FILE_SECTORS * SECTOR);
	/* several segments in one request */
	{
		blk_seg s[2] = {{htole64(0), htole32(a), 0}, {htole64(3 * a), htole32(a), 0}};

		ASSERT_EQ(bt_raw(&t, VIRTIO_BLK_T_DISCARD, s, sizeof(s), NULL), VIRTIO_BLK_S_OK);
	}
	if (punch)
		file_is_zero(&t, 0, 4 * a);
	bt_close(&t);
}

TEST(blk_discard_errors)
{
	struct bt t;
	uint32_t a;
	blk_seg many[BLK_MAX_DISCARD_SEG_T + 1];

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	a = io_align(&t);
	/* "Device Requirements": unmap, or any unknown flag, on a discard -> UNSUPP */
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_DISCARD, 0, a, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
		  VIRTIO_BLK_S_UNSUPP);
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_DISCARD, 0, a, 2), VIRTIO_BLK_S_UNSUPP);
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_DISCARD, 0, a, 0x80000000u), VIRTIO_BLK_S_UNSUPP);
	/* past the capacity, wrapping, too long */
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_DISCARD, FILE_SECTORS, a, 0), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_DISCARD, 0, FILE_SECTORS + a, 0), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_DISCARD, UINT64_MAX - a + 1, a, 0), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_DISCARD, 0, 0xffffffffu, 0), VIRTIO_BLK_S_IOERR);
	/* misaligned start or length (when the alignment is more than one sector) */
	if (a > 1) {
		ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_DISCARD, 1, a, 0), VIRTIO_BLK_S_IOERR);
		ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_DISCARD, 0, a + 1, 0), VIRTIO_BLK_S_IOERR);
	}
	/* too many segments, a partial segment, no payload at all */
	for (unsigned int i = 0; i < BLK_MAX_DISCARD_SEG_T + 1; i++)
		many[i] = (blk_seg){htole64(0), htole32(a), 0};
	ASSERT_EQ(bt_raw(&t, VIRTIO_BLK_T_DISCARD, many, sizeof(many), NULL), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(bt_raw(&t, VIRTIO_BLK_T_DISCARD, many, sizeof(blk_seg) + 8, NULL),
		  VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(bt_raw(&t, VIRTIO_BLK_T_DISCARD, NULL, 0, NULL), VIRTIO_BLK_S_IOERR);
	/* a bad second segment: the first is not executed either */
	{
		blk_seg s[2] = {{htole64(0), htole32(a), 0},
				{htole64(FILE_SECTORS), htole32(a), 0}};

		ASSERT_EQ(bt_raw(&t, VIRTIO_BLK_T_DISCARD, s, sizeof(s), NULL), VIRTIO_BLK_S_IOERR);
	}
	/* the maximum segment count is fine */
	ASSERT_EQ(bt_raw(&t, VIRTIO_BLK_T_DISCARD, many, sizeof(blk_seg) * BLK_MAX_DISCARD_SEG_T,
			 NULL),
		  VIRTIO_BLK_S_OK);
	file_has_pattern(&t, a, FILE_SECTORS - a); /* only [0, a) was discarded */
	ASSERT_FALSE(fd_dev_status(t.d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	bt_close(&t);
}

TEST(blk_write_zeroes)
{
	struct bt t;
	uint64_t gpa;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	/* no alignment needed: one odd sector, without unmap */
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_WRITE_ZEROES, 3, 1, 0), VIRTIO_BLK_S_OK);
	file_is_zero(&t, 3, 1);
	file_has_pattern(&t, 2, 1);
	file_has_pattern(&t, 4, 1);
	/* with unmap (may punch) */
	ASSERT_EQ(
		bt_range(&t, VIRTIO_BLK_T_WRITE_ZEROES, 10, 7, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
		VIRTIO_BLK_S_OK);
	file_is_zero(&t, 10, 7);
	file_has_pattern(&t, 9, 1);
	file_has_pattern(&t, 17, 1);
	/* the guest reads zeroes back */
	ASSERT_EQ(bt_read(&t, 10, 7 * SECTOR, &gpa, NULL), VIRTIO_BLK_S_OK);
	for (unsigned int i = 0; i < 7 * SECTOR; i++)
		ASSERT_EQ(((uint8_t *)fd_ptr(t.g, gpa, 7 * SECTOR))[i], 0);
	/* the last sector, and the size is kept */
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_WRITE_ZEROES, FILE_SECTORS - 1, 1, 1), VIRTIO_BLK_S_OK);
	file_is_zero(&t, FILE_SECTORS - 1, 1);
	ASSERT_EQ(lseek(t.fd, 0, SEEK_END), FILE_SECTORS * SECTOR);
	/* errors: unknown flag, past the end, wrap, too many segments */
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_WRITE_ZEROES, 20, 1, 2), VIRTIO_BLK_S_UNSUPP);
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_WRITE_ZEROES, 20, 1, 3), VIRTIO_BLK_S_UNSUPP);
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_WRITE_ZEROES, FILE_SECTORS - 1, 2, 0),
		  VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_WRITE_ZEROES, UINT64_MAX, 2, 0), VIRTIO_BLK_S_IOERR);
	{
		blk_seg s[BLK_MAX_WZ_SEG_T + 1];

		for (unsigned int i = 0; i < BLK_MAX_WZ_SEG_T + 1; i++)
			s[i] = (blk_seg){htole64(20 + i), htole32(1), 0};
		ASSERT_EQ(bt_raw(&t, VIRTIO_BLK_T_WRITE_ZEROES, s, sizeof(s), NULL),
			  VIRTIO_BLK_S_IOERR);
	}
	file_has_pattern(&t, 20, 40);
	bt_close(&t);
}

TEST(blk_secure_erase)
{
	struct bt t;
	uint32_t a;
	uint64_t before;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	a = io_align(&t);
	ASSERT_EQ(cfg32(&t, offsetof(struct virtio_blk_config, secure_erase_sector_alignment)), a);
	before = file_blocks(&t);
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_SECURE_ERASE, a, a, 0), VIRTIO_BLK_S_OK);
	file_is_zero(&t, a, a);
	file_has_pattern(&t, 0, a);
	file_has_pattern(&t, 2 * a, a);
	/* overwritten in place, not punched: the blocks are still allocated */
	ASSERT_EQ(file_blocks(&t), before);
	/* unmap is not a secure-erase flag; unaligned, past the end, too many segments */
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_SECURE_ERASE, 0, a, 1), VIRTIO_BLK_S_UNSUPP);
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_SECURE_ERASE, FILE_SECTORS, a, 0), VIRTIO_BLK_S_IOERR);
	if (a > 1)
		ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_SECURE_ERASE, 1, a, 0), VIRTIO_BLK_S_IOERR);
	{
		blk_seg s[BLK_MAX_SE_SEG_T + 1];

		for (unsigned int i = 0; i < BLK_MAX_SE_SEG_T + 1; i++)
			s[i] = (blk_seg){htole64(0), htole32(a), 0};
		ASSERT_EQ(bt_raw(&t, VIRTIO_BLK_T_SECURE_ERASE, s, sizeof(s), NULL),
			  VIRTIO_BLK_S_IOERR);
	}
	file_has_pattern(&t, 0, a);
	bt_close(&t);
}

/* Linux 6.1 puts SECURE_ERASE's segment in the device-writable part (its driver picks the
 * direction from the type's VIRTIO_BLK_T_OUT bit): accepted there, and the used length
 * counts only the status. Other range types must stay readable-only. */
TEST(blk_secure_erase_linux_layout)
{
	struct bt t;
	uint32_t a, used;
	uint8_t *stp;
	uint64_t st, segp;
	struct fd_seg segs[3];

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	a = io_align(&t);
	for (unsigned int pass = 0; pass < 2; pass++) {
		uint32_t type = pass ? VIRTIO_BLK_T_DISCARD : VIRTIO_BLK_T_SECURE_ERASE;
		blk_seg *sp;

		st = fd_alloc(t.g, 1, 1);
		segp = fd_alloc(t.g, sizeof(blk_seg), 8);
		sp = fd_ptr(t.g, segp, sizeof(*sp));
		*sp = (blk_seg){htole64(2 * a), htole32(a), 0};
		stp = fd_ptr(t.g, st, 1);
		*stp = 0xee;
		segs[0] = (struct fd_seg){bt_hdr(&t, type, 0), sizeof(struct virtio_blk_outhdr)};
		segs[1] = (struct fd_seg){segp, sizeof(blk_seg)};
		segs[2] = (struct fd_seg){st, 1};
		used = bt_run(&t, segs, 1, 2, 0);
		ASSERT_EQ(used, 1);
		if (type == VIRTIO_BLK_T_SECURE_ERASE) {
			ASSERT_EQ(*stp, VIRTIO_BLK_S_OK);
			file_is_zero(&t, 2 * a, a);
			/* the segment itself is left as the driver wrote it */
			ASSERT_EQ(le64toh(sp->sector), 2 * a);
		} else {
			ASSERT_EQ(*stp, VIRTIO_BLK_S_IOERR);
		}
	}
	file_has_pattern(&t, 0, 2 * a);
	file_has_pattern(&t, 3 * a, a);
	bt_close(&t);
}

TEST(blk_range_requests_read_only)
{
	struct bt t;

	bt_open(&t, FILE_SECTORS * SECTOR, true, FD_FEATURES_ALL, true);
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_DISCARD, 0, io_align(&t), 0), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 0), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 1), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_SECURE_ERASE, 0, io_align(&t), 0), VIRTIO_BLK_S_IOERR);
	file_has_pattern(&t, 0, FILE_SECTORS);
	bt_close(&t);
}

TEST(blk_new_types_need_their_feature)
{
	struct bt t;
	uint32_t six = 6, used;
	uint64_t want =
		FD_FEATURES_ALL & ~(BIT(VIRTIO_BLK_F_DISCARD) | BIT(VIRTIO_BLK_F_WRITE_ZEROES) |
				    BIT(VIRTIO_BLK_F_SECURE_ERASE) | BIT(F_LIFETIME));

	/* offered but not negotiated: UNSUPP, nothing touched */
	bt_open(&t, FILE_SECTORS * SECTOR, false, want, true);
	ASSERT_FALSE(t.d->features & BIT(VIRTIO_BLK_F_DISCARD));
	ASSERT_TRUE(dev_features(t.d) & BIT(VIRTIO_BLK_F_DISCARD));
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_DISCARD, 0, io_align(&t), 0), VIRTIO_BLK_S_UNSUPP);
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 0), VIRTIO_BLK_S_UNSUPP);
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_SECURE_ERASE, 0, io_align(&t), 0), VIRTIO_BLK_S_UNSUPP);
	ASSERT_EQ(bt_req(&t, T_GET_LIFETIME, 0, &six, 1, NULL, &used, 0), VIRTIO_BLK_S_UNSUPP);
	ASSERT_EQ(used, 1);
	file_has_pattern(&t, 0, FILE_SECTORS);
	bt_close(&t);
}

TEST(blk_get_lifetime)
{
	struct bt t;
	uint32_t len = 6, used;
	uint64_t gpa;
	uint16_t lt[3];
	struct blk_lifetime set = {.pre_eol_info = 2, .est_typ_a = 0x0b, .est_typ_b = 0x03};

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	ASSERT_TRUE(t.d->features & BIT(F_LIFETIME));
	ASSERT_EQ(bt_req(&t, T_GET_LIFETIME, 0, &len, 1, &gpa, &used, 0), VIRTIO_BLK_S_OK);
	ASSERT_EQ(used, 7);
	memcpy(lt, fd_ptr(t.g, gpa, 6), 6);
	ASSERT_EQ(le16toh(lt[0]), 1); /* normal */
	ASSERT_EQ(le16toh(lt[1]), 1);
	ASSERT_EQ(le16toh(lt[2]), 1);
	ASSERT_OK(blk_set_lifetime(t.vdev, &set));
	ASSERT_EQ(bt_req(&t, T_GET_LIFETIME, 0, &len, 1, &gpa, NULL, 0), VIRTIO_BLK_S_OK);
	memcpy(lt, fd_ptr(t.g, gpa, 6), 6);
	ASSERT_EQ(le16toh(lt[0]), 2);
	ASSERT_EQ(le16toh(lt[1]), 0x0b);
	ASSERT_EQ(le16toh(lt[2]), 0x03);
	/* out-of-range values are refused and change nothing */
	set.pre_eol_info = 4;
	ASSERT_ERR(blk_set_lifetime(t.vdev, &set), -EINVAL);
	set = (struct blk_lifetime){1, 0x0c, 1};
	ASSERT_ERR(blk_set_lifetime(t.vdev, &set), -EINVAL);
	/* a buffer too small for the 6 bytes */
	len = 4;
	ASSERT_EQ(bt_req(&t, T_GET_LIFETIME, 0, &len, 1, NULL, &used, 0), VIRTIO_BLK_S_IOERR);
	ASSERT_EQ(used, 1);
	bt_close(&t);
}

TEST(blk_serial)
{
	struct bt t;
	uint32_t len = VIRTIO_BLK_ID_BYTES;
	uint64_t gpa;
	char want[VIRTIO_BLK_ID_BYTES] = "disk-7";

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	ASSERT_OK(blk_set_serial(t.vdev, "disk-7"));
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_GET_ID, 0, &len, 1, &gpa, NULL, 0), VIRTIO_BLK_S_OK);
	ASSERT_MEM_EQ(fd_ptr(t.g, gpa, 20), want, 20);
	/* exactly 20 bytes: no terminator */
	ASSERT_OK(blk_set_serial(t.vdev, "ABCDEFGHIJKLMNOPQRST"));
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_GET_ID, 0, &len, 1, &gpa, NULL, 0), VIRTIO_BLK_S_OK);
	ASSERT_MEM_EQ(fd_ptr(t.g, gpa, 20), "ABCDEFGHIJKLMNOPQRST", 20);
	ASSERT_ERR(blk_set_serial(t.vdev, "ABCDEFGHIJKLMNOPQRSTU"), -EINVAL);
	ASSERT_EQ(bt_req(&t, VIRTIO_BLK_T_GET_ID, 0, &len, 1, &gpa, NULL, 0), VIRTIO_BLK_S_OK);
	ASSERT_MEM_EQ(fd_ptr(t.g, gpa, 20), "ABCDEFGHIJKLMNOPQRST", 20);
	bt_close(&t);
}

/* The main paths on both transports and both ring layouts. */
TEST(blk_new_types_all_transports)
{
	for (int tr = 0; tr < 2; tr++) {
		for (int packed = 0; packed < 2; packed++) {
			struct bt t;
			uint64_t want = packed ? FD_FEATURES_ALL
					       : FD_FEATURES_ALL & ~BIT(VIRTIO_F_RING_PACKED);
			uint32_t len = 6, a;

			bt_open_on(&t, tr ? FD_PCI : FD_MMIO, FILE_SECTORS * SECTOR, false, want,
				   true);
			ASSERT_EQ(!!(t.d->features & BIT(VIRTIO_F_RING_PACKED)), packed);
			a = io_align(&t);
			ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_WRITE_ZEROES, 5, 2, 0),
				  VIRTIO_BLK_S_OK);
			file_is_zero(&t, 5, 2);
			ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_SECURE_ERASE, 2 * a, a, 0),
				  VIRTIO_BLK_S_OK);
			file_is_zero(&t, 2 * a, a);
			ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_DISCARD, 4 * a, a, 0), VIRTIO_BLK_S_OK);
			ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_DISCARD, 4 * a, a, 1),
				  VIRTIO_BLK_S_UNSUPP);
			ASSERT_EQ(bt_req(&t, T_GET_LIFETIME, 0, &len, 1, NULL, NULL, 0),
				  VIRTIO_BLK_S_OK);
			file_has_pattern(&t, 7, a > 7 ? 2 * a - 7 : 1);
			bt_close(&t);
		}
	}
}

TEST(blk_range_config)
{
	struct bt t;
	struct virtio_blk_config c;
	struct stat st;
	uint32_t a = 1;

	bt_open(&t, FILE_SECTORS * SECTOR, false, FD_FEATURES_ALL, true);
	ASSERT_OK(fstat(t.fd, &st));
	while (a < 128 && (uint64_t)a * 2 * SECTOR <= (uint64_t)st.st_blksize)
		a *= 2;
	fd_dev_config_read(t.d, 0, &c, sizeof(c));
	/* TOPOLOGY from the host file system's block size, in 512-byte logical blocks */
	ASSERT_EQ(le32toh(c.blk_size), 512);
	ASSERT_EQ(1u << c.physical_block_exp, a);
	ASSERT_EQ(c.alignment_offset, 0);
	ASSERT_EQ(le16toh(c.min_io_size), a);
	ASSERT_EQ(le32toh(c.opt_io_size), a);
	ASSERT_EQ(le32toh(c.max_discard_seg), BLK_MAX_DISCARD_SEG_T);
	ASSERT_EQ(le32toh(c.discard_sector_alignment), a);
	ASSERT_TRUE(le32toh(c.max_discard_sectors) >= 2048);
	ASSERT_EQ(le32toh(c.max_write_zeroes_seg), BLK_MAX_WZ_SEG_T);
	ASSERT_TRUE(le32toh(c.max_write_zeroes_sectors) >= 2048);
	ASSERT_EQ(c.write_zeroes_may_unmap, 1);
	ASSERT_EQ(le32toh(c.max_secure_erase_seg), BLK_MAX_SE_SEG_T);
	ASSERT_EQ(le32toh(c.secure_erase_sector_alignment), a);
	ASSERT_TRUE(le32toh(c.max_secure_erase_sectors) >= 2048);
	ASSERT_EQ(c.unused1[0] | c.unused1[1] | c.unused1[2], 0);
	/* one segment of more than max sectors is refused even inside the disk */
	ASSERT_EQ(bt_range(&t, VIRTIO_BLK_T_SECURE_ERASE, 0,
			   le32toh(c.max_secure_erase_sectors) + a, 0),
		  VIRTIO_BLK_S_IOERR);
	bt_close(&t);
}
