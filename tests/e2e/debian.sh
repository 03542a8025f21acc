#!/usr/bin/env bash
# End-to-end check of `gild build` against real Debian artifacts and stock tools.
#
# Run as root on Debian 12 with: debootstrap libarchive-tools mtree-netbsd minisign
# (plus tar, zstd, gzip, xz-utils, dpkg, apt, which Debian has). Network is needed for
# debootstrap and `apt-get download` unless the cache below already holds them.
#
#   GILD              the gild binary (default: REPO/target/release/gild)
#   GILD_E2E_CACHE    a directory to keep base.tar (the debootstrapped root) and the .debs in
#                     between runs; empty or unset: nothing is kept
#   GILD_E2E_MIRROR   Debian mirror (default http://deb.debian.org/debian)
#   GILD_E2E_KEEP=1   keep the scratch directory (its path is printed) for a post-mortem
#
# What it does: debootstraps a bookworm minbase root and packs it with GNU tar as the base
# (.tar.zst, prehashed signature); turns three real packages that ship files under /lib,
# /bin and /sbin into patch layers (liblzma5: .tar.gz with a legacy signature; libproc2-0:
# .tar.xz signed by two keys, threshold 2; kmod: plain .tar); writes a workspace and runs
# `gild build`, then checks the image with GNU tar, NetBSD mtree and bsdtar, against a tree
# built independently with GNU tar, and for reproducibility. Prints `ok - ...` per check
# and stops with `not ok - ...` (exit 1) on the first failure.

set -eu
set -o pipefail

