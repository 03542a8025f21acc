//! The `.deb` container: an ar archive read the way `dpkg-deb` reads it (`man deb`).
//!
//! The archive is streamed: nothing is allocated from a size a header claims (only the
//! format version, capped at [`VERSION_MAX`] bytes, is held in memory), every byte is read
//! once, and a stream cut anywhere is an error naming the member it cut.
//!
//! What gild accepts, member by member, and where it differs from `dpkg-deb` 1.21:
//!
//! - `!<arch>\n`, then `debian-binary` as the very first member, as dpkg demands (a `_`
//!   member before it is refused: dpkg calls such a file "not a Debian binary archive").
//!   Its content starts with `2.N\n` (any minor, the major must be 2); further lines are
//!   ignored, as `man deb` asks.
//! - `control.tar`, bare or `.gz`, `.xz`, `.zst`; then `data.tar`, bare or `.gz`, `.xz`,
//!   `.zst`, `.bz2` (dpkg also takes `.lzma` there; gild does not).
//! - Members whose names start with `_` are skipped between and after those. After
//!   `data.tar`, dpkg stops reading; [`Deb::finish`] goes on and refuses any other member.
//! - Header names lose their trailing spaces and one trailing `/` (GNU). BSD `#1/` long
//!   names, a size that is not left-aligned ASCII decimal, and a header not ending in
//!   `` `\n `` are errors. The padding byte after an odd-sized member must be there; its
//!   value is not checked (dpkg does not check it either).

use std::io::{self, Read};

/// The global header of every ar archive.
pub const MAGIC: &[u8; 8] = b"!<arch>\n";

/// The most bytes gild reads from `debian-binary` (dpkg writes 4: `2.0\n`).
pub const VERSION_MAX: u64 = 1024;

const HEADER: usize = 60;
const DEBIAN_BINARY: &str = "debian-binary";
const CONTROL_NAMES: &str = "`control.tar`, `control.tar.gz`, `control.tar.xz` or `control.tar.zst`";
const DATA_NAMES: &str = "`data.tar`, `data.tar.gz`, `data.tar.xz`, `data.tar.zst` or `data.tar.bz2`";
const AFTER_DATA: &str = "nothing but members named `_…` (after data.tar)";
const BROKEN: &str = "an earlier error left the archive in the middle of a member";

