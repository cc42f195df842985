#!/bin/sh
# tests/bench/l1-bench.sh - the benchmark that runs inside L1 (busybox sh).
# tests/bench/l1-bench-overlay.sh installs it as /opt/mv/l1-tests.sh, so
# images/l1-init runs it with the words of /etc/mvcases as arguments:
#     n=RUNS        measured runs per VMM and case (default 10)
#     cases=a,b     tiny, linux, pci (default all three); storage (fio
#                   inside the guest, see cmd_microvm_storage), net (iperf3),
#                   vsock (bulk transfer); diag (see diag())
# and, from L1's kernel command line, mvbench_from=K: measured runs start at
# K (run-bench.sh's restart after L1 froze).
# Both VMMs run in this one L1 boot, interleaved (run i: microvm then QEMU for
# odd i, QEMU then microvm for even i), after one warm-up pair (run=0, which
# the host side drops: it pays for the first page faults on the binaries).
# One line per run:
#     BENCH vmm=microvm|qemu case=tiny|linux run=I first_ms=.. exit_ms=.. maxrss_kb=.. status=..
# launch_probe measures from exec: first_ms = first output line with the
# marker, exit_ms = process exit, maxrss_kb = the VMM's peak RSS.

MV=/opt/mv/microvm
QEMU=/usr/bin/qemu-system-x86_64
QDATA=/opt/mv/qemu
PROBE=/opt/mv/launch_probe
GUESTS=/opt/mv/guests
L2=/opt/mv/l2
W=/tmp/bench

N=10
CASES="tiny linux pci"
# run-bench.sh restarts a frozen L1 with mvbench_from=K on its command line.
FROM=1
# shellcheck disable=SC2013 # words, not lines
for w in $(cat /proc/cmdline); do
	case $w in mvbench_from=*) FROM=${w#*=} ;; esac
done
for a in "$@"; do
	case $a in
	n=*) N=${a#n=} ;;
	cases=*) CASES=$(echo "${a#cases=}" | tr ',' ' ') ;;
	esac
done

# The L2 guest's cheapest full boot: one check (its first line is
# "RESULT cpus PASS 1"), then ACPI poweroff, which both VMMs turn into exit 0.
# reboot=k panic=1 as microvm's default; quiet: every console byte is an exit.
LINUX_CMDLINE="console=ttyS0 reboot=k panic=1 quiet mvtest=cpus expect_cpus=1 mvend=poweroff"
# The tiny guest's first line; it then prints its memory map, whose length
# differs between the VMMs (and each byte costs ~50 us here), so the marker
# is the first line, not "HELLO pvh".
TINY_MARKER="PVH start_info"
LINUX_MARKER="RESULT cpus"

# QEMU, set up like microvm (see tests/bench/README.md for every flag):
#   -M microvm,accel=kvm,rtc=off  QEMU's minimal machine on KVM; microvm has
#                   no CMOS RTC (its FADT says so), QEMU's microvm has one by
#                   default.  PIC, PIT and IOAPIC stay in-kernel on both.
#   -cpu host -m 256M -smp 1      the same vCPU model, RAM and vCPU count
#   -nodefaults -no-user-config   no default NIC/monitor/config files
#   -nographic -serial stdio      no display; COM1 (isa-serial) on stdout
#   -device pvpanic               microvm always has pvpanic at 0x505
#   -no-reboot                    a guest reset ends QEMU (exit 0)
#   -L $QDATA                     the firmware bundled into L1
# One word per line: the callers split on newlines (see one()).
qemu_base()
{
	printf '%s\n' -L "$QDATA" -M microvm,accel=kvm,rtc=off -cpu host -m 256M -smp 1 \
		-nodefaults -no-user-config -nographic -serial stdio -device pvpanic -no-reboot
}

# cmd_VMM_CASE - the VMM command line, one word per line for "set --".
cmd_microvm_tiny()
{
	set -- "$MV" --kernel "$GUESTS/hello-pvh.elf" --mem 256M --cpus 1 --cmdline console=ttyS0
	printf '%s\n' "$@"
}

