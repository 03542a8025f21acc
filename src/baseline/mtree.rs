//! `files.mtree`: the tree in the full-path mtree form libarchive and NetBSD mtree read.

use std::fmt::Write as _;

use crate::tree::{Kind, Lacks, Tree};
use crate::trust::hex;

/// Writes a path the way libarchive does: bytes outside 0x21–0x7E and `#=\*?[` as `\NNN`.
pub fn escape(path: &[u8]) -> String {
    let mut s = String::with_capacity(path.len() + 2);
    for &b in path {
        if (0x21..=0x7e).contains(&b) && !b"#=\\*?[".contains(&b) {
            s.push(b as char);
        } else {
            let _ = write!(s, "\\{b:03o}");
        }
    }
    s
}

/// `./path` escaped (`.` for the root).
pub fn escape_path(path: &[u8]) -> String {
    if path.is_empty() {
        ".".into()
    } else {
        format!("./{}", escape(path))
    }
}

/// The whole spec: `#mtree v2.0`, the root, then one line per entry in path-byte order.
pub fn render(tree: &Tree) -> String {
    render_with(tree, |_| Lacks::NONE)
}

/// The spec of a tree whose source could not say everything (a stock tool's spec read back,
/// say): each keyword an entry lacks is left out rather than made up.
pub fn render_with(tree: &Tree, lacks: impl Fn(&[u8]) -> Lacks) -> String {
    let mut out = String::with_capacity(tree.len() * 128);
    out.push_str("#mtree v2.0\n");
    for (path, node) in tree.iter() {
        let lacking = lacks(path);
        let known = |flag| !lacking.has(flag);
        out.push_str(&escape_path(path));
        let _ = write!(out, " type={}", node.kind.mtree_type());
        if !matches!(node.kind, Kind::Symlink(_)) && known(Lacks::MODE) {
            let _ = write!(out, " mode=0{:o}", node.mode);
        }
        if known(Lacks::UID) {
            let _ = write!(out, " uid={}", node.uid);
        }
        if known(Lacks::GID) {
            let _ = write!(out, " gid={}", node.gid);
        }
        match &node.kind {
            Kind::File(c) => {
                if known(Lacks::SIZE) {
                    let _ = write!(out, " size={}", c.size);
                }
                if known(Lacks::DIGEST) {
                    let _ = write!(out, " sha256digest={}", hex(&c.sha256));
                }
            }
            Kind::Symlink(t) if known(Lacks::LINK) => {
                let _ = write!(out, " link={}", escape(t));
            }
            Kind::Char(a, b) | Kind::Block(a, b) if known(Lacks::DEVICE) => {
                let _ = write!(out, " device=native,{a},{b}");
            }
            _ => {}
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_match_libarchive() {
        assert_eq!(escape(b"read me.txt"), "read\\040me.txt");
        assert_eq!(escape(b"a#b=c\\d*e?f[g]"), "a\\043b\\075c\\134d\\052e\\077f\\133g]");
        assert_eq!(escape(b"caf\xc3\xa9\n"), "caf\\303\\251\\012");
        assert_eq!(escape_path(b""), ".");
        assert_eq!(escape_path(b"usr/bin"), "./usr/bin");
    }
}
