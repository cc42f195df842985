#!/bin/sh
# Install what building and testing microvm needs on Debian 12, only what is missing.
# Used by `make deps` (and so by `make run` / `make test`) and by .ci/run.
set -eu
PKGS="gcc make pkg-config libseccomp-dev libcap-ng-dev libjson-c-dev liburing-dev libhttp-parser-dev
      clang-14 libclang-rt-14-dev clang-format
      qemu-system-x86 busybox-static linux-source-6.1 bc flex bison libelf-dev libssl-dev
      cpio xz-utils zstd kmod fio util-linux socat ethtool"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "microvm needs these Debian packages:$missing (run as root or install them)" >&2
	exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
