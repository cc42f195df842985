#!/bin/bash
# tests/bench/run-bench.sh - `make bench`: microvm against QEMU's -M microvm
# machine, both on the real /dev/kvm of the nested harness's L1 (this host has
# none), in one L1 boot (more only if L1 freezes), runs interleaved.  Prints,
# per case and metric, the
# median of each VMM and the ratio microvm/QEMU with its target:
#   tiny  first-line  exec to hello-pvh.elf's first serial line  (<= 0.20)
#   tiny  peak-rss    peak RSS of the VMM process                (<= 0.15)
#   linux first-line  exec to the L2 /init's first line          (<= 0.80)
#   linux exit        exec to process exit after ACPI poweroff   (<= 0.80)
#   pci   first-line, exit: the same Linux boot with the disk and rng on
#         virtio-pci (MSI-X), against QEMU's microvm with pcie=on  (<= 0.80)
#   storage  fio in the guest on virtio-blk (PCI): 4 KiB random read and
#         write IOPS (ratio >= 1.2) and 1 MiB sequential read and write
#         throughput (>= 1.0); here the ratio is microvm/QEMU, higher is better
#   net   iperf3 TCP guest -> L1 and L1 -> guest through a tap, QEMU with
#         vhost=off (>= 1.0, higher is better)
#   vsock 64 MiB guest -> host; QEMU's vhost-vsock-pci  (>= 1.0)
# plus untargeted lines: tiny exit, linux peak-rss, linux guest-uptime (the
# guest's /proc/uptime at its last line) and linux non-guest (exit minus that:
# VMM and firmware set-up, kernel decompression, poweroff and teardown; the
# guest's uptime lags real time when nested, so compare these two between the
# VMMs only).  MISSED
# marks a missed target; the exit status is still 0 (a benchmark, not a test),
# 1 only when no measurement came back.  Absolute numbers are nested-virtualisation
# numbers (L1 runs under QEMU TCG): only the ratios mean something.
#
# Usage: tests/bench/run-bench.sh [-v]      (-v: copy L1's console to stderr)
#        tests/bench/run-bench.sh --summary [RESULTS]   (the table again, from
#        build/bench/results.txt or RESULTS, with BENCH_N as the run count)
# Environment: BENCH_N (runs per VMM and case, default 10), BENCH_CASES
# (tiny,linux,pci; add diag for time-stamped verbose runs of each VMM, in the log
# as "DIAG ..." lines, see README.md), BENCH_NO_BUILD=1 (skip `make microvm
# guests images`),
# L1_TIMEOUT (seconds per L1 boot), BENCH_STALL_S (kill a silent L1 after
# this long, default 120), BENCH_BOOTS (L1 boots to complete the runs after
# such a kill, default 3), MAKE, IMAGES_DIR.
# Raw data in build/bench/: l1-console.log (every boot's console; also
# l1-console-<boot>.log), results.txt (the BENCH lines kept),
# summary.txt, and a time-stamped copy of results and summary per run.
set -eu
cd "$(dirname "$0")/../.."

# summarise RESULTS - the table: medians over the measured runs (run > 0)
# that exited 0 and saw their marker.
summarise()
{
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
	if (unit == "ms")
		return sprintf("%.1f ms", v)
	if (unit == "iops")
		return sprintf("%d IOPS", v)
	if (unit == "kbps")
		return sprintf("%.1f MiB/s", v / 1024)
	if (unit == "kbit")
		return sprintf("%.0f Mbit/s", v / 1000)
	return sprintf("%d KiB", v)
}
# row CASE LABEL METRIC UNIT TARGET: TARGET is an upper bound on the ratio,
# or ">=X" for a lower bound (throughput: higher is better).
function row(c, label, metric, unit, target,    km, kq, m, q, r, verdict, lower) {
	km = c SUBSEP "microvm" SUBSEP metric
	kq = c SUBSEP "qemu" SUBSEP metric
	if (!cnt[km] || !cnt[kq]) {
		printf "%-5s %-12s no valid runs (microvm %d, qemu %d)%s\n", c, label, cnt[km],
			cnt[kq], target != "" ? "  MISSED" : ""
		return
	}
	m = median(km)
	q = median(kq)
	r = q > 0 ? m / q : 0
	lower = target ~ /^>=/
	if (lower)
		target = substr(target, 3)
	if (target == "")
		verdict = "(no target)"
	else if (lower)
		verdict = sprintf("(target >= %.2f)%s", target, r >= target ? "" : "  MISSED")
	else
		verdict = sprintf("(target <= %.2f)%s", target, r <= target ? "" : "  MISSED")
	printf "%-5s %-12s microvm %-11s qemu %-11s ratio %.2f %s\n", c, label, fmt(m, unit),
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
	for (k in f)
		if (k ~ /_(iops|kbps|kbit)$/)
			add(f["case"] SUBSEP f["vmm"] SUBSEP k, f[k])
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
		row("linux", "guest-uptime", "guest", "ms", "")
		row("linux", "non-guest", "outside", "ms", "")
	}
	if ("pci" in seen || ("pci" SUBSEP "microvm") in bad || ("pci" SUBSEP "qemu") in bad) {
		row("pci", "first-line", "first", "ms", 0.80)
		row("pci", "exit", "exit", "ms", 0.80)
		row("pci", "peak-rss", "rss", "kb", "")
		row("pci", "guest-uptime", "guest", "ms", "")
		row("pci", "non-guest", "outside", "ms", "")
	}
	if ("storage" in seen || ("storage" SUBSEP "microvm") in bad ||
	    ("storage" SUBSEP "qemu") in bad) {
		row("storage", "4k-randread", "rr_iops", "iops", ">=1.2")
		row("storage", "4k-randwrite", "rw_iops", "iops", ">=1.2")
		row("storage", "1m-seqread", "sr_kbps", "kbps", ">=1.0")
		row("storage", "1m-seqwrite", "sw_kbps", "kbps", ">=1.0")
		row("storage", "peak-rss", "rss", "kb", "")
	}
	if ("net" in seen || ("net" SUBSEP "microvm") in bad || ("net" SUBSEP "qemu") in bad) {
		row("net", "tcp-guest-to-l1", "tx_kbit", "kbit", ">=1.0")
		row("net", "tcp-l1-to-guest", "rx_kbit", "kbit", ">=1.0")
		row("net", "peak-rss", "rss", "kb", "")
	}
	if ("vsock" in seen || ("vsock" SUBSEP "microvm") in bad || ("vsock" SUBSEP "qemu") in bad) {
		row("vsock", "guest-to-host", "tx_kbit", "kbit", ">=1.0")
		row("vsock", "peak-rss", "rss", "kb", "")
	}
	printf "medians over the measured runs (of %d per VMM and case; the warm-up run 0 is dropped):\n%s", n, detail
	for (k in bad) {
		split(k, p, SUBSEP)
		printf "  %s %s: %d failed run(s) left out (see the BENCH lines)\n", p[1], p[2], bad[k]
	}
}' "$1"
}

