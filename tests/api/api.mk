# tests/api/api.mk - the API robustness suite (included by the top-level Makefile).
#
#   make api-test       build microvm and tests/api, run the pre-boot suite (no KVM needed):
#                       every endpoint, bad inputs, protocol abuse, soak; under 60 s
#   make api-suite      only build $(API_SUITE)
#
# The running-state mode needs KVM and a guest; the nested harness runs it as
#   $(API_SUITE) --running --microvm PATH --kernel PATH [--initrd PATH] [--cmdline STR]

API_SUITE_SRCS := $(sort $(wildcard tests/api/*.c))
API_SUITE_OBJS := $(API_SUITE_SRCS:%.c=$(BUILD)/%.o)
API_SUITE      := $(BUILD)/tests/api/api_suite

.PHONY: api-test api-suite
api-suite: $(API_SUITE)

# Only json-c and pthreads: the suite talks to microvm over its socket, it links none of it.
$(API_SUITE): $(API_SUITE_OBJS)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs json-c 2>/dev/null || echo -ljson-c) -lpthread

api-test: microvm $(API_SUITE)
	$(Q)timeout 150 $(API_SUITE) --microvm ./microvm

-include $(API_SUITE_OBJS:.o=.d)
