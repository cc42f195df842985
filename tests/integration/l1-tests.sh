#!/bin/sh
# tests/integration/l1-tests.sh - the integration test list, run by /init of
# the L1 guest (busybox sh) where /dev/kvm works.  Each case runs microvm under
# a hard timeout and prints one line per check, plus one summary line per case:
#     RESULT <case>[:<check>] PASS|FAIL|SKIP [detail]
# The host side (run-nested.sh) collects these lines from L1's console.
#
# Usage: l1-tests.sh [CASE-PATTERN...]   (shell globs; default: every case)
# Files (put there by images/l1-initramfs.sh):
#   /opt/mv/microvm              binary under test
#   /opt/mv/l2/{bzImage,vmlinux,initramfs.cpio.gz}   L2 Linux guest
#   /opt/mv/guests/*             tiny test guests (optional)

MV=/opt/mv/microvm
L2=/opt/mv/l2
GUESTS=/opt/mv/guests
W=/tmp/mvt
# What microvm would append by default, written out because the tests pass
# their own --cmdline (reboot=k: i8042 reset; panic=1: a panic not reported
# through pvpanic becomes a reset, which the panic test then catches).
BASE_CMDLINE="console=ttyS0 reboot=k panic=1 quiet"
DISK_MB=4
VM_TIMEOUT=${VM_TIMEOUT:-120}

ALL_CASES="linux-1cpu linux-2cpu linux-pvh linux-virtio-console linux-poweroff
	linux-sigterm linux-panic linux-pci-mixed linux-mmio-mixed linux-pci-intx
	linux-split linux-storage linux-storage-mmio linux-net linux-net-mmio seccomp-sigsys api errors
	tiny-hello-pvh tiny-hello-bzimage
	tiny-triple-fault tiny-smp tiny-smp-cmdline tiny-virtio-poll tiny-virtio-poll-ro"

mkdir -p $W

# result NAME VERDICT [DETAIL]
result()
{
	echo "RESULT $1 $2${3:+ $3}"
}

uptime_cs()
{
	awk '{ sub("\\.", "", $1); print $1 + 0 }' /proc/uptime
}

# Show the end of a failed run's output; the prefix keeps these lines out of
# the host's RESULT count.
show_tail()
{
	for f in "$W/$1.out" "$W/$1.err"; do
		[ -s "$f" ] || continue
		echo "  --- $1 ${f##*.} (last lines)"
		tail -n 15 "$f" | tr -d '\r' | sed 's/^/  | /'
	done
}

# vm NAME TIMEOUT ARGS... - run microvm; sets RC, SECS (wall seconds, 0.01 s
# resolution) and leaves stdout/stderr in $W/NAME.out/.err, CRs stripped.
# SIGKILL on timeout: microvm may exit 0 on SIGTERM, which would look like
# a clean guest reset.
vm()
{
	n=$1
	t=$2
	shift 2
	t0=$(uptime_cs)
	# busybox timeout execs the program, so $! is microvm itself.
	timeout -s KILL "$t" "$MV" "$@" </dev/null >"$W/$n.raw" 2>"$W/$n.err" &
	pid=$!
	STUCK=
	stuck_watch "$n" "$pid" $((t + 15)) &
	wpid=$!
	wait "$pid"
	RC=$?
	[ -z "$STUCK" ] || RC=stuck
	kill "$wpid" 2>/dev/null
	t1=$(uptime_cs)
	SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 100 }')
	tr -d '\r' <"$W/$n.raw" >"$W/$n.out"
	rm -f "$W/$n.raw"
}

