#!/bin/sh
# images/l1-kernel.sh - the L1 kernel for the nested harness: Debian 12's
# newest cloud kernel (6.1 if offered, else 6.12) plus the modules that give L1
# a /dev/kvm (kvm-amd and what modules.dep says it needs) and /dev/net/tun (tun,
# for the virtio-net tests) and vhost-vsock (QEMU's vsock in make bench), decompressed because
# busybox insmod reads plain .ko files.  Nothing is installed on the host: the
# .deb is fetched with apt-get download and unpacked with dpkg-deb -x.
#
# Output folder: vmlinuz, modules/*.ko, modules.load (insmod order), version.
# Usage: images/l1-kernel.sh      prints the output folder
. "$(dirname "$0")/lib.sh"

WANT="kvm-amd tun vhost-vsock"

pick()
{
	apt-cache search --names-only "$1" 2>/dev/null | awk '{ print $1 }' | sort -V | tail -n1
}

# Signed images only (no -unsigned/-dbg): the same kernel, one package each.
find_pkg()
{
	p=$(pick '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$')
	[ -n "$p" ] || p=$(pick '^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64$')
	echo "$p"
}

PKG=$(find_pkg)
if [ -z "$PKG" ]; then
	apt-get update -qq >&2 || true
	PKG=$(find_pkg)
fi
[ -n "$PKG" ] || img_die "no Debian cloud kernel package found"
VER=$(img_pkg_version "$PKG")
img_begin l1-kernel "$(img_key "$(img_code "$0")" "$PKG" "$VER")"

img_log "fetching $PKG $VER"
cd "$TMP" || exit
# The _apt sandbox user cannot write into build/: download as root.
apt-get download -qq -o APT::Sandbox::User=root "$PKG=$VER" >&2
dpkg-deb -x "$PKG"_*.deb root
rm -f "$PKG"_*.deb

cp root/boot/vmlinuz-* vmlinuz
kdir=$(echo root/lib/modules/*)
basename "$kdir" >version
# The .deb ships no modules.dep (the postinst makes it): make it here.
[ -f "$kdir/modules.dep" ] || depmod -b root "$(cat version)"

# Resolve dependencies depth first so each module follows what it needs.
deps_of()
{
	awk -v m="$1" -F': *' '$1 == m { print $2 }' "$kdir/modules.dep"
}
path_of()
{
	awk -v n="$1" -F: '{ f = $1; sub(".*/", "", f); sub("\\.ko.*", "", f);
		gsub("_", "-", f); if (f == n) print $1 }' "$kdir/modules.dep"
}
resolve()
{
	for d in $(deps_of "$1"); do
		resolve "$d"
	done
	grep -qx "$1" load.tmp 2>/dev/null || echo "$1" >>load.tmp
}
mkdir modules
for m in $WANT; do
	p=$(path_of "$m")
	[ -n "$p" ] || img_die "module $m not in $kdir/modules.dep"
	resolve "$p"
done
while read -r p; do
	f=$(basename "$p")
	case $f in
	*.ko.xz) xz -dc "$kdir/$p" >"modules/${f%.xz}" ;;
	*.ko.zst) zstd -qdc "$kdir/$p" >"modules/${f%.zst}" ;;
	*.ko.gz) gzip -dc "$kdir/$p" >"modules/${f%.gz}" ;;
	*.ko) cp "$kdir/$p" modules/ ;;
	*) img_die "unexpected module file $p" ;;
	esac
	basename "${f%.ko*}.ko" >>modules.load
done <load.tmp
rm -rf root load.tmp
img_log "L1 kernel $(cat version), modules: $(tr '\n' ' ' <modules.load)"
img_finish l1-kernel
