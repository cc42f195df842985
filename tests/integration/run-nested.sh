#!/bin/bash
# tests/integration/run-nested.sh - run the integration tests in the nested
# harness: QEMU TCG emulates an AMD CPU with SVM, the L1 Debian kernel inside
# gets a real /dev/kvm, and microvm boots its guests in L1 (see images/ and
# tests/integration/l1-tests.sh).  Works where the host has no usable KVM.
#
# Usage: tests/integration/run-nested.sh [-v] [-r N] [PATH/TO/microvm] [CASE-GLOB...]
#   microvm: an argument with a '/' in it, else $MICROVM, else ./microvm
#   CASE-GLOB: select cases by name (linux-1cpu, 'linux-*', errors, tiny-smp...)
#   -v: also copy L1's whole console to stderr as it arrives
#   -r N: run the selected cases N times in one L1 boot (flakiness hunting)
# Environment: MICROVM, IMAGES_DIR, L1_TIMEOUT (s, default 900), L1_STALL
# (s without a new RESULT line that count as a hang, default 150: above
# l1-tests.sh's 120 s per-VM timeout), L1_RETRIES (L1 boots again after a
# freeze, default 3), L1_ACCEL (QEMU -accel for L1, default tcg,thread=multi).
# Prints every RESULT line, then "N passed, N failed".  Exit status 1 when a
# check failed, none ran, or L1 did not finish.  The console log is kept in
# build/integration/l1-console.log.
set -eu
cd "$(dirname "$0")/../.."

