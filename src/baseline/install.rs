//! `install.sh`: the build script that brings a host built from the base to the image's tree
//! (SPEC §6).
//!
//! gild knows at build time where every entry of every patch resolved, so the script does not
//! let `tar` resolve anything on the host: it extracts only the file members it needs into a
//! private staging directory, then replays the layer's changes as explicit steps on resolved
//! paths (whiteouts as removals, usr-merge paths already under `usr/`), refusing to write
//! through a symlink on the host. Every file is written beside its place and renamed; a file
//! already holding the right bytes is left alone, so a second run changes nothing and an
//! interrupted run can simply be run again.

use std::fmt::Write as _;

use crate::layer::{Compression, Source, Step};
use crate::tree::{Kind, Node};
use crate::trust::hex;

/// One patch as the script applies it.
pub struct ScriptPatch<'a> {
    pub id: &'a str,
    /// The artifact's file name, looked up in `$ARTIFACTS`.
    pub file: String,
    pub sha256: String,
    pub compression: Compression,
    /// `(signature file name, key line, key name)` of each signature that counted.
    pub signatures: Vec<(String, String, String)>,
    pub steps: &'a [Step],
}

pub struct ScriptInput<'a> {
    pub name: &'a str,
    pub version: &'a str,
    /// The base's top-level symlinks: a host that starts from the base has them.
    pub base_links: Vec<(Vec<u8>, Vec<u8>)>,
    pub patches: Vec<ScriptPatch<'a>>,
    /// What gild adds itself (`etc/gild/release` and its directory), with the release text.
    pub gild_steps: Vec<Step>,
    pub release: &'a str,
}

/// Single-quotes any bytes for `sh`.
fn q(bytes: &[u8]) -> String {
    let mut s = String::from("'");
    for chunk in bytes.split(|&b| b == b'\'').enumerate() {
        if chunk.0 > 0 {
            s.push_str("'\\''");
        }
        // Non-UTF-8 bytes cannot live in a Rust string; the lossless form is an escape that
        // `printf` expands (see `p()`), so such names never reach `q`.
        s.push_str(&String::from_utf8_lossy(chunk.1));
    }
    s.push('\'');
    s
}

/// A path argument: quoted as is when it is UTF-8; otherwise rebuilt at run time by `printf`
/// into variable `N<slot>`, whose assignment is written to `s` first (a sentinel keeps command
/// substitution from eating trailing newlines).
fn p(bytes: &[u8], slot: u8, s: &mut String) -> String {
    if std::str::from_utf8(bytes).is_ok() {
        return q(bytes);
    }
    let mut fmt = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"/._-+".contains(&b) {
            fmt.push(b as char);
        } else {
            let _ = write!(fmt, "\\{b:03o}");
        }
    }
    let _ = writeln!(s, "N{slot}=$(printf '{fmt}x'); N{slot}=${{N{slot}%x}}");
    format!("\"$N{slot}\"")
}

const PRELUDE: &str = r#"set -eu
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
"#;