# stuck_watch NAME PID SECS - a microvm still there SECS seconds after its
# start outlived SIGKILL: stuck in the L1 kernel (KVM).  Dump where its threads
# are, so the hang is diagnosable from the host's log, then interrupt the
# test shell's wait (USR1) so the remaining cases still run.
trap 'STUCK=1' USR1
stuck_watch()
{
	sleep "$3"
	[ -d /proc/"$2" ] || exit 0
	echo "  !!! $1: microvm (pid $2) survived SIGKILL; kernel stacks:"
	for tdir in /proc/"$2"/task/*; do
		echo "  --- $(cat "$tdir/comm" 2>/dev/null) state $(awk '{ print $3 }' "$tdir/stat")"
		sed 's/^/  | /' "$tdir/stack" 2>/dev/null
	done
	# A thread spinning in the kernel has no /proc stack: ask every CPU for
	# a backtrace, and show the kernel's own lockup reports.
	{ echo l >/proc/sysrq-trigger; } 2>/dev/null
	sleep 2
	dmesg | grep -v -e '^\[ *[0-9.]*\] *? ' | tail -n 80 | sed 's/^/  | /'
	kill -USR1 $$
}

# Per-case bookkeeping: check NAME PASS|FAIL DETAIL records a sub-result.
case_begin()
{
	CASE=$1
	FAILS=
	CASE_T0=$(uptime_cs)
}

check()
{
	result "$CASE:$1" "$2" "$3"
	[ "$2" = FAIL ] && FAILS="$FAILS $1"
	return 0
}

case_end()
{
	t=$(awk -v a="$CASE_T0" -v b="$(uptime_cs)" 'BEGIN { printf "%.1f", (b - a) / 100 }')
	if [ -z "$FAILS" ]; then
		result "$CASE" PASS "t=${t}s"
	else
		result "$CASE" FAIL "failed:$FAILS t=${t}s"
		show_tail "$CASE"
	fi
}

check_rc()
{
	want=$1
	if [ "$RC" = stuck ]; then
		check exit FAIL "microvm survived SIGKILL: stuck in L1's KVM (stacks above)"
	elif [ "$RC" = 137 ]; then
		check exit FAIL "killed after ${SECS}s timeout"
	elif [ "$RC" = "$want" ]; then
		check exit PASS "rc=$RC"
	else
		check exit FAIL "rc=$RC want $want: $(head -n1 "$W/$CASE.err")"
	fi
}

# stderr_reason WORD - the contract's one-line reason: stderr is exactly one
# line and it mentions WORD (any case).
stderr_reason()
{
	lines=$(wc -l <"$W/$CASE.err")
	if [ "$lines" = 1 ] && grep -qi "$1" "$W/$CASE.err"; then
		check stderr PASS "$(cat "$W/$CASE.err")"
	else
		check stderr FAIL "want one line mentioning $1, got $lines: $(head -n1 "$W/$CASE.err")"
	fi
}

# Copy the guest's own RESULT lines through, prefixed with the case, and fail
# every expected check the guest never reported (it crashed or hung).
guest_results()
{
	grep '^RESULT ' "$W/$CASE.out" | while read -r _ name verdict detail; do
		echo "$name $verdict $detail"
	done >"$W/$CASE.res"
	while read -r name verdict detail; do
		check "$name" "$verdict" "$detail"
	done <"$W/$CASE.res"
	for name in "$@"; do
		grep -q "^$name " "$W/$CASE.res" || check "$name" FAIL "not reported by guest"
	done
}

# guest_expect NAME... - after guest_results: each NAME must have been
# reported (a check of its own only when missing; nothing is counted twice).
guest_expect()
{
	for name in "$@"; do
		grep -q "^$name " "$W/$CASE.res" || check "$name" FAIL "not reported by guest"
	done
}

guest_detail()
{
	awk -v n="$1" '$1 == n { $1 = ""; $2 = ""; sub("^ *", ""); print }' "$W/$CASE.res"
}

new_disk()
{
	dd if=/dev/zero of="$1" bs=1M count=$DISK_MB 2>/dev/null
}

sha_1m()
{
	dd if="$1" bs=64k count=16 2>/dev/null | sha256sum | cut -d' ' -f1
}

# linux_boot NAME KERNEL CPUS [EXTRA MICROVM ARGS...] - boot the L2 guest with
# a scratch disk and virtio-rng, run the smoke checks, expect a reset.
SMOKE="cpus virtio_blk-bound blk-size blk-write blk-readback virtio_rng-bound hwrng"
linux_boot()
{
	case_begin "$1"
	kernel=$2
	cpus=$3
	shift 3
	new_disk $W/disk.img
	vm "$CASE" "$VM_TIMEOUT" --kernel "$kernel" --initrd $L2/initramfs.cpio.gz \
		--cpus "$cpus" --mem 256M --disk path=$W/disk.img "$@" --rng \
		--cmdline "$BASE_CMDLINE mvtest=smoke$MVTEST_EXTRA expect_cpus=$cpus disk_sectors=$((DISK_MB * 2048))"
	check_rc 0
	guest_results $SMOKE $EXPECT_EXTRA
	grep -q '^MVTEST END reboot' "$W/$CASE.out" && check guest-end PASS "$(grep '^MVTEST END' "$W/$CASE.out")" ||
		check guest-end FAIL "guest never reached the end of /init"
	# The guest wrote 1 MiB and printed its sha256; the image must hold it.
	want=$(guest_detail blk-readback | sed -n 's/.*sha256=\([0-9a-f]*\).*/\1/p')
	got=$(sha_1m $W/disk.img)
	[ -n "$want" ] && [ "$want" = "$got" ] && check disk-file PASS "sha256=$got" ||
		check disk-file FAIL "image sha256=$got guest=${want:-none}"
}

case_linux_1cpu()
{
	MVTEST_EXTRA=
	EXPECT_EXTRA=
	linux_boot linux-1cpu $L2/bzImage 1
	case_end
}

# Two vCPUs (INIT/SIPI through the in-kernel LAPIC, MADT) and a second,
# read-only disk that the guest must see as read-only and fail to change.
case_linux_2cpu()
{
	dd if=/dev/urandom of=$W/ro.img bs=1M count=1 2>/dev/null
	before=$(sha_1m $W/ro.img)
	MVTEST_EXTRA=,blkro
	EXPECT_EXTRA=blk-ro
	linux_boot linux-2cpu $L2/bzImage 2 \
		--disk path=$W/ro.img,ro
	[ "$(sha_1m $W/ro.img)" = "$before" ] && check ro-file PASS "unchanged" ||
		check ro-file FAIL "read-only image was modified"
	case_end
}

