#!/bin/sh
# install.sh for debian 1.1.0, written by gild 0.1.0.
#
# Brings a host built from the base image's contents to the same tree as the image:
#     ROOT=/ ARTIFACTS=/path/to/artifacts sh install.sh
# ROOT (default /) is the host's root; ARTIFACTS (default .) holds the patch artifacts and
# their .minisig files by file name. Nothing changes until every artifact checks out.
# Running it again is harmless; an interrupted run can be run again to completion.
set -eu
ROOT=${ROOT:-/}
ARTIFACTS=${ARTIFACTS:-.}
R=${ROOT%/}

die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
say() { printf 'install.sh: %s\n' "$*" >&2; }
need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || die "this script needs \`$tool\`: install it and run again"
    done
}
digest() { sha256sum <"$1" | cut -c1-64; }
# Only the inode number is read from ls, which POSIX specifies for -i.
# shellcheck disable=SC2012
inode() { ls -di "$1" | sed 's/^ *//; s/ .*//'; }

# Every artifact is checked before anything changes.
check() { # FILE SHA256
    [ -f "$ARTIFACTS/$1" ] || die "missing artifact \`$ARTIFACTS/$1\` (expected sha256 $2)"
    got=$(digest "$ARTIFACTS/$1")
    [ "$got" = "$2" ] || die "artifact \`$ARTIFACTS/$1\` has sha256 $got, expected $2: it is not the approved artifact"
}
signed() { # FILE SIGNATURE KEY NAME
    [ -f "$ARTIFACTS/$2" ] || die "missing signature \`$ARTIFACTS/$2\` of \`$1\` (key $4)"
    minisign -V -q -P "$3" -m "$ARTIFACTS/$1" -x "$ARTIFACTS/$2" >/dev/null 2>&1 ||
        die "signature \`$ARTIFACTS/$2\` of \`$1\` does not verify with key $4 ($3)"
}
base_link() { # NAME TARGET
    if [ ! -L "$R/$1" ] || [ "$(readlink "$R/$1")" != "$2" ]; then
        die "ROOT \`$ROOT\` does not start from the base: \`$1\` should be a symlink to \`$2\`"
    fi
}

# Before any change: a directory the script writes under without making it must be a real
# directory, as in the base (MAY_BE_ABSENT: the image lacks it, so a host this script already
# brought to the image may lack it too).
host_dir() { # REL MAY_BE_ABSENT
    if [ -L "$R/$1" ]; then
        die "\`$R/$1\` is a symlink on this host but a directory in the base: refusing to write through it; nothing was changed"
    fi
    [ ! -d "$R/$1" ] || return 0
    if [ -e "$R/$1" ]; then
        die "\`$R/$1\` is not a directory on this host, as it is in the base; nothing was changed"
    fi
    [ "$2" = 1 ] || die "\`$R/$1\` is missing on this host, but the base has it; nothing was changed"
}

# No step writes through a symlink on the host: the image has none among any entry's parents.
guard() { # REL
    g_path=$R
    g_rest=$1
    while :; do
        case $g_rest in
        */*)
            g_path=$g_path/${g_rest%%/*}
            g_rest=${g_rest#*/}
            [ ! -L "$g_path" ] || die "\`$g_path\` is a symlink on this host but a directory in the image: refusing to write through it"
            ;;
        *) break ;;
        esac
    done
}
clear_dir() { # REL: a non-directory replaces a directory and its subtree
    if [ -d "$R/$1" ] && [ ! -L "$R/$1" ]; then rm -rf "$R/${1:?}"; fi
}
remove() { # REL
    guard "$1"
    rm -rf "$R/${1:?}"
}
dir() { # REL MODE UID GID
    guard "$1"
    if [ -L "$R/$1" ] || { [ -e "$R/$1" ] && [ ! -d "$R/$1" ]; }; then rm -f "$R/$1"; fi
    [ -d "$R/$1" ] || mkdir "$R/$1"
    chown "$3:$4" "$R/$1"
    chmod "$2" "$R/$1"
}
file() { # REL STAGED SHA256 MODE UID GID
    guard "$1"
    if [ -f "$R/$1" ] && [ ! -L "$R/$1" ] && [ "$(digest "$R/$1")" = "$3" ]; then :; else
        clear_dir "$1"
        rm -f "$R/$1.gild-new"
        cp "$2" "$R/$1.gild-new"
        chown "$5:$6" "$R/$1.gild-new"
        chmod "$4" "$R/$1.gild-new"
        mv -f "$R/$1.gild-new" "$R/$1"
    fi
    chown "$5:$6" "$R/$1"
    chmod "$4" "$R/$1"
}
hardlink() { # REL TARGET
    guard "$1"
    if [ -f "$R/$1" ] && [ "$(inode "$R/$1")" = "$(inode "$R/$2")" ]; then return; fi
    clear_dir "$1"
    rm -f "$R/$1.gild-new"
    ln "$R/$2" "$R/$1.gild-new"
    mv -f "$R/$1.gild-new" "$R/$1"
}
symlink() { # REL TARGET UID GID
    guard "$1"
    if [ -L "$R/$1" ] && [ "$(readlink "$R/$1")" = "$2" ]; then :; else
        clear_dir "$1"
        rm -f "$R/$1.gild-new"
        ln -s "$2" "$R/$1.gild-new"
        mv -f "$R/$1.gild-new" "$R/$1"
    fi
    chown -h "$3:$4" "$R/$1"
}
node() { # REL TYPE(c|b|p) MAJOR MINOR MODE UID GID
    guard "$1"
    clear_dir "$1"
    rm -f "$R/$1.gild-new"
    if [ "$2" = p ]; then mkfifo "$R/$1.gild-new"; else mknod "$R/$1.gild-new" "$2" "$3" "$4"; fi
    chown "$6:$7" "$R/$1.gild-new"
    chmod "$5" "$R/$1.gild-new"
    mv -f "$R/$1.gild-new" "$R/$1"
}