/// Renders the whole script.
pub fn render(input: &ScriptInput) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "#!/bin/sh");
    let _ = writeln!(
        s,
        "# install.sh for {} {}, written by gild {}.",
        input.name,
        input.version,
        env!("CARGO_PKG_VERSION")
    );
    s.push_str(
        "#\n# Brings a host built from the base image's contents to the same tree as the image:\n\
         #     ROOT=/ ARTIFACTS=/path/to/artifacts sh install.sh\n\
         # ROOT (default /) is the host's root; ARTIFACTS (default .) holds the patch artifacts and\n\
         # their .minisig files by file name. Nothing changes until every artifact checks out.\n\
         # Running it again is harmless; an interrupted run can be run again to completion.\n",
    );
    s.push_str(PRELUDE);

    let mut tools: Vec<&str> = vec![
        "sha256sum",
        "cut",
        "tar",
        "mktemp",
        "cp",
        "mv",
        "rm",
        "ln",
        "ls",
        "sed",
        "mkdir",
        "chmod",
        "chown",
        "readlink",
    ];
    for patch in &input.patches {
        match patch.compression {
            Compression::Gzip => tools.push("gzip"),
            Compression::Zstd => tools.push("zstd"),
            Compression::Xz => tools.push("xz"),
            Compression::None => {}
        }
        for step in patch.steps {
            if let Step::Put { node, .. } = step {
                match node.kind {
                    Kind::Char(..) | Kind::Block(..) => tools.push("mknod"),
                    Kind::Fifo => tools.push("mkfifo"),
                    _ => {}
                }
                if !node.xattrs.is_empty() {
                    tools.push("setfattr");
                }
            }
        }
    }
    tools.sort();
    tools.dedup();
    let _ = writeln!(s, "\nneed {}", tools.join(" "));
    s.push_str("[ -d \"$ROOT\" ] || die \"ROOT \\`$ROOT\\` is not a directory\"\n\n# 1. The artifacts: sha256 pins, then signatures where minisign is installed.\n");
    for patch in &input.patches {
        let _ = writeln!(s, "check {} {}", q(patch.file.as_bytes()), patch.sha256);
    }
    s.push_str("if command -v minisign >/dev/null 2>&1; then\n");
    let mut any = false;
    for patch in &input.patches {
        for (sig, key, name) in &patch.signatures {
            let _ = writeln!(
                s,
                "    signed {} {} {} {}",
                q(patch.file.as_bytes()),
                q(sig.as_bytes()),
                q(key.as_bytes()),
                q(name.as_bytes())
            );
            any = true;
        }
    }
    if !any {
        s.push_str("    :\n");
    }
    s.push_str("else\n    say \"minisign is not installed: signatures not checked (the sha256 pins were)\"\nfi\n\n");
    // `tar -T` lists one member per line: a member name holding a newline cannot be asked
    // for, so such a patch stops the script before anything changes.
    for patch in &input.patches {
        let newline = patch.steps.iter().any(|step| match step {
            Step::Put { source: Some(Source::Member(m)), .. } => m.contains(&b'\n'),
            _ => false,
        });
        if newline {
            let why = format!(
                "patch {} ships a file whose name holds a newline, which tar -T cannot list: build this host from the image",
                patch.id
            );
            let _ = writeln!(s, "die {}", q(why.as_bytes()));
        }
    }
    s.push_str("# 2. ROOT starts from the base.\n");
    for (name, target) in &input.base_links {
        let (a, b) = (p(name, 1, &mut s), p(target, 2, &mut s));
        let _ = writeln!(s, "base_link {a} {b}");
    }
    s.push_str("\nTMP=$(mktemp -d)\ntrap 'rm -rf \"$TMP\"' EXIT\n");

    for (i, patch) in input.patches.iter().enumerate() {
        render_patch(&mut s, i + 1, patch);
    }
    s.push_str("\n# 3. The release file: which baseline this host was built from.\n");
    for step in &input.gild_steps {
        match step {
            Step::Put { path, node, .. } if node.is_dir() => {
                let a = p(path, 1, &mut s);
                let _ = writeln!(s, "dir {a} {:04o} {} {}", node.mode, node.uid, node.gid);
            }
            Step::Put { path, node, .. } => {
                let _ = writeln!(s, "printf '%s' {} >\"$TMP/release\"", q(input.release.as_bytes()));
                let a = p(path, 1, &mut s);
                let _ = writeln!(
                    s,
                    "file {a} \"$TMP/release\" {} {:04o} {} {}",
                    digest_of(node),
                    node.mode,
                    node.uid,
                    node.gid
                );
            }
            Step::Remove(_) => {}
        }
    }
    let _ = writeln!(s, "say \"{} {} installed in $ROOT\"", input.name, input.version);
    s
}

fn digest_of(node: &Node) -> String {
    match &node.kind {
        Kind::File(c) => hex(&c.sha256),
        _ => String::new(),
    }
}