case_linux_pvh()
{
	MVTEST_EXTRA=
	EXPECT_EXTRA=
	linux_boot linux-pvh $L2/vmlinux 2
	case_end
}

# console=hvc0: every RESULT line travels through the virtio console, and the
# guest writes a marker straight to /dev/hvc0.  Slot 0 is the console, the
# rng follows it.
case_linux_virtio_console()
{
	case_begin linux-virtio-console
	vm "$CASE" "$VM_TIMEOUT" --kernel $L2/bzImage --initrd $L2/initramfs.cpio.gz \
		--console virtio --rng \
		--cmdline "console=hvc0 reboot=k panic=1 quiet mvtest=hvc,rng,cpus expect_cpus=1"
	check_rc 0
	guest_results virtio_console-bound hvc-write virtio_rng-bound hwrng cpus
	id=$(guest_detail hvc-write | sed -n 's/.*id=\([0-9a-f]*\).*/\1/p')
	[ -n "$id" ] && grep -q "^HVC-MARKER $id" "$W/$CASE.out" &&
		check hvc-output PASS "marker $id seen" ||
		check hvc-output FAIL "marker ${id:-?} not in microvm output"
	case_end
}

# mixed_boot NAME "MICROVM ARGS" MVTESTS EXPECTED-CHECKS - a guest with devices on
# both transports; every writable disk image must hold what the guest wrote.
mixed_boot()
{
	case_begin "$1"
	new_disk $W/d1.img
	new_disk $W/d2.img
	# shellcheck disable=SC2086 # $2 is a list of arguments
	vm "$CASE" "$VM_TIMEOUT" --kernel $L2/bzImage --initrd $L2/initramfs.cpio.gz \
		--cpus 2 --mem 256M $2 \
		--cmdline "console=hvc0 reboot=k panic=1 quiet mvtest=$3"
	check_rc 0
	shift 3
	guest_results blkall "$@"
	for img in $W/d1.img $W/d2.img; do
		got=$(sha_1m "$img")
		grep -q "^blk-.* PASS sha256=$got" "$W/$CASE.res" &&
			check "file-$(basename "$img" .img)" PASS "sha256=$got" ||
			check "file-$(basename "$img" .img)" FAIL "image sha256=$got not written by the guest"
	done
	case_end
}

# Console, one disk and the rng on PCI with MSI-X, a second disk on virtio-mmio,
# packed rings everywhere (the default).
case_linux_pci_mixed()
{
	mixed_boot linux-pci-mixed \
		"--console virtio --disk path=$W/d1.img --disk path=$W/d2.img,transport=mmio --rng" \
		"hvc,blkall,rng,pci,pcicfg,msix,packed,mmio expect_pci=1042,1043,1044 expect_packed=1 expect_mmio=1" \
		virtio_console-bound hvc-write virtio_rng-bound hwrng pci pcicfg msix packed mmio
}

# The other way round: console and rng on virtio-mmio, the disks on PCI; one
# disk on each transport offers ACCESS_PLATFORM (iommu=on), which Linux takes.
case_linux_mmio_mixed()
{
	mixed_boot linux-mmio-mixed \
		"--console virtio,transport=mmio --disk path=$W/d1.img,iommu=on --disk path=$W/d2.img --rng=transport=mmio,iommu=on" \
		"hvc,blkall,rng,pci,msix,packed,platform,mmio expect_pci=1042 expect_packed=1 expect_platform=2 expect_mmio=2" \
		virtio_console-bound hvc-write virtio_rng-bound hwrng pci msix packed platform mmio
}

# pci=nomsi: the drivers fall back to INTx# and the ISR (level line, resample).
case_linux_pci_intx()
{
	mixed_boot linux-pci-intx \
		"--console virtio --disk path=$W/d1.img --disk path=$W/d2.img --rng" \
		"hvc,blkall,rng,pci pci=nomsi expect_pci=1042,1043,1044" \
		virtio_console-bound hvc-write virtio_rng-bound hwrng pci
}

# packed=off: the split ring on both transports.
case_linux_split()
{
	mixed_boot linux-split \
		"--console virtio,packed=off --disk path=$W/d1.img,packed=off --disk path=$W/d2.img,transport=mmio,packed=off --rng=packed=off" \
		"hvc,blkall,rng,packed expect_packed=0" \
		virtio_console-bound hvc-write virtio_rng-bound hwrng packed
}

