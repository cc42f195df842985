#!/bin/bash
# tests/bench/run-bench.sh - `make bench`: microvm against QEMU's -M microvm
# machine, both on the real /dev/kvm of the nested harness's L1 (this host has
# none), in one L1 boot, runs interleaved.  Prints, per case and metric, the
# median of each VMM and the ratio microvm/QEMU with its target:
#   tiny  first-line  exec to hello-pvh.elf's first serial line  (<= 0.20)
#   tiny  peak-rss    peak RSS of the VMM process                (<= 0.15)
#   linux first-line  exec to the L2 /init's first line          (<= 0.80)
#   linux exit        exec to process exit after ACPI poweroff   (<= 0.80)
# plus untargeted lines: tiny exit, linux peak-rss, linux guest-clock (the
# guest's uptime at its last line) and linux non-guest (exit minus that: VMM
# and firmware set-up, kernel decompression, poweroff and teardown).  MISSED marks a
# missed target; the exit status is still 0 (a benchmark, not a test), 1 only
# when no measurement came back.  Absolute numbers are nested-virtualisation
# numbers (L1 runs under QEMU TCG): only the ratios mean something.
#
# Usage: tests/bench/run-bench.sh [-v]      (-v: copy L1's console to stderr)
# Environment: BENCH_N (runs per VMM and case, default 10), BENCH_CASES
# (tiny,linux; add diag for one verbose Linux boot per VMM, its console in
# the log as "DIAG <vmm> <line>"), BENCH_NO_BUILD=1 (skip `make microvm guests images`),
# L1_TIMEOUT (seconds), MAKE, IMAGES_DIR.
# Raw data in build/bench/: l1-console.log, results.txt (the BENCH lines),
# summary.txt, and a time-stamped copy of results and summary per run.
set -eu
cd "$(dirname "$0")/../.."

verbose=0
[ "${1-}" = -v ] && verbose=1
n=${BENCH_N:-10}
cases=${BENCH_CASES:-tiny,linux}
out=build/bench
mkdir -p "$out"
log=$out/l1-console.log
results=$out/results.txt
summary=$out/summary.txt

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
	${MAKE:-make} -j2 --no-print-directory microvm guests images
fi
probe=$out/launch_probe
if [ ! -x "$probe" ] || [ tests/bench/launch_probe.c -nt "$probe" ]; then
	gcc -O2 -static -Wall -Wextra -Werror -o "$probe" tests/bench/launch_probe.c
fi
l1k=$(images/l1-kernel.sh)
tests/bench/l1-bench-overlay.sh "$out/l1.cpio" "$PWD/microvm" "$probe" "$n" "$cases" >/dev/null

# Four runs per index (two VMMs, two cases), plus the warm-up pair; a nested
# Linux boot takes ~5 s, QEMU's start a few more.
timeout_s=${L1_TIMEOUT:-$((300 + (n + 1) * 60))}
echo "bench: booting L1 ($(cat "$l1k/version")), n=$n cases=$cases, console in $log" >&2
t0=$EPOCHREALTIME
# --foreground keeps QEMU in this process group: a ^C or a kill of the group
# stops L1 too.
set +e
timeout --foreground "$timeout_s" qemu-system-x86_64 -accel tcg,thread=multi -cpu EPYC -smp 2 -m 3G \
	-nographic -no-reboot -kernel "$l1k/vmlinuz" -initrd "$out/l1.cpio" \
	-append "console=ttyS0 panic=-1 quiet" </dev/null 2>&1 | tee "$log" | {
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		BENCH* | "  "*) printf '%s\n' "$line" >&2 ;;
		*) [ $verbose = 0 ] || printf '%s\n' "$line" >&2 ;;
		esac
	done
}
qemu_rc=${PIPESTATUS[0]}
set -e
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
tr -d '\r' <"$log" | grep '^BENCH vmm=' >"$results" || true
if ! grep -q '^L1-DONE' "$log"; then
	echo "bench: L1 did not finish (qemu rc=$qemu_rc after ${secs} s); see $log" >&2
fi
if ! grep -q '^BENCH-END' "$log"; then
	echo "bench: the bench did not finish; the summary covers the runs that did" >&2
fi

