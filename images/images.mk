# images/images.mk - guest images and the nested integration run.  Included by
# the top-level Makefile.  The recipes cache their output themselves under
# $(IMAGES_DIR)/<name>-<hash of inputs>/, so these targets are phony: a second
# `make images` only checks the hashes.
#   make images                        L1 kernel, L2 kernel (~4 min once), L2 initramfs
#   make integration [CASES='linux-*'] run tests/integration/run-nested.sh

IMAGES_DIR  ?= build/images
IMAGES_JOBS ?= 2
MICROVM_BIN ?= microvm
CASES       ?=
IMAGE_PARTS := l1-kernel l2-kernel l2-initramfs

.PHONY: images integration $(IMAGE_PARTS:%=images-%)
images: $(IMAGE_PARTS:%=images-%)

$(IMAGE_PARTS:%=images-%): images-%:
	$(Q)IMAGES_DIR=$(IMAGES_DIR) JOBS=$(IMAGES_JOBS) images/$*.sh >/dev/null

# The tiny guests come from tests/guests/guests.mk when it is included.
integration: images $(MICROVM_BIN) $(if $(GUEST_BINS),guests)
	$(Q)IMAGES_DIR=$(IMAGES_DIR) tests/integration/run-nested.sh $(abspath $(MICROVM_BIN)) $(CASES)