# QEMU's microvm has no i8042 unless asked; hello-pvh ends with an i8042
# reset, which -no-reboot turns into exit 0, as microvm does.  (Not for the
# Linux case: QEMU's i8042 lists PS/2 devices in the DSDT and Linux would
# then probe a keyboard and mouse it does not probe under microvm.)
cmd_qemu_tiny()
{
	# shellcheck disable=SC2046 # splitting the base flags on purpose
	set -- "$QEMU" $(qemu_base) -device i8042 -kernel "$GUESTS/hello-pvh.elf" -append console=ttyS0
	printf '%s\n' "$@"
}

cmd_microvm_linux()
{
	set -- "$MV" --kernel "$L2/bzImage" --initrd "$L2/initramfs.cpio.gz" --mem 256M --cpus 1 \
		--disk "path=$W/disk-microvm.img,transport=mmio" --rng=transport=mmio \
		--cmdline "$LINUX_CMDLINE"
	printf '%s\n' "$@"
}

# The same boot with the devices on PCI (microvm's default transport).
cmd_microvm_pci()
{
	set -- "$MV" --kernel "$L2/bzImage" --initrd "$L2/initramfs.cpio.gz" --mem 256M --cpus 1 \
		--disk "path=$W/disk-microvm.img" --rng --cmdline "$LINUX_CMDLINE"
	printf '%s\n' "$@"
}

# QEMU's microvm machine with its PCIe host (GPEX, ECAM, described in its
# DSDT) and modern-only virtio-pci functions with MSI-X, like microvm's.
cmd_qemu_pci()
{
	# shellcheck disable=SC2046
	set -- "$QEMU" $(qemu_base | sed 's/^microvm,accel=kvm,rtc=off$/microvm,accel=kvm,rtc=off,pcie=on/') \
		-drive "if=none,id=d0,file=$W/disk-qemu.img,format=raw" \
		-device virtio-blk-pci,drive=d0,disable-legacy=on \
		-device virtio-rng-pci,disable-legacy=on \
		-kernel "$L2/bzImage" -initrd "$L2/initramfs.cpio.gz" -append "$LINUX_CMDLINE"
	printf '%s\n' "$@"
}

# virtio-mmio version 2 like microvm (QEMU defaults to the legacy version 1);
# both list the devices in their DSDT (LNRO0005).
cmd_qemu_linux()
{
	# shellcheck disable=SC2046
	set -- "$QEMU" $(qemu_base) -global virtio-mmio.force-legacy=false \
		-drive "if=none,id=d0,file=$W/disk-qemu.img,format=raw" \
		-device virtio-blk-device,drive=d0 -device virtio-rng-device \
		-kernel "$L2/bzImage" -initrd "$L2/initramfs.cpio.gz" -append "$LINUX_CMDLINE"
	printf '%s\n' "$@"
}

# storage: fio in the L2 guest (check_fio in images/l2-init: 4 KiB random read
# and write at depth 32, 1 MiB sequential read and write at depth 8, O_DIRECT,
# libaio) on a 256 MiB virtio-blk disk on PCI, one vCPU.  The initrd is
# fio's archive (fio and every library it loads, uncompressed, built by
# l1-bench-overlay.sh) followed by the test initramfs.  Same backing file
# layout on L1's tmpfs and the same cache mode for both VMMs: the host page
# cache (microvm's default; QEMU's default cache=writeback).  Each VMM's own
# defaults otherwise: microvm's io_uring engine and device thread, QEMU's
# main-loop virtio-blk with its thread-pool AIO.
STORAGE_CMDLINE="console=ttyS0 reboot=k panic=1 quiet mvtest=fio mvend=poweroff"
STORAGE_MARKER="FIO "