# The table: medians over the measured runs (run > 0) that exited 0 and saw
# their marker.
awk -v n="$n" '
function median(key,    m, i, j, v, a) {
	m = cnt[key]
	for (i = 1; i <= m; i++)
		a[i] = val[key, i]
	for (i = 2; i <= m; i++) {
		v = a[i]
		for (j = i - 1; j >= 1 && a[j] > v; j--)
			a[j + 1] = a[j]
		a[j + 1] = v
	}
	if (m == 0)
		return -1
	return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
function add(key, v) {
	cnt[key]++
	val[key, cnt[key]] = v
	if (!(key in lo) || v < lo[key]) lo[key] = v
	if (!(key in hi) || v > hi[key]) hi[key] = v
}
function fmt(v, unit) {
	return unit == "ms" ? sprintf("%.1f ms", v) : sprintf("%d KiB", v)
}
function row(c, label, metric, unit, target,    km, kq, m, q, r, verdict) {
	km = c SUBSEP "microvm" SUBSEP metric
	kq = c SUBSEP "qemu" SUBSEP metric
	if (!cnt[km] || !cnt[kq]) {
		printf "%-5s %-11s no valid runs (microvm %d, qemu %d)%s\n", c, label, cnt[km],
			cnt[kq], target != "" ? "  MISSED" : ""
		return
	}
	m = median(km)
	q = median(kq)
	r = q > 0 ? m / q : 0
	verdict = target == "" ? "(no target)" : sprintf("(target <= %.2f)%s", target,
		r <= target ? "" : "  MISSED")
	printf "%-5s %-11s microvm %-11s qemu %-11s ratio %.2f %s\n", c, label, fmt(m, unit),
		fmt(q, unit), r, verdict
	detail = detail sprintf("  %-5s %-10s %-7s n=%-2d median %-11s min %-11s max %s\n", c, metric,
		"microvm", cnt[km], fmt(m, unit), fmt(lo[km], unit), fmt(hi[km], unit))
	detail = detail sprintf("  %-5s %-10s %-7s n=%-2d median %-11s min %-11s max %s\n", c, metric,
		"qemu", cnt[kq], fmt(q, unit), fmt(lo[kq], unit), fmt(hi[kq], unit))
}
/^BENCH vmm=/ {
	delete f
	for (i = 2; i <= NF; i++) {
		split($i, kv, "=")
		f[kv[1]] = kv[2]
	}
	if (f["run"] !~ /^[0-9]+$/ || f["run"] == 0)
		next
	if (f["status"] != 0 || f["first_ms"] < 0) {
		bad[f["case"] SUBSEP f["vmm"]]++
		next
	}
	seen[f["case"]] = 1
	add(f["case"] SUBSEP f["vmm"] SUBSEP "first", f["first_ms"])
	add(f["case"] SUBSEP f["vmm"] SUBSEP "exit", f["exit_ms"])
	add(f["case"] SUBSEP f["vmm"] SUBSEP "rss", f["maxrss_kb"])
	if ("guest_end_ms" in f) {
		add(f["case"] SUBSEP f["vmm"] SUBSEP "guest", f["guest_end_ms"])
		add(f["case"] SUBSEP f["vmm"] SUBSEP "outside", f["exit_ms"] - f["guest_end_ms"])
	}
}
END {
	if ("tiny" in seen || ("tiny" SUBSEP "microvm") in bad || ("tiny" SUBSEP "qemu") in bad) {
		row("tiny", "first-line", "first", "ms", 0.20)
		row("tiny", "peak-rss", "rss", "kb", 0.15)
		row("tiny", "exit", "exit", "ms", "")
	}
	if ("linux" in seen || ("linux" SUBSEP "microvm") in bad || ("linux" SUBSEP "qemu") in bad) {
		row("linux", "first-line", "first", "ms", 0.80)
		row("linux", "exit", "exit", "ms", 0.80)
		row("linux", "peak-rss", "rss", "kb", "")
		row("linux", "guest-clock", "guest", "ms", "")
		row("linux", "non-guest", "outside", "ms", "")
	}
	printf "medians over the measured runs (of %d per VMM and case; the warm-up run 0 is dropped):\n%s", n, detail
	for (k in bad) {
		split(k, p, SUBSEP)
		printf "  %s %s: %d failed run(s) left out (see the BENCH lines)\n", p[1], p[2], bad[k]
	}
}' "$results" | tee "$summary"

stamp=$(date +%Y%m%d-%H%M%S)
cp "$results" "$out/results-$stamp.txt"
cp "$summary" "$out/summary-$stamp.txt"
echo "bench: L1 took ${secs} s; raw lines in $results (copy: $out/results-$stamp.txt)" >&2
grep -q '^BENCH vmm=' "$results"
