//! mtree specs as text (docs/audit.md, docs/baseline.md): gild's own `files.mtree`, NetBSD `mtree -c` output (the
//! indented relative form with `/set`, `/unset`, `..`, `\` continuations, vis escapes such as
//! `\s` and `\M-C`) and `bsdtar --format=mtree` output (full paths, `mode=755`).
//!
//! [`parse`] is a pure function from the text to entries; [`to_tree`] makes them a [`Tree`].
//! Both name the line of any mistake. A keyword the spec does not give for an entry is not
//! guessed: the entry [`Lacks`] it, and comparisons say which checks they could not make.
//!
//! A spec is untrusted input (a host's report), read in time and memory linear in its size:
//! an entry's path is held to the `path` and `depth` limits (the relative form builds long
//! paths from short lines, so without them a few megabytes of nested `d type=dir` lines would
//! make terabytes of paths), their number to `entries`, a `link` target to `path`, and a
//! `/set` that every entry inherits is shared, not copied into each.

mod build;
mod words;

use std::rc::Rc;

use crate::limits::{Limit, Limits};
use build::Builder;
pub use build::{to_tree, SpecTree};
pub use words::unescape;
use words::{keyword, show, unset};

/// An entry's type, as `type=` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    File,
    Dir,
    Link,
    Char,
    Block,
    Fifo,
    Socket,
}

/// The keywords gild compares; `None` when the spec does not give it (after `/set`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keywords {
    pub kind: Option<EntryType>,
    pub mode: Option<u32>,
    pub uid: Option<u64>,
    pub gid: Option<u64>,
    pub size: Option<u64>,
    pub sha256: Option<[u8; 32]>,
    /// Shared: a `/set link=…` is inherited by every entry after it.
    pub link: Option<Rc<[u8]>>,
    pub device: Option<(u32, u32)>,
}

/// One entry: its path (unescaped, relative to the root, no `./`; the root is empty), the
/// line it starts on, and its keywords with `/set` applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: Vec<u8>,
    pub line: usize,
    pub keywords: Keywords,
}

/// How the spec names its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Every entry by its full path (`./usr/bin/sh`): gild and bsdtar.
    FullPath,
    /// Names relative to the current directory, `..` to go up: NetBSD `mtree -c`.
    Relative,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub entries: Vec<Entry>,
    pub form: Form,
}

/// A mistake in a spec, at a line (1-based), and the fix when it is a limit's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct SpecError {
    pub line: usize,
    pub why: String,
    pub help: Option<String>,
}

/// Reads a spec. Comments (`#` to the end of the line, unless escaped), blank lines and
/// `\`-continued lines are handled as NetBSD's `fparseln` does.
pub fn parse(text: &[u8]) -> Result<Spec, SpecError> {
    let mut entries = Vec::new();
    let form = each_entry(text, &Limits::default(), &mut |e| {
        entries.push(e);
        Ok(())
    })?;
    Ok(Spec { entries, form })
}

/// Reads a spec straight into a tree, one entry at a time, and lets go of the text before
/// the tree is built (what a large baseline needs).
pub fn read(text: Vec<u8>, limits: &Limits) -> Result<(SpecTree, Form), SpecError> {
    // Lines of gild's own specs run about 100 bytes; a guess, not a count (counting costs).
    let mut builder = Builder::with_capacity(text.len() / 96);
    let form = each_entry(&text, limits, &mut |e| builder.add(e))?;
    drop(text);
    if builder.nodes.len() == 1 && builder.root_line.is_none() && builder.sockets == 0 {
        return Err(SpecError {
            help: None,
            line: 1,
            why: "no entries: this is not an mtree spec (or it was emptied)".into(),
        });
    }
    Ok((builder.finish()?, form))
}

