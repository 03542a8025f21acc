//! `files.mtree`: the tree in the full-path mtree form libarchive and NetBSD mtree read.

use std::fmt::Write as _;

use crate::tree::{Kind, Tree};
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
    let mut out = Vec::with_capacity(tree.len() * 128);
    write(tree, &mut out).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("the escaping leaves only ASCII")
}

/// Streams the spec to `out` (a staged file, hashed on the way), so memory does not hold it.
pub fn write(tree: &Tree, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut line = String::with_capacity(256);
    out.write_all(b"#mtree v2.0\n")?;
    for (path, node) in tree.iter() {
        line.clear();
        line.push_str(&escape_path(path));
        let _ = write!(line, " type={}", node.kind.mtree_type());
        if !matches!(node.kind, Kind::Symlink(_)) {
            let _ = write!(line, " mode=0{:o}", node.mode);
        }
        let _ = write!(line, " uid={} gid={}", node.uid, node.gid);
        match &node.kind {
            Kind::File(c) => {
                let _ = write!(line, " size={} sha256digest={}", c.size, hex(&c.sha256));
            }
            Kind::Symlink(t) => {
                let _ = write!(line, " link={}", escape(t));
            }
            Kind::Char(a, b) | Kind::Block(a, b) => {
                let _ = write!(line, " device=native,{a},{b}");
            }
            Kind::Dir | Kind::Fifo => {}
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
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
