//! `files.mtree`: the tree in the full-path mtree form libarchive and NetBSD mtree read.

use std::fmt::Write as _;

use crate::hex;
use crate::tree::{Kind, Lacks, Tree};

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
    let mut out = Vec::with_capacity(tree.len() * 128);
    write_with(tree, lacks, &mut out).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("the escaping leaves only ASCII")
}

/// Streams the spec to `out` (a staged file, hashed on the way), so memory does not hold it.
pub fn write(tree: &Tree, out: &mut impl std::io::Write) -> std::io::Result<()> {
    write_with(tree, |_| Lacks::NONE, out)
}

/// [`write`], leaving out what each entry lacks.
pub fn write_with(tree: &Tree, lacks: impl Fn(&[u8]) -> Lacks, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut line = String::with_capacity(256);
    out.write_all(b"#mtree v2.0\n")?;
    for (path, node) in tree.iter() {
        let lacking = lacks(path);
        let known = |flag| !lacking.has(flag);
        line.clear();
        line.push_str(&escape_path(path));
        let _ = write!(line, " type={}", node.kind.mtree_type());
        if !matches!(node.kind, Kind::Symlink(_)) && known(Lacks::MODE) {
            let _ = write!(line, " mode=0{:o}", node.mode);
        }
        if known(Lacks::UID) {
            let _ = write!(line, " uid={}", node.uid);
        }
        if known(Lacks::GID) {
            let _ = write!(line, " gid={}", node.gid);
        }
        match &node.kind {
            Kind::File(c) => {
                if known(Lacks::SIZE) {
                    let _ = write!(line, " size={}", c.size);
                }
                if known(Lacks::DIGEST) {
                    let _ = write!(line, " sha256digest={}", hex::encode(&c.sha256));
                }
            }
            Kind::Symlink(t) if known(Lacks::LINK) => {
                let _ = write!(line, " link={}", escape(t));
            }
            Kind::Char(a, b) | Kind::Block(a, b) if known(Lacks::DEVICE) => {
                let _ = write!(line, " device=native,{a},{b}");
            }
            _ => {}
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod round_trip {
    use proptest::prelude::*;

    use crate::spool::Content;
    use crate::tree::{spec, Kind, Node, Tree};

    fn name() -> impl Strategy<Value = Vec<u8>> {
        // Any byte but `/` and NUL, with the troublesome ones over-represented.
        let special = prop_oneof![
            Just(b' '),
            Just(b'\n'),
            Just(b'\t'),
            Just(b'#'),
            Just(b'='),
            Just(b'\\'),
            Just(b'*'),
            Just(b'?'),
            Just(b'['),
            Just(0xff),
            Just(0xc3)
        ];
        let any = any::<u8>().prop_filter("not / or NUL", |b| *b != b'/' && *b != 0);
        proptest::collection::vec(prop_oneof![special, any], 1..12)
            .prop_filter("not . or ..", |n| n != b"." && n != b"..")
    }

    fn kind() -> impl Strategy<Value = Kind> {
        prop_oneof![
            Just(Kind::Dir),
            (any::<u32>(), any::<[u8; 32]>()).prop_map(|(size, sha256)| Kind::File(Content {
                id: 0,
                offset: 0,
                size: size as u64,
                sha256
            })),
            proptest::collection::vec(any::<u8>().prop_filter("no NUL", |b| *b != 0), 1..20).prop_map(Kind::Symlink),
            (0u32..4096, 0u32..4096).prop_map(|(a, b)| Kind::Char(a, b)),
            (0u32..4096, 0u32..4096).prop_map(|(a, b)| Kind::Block(a, b)),
            Just(Kind::Fifo),
        ]
    }

    /// A tree of up to three levels: every parent is a directory, as in an image.
    fn tree() -> impl Strategy<Value = Tree> {
        proptest::collection::vec((name(), name(), kind(), 0u32..0o10000, 0u64..70000, 0u64..70000), 0..40).prop_map(
            |entries| {
                let mut t = Tree::new(Node::dir(0o755, 0, 0));
                for (dir, leaf, kind, mode, uid, gid) in entries {
                    if t.get(&dir).is_none_or(|n| n.is_dir()) {
                        t.insert(dir.clone(), Node::dir(0o755, 0, 0));
                        let node = Node { kind, mode, uid, gid, mtime: 0, xattrs: Vec::new(), origin: 0 };
                        t.insert(crate::tree::join(&dir, &leaf), node);
                    }
                }
                t
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// Any tree written to `files.mtree` reads back as the same tree.
        #[test]
        fn files_mtree_reads_back_to_the_same_tree(t in tree()) {
            let text = super::render(&t);
            let (back, _) = spec::read(text.clone().into_bytes(), &crate::limits::Limits::default()).map_err(|e| TestCaseError::fail(format!("{e:?}\n{text}")))?;
            let want: Vec<_> = t.iter().collect();
            let got: Vec<_> = back.tree.iter().collect();
            prop_assert_eq!(want.len(), got.len(), "{}", text);
            for ((wp, wn), (gp, gn)) in want.iter().zip(&got) {
                prop_assert_eq!(wp, gp);
                let symlink_mode = matches!(wn.kind, Kind::Symlink(_));
                prop_assert!(wn.kind == gn.kind && (symlink_mode || wn.mode == gn.mode) && wn.uid == gn.uid && wn.gid == gn.gid,
                    "{:?}: {:?} != {:?}\n{}", wp, wn, gn, text);
            }
        }
    }
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