# storage_boot NAME TRANSPORT - virtio-blk (discard, serial, one queue per vCPU;
# a second disk for secure erase and write zeroes), virtio-pmem (ext2 with
# DAX) and a virtio-scsi LUN (ext2) on one transport; the markers the guest
# wrote must be in the backing files, the discarded disk's blocks freed, and
# the erased markers gone from the second disk's file.
storage_boot()
{
	case_begin "$1"
	new_disk $W/vd.img
	dd if=/dev/zero of=$W/vd2.img bs=1M count=8 2>/dev/null
	dd if=/dev/zero of=$W/pmem.img bs=1M count=32 2>/dev/null
	dd if=/dev/zero of=$W/lun0.img bs=1M count=16 2>/dev/null
	vm "$CASE" "$VM_TIMEOUT" --kernel $L2/bzImage --initrd $L2/initramfs-tools.cpio.gz \
		--cpus 2 --mem 256M --disk "path=$W/vd.img,serial=MV-SERIAL-1,transport=$2" \
		--disk "path=$W/vd2.img,transport=$2" \
		--pmem "path=$W/pmem.img,transport=$2" --scsi "path=$W/lun0.img,transport=$2" \
		--cmdline "$BASE_CMDLINE mvtest=erase,discard,pmem,scsi,mq expect_serial=MV-SERIAL-1 expect_mq=2"
	check_rc 0
	guest_results erase discard serial pmem scsi mq
	for dev in pmem scsi; do
		id=$(guest_detail "$dev" | sed -n 's/.*id=\([0-9a-f]*\).*/\1/p')
		case $dev in pmem) img=$W/pmem.img ;; *) img=$W/lun0.img ;; esac
		[ -n "$id" ] && grep -q "$dev-MARKER $id" "$img" &&
			check "$dev-file" PASS "marker $id in $(basename "$img")" ||
			check "$dev-file" FAIL "marker ${id:-?} not in $(basename "$img")"
	done
	kb=$(du -k $W/vd.img | cut -f1)
	[ "$kb" -lt 64 ] && check discard-file PASS "${kb} KiB allocated after blkdiscard" ||
		check discard-file FAIL "${kb} KiB still allocated after blkdiscard"
	# Secure erase, write zeroes and write zeroes with unmap: no trace of
	# markers 1-3 left in the file; marker 4 was not erased.
	left=$(grep -c 'ERASE-MARKER-[123]' $W/vd2.img)
	kept=$(grep -c 'ERASE-MARKER-4' $W/vd2.img)
	[ "$left" = 0 ] && [ "$kept" -gt 0 ] &&
		check erase-file PASS "erased markers gone, the kept one in $kept lines" ||
		check erase-file FAIL "$left erased-marker lines left, kept marker lines $kept"
	case_end
}

case_linux_storage()
{
	storage_boot linux-storage pci
}

case_linux_storage_mmio()
{
	storage_boot linux-storage-mmio mmio
}