started=$(date +%s)
here=$(cd "$(dirname "$0")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
gild=${GILD:-$repo/target/release/gild}
case $gild in /*) ;; *) gild=$PWD/$gild ;; esac
mirror=${GILD_E2E_MIRROR:-http://deb.debian.org/debian}
cache=${GILD_E2E_CACHE:-}

export LC_ALL=C
umask 022

ok() { echo "ok - $*"; }

fail() {
	echo "not ok - $1" >&2
	shift
	for line in "$@"; do echo "  $line" >&2; done
	exit 1
}

# show_file LABEL FILE: print up to 40 lines of FILE, indented, to stderr
show_file() {
	if [ -s "$2" ]; then
		echo "  --- $1 ($2):" >&2
		head -n 40 "$2" | sed 's/^/    /' >&2
	fi
}

trap 'echo "not ok - unexpected failure (line $LINENO): $BASH_COMMAND" >&2' ERR

# ---------------------------------------------------------------------------------------
# Preconditions

[ "$(id -u)" = 0 ] || fail "must run as root (debootstrap, and GNU tar keeping owners and device nodes)"
for tool in debootstrap tar zstd gzip xz minisign mtree bsdtar dpkg-deb apt-get sha256sum cmp base64; do
	command -v "$tool" >/dev/null || fail "missing tool: $tool" \
		"apt-get install -y debootstrap libarchive-tools mtree-netbsd minisign zstd xz-utils"
done
[ -x "$gild" ] || fail "no gild binary at $gild" "build it with: cargo build --release (or set GILD)"

scratch=$(mktemp -d /tmp/gild-e2e.XXXXXX)
cleanup() {
	if [ "${GILD_E2E_KEEP:-}" = 1 ]; then
		echo "# kept $scratch" >&2
		return
	fi
	# debootstrap mounts proc/sys in the target; never delete through a mount
	local m
	for m in $(findmnt -rn -o TARGET | grep -F "$scratch/" | sort -r || true); do
		umount -l "$m" || true
	done
	rm -rf --one-file-system "$scratch" || echo "# could not remove $scratch" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

work=$scratch/template        # the pristine workspace, copied before each fresh build
mkdir -p "$work/recipes" "$work/keys" "$work/artifacts" "$scratch/secret" "$scratch/layers"

# ---------------------------------------------------------------------------------------
# 1. The base: a debootstrapped bookworm minbase, packed with GNU tar

if [ -n "$cache" ] && [ -s "$cache/base.tar" ]; then
	base_tar=$cache/base.tar
	ok "base: reusing $base_tar"
else
	rootfs=$scratch/rootfs
	t=$(date +%s)
	if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$scratch/debootstrap.log" 2>&1; then
		tail -n 30 "$scratch/debootstrap.log" >&2
		fail "debootstrap --variant=minbase bookworm $rootfs $mirror failed (log above)"
	fi
	if findmnt -rn -o TARGET | grep -qF "$rootfs/"; then
		fail "debootstrap left mounts under $rootfs" "$(findmnt -rn -o TARGET | grep -F "$rootfs/")"
	fi
	# like any golden image: no downloaded .debs in it
	find "$rootfs/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -delete
	base_tar=$scratch/base.tar
	tar --numeric-owner --xattrs -C "$rootfs" -cf "$base_tar" .
	rm -rf --one-file-system "$rootfs"
	if [ -n "$cache" ]; then
		mkdir -p "$cache"
		cp "$base_tar" "$cache/base.tar.tmp.$$"
		mv "$cache/base.tar.tmp.$$" "$cache/base.tar"
	fi
	ok "base: debootstrap minbase bookworm packed with GNU tar ($(( $(date +%s) - t ))s)"
fi
zstd -q -o "$work/artifacts/base.tar.zst" "$base_tar"

# ---------------------------------------------------------------------------------------
# 2. Patches: real packages' payloads (dpkg-deb --fsys-tarfile)

packages="liblzma5 libproc2-0 kmod"
debdir=${cache:+$cache/debs}
debdir=${debdir:-$scratch/debs}
mkdir -p "$debdir"

# find_deb PKG: print the path of PKG's .deb in $debdir (the last if several), or nothing
find_deb() {
	find "$debdir" -maxdepth 1 -name "$1_*.deb" | sort | tail -n 1
}

missing=
for p in $packages; do [ -n "$(find_deb "$p")" ] || missing="$missing $p"; done
if [ -n "$missing" ]; then
	# shellcheck disable=SC2086 # word splitting wanted
	if ! (cd "$debdir" && apt-get -q -o APT::Sandbox::User=root download $missing) >"$scratch/apt.log" 2>&1; then
		apt-get -q update >>"$scratch/apt.log" 2>&1 || true
		# shellcheck disable=SC2086
		(cd "$debdir" && apt-get -q -o APT::Sandbox::User=root download $missing) >>"$scratch/apt.log" 2>&1 ||
			{ show_file "apt log" "$scratch/apt.log"; fail "apt-get download$missing failed"; }
	fi
fi
for p in $packages; do
	deb=$(find_deb "$p")
	[ -n "$deb" ] || fail "no .deb for $p in $debdir"
	dpkg-deb --fsys-tarfile "$deb" >"$scratch/layers/$p.tar"
done
gzip -n -9 -c "$scratch/layers/liblzma5.tar" >"$work/artifacts/liblzma5.tar.gz"
xz -c "$scratch/layers/libproc2-0.tar" >"$work/artifacts/libproc2-0.tar.xz"
cp "$scratch/layers/kmod.tar" "$work/artifacts/kmod.tar"
ok "patches: $(cd "$debdir" && for p in $packages; do basename "$(find_deb "$p")"; done | tr '\n' ' ')-> .tar.gz, .tar.xz, .tar"

# ---------------------------------------------------------------------------------------
# 3. Keys and signatures (the minisign CLI)

for k in vendor cab; do
	minisign -G -W -p "$work/keys/$k.pub" -s "$scratch/secret/$k.key" </dev/null >/dev/null ||
		fail "minisign -G -W failed for key $k"
done

# sign KEY FILE SIGFILE COMMENT [-l]
sign() {
	minisign -S -s "$scratch/secret/$1.key" -m "$2" -x "$3" -t "$4" ${5:+"$5"} </dev/null >/dev/null ||
		fail "minisign -S -s $1.key -m $2 failed"
	minisign -Vq -p "$work/keys/$1.pub" -m "$2" -x "$3" >/dev/null ||
		fail "minisign -V rejects the signature it just made: $3"
}
# sig_alg SIGFILE: the signature algorithm, ED (prehashed) or Ed (legacy)
sig_alg() { sed -n 2p "$1" | base64 -d | head -c 2; }

a=$work/artifacts
sign vendor "$a/base.tar.zst" "$a/base.tar.zst.minisig" "debian 12 minbase, gild e2e"
sign vendor "$a/liblzma5.tar.gz" "$a/liblzma5.tar.gz.minisig" "liblzma5 from bookworm" -l
sign vendor "$a/libproc2-0.tar.xz" "$a/libproc2-0.tar.xz.minisig" "libproc2-0 from bookworm"
sign cab "$a/libproc2-0.tar.xz" "$a/libproc2-0.tar.xz.cab.minisig" "CHG-E2E-2 approved by the board"
sign vendor "$a/kmod.tar" "$a/kmod.tar.minisig" "kmod from bookworm"
[ "$(sig_alg "$a/base.tar.zst.minisig")" = ED ] || fail "fixture: base signature is not prehashed (ED)"
[ "$(sig_alg "$a/liblzma5.tar.gz.minisig")" = Ed ] || fail "fixture: liblzma5 signature is not legacy (Ed)"
ok "keys and signatures made with the minisign CLI (prehashed base, legacy liblzma5, 2 keys on libproc2-0)"

# ---------------------------------------------------------------------------------------
# 4. The workspace and the build

sha() { sha256sum "$1" | cut -d ' ' -f 1; }
cab_key=$(sed -n 2p "$work/keys/cab.pub" | tr -d '\r')

cat >"$work/recipes/deb.toml" <<EOF
# gild end-to-end check: a Debian 12 minbase with three real packages layered on
[image]
name = "deb"
version = "1.0.0"
epoch = 1700000000
formats = ["tar.zst"]

[keys]
vendor = { file = "../keys/vendor.pub" }
cab = { key = "$cab_key" }

[base]
artifact = "../artifacts/base.tar.zst"
sha256 = "$(sha "$a/base.tar.zst")"
signed-by = ["vendor"]

[[patch]]
id = "DEB-LIBLZMA5"
artifact = "../artifacts/liblzma5.tar.gz"
sha256 = "$(sha "$a/liblzma5.tar.gz")"
signed-by = ["vendor"]
severity = "high"
fixes = ["CVE-2022-1271"]
released = 2023-06-10
approval = { change = "CHG-E2E-1", by = "e2e", date = 2023-06-12 }
backout = "Rebuild without DEB-LIBLZMA5."

[[patch]]
id = "DEB-LIBPROC2"
artifact = "../artifacts/libproc2-0.tar.xz"
sha256 = "$(sha "$a/libproc2-0.tar.xz")"
signed-by = ["vendor", "cab"]
threshold = 2
signatures = ["../artifacts/libproc2-0.tar.xz.minisig", "../artifacts/libproc2-0.tar.xz.cab.minisig"]
severity = "medium"
fixes = ["CVE-2023-4016"]
approval = { change = "CHG-E2E-2", by = "e2e", date = 2023-09-01 }

[[patch]]
id = "DEB-KMOD"
artifact = "../artifacts/kmod.tar"
sha256 = "$(sha "$a/kmod.tar")"
signed-by = ["vendor"]
severity = "low"
fixes = ["DEB-0000-KMOD"]
approval = { change = "CHG-E2E-3", by = "e2e", date = 2023-09-02 }
EOF

ws=$scratch/ws
cp -a "$work" "$ws"
img=$ws/out/deb-1.0.0.tar.zst
spec=$ws/baselines/deb/1.0.0/files.mtree

# gild_in DIR LOG ARGS...: run gild ARGS in DIR; stdout to LOG.out, stderr to LOG.err
gild_in() {
	local dir=$1 log=$2
	shift 2
	(cd "$dir" && "$gild" "$@") >"$log.out" 2>"$log.err"
}

# gild_failed WHAT LOG RC: report a failed gild run and stop
gild_failed() {
	show_file stdout "$2.out"
	show_file stderr "$2.err"
	fail "$1 (exit $3)"
}

rc=0
gild_in "$ws" "$scratch/verify" verify recipes/deb.toml || rc=$?
[ "$rc" = 0 ] || gild_failed "gild verify recipes/deb.toml in $ws" "$scratch/verify" "$rc"
ok "gild verify accepts the base and the three patches"

t=$(date +%s)
rc=0
TZ=UTC gild_in "$ws" "$scratch/build1" build recipes/deb.toml || rc=$?
[ "$rc" = 0 ] || gild_failed "gild build recipes/deb.toml in $ws" "$scratch/build1" "$rc"
grep -q '^built deb 1\.0\.0' "$scratch/build1.out" ||
	{ show_file stdout "$scratch/build1.out"; fail "gild build: stdout does not start with 'built deb 1.0.0'"; }
[ -f "$img" ] || fail "gild build exited 0 but wrote no $img" "$(ls -la "$ws/out" 2>&1)"
[ -f "$spec" ] || fail "gild build exited 0 but wrote no $spec"
ok "gild build exits 0: $(basename "$img"), $(stat -c %s "$img") bytes ($(( $(date +%s) - t ))s)"

# ---------------------------------------------------------------------------------------
# 5. The image, checked with stock tools

x=$scratch/image-root
mkdir "$x"
rc=0
tar --zstd -xf "$img" -C "$x" 2>"$scratch/tar-x.err" || rc=$?
[ "$rc" = 0 ] || { show_file stderr "$scratch/tar-x.err"; fail "GNU tar --zstd -xf $img exits $rc"; }
[ ! -s "$scratch/tar-x.err" ] || { show_file stderr "$scratch/tar-x.err"; fail "GNU tar -x of the image writes to stderr"; }
ok "GNU tar extracts the image without a word on stderr"

# the base's top-level symlinks (lib -> usr/lib, bin -> usr/bin, ...) are kept
links=0
while read -r mode _ _ _ _ name _ target; do
	case $mode in l*) ;; *) continue ;; esac
	case $name in ./*/* | */) continue ;; esac
	[ -L "$x/$name" ] || fail "$name is no longer a symlink in the image (base: $name -> $target)" \
		"$(ls -ld "$x/$name" 2>&1)"
	[ "$(readlink "$x/$name")" = "$target" ] ||
		fail "$name -> $(readlink "$x/$name") in the image, $target in the base"
	links=$((links + 1))
