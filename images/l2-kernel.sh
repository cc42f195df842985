#!/bin/sh
# images/l2-kernel.sh - the L2 guest kernel: a small, module-free Linux 6.1 built
# from Debian's linux-source-6.1 with every driver microvm's integration tests
# need built in.  Output: bzImage (Linux boot protocol), vmlinux (ELF with the
# Xen PVH note, for the PVH entry), config.  About 10 minutes of CPU on 2
# cores (tar included); longer when the cores are shared.
#
# Usage: images/l2-kernel.sh      prints the output folder
. "$(dirname "$0")/lib.sh"

SRC_PKG=linux-source-6.1
SRC_TAR=/usr/src/linux-source-6.1.tar.xz
JOBS=${JOBS:-2}

# Options on top of tinyconfig.  Beyond the basics a busybox initramfs needs:
# SMP + MPPARSE + ACPI so the guest finds its vCPUs (MADT), PVH for the ELF entry,
# KVM_GUEST/PARAVIRT for kvm-clock (plain timers hung some TCG boots), virtio-pci
# with MSI-X and virtio-mmio (both found through ACPI: PCI0 + MCFG, LNRO0005),
# PNPACPI for the DSDT's COM1 (its IRQ comes from there in hardware-reduced
# ACPI), PVPANIC_MMIO, which in 6.1 also drives the ACPI "QEMU0001" I/O-port
# pvpanic, and for the storage tests virtio-scsi (sd), virtio-pmem with fs DAX
# (ZONE_DEVICE, which needs memory hotplug) and ext2 to put on them; AIO,
# IO_URING, ADVISE_SYSCALLS and SYSVIPC (its job table is a shm segment) for
# fio (make bench's storage case); the i8042 keyboard (atkbd, serio, and VT, whose
# keyboard handler turns Ctrl+Alt+Del into a reboot) for the API's SendCtrlAltDel.
ENABLE="64BIT PRINTK TTY SERIAL_8250 SERIAL_8250_CONSOLE EARLY_PRINTK
	BLK_DEV_INITRD RD_GZIP DEVTMPFS DEVTMPFS_MOUNT PROC_FS SYSFS TMPFS SHMEM
	BINFMT_ELF BINFMT_SCRIPT MULTIUSER FUTEX EPOLL SIGNALFD TIMERFD EVENTFD
	POSIX_TIMERS FILE_LOCKING UNIX98_PTYS
	SMP X86_X2APIC X86_MPPARSE HPET_TIMER HYPERVISOR_GUEST PARAVIRT KVM_GUEST PVH
	PCI PCI_MSI ACPI
	VIRTIO_MENU VIRTIO_MMIO VIRTIO_MMIO_CMDLINE_DEVICES VIRTIO_PCI BLOCK BLK_DEV
	VIRTIO_BLK NET NETDEVICES NET_CORE VIRTIO_NET INET UNIX VSOCKETS
	VIRTIO_VSOCKETS VIRTIO_CONSOLE HW_RANDOM HW_RANDOM_VIRTIO VIRTIO_BALLOON
	PVPANIC PVPANIC_MMIO MAGIC_SYSRQ
	SCSI SCSI_LOWLEVEL BLK_DEV_SD SCSI_VIRTIO
	SPARSEMEM_VMEMMAP MIGRATION MEMORY_HOTPLUG MEMORY_HOTREMOVE ZONE_DEVICE
	LIBNVDIMM BLK_DEV_PMEM VIRTIO_PMEM DAX FS_DAX EXT2_FS
	AIO IO_URING ADVISE_SYSCALLS SYSVIPC
	INPUT INPUT_KEYBOARD KEYBOARD_ATKBD SERIO SERIO_I8042 VT"
# What the tests rely on: checked after olddefconfig, which silently drops
# options whose dependencies are missing.
REQUIRE="KERNEL_LZ4 NO_HZ_IDLE SMP X86_MPPARSE X86_LOCAL_APIC X86_IO_APIC ACPI PVH KVM_GUEST PARAVIRT
	HYPERVISOR_GUEST SERIAL_8250 SERIAL_8250_CONSOLE VIRTIO_MMIO VIRTIO_PCI
	PCI PCI_MSI PCI_MMCONFIG PNP PNPACPI SERIAL_8250_PNP VIRTIO_BLK VIRTIO_CONSOLE HW_RANDOM
	HW_RANDOM_VIRTIO PVPANIC PVPANIC_MMIO BLK_DEV_INITRD RD_GZIP DEVTMPFS
	PROC_FS SYSFS PRINTK MAGIC_SYSRQ BINFMT_ELF BINFMT_SCRIPT
	SCSI_VIRTIO BLK_DEV_SD VIRTIO_PMEM BLK_DEV_PMEM ZONE_DEVICE FS_DAX EXT2_FS
	AIO IO_URING ADVISE_SYSCALLS SYSVIPC VIRTIO_NET VSOCKETS VIRTIO_VSOCKETS
	KEYBOARD_ATKBD SERIO_I8042 VT"

SRC_VER=$(img_installed_version $SRC_PKG)
# Build tools; on a fresh CI machine they may be missing.
for p in bc flex bison libelf-dev libssl-dev lz4 xz-utils; do
	img_installed_version $p >/dev/null
done
GCC_VER=$(gcc --version | head -n1)
img_begin l2-kernel "$(img_key "$(img_code "$0")" "$SRC_VER" "$GCC_VER")"

img_log "building L2 kernel from $SRC_PKG $SRC_VER in $TMP (~10 min)"
start=$(date +%s)
tar -xJf "$SRC_TAR" -C "$TMP"
cd "$TMP"/linux-source-6.1 || exit

make -s tinyconfig >/dev/null
for o in $ENABLE; do
	./scripts/config -e "$o"
done
./scripts/config -d MODULES -d DEBUG_INFO -d DEBUG_INFO_BTF -d WERROR
# LZ4 instead of tinyconfig's XZ: the bzImage decompressor runs at emulation
# speed in the nested harness, and LZ4 decompresses several times faster.
# A 100 Hz tickless-idle kernel takes fewer timer exits.
./scripts/config -d KERNEL_XZ -e KERNEL_LZ4 -d HZ_PERIODIC -e NO_HZ_IDLE \
	-d HZ_250 -e HZ_100
# Defaults that NET, TTY and ACPI pull in but no test uses: less to compile.
# No VGA console: VT only for its keyboard handling (the console is ttyS0 or hvc0).
for o in IPV6 WIRELESS WLAN ETHERNET CPU_FREQ HID VGA_CONSOLE PTP_1588_CLOCK PPS THERMAL; do
	./scripts/config -d "$o"
done
make -s olddefconfig >&2
missing=
for o in $REQUIRE; do
	grep -q "^CONFIG_$o=y" .config || missing="$missing $o"
done
[ -z "$missing" ] || img_die "L2 kernel config lacks:$missing"

# KBUILD_BUILD_* keep the image byte-identical between rebuilds of one key.
make -s -j"$JOBS" KBUILD_BUILD_TIMESTAMP=2000-01-01 KBUILD_BUILD_USER=microvm \
	KBUILD_BUILD_HOST=images bzImage >&2
cp arch/x86/boot/bzImage vmlinux .config "$TMP"/
mv "$TMP/.config" "$TMP/config"
cd "$TMP" || exit
rm -rf linux-source-6.1
img_log "L2 kernel built in $(($(date +%s) - start)) s"
img_finish l2-kernel