# l1_net TAP - give L1's end of the tap 10.0.2.1/24 once the interface exists
# (microvm may create it after this starts); background.
l1_net()
{
	n=0
	while [ ! -e /sys/class/net/"$1" ] && [ $n -lt 600 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	ip addr add 10.0.2.1/24 dev "$1" && ip link set "$1" up
}

# net_peers SOCK - L1's side of the net and vsock checks, in the background:
# TCP sink on 5001 (the guest's upload), a 4 MiB upload to the guest's port
# 5002 once it listens, a vsock echo listener at SOCK_6000, and a 4 MiB
# round trip through SOCK (CONNECT 5000) once the guest's echo server is up.
net_peers()
{
	rm -f $W/net-in.bin $W/net-out.bin $W/v-echo.bin
	dd if=/dev/urandom of=$W/net-out.bin bs=1M count=4 2>/dev/null
	dd if=/dev/urandom of=$W/v-out.bin bs=1M count=4 2>/dev/null
	timeout 200 socat -u TCP-LISTEN:5001,reuseaddr OPEN:$W/net-in.bin,creat 2>/dev/null &
	(
		n=0
		until socat -u OPEN:$W/net-out.bin TCP:10.0.2.2:5002,connect-timeout=2 2>/dev/null; do
			n=$((n + 1))
			[ $n -lt 150 ] || exit 1
			sleep 1
		done
	) &
	[ -n "$1" ] || return 0
	timeout 200 socat UNIX-LISTEN:"$1"_6000 EXEC:cat 2>/dev/null &
	(
		n=0
		while [ $n -lt 150 ]; do
			(printf 'CONNECT 5000\n'; cat $W/v-out.bin) |
				timeout 60 socat -t 30 - UNIX-CONNECT:"$1" >$W/v-reply.bin 2>/dev/null
			head -n1 $W/v-reply.bin | grep -q '^OK ' && break
			n=$((n + 1))
			sleep 1
		done
		# the echo is everything after the "OK <port>" line
		tail -c +$(($(head -n1 $W/v-reply.bin | wc -c) + 1)) $W/v-reply.bin >$W/v-echo.bin
	) &
}

# net_boot NAME TRANSPORT NETOPTS EXPECT_Q VSOCK - virtio-net (and vsock when
# VSOCK=1) on one transport: the guest pings L1, TCP transfers both ways with
# the sha256 compared here, queue count, RSS/hash report and ring resize with
# several queues, vsock echo both ways.
net_boot()
{
	case_begin "$1"
	sock=
	vs=
	if [ "$5" = 1 ]; then
		sock=$W/v.sock
		rm -f "$sock" "$sock"_6000
		vs="--vsock cid=3,path=$sock,transport=$2"
	fi
	tap=$(echo "$3" | sed -n 's/.*tap=\([^,]*\).*/\1/p')
	[ -n "$tap" ] || tap=tap0 # the first tap the kernel names
	l1_net "$tap" &
	net_peers "$sock"
	# shellcheck disable=SC2086 # $vs is two words or none
	vm "$CASE" 300 --kernel $L2/bzImage --initrd $L2/initramfs-tools.cpio.gz \
		--cpus 2 --mem 256M --net "$3,transport=$2" $vs \
		--cmdline "$BASE_CMDLINE mvtest=net${vs:+,vsock} expect_netq=$4"
	check_rc 0
	guest_results net-ping net-tx net-rx net-queues
	sent=$(guest_detail net-tx | sed -n 's/.*sha=\([0-9a-f]*\).*/\1/p')
	got=$(sha256sum $W/net-in.bin 2>/dev/null | cut -d' ' -f1)
	[ -n "$sent" ] && [ "$sent" = "$got" ] && check net-tx-data PASS "4 MiB, sha256 matches" ||
		check net-tx-data FAIL "L1 got ${got:-nothing}, guest sent ${sent:-?}"
	recv=$(guest_detail net-rx | sed -n 's/.*sha=\([0-9a-f]*\).*/\1/p')
	want=$(sha256sum $W/net-out.bin | cut -d' ' -f1)
	[ "$recv" = "$want" ] && check net-rx-data PASS "4 MiB, sha256 matches" ||
		check net-rx-data FAIL "guest got ${recv:-nothing}, L1 sent $want"
	[ "$4" -le 1 ] || guest_expect net-rss net-resize
	if [ -n "$vs" ]; then
		guest_expect vsock-g2h vsock-h2g
		a=$(sha256sum $W/v-out.bin | cut -d' ' -f1)
		b=$(sha256sum $W/v-echo.bin 2>/dev/null | cut -d' ' -f1)
		[ "$a" = "$b" ] && check vsock-h2g-data PASS "4 MiB round trip, sha256 matches" ||
			check vsock-h2g-data FAIL "echo ${b:-missing}, sent $a"
	fi
	case_end
}

# PCI: a tap microvm creates (the kernel names it tap0), two queue pairs (one
# per vCPU), RSS; and the vsock device.
case_linux_net()
{
	net_boot linux-net pci auto 2 1
}

# virtio-mmio: a persistent tap made beforehand and opened by name, one pair.
case_linux_net_mmio()
{
	tunctl -t mvtap1 >/dev/null 2>&1
	net_boot linux-net-mmio mmio tap=mvtap1,queues=1 1 0
	tunctl -d mvtap1 >/dev/null 2>&1
}

# seccomp_devs CLASS - the microvm arguments that give CLASS's thread a reason to run: the
# device whose worker starts when the guest's driver sets DRIVER_OK, the API socket for the
# API thread; control and vcpu threads run in every VM.
seccomp_devs()
{
	case $1 in
	api) echo "--api-sock $W/sc-api.sock" ;;
	blk) echo "--disk path=$W/disk.img" ;;
	net) echo "--net auto" ;;
	vsock) echo "--vsock cid=3,path=$W/sc-v.sock" ;;
	scsi) echo "--scsi path=$W/sc-lun.img" ;;
	pmem) echo "--pmem path=$W/sc-pmem.img" ;;
	rng) echo "--rng" ;;
	console) echo "--console virtio" ;;
	esac
}

# audit_sigsys - how many seccomp kills (audit type 1326) L1's kernel has logged so far.
audit_sigsys()
{
	dmesg | grep -c 'type=1326.*sig=31'
}

