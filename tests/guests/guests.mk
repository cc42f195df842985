# SPDX-License-Identifier: MIT
# Freestanding test guests (tests/guests/README.md). Included by the top-level
# Makefile; also works alone: make -f tests/guests/guests.mk guests
#
# PVH guests are ELF32 images built with -m32 and loaded at 1 MiB; the bzImage
# guest is 16-bit setup code plus a 32/64-bit payload turned into a flat file.
# They use their own compiler flags: no libc, no libgcc, no stack protector.

GUEST_CC      ?= gcc
GUEST_LD      ?= ld
GUEST_OBJCOPY ?= objcopy
GUEST_SRC     := tests/guests
GUEST_OUT     := build/guests
Q             ?= @

# Debian has no i386 multiarch include dir without gcc-multilib; the x86 uapi
# <asm/...> headers are shared by both word sizes, so borrow the 64-bit ones.
GUEST_MULTIARCH := $(shell $(GUEST_CC) -print-multiarch 2>/dev/null)

GUEST_CFLAGS := -std=gnu11 -O2 -g -I. -ffreestanding -nostdlib -fno-pic -fno-pie \
		-fno-stack-protector -fno-asynchronous-unwind-tables -fcf-protection=none \
		-mgeneral-regs-only -fno-common -Wall -Wextra -Wshadow -Wstrict-prototypes \
		-Wmissing-prototypes -Wundef -Wvla -Wpointer-arith -Wwrite-strings -Werror
GUEST_CFLAGS32 := $(GUEST_CFLAGS) -m32 -march=i686 \
		$(if $(GUEST_MULTIARCH),-idirafter /usr/include/$(GUEST_MULTIARCH))
GUEST_CFLAGS64 := $(GUEST_CFLAGS) -m64 -mno-red-zone -mcmodel=small
GUEST_LDFLAGS  := -nostdlib -static --build-id=none --no-warn-rwx-segments -z noexecstack

GUEST_LIB32 := $(GUEST_OUT)/obj32/lib/guest.o $(GUEST_OUT)/obj32/lib/pvh.o \
	       $(GUEST_OUT)/obj32/lib/pvh_start.o
GUEST_LIB64 := $(GUEST_OUT)/obj64/lib/guest.o

GUEST_PVH  := hello-pvh triple-fault smp virtio-poll
GUEST_BINS := $(GUEST_PVH:%=$(GUEST_OUT)/%.elf) $(GUEST_OUT)/hello-bzimage.bin \
	      $(GUEST_OUT)/bzboot64.elf

.PHONY: guests guests-clean
guests: $(GUEST_BINS)

guests-clean:
	rm -rf $(GUEST_OUT)

$(GUEST_OUT)/obj32/%.o: $(GUEST_SRC)/%.c
	@mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS32) -MMD -MP -c $< -o $@

$(GUEST_OUT)/obj32/%.o: $(GUEST_SRC)/%.S
	@mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS32) -MMD -MP -c $< -o $@

$(GUEST_OUT)/obj64/%.o: $(GUEST_SRC)/%.c
	@mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS64) -MMD -MP -c $< -o $@

$(GUEST_OUT)/obj64/%.o: $(GUEST_SRC)/%.S
	@mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS64) -MMD -MP -c $< -o $@

# file name uses '-', source file '_': hello-pvh.elf <- hello_pvh.c
$(GUEST_OUT)/hello-pvh.elf: $(GUEST_OUT)/obj32/hello_pvh.o
$(GUEST_OUT)/triple-fault.elf: $(GUEST_OUT)/obj32/triple_fault.o
$(GUEST_OUT)/smp.elf: $(GUEST_OUT)/obj32/smp.o $(GUEST_OUT)/obj32/smp_trampoline.o
$(GUEST_OUT)/virtio-poll.elf: $(GUEST_OUT)/obj32/virtio_poll.o

$(GUEST_PVH:%=$(GUEST_OUT)/%.elf): $(GUEST_LIB32) $(GUEST_SRC)/lib/pvh.ld
	$(Q)$(GUEST_LD) -m elf_i386 $(GUEST_LDFLAGS) -T $(GUEST_SRC)/lib/pvh.ld -o $@ \
		$(filter %.o,$^)

# QEMU-only helper that enters a bzImage at +0x200 the way microvm does; it
# sits at 16 MiB so the bzImage payload can go to 1 MiB.
$(GUEST_OUT)/bzboot64.elf: $(GUEST_OUT)/obj32/bzboot64.o $(GUEST_OUT)/obj32/bzboot64_entry.o \
		$(GUEST_LIB32) $(GUEST_SRC)/lib/pvh.ld
	$(Q)$(GUEST_LD) -m elf_i386 $(GUEST_LDFLAGS) --defsym=GUEST_LOAD_ADDR=0x1000000 \
		-T $(GUEST_SRC)/lib/pvh.ld -o $@ $(filter %.o,$^)

# bzImage: link setup (VMA 0) and payload (VMA 1 MiB) into one ELF, then
# flatten it by load address: setup sectors first, payload right behind.
$(GUEST_OUT)/hello-bzimage.elf: $(GUEST_OUT)/obj64/bzimage_head.o \
		$(GUEST_OUT)/obj64/hello_bzimage.o $(GUEST_LIB64) $(GUEST_SRC)/bzimage.ld
	$(Q)$(GUEST_LD) -m elf_x86_64 $(GUEST_LDFLAGS) -T $(GUEST_SRC)/bzimage.ld -o $@ \
		$(filter %.o,$^)

$(GUEST_OUT)/hello-bzimage.bin: $(GUEST_OUT)/hello-bzimage.elf
	$(Q)$(GUEST_OBJCOPY) -O binary $< $@

-include $(wildcard $(GUEST_OUT)/obj32/*.d $(GUEST_OUT)/obj32/lib/*.d \
		    $(GUEST_OUT)/obj64/*.d $(GUEST_OUT)/obj64/lib/*.d)