verbose=0
n=${BENCH_N:-10}
case ${1-} in
-v) verbose=1 ;;
--summary)
	summarise "${2:-build/bench/results.txt}"
	exit
	;;
esac
cases=${BENCH_CASES:-tiny,linux,pci}
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

# boot_l1 FROM - one L1 boot that runs the bench from run index FROM (L1's
# command line carries it; run 0, the warm-up pair, always comes first).  Its
# console goes to $out/l1-console-$boot.log.  L1 under TCG with nested SVM
# sometimes freezes as a whole (seen ~1 in 50 VMM runs here: no output, not
# even the in-L1 watchdog's line a minute); silence for $stall_s s kills it.
boot_l1()
{
	local from=$1 blog=$out/l1-console-$boot.log
	# Four runs per index (two VMMs, two cases) plus the warm-up pair; a nested
	# Linux boot takes ~3 s, QEMU's start ~1 s more.
	# The storage case runs four 5 s fio jobs per boot: allow more for it.
	local timeout_s=${L1_TIMEOUT:-$((300 + (n - from + 2) * 60 * ncases))}

	rm -f "$out/l1.pid"
	echo "bench: booting L1 ($(cat "$l1k/version")), runs $from..$n, console in $blog" >&2
	# --foreground keeps QEMU in this process group: a ^C or a kill of the
	# group stops L1 too.
	set +e
	timeout --foreground "$timeout_s" qemu-system-x86_64 -accel tcg,thread=multi -cpu EPYC \
		-smp 2 -m 3G -nographic -no-reboot -kernel "$l1k/vmlinuz" -initrd "$out/l1.cpio" \
		-pidfile "$out/l1.pid" -append "console=ttyS0 panic=-1 quiet mvbench_from=$from" \
		</dev/null 2>&1 | tee "$blog" | {
		while :; do
			IFS= read -r -t "$stall_s" line
			rc=$?
			if [ $rc -gt 128 ]; then
				echo "bench: L1 silent for $stall_s s, killing it" >&2
				kill "$(cat "$out/l1.pid" 2>/dev/null)" 2>/dev/null
				break
			fi
			[ $rc = 0 ] || break
			line=${line%$'\r'}
			case $line in
			BENCH* | "  "*) printf '%s\n' "$line" >&2 ;;
			*) [ $verbose = 0 ] || printf '%s\n' "$line" >&2 ;;
			esac
		done
	}
	qemu_rc=${PIPESTATUS[0]}
	set -e
	cat "$blog" >>"$log"
}

stall_s=${BENCH_STALL_S:-120}
max_boots=${BENCH_BOOTS:-3}
ncases=$(echo "$cases" | tr ',' '\n' | grep -cx 'tiny\|linux\|pci\|storage\|net\|vsock' || true)
: >"$log"
: >"$results"
rm -f "$out"/l1-console-*.log
t0=$EPOCHREALTIME
from=1
boot=0
while :; do
	boot=$((boot + 1))
	boot_l1 $from
	# Keep the runs of every index this boot completed (all VMMs and cases);
	# the next boot redoes the first incomplete index, so runs stay paired.
	tr -d '\r' <"$out/l1-console-$boot.log" | grep '^BENCH vmm=' >"$out/boot.txt" || true
	next=$from
	while [ "$next" -le "$n" ] &&
		[ "$(grep -c " run=$next " "$out/boot.txt" || true)" -ge $((2 * ncases)) ]; do
		next=$((next + 1))
	done
	awk -v next_run="$next" '{ r = $4; sub("run=", "", r); if (r + 0 < next_run) print }' \
		"$out/boot.txt" >>"$results"
	grep -q '^L1-DONE' "$out/l1-console-$boot.log" ||
		echo "bench: L1 boot $boot did not finish (qemu rc=$qemu_rc)" >&2
	from=$next
	if [ "$from" -gt "$n" ] || [ "$boot" -ge "$max_boots" ]; then
		break
	fi
done
rm -f "$out/boot.txt"
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
[ "$from" -gt "$n" ] ||
	echo "bench: runs $from..$n missing after $boot L1 boots; the summary covers the rest" >&2

summarise "$results" | tee "$summary"

stamp=$(date +%Y%m%d-%H%M%S)
cp "$results" "$out/results-$stamp.txt"
cp "$summary" "$out/summary-$stamp.txt"
echo "bench: $boot L1 boot(s), ${secs} s; raw lines in $results (copy: $out/results-$stamp.txt)" >&2
grep -q '^BENCH vmm=' "$results"