# Each thread class's filter is live: with --seccomp-selftest=CLASS that class's thread makes
# a forbidden syscall right after installing its filter, and microvm dies of SIGSYS (shell
# status 128+31). Then every device at once under the default kill mode boots, runs the
# guest's checks and resets, and L1's kernel logged no seccomp kill meanwhile: the
# allow-lists cover what the code really does.
case_seccomp_sigsys()
{
	case_begin seccomp-sigsys
	new_disk $W/disk.img
	new_disk $W/sc-lun.img # a file backs one drive or one LUN, not both
	rm -f $W/sc-pmem.img
	truncate -s 2M $W/sc-pmem.img
	for cls in control api vcpu blk net vsock scsi pmem rng console; do
		rm -f $W/sc-api.sock $W/sc-v.sock
		# shellcheck disable=SC2046 # seccomp_devs gives whole arguments, split on purpose
		vm "$CASE" 60 --kernel $L2/bzImage --initrd $L2/initramfs.cpio.gz \
			--mem 256M $(seccomp_devs $cls) --seccomp-selftest=$cls \
			--cmdline "$BASE_CMDLINE mvtest=cpus expect_cpus=1"
		if [ "$RC" = 159 ]; then
			check "$cls" PASS "SIGSYS after ${SECS}s"
		else
			check "$cls" FAIL "rc=$RC, want 159 (SIGSYS): $(head -n1 "$W/$CASE.err")"
		fi
	done
	before=$(audit_sigsys)
	rm -f $W/sc-api.sock $W/sc-v.sock
	# info: blk says so if its restricted io_uring was refused (synchronous fallback)
	export MICROVM_LOG=info
	vm "$CASE" "$VM_TIMEOUT" --kernel $L2/bzImage --initrd $L2/initramfs.cpio.gz \
		--cpus 2 --mem 256M --seccomp=kill --api-sock $W/sc-api.sock \
		--disk path=$W/disk.img --scsi path=$W/sc-lun.img,ro --pmem path=$W/sc-pmem.img \
		--net auto --vsock cid=3,path=$W/sc-v.sock --rng --console virtio \
		--cmdline "$BASE_CMDLINE mvtest=smoke expect_cpus=2 disk_sectors=$((DISK_MB * 2048))"
	unset MICROVM_LOG
	check_rc 0
	grep -q '^MVTEST END reboot' "$W/$CASE.out" && check guest-end PASS ||
		check guest-end FAIL "guest never reached the end of /init"
	if grep -q 'io_uring unavailable' "$W/$CASE.err"; then
		check blk-uring-restricted FAIL "$(grep -m1 'io_uring unavailable' "$W/$CASE.err")"
	else
		check blk-uring-restricted PASS "R_DISABLED ring restricted and enabled"
	fi
	after=$(audit_sigsys)
	if [ "$after" = "$before" ]; then
		check no-sigsys PASS "kill mode, every device class"
	else
		check no-sigsys FAIL "$((after - before)) seccomp kill(s): $(dmesg | grep 'type=1326.*sig=31' |
			tail -n 3 | sed -n 's/.*\(syscall=[0-9]*\).*/\1/p' | tr '\n' ' ')"
	fi
	case_end
}

# The REST API on a running Linux guest (tests/api, --running mode): boot through the API,
# swap a drive's backing file and change rate limiters while it runs, pause and resume,
# FlushMetrics, pre-boot resources refused, GET /vm/config fed back through --config, and
# SendCtrlAltDel last (the guest's i8042 driver reads the whole key sequence).
# The suite prints one "ok"/"FAIL" line per check and "N passed, N failed".
case_api()
{
	case_begin api
	if [ ! -x /opt/mv/api_suite ]; then
		check suite FAIL "/opt/mv/api_suite missing (make api-suite before the nested run)"
		case_end
		return
	fi
	t0=$(uptime_cs)
	mkdir -p $W/api
	API_SUITE_TIMEOUT=$VM_TIMEOUT timeout -s KILL $((VM_TIMEOUT * 3)) /opt/mv/api_suite \
		--running --microvm "$MV" --kernel $L2/bzImage --initrd $L2/initramfs.cpio.gz \
		--cmdline "$BASE_CMDLINE mvtest=cpus,kbd expect_cpus=2 mvend=none" \
		>"$W/$CASE.out" 2>"$W/$CASE.err" </dev/null
	RC=$?
	SECS=$(awk -v a="$t0" -v b="$(uptime_cs)" 'BEGIN { printf "%.1f", (b - a) / 100 }')
	sed -n 's/^FAIL \(.*\)/\1/p' "$W/$CASE.out" | head -n 20 | while read -r line; do
		echo "  api: FAIL $line"
	done
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$W/$CASE.out" | tail -n 1)
	if [ "$RC" = 0 ] && [ -n "$summary" ] && echo "$summary" | grep -q ' 0 failed'; then
		check suite PASS "$summary in ${SECS}s"
	else
		check suite FAIL "rc=$RC ${summary:-no summary}"
	fi
	case_end
}

case_linux_poweroff()
{
	case_begin linux-poweroff
	vm "$CASE" "$VM_TIMEOUT" --kernel $L2/bzImage --initrd $L2/initramfs.cpio.gz \
		--cmdline "$BASE_CMDLINE mvtest=cpus expect_cpus=1 mvend=poweroff"
	check_rc 0
	guest_results cpus
	grep -q '^MVTEST END poweroff' "$W/$CASE.out" && check guest-end PASS ||
		check guest-end FAIL "guest never reached poweroff"
	case_end
}

# The guest panics (sysrq c); pvpanic must turn that into exit status 1 and a
# one-line reason.  panic=1 in the cmdline: without pvpanic the guest would
# reboot and microvm would wrongly exit 0.
# SIGTERM stops a running guest cleanly: exit status 0, within seconds.
case_linux_sigterm()
{
	case_begin linux-sigterm
	# The wait below reads this file: no stale copy from an earlier round (-r N).
	rm -f "$W/$CASE.out"
	"$MV" --kernel $L2/bzImage --initrd $L2/initramfs.cpio.gz \
		--cmdline "$BASE_CMDLINE mvtest=cpus expect_cpus=1 mvend=none" \
		</dev/null >"$W/$CASE.out" 2>"$W/$CASE.err" &
	pid=$!
	i=0
	while [ $i -lt 900 ] && ! grep -q '^MVTEST END' "$W/$CASE.out"; do
		sleep 0.1
		i=$((i + 1))
	done
	grep -q '^MVTEST END' "$W/$CASE.out" && check guest-up PASS ||
		check guest-up FAIL "guest never finished its checks"
	kill -TERM $pid
	i=0
	while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 $pid 2>/dev/null; then
		kill -KILL $pid
		check stopped FAIL "still running 10 s after SIGTERM"
	else
		wait $pid
		RC=$?
		check_rc 0
	fi
	case_end
}

