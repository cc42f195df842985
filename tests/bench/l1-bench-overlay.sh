#!/bin/sh
# tests/bench/l1-bench-overlay.sh - the L1 initramfs for `make bench`: the
# normal one from images/l1-initramfs.sh (busybox, l1-init, kvm modules,
# microvm + libraries, L2 images, tiny guests), followed by a second cpio
# archive with what the benchmark adds.  Linux unpacks concatenated archives
# in order and a later file replaces an earlier one, so the second archive's
# /opt/mv/l1-tests.sh and /etc/mvcases turn L1's test run into the bench.
# Added: qemu-system-x86_64 with every library ldd names (+ libgcc_s.so.1,
# which glibc dlopens and ldd does not list) at their own paths, the firmware
# QEMU's -M microvm loads (in /opt/mv/qemu, passed with -L), the static
# launch_probe and tests/bench/l1-bench.sh; with the storage, net or vsock
# case also /opt/mv/benchtools.cpio: an uncompressed archive with fio, iperf3
# and socat in /bin and their libraries (~85 MiB: Debian's fio links the Ceph,
# Gluster and RDMA engines), which l1-bench.sh puts in front of the L2
# initramfs, and iperf3 and socat for L1 itself.
#
# Usage: tests/bench/l1-bench-overlay.sh OUT.cpio MICROVM LAUNCH_PROBE [N [CASES]]
#   N: measured runs per VMM and case (default 10); CASES: tiny,linux (default)
set -eu

[ $# -ge 3 ] || {
	echo "usage: $0 OUT.cpio MICROVM LAUNCH_PROBE [N [CASES]]" >&2
	exit 1
}
out=$1
mv_bin=$2
probe=$3
n=${4:-10}
cases=${5:-tiny,linux}
top=$(cd "$(dirname "$0")/../.." && pwd)
qemu=$(command -v qemu-system-x86_64) || {
	echo "bench: qemu-system-x86_64 not installed" >&2
	exit 1
}
qshare=/usr/share/qemu
# What -M microvm reads with accel=kvm: its qboot firmware, and the option
# ROM that loads -kernel (pvh.bin for a PVH ELF, linuxboot_dma.bin for a
# bzImage).  Found with strace on the host; a missing one makes QEMU fail
# with "could not load ..." in L1, which the bench prints.
firmware="bios-microvm.bin pvh.bin linuxboot_dma.bin"

# The case names only matter to the normal test list, which the overlay
# replaces; these two make sure the guests and L2 images are wanted.
"$top/images/l1-initramfs.sh" "$out.base" "$mv_bin" tiny-hello-pvh linux-poweroff >/dev/null

root=$(mktemp -d "${TMPDIR:-/tmp}/bench-overlay.XXXXXX")
trap 'rm -rf "$root" "$root.cpio" "$out.base"' EXIT
mkdir -p "$root/usr/bin" "$root/opt/mv/qemu" "$root/etc"
# bundle BINARY - BINARY into /usr/bin, its libraries at their own paths.
# bundle BINARY [ROOT [DIR]] - BINARY into ROOT/DIR (default $root/usr/bin),
# its libraries at their own paths under ROOT.
bundle()
{
	r=${2:-$root}
	mkdir -p "$r${3:-/usr/bin}"
	cp "$1" "$r${3:-/usr/bin}/"
	for f in $(ldd "$1" | awk '/=> \// { print $3 } /^\t\// { print $1 }') \
		/lib/x86_64-linux-gnu/libgcc_s.so.1; do
		[ -e "$f" ] || continue
		mkdir -p "$r$(dirname "$f")"
		cp -L "$f" "$r$f"
	done
}
bundle "$qemu"
# The diag case also straces one microvm start, when the host has strace.
case ",$cases," in
*,diag,*) ! command -v strace >/dev/null || bundle "$(command -v strace)" ;;
esac
# The storage, net and vsock cases boot the guest with fio, iperf3 and socat
# (/opt/mv/benchtools.cpio, uncompressed, in /bin); L1 runs iperf3's server
# and socat sinks.
case ",$cases," in
*,storage,* | *,net,* | *,vsock,*)
	froot=$root.tools
	rm -rf "$froot"
	for t in fio iperf3 socat; do
		p=$(command -v $t) || {
			echo "bench: $t not installed (apt-get install $t)" >&2
			exit 1
		}
		bundle "$p" "$froot" /bin
	done
	bundle "$(command -v iperf3)"
	bundle "$(command -v socat)"
	(cd "$froot" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0) >"$root/opt/mv/benchtools.cpio"
	rm -rf "$froot"
	;;
esac
for f in $firmware; do
	cp "$qshare/$f" "$root/opt/mv/qemu/"
done
cp "$probe" "$root/opt/mv/launch_probe"
cp "$top/tests/bench/l1-bench.sh" "$root/opt/mv/l1-tests.sh"
echo "n=$n cases=$cases" >"$root/etc/mvcases"

(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0) >"$root.cpio"
cat "$out.base" "$root.cpio" >"$out"
rm -f "$root.cpio"
echo "$out"
