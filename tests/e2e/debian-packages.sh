#!/usr/bin/env bash
# End-to-end check of Debian packages as patches (docs/debian.md) against real Debian 12 packages
# and real dpkg.
#
# Run as root on Debian 12 with: debootstrap zstd minisign (plus dpkg, apt, tar). Network is
# needed for debootstrap and `apt-get download` unless GILD_E2E_CACHE already holds them.
#
#   GILD              the gild binary (default: REPO/target/release/gild)
#   GILD_E2E_CACHE    a directory that keeps base.tar (the debootstrapped root) and the .debs
#   GILD_E2E_MIRROR   Debian mirror (default http://deb.debian.org/debian)
#   GILD_E2E_MAX      at most this many updates (default 15)
#   GILD_E2E_KEEP=1   keep the scratch directory for a post-mortem
#
# What it does: debootstraps a bookworm minbase root as the base; finds the packages of that
# root that have a newer version in the archive this machine's apt knows (bookworm-security,
# bookworm-updates); downloads those real .debs and makes each a signed patch; builds. Then:
# the same .debs are installed by real `dpkg -i` (chroot, maintainer scripts run) on a copy
# of the base, and gild's image must agree with it on the package database (`status`, every
# `info/*.list` and `*.md5sums`) and on every file the packages list; `dpkg --audit` is
# silent on the image, `dpkg-query -W` shows the new versions, `dpkg --verify` prints nothing
# it does not print for the base, and `sbom.cdx.json` lists exactly what `dpkg-query` lists.
# The image is also written as an OCI layout (docs/oci.md): skopeo must show its version and
# layer digest, and the tree umoci unpacks from it must be the one NetBSD mtree finds
# identical to files.mtree.
# Prints `ok - ...` per check and stops with `not ok - ...` (exit 1) on the first failure.

