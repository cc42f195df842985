#!/bin/sh
# images/l1-initramfs.sh - pack the L1 initramfs for one nested test run:
# busybox-static, images/l1-init as /init, the kvm modules, the microvm binary
# under test with its shared libraries, the L2 kernel and initramfs, the tiny
# test guests (build/guests/*, if built) and tests/integration/l1-tests.sh.
# Not cached: it holds the binary under test, and packing takes a second.
# The archive is left uncompressed: L1 unpacks it at emulation speed.
#
# Usage: [MVREPEAT=N] images/l1-initramfs.sh OUT.cpio MICROVM|none [CASE...]
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || img_die "usage: $0 OUT.cpio MICROVM|none [CASE...]"
out=$1
mv_bin=$2
shift 2

l1k=$("$IMAGES_ROOT/images/l1-kernel.sh")
l2k=$("$IMAGES_ROOT/images/l2-kernel.sh")
l2i=$("$IMAGES_ROOT/images/l2-initramfs.sh")

root=$IMAGES_DIR/l1-root
rm -rf "$root"
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" \
	"$root/etc" "$root/lib/mvmodules" "$root/opt/mv/l2" "$root/opt/mv/guests"
cp /bin/busybox "$root/bin/busybox"
for a in $("$root/bin/busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
done
cp "$IMAGES_ROOT/images/l1-init" "$root/init"
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
cp "$l1k"/modules/*.ko "$l1k/modules.load" "$root/lib/mvmodules/"
cp "$l2k/bzImage" "$l2k/vmlinux" "$l2i/initramfs.cpio.gz" "$l2i/initramfs-tools.cpio.gz" \
	"$root/opt/mv/l2/"
cp "$IMAGES_ROOT/tests/integration/l1-tests.sh" "$root/opt/mv/"
if [ -d "$IMAGES_ROOT/build/guests" ]; then
	find "$IMAGES_ROOT/build/guests" -maxdepth 1 -type f \
		\( -name '*.elf' -o -name '*.bin' \) -exec cp {} "$root/opt/mv/guests/" \;
fi
echo "$*" >"$root/etc/mvcases"
echo "${MVREPEAT:-1}" >"$root/etc/mvrepeat"

# The binary keeps its own path layout for libraries: copy each file ldd
# names (and the loader) to the same path in L1, plus libgcc_s.so.1, which
# glibc dlopens for pthread cancellation and ldd does not list.
if [ "$mv_bin" != none ]; then
	[ -x "$mv_bin" ] || img_die "microvm binary $mv_bin not found or not executable"
	cp "$mv_bin" "$root/opt/mv/microvm"
	if ldd "$mv_bin" >/dev/null 2>&1; then
		libs=$(ldd "$mv_bin" | awk '/=> \// { print $3 } /^\t\// { print $1 }')
		for f in $libs /lib/x86_64-linux-gnu/libgcc_s.so.1; do
			[ -e "$f" ] || continue
			mkdir -p "$root$(dirname "$f")"
			cp -L "$f" "$root$f"
		done
		img_log "bundled microvm with: $(echo $libs | tr '\n' ' ')"
	else
		img_log "microvm is static; no libraries bundled"
	fi
fi

# The API suite's running mode (tests/api), when built: it drives microvm's REST API in L1.
if [ -x "$IMAGES_ROOT/build/release/tests/api/api_suite" ]; then
	img_bundle "$root" "$IMAGES_ROOT/build/release/tests/api/api_suite" /opt/mv
fi

# socat: the L1 end of the network and vsock tests (TCP with half-close, the
# vsock device's UNIX sockets).
img_installed_version socat >/dev/null
img_bundle "$root" /usr/bin/socat /usr/bin

(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0) >"$out"
rm -rf "$root"
echo "$out"