case_linux_panic()
{
	case_begin linux-panic
	vm "$CASE" "$VM_TIMEOUT" --kernel $L2/bzImage --initrd $L2/initramfs.cpio.gz \
		--cmdline "$BASE_CMDLINE mvtest=panic"
	check_rc 1
	stderr_reason panic
	grep -q '^MVTEST END panic' "$W/$CASE.out" && check guest-end PASS ||
		check guest-end FAIL "guest never reached the panic"
	case_end
}

# err_case NAME ARGS... - bad input: exit status 1, exactly one stderr line,
# no signal, no hang.
err_case()
{
	en=$1
	shift
	vm "errors-$en" 30 "$@"
	lines=$(wc -l <"$W/errors-$en.err")
	first=$(head -n1 "$W/errors-$en.err")
	if [ "$RC" = 1 ] && [ "$lines" = 1 ]; then
		check "$en" PASS "$first"
	else
		check "$en" FAIL "rc=$RC stderr lines=$lines: $first"
		show_tail "errors-$en"
	fi
}

case_errors()
{
	case_begin errors
	k=$L2/bzImage
	head -c 65536 /dev/urandom >$W/junk.bin
	err_case missing-kernel --kernel $W/does-not-exist
	err_case not-a-kernel --kernel $W/junk.bin
	err_case elf-without-pvh --kernel /bin/busybox
	err_case missing-initrd --kernel $k --initrd $W/does-not-exist
	err_case mem-too-small --kernel $k --mem 1M
	err_case mem-garbage --kernel $k --mem foo
	err_case cpus-zero --kernel $k --cpus 0
	err_case cpus-huge --kernel $k --cpus 9999
	err_case missing-disk --kernel $k --disk path=$W/does-not-exist
	err_case bad-console --kernel $k --console bogus
	err_case bad-transport --kernel $k --rng=transport=isa
	err_case unknown-option --kernel $k --bogus
	err_case no-kernel --mem 256M
	# Kernel and initrd together do not fit in RAM.
	dd if=/dev/zero of=$W/big-initrd.img bs=1M count=48 2>/dev/null
	err_case mem-kernel-only --kernel $k --mem 12M
	err_case mem-kernel-initrd --kernel $k --initrd $W/big-initrd.img --mem 64M
	# No /dev/kvm: hide the node for one run.
	mv /dev/kvm /dev/kvm.hidden
	err_case no-kvm --kernel $k --initrd $L2/initramfs.cpio.gz
	mv /dev/kvm.hidden /dev/kvm
	# /dev/kvm without permission: an unprivileged user and a root-only node.
	grep -q '^nobody:' /etc/passwd 2>/dev/null ||
		echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>/etc/passwd
	grep -q '^nogroup:' /etc/group 2>/dev/null || echo 'nogroup:x:65534:' >>/etc/group
	chmod 600 /dev/kvm
	timeout -s KILL 30 su -s /bin/sh nobody -c "$MV --kernel $k" </dev/null \
		>$W/errors-kvm-perm.out 2>$W/errors-kvm-perm.err
	RC=$?
	chmod 666 /dev/kvm
	first=$(head -n1 $W/errors-kvm-perm.err)
	if [ "$RC" = 1 ] && [ "$(wc -l <$W/errors-kvm-perm.err)" = 1 ] &&
		echo "$first" | grep -q 'permission'; then
		check kvm-permission PASS "$first"
	else
		check kvm-permission FAIL "rc=$RC: $first"
	fi
	case_end
}

