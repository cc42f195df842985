# images/lib.sh - helpers shared by the image recipes (sourced, not run).
#
# Every recipe caches its output in $IMAGES_DIR/<name>-<key>/ where <key> hashes
# the recipe's inputs (its own script text, the Debian package versions it uses,
# the compiler).  A finished folder holds a .done file; a recipe whose folder is
# done only prints the path, so `make images` twice builds nothing the second time.
# Recipes print the output folder on stdout and log on stderr.

set -eu

IMAGES_ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGES_DIR=${IMAGES_DIR:-$IMAGES_ROOT/build/images}
mkdir -p "$IMAGES_DIR"
IMAGES_DIR=$(cd "$IMAGES_DIR" && pwd)

img_log()
{
	echo "images: $*" >&2
}

img_die()
{
	echo "images: error: $*" >&2
	exit 1
}

# img_key TEXT... - short sha256 of the arguments (file contents are passed
# by the caller as text so a renamed-but-equal script keeps its cache).
img_key()
{
	printf '%s\n' "$@" | sha256sum | cut -c1-16
}

# img_code FILE - FILE without comment-only lines and blank lines, so that
# editing a comment does not throw away a 10-minute kernel build.
img_code()
{
	grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$1"
}

# img_pkg_version PKG - candidate version from the apt lists.  A fresh CI
# machine may have empty lists, so refresh them once on a miss.
img_pkg_version()
{
	v=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }')
	if [ -z "$v" ] || [ "$v" = "(none)" ]; then
		apt-get update -qq >&2 || true
		v=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }')
	fi
	[ -n "$v" ] && [ "$v" != "(none)" ] || img_die "package $1 not found in apt lists"
	echo "$v"
}

# img_installed_version PKG - version of an installed package, installing it
# if missing (CI runs as root).
img_installed_version()
{
	if ! dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; then
		img_log "installing $1"
		apt-get install -y -qq "$1" >&2 || {
			apt-get update -qq >&2
			apt-get install -y -qq "$1" >&2
		}
	fi
	dpkg-query -W -f='${Version}' "$1"
}

# img_begin NAME KEY - sets OUT (final folder) and TMP (work folder); exits
# after printing OUT when that is already built.  A lock keeps two parallel
# callers (make -j2, two runs) from building the same thing twice.
img_begin()
{
	OUT=$IMAGES_DIR/$1-$2
	if [ -f "$OUT/.done" ]; then
		echo "$OUT"
		exit 0
	fi
	exec 9>"$IMAGES_DIR/.lock-$1"
	flock 9
	if [ -f "$OUT/.done" ]; then
		echo "$OUT"
		exit 0
	fi
	TMP=$IMAGES_DIR/.tmp-$1-$2
	rm -rf "$TMP" "$OUT"
	mkdir -p "$TMP"
}

# img_finish NAME - publish TMP as OUT, point $IMAGES_DIR/NAME at it and drop
# older builds of NAME (they are big and never used again).
img_finish()
{
	touch "$TMP/.done"
	mv "$TMP" "$OUT"
	ln -sfn "$(basename "$OUT")" "$IMAGES_DIR/$1"
	for old in "$IMAGES_DIR/$1"-* "$IMAGES_DIR/.tmp-$1"-*; do
		[ "$old" = "$OUT" ] || rm -rf "$old"
	done
	echo "$OUT"
}

# img_bundle ROOT BINARY DIR - BINARY into ROOT/DIR, the shared libraries ldd
# names (and the dynamic loader) at their own paths under ROOT.
img_bundle()
{
	mkdir -p "$1$3"
	cp "$2" "$1$3/"
	for f in $(ldd "$2" | awk '/=> \// { print $3 } /^\t\// { print $1 }'); do
		mkdir -p "$1$(dirname "$f")"
		cp -L "$f" "$1$f"
	done
}