# net: iperf3 TCP guest -> L1 and L1 -> guest (check_iperf) through the
# persistent tap mvb0 (10.0.2.1 on L1's side, an iperf3 server there), one
# queue pair, virtio-pci; QEMU with a tap netdev and vhost=off, so both VMMs
# move every packet in user space.
NET_CMDLINE="console=ttyS0 reboot=k panic=1 quiet mvtest=iperf mvend=poweroff"
NET_MARKER="IPERF "
cmd_microvm_net()
{
	set -- "$MV" --kernel "$L2/bzImage" --initrd "$W/initrd-bench.cpio" --mem 512M --cpus 1 \
		--net tap=mvb0,mac=52:54:00:00:00:02 --cmdline "$NET_CMDLINE"
	printf '%s\n' "$@"
}

cmd_qemu_net()
{
	# shellcheck disable=SC2046
	set -- "$QEMU" $(qemu_base | sed 's/^microvm,accel=kvm,rtc=off$/microvm,accel=kvm,rtc=off,pcie=on/; s/^256M$/512M/') \
		-netdev tap,id=n0,ifname=mvb0,script=no,downscript=no,vhost=off \
		-device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:02,disable-legacy=on,romfile= \
		-kernel "$L2/bzImage" -initrd "$W/initrd-bench.cpio" -append "$NET_CMDLINE"
	printf '%s\n' "$@"
}

# vsock: 64 MiB guest -> host (check_vsockbw) into a sink on port 6000:
# microvm's device hands it to a UNIX listener at <sock>_6000; QEMU's
# vhost-vsock-pci (the kernel's vhost, QEMU has no user-space vsock) to an
# AF_VSOCK listener in L1.
VSOCK_CMDLINE="console=ttyS0 reboot=k panic=1 quiet mvtest=vsockbw mvend=poweroff"
VSOCK_MARKER="VSOCKBW "
cmd_microvm_vsock()
{
	rm -f $W/vb.sock
	set -- "$MV" --kernel "$L2/bzImage" --initrd "$W/initrd-bench.cpio" --mem 512M --cpus 1 \
		--vsock cid=3,path=$W/vb.sock --cmdline "$VSOCK_CMDLINE"
	printf '%s\n' "$@"
}

cmd_qemu_vsock()
{
	# shellcheck disable=SC2046
	set -- "$QEMU" $(qemu_base | sed 's/^microvm,accel=kvm,rtc=off$/microvm,accel=kvm,rtc=off,pcie=on/; s/^256M$/512M/') \
		-device vhost-vsock-pci,guest-cid=3,disable-legacy=on \
		-kernel "$L2/bzImage" -initrd "$W/initrd-bench.cpio" -append "$VSOCK_CMDLINE"
	printf '%s\n' "$@"
}

cmd_microvm_storage()
{
	set -- "$MV" --kernel "$L2/bzImage" --initrd "$W/initrd-bench.cpio" --mem 512M --cpus 1 \
		--disk "path=$W/st-microvm.img" --cmdline "$STORAGE_CMDLINE"
	printf '%s\n' "$@"
}

cmd_qemu_storage()
{
	# shellcheck disable=SC2046
	set -- "$QEMU" $(qemu_base | sed 's/^microvm,accel=kvm,rtc=off$/microvm,accel=kvm,rtc=off,pcie=on/; s/^256M$/512M/') \
		-drive "if=none,id=d0,file=$W/st-qemu.img,format=raw" \
		-device virtio-blk-pci,drive=d0,disable-legacy=on \
		-kernel "$L2/bzImage" -initrd "$W/initrd-bench.cpio" -append "$STORAGE_CMDLINE"
	printf '%s\n' "$@"
}

# one VMM CASE RUN - measure one run and print its BENCH line; on a failed
# run, show the end of its stderr, indented.  The Linux guest's own uptime at
# its last line (guest_end_ms) tells guest time from VMM time.
one()
{
	vmm=$1
	c=$2
	i=$3
	case $c in
	tiny) marker=$TINY_MARKER t=60 ;;
	linux | pci) marker=$LINUX_MARKER t=${LINUX_TIMEOUT:-180} ;;
	storage) marker=$STORAGE_MARKER t=${STORAGE_TIMEOUT:-300} ;;
	net) marker=$NET_MARKER t=${STORAGE_TIMEOUT:-300} ;;
	vsock) marker=$VSOCK_MARKER t=${STORAGE_TIMEOUT:-300} ;;
	esac
	# Arguments hold no newlines, so one per line survives the round trip.
	old_ifs=$IFS
	IFS='