/// Hands every entry of the spec to `sink`, in the order written; returns the form.
fn each_entry(
    text: &[u8],
    limits: &Limits,
    sink: &mut dyn FnMut(Entry) -> Result<(), SpecError>,
) -> Result<Form, SpecError> {
    let mut parser = Parser { set: Keywords::default(), dirs: Vec::new(), relative: false, limits: *limits };
    let mut entries: u64 = 0;
    let mut logical: Vec<u8> = Vec::new();
    let mut start = 0;
    let mut pieces = text.split_inclusive(|&b| b == b'\n').enumerate().peekable();
    while let Some((i, piece)) = pieces.next() {
        let number = i + 1;
        let Some(body) = piece.strip_suffix(b"\n") else {
            if piece.iter().all(u8::is_ascii_whitespace) && logical.is_empty() {
                break;
            }
            return Err(SpecError {
                help: None,
                line: number,
                why: "the line is cut short: the spec does not end with a newline (truncated?)".into(),
            });
        };
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        let body = strip_comment(body);
        if logical.is_empty() {
            start = number;
        }
        if continues(body) {
            logical.extend_from_slice(&body[..body.len() - 1]);
            logical.push(b' ');
            if pieces.peek().is_none() {
                return Err(SpecError {
                    help: None,
                    line: number,
                    why: "the line ends with `\\` but no line follows it (truncated?)".into(),
                });
            }
            continue;
        }
        let line = if logical.is_empty() {
            body
        } else {
            logical.extend_from_slice(body);
            &logical[..]
        };
        let entry = parser.line(line, start).map_err(|e| e.at(start))?;
        logical.clear();
        if let Some(entry) = entry {
            entries += 1;
            if entries > limits.entries {
                let why = format!("more than {} entries", limits.entries);
                return Err(LineError::limit(why, Limit::Entries).at(start));
            }
            sink(entry)?;
        }
    }
    Ok(if parser.relative { Form::Relative } else { Form::FullPath })
}

/// A mistake on one line, with the fix when it is a limit's.
struct LineError {
    why: String,
    help: Option<String>,
}

impl From<String> for LineError {
    fn from(why: String) -> LineError {
        LineError { why, help: None }
    }
}

impl From<&str> for LineError {
    fn from(why: &str) -> LineError {
        LineError { why: why.to_string(), help: None }
    }
}

impl LineError {
    fn limit(why: String, limit: Limit) -> LineError {
        LineError {
            why: format!("{why}, over the `{limit}` limit"),
            help: Some(format!("raise it with `--limit {limit}=…` if the spec is one you trust")),
        }
    }

    fn at(self, line: usize) -> SpecError {
        SpecError { line, why: self.why, help: self.help }
    }
}

struct Parser {
    set: Keywords,
    /// The directories entered by relative-form entries; the last is the current one.
    dirs: Vec<Vec<u8>>,
    relative: bool,
    limits: Limits,
}

impl Parser {
    /// Reads one logical line: an entry, or a command (`/set`, `/unset`, `..`) or nothing.
    fn line(&mut self, line: &[u8], number: usize) -> Result<Option<Entry>, LineError> {
        let mut words = line.split(|b| *b == b' ' || *b == b'\t').filter(|w| !w.is_empty());
        let Some(first) = words.next() else { return Ok(None) };
        match first {
            b"/set" => {
                for w in words {
                    keyword(&mut self.set, w)?;
                }
                self.check_link(&self.set)?;
                return Ok(None);
            }
            b"/unset" => {
                for w in words {
                    unset(&mut self.set, w)?;
                }
                return Ok(None);
            }
            _ if first.starts_with(b"/") => {
                return Err(format!("unknown command `{}` (mtree has `/set` and `/unset`)", show(first)).into())
            }
            _ => {}
        }
        let name = unescape(first)?;
        if name == b".." {
            self.relative = true;
            if self.dirs.pop().is_none() {
                return Err("`..` climbs above the root".into());
            }
            return Ok(None);
        }
        let mut keywords = self.set.clone();
        for w in words {
            keyword(&mut keywords, w)?;
        }
        self.check_link(&keywords)?;
        let full = name.contains(&b'/');
        let path = if full {
            clean(name).map_err(|name| format!("`..` in the path `{}`", show(&name)))?
        } else if name == b"." {
            self.dirs.last().cloned().unwrap_or_default()
        } else {
            self.relative = true;
            super::join(self.dirs.last().map_or(&[][..], Vec::as_slice), &name)
        };
        // A directory named relatively (or the root) becomes the current one; full paths never
        // change it, as in libarchive and NetBSD mtree.
        self.check_path(&path)?;
        if keywords.kind == Some(EntryType::Dir) && !full {
            self.dirs.push(path.clone());
        }
        Ok(Some(Entry { path, line: number, keywords }))
    }