verbose=0
repeat=1
mv_bin=${MICROVM:-./microvm}
cases=()
while [ $# -gt 0 ]; do
	case $1 in
	-v) verbose=1 ;;
	-r)
		repeat=${2:?-r needs a count}
		shift
		;;
	-h | --help)
		sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*/*) mv_bin=$1 ;;
	*) cases+=("$1") ;;
	esac
	shift
done
# MICROVM=none boots L1 without a binary: a check of the harness itself.
if [ "$mv_bin" != none ] && [ ! -x "$mv_bin" ]; then
	echo "run-nested: microvm binary '$mv_bin' not found (run make first)" >&2
	exit 1
fi

out=build/integration
mkdir -p "$out"
# One run at a time per work tree: they share the log and the L1 image.
exec 8>"$out/.lock"
flock -n 8 || { echo "run-nested: waiting for another run in this tree" >&2; flock 8; }
log=$out/l1-console.log
results=$out/results.txt
: >"$results"

selected()
{
	local p
	[ ${#cases[@]} -eq 0 ] && return 0
	for p in "${cases[@]}"; do
		# shellcheck disable=SC2053 # glob match on purpose
		[[ $1 == $p ]] && return 0
	done
	return 1
}

elapsed()
{
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

report()
{
	echo "RESULT $*" | tee -a "$results"
}

# stall_watch PID - stop QEMU when no RESULT line came for L1_STALL seconds:
# every case in L1 has its own timeout and reports within ~140 s, so a longer
# pause means L1 itself hung (its kernel may still print lockup warnings); no
# need to wait for the global timeout.
stall_watch()
{
	local size=-1 now last=$SECONDS
	while kill -0 "$1" 2>/dev/null; do
		sleep 5
		now=$(stat -c %s "$results" 2>/dev/null || echo 0)
		if [ "$now" != "$size" ]; then
			size=$now
			last=$SECONDS
		elif [ $((SECONDS - last)) -ge "${L1_STALL:-150}" ]; then
			touch "$out/stalled"
			kill "$1"
			return
		fi
	done
}

# summary - the closing line and exit status; SKIP counts as neither.
summary()
{
	local passed failed
	passed=$(grep -c '^RESULT [^ ]* PASS' "$results" || true)
	failed=$(grep -c '^RESULT [^ ]* FAIL' "$results" || true)
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
	exit
}

# The L1 cases only: the host-side name is not known inside.
l1_cases=()
for c in "${cases[@]}"; do
	[ "$c" = host-no-kvm ] || l1_cases+=("$c")
done

l1k=$(images/l1-kernel.sh)
l2k=$(images/l2-kernel.sh)

# Host side: without /dev/kvm microvm must fail cleanly.  Where the host has
# one, l1-tests.sh covers this by hiding L1's /dev/kvm instead.
if selected host-no-kvm; then
	if [ "$mv_bin" = none ]; then
		report host-no-kvm SKIP "no microvm binary"
	elif [ -e /dev/kvm ]; then
		report host-no-kvm SKIP "host has /dev/kvm"
	else
		set +e
		err=$(timeout -s KILL 20 "$mv_bin" --kernel "$l2k/bzImage" 2>&1 >/dev/null </dev/null)
		rc=$?
		set -e
		if [ $rc -eq 1 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] &&
			[[ $err == *kvm* ]]; then
			report host-no-kvm PASS "$err"
		else
			report host-no-kvm FAIL "rc=$rc stderr: $(printf '%s' "$err" | head -n3 | tr '\n' '|')"
		fi
	fi
fi

if [ ${#cases[@]} -gt 0 ] && [ ${#l1_cases[@]} -eq 0 ]; then
	summary
fi

# boot_l1 CASE... - pack L1 with the binary and these cases, boot it, stream its RESULT lines.
# Sets l1_ok when L1 ran its list to the end.
boot_l1()
{
	MVREPEAT=$repeat images/l1-initramfs.sh "$out/l1.cpio" "$mv_bin" "$@" >/dev/null

	echo "run-nested: booting L1 ($(cat "$l1k/version")), console in $log" >&2
	rm -f "$out/stalled"
	# Empty the log here, not in QEMU's redirection below: that one runs in the
	# background job, and tail could read the previous boot's console first.
	: >"$log"
	t0=$EPOCHREALTIME
	set +e
	timeout "${L1_TIMEOUT:-900}" qemu-system-x86_64 -accel "${L1_ACCEL:-tcg,thread=multi}" -cpu EPYC -smp 2 -m 3G \
		-nographic -no-reboot -kernel "$l1k/vmlinuz" -initrd "$out/l1.cpio" \
		-append "console=ttyS0 panic=-1 quiet" </dev/null >"$log" 2>&1 &
	qpid=$!
	stall_watch "$qpid" &
	# Follow the console: print RESULT lines as they come and note when L1
	# reached /init and finished (host wall clock).
	tail -n +1 -f --pid="$qpid" "$log" | while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		"RESULT "*) printf '%s\n' "$line" | tee -a "$results" ;;
		# l1-tests.sh indents what a failed case printed: always show it.
		"  "*) printf '%s\n' "$line" >&2 ;;
		*) [ $verbose = 0 ] || printf '%s\n' "$line" >&2 ;;
		esac
		# SeaBIOS's screen-clearing escapes may precede the first line.
		case $line in
		*L1-INIT*) echo "run-nested: L1 /init after $(elapsed "$t0") s" >&2 ;;
		L1-DONE*) echo "run-nested: L1 done after $(elapsed "$t0") s" >&2 ;;
		esac
	done
	wait "$qpid"
	qemu_rc=$?
	set -e

	l1_ok=1
	if [ -e "$out/stalled" ] || ! grep -q '^L1-DONE' "$log"; then
		l1_ok=0
	fi
	# A failed run's console is worth keeping: the next run overwrites the log.
	if grep -q '^RESULT [^ ]* FAIL' "$results" || [ $l1_ok = 0 ]; then
		keep=$out/l1-console-failed-$(date +%Y%m%d-%H%M%S).log
		cp "$log" "$keep"
		echo "run-nested: console of this failed run kept in $keep" >&2
	fi
}

# unfinished_cases - the selected L1 cases that have no summary line yet, in list order.
unfinished_cases()
{
	local all c p
	all=$(sed -n '/^ALL_CASES="/,/"$/p' tests/integration/l1-tests.sh | tr -d '"' |
		sed 's/^ALL_CASES=//')
	for c in $all; do
		grep -q "^RESULT $c \(PASS\|FAIL\|SKIP\)" "$results" && continue
		if [ ${#l1_cases[@]} -eq 0 ]; then
			echo "$c"
			continue
		fi
		for p in "${l1_cases[@]}"; do
			# shellcheck disable=SC2053 # glob match on purpose
			[[ $c == $p ]] && echo "$c" && break
		done
	done
}

# The emulated nested set-up itself sometimes freezes L1 (no output at all, under either
# VMM; see tests/bench/README.md). That says nothing about microvm, so a frozen L1 is booted
# again for the cases it did not finish, at most L1_RETRIES times; each restart is reported.
todo=("${l1_cases[@]}")
attempt=0
while :; do
	boot_l1 "${todo[@]}"
	[ $l1_ok = 1 ] && break
	attempt=$((attempt + 1))
	mapfile -t todo < <(unfinished_cases)
	[ ${#todo[@]} -gt 0 ] || break
	if [ "$repeat" != 1 ] || [ $attempt -gt "${L1_RETRIES:-3}" ]; then
		if [ -e "$out/stalled" ]; then
			report l1-finished FAIL "no result for ${L1_STALL:-150} s, L1 killed; see $log"
		else
			report l1-finished FAIL "L1 did not finish (qemu rc=$qemu_rc); see $log"
		fi
		break
	fi
	# The interrupted case starts over: drop its partial checks (and L1's own, which the
	# next boot reports again).
	sed -i '/^RESULT l1-/d' "$results"
	for c in "${todo[@]}"; do
		sed -i "/^RESULT $c:/d" "$results"
	done
	echo "run-nested: L1 froze or did not finish; booting it again for: ${todo[*]}" >&2
done
summary