done < <(tar -tvf "$base_tar" --numeric-owner)
[ -L "$x/lib" ] || fail "the base has no lib symlink? (fixture problem)"
ok "the image keeps the base's $links top-level symlinks (lib -> $(readlink "$x/lib"), ...)"

# every file each patch ships is in the image with the package's bytes, at the path
# reached through those symlinks (./lib/x86_64-linux-gnu/liblzma.so.5.4.1 -> usr/lib/...)
declare -A seen=()
nfiles=0
for p in kmod libproc2-0 liblzma5; do        # last layer first: it wins
	d=$scratch/layers/$p.d
	mkdir "$d"
	tar -xf "$scratch/layers/$p.tar" -C "$d"
	while IFS= read -r -d '' f; do
		f=${f#"$d"/}
		# parent components resolved in the image (lib -> usr/lib), the name itself not
		real=$(realpath -m --relative-to="$x" "$x/$(dirname "$f")")/$(basename "$f")
		real=${real#./}
		[ -z "${seen[$real]:-}" ] || continue
		seen[$real]=$p
		if [ -L "$x/$real" ] || [ ! -f "$x/$real" ]; then
			fail "$p's ./$f is not a file at $real in the image" "$(ls -ld "$x/$real" 2>&1)"
		fi
		cmp -s "$d/$f" "$x/$real" || fail "$real in the image differs from $p's ./$f"
		nfiles=$((nfiles + 1))
	done < <(find "$d" -type f -print0)
done
lzma=$(cd "$scratch/layers/liblzma5.d" && find lib -type f -name 'liblzma.so.5.*' | head -n 1)
[ -n "$lzma" ] || fail "fixture: liblzma5 ships no lib/*/liblzma.so.5.*"
[ -f "$x/usr/$lzma" ] || fail "usr/$lzma missing from the image"
ok "the patches' $nfiles files are in the image with the packages' bytes (usr/$lzma, ...)"

# NetBSD mtree exits 0 on missing and extra entries: its output must be empty too
rc=0
mtree -e -f "$spec" -p "$x" >"$scratch/mtree-x.out" 2>&1 || rc=$?
if [ "$rc" != 0 ] || [ -s "$scratch/mtree-x.out" ]; then
	show_file "mtree output" "$scratch/mtree-x.out"
	fail "mtree -e -f files.mtree -p IMAGE-ROOT exits $rc or reports differences"
fi
ok "NetBSD mtree: the extracted image matches files.mtree"

rc=0
bsdtar -tf "$spec" >"$scratch/bsdtar.out" 2>"$scratch/bsdtar.err" || rc=$?
if [ "$rc" != 0 ] || [ -s "$scratch/bsdtar.err" ]; then
	show_file stderr "$scratch/bsdtar.err"
	fail "bsdtar -tf files.mtree exits $rc or writes to stderr"
fi
n_spec=$(wc -l <"$scratch/bsdtar.out")
n_img=$(tar --zstd -tf "$img" | wc -l)
[ "$n_spec" = "$n_img" ] || fail "bsdtar reads $n_spec entries from files.mtree, the image has $n_img"
ok "bsdtar reads files.mtree: $n_spec entries, as many as the image"
# Each extracted tree is removed once it is judged: CI machines may have little disk to spare.
rm -rf --one-file-system "$x"

# an independently built tree: GNU tar, base then each patch with --keep-directory-symlink
tree=$scratch/tar-root
mkdir "$tree"
tar --numeric-owner -xpf "$base_tar" -C "$tree"
for p in liblzma5 libproc2-0 kmod; do
	tar --numeric-owner --keep-directory-symlink -xpf "$scratch/layers/$p.tar" -C "$tree"
done
if [ ! -d "$tree/etc/gild" ]; then
	mkdir -m 0755 "$tree/etc/gild"
	chown 0:0 "$tree/etc/gild"
fi
printf 'name = "deb"\nversion = "1.0.0"\n' >"$tree/etc/gild/release"
chmod 0644 "$tree/etc/gild/release"
chown 0:0 "$tree/etc/gild/release"
rc=0
mtree -e -f "$spec" -p "$tree" >"$scratch/mtree-tree.out" 2>&1 || rc=$?
if [ "$rc" != 0 ] || [ -s "$scratch/mtree-tree.out" ]; then
	show_file "mtree output" "$scratch/mtree-tree.out"
	fail "mtree -e -f files.mtree -p GNU-TAR-TREE exits $rc or reports differences (GNU tar --keep-directory-symlink disagrees with gild)"
fi
ok "NetBSD mtree: a tree built with GNU tar --keep-directory-symlink matches files.mtree"
rc=0
mtree -f "$spec" -p "$tree" >"$scratch/mtree-tree-strict.out" 2>&1 || rc=$?
if [ "$rc" != 0 ] || [ -s "$scratch/mtree-tree-strict.out" ]; then
	show_file "mtree output" "$scratch/mtree-tree-strict.out"
	fail "mtree -f files.mtree -p GNU-TAR-TREE (no -e) exits $rc or reports differences: the GNU tar tree has entries the image lacks"
fi
ok "NetBSD mtree (no -e): the image drops nothing the GNU tar tree has"
rm -rf --one-file-system "$tree"

# install.sh: a host built from the base by script reaches the image's tree (dash, busybox sh)
for shell in dash "busybox sh"; do
	command -v "${shell%% *}" >/dev/null 2>&1 || { echo "skipped - install.sh under $shell: not installed"; continue; }
	host=$scratch/host-${shell%% *}
	mkdir "$host"
	tar --numeric-owner -xpf "$base_tar" -C "$host"
	rc=0
	ROOT=$host ARTIFACTS=$work/artifacts $shell "$ws/baselines/deb/1.0.0/install.sh" >"$scratch/install.out" 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then
		show_file "install.sh output" "$scratch/install.out"
		fail "install.sh under $shell exits $rc"
	fi
	rc=0
	mtree -f "$spec" -p "$host" >"$scratch/mtree-host.out" 2>&1 || rc=$?
	if [ "$rc" != 0 ] || [ -s "$scratch/mtree-host.out" ]; then
		show_file "mtree output" "$scratch/mtree-host.out"
		fail "mtree -f files.mtree -p HOST (no -e): install.sh under $shell did not give the image's tree"
	fi
	ok "install.sh under $shell: the base plus the script is exactly the image's tree"
	rm -rf --one-file-system "$host"
done

# ---------------------------------------------------------------------------------------
# Reproducibility

img_sum=$(sha "$img")
base_sums=$(cd "$ws/baselines/deb/1.0.0" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
rc=0
TZ=UTC gild_in "$ws" "$scratch/build2" build recipes/deb.toml || rc=$?
[ "$rc" = 0 ] || gild_failed "second gild build recipes/deb.toml in $ws" "$scratch/build2" "$rc"
grep -q '^unchanged deb 1\.0\.0' "$scratch/build2.out" ||
	{ show_file stdout "$scratch/build2.out"; fail "second build: stdout does not start with 'unchanged deb 1.0.0'"; }
[ "$(sha "$img")" = "$img_sum" ] || fail "second build changed the image bytes"
[ "$(cd "$ws/baselines/deb/1.0.0" && find . -type f -print0 | sort -z | xargs -0 sha256sum)" = "$base_sums" ] ||
	fail "second build rewrote baselines/deb/1.0.0"
ok "building again is 'unchanged', the image and baseline untouched"

ws2=$scratch/elsewhere/another/workspace
mkdir -p "$(dirname "$ws2")"
cp -a "$work" "$ws2"
rc=0
(
	umask 077
	TZ=Asia/Tokyo gild_in "$ws2" "$scratch/build3" build recipes/deb.toml
) || rc=$?
[ "$rc" = 0 ] || gild_failed "gild build under TZ=Asia/Tokyo umask 077 in $ws2" "$scratch/build3" "$rc"
img2=$ws2/out/deb-1.0.0.tar.zst
[ -f "$img2" ] || fail "gild build in $ws2 wrote no $img2"
cmp "$img" "$img2" >&2 || fail "images differ between $ws (TZ=UTC, umask 022) and $ws2 (TZ=Asia/Tokyo, umask 077)"
cmp "$spec" "$ws2/baselines/deb/1.0.0/files.mtree" >&2 || fail "files.mtree differs between the two workspaces"
ok "another workspace, TZ=Asia/Tokyo, umask 077: byte-identical image and files.mtree"

ok "debian e2e: all checks passed in $(( $(date +%s) - started ))s"