need chmod chown cp cut dpkg-deb ln ls mkdir mktemp mv readlink rm sed sha256sum tar
[ -d "$ROOT" ] || die "ROOT \`$ROOT\` is not a directory"

# 1. The artifacts: sha256 pins, then signatures where minisign is installed.
check 'demo-libssl3_3.0.15-1_amd64.deb' 96750766f6502f6dcc08a47426387153363c05e698d138a3a29457a4c6a16b56
check 'demo-openssl_3.0.15-1_amd64.deb' 198786b970d5e85e23ddebd2de1393a3b68f80d2ac462613f00d74b3ccf185ac
check 'demo-tzdata_2026a-1_all.deb' bb2190edb89d7240964d6997affa1bc15f590e8133e1d6ac74b7ac62376bf2a9
# The files gild generated for Debian packages (their database entries) lie beside this script.
DATA=${DATA:-$(dirname "$0")/install-data.tar}
[ -f "$DATA" ] || die "missing \`$DATA\` (expected sha256 73a75b9f6cb404ee0b94a8e664636bd173489a6d360a0a57ba0328582cd05096): it lies beside install.sh in the baseline"
[ "$(digest "$DATA")" = 73a75b9f6cb404ee0b94a8e664636bd173489a6d360a0a57ba0328582cd05096 ] || die "\`$DATA\` is not the recorded install-data.tar (expected sha256 73a75b9f6cb404ee0b94a8e664636bd173489a6d360a0a57ba0328582cd05096)"
if command -v minisign >/dev/null 2>&1; then
    signed 'demo-libssl3_3.0.15-1_amd64.deb' 'demo-libssl3_3.0.15-1_amd64.deb.minisig' 'RWQRYh2jA6y9B+NsadLqTdJbhhZwnH69jB6DXeKr9VPigxkNWLFGeUWz' 'vendor'
    signed 'demo-openssl_3.0.15-1_amd64.deb' 'demo-openssl_3.0.15-1_amd64.deb.minisig' 'RWQRYh2jA6y9B+NsadLqTdJbhhZwnH69jB6DXeKr9VPigxkNWLFGeUWz' 'vendor'
    signed 'demo-tzdata_2026a-1_all.deb' 'demo-tzdata_2026a-1_all.deb.minisig' 'RWQRYh2jA6y9B+NsadLqTdJbhhZwnH69jB6DXeKr9VPigxkNWLFGeUWz' 'vendor'
else
    say "minisign is not installed: signatures not checked (the sha256 pins were)"
fi

