#!/bin/sh
# install.sh for demo 1.1.0, written by gild 0.1.0.
#
# Brings a host built from the base image's contents to the same tree as the image:
#     ROOT=/ ARTIFACTS=/path/to/artifacts sh install.sh
# ROOT (default /) is the host's root; ARTIFACTS (default .) holds the patch artifacts and
# their .minisig files by file name. Nothing changes until every artifact checks out.
# Running it again is harmless; an interrupted run can be run again to completion.
#
# This baseline is signed. Check this script before running it, in its directory:
#     minisign -Vm SHA256SUMS -p build.pub && sha256sum -c --ignore-missing SHA256SUMS
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

need chmod chown cp cut gzip ln ls mkdir mktemp mv readlink rm sed sha256sum tar xz
[ -d "$ROOT" ] || die "ROOT \`$ROOT\` is not a directory"

# 1. The artifacts: sha256 pins, then signatures where minisign is installed.
check 'openssl-3.0.15.tar.gz' eb187e61e262c99b362d6813f413d46ec7e18e318d6d29b9c36ef67b229e986b
check 'motd-cleanup.tar.xz' 985939e0d76c502a546f22a60e36bd63feef12949037dc884d41f8c2e57c85dd
check 'sshd-hardening.tar' 956276565ac1dac1924e3fdea6a83e87a86661e94632ed92468516e295954272
if command -v minisign >/dev/null 2>&1; then
    signed 'openssl-3.0.15.tar.gz' 'openssl-3.0.15.tar.gz.minisig' 'RWQRYh2jA6y9B+NsadLqTdJbhhZwnH69jB6DXeKr9VPigxkNWLFGeUWz' 'vendor'
    signed 'motd-cleanup.tar.xz' 'motd-cleanup.tar.xz.minisig' 'RWQRYh2jA6y9B+NsadLqTdJbhhZwnH69jB6DXeKr9VPigxkNWLFGeUWz' 'vendor'
    signed 'motd-cleanup.tar.xz' 'motd-cleanup.tar.xz.cab.minisig' 'RWRg6Eo/VAzM1I39Ns9w/kQetcKDubpjcfRMm0/Ln9qa94OFX9BCInN2' 'cab'
    signed 'sshd-hardening.tar' 'sshd-hardening.tar.minisig' 'RWQRYh2jA6y9B+NsadLqTdJbhhZwnH69jB6DXeKr9VPigxkNWLFGeUWz' 'vendor'
else
    say "minisign is not installed: signatures not checked (the sha256 pins were)"
fi

# 2. ROOT starts from the base.
base_link 'bin' 'usr/bin'
base_link 'lib' 'usr/lib'
base_link 'sbin' 'usr/sbin'
# The host's directories the patches write under: real directories, no symlink on the way.
host_dir 'etc' 0
host_dir 'etc/ssh' 0
host_dir 'usr' 0
host_dir 'usr/bin' 0
host_dir 'usr/lib' 0
host_dir 'usr/lib/x86_64-linux-gnu' 0
host_dir 'usr/share' 0
host_dir 'usr/share/legacy' 0

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Patch 1: DEMO-2026-0001 (openssl-3.0.15.tar.gz)
S=$TMP/1
mkdir "$S"
{
    printf '%s\n' './lib/x86_64-linux-gnu/libcrypto.so.3'
    printf '%s\n' './lib/x86_64-linux-gnu/libssl.so.3'
    printf '%s\n' './usr/bin/openssl'
} >"$TMP/1.list"
gzip -dc <"$ARTIFACTS"/'openssl-3.0.15.tar.gz' | tar -xf - -C "$S" -T "$TMP/1.list"
file 'usr/lib/x86_64-linux-gnu/libcrypto.so.3' "$S"/'./lib/x86_64-linux-gnu/libcrypto.so.3' d78cf59986c242d836af0f4b16b30d713a9d961939556eebdb44d0cf94d3bd5c 0644 0 0
file 'usr/lib/x86_64-linux-gnu/libssl.so.3' "$S"/'./lib/x86_64-linux-gnu/libssl.so.3' ec1800af72e350b864600786a452c5fa87b43536616450e65a03fcf9f2b2de73 0644 0 0
file 'usr/bin/openssl' "$S"/'./usr/bin/openssl' d17c7d3db6ce4adb8bf5b0928733081bd77cb19baa5bbb14c1f4b9eea84c753b 0755 0 0

# Patch 2: DEMO-2026-0002 (motd-cleanup.tar.xz)
S=$TMP/2
mkdir "$S"
{
    printf '%s\n' './usr/share/legacy/README'
} >"$TMP/2.list"
xz -dc <"$ARTIFACTS"/'motd-cleanup.tar.xz' | tar -xf - -C "$S" -T "$TMP/2.list"
remove 'usr/share/legacy/b'
remove 'usr/share/legacy/a'
remove 'etc/motd'
file 'usr/share/legacy/README' "$S"/'./usr/share/legacy/README' 493d617acaedd7442cbd384ebc4211bbc5dbcdc1a5953dbbb1b8d3b88f0ff9f3 0644 0 0

# Patch 3: DEMO-2026-0003 (sshd-hardening.tar)
S=$TMP/3
mkdir "$S"
{
    printf '%s\n' './etc/ssh/sshd_config'
} >"$TMP/3.list"
tar -xf - -C "$S" -T "$TMP/3.list" <"$ARTIFACTS"/'sshd-hardening.tar'
file 'etc/ssh/sshd_config' "$S"/'./etc/ssh/sshd_config' cd25d9e74e94db091dc378e898e922917662cd429e0054d34e0a9e991cc01db9 0644 0 0

# 3. The release file: which baseline this host was built from.
dir 'etc/gild' 0755 0 0
printf '%s' 'name = "demo"
version = "1.1.0"
' >"$TMP/release"
file 'etc/gild/release' "$TMP/release" c53cb4fdf848819621f69655688f15b32020946c30f1e0e1c7ed1fef761cd8c7 0644 0 0
say "demo 1.1.0 installed in $ROOT"
