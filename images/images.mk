# images/images.mk - guest images and the nested integration run.  Included by
# the top-level Makefile.  The recipes cache their output themselves under
# $(IMAGES_DIR)/<name>-<hash of inputs>/, so these targets are phony: a second
# `make images` only checks the hashes (a few seconds).
#   make images                        L1 kernel, L2 kernel (~10 min once), L2 initramfs
#   make images-check                  boot the L2 images under plain QEMU (no KVM, ~15 s)
#   make integration [CASES='linux-*'] tests/integration/run-nested.sh (~1 min)
# IMAGES_DIR may point outside the work tree (e.g. a CI cache) to keep the
# kernel across clean clones.

IMAGES_DIR  ?= build/images
IMAGES_JOBS ?= 2
MICROVM_BIN ?= microvm
CASES       ?=
IMAGE_PARTS := l1-kernel l2-kernel l2-initramfs

.PHONY: images images-check integration $(IMAGE_PARTS:%=images-%)
images: $(IMAGE_PARTS:%=images-%)

$(IMAGE_PARTS:%=images-%): images-%:
	$(Q)IMAGES_DIR=$(IMAGES_DIR) JOBS=$(IMAGES_JOBS) images/$*.sh >/dev/null

images-check: images-l2-kernel images-l2-initramfs
	$(Q)IMAGES_DIR=$(IMAGES_DIR) tests/integration/check-l2-qemu.sh

# The tiny guests come from tests/guests/guests.mk when it is included.
integration: images $(MICROVM_BIN) $(if $(GUEST_BINS),guests) api-suite
	$(Q)IMAGES_DIR=$(IMAGES_DIR) tests/integration/run-nested.sh $(abspath $(MICROVM_BIN)) $(CASES)