/// True when `head` starts with the ar magic: the cheap test before [`Deb::open`].
pub fn is_ar(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

/// Why a `.deb` could not be read; each names the member at fault.
#[derive(Debug, thiserror::Error)]
pub enum ArError {
    #[error("reading the .deb: {0}")]
    Io(#[from] io::Error),
    #[error("not a .deb: the file does not start with the ar magic `!<arch>\\n`")]
    Magic,
    #[error("member `{member}`: bad ar header: {why}")]
    Header { member: String, why: String },
    #[error("the archive ends inside the member header after `{after}`")]
    TruncatedHeader { after: String },
    #[error("member `{member}`: the archive ends inside its {part}")]
    Truncated { member: String, part: &'static str },
    #[error("member `{member}`: not a format version gild reads: {why}")]
    Version { member: String, why: String },
    #[error("member `{member}` stands where {expected} must")]
    Unexpected { member: String, expected: &'static str },
    #[error("the archive ends where {expected} must stand")]
    Missing { expected: &'static str },
    #[error("{0}")]
    Order(&'static str),
}

/// How far [`Deb`] has read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// `debian-binary` read; control.tar comes next.
    Opened,
    /// control.tar handed out (perhaps partly read).
    Control,
    /// data.tar handed out (perhaps partly read).
    Data,
    /// An error left the stream somewhere in the middle of a member: nothing more is read.
    Broken,
}

/// A `.deb` being read member by member, in dpkg's order; see the module documentation.
pub struct Deb<R> {
    inner: R,
    stage: Stage,
    /// The name of the member last met, for errors.
    current: String,
    /// Bytes of the current member not yet read.
    left: u64,
    /// Whether a padding byte follows the current member's data.
    pad: bool,
}

/// One member's bytes: reads stop at its end (then give EOF). A stream that ends before the
/// member does gives an [`io::ErrorKind::UnexpectedEof`] error naming the member.
pub struct Member<'a, R> {
    pub name: String,
    pub size: u64,
    deb: &'a mut Deb<R>,
}

/// One parsed member header.
struct Header {
    name: String,
    size: u64,
}

impl<R: Read> Deb<R> {
    /// Checks the magic and reads `debian-binary`, which must be the first member.
    pub fn open(mut r: R) -> Result<Deb<R>, ArError> {
        let mut magic = [0u8; MAGIC.len()];
        if read_full(&mut r, &mut magic)? < magic.len() || &magic != MAGIC {
            return Err(ArError::Magic);
        }
        let current = "!<arch>".to_string();
        let mut deb = Deb { inner: r, stage: Stage::Opened, current, left: 0, pad: false };
        let Some(header) = deb.next_header()? else {
            return Err(ArError::Missing { expected: "`debian-binary`" });
        };
        if header.name != DEBIAN_BINARY {
            return Err(ArError::Unexpected { member: header.name, expected: "`debian-binary`" });
        }
        deb.read_version(header.size)?;
        Ok(deb)
    }

    /// The control archive, `control.tar[.gz|.xz|.zst]`; `_` members before it are skipped.
    /// Call it before [`Deb::data`], once.
    pub fn control(&mut self) -> Result<Member<'_, R>, ArError> {
        match self.stage {
            Stage::Opened => {}
            Stage::Broken => return Err(ArError::Order(BROKEN)),
            _ => return Err(ArError::Order("control.tar was already passed: call control() once, before data()")),
        }
        let found = self.next_wanted(is_control, CONTROL_NAMES);
        let header = self.unless_broken(found)?;
        self.stage = Stage::Control;
        Ok(self.member(header))
    }

    /// The data archive, `data.tar[.gz|.xz|.zst|.bz2]`. What is left unread of control.tar
    /// is skipped first (control.tar itself too, when [`Deb::control`] was not called).
    pub fn data(&mut self) -> Result<Member<'_, R>, ArError> {
        match self.stage {
            Stage::Opened => drop(self.control()?),
            Stage::Control => {}
            Stage::Data => return Err(ArError::Order("data() was already called")),
            Stage::Broken => return Err(ArError::Order(BROKEN)),
        }
        let found = self.skip_rest().and_then(|()| self.next_wanted(is_data, DATA_NAMES));
        let header = self.unless_broken(found)?;
        self.stage = Stage::Data;
        Ok(self.member(header))
    }

    /// Skips what is left (members not yet asked for included), checks that only `_`
    /// members follow data.tar, and hands back the reader, at the end of the stream.
    pub fn finish(mut self) -> Result<R, ArError> {
        match self.stage {
            Stage::Opened | Stage::Control => drop(self.data()?),
            Stage::Data => {}
            Stage::Broken => return Err(ArError::Order(BROKEN)),
        }
        self.skip_rest()?;
        while let Some(header) = self.next_header()? {
            if !header.name.starts_with('_') {
                return Err(ArError::Unexpected { member: header.name, expected: AFTER_DATA });
            }
            self.skip_rest()?;
        }
        Ok(self.inner)
    }

    /// Reads headers, skipping `_` members, until the one `wanted` accepts.
    fn next_wanted(&mut self, wanted: impl Fn(&str) -> bool, expected: &'static str) -> Result<Header, ArError> {
        loop {
            let Some(header) = self.next_header()? else {
                return Err(ArError::Missing { expected });
            };
            if wanted(&header.name) {
                return Ok(header);
            }
            if !header.name.starts_with('_') {
                return Err(ArError::Unexpected { member: header.name, expected });
            }
            self.skip_rest()?;
        }
    }

    /// Passes `result` on; an error marks the stream as broken.
    fn unless_broken<T>(&mut self, result: Result<T, ArError>) -> Result<T, ArError> {
        if result.is_err() {
            self.stage = Stage::Broken;
        }
        result
    }

    fn member(&mut self, header: Header) -> Member<'_, R> {
        Member { name: header.name, size: header.size, deb: self }
    }

    /// Reads the next member header, or `None` at a clean end of the stream. The current
    /// member must have been read or skipped to its end.
    fn next_header(&mut self) -> Result<Option<Header>, ArError> {
        let mut raw = [0u8; HEADER];
        match read_full(&mut self.inner, &mut raw)? {
            0 => return Ok(None),
            HEADER => {}
            _ => return Err(ArError::TruncatedHeader { after: self.current.clone() }),
        }
        let header = parse_header(&raw)?;
        self.current.clone_from(&header.name);
        self.left = header.size;
        self.pad = header.size % 2 == 1;
        Ok(Some(header))
    }

    /// Reads `debian-binary` (the current member) and checks its format version.
    fn read_version(&mut self, size: u64) -> Result<(), ArError> {
        let member = DEBIAN_BINARY.to_string();
        if size > VERSION_MAX {
            let why = format!("{size} bytes, where a format version takes a few");
            return Err(ArError::Version { member, why });
        }
        let mut content = Vec::with_capacity(size as usize);
        (&mut self.inner).take(size).read_to_end(&mut content)?;
        self.left = size - content.len() as u64;
        if self.left > 0 {
            return Err(ArError::Truncated { member, part: "data" });
        }
        self.skip_rest()?;
        check_version(&content).map_err(|why| ArError::Version { member, why })
    }

    /// Skips what is left of the current member's data and its padding byte.
    fn skip_rest(&mut self) -> Result<(), ArError> {
        let left = self.left;
        let skipped = io::copy(&mut (&mut self.inner).take(left), &mut io::sink())?;
        self.left = left - skipped;
        if self.left > 0 {
            return Err(ArError::Truncated { member: self.current.clone(), part: "data" });
        }
        if self.pad {
            if read_full(&mut self.inner, &mut [0u8; 1])? == 0 {
                return Err(ArError::Truncated { member: self.current.clone(), part: "padding byte" });
            }
            self.pad = false;
        }
        Ok(())
    }
}

impl<R: Read> Read for Member<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let deb = &mut *self.deb;
        if deb.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(deb.left).unwrap_or(usize::MAX));
        let n = deb.inner.read(&mut buf[..want])?;
        if n == 0 {
            let why = format!("member `{}`: the archive ends {} bytes before the member does", self.name, deb.left);
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, why));
        }
        deb.left = deb.left.saturating_sub(n as u64);
        Ok(n)
    }
}

