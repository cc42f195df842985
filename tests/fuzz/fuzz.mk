# libFuzzer targets (included by the top-level Makefile).
#
#   make fuzz                          build every target into build/fuzz/<target>
#   make fuzz-run T=fuzz_vq SECS=20    run one target for SECS seconds
#   make fuzz-smoke SECS=10            run every target for SECS seconds, one after another
#
# Targets: every tests/fuzz/fuzz_<name>.c is one binary, build/fuzz/fuzz_<name>, built with
# clang -fsanitize=fuzzer,address,undefined (FUZZ_CC to override).
#
# Objects a target links (the per-target convention):
#   1. FUZZ_BASE_SRCS, linked into every target: guest memory, logging, the I/O bus, the
#      virtio, PCI and SCSI parts of the Makefile's DEVICE_SRCS (devices/virtio/*: core,
#      transports, devices; devices/pci/*) and tests/fakedrv/*.c;
#   2. plus the sources named in a tag in the first 40 lines of the target's own file,
#      paths relative to the repository root, space separated, one or more tags:
#          /* fuzz-srcs: devices/virtio/blk_io.c vmm/foo.c */
#      A new fuzz_<dev>.c needs no edit here; a target whose device is already in
#      DEVICE_SRCS needs no tag at all. Helpers shared by several targets live in
#      tests/fuzz/ under names without the fuzz_ prefix (fuzzdrv.c: fake RAM, device
#      invariants, chain posting for the register fuzzers), so they are no target, and
#      are linked by that tag.
#
# Corpora: seeds are read from tests/fuzz/corpus/<target>/ when it exists (never written);
# new inputs go to build/fuzz/corpus/<target>/, crashes to build/fuzz/artifacts/.
# To keep a new seed: copy it from build/fuzz/corpus/<target>/ into tests/fuzz/corpus/<target>/.

FUZZ_CC      ?= clang
FUZZ_DIR     := build/fuzz
FUZZ_SAN     := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -D_GNU_SOURCE -DFUZZING -I. -fno-omit-frame-pointer \
                -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
                -Wno-unused-parameter -Werror $(FUZZ_SAN)
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined
FUZZ_LDLIBS  := -luring -lhttp_parser -ljson-c -lpthread
FUZZ_SRCS    := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS := $(notdir $(FUZZ_SRCS:.c=))
FUZZ_BASE_SRCS := vmm/bus.c vmm/guest_mem.c vmm/log.c \
                  $(filter devices/virtio/% devices/pci/% devices/scsi/%,$(DEVICE_SRCS)) \
                  $(sort $(wildcard tests/fakedrv/*.c))
SECS         ?= 20
T            ?= fuzz_vq

.PHONY: fuzz fuzz-run fuzz-smoke fuzz-clean

fuzz: $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

# Rules per target, generated only when a fuzz goal was asked for (the tag scan runs sed).
ifneq ($(filter fuzz%,$(MAKECMDGOALS)),)
fuzz_tag_srcs = $(shell sed -n '1,40s|.*fuzz-srcs:\(.*\)\*/.*|\1|p' $(1))
define fuzz_target_rule
$(1)_OBJS := $$(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$$(sort tests/fuzz/$(1).c $(FUZZ_BASE_SRCS) \
		$$(call fuzz_tag_srcs,tests/fuzz/$(1).c)))
$(FUZZ_DIR)/$(1): $$($(1)_OBJS)
	$$(Q)$$(FUZZ_CC) $$(FUZZ_LDFLAGS) -o $$@ $$^ $$(FUZZ_LDLIBS)
-include $$($(1)_OBJS:.o=.d)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_target_rule,$(t))))
endif

# One run: fresh work corpus first (libFuzzer writes there), then the seeds.
fuzz_run_cmd = mkdir -p $(FUZZ_DIR)/corpus/$(1) $(FUZZ_DIR)/artifacts && \
	timeout $$(( $(SECS) + 120 )) $(FUZZ_DIR)/$(1) -max_total_time=$(SECS) -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/artifacts/$(1)- $(FUZZ_DIR)/corpus/$(1) \
		$(wildcard tests/fuzz/corpus/$(1))

fuzz-run: $(FUZZ_DIR)/$(T)
	$(Q)$(call fuzz_run_cmd,$(T))

# Each target's output goes to build/fuzz/<target>.log; its tail is shown, all of it on failure.
fuzz-smoke: fuzz
	$(Q)$(foreach t,$(FUZZ_TARGETS),echo "== $(t) ($(SECS)s)"; \
		if ! ( $(call fuzz_run_cmd,$(t)) ) > $(FUZZ_DIR)/$(t).log 2>&1; then \
			tail -n 60 $(FUZZ_DIR)/$(t).log; echo "== $(t) FAILED"; exit 1; fi; \
		grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)' \
			$(FUZZ_DIR)/$(t).log || tail -n 5 $(FUZZ_DIR)/$(t).log;)

fuzz-clean:
	rm -rf $(FUZZ_DIR)