fn render_patch(s: &mut String, n: usize, patch: &ScriptPatch) {
    let _ = writeln!(s, "\n# Patch {n}: {} ({})", patch.id, patch.file);
    let members: Vec<&[u8]> = patch
        .steps
        .iter()
        .filter_map(|step| match step {
            Step::Put { node, source: Some(Source::Member(m)), .. } if matches!(node.kind, Kind::File(_)) => {
                Some(&m[..])
            }
            _ => None,
        })
        .collect();
    let _ = writeln!(s, "S=$TMP/{n}");
    s.push_str("mkdir \"$S\"\n");
    if !members.is_empty() {
        s.push_str("{\n");
        for m in &members {
            let a = p(m, 1, s);
            let _ = writeln!(s, "    printf '%s\\n' {a}");
        }
        let _ = writeln!(s, "}} >\"$TMP/{n}.list\"");
        let file = q(patch.file.as_bytes());
        let extract = format!("tar -xf - -C \"$S\" -T \"$TMP/{n}.list\"");
        let _ = match patch.compression {
            Compression::Gzip => writeln!(s, "gzip -dc <\"$ARTIFACTS\"/{file} | {extract}"),
            Compression::Zstd => writeln!(s, "zstd -dcq <\"$ARTIFACTS\"/{file} | {extract}"),
            Compression::Xz => writeln!(s, "xz -dc <\"$ARTIFACTS\"/{file} | {extract}"),
            Compression::None => writeln!(s, "{extract} <\"$ARTIFACTS\"/{file}"),
        };
    }
    for step in patch.steps {
        match step {
            Step::Remove(path) => {
                let a = p(path, 1, s);
                let _ = writeln!(s, "remove {a}");
            }
            Step::Put { path, node, source } => {
                let (m, u, g) = (node.mode, node.uid, node.gid);
                let a = p(path, 1, s);
                let _ = match (&node.kind, source) {
                    (Kind::Dir, _) => writeln!(s, "dir {a} {m:04o} {u} {g}"),
                    (Kind::File(c), Some(Source::Member(member))) => {
                        let b = p(member, 2, s);
                        writeln!(s, "file {a} \"$S\"/{b} {} {m:04o} {u} {g}", hex(&c.sha256))
                    }
                    (Kind::File(_), Some(Source::Link(target))) => {
                        let b = p(target, 2, s);
                        writeln!(s, "hardlink {a} {b}")
                    }
                    (Kind::File(_), None) => {
                        let why = format!("gild cannot tell where `{}` came from", String::from_utf8_lossy(path));
                        writeln!(s, "die {}", q(why.as_bytes()))
                    }
                    (Kind::Symlink(t), _) => {
                        let b = p(t, 2, s);
                        writeln!(s, "symlink {a} {b} {u} {g}")
                    }
                    (Kind::Char(x, y), _) => writeln!(s, "node {a} c {x} {y} {m:04o} {u} {g}"),
                    (Kind::Block(x, y), _) => writeln!(s, "node {a} b {x} {y} {m:04o} {u} {g}"),
                    (Kind::Fifo, _) => writeln!(s, "node {a} p 0 0 {m:04o} {u} {g}"),
                };
                for (name, value) in &node.xattrs {
                    let _ = writeln!(s, "setfattr -h -n {} -v 0x{} \"$R\"/{a}", q(name), hex(value));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(q(b"it's"), "'it'\\''s'");
        assert_eq!(q(b"plain"), "'plain'");
    }

    #[test]
    fn non_utf8_paths_are_rebuilt_by_printf() {
        let mut pre = String::new();
        assert_eq!(p(b"a\xff", 1, &mut pre), "\"$N1\"");
        assert_eq!(pre, "N1=$(printf 'a\\377x'); N1=${N1%x}\n");
        assert_eq!(p(b"plain", 1, &mut pre), "'plain'");
    }
}