fn is_control(name: &str) -> bool {
    matches!(name, "control.tar" | "control.tar.gz" | "control.tar.xz" | "control.tar.zst")
}

fn is_data(name: &str) -> bool {
    matches!(name, "data.tar" | "data.tar.gz" | "data.tar.xz" | "data.tar.zst" | "data.tar.bz2")
}

/// Parses a 60-byte header: name (16), mtime (12), uid (6), gid (6), mode (8), size (10),
/// then `` `\n ``. Only name and size matter to a `.deb`; dpkg ignores the rest too.
fn parse_header(raw: &[u8; HEADER]) -> Result<Header, ArError> {
    let name = member_name(&raw[..16]);
    let bad = |why: &str| ArError::Header { member: name.clone(), why: why.to_string() };
    if &raw[58..60] != b"`\n" {
        return Err(bad("it does not end in \"`\\n\""));
    }
    if name.starts_with("#1/") {
        return Err(bad("BSD long member names (`#1/…`) are not part of the .deb format"));
    }
    let size = parse_size(&raw[48..58]).ok_or_else(|| bad("the size is not left-aligned ASCII decimal"))?;
    Ok(Header { name, size })
}

/// The name field without its trailing spaces and one trailing `/` (GNU ar), as dpkg
/// normalises it. Bytes that are not UTF-8 are replaced: no `.deb` member name has any.
fn member_name(field: &[u8]) -> String {
    let mut end = field.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    if end > 0 && field[end - 1] == b'/' {
        end -= 1;
    }
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// Digits, then spaces only; at least one digit. Ten digits always fit a u64.
fn parse_size(field: &[u8]) -> Option<u64> {
    let digits = field.iter().position(|&b| b == b' ').unwrap_or(field.len());
    if digits == 0 || field[digits..].iter().any(|&b| b != b' ') {
        return None;
    }
    field[..digits].iter().try_fold(0u64, |size, &b| b.is_ascii_digit().then(|| size * 10 + u64::from(b - b'0')))
}

/// `MAJOR.MINOR\n` at the start (further lines ignored, as `man deb` asks); MAJOR must be 2.
fn check_version(content: &[u8]) -> Result<(), String> {
    let line_end = content.iter().position(|&b| b == b'\n').ok_or("no newline: expected `2.N\\n`")?;
    let line = &content[..line_end];
    let shown = String::from_utf8_lossy(line);
    let (major, minor) = match line.iter().position(|&b| b == b'.') {
        Some(dot) => (&line[..dot], &line[dot + 1..]),
        None => return Err(format!("`{shown}` has no dot: expected `2.N`")),
    };
    let decimal = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    if !decimal(major) || !decimal(minor) {
        return Err(format!("`{shown}` is not `MAJOR.MINOR` in decimal digits"));
    }
    if major.iter().skip_while(|&&b| b == b'0').ne(b"2".iter()) {
        return Err(format!("format version {shown}: only major version 2 is understood"));
    }
    Ok(())
}

/// Reads until `buf` is full or the stream ends; returns how many bytes came.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
pub(in crate::deb) mod tests {
    use std::io::Cursor;
    use std::path::Path;
    use std::process::Command;

    use crate::needs::{require, Need};

    use proptest::prelude::*;

    use super::*;

    /// Members of a test archive: name and contents.
    type Members<'a> = &'a [(&'a str, &'a [u8])];

    /// A 60-byte header with the given raw name and size fields.
    fn header(name: &str, size: &str) -> Vec<u8> {
        let raw = format!("{name:<16}{:<12}{:<6}{:<6}{:<8}{size:<10}`\n", 0, 0, 0, 100644);
        assert_eq!(raw.len(), HEADER, "test header fields too long");
        raw.into_bytes()
    }

    /// An ar archive of `members`, each padded to even length with `\n` as GNU ar does.
    fn ar(members: Members) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for (name, data) in members {
            out.extend(header(name, &data.len().to_string()));
            out.extend_from_slice(data);
            if data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    fn deb(control: &[u8], data: &[u8]) -> Vec<u8> {
        ar(&[("debian-binary", b"2.0\n"), ("control.tar.gz", control), ("data.tar.xz", data)])
    }

    fn read_all(mut r: impl Read) -> Vec<u8> {
        let mut out = Vec::new();
        r.read_to_end(&mut out).expect("member reads");
        out
    }

    /// Opens, reads both members and finishes; the first error is returned.
    fn walk(bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>), ArError> {
        let mut deb = Deb::open(Cursor::new(bytes))?;
        let mut control = Vec::new();
        deb.control()?.read_to_end(&mut control)?;
        let mut data = Vec::new();
        deb.data()?.read_to_end(&mut data)?;
        deb.finish()?;
        Ok((control, data))
    }

    #[test]
    fn reads_members_in_order_and_skips_underscore_members() {
        let bytes = ar(&[
            ("debian-binary/", b"2.0\n"),
            ("_first", b"odd"),
            ("control.tar.gz/", b"ctl"),
            ("_between", b"x"),
            ("data.tar.zst", b"datadata"),
            ("_after/", b"y"),
        ]);
        let mut deb = Deb::open(Cursor::new(&bytes[..])).expect("opens");
        let control = deb.control().expect("control");
        assert_eq!((control.name.as_str(), control.size), ("control.tar.gz", 3));
        assert_eq!(read_all(control), b"ctl");
        let data = deb.data().expect("data");
        assert_eq!((data.name.as_str(), data.size), ("data.tar.zst", 8));
        assert_eq!(read_all(data), b"datadata");
        let rest = deb.finish().expect("finishes");
        assert_eq!(rest.position(), bytes.len() as u64, "the reader is handed back at the end");
    }

    #[test]
    fn unread_bytes_are_skipped() {
        let bytes = deb(b"control bytes", b"data bytes, odd!");
        let mut deb = Deb::open(Cursor::new(&bytes[..])).expect("opens");
        let mut one = [0u8; 1];
        assert_eq!(deb.control().expect("control").read(&mut one).expect("reads"), 1);
        assert_eq!(read_all(deb.data().expect("data after a partly read control")), b"data bytes, odd!");
        assert!(deb.finish().is_ok());

        let mut deb = Deb::open(Cursor::new(&bytes[..])).expect("opens");
        assert_eq!(read_all(deb.data().expect("data without control()")), b"data bytes, odd!");
        assert!(Deb::open(Cursor::new(&bytes[..])).expect("opens").finish().is_ok(), "finish validates all");
    }

    #[test]
    fn a_member_reads_as_eof_past_its_end() {
        let bytes = deb(b"abc", b"d");
        let mut deb = Deb::open(Cursor::new(&bytes[..])).expect("opens");
        let mut control = deb.control().expect("control");
        let mut buf = [0u8; 64];
        assert_eq!(control.read(&mut buf).expect("reads"), 3);
        assert_eq!(control.read(&mut buf).expect("reads"), 0);
        assert_eq!(control.read(&mut buf).expect("reads"), 0);
    }

    #[test]
    fn format_versions() {
        for ok in [&b"2.0\n"[..], b"2.9\n", b"2.10\nnew lines are ignored\n", b"02.0\n"] {
            let bytes = ar(&[("debian-binary", ok), ("control.tar", b""), ("data.tar", b"")]);
            assert!(walk(&bytes).is_ok(), "{:?}", String::from_utf8_lossy(ok));
        }
        for bad in [&b"3.0\n"[..], b"2.0", b"2\n", b"x.y\n", b"2.\n", b".0\n", b"20.0\n", b" 2.0\n", b"2.0 \n"] {
            let bytes = ar(&[("debian-binary", bad), ("control.tar", b""), ("data.tar", b"")]);
            let err = walk(&bytes).expect_err(&String::from_utf8_lossy(bad));
            assert!(matches!(&err, ArError::Version { member, .. } if member == "debian-binary"), "{err}");
        }
        let big = vec![b'\n'; VERSION_MAX as usize + 1];
        let err = walk(&ar(&[("debian-binary", &big)])).expect_err("oversized");
        assert!(matches!(err, ArError::Version { .. }), "{err}");
    }

    #[test]
    fn wrong_magic() {
        for bytes in [&b""[..], b"!<arch>", b"!<arch>\r\n", b"PK\x03\x04 not an ar"] {
            assert!(matches!(Deb::open(Cursor::new(bytes)), Err(ArError::Magic)));
            assert!(!is_ar(bytes));
        }
        assert!(is_ar(&deb(b"", b"")));
    }

    #[test]
    fn debian_binary_must_come_first() {
        let err = walk(&ar(&[("_x", b"1"), ("debian-binary", b"2.0\n")])).expect_err("dpkg refuses it");
        assert!(matches!(&err, ArError::Unexpected { member, .. } if member == "_x"), "{err}");
        let err = walk(&ar(&[("control.tar", b"")])).expect_err("no debian-binary");
        assert!(matches!(&err, ArError::Unexpected { member, .. } if member == "control.tar"), "{err}");
        assert!(matches!(walk(MAGIC), Err(ArError::Missing { .. })));
    }

    #[test]
    fn members_out_of_place() {
        let cases: [(Members, &str); 6] = [
            (&[("debian-binary", b"2.0\n"), ("data.tar.xz", b""), ("control.tar.xz", b"")], "data.tar.xz"),
            (&[("debian-binary", b"2.0\n"), ("control.tar.bz2", b""), ("data.tar", b"")], "control.tar.bz2"),
            (&[("debian-binary", b"2.0\n"), ("control.tar", b""), ("extra", b""), ("data.tar", b"")], "extra"),
            (&[("debian-binary", b"2.0\n"), ("control.tar", b""), ("control.tar.gz", b"")], "control.tar.gz"),
            (&[("debian-binary", b"2.0\n"), ("control.tar", b""), ("data.tar.lzma", b"")], "data.tar.lzma"),
            (&[("debian-binary", b"2.0\n"), ("control.tar", b""), ("data.tar", b""), ("junk", b"j")], "junk"),
        ];
        for (members, culprit) in cases {
            let err = walk(&ar(members)).expect_err(culprit);
            assert!(matches!(&err, ArError::Unexpected { member, .. } if member == culprit), "{culprit}: {err}");
        }
        let err = walk(&ar(&[("debian-binary", b"2.0\n"), ("control.tar", b"")])).expect_err("no data");
        assert!(matches!(err, ArError::Missing { .. }), "{err}");
        let err = walk(&ar(&[("debian-binary", b"2.0\n"), ("_only", b"")])).expect_err("no control");
        assert!(matches!(err, ArError::Missing { .. }), "{err}");
    }

    #[test]
    fn truncated_members() {
        let bytes = deb(b"0123456789", b"abcdef");
        let control_end = 8 + 60 + 4 + 60 + 10;
        let cut = &bytes[..control_end - 3];
        let mut deb = Deb::open(Cursor::new(cut)).expect("opens");
        let err = deb.control().expect("control").read_to_end(&mut Vec::new()).expect_err("cut");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("control.tar.gz"), "{err}");
        let err = walk(cut).map(|_| ()).expect_err("cut");
        assert!(matches!(&err, ArError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof), "{err}");
        let mut deb = Deb::open(Cursor::new(cut)).expect("opens");
        drop(deb.control().expect("control"));
        let err = deb.data().map(|_| ()).expect_err("skipping a cut member");
        assert!(matches!(&err, ArError::Truncated { member, part: "data" } if member == "control.tar.gz"), "{err}");

        let err = walk(&bytes[..control_end + 30]).expect_err("cut header");
        assert!(matches!(&err, ArError::TruncatedHeader { after } if after == "control.tar.gz"), "{err}");
        let err = walk(&bytes[..8 + 59]).expect_err("cut first header");
        assert_eq!(err.to_string(), "the archive ends inside the member header after `!<arch>`");
    }

    #[test]
    fn odd_padding_missing() {
        let mut bytes = deb(b"", b"odd");
        assert_eq!(bytes.pop(), Some(b'\n'));
        let err = walk(&bytes).expect_err("no padding byte at the end");
        assert!(matches!(&err, ArError::Truncated { member, part: "padding byte" } if member == "data.tar.xz"));

        let mut bytes = ar(&[("debian-binary", b"2.0\n")]);
        bytes.extend(header("control.tar", "3"));
        bytes.extend(b"abc");
        bytes.extend(header("data.tar", "0"));
        bytes.extend(header("_more", "0"));
        let err = walk(&bytes).expect_err("the next header is read one byte off");
        assert!(matches!(err, ArError::Header { .. }), "{err}");
    }

    #[test]
    fn bad_headers() {
        for (name, size) in [("#1/20", "20"), ("control.tar", "12a"), ("control.tar", " 12"), ("control.tar", "")] {
            let mut bytes = ar(&[("debian-binary", b"2.0\n")]);
            bytes.extend(header(name, size));
            bytes.extend([0u8; 20]);
            let err = walk(&bytes).expect_err(name);
            assert!(matches!(&err, ArError::Header { member, .. } if member == name), "{name} {size:?}: {err}");
        }
        let mut bytes = ar(&[("debian-binary", b"2.0\n")]);
        bytes.extend(header("control.tar", "0"));
        bytes[8 + 60 + 4 + 58] = b'\'';
        assert!(matches!(walk(&bytes), Err(ArError::Header { .. })));
    }

    #[test]
    fn call_order() {
        let bytes = deb(b"", b"");
        let mut deb = Deb::open(Cursor::new(&bytes[..])).expect("opens");
        drop(deb.data().expect("data"));
        assert!(matches!(deb.control().map(|_| ()), Err(ArError::Order(_))));
        assert!(matches!(deb.data().map(|_| ()), Err(ArError::Order(_))));

        let bytes = ar(&[("debian-binary", b"2.0\n"), ("data.tar", b"0123456789"), ("control.tar", b"")]);
        let mut deb = Deb::open(Cursor::new(&bytes[..])).expect("opens");
        assert!(matches!(deb.control().map(|_| ()), Err(ArError::Unexpected { .. })));
        assert!(matches!(deb.control().map(|_| ()), Err(ArError::Order(BROKEN))), "no header read from data");
        assert!(matches!(deb.finish(), Err(ArError::Order(BROKEN))));
    }

    proptest! {
        #[test]
        fn never_panics_on_junk(tail in proptest::collection::vec(any::<u8>(), 0..400), magic: bool) {
            let mut bytes = if magic { MAGIC.to_vec() } else { Vec::new() };
            bytes.extend(tail);
            let _ = walk(&bytes);
        }

        #[test]
        fn every_cut_is_an_error(cut in 0usize..240, control in proptest::collection::vec(any::<u8>(), 0..20)) {
            let bytes = deb(&control, b"some data");
            prop_assume!(cut < bytes.len());
            prop_assert!(walk(&bytes[..cut]).is_err());
            prop_assert!(walk(&bytes).is_ok());
        }
    }

    /// Runs `command`, which must succeed; returns its stdout.
    pub(in crate::deb) fn run(command: &mut Command) -> Vec<u8> {
        let out = command.output().expect("runs");
        assert!(out.status.success(), "{command:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// A member decompressed the way its name says.
    fn decompress(name: &str, member: impl Read) -> Vec<u8> {
        let reader: Box<dyn Read + '_> = match name.rsplit_once(".tar").map(|(_, ext)| ext) {
            Some("") => Box::new(member),
            Some(".gz") => Box::new(flate2::read::GzDecoder::new(member)),
            Some(".xz") => Box::new(liblzma::read::XzDecoder::new(member)),
            Some(".zst") => Box::new(zstd::stream::read::Decoder::new(member).expect("zstd")),
            _ => panic!("unexpected member {name}"),
        };
        read_all(reader)
    }

    /// A real `dpkg-deb --build`, in each compression it offers: member names, sizes and
    /// contents (decompressed) match what `dpkg-deb` itself extracts.
    #[test]
    #[cfg_attr(gild_no_dpkg, ignore = "dpkg not installed")]
    fn reads_what_dpkg_deb_builds() {
        require(&[Need::Dpkg]);
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("pkg");
        std::fs::create_dir_all(root.join("DEBIAN")).expect("mkdir");
        std::fs::create_dir_all(root.join("usr/share/gild-test")).expect("mkdir");
        let control = "Package: gild-test\nVersion: 1.0\nArchitecture: all\nMaintainer: gild <gild@example.org>\n\
                       Description: a package gild reads\n";
        std::fs::write(root.join("DEBIAN/control"), control).expect("write");
        std::fs::write(root.join("usr/share/gild-test/file"), "contents\n".repeat(100)).expect("write");
        let help = String::from_utf8_lossy(&run(Command::new("dpkg-deb").arg("--help"))).into_owned();
        let mut kinds = vec![("xz", ".xz"), ("gzip", ".gz"), ("none", "")];
        if help.contains("zstd") {
            kinds.push(("zstd", ".zst"));
        }
        for (kind, ext) in kinds {
            let path = dir.path().join(format!("{kind}.deb"));
            let mut build = Command::new("dpkg-deb");
            build.arg("--root-owner-group").arg(format!("-Z{kind}")).arg("--build");
            run(build.arg(&root).arg(&path));
            check_real_deb(&path, ext);
        }
    }

    fn check_real_deb(path: &Path, ext: &str) {
        let bytes = std::fs::read(path).expect("read .deb");
        let mut deb = Deb::open(Cursor::new(&bytes[..])).expect("opens");
        let member = deb.control().expect("control");
        assert_eq!(member.name, format!("control.tar{ext}"));
        let size = member.size;
        let control = decompress(&format!("control.tar{ext}"), member);
        assert_eq!(control, run(Command::new("dpkg-deb").arg("--ctrl-tarfile").arg(path)), "{ext}");
        let member = deb.data().expect("data");
        assert_eq!(member.name, format!("data.tar{ext}"));
        let data_size = member.size;
        let data = decompress(&format!("data.tar{ext}"), member);
        assert_eq!(data, run(Command::new("dpkg-deb").arg("--fsys-tarfile").arg(path)), "{ext}");
        assert_eq!(deb.finish().expect("finishes").position(), bytes.len() as u64);
        let padded = |n: u64| 60 + n + n % 2;
        assert_eq!(8 + padded(4) + padded(size) + padded(data_size), bytes.len() as u64, "{ext}: member sizes");
    }
}