    /// The path and depth limits, checked before a relative directory can lengthen every
    /// path after it.
    fn check_path(&self, path: &[u8]) -> Result<(), LineError> {
        let shown = || crate::baseline::mtree::escape_path(&path[..path.len().min(64)]) + "…";
        if path.len() as u64 > self.limits.path {
            let why = format!("`{}`: a path of {} bytes", shown(), path.len());
            return Err(LineError::limit(why, Limit::Path));
        }
        // Counting costs what building the path did: linear in it.
        let depth = if path.is_empty() { 0 } else { path.split(|&b| b == b'/').count() };
        if depth as u64 > self.limits.depth {
            let why = format!("`{}`: a path of {depth} components", shown());
            return Err(LineError::limit(why, Limit::Depth));
        }
        Ok(())
    }

    /// Linux's own bound on a symlink's target is a path's.
    fn check_link(&self, keywords: &Keywords) -> Result<(), LineError> {
        match &keywords.link {
            Some(link) if link.len() as u64 > self.limits.path => {
                Err(LineError::limit(format!("a `link` target of {} bytes", link.len()), Limit::Path))
            }
            _ => Ok(()),
        }
    }
}

/// A full path as a tree path (see [`super::clean_path`]); `./usr/bin` the common case
/// without a copy. Gives the name back when it climbs with `..`.
fn clean(mut name: Vec<u8>) -> Result<Vec<u8>, Vec<u8>> {
    let plain = name.starts_with(b"./")
        && !name.ends_with(b"/")
        && !name.windows(2).any(|w| w == b"//" || w == b"/.")
        && !name[2..].starts_with(b".");
    if plain {
        name.drain(..2);
        return Ok(name);
    }
    super::clean_path(&name).ok_or(name)
}

/// The line without its comment: from the first `#` not escaped by a backslash.
fn strip_comment(line: &[u8]) -> &[u8] {
    if !line.contains(&b'#') {
        return line;
    }
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'\\' => i += 2,
            b'#' => return &line[..i],
            _ => i += 1,
        }
    }
    line
}

