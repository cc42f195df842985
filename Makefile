# microvm - one non-recursive Makefile. Objects go to build/<variant>/.
ARCH    ?= $(shell uname -m)
SAN     ?=
BUILD   ?= build/$(if $(SAN),san,release)
Q       := $(if $(V),,@)
PKGS    := libseccomp libcap-ng liburing json-c
CC      ?= gcc

CFLAGS  := -std=gnu11 -O2 -g -D_GNU_SOURCE -I. -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
           -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wundef -Wvla -Wpointer-arith -Wwrite-strings -Wno-unused-parameter \
           $(if $(filter 0,$(WERROR)),,-Werror) $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
           $(EXTRA_CFLAGS)
# libseccomp is for the build-time filter compiler (and the unit tests) only, not microvm.
LDLIBS  := $(shell pkg-config --libs $(filter-out libseccomp,$(PKGS)) 2>/dev/null) -lhttp_parser -lpthread
SECCOMP_LIBS := $(shell pkg-config --libs libseccomp 2>/dev/null)
HOSTCC  ?= $(CC)
HOST_CFLAGS := $(CFLAGS)
ifneq ($(SAN),)
CFLAGS  += -fsanitize=$(SAN) -fno-omit-frame-pointer -O1 -U_FORTIFY_SOURCE
LDFLAGS += -fsanitize=$(SAN)
endif

VERSION := 0.1.0
CFLAGS  += -DMICROVM_VERSION=\"$(VERSION)\"

# Sources, sorted, one list per folder so parallel work touches one line each.
VMM_SRCS     := vmm/bus.c vmm/cli.c vmm/cli_net.c vmm/guest_mem.c vmm/irq.c vmm/kvm_pci.c vmm/log.c vmm/term.c vmm/vcpu.c \
                vmm/vm.c vmm/vm_devices.c vmm/vm_run.c
VMM_SRCS     += vmm/vm_pause.c vmm/control.c vmm/control_cmd.c vmm/control_outputs.c vmm/main_opts.c vmm/metrics.c
VMM_SRCS     += vmm/caps.c vmm/jail.c vmm/seccomp.c
DEVICE_SRCS  := devices/legacy/serial.c devices/pci/msix.c devices/pci/pci.c devices/scsi/info.c devices/scsi/io.c devices/scsi/mode.c devices/scsi/target.c devices/virtio/blk.c devices/virtio/blk_inflight.c devices/virtio/blk_limit.c devices/virtio/blk_req.c devices/virtio/blk_uring.c devices/virtio/console.c devices/virtio/core.c devices/virtio/mmio.c devices/virtio/net.c devices/virtio/net_ctrl.c devices/virtio/net_filter.c devices/virtio/net_hdr.c devices/virtio/net_io.c devices/virtio/net_rss.c devices/virtio/net_tap.c devices/virtio/pci.c devices/virtio/pci_common.c devices/virtio/pmem.c devices/virtio/rng.c devices/virtio/scsi.c devices/virtio/token_bucket.c devices/virtio/virtqueue.c devices/virtio/vq_packed.c devices/virtio/vq_split.c devices/virtio/vsock.c devices/virtio/vsock_conn.c devices/virtio/vsock_host.c
ARCH_SRCS    := arch/x86_64/acpi.c arch/x86_64/aml.c arch/x86_64/arch.c arch/x86_64/boot.c arch/x86_64/cpu.c arch/x86_64/irq_routes.c arch/x86_64/irqchip.c arch/x86_64/platform.c devices/legacy/acpi_pm.c devices/legacy/i8042.c devices/legacy/pvpanic.c
API_SRCS     := api/http.c api/router.c api/server.c api/routes.c
API_JSON_SRCS := api/config_json.c api/config_json_dev.c api/config_json_dump.c api/config_json_util.c api/config_validate.c
MAIN_SRCS    := vmm/main.c

LIB_SRCS := $(VMM_SRCS) $(DEVICE_SRCS) $(ARCH_SRCS) $(API_SRCS) $(API_JSON_SRCS)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/seccomp_bpf.o
# The seccomp filters, compiled at build time by a host tool (vmm/seccomp_gen.c); the unit
# tests link its compiler too, to check the generated programs against it.
SECCOMP_GEN_SRCS := vmm/seccomp_gen.c vmm/seccomp_compile.c vmm/seccomp_rules.c
SECCOMP_TEST_OBJS := $(BUILD)/vmm/seccomp_compile.o $(BUILD)/vmm/seccomp_rules.o
MAIN_OBJS := $(MAIN_SRCS:%.c=$(BUILD)/%.o)

TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c) $(wildcard tests/fakedrv/*.c)) tests/harness.c
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/%.o)

.PHONY: all asan test unit clean format format-check
all: microvm

microvm: $(LIB_OBJS) $(MAIN_OBJS)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/seccomp_gen: $(SECCOMP_GEN_SRCS) vmm/seccomp_rules.h vmm/util.h
	@mkdir -p $(@D)
	$(Q)$(HOSTCC) $(HOST_CFLAGS) -o $@ $(SECCOMP_GEN_SRCS) $(SECCOMP_LIBS)

$(BUILD)/gen/seccomp_bpf.c: $(BUILD)/seccomp_gen
	@mkdir -p $(@D)
	$(Q)$(BUILD)/seccomp_gen $@

$(BUILD)/gen/seccomp_bpf.o: $(BUILD)/gen/seccomp_bpf.c
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/unit-tests: $(LIB_OBJS) $(TEST_OBJS) $(SECCOMP_TEST_OBJS)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(SECCOMP_LIBS)

# Host-side unit and fake-driver tests (no KVM needed).
unit: $(BUILD)/unit-tests
	$(Q)timeout 600 $(BUILD)/unit-tests

asan:
	$(Q)$(MAKE) --no-print-directory SAN=address,undefined microvm-asan

microvm-asan: $(LIB_OBJS) $(MAIN_OBJS)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

asan-unit:
	$(Q)$(MAKE) --no-print-directory SAN=address,undefined unit

-include tests/guests/guests.mk
-include images/images.mk
-include tests/fuzz/fuzz.mk
-include tests/bench/bench.mk

# The README's two commands. Each first installs what is missing (Debian, as root), then
# re-enters make so that pkg-config sees the freshly installed libraries.
.PHONY: deps run
deps:
	$(Q)tests/install-deps.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all guests api-suite
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory api-test
	$(Q)$(MAKE) --no-print-directory integration

run: deps
	$(Q)$(MAKE) --no-print-directory all images
	$(Q)images/run-demo.sh

# clean keeps build/images: the guest kernel takes ~10 minutes to rebuild; distclean drops it.
.PHONY: distclean
clean:
	rm -rf $(filter-out build/images,$(wildcard build/*)) microvm microvm-asan

distclean: clean
	rm -rf build

FORMAT_FILES = $(shell git ls-files '*.c' '*.h')
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

-include $(LIB_OBJS:.o=.d) $(MAIN_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(SECCOMP_TEST_OBJS:.o=.d)
-include tests/api/api.mk
