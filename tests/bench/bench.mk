# tests/bench/bench.mk - `make bench`: microvm against QEMU's -M microvm, as
# ratios, measured in the nested harness's L1 (tests/bench/README.md).
# Included by the top-level Makefile.  BENCH_N=3 for a quick run (default 10);
# BENCH_CASES=tiny or linux for one case, diag,tiny,linux for diagnostics.
# run-bench.sh builds what it needs itself (make microvm guests images, the
# static launch_probe), so it also works without make.  The recipe does not
# name $(MAKE) on purpose: `make -n bench` would then run the whole bench.

BENCH_N     ?= 10
BENCH_CASES ?= tiny,linux

.PHONY: bench
bench:
	$(Q)BENCH_N=$(BENCH_N) BENCH_CASES=$(BENCH_CASES) IMAGES_DIR=$(or $(IMAGES_DIR),build/images) \
		tests/bench/run-bench.sh