'
	# shellcheck disable=SC2046
	set -- $("cmd_${vmm}_$c")
	IFS=$old_ifs
	echo "$vmm $c $i $(uptime_s) $t" >$W/current
	line=$(PROBE_OUTPUT="$W/$vmm-$c.out" "$PROBE" "$marker" "$t" -- "$@" \
		</dev/null 2>"$W/$vmm-$c.err")
	up=$(tr -d '\r' <"$W/$vmm-$c.out" | sed -n 's/^MVTEST END .* up=\([0-9.]*\).*/\1/p')
	[ -z "$up" ] || line="$line guest_end_ms=$(awk -v u="$up" 'BEGIN { printf "%.0f", u * 1000 }')"
	# storage, net, vsock: the guest's numbers (rr_iops=.. sw_kbps=.. tx_kbit=..)
	nums=$(tr -d '\r' <"$W/$vmm-$c.out" | sed -n 's/^\(FIO\|IPERF\|VSOCKBW\) //p' | head -n1)
	[ -z "$nums" ] || line="$line $nums"
	rm -f $W/current
	echo "BENCH vmm=$vmm case=$c run=$i $line"
	# A failed in-guest check says why (indented: not a BENCH line).
	tr -d '\r' <"$W/$vmm-$c.out" | grep '^RESULT .* FAIL' | head -n 3 | sed 's/^/  | /'
	case "$line" in
	*"first_ms=-1 "* | *status=[1-9]*)
		echo "  --- $vmm $c run $i failed; stderr:"
		tail -n 10 "$W/$vmm-$c.err" | sed 's/^/  | /'
		;;
	esac
}

uptime_s()
{
	cut -d' ' -f1 /proc/uptime | cut -d. -f1
}

# watchdog - a line a minute while the bench runs; when a run outlives its
# probe's timeout (which should have killed it), the kernel stacks of the
# VMM's threads, so a hang in L1's KVM shows where it is.
watchdog()
{
	while sleep 60; do
		[ -f $W/current ] || continue
		read -r vmm c i t0 t <$W/current || continue
		now=$(uptime_s)
		echo "BENCH-ALIVE up=$now running $vmm $c run $i for $((now - t0)) s"
		[ $((now - t0)) -gt $((t + 30)) ] || continue
		for d in /proc/[0-9]*; do
			case $(cat "$d/comm" 2>/dev/null) in
			microvm | qemu-system-x86 | launch_probe) ;;
			*) continue ;;
			esac
			echo "  stuck: pid ${d#/proc/} $(cat "$d/comm") $(grep '^State:' "$d/status")"
			for tk in "$d"/task/*; do
				echo "  | task ${tk##*/} $(cat "$tk/comm") wchan=$(cat "$tk/wchan" 2>/dev/null)"
				sed 's/^/  |   /' "$tk/stack" 2>/dev/null
			done
		done
	done
}

# diag_run VMM CASE - one run with the VMM's stderr merged into its stdout
# (MICROVM_LOG=debug for microvm) and each line stamped with the ms since
# exec; printed as "DIAG <vmm> <case> <ms> <line>".
diag_run()
{
	old_ifs=$IFS
	IFS='
'
	# shellcheck disable=SC2046
	set -- $("cmd_${1}_$2")
	IFS=$old_ifs
	# Huge pages in use mid-run: QEMU backs guest RAM with THP (anonymous
	# memory + MADV_HUGEPAGE), which saves nested page faults.
	(
		for s in 1 2 3; do
			sleep 1
			echo "DIAG $vmm $c $s s in: $(grep -E '^(AnonHugePages|ShmemHugePages):' \
				/proc/meminfo | tr -s ' \n' ' ')"
		done
	) &
	sampler=$!
	r=$(MICROVM_LOG=debug PROBE_STAMP=1 PROBE_OUTPUT="$W/diag.out" "$PROBE" "$marker" 60 -- \
		sh -c 'exec "$@" 2>&1' sh "$@" </dev/null)
	wait $sampler
	echo "DIAG $vmm $c probe: $r"
	tr -d '\r' <"$W/diag.out" | sed "s/^/DIAG $vmm $c /"
}

