#!/bin/bash
# tests/integration/check-l2-qemu.sh - check the L2 guest images themselves,
# without KVM and without microvm: boot them under the host's QEMU (TCG) with
# the devices microvm offers (virtio-mmio blk/rng/console, pvpanic) and expect
# every in-guest check of images/l2-init to pass.  When an integration test
# fails, this tells whether the image or the VMM is at fault.
#
# Usage: tests/integration/check-l2-qemu.sh      (~30 s; prints RESULT lines and
#        "N passed, N failed"; exit status 1 if any failed)
set -eu
cd "$(dirname "$0")/../.."

k=$(images/l2-kernel.sh)
i=$(images/l2-initramfs.sh)/initramfs.cpio.gz
w=build/integration/qemu
mkdir -p "$w"
: >"$w/results.txt"

# TCG's TSC is the host's, but the kernel's calibration against the emulated
# PIT fails on a busy host and the boot then hangs (microvm guests get
# kvm-clock instead).  Tell the kernel the frequency.
khz=$(awk -F': *' '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)
tsc=${khz:+tsc_early_khz=$khz}
# -M microvm has no i8042: reset by triple fault; -no-reboot turns it into exit 0.
base="console=ttyS0 reboot=t panic=1 quiet $tsc"

report()
{
	echo "RESULT qemu-$1 $2${3:+ $3}" | tee -a "$w/results.txt"
}

# qboot NAME MACHINE CMDLINE QEMU-ARGS... - boot, leave the console in
# $w/NAME.out, the exit status in rc.
qboot()
{
	local name=$1 machine=$2 cmdline=$3
	shift 3
	set +e
	timeout -s KILL 120 qemu-system-x86_64 -M "$machine" -accel tcg -cpu max -m 256M \
		-nographic -no-reboot -kernel "${KERNEL:-$k/bzImage}" -initrd "$i" \
		-append "$cmdline" "$@" </dev/null 2>&1 | tr -d '\r' >"$w/$name.out"
	rc=${PIPESTATUS[0]}
	set -e
}

# expect NAME RC CHECK... - exit status and the guest's own RESULT lines.
expect()
{
	local name=$1 want=$2 c fails=
	shift 2
	[ "$rc" = "$want" ] || fails="$fails exit=$rc"
	for c in "$@"; do
		grep -q "^RESULT $c PASS" "$w/$name.out" || fails="$fails $c"
	done
	if [ -z "$fails" ]; then
		report "$name" PASS
	else
		report "$name" FAIL "failed:$fails"
		sed 's/^/  | /' "$w/$name.out" | tail -n 20
	fi
}

disk()
{
	dd if=/dev/zero of="$1" bs=1M count=4 status=none
}

smoke="cpus virtio_blk-bound blk-size blk-write blk-readback virtio_rng-bound hwrng"

# Devices found through ACPI (QEMU's DSDT), SMP through the MADT, plus a
# read-only second disk.
disk "$w/d0.img"
dd if=/dev/urandom of="$w/ro.img" bs=1M count=1 status=none
ro_sum=$(sha256sum <"$w/ro.img")
qboot smoke-acpi microvm \
	"$base mvtest=smoke,blkro expect_cpus=2 disk_sectors=8192" -smp 2 \
	-drive if=none,id=d0,file="$w/d0.img",format=raw -device virtio-blk-device,drive=d0 \
	-drive if=none,id=d1,file="$w/ro.img",format=raw,readonly=on \
	-device virtio-blk-device,drive=d1 -device virtio-rng-device
expect smoke-acpi 0 $smoke blk-ro
[ "$(sha256sum <"$w/ro.img")" = "$ro_sum" ] || report smoke-acpi-ro FAIL "ro image changed"

# Without ACPI QEMU describes the devices as microvm does: virtio_mmio.device=
# words on the command line (and SMP through an MP table).
disk "$w/d0.img"
qboot smoke-cmdline microvm,acpi=off \
	"$base mvtest=smoke expect_cpus=2 disk_sectors=8192" -smp 2 \
	-drive if=none,id=d0,file="$w/d0.img",format=raw -device virtio-blk-device,drive=d0 \
	-device virtio-rng-device
expect smoke-cmdline 0 $smoke
# The guest's checksum must be what the image file holds now.
sum=$(sed -n 's/^RESULT blk-readback PASS sha256=//p' "$w/smoke-cmdline.out")
[ -n "$sum" ] && [ "$sum" = "$(head -c 1048576 "$w/d0.img" | sha256sum | cut -d' ' -f1)" ] &&
	report disk-file PASS || report disk-file FAIL "guest=${sum:-none}"

# PVH entry: QEMU loads an ELF vmlinux through its Xen PVH note.
disk "$w/d0.img"
KERNEL=$k/vmlinux qboot pvh microvm \
	"$base mvtest=smoke expect_cpus=2 disk_sectors=8192" -smp 2 \
	-drive if=none,id=d0,file="$w/d0.img",format=raw -device virtio-blk-device,drive=d0 \
	-device virtio-rng-device
expect pvh 0 $smoke

# console=hvc0: everything, marker included, arrives on the virtio console.
rm -f "$w/hvc.txt"
qboot hvc microvm "console=hvc0 reboot=t panic=1 quiet $tsc mvtest=hvc,rng,cpus expect_cpus=1" \
	-device virtio-serial-device -chardev file,id=hvc,path="$w/hvc.txt" \
	-device virtconsole,chardev=hvc -device virtio-rng-device
tr -d '\r' <"$w/hvc.txt" >>"$w/hvc.out"
expect hvc 0 virtio_console-bound hvc-write virtio_rng-bound hwrng cpus
id=$(sed -n 's/^RESULT hvc-write PASS id=//p' "$w/hvc.out")
[ -n "$id" ] && grep -q "^HVC-MARKER $id" "$w/hvc.out" && report hvc-marker PASS ||
	report hvc-marker FAIL "marker ${id:-?} missing"

qboot poweroff microvm "$base mvtest=cpus expect_cpus=1 mvend=poweroff"
expect poweroff 0 cpus
grep -q '^MVTEST END poweroff' "$w/poweroff.out" || report poweroff-end FAIL

# pvpanic (ACPI QEMU0001, I/O port 0x505): QEMU exits 1 on the guest's report;
# without it panic=1 would reboot and exit 0.
qboot panic microvm "$base mvtest=panic" -device pvpanic -action panic=exit-failure
expect panic 1

passed=$(grep -c ' PASS' "$w/results.txt" || true)
failed=$(grep -c ' FAIL' "$w/results.txt" || true)
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