set -eu
set -o pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
gild=${GILD:-$repo/target/release/gild}
case $gild in /*) ;; *) gild=$PWD/$gild ;; esac
mirror=${GILD_E2E_MIRROR:-http://deb.debian.org/debian}
cache=${GILD_E2E_CACHE:-}
max=${GILD_E2E_MAX:-15}

export LC_ALL=C
umask 022

ok() { echo "ok - $*"; }
fail() {
	echo "not ok - $1" >&2
	shift
	for line in "$@"; do echo "  $line" >&2; done
	exit 1
}
show_file() {
	if [ -s "$2" ]; then
		echo "  --- $1 ($2):" >&2
		head -n 60 "$2" | sed 's/^/    /' >&2
	fi
}
trap 'echo "not ok - unexpected failure (line $LINENO): $BASH_COMMAND" >&2' ERR

[ "$(id -u)" = 0 ] || fail "must run as root (debootstrap, chroot, tar keeping owners)"
for tool in debootstrap tar zstd minisign dpkg dpkg-deb dpkg-query apt-get apt-cache chroot sha256sum skopeo umoci mtree; do
	command -v "$tool" >/dev/null || fail "missing tool: $tool" "apt-get install -y debootstrap minisign zstd skopeo umoci mtree-netbsd"
done
[ -x "$gild" ] || fail "no gild binary at $gild" "build it with: cargo build --release (or set GILD)"

scratch=$(mktemp -d /tmp/gild-e2e-deb.XXXXXX)
cleanup() {
	if [ "${GILD_E2E_KEEP:-}" = 1 ]; then
		echo "# kept $scratch" >&2
		return
	fi
	local m
	for m in $(findmnt -rn -o TARGET | grep -F "$scratch/" | sort -r || true); do
		umount -l "$m" || true
	done
	rm -rf --one-file-system "$scratch" || echo "# could not remove $scratch" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ws=$scratch/ws
mkdir -p "$ws/recipes" "$ws/keys" "$ws/artifacts" "$scratch/secret"

# ---------------------------------------------------------------------------------------
# 1. The base: a debootstrapped bookworm minbase

if [ -n "$cache" ] && [ -s "$cache/base.tar" ]; then
	base_tar=$cache/base.tar
	ok "base: reusing $base_tar"
else
	rootfs=$scratch/rootfs
	debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$scratch/debootstrap.log" 2>&1 ||
		{ show_file log "$scratch/debootstrap.log"; fail "debootstrap failed"; }
	find "$rootfs/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -delete
	base_tar=$scratch/base.tar
	tar --numeric-owner --xattrs -C "$rootfs" -cf "$base_tar" .
	rm -rf --one-file-system "$rootfs"
	if [ -n "$cache" ]; then
		mkdir -p "$cache"
		cp "$base_tar" "$cache/base.tar.tmp.$$" && mv "$cache/base.tar.tmp.$$" "$cache/base.tar"
	fi
	ok "base: debootstrap minbase bookworm"
fi
zstd -q -o "$ws/artifacts/base.tar.zst" "$base_tar"
base=$scratch/base
mkdir "$base"
tar --numeric-owner -xf "$base_tar" -C "$base"

# ---------------------------------------------------------------------------------------
# 2. The updates: every package of the base with a newer version in the archive

apt-get -q update >"$scratch/apt-update.log" 2>&1 || true
dpkg-query --admindir="$base/var/lib/dpkg" -W -f '${Package} ${Version} ${Architecture}\n' >"$scratch/base-packages"
: >"$scratch/updates"
while read -r pkg ver arch; do
	newest=$(apt-cache madison "$pkg" 2>/dev/null | awk -v a="$arch" '$0 ~ "Packages" && ($0 ~ a || $0 ~ "all") {print $3}' |
		sort -u | while read -r v; do echo "$v"; done | {
		best=$ver
		while read -r v; do dpkg --compare-versions "$v" gt "$best" && best=$v; done
		echo "$best"
	})
	[ "$newest" != "$ver" ] && echo "$pkg $ver $newest" >>"$scratch/updates"
done <"$scratch/base-packages"
[ -s "$scratch/updates" ] || fail "no package of the base has a newer version in the archive: nothing to test"
# Packages built from one source move together (libc6 and libc-bin, libsystemd0 and
# libudev1): take whole sources, the ones with most packages last, up to $max packages.
head -n "$max" "$scratch/updates" >"$scratch/chosen"
debdir=${cache:+$cache/debs}
debdir=${debdir:-$scratch/debs}
mkdir -p "$debdir"
while read -r pkg _ new; do
	file=$(find "$debdir" -maxdepth 1 -name "${pkg}_${new//:/%3a}_*.deb" | head -n 1)
	if [ -z "$file" ]; then
		(cd "$debdir" && apt-get -q -o APT::Sandbox::User=root download "$pkg=$new") >>"$scratch/download.log" 2>&1 ||
			{ show_file log "$scratch/download.log"; fail "apt-get download $pkg=$new failed"; }
	fi
done <"$scratch/chosen"
ok "updates: $(wc -l <"$scratch/chosen") packages with newer versions ($(cut -d' ' -f1 "$scratch/chosen" | tr '\n' ' '))"

# ---------------------------------------------------------------------------------------
# 3. Keys, signatures, the recipe

minisign -G -W -p "$ws/keys/vendor.pub" -s "$scratch/secret/vendor.key" </dev/null >/dev/null
sign() { minisign -S -s "$scratch/secret/vendor.key" -m "$1" -t "$2" </dev/null >/dev/null; }
sha() { sha256sum "$1" | cut -d ' ' -f 1; }
sign "$ws/artifacts/base.tar.zst" "debian 12 minbase, gild e2e"
# The OCI platform of this machine's Debian architecture (what debootstrap installed).
case $(dpkg --print-architecture) in
amd64) platform=linux/amd64 ;;
arm64) platform=linux/arm64/v8 ;;
armhf) platform=linux/arm/v7 ;;
i386) platform=linux/386 ;;
*) platform=linux/$(dpkg --print-architecture) ;;
esac
cat >"$ws/recipes/deb.toml" <<EOF
[image]
name = "deb"
version = "1.0.0"
epoch = 1700000000
formats = ["tar.zst", "oci"]
platform = "$platform"

[keys]
vendor = { file = "../keys/vendor.pub" }

[base]
artifact = "../artifacts/base.tar.zst"
sha256 = "$(sha "$ws/artifacts/base.tar.zst")"
signed-by = ["vendor"]
EOF
debs=()
while read -r pkg _ new; do
	src=$(find "$debdir" -maxdepth 1 -name "${pkg}_${new//:/%3a}_*.deb" | head -n 1)
	[ -n "$src" ] || fail "no .deb for $pkg $new in $debdir"
	cp "$src" "$ws/artifacts/"
	f=$ws/artifacts/$(basename "$src")
	debs+=("$f")
	sign "$f" "$(basename "$src")"
	cat >>"$ws/recipes/deb.toml" <<EOF

[[patch]]
id = "$pkg-$new"
artifact = "../artifacts/$(basename "$src")"
sha256 = "$(sha "$f")"
signed-by = ["vendor"]
severity = "high"
approval = { change = "CHG-E2E", by = "e2e", date = 2026-12-01 }
EOF
done <"$scratch/chosen"

# ---------------------------------------------------------------------------------------
# 4. The build (with a frame cache of its own: section 8 rebuilds from it)

export GILD_CACHE=$scratch/cache
if ! (cd "$ws" && "$gild" build recipes/deb.toml) >"$scratch/build.out" 2>"$scratch/build.err"; then
	show_file stdout "$scratch/build.out"
	show_file stderr "$scratch/build.err"
	fail "gild build with $(wc -l <"$scratch/chosen") real .deb patches failed"
fi
ok "gild build: $(head -n 1 "$scratch/build.out")"
img=$scratch/image
mkdir "$img"
tar --zstd --numeric-owner -xf "$ws/out/deb-1.0.0.tar.zst" -C "$img"

# ---------------------------------------------------------------------------------------
# 5. The reference: real dpkg installs the same packages in a chroot of the base

ref=$scratch/ref
cp -a "$base" "$ref"
mkdir -p "$ref/tmp/debs"
cp "${debs[@]}" "$ref/tmp/debs/"
mount -t proc proc "$ref/proc"
# dpkg -i takes the packages in the order given, and a Pre-Depends on a package later in the
# list fails the first pass; the second pass finds it configured, as apt's ordering would.
reference() { chroot "$ref" env DEBIAN_FRONTEND=noninteractive sh -c 'dpkg --force-confold -i /tmp/debs/*.deb'; }
if ! reference >"$scratch/dpkg-i.log" 2>&1 && ! reference >"$scratch/dpkg-i2.log" 2>&1; then
	umount "$ref/proc"
	show_file log "$scratch/dpkg-i2.log"
	fail "the reference dpkg -i in a chroot of the base failed"
fi
umount "$ref/proc"
rm -rf "$ref/tmp/debs"
ok "reference: dpkg -i of the same packages in a chroot of the base"

# ---------------------------------------------------------------------------------------
# 6. gild's image against dpkg's result

if ! cmp -s "$img/var/lib/dpkg/status" "$ref/var/lib/dpkg/status"; then
	diff -u "$ref/var/lib/dpkg/status" "$img/var/lib/dpkg/status" >"$scratch/status.diff" || true
	show_file "diff dpkg gild" "$scratch/status.diff"
	fail "var/lib/dpkg/status differs from dpkg's"
fi
ok "var/lib/dpkg/status is byte-identical with dpkg's"

bad=0
for f in "$ref"/var/lib/dpkg/info/*; do
	name=${f##*/}
	case $name in *.list | *.md5sums | *.conffiles | *.shlibs | *.symbols | *.triggers | *.preinst | *.postinst | *.prerm | *.postrm | *.templates | *.config) ;; *) continue ;; esac
	if ! cmp -s "$f" "$img/var/lib/dpkg/info/$name"; then
		echo "  info/$name differs" >&2
		bad=$((bad + 1))
	fi
