#!/bin/bash
# tests/integration/run-nested.sh - run the integration tests in the nested
# harness: QEMU TCG emulates an AMD CPU with SVM, the L1 Debian kernel inside
# gets a real /dev/kvm, and microvm boots its guests in L1 (see images/ and
# tests/integration/l1-tests.sh).  Works where the host has no usable KVM.
#
# Usage: tests/integration/run-nested.sh [-v] [PATH/TO/microvm] [CASE-GLOB...]
#   microvm: an argument with a '/' in it, else $MICROVM, else ./microvm
#   CASE-GLOB: select cases by name (linux-1cpu, 'linux-*', errors, tiny-smp...)
#   -v: also copy L1's whole console to stderr as it arrives
# Environment: MICROVM, L1_TIMEOUT (seconds, default 900), IMAGES_DIR.
# Prints every RESULT line, then "N passed, N failed".  Exit status 1 when a
# check failed, none ran, or L1 did not finish.  The console log is kept in
# build/integration/l1-console.log.
set -eu
cd "$(dirname "$0")/../.."

verbose=0
mv_bin=${MICROVM:-./microvm}
cases=()
for a in "$@"; do
	case $a in
	-v) verbose=1 ;;
	-h | --help)
		sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*/*) mv_bin=$a ;;
	*) cases+=("$a") ;;
	esac
done
# MICROVM=none boots L1 without a binary: a check of the harness itself.
if [ "$mv_bin" != none ] && [ ! -x "$mv_bin" ]; then
	echo "run-nested: microvm binary '$mv_bin' not found (run make first)" >&2
	exit 1
fi

out=build/integration
mkdir -p "$out"
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

images/l1-initramfs.sh "$out/l1.cpio" "$mv_bin" "${l1_cases[@]}" >/dev/null

echo "run-nested: booting L1 ($(cat "$l1k/version")), console in $log" >&2
t0=$EPOCHREALTIME
# Stream the console: keep a log, print RESULT lines as they come and note
# when L1 reached /init and finished (host wall clock).
set +e
timeout "${L1_TIMEOUT:-900}" qemu-system-x86_64 -accel tcg,thread=multi -cpu EPYC -smp 2 -m 3G \
	-nographic -no-reboot -kernel "$l1k/vmlinuz" -initrd "$out/l1.cpio" \
	-append "console=ttyS0 panic=-1 quiet" </dev/null 2>&1 | tee "$log" | {
	while IFS= read -r line; do
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
}
qemu_rc=${PIPESTATUS[0]}
set -e

if ! grep -q '^L1-DONE' "$log"; then
	report l1-finished FAIL "L1 did not finish (qemu rc=$qemu_rc); see $log"
fi
summary
