#!/bin/sh
# images/l2-initramfs.sh - the L2 guest's initramfs: busybox-static plus
# images/l2-init as /init (the in-guest checks).  Output: initramfs.cpio.gz,
# and initramfs-tools.cpio.gz: the same followed by a second archive with
# util-linux's fallocate (busybox's has no -z/-p, which the write-zeroes check
# needs), socat (TCP with half-close, AF_VSOCK) and ethtool (queue counts),
# with the libraries they load.  Kept apart so the boot every other case (and
# the boot benchmark) pays for stays small.
# Usage: images/l2-initramfs.sh      prints the output folder
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
BB_VER=$(img_installed_version busybox-static)
UL_VER=$(img_installed_version util-linux)
SOCAT_VER=$(img_installed_version socat)
ETHTOOL_VER=$(img_installed_version ethtool)
img_installed_version cpio >/dev/null
img_begin l2-initramfs "$(img_key "$(img_code "$0")" "$(img_code "$HERE/l2-init")" "$BB_VER" "$UL_VER" "$SOCAT_VER" "$ETHTOOL_VER")"

root=$TMP/root
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for a in $("$root/bin/busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
done
cp "$HERE/l2-init" "$root/init"
chmod 755 "$root/init"
# With this node the kernel gives /init a console before devtmpfs is mounted.
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
write_cpio()
{
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0 --reproducible)
}
find "$root" -exec touch -h -d @0 {} +
write_cpio "$root" | gzip -n -9 >"$TMP/initramfs.cpio.gz"
rm -rf "$root"
# Not in /bin: busybox's shell runs its own applet for a bare "fallocate"
# whatever PATH says (FEATURE_SH_STANDALONE); callers use /usr/bin/fallocate.
tools=$TMP/tools
img_bundle "$tools" /usr/bin/fallocate /usr/bin
img_bundle "$tools" /usr/bin/socat /bin
img_bundle "$tools" /usr/sbin/ethtool /bin
find "$tools" -exec touch -h -d @0 {} +
{
	cat "$TMP/initramfs.cpio.gz"
	write_cpio "$tools" | gzip -n -9
} >"$TMP/initramfs-tools.cpio.gz"
rm -rf "$tools"
img_finish l2-initramfs
