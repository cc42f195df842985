#!/bin/sh
# images/run-demo.sh - `make run`: boot the default guest (the L2 kernel and busybox
# initramfs from images/) with 2 vCPUs, a disk and an rng, its console on this terminal.
# The guest runs its quick self-checks, then gives a shell; `poweroff` ends the VM.
#
# Where /dev/kvm cannot boot Linux (missing, or provided by a software virtualization module
# such as PVM, whose instruction emulator stops on instructions every Linux kernel uses), the
# same demo runs inside the nested harness: QEMU emulates an AMD CPU with SVM, an L1 Linux
# loads kvm_amd, and microvm runs in L1 with this terminal as its console.
set -eu
cd "$(dirname "$0")/.."
mv_bin=${MICROVM:-./microvm}
l2k=$(images/l2-kernel.sh)
l2i=$(images/l2-initramfs.sh)
disk=build/demo-disk.img
[ -f "$disk" ] || truncate -s 64M "$disk"
cmdline="console=ttyS0 reboot=k panic=1 quiet mvtest=smoke expect_cpus=2 mvend=shell"

kvm_boots_linux()
{
	[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]
}

if kvm_boots_linux; then
	echo "microvm demo: Ctrl-A x quits at any time; 'poweroff' in the guest ends it." >&2
	exec "$mv_bin" --kernel "$l2k/bzImage" --initrd "$l2i/initramfs.cpio.gz" --cpus 2 \
		--mem 512M --disk path="$disk" --rng --cmdline "$cmdline"
fi

if [ ! -c /dev/kvm ]; then
	why="this host has no /dev/kvm"
else
	why="this host's /dev/kvm comes from a software virtualization module (PVM) that cannot run a stock Linux kernel"
fi
cat >&2 <<MSG
microvm demo: $why.
Booting the demo inside the nested harness instead: QEMU (software emulation, nested SVM) runs
an L1 Linux with a real /dev/kvm, and microvm boots the guest there (first boot ~10 s).
Ctrl-A x quits microvm; L1 then powers off.
MSG
l1k=$(images/l1-kernel.sh)
mkdir -p build/demo
images/l1-initramfs.sh build/demo/l1.cpio "$mv_bin" demo >/dev/null
# -serial stdio without -nographic: no QEMU monitor mux, so Ctrl-A reaches microvm.
exec qemu-system-x86_64 -accel tcg,thread=multi -cpu EPYC -smp 2 -m 3G -display none \
	-serial stdio -monitor none -no-reboot -kernel "$l1k/vmlinuz" -initrd build/demo/l1.cpio \
	-append "console=ttyS0 panic=-1 quiet"