# diag: per VMM, one tiny run and one verbose Linux boot (no "quiet",
# printk timestamps), stamped by diag_run: where the time goes.  Not a
# measurement (the console output itself costs an exit per byte).
diag()
{
	saved=$LINUX_CMDLINE
	LINUX_CMDLINE="console=ttyS0 reboot=k panic=1 printk.time=1 mvtest=cpus expect_cpus=1 mvend=poweroff"
	for f in enabled shmem_enabled defrag; do
		echo "DIAG L1 THP $f: $(cat /sys/kernel/mm/transparent_hugepage/$f 2>/dev/null)"
	done
	if [ -x /usr/bin/strace ]; then
		old_ifs=$IFS
		IFS='
'
		# shellcheck disable=SC2046
		set -- $(cmd_microvm_tiny)
		IFS=$old_ifs
		/usr/bin/strace -f -tt -T -o $W/strace.txt "$@" </dev/null >/dev/null 2>&1
		sed 's/^/DIAG strace /' $W/strace.txt
	fi
	for vmm in microvm qemu; do
		c=tiny marker=$TINY_MARKER diag_run $vmm tiny
		c=linux marker=$LINUX_MARKER diag_run $vmm linux
	done
	LINUX_CMDLINE=$saved
}

mkdir -p $W
for d in microvm qemu; do
	dd if=/dev/zero of=$W/disk-$d.img bs=1M count=4 2>/dev/null
done
case " $CASES " in
*" storage "*)
	for d in microvm qemu; do
		dd if=/dev/zero of=$W/st-$d.img bs=1M count=256 2>/dev/null
	done
	;;
esac
case " $CASES " in
*" net "*)
	tunctl -t mvb0 >/dev/null
	ip addr add 10.0.2.1/24 dev mvb0
	ip link set mvb0 up
	iperf3 -s -D >/dev/null 2>&1 || echo "BENCH-ERROR no iperf3 server in L1"
	;;
esac
case " $CASES " in
*" vsock "*)
	socat -u UNIX-LISTEN:$W/vb.sock_6000,fork CREATE:/dev/null 2>/dev/null &
	socat -u VSOCK-LISTEN:6000,fork CREATE:/dev/null 2>/dev/null &
	;;
esac
# The tools' archive (fio, iperf3, socat) first: an uncompressed archive must
# start 4-byte aligned, which the end of a gzip member does not promise.
[ ! -f /opt/mv/benchtools.cpio ] ||
	cat /opt/mv/benchtools.cpio "$L2/initramfs.cpio.gz" >$W/initrd-bench.cpio
[ -x "$QEMU" ] || echo "BENCH-ERROR no QEMU in L1"
echo "BENCH-START n=$N from=$FROM cases=$(echo "$CASES" | tr ' ' ,) up=$(cut -d' ' -f1 /proc/uptime)"
watchdog &
wd=$!
[ "$FROM" -gt 1 ] || case " $CASES " in *" diag "*) diag ;; esac
i=0
while [ "$i" -le "$N" ]; do
	[ "$i" = 0 ] || [ "$i" -ge "$FROM" ] || i=$FROM
	for c in $CASES; do
		[ "$c" != diag ] || continue
		if [ $((i % 2)) = 1 ]; then
			one microvm "$c" "$i"
			one qemu "$c" "$i"
		else
			one qemu "$c" "$i"
			one microvm "$c" "$i"
		fi
	done
	i=$((i + 1))
done
kill $wd
echo "BENCH-END up=$(cut -d' ' -f1 /proc/uptime)"