/// True when the line ends with an odd number of backslashes (the last one continues it).
fn continues(line: &[u8]) -> bool {
    line.iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::mtree::render;
    use crate::spool::Content;
    use crate::tree::{Kind, Lacks, Node, Tree};

    fn tree_of(text: &str) -> SpecTree {
        to_tree(parse(text.as_bytes()).unwrap()).unwrap()
    }

    fn err_of(text: &str) -> SpecError {
        match parse(text.as_bytes()).and_then(to_tree) {
            Ok(_) => panic!("{text:?} parsed"),
            Err(e) => e,
        }
    }

    fn file(data: &[u8], mode: u32) -> Node {
        use sha2::Digest;
        let sha256 = sha2::Sha256::digest(data).into();
        Node {
            kind: Kind::File(Content::digest(data.len() as u64, sha256)),
            mode,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: Vec::new(),
            origin: 0,
        }
    }

    /// Each `d type=dir` line of the relative form nests one level deeper, so its path grows
    /// with every line: 100,000 lines (1.1 MB) would make 10 GB of paths. Refused at the
    /// `depth` limit, at the line that crosses it.
    #[test]
    fn a_deep_relative_spec_is_refused_at_the_depth_limit_not_after_quadratic_work() {
        let text = "d type=dir\n".repeat(100_000);
        let e = read(format!(". type=dir\n{text}").into_bytes(), &Limits::default()).err().expect("refused");
        assert_eq!(e.line, 258, "{e}");
        assert!(e.why.contains("257 components, over the `depth` limit"), "{e}");
        assert!(e.help.as_deref().is_some_and(|h| h.contains("--limit depth=")), "{e:?}");
        let long = format!("{} type=dir\n", "n".repeat(200)).repeat(300);
        let e = read(long.into_bytes(), &Limits::default()).err().expect("refused");
        assert_eq!((e.line, e.why.contains("over the `path` limit")), (21, true), "{e}");
    }

    /// A `/set` every entry inherits is shared, not copied: 100,000 entries after a 4 KB
    /// `/set link=` hold one target between them.
    #[test]
    fn a_set_link_is_shared_by_the_entries_that_inherit_it() {
        let target = "t".repeat(4000);
        let mut text = format!("/set type=file uid=0 gid=0 mode=0644 link={target}\n");
        for i in 0..100_000 {
            text.push_str(&format!("./f{i}\n"));
        }
        let spec = parse(text.as_bytes()).unwrap();
        let (a, b) = (&spec.entries[0].keywords.link, &spec.entries[99_999].keywords.link);
        assert!(Rc::ptr_eq(a.as_ref().unwrap(), b.as_ref().unwrap()), "each entry copied the target");
        let over = format!("/set type=link link={}\n./l\n", "t".repeat(4097));
        let e = parse(over.as_bytes()).expect_err("refused");
        assert_eq!(e.line, 1);
        assert!(e.why.contains("a `link` target of 4097 bytes, over the `path` limit"), "{e}");
    }

    #[test]
    fn more_entries_than_the_limit_are_refused_at_the_first_one_over() {
        let limits = Limits { entries: 3, ..Limits::default() };
        let text = ". type=dir\n./a type=dir\n./b type=dir\n./c type=dir\n./d type=dir\n";
        let e = read(text.as_bytes().to_vec(), &limits).err().expect("refused");
        assert_eq!(e.line, 4);
        assert!(e.why.contains("more than 3 entries, over the `entries` limit"), "{e}");
    }

    #[test]
    fn everything_render_writes_parses_back_to_the_same_tree() {
        let mut every_byte: Vec<u8> = (1..=255u8).filter(|&b| b != b'/').collect();
        every_byte.extend_from_slice(b"\\\\#=*?[");
        let mut t = Tree::new(Node::dir(0o755, 0, 0));
        let link = |target: &[u8]| Node { kind: Kind::Symlink(target.to_vec()), mode: 0o777, ..Node::dir(0, 0, 0) };
        t.insert(b"opt".to_vec(), Node { uid: 1000, gid: 33, ..Node::dir(0o2750, 0, 0) });
        t.insert(every_byte.iter().map(|&b| if b == b'/' { b'x' } else { b }).collect(), file(b"odd", 0o644));
        t.insert(b"opt/with space\ttab".to_vec(), file(b"", 0o4755));
        t.insert(b"opt/l".to_vec(), link(&every_byte));
        t.insert(b"opt/abs".to_vec(), link(b"/usr/lib/x y"));
        t.insert(b"dev".to_vec(), Node::dir(0o755, 0, 0));
        t.insert(b"dev/null".to_vec(), Node { kind: Kind::Char(1, 3), mode: 0o666, ..Node::dir(0, 0, 0) });
        t.insert(b"dev/sda".to_vec(), Node { kind: Kind::Block(8, 0), mode: 0o660, gid: 6, ..Node::dir(0, 0, 0) });
        t.insert(b"dev/initctl".to_vec(), Node { kind: Kind::Fifo, mode: 0o600, ..Node::dir(0, 0, 0) });
        let text = render(&t);
        let back = tree_of(&text);
        assert!(back.lacks.is_empty(), "{:?}", back.lacks);
        assert_eq!(render(&back.tree), text);
        assert_eq!(back.tree.len(), t.len());
        for ((p, a), (q, b)) in t.iter().zip(back.tree.iter()) {
            assert_eq!(p, q);
            let mode = |n: &Node| if matches!(n.kind, Kind::Symlink(_)) { 0 } else { n.mode };
            assert_eq!((&a.kind, mode(a), a.uid, a.gid), (&b.kind, mode(b), b.uid, b.gid), "{p:?}");
        }
    }

    /// `mtree -c -K sha256digest,mode,uid,gid,type,link -p root` (NetBSD mtree 20180822).
    const NETBSD: &str = r"#	   user: (null)
#	machine: vm
#	   tree: /tmp/mt/root
#	   date: Mon Nov 23 15:44:34 2026

# .
/set type=file uid=0 gid=0 mode=0644 nlink=1 flags=none
.               type=dir mode=0755 nlink=5 time=1795448674.960273411
    bin         type=link mode=0777 time=1795448674.952350916 link=usr/bin
    caf\M-C\M-) size=1 time=1795448674.958582743 \
                sha256=8e35c2cd3bf6641bdb0e2050b76932cbb2e6034a0ddacc1d9bea82a6ba57f7cf
    fifo        type=fifo time=1795448674.958582743
    sl          type=link mode=0777 time=1795448674.956350916 link=tar\sget
    tab\there   size=1 time=1795448674.958582743 \
                sha256=594e519ae499312b29433b7dd8a97ff068defcba9755b6d5d00e84c524d67b06