# A file a Debian package's install reads or writes must hold the base's bytes or the image's.
precond() { # REL BASE_SHA256|- IMAGE_SHA256|-
    if [ -e "$R/$1" ] || [ -L "$R/$1" ]; then
        if [ -L "$R/$1" ] || [ ! -f "$R/$1" ]; then die "\`$R/$1\` is not a regular file as in the base or the image: fix it before installing"; fi
        pc_got=$(digest "$R/$1")
        [ "$pc_got" = "$2" ] || [ "$pc_got" = "$3" ] ||
            die "\`$R/$1\` holds neither the base's bytes nor the image's (sha256 $pc_got): it was changed on this host; restore it or build this host from the image"
    elif [ "$2" != - ] && [ "$3" != - ]; then
        die "\`$R/$1\` is missing, but the base and the image both have it: restore it or build this host from the image"
    fi
}
# The package database and the conffiles the packages touch: the base's bytes or the image's.
precond 'etc/ssl/openssl.cnf' a2cb66c0193895462674344f3b5900d091b614038d039b5f63b6f057b9db1505 77d64bf205f8052468668c2d1268edd3b81e3350cf26e5b05512919da38c0219
precond 'var/lib/dpkg/diversions' - -
precond 'var/lib/dpkg/statoverride' - -
precond 'var/lib/dpkg/status' fb429cefbc66491d5ec246ec7dc62b35daa35186a9480b51eaa6e6903644fd19 66c2b03eb77e3a11f27e1dca8d46db100b16414d13b76e3342e403275950753f
# 2. ROOT starts from the base.
base_link 'bin' 'usr/bin'
base_link 'lib' 'usr/lib'
base_link 'sbin' 'usr/sbin'
# The host's directories the patches write under: real directories, no symlink on the way.
host_dir 'etc' 0
host_dir 'etc/ssl' 0
host_dir 'usr' 0
host_dir 'usr/bin' 0
host_dir 'usr/lib' 0
host_dir 'usr/lib/x86_64-linux-gnu' 0
host_dir 'usr/share' 0
host_dir 'usr/share/doc' 0
host_dir 'usr/share/doc/demo-libssl3' 0
host_dir 'usr/share/doc/demo-openssl' 0
host_dir 'var' 0
host_dir 'var/lib' 0
host_dir 'var/lib/dpkg' 0
host_dir 'var/lib/dpkg/info' 0

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/gen"
tar -xf "$DATA" -C "$TMP/gen"

# Patch 1: demo-libssl3_3.0.15-1_amd64 (demo-libssl3_3.0.15-1_amd64.deb)
S=$TMP/1
mkdir "$S"
{
    printf '%s\n' './usr/lib/x86_64-linux-gnu/libcrypto.so.3'
    printf '%s\n' './usr/lib/x86_64-linux-gnu/libssl.so.3'
    printf '%s\n' './usr/share/doc/demo-libssl3/changelog.Debian.gz'
} >"$TMP/1.list"
dpkg-deb --fsys-tarfile "$ARTIFACTS"/'demo-libssl3_3.0.15-1_amd64.deb' | tar -xf - -C "$S" -T "$TMP/1.list"
file 'usr/lib/x86_64-linux-gnu/libcrypto.so.3' "$S"/'./usr/lib/x86_64-linux-gnu/libcrypto.so.3' 947791e4c46c4537e239a32fc66954cf9c56ddfab7dcfa46cf0f73b924be0d04 0644 0 0
file 'usr/lib/x86_64-linux-gnu/libssl.so.3' "$S"/'./usr/lib/x86_64-linux-gnu/libssl.so.3' 88cf6ce8125a0596e81d053712c66fcf20f0c100f89c3b4118b52c4cadefa8aa 0644 0 0
file 'usr/share/doc/demo-libssl3/changelog.Debian.gz' "$S"/'./usr/share/doc/demo-libssl3/changelog.Debian.gz' b68330a34aa400a7e3bb6d46568b88fc8fe8d26e48c0172ed2c5bf324285e4f2 0644 0 0
file 'var/lib/dpkg/info/demo-libssl3:amd64.md5sums' "$TMP/gen"/'1/var/lib/dpkg/info/demo-libssl3:amd64.md5sums' d70fe82561ef6161d1726814fe29c12a7820f626c6985bf3427203c71b43218e 0644 0 0
file 'var/lib/dpkg/status' "$TMP/gen"/'1/var/lib/dpkg/status' b99f145d227ef591b3ee6fc45feab85d4a8be72be2df0cc7a11cf960eb4ebfa7 0644 0 0