# tiny NAME FILE RC STDERR-WORD LINE... -- MICROVM-ARGS... - run a tiny guest
# (tests/guests/README.md says what each prints); expect the exit status,
# each LINE as a line prefix in its output, no FAIL/TIMEOUT line, no RESULT
# line other than PASS, and, unless STDERR-WORD is empty, that word (any case)
# in stderr.
tiny()
{
	case_begin "tiny-$1"
	f=$GUESTS/$2
	want_rc=$3
	word=$4
	shift 4
	: >"$W/$CASE.want"
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		echo "$1" >>"$W/$CASE.want"
		shift
	done
	[ $# -eq 0 ] || shift
	if [ ! -f "$f" ]; then
		result "$CASE" SKIP "$f not built"
		return
	fi
	vm "$CASE" 60 --kernel "$f" "$@"
	check_rc "$want_rc"
	while read -r l; do
		tag=saw:$(echo "$l" | tr ' ' '_')
		if grep -q "^$l" "$W/$CASE.out"; then
			check "$tag" PASS
		else
			check "$tag" FAIL "line '$l' missing"
		fi
	done <"$W/$CASE.want"
	bad=$(grep -E '^(FAIL|TIMEOUT)|^RESULT [^ ]* FAIL' "$W/$CASE.out" | head -n1)
	if [ -z "$bad" ]; then
		check no-fail PASS
	else
		check no-fail FAIL "$bad"
	fi
	[ -z "$word" ] || stderr_reason "$word"
	[ -z "${TINY_AFTER-}" ] || "$TINY_AFTER"
	case_end
}

case_tiny_hello_pvh()
{
	tiny hello-pvh hello-pvh.elf 0 "" "CMDLINE console=ttyS0 hello=1" "HELLO pvh" \
		-- --cmdline "console=ttyS0 hello=1"
}

case_tiny_hello_bzimage()
{
	tiny hello-bzimage hello-bzimage.bin 0 "" "BZIMAGE zero page 0x7000" "E820 " \
		"CMDLINE console=ttyS0 hello=1" "HELLO bzimage" -- --cmdline "console=ttyS0 hello=1"
}

case_tiny_triple_fault()
{
	tiny triple-fault triple-fault.elf 1 triple "ABOUT TO TRIPLE FAULT"
}

# vCPUs found through the ACPI MADT, started with INIT/SIPI/SIPI.
case_tiny_smp()
{
	tiny smp smp.elf 0 "" "SMP cpus from ACPI MADT: 4" "CPU 0 UP" "CPU 1 UP" "CPU 2 UP" \
		"CPU 3 UP" "SMP 4 OK" -- --cpus 4
}

case_tiny_smp_cmdline()
{
	tiny smp-cmdline smp.elf 0 "" "SMP cpus from cmdline: 2" "CPU 0 UP" "CPU 1 UP" "SMP 2 OK" \
		-- --cpus 2 --cmdline cpus=2
}

case_tiny_virtio_poll()
{
	new_disk $W/poll.img
	tiny virtio-poll virtio-poll.elf 0 "" "RESULT blk-write PASS" "RESULT blk-flush PASS" \
		"RESULT blk-read PASS" "RESULT blk-id PASS" "RESULT rng PASS" \
		"RESULT irq-status PASS" "VIRTIO DONE" -- --disk path=$W/poll.img,transport=mmio \
		--rng=transport=mmio
}

# A read-only disk: the device must fail the guest's write with IOERR and the
# image must keep its bytes.
poll_ro_unchanged()
{
	if [ "$(sha_1m $W/poll-ro.img)" = "$POLL_RO_SUM" ]; then
		check ro-file PASS unchanged
	else
		check ro-file FAIL "read-only image was modified"
	fi
}

case_tiny_virtio_poll_ro()
{
	dd if=/dev/urandom of=$W/poll-ro.img bs=1M count=1 2>/dev/null
	POLL_RO_SUM=$(sha_1m $W/poll-ro.img)
	TINY_AFTER=poll_ro_unchanged
	tiny virtio-poll-ro virtio-poll.elf 0 "" "RESULT blk-write PASS read-only" \
		"RESULT blk-read PASS" "RESULT rng PASS" "RESULT irq-status PASS" "VIRTIO DONE" \
		-- --disk path=$W/poll-ro.img,ro,transport=mmio --rng=transport=mmio
	TINY_AFTER=
}

# run_selection PATTERN... - every case matching a pattern, in list order.
run_selection()
{
	for c in $ALL_CASES; do
		for pat in "$@"; do
			# shellcheck disable=SC2254 # patterns are globs on purpose
			case $c in $pat)
				if [ -x "$MV" ]; then
					"case_$(echo "$c" | tr '-' '_')"
				else
					result "$c" FAIL "no microvm binary in the L1 image"
				fi
				break
				;;
			esac
		done
	done
}

# `make run` on a host whose /dev/kvm cannot boot Linux (images/run-demo.sh): the demo guest
# in the foreground on L1's console, which is the user's terminal.
if [ "${1-}" = demo ]; then
	dd if=/dev/zero of=$W/demo.img bs=1M count=64 2>/dev/null
	echo "microvm demo: Ctrl-A x quits; 'poweroff' in the guest ends it."
	"$MV" --kernel $L2/bzImage --initrd $L2/initramfs.cpio.gz --cpus 2 --mem 512M \
		--disk path=$W/demo.img --rng \
		--cmdline "console=ttyS0 reboot=k panic=1 quiet mvtest=smoke expect_cpus=2 mvend=shell"
	echo "microvm exited with status $?"
	exit 0
fi
[ $# -gt 0 ] || set -- $ALL_CASES
# MVREPEAT=N runs the selection N times (to hunt intermittent failures).
round=0
while [ $round -lt "${MVREPEAT:-1}" ]; do
	round=$((round + 1))
	run_selection "$@"
done