done
for f in "$img"/var/lib/dpkg/info/*; do
	[ -e "$ref/var/lib/dpkg/info/${f##*/}" ] || { echo "  info/${f##*/} is only in gild's image" >&2; bad=$((bad + 1)); }
done
[ "$bad" = 0 ] || fail "$bad files of var/lib/dpkg/info differ from dpkg's"
ok "every var/lib/dpkg/info file is byte-identical with dpkg's"

# Every path the updated packages list: same type, mode, owner, link target and content.
: >"$scratch/paths"
while read -r pkg _ _; do
	list=$(find "$ref/var/lib/dpkg/info" -maxdepth 1 \( -name "$pkg.list" -o -name "$pkg:*.list" \) | head -n 1)
	cat "$list" >>"$scratch/paths"
done <"$scratch/chosen"
bad=0
describe() { # ROOT PATH
	if [ -L "$1$2" ]; then echo "link $(readlink "$1$2") $(stat -c '%u:%g' "$1$2")"
	elif [ -d "$1$2" ]; then stat -c 'dir %a %u:%g' "$1$2"
	elif [ -f "$1$2" ]; then echo "file $(stat -c '%a %u:%g' "$1$2") $(sha "$1$2")"
	elif [ -e "$1$2" ]; then stat -c '%F %a %u:%g' "$1$2"
	else echo absent; fi
}
while read -r p; do
	[ "$p" = /. ] && continue
	a=$(describe "$ref" "$p")
	b=$(describe "$img" "$p")
	if [ "$a" != "$b" ]; then
		echo "  $p: dpkg $a; gild $b" >&2
		bad=$((bad + 1))
	fi
done < <(sort -u "$scratch/paths")
[ "$bad" = 0 ] || fail "$bad listed paths differ from dpkg's result"
ok "all $(sort -u "$scratch/paths" | wc -l) paths the updated packages list agree with dpkg's result"
# Each tree is removed once it is judged: CI machines may have little disk to spare.
rm -rf --one-file-system "$ref"

out=$(dpkg --root="$img" --audit 2>&1) || true
[ -z "$out" ] || fail "dpkg --audit is not silent on the image" "$out"
ok "dpkg --root=IMAGE --audit is silent"

dpkg --root="$base" --verify >"$scratch/verify-base" 2>&1 || true
dpkg --root="$img" --verify >"$scratch/verify-img" 2>&1 || true
new=$(grep -vxF -f "$scratch/verify-base" "$scratch/verify-img" || true)
[ -z "$new" ] || fail "dpkg --verify reports on the image what it does not on the base" "$new"
ok "dpkg --root=IMAGE --verify reports nothing new ($(wc -l <"$scratch/verify-base") lines on the base, as on the image)"

while read -r pkg _ new; do
	got=$(dpkg-query --admindir="$img/var/lib/dpkg" -W -f '${Version}' "$pkg" 2>/dev/null | head -n 1)
	[ "$got" = "$new" ] || fail "dpkg-query -W $pkg: $got in the image, $new expected"
done <"$scratch/chosen"
ok "dpkg-query -W shows the new version of every updated package"

dpkg-query --admindir="$img/var/lib/dpkg" -W -f '${Package} ${Version} ${Architecture}\n' | sort >"$scratch/query"
rm -rf --one-file-system "$img" "$base"
python3 - "$ws/baselines/deb/1.0.0/sbom.cdx.json" >"$scratch/sbom" <<'PY'
import json, sys, urllib.parse
bom = json.load(open(sys.argv[1]))
for c in bom["components"]:
    if c.get("type") != "library":
        continue
    arch = urllib.parse.parse_qs(c["purl"].split("?", 1)[1])["arch"][0]
    print(c["name"], c["version"], arch)
PY
sort -o "$scratch/sbom" "$scratch/sbom"
diff -u "$scratch/query" "$scratch/sbom" >"$scratch/sbom.diff" ||
	{ show_file diff "$scratch/sbom.diff"; fail "sbom.cdx.json does not list what dpkg-query -W lists"; }
ok "sbom.cdx.json lists exactly what dpkg-query -W lists ($(wc -l <"$scratch/query") packages)"

grep -q '^\[\[package\]\]' "$ws/baselines/deb/1.0.0/baseline.toml" || fail "baseline.toml has no [[package]] inventory"
ok "baseline.toml records the package inventory; RELEASE.md: $(grep -c '^- `' "$ws/baselines/deb/1.0.0/RELEASE.md") package lines"

# install.sh: a host built from the base by script reaches the image's tree, package database
# included, without dpkg running (NetBSD mtree: no -e, so extra files count too).
if command -v mtree >/dev/null 2>&1; then
	host=$scratch/host
	mkdir "$host"
	tar --numeric-owner -xpf "$base_tar" -C "$host"
	if ! ROOT=$host ARTIFACTS=$ws/artifacts sh "$ws/baselines/deb/1.0.0/install.sh" >"$scratch/install.out" 2>&1; then
		show_file "install.sh output" "$scratch/install.out"
		fail "install.sh on a copy of the base failed"
	fi
	rc=0
	mtree -f "$ws/baselines/deb/1.0.0/files.mtree" -p "$host" >"$scratch/mtree-host.out" 2>&1 || rc=$?
	if [ "$rc" != 0 ] || [ -s "$scratch/mtree-host.out" ]; then
		show_file "mtree output" "$scratch/mtree-host.out"
		fail "mtree -f files.mtree -p HOST: install.sh did not give the image's tree"
	fi
	out=$(dpkg --root="$host" --audit 2>&1) || true
	[ -z "$out" ] || fail "dpkg --audit is not silent on the host install.sh made" "$out"
	ok "install.sh: the base plus the script is exactly the image's tree, database included"
	rm -rf --one-file-system "$host"
else
	[ "${CI:-}" != true ] || fail "NetBSD mtree is not installed (apt-get install mtree-netbsd)"
	echo "skipped - install.sh check: NetBSD mtree not installed"
fi

# ---------------------------------------------------------------------------------------
# 7. The OCI layout of the patched image, judged by skopeo and umoci

layout=$ws/out/deb-1.0.0.oci
skopeo inspect "oci:$layout:1.0.0" >"$scratch/inspect.json" 2>&1 ||
	{ show_file "skopeo inspect" "$scratch/inspect.json"; fail "skopeo inspect oci:...:1.0.0 failed"; }
recorded_layer=$(sed -n 's/^layer = "\(.*\)"$/\1/p' "$ws/baselines/deb/1.0.0/baseline.toml")
python3 - "$scratch/inspect.json" "$recorded_layer" <<'PY' || fail "skopeo inspect does not show the version and the recorded layer"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["Labels"]["org.opencontainers.image.version"] == "1.0.0", j["Labels"]
assert j["Layers"] == [sys.argv[2]], (j["Layers"], sys.argv[2])
PY
ok "skopeo inspect shows version 1.0.0 and the recorded layer $recorded_layer"
if ! umoci unpack --image "$layout:1.0.0" "$scratch/bundle" >"$scratch/umoci.log" 2>&1; then
	show_file log "$scratch/umoci.log"
	fail "umoci unpack of the OCI layout failed"
fi
# NetBSD mtree exits 0 on differences: its silence is the verdict.
(cd "$scratch/bundle/rootfs" && mtree -f "$ws/baselines/deb/1.0.0/files.mtree") >"$scratch/mtree.out" 2>&1 || true
[ ! -s "$scratch/mtree.out" ] || { show_file "mtree -f files.mtree" "$scratch/mtree.out"; fail "the rootfs umoci unpacks differs from files.mtree"; }
ok "umoci unpack of the OCI layout gives a rootfs that NetBSD mtree finds identical to files.mtree"
rm -rf --one-file-system "$scratch/bundle"

# ---------------------------------------------------------------------------------------
# 8. The next version from the warm cache: the base is not decoded again (its index and the
# image's frames stand in for it, the package database read from them), and the images are
# the very bytes a build without the cache writes.

if ! (cd "$ws" && "$gild" --json build recipes/deb.toml --version 1.0.1) >"$scratch/warm.json" 2>"$scratch/warm.err"; then
	show_file stderr "$scratch/warm.err"
	fail "the warm rebuild of 1.0.1 failed"
fi
python3 - "$scratch/warm.json" <<'PY' || { show_file "--json" "$scratch/warm.json"; fail "the warm rebuild did not start from the base index or reused no frame"; }
import json, sys
j = json.load(open(sys.argv[1]))
assert j["base-index"] == "used", j["base-index"]
assert j["frames"]["reused"] > 0, j["frames"]
PY
diff <(grep -v '^\./etc/gild/release ' "$ws/baselines/deb/1.0.0/files.mtree") \
	<(grep -v '^\./etc/gild/release ' "$ws/baselines/deb/1.0.1/files.mtree") >"$scratch/warm-tree.diff" ||
	{ show_file diff "$scratch/warm-tree.diff"; fail "the warm rebuild's tree differs from the cold build's"; }
rm -rf "$ws/out/deb-1.0.1".*
(cd "$ws" && "$gild" build recipes/deb.toml --version 1.0.1 --no-cache) >"$scratch/nocache.out" 2>&1 ||
	{ show_file output "$scratch/nocache.out"; fail "the rebuild of 1.0.1 without the cache failed"; }
if ! grep -q '^unchanged deb 1.0.1' "$scratch/nocache.out" || ! grep -q 'matches the record' "$scratch/nocache.out"; then
	show_file output "$scratch/nocache.out"
	fail "1.0.1 without the cache is not the recorded image"
fi
ok "1.0.1 from the warm cache: base index used, $(python3 -c 'import json,sys; f=json.load(open(sys.argv[1]))["frames"]; print(f["reused"], "frames reused,", f["compressed"], "compressed")' "$scratch/warm.json"); without the cache: the same bytes"