# ./etc
etc             type=dir mode=0755 nlink=2 time=1795448674.960350916
    hard        nlink=2 size=3 time=1795448674.952350916 \
                sha256=98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4
# ./etc
..


# ./usr
/set type=file uid=0 gid=0 mode=0755 nlink=1 flags=none
usr             type=dir nlink=3 time=1795448674.952350916

# ./usr/bin
/set type=file uid=0 gid=0 mode=04755 nlink=1 flags=none
bin             type=dir mode=0755 nlink=2 time=1795448674.952350916
    st*r?[x]    size=1 time=1795448674.952350916 \
                sha256=a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa
# ./usr/bin
..

# ./usr
..


# ./with space
/set type=file uid=0 gid=0 mode=0644 nlink=1 flags=none
with\sspace     type=dir mode=0755 nlink=2 time=1795448674.952350916
    a\#b=c      size=1 time=1795448674.952350916 \
                sha256=2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881
# ./with space
..

";

    #[test]
    fn netbsd_relative_form_with_set_continuations_and_vis_escapes() {
        let spec = parse(NETBSD.as_bytes()).unwrap();
        assert_eq!(spec.form, Form::Relative);
        let t = tree_of(NETBSD);
        assert!(t.lacks.is_empty(), "{:?}", t.lacks);
        let paths: Vec<String> = t.tree.iter().map(|(p, _)| String::from_utf8_lossy(p).into_owned()).collect();
        assert_eq!(
            paths,
            [
                "",
                "bin",
                "caf\u{e9}",
                "etc",
                "etc/hard",
                "fifo",
                "sl",
                "tab\there",
                "usr",
                "usr/bin",
                "usr/bin/st*r?[x]",
                "with space",
                "with space/a#b=c"
            ]
        );
        let get = |p: &[u8]| t.tree.get(p).unwrap();
        assert_eq!(get(b"usr").mode, 0o755, "mode from `/set`");
        assert_eq!(get(b"usr/bin/st*r?[x]").mode, 0o4755);
        assert_eq!(get(b"sl").kind, Kind::Symlink(b"tar get".to_vec()));
        assert_eq!(get(b"fifo").kind, Kind::Fifo);
        match &get(b"with space/a#b=c").kind {
            Kind::File(c) => assert_eq!(c.size, 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bsdtar_full_path_form_with_modes_without_leading_zero() {
        let text = "#mtree\n. mode=755 gid=0 uid=0 type=dir\n./bin mode=777 gid=0 uid=0 type=link link=usr/bin\n./caf\\303\\251 mode=644 gid=0 uid=0 type=file size=1 sha256digest=8e35c2cd3bf6641bdb0e2050b76932cbb2e6034a0ddacc1d9bea82a6ba57f7cf\n./with\\040space mode=755 gid=0 uid=0 type=dir\n./with\\040space/a\\043b\\075c mode=4755 gid=0 uid=0 type=file size=1 sha256digest=2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881\n./dev/null mode=666 uid=0 gid=0 type=char device=native,1,3\n";
        assert_eq!(parse(text.as_bytes()).unwrap().form, Form::FullPath);
        let t = tree_of(text);
        assert_eq!(t.tree.get(b"with space/a#b=c").unwrap().mode, 0o4755);
        assert_eq!(t.tree.get(b"dev/null").unwrap().kind, Kind::Char(1, 3));
        assert!(t.tree.get("caf\u{e9}".as_bytes()).is_some());
    }

    #[test]
    fn missing_keywords_are_recorded_not_guessed() {
        let t = tree_of("./a type=file mode=644 uid=0 gid=0 size=3\n./l type=link uid=0 gid=0\n./d type=dir\n");
        assert_eq!(t.lacks[&b"a".to_vec()], Lacks::DIGEST);
        assert_eq!(t.lacks[&b"l".to_vec()], Lacks::LINK);
        assert_eq!(t.lacks[&b"d".to_vec()], Lacks::MODE | Lacks::UID | Lacks::GID);
        assert_eq!(t.lacks[&Vec::new()], Lacks::MODE | Lacks::UID | Lacks::GID, "no `.` line: the root is unknown");
    }

    #[test]
    fn a_partial_spec_renders_without_what_it_lacks_and_reads_back_the_same() {
        let text = "#mtree\n./a type=file mode=644 uid=0 size=3\n./l type=link gid=5\n./d type=dir uid=1 gid=2\n";
        let first = tree_of(text);
        let rendered =
            crate::baseline::mtree::render_with(&first.tree, |p| first.lacks.get(p).copied().unwrap_or_default());
        assert!(!rendered.contains("sha256digest") && !rendered.contains("link="), "{rendered}");
        let second = tree_of(&rendered);
        assert_eq!(second.lacks, first.lacks);
        assert_eq!(
            crate::baseline::mtree::render_with(&second.tree, |p| second.lacks.get(p).copied().unwrap_or_default()),
            rendered
        );
    }

    #[test]
    fn unset_removes_defaults() {
        let t = tree_of("/set type=file uid=0 gid=0 mode=0644\n. type=dir mode=0755\n/unset mode\nf size=0 sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n");
        assert_eq!(t.lacks[&b"f".to_vec()], Lacks::MODE);
        let t = tree_of("/set type=dir uid=0 gid=0 mode=0755\n/unset all\n. type=dir\n");
        assert!(t.lacks[&Vec::new()].has(Lacks::UID));
    }

    #[test]
    fn freebsd_style_closing_dotdot_of_the_root_is_accepted() {
        let t = tree_of("/set type=dir uid=0 gid=0 mode=0755\n.\n    etc\n    ..\n..\n");
        assert!(t.tree.get(b"etc").is_some());
    }

    #[test]
    fn comments_end_a_line_unless_escaped() {
        let t = tree_of("./a\\#b type=dir mode=0755 uid=0 gid=0 # a comment with type=bogus\n");
        assert!(t.tree.get(b"a#b").is_some());
    }

    #[test]
    fn crlf_line_ends_are_read() {
        let t = tree_of(". type=dir mode=0755 uid=0 gid=0\r\n./x type=dir mode=0700 uid=0 gid=0\r\n");
        assert_eq!(t.tree.get(b"x").unwrap().mode, 0o700);
    }

    #[test]
    fn mistakes_name_their_line() {
        let cases: [(&str, usize, &str); 13] = [
            (". type=dir\n./a type=file mode=06", 2, "cut short"),
            (". type=dir\n./a type=file \\\n", 2, "no line follows"),
            (". type=dir\n\n./a type=file colour=red\n", 3, "unknown keyword `colour`"),
            (". type=dir\n./a\\q type=file\n", 2, "bad escape `\\q"),
            (". type=dir\n./a\\7 type=file\n", 2, "bad escape"),
            (". type=dir\n./a\\777 type=file\n", 2, "bad escape"),
            (". type=dir\n./a type=file link=x\\\\\\\n", 2, "no line follows"),
            (". type=dir\n./a type=file mode=u+rwx\n", 2, "not an octal mode"),
            (". type=dir\n./a type=file sha256digest=abc\n", 2, "not 64 hex digits"),
            (". type=dir\n./a type=gizmo\n", 2, "unknown type"),
            ("..\n", 1, "climbs above the root"),
            (". type=dir\n./a mode=0644\n", 2, "has no `type`"),
            (". type=dir\n./a type=file\n./b type=dir\n./a type=dir\n", 4, "listed twice (lines 2 and 4)"),
        ];
        for (text, line, why) in cases {
            let e = err_of(text);
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.why.contains(why), "{text:?}: {e}");
        }
        assert!(err_of("./a type=file ignore\n").why.contains("not supported"));
        assert!(err_of("./a type\n").why.contains("no value"));
        assert!(err_of("/frob x\n").why.contains("unknown command"));
    }

    #[test]
    fn vis_escapes_decode() {
        assert_eq!(unescape(br"a\sb\tc\\d\#e\M-C\M-)\M^?\^A\040\303").unwrap(), b"a b\tc\\d#e\xc3\xa9\xff\x01 \xc3");
        assert!(unescape(b"a\\").is_err());
        assert!(unescape(br"\M-").is_err());
        assert!(unescape(br"\^a").is_err());
    }
}
