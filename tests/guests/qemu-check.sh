#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs the test guests under QEMU TCG (no KVM needed) and checks their
# serial output: proves the images themselves are right before microvm
# runs them. Usage: tests/guests/qemu-check.sh [build/guests]
# QEMU differences from microvm handled here: i8042 is added on -M microvm
# (it has none), virtio-mmio is forced modern and scanned at QEMU's layout,
# and triple faults are recognised from QEMU's "-d cpu_reset" log.
set -u
dir=${1:-build/guests}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
qemu=(timeout 60 qemu-system-x86_64 -accel tcg -m 256M -nographic -nodefaults -no-reboot
      -serial stdio)

# check NAME LOGFILE EXPECTED-LINE... : every expected line must appear whole.
check() {
	local name=$1 out=$2 line ok=1
	shift 2
	for line in "$@"; do
		if ! grep -qxF -- "$line" "$out"; then
			echo "  missing: $line"
			ok=0
		fi
	done
	if grep -q '^FAIL\|^TIMEOUT\|^RESULT .* FAIL' "$out"; then
		grep '^FAIL\|^TIMEOUT\|^RESULT .* FAIL' "$out" | sed 's/^/  /'
		ok=0
	fi
	if [ $ok = 1 ]; then
		echo "PASS $name"
	else
		echo "FAIL $name (output in $out)"
		sed 's/^/  | /' "$out"
		fails=$((fails + 1))
	fi
}

run() { # run NAME QEMU-ARGS... ; output (stripped of SeaBIOS escapes) in $tmp/NAME
	local name=$1
	shift
	"${qemu[@]}" "$@" </dev/null 2>&1 | tr -d '\033\r' |
		sed 's/^.*Booting from ROM\.\.//' >"$tmp/$name"
}

pc=(-M pc)
mv=(-M microvm -device i8042 -global virtio-mmio.force-legacy=false)

for m in pc mv; do
	declare -n machine=$m
	run hello-pvh-$m "${machine[@]}" -kernel "$dir/hello-pvh.elf" -append "console=ttyS0 test=1"
	check "hello-pvh ($m)" "$tmp/hello-pvh-$m" "CMDLINE console=ttyS0 test=1" "HELLO pvh"

	run hello-bzimage-$m "${machine[@]}" -kernel "$dir/hello-bzimage.bin" -append "console=ttyS0 test=2"
	check "hello-bzimage ($m, BIOS real-mode entry)" "$tmp/hello-bzimage-$m" \
		"BZIMAGE zero page 0x7000" "CMDLINE console=ttyS0 test=2" "HELLO bzimage"

	run triple-fault-$m "${machine[@]}" -kernel "$dir/triple-fault.elf" -d cpu_reset \
		-D "$tmp/triple-fault-$m.qemu"
	grep -q "^Triple fault" "$tmp/triple-fault-$m.qemu" && echo "Triple fault" >>"$tmp/triple-fault-$m"
	check "triple-fault ($m)" "$tmp/triple-fault-$m" "ABOUT TO TRIPLE FAULT" "Triple fault"

	run smp-$m "${machine[@]}" -smp 4 -kernel "$dir/smp.elf"
	check "smp 4 CPUs, ACPI MADT ($m)" "$tmp/smp-$m" "SMP cpus from ACPI MADT: 4" \
		"CPU 0 UP" "CPU 1 UP" "CPU 2 UP" "CPU 3 UP" "SMP 4 OK"
	unset -n machine
done

run bzboot64 "${mv[@]}" -kernel "$dir/bzboot64.elf" -initrd "$dir/hello-bzimage.bin" \
	-append "console=ttyS0 test=3"
check "hello-bzimage (microvm, 64-bit entry via bzboot64)" "$tmp/bzboot64" \
	"BZBOOT64 entering 0x100200 in long mode" "BZIMAGE zero page 0x7000" \
	"CMDLINE console=ttyS0 test=3" "HELLO bzimage"

run smp-cmdline "${pc[@]}" -smp 3 -kernel "$dir/smp.elf" -append "cpus=2"
check "smp cpus=2 on 3 vCPUs (pc)" "$tmp/smp-cmdline" "SMP cpus from cmdline: 2" "SMP 2 OK"

truncate -s 1M "$tmp/disk.img"
run virtio "${mv[@]}" -drive if=none,id=d0,file="$tmp/disk.img",format=raw \
	-device virtio-blk-device,drive=d0,serial=guest-disk -device virtio-rng-device \
	-kernel "$dir/virtio-poll.elf" -append "mmio_base=0xfeb00000 stride=0x200 slots=24"
check "virtio-poll blk+rng (microvm)" "$tmp/virtio" "RESULT blk-write PASS" \
	"RESULT blk-flush PASS" "RESULT blk-read PASS" "RESULT blk-id PASS guest-disk" \
	"RESULT rng PASS" "RESULT irq-status PASS" "VIRTIO DONE"

echo "$fails failed"
[ $fails = 0 ]