# Patch 2: demo-openssl_3.0.15-1_amd64 (demo-openssl_3.0.15-1_amd64.deb)
S=$TMP/2
mkdir "$S"
{
    printf '%s\n' './etc/ssl/openssl.cnf'
    printf '%s\n' './usr/bin/openssl'
    printf '%s\n' './usr/share/doc/demo-openssl/changelog.Debian.gz'
} >"$TMP/2.list"
dpkg-deb --fsys-tarfile "$ARTIFACTS"/'demo-openssl_3.0.15-1_amd64.deb' | tar -xf - -C "$S" -T "$TMP/2.list"
file 'etc/ssl/openssl.cnf' "$S"/'./etc/ssl/openssl.cnf' 77d64bf205f8052468668c2d1268edd3b81e3350cf26e5b05512919da38c0219 0644 0 0
file 'usr/bin/openssl' "$S"/'./usr/bin/openssl' d752e4a249852cc2c4688ccbdb8c1afbb4dca89c520a0a0b2f740f76d3837392 0755 0 0
file 'usr/share/doc/demo-openssl/changelog.Debian.gz' "$S"/'./usr/share/doc/demo-openssl/changelog.Debian.gz' cb4f6c7422625c723092b1988cf98fcccfd853dbe2984e2996f3819c401f0166 0644 0 0
file 'var/lib/dpkg/info/demo-openssl.md5sums' "$TMP/gen"/'2/var/lib/dpkg/info/demo-openssl.md5sums' 3fdadaddbb063ec9b9533a49f549b1eee52ae875284698b2899f14fda632f486 0644 0 0
file 'var/lib/dpkg/status' "$TMP/gen"/'2/var/lib/dpkg/status' 71c8b1e4938c7546923fc96eea400bd3083bcfdcf57dd260aa5555d8930ab6d0 0644 0 0

# Patch 3: demo-tzdata_2026a-1_all (demo-tzdata_2026a-1_all.deb)
S=$TMP/3
mkdir "$S"
{
    printf '%s\n' './usr/share/doc/demo-tzdata/changelog.Debian.gz'
    printf '%s\n' './usr/share/doc/demo-tzdata/copyright'
    printf '%s\n' './usr/share/zoneinfo/Etc/UTC'
} >"$TMP/3.list"
dpkg-deb --fsys-tarfile "$ARTIFACTS"/'demo-tzdata_2026a-1_all.deb' | tar -xf - -C "$S" -T "$TMP/3.list"
dir 'usr/share/doc/demo-tzdata' 0755 0 0
dir 'usr/share/zoneinfo' 0755 0 0
dir 'usr/share/zoneinfo/Etc' 0755 0 0
file 'usr/share/doc/demo-tzdata/changelog.Debian.gz' "$S"/'./usr/share/doc/demo-tzdata/changelog.Debian.gz' 02db79e20dd125ec3f9e6575cb0014f2351c5c8be9cc3874efc91b62451ef32a 0644 0 0
file 'usr/share/doc/demo-tzdata/copyright' "$S"/'./usr/share/doc/demo-tzdata/copyright' 87dcb9a04ce31cf018cb4ca0e3a956ba19d64029a4e8982dc6644db275303b69 0644 0 0
file 'usr/share/zoneinfo/Etc/UTC' "$S"/'./usr/share/zoneinfo/Etc/UTC' dd5c2d74c4dc9cdcdda11d8d1be329d9f94fb0597869eb7f90bacdb1900c3219 0644 0 0
file 'var/lib/dpkg/info/demo-tzdata.list' "$TMP/gen"/'3/var/lib/dpkg/info/demo-tzdata.list' a2a1faebc594dc099f0b7685f7f1c49f45998e6a7314c43370a257cdeac3d416 0644 0 0
file 'var/lib/dpkg/info/demo-tzdata.md5sums' "$TMP/gen"/'3/var/lib/dpkg/info/demo-tzdata.md5sums' aac9393da308eeffaea4025de50d2979b095ace928f272b444d9b85c77cde733 0644 0 0
file 'var/lib/dpkg/info/demo-tzdata.postinst' "$TMP/gen"/'3/var/lib/dpkg/info/demo-tzdata.postinst' 5adb5b23a33dd21e0d54b0e49d0f12855e3502fae3b4beb0fba2fbaf00eecd4b 0755 0 0
file 'var/lib/dpkg/status' "$TMP/gen"/'3/var/lib/dpkg/status' 66c2b03eb77e3a11f27e1dca8d46db100b16414d13b76e3342e403275950753f 0644 0 0

# 3. The release file: which baseline this host was built from.
dir 'etc/gild' 0755 0 0
printf '%s' 'name = "debian"
version = "1.1.0"
' >"$TMP/release"
file 'etc/gild/release' "$TMP/release" 3a33f756ec94052fcb156d75fb2f60a0cda7639a594918805fc9f50763fe5c02 0644 0 0
say "debian 1.1.0 installed in $ROOT"
