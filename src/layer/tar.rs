//! A capped, strict tar reader.
//!
//! `tar` 0.4 reads long-name and PAX blocks without a cap and takes a stream cut at a header
//! boundary as a clean end (docs/interop.md); gild needs neither. This reader knows ustar, GNU and
//! PAX headers, allocates nothing from a header's claimed size before checking it against
//! [`Limits`], and refuses what gild does not keep (sparse files, global headers, unknown
//! types) instead of skipping it.
//!
//! Its cost is linear in its input (docs/layers.md): PAX records are merged into maps, never a list
//! re-sorted per record, and the extension headers before one entry (PAX `x`, GNU `L`/`K`)
//! count together against the `header` limit, so a flood of headers costs what it weighs and
//! is refused once it weighs more than one header may. Extended attributes are held to what
//! Linux itself allows, so an image never carries one a host could not set.

mod fields;

use std::collections::BTreeMap;
use std::io::{self, BufRead, Read};

use base64::Engine;

use crate::limits::{Limit, Limits};
use fields::{field_bytes, parse_number, parse_pax, parse_time, verify_checksum};

const BLOCK: usize = 512;

/// Linux's own limits on extended attributes (`include/uapi/linux/limits.h`): the longest
/// name (`XATTR_NAME_MAX`), the largest value (`XATTR_SIZE_MAX`) and the most bytes the names
/// of one file may take, each with its NUL, as `listxattr` returns them (`XATTR_LIST_MAX`).
/// They are the kernel's, not gild's: no limit key raises them.
pub const XATTR_NAME_MAX: usize = 255;
pub const XATTR_SIZE_MAX: usize = 64 << 10;
pub const XATTR_LIST_MAX: usize = 64 << 10;

/// The entry types gild keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    HardLink,
    Symlink,
    Char,
    Block,
    Dir,
    Fifo,
}

/// One entry's header, with PAX and GNU long-name overrides applied.
#[derive(Debug, Clone)]
pub struct Header {
    pub path: Vec<u8>,
    pub link: Vec<u8>,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: i64,
    pub size: u64,
    pub dev: (u32, u32),
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// PAX records dropped (ACLs and the like), for the report.
    pub dropped: Dropped,
}

/// PAX records gild drops, for the report: the first few distinct keys by name and how many
/// records in all. A flood of distinct keys costs a count, not a growing set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Up to [`Dropped::NAMED`] distinct keys, in the order first seen.
    pub keys: Vec<String>,
    /// Distinct keys beyond those named were seen.
    pub more: bool,
    pub records: u64,
}

impl Dropped {
    pub const NAMED: usize = 20;

    fn add(&mut self, key: &[u8]) {
        self.records += 1;
        self.name(key);
    }

    fn name(&mut self, key: &[u8]) {
        if self.keys.iter().any(|k| k.as_bytes() == key) {
            return;
        }
        if self.keys.len() < Self::NAMED {
            self.keys.push(String::from_utf8_lossy(key).into_owned());
        } else {
            self.more = true;
        }
    }

    /// Adds what another entry dropped.
    pub fn merge(&mut self, other: &Dropped) {
        self.records += other.records;
        self.more |= other.more;
        for k in &other.keys {
            self.name(k.as_bytes());
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TarError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("the stream ends inside {0}")]
    Truncated(String),
    #[error("bad header checksum at byte {0}: not a tar stream, or a corrupt one")]
    Checksum(u64),
    #[error("{entry}: bad `{field}` field in the header")]
    Field { entry: String, field: &'static str },
    #[error("{entry}: malformed PAX record: {why}")]
    Pax { entry: String, why: String },
    #[error("global PAX header (type `g`) at byte {0}: gild does not apply global headers")]
    Global(u64),
    #[error("{0}: sparse entries are not supported")]
    Sparse(String),
    #[error("{entry}: entry type `{flag}` is not one gild keeps")]
    Type { entry: String, flag: String },
    #[error("{entry}: exceeds the `{limit}` limit ({value} > {max})")]
    Limit { entry: String, limit: Limit, value: u64, max: u64 },
    #[error("{entry}: the extension headers before it (PAX, GNU long names) hold {value} bytes, over the `header` limit ({max}); refused after reading {at} bytes of the layer\n  help: raise it with `[image.limits] header = …` in the recipe or `--limit header=…`")]
    Headers { entry: String, value: u64, max: u64, at: u64 },
    #[error("{entry}: extended attribute {what}, over what Linux allows ({max}); refused after reading {at} bytes of the layer\n  help: this is the kernel's limit, not gild's: no host could set this attribute, so the layer must be rebuilt without it")]
    Xattr { entry: String, what: String, max: &'static str, at: u64 },
    #[error("non-zero data after the end-of-archive blocks, at byte {0}")]
    Trailing(u64),
}

/// Reads entries one by one; the data of the current entry is read with [`Archive::data`].
pub struct Archive<R> {
    inner: R,
    limits: Limits,
    /// Bytes consumed from `inner`.
    pos: u64,
    /// Data bytes of the current entry not yet read, and the padding after them.
    remaining: u64,
    padding: u64,
    entries: u64,
    current: String,
    /// Set when the stream ended at an entry boundary without end-of-archive blocks.
    pub missing_end: bool,
}

/// Overrides gathered from PAX (`x`) and GNU (`L`, `K`) headers for the next entry.
#[derive(Default)]
struct Pending {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    mode: Option<u32>,
    mtime: Option<i64>,
    /// By name: a later record for a name replaces the earlier one, at the cost of one lookup.
    xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    /// What the names of `xattrs` take as `listxattr` returns them (each with its NUL).
    xattr_names: usize,
    dropped: Dropped,
    /// Bytes of the extension headers read so far for the next entry, against `header`.
    headers: u64,
}

impl<R: Read> Archive<R> {
    pub fn new(inner: R, limits: Limits) -> Self {
        Archive {
            inner,
            limits,
            pos: 0,
            remaining: 0,
            padding: 0,
            entries: 0,
            current: String::new(),
            missing_end: false,
        }
    }

    /// Reads a whole block; `Ok(false)` at a clean end of stream.
    fn block(&mut self, buf: &mut [u8; BLOCK], inside: &str) -> Result<bool, TarError> {
        let mut got = 0;
        while got < BLOCK {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => return Err(TarError::Truncated(inside.to_string())),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.count(BLOCK as u64)?;
        Ok(true)
    }

    fn count(&mut self, n: u64) -> Result<(), TarError> {
        self.pos += n;
        if self.pos > self.limits.unpacked {
            return Err(TarError::Limit {
                entry: self.current.clone(),
                limit: Limit::Unpacked,
                value: self.pos,
                max: self.limits.unpacked,
            });
        }
        Ok(())
    }

    /// Skips what is left of the current entry.
    fn skip_rest(&mut self) -> Result<(), TarError> {
        let what = format!("the data of `{}`", self.current);
        let n = self.remaining + self.padding;
        let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        self.count(copied)?;
        if copied < n {
            return Err(TarError::Truncated(what));
        }
        self.remaining = 0;
        self.padding = 0;
        Ok(())
    }

    /// Reads exactly `size` bytes of a meta entry (PAX, long name), after checking that it
    /// and the extension headers before it for the same entry (`pending`) fit the cap.
    fn meta_data(&mut self, size: u64, what: &str, pending: &mut Pending) -> Result<Vec<u8>, TarError> {
        let total = pending.headers.saturating_add(size);
        if total > self.limits.header {
            return Err(if pending.headers == 0 {
                TarError::Limit { entry: what.to_string(), limit: Limit::Header, value: size, max: self.limits.header }
            } else {
                TarError::Headers { entry: what.to_string(), value: total, max: self.limits.header, at: self.pos }
            });
        }
        pending.headers = total;
        let padded = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        let mut data = Vec::new();
        (&mut self.inner).take(padded).read_to_end(&mut data)?;
        self.count(data.len() as u64)?;
        if (data.len() as u64) < padded {
            return Err(TarError::Truncated(what.to_string()));
        }
        data.truncate(size as usize);
        Ok(data)
    }

    /// The next entry, or `None` at the end of the archive.
    pub fn next_entry(&mut self) -> Result<Option<Header>, TarError> {
        self.skip_rest()?;
        let mut pending = Pending::default();
        let mut buf = [0u8; BLOCK];
        loop {
            let at = self.pos;
            let inside = if pending.path.is_some() || pending.size.is_some() { "an entry's headers" } else { "" };
            if !self.block(&mut buf, inside)? {
                if !inside.is_empty() {
                    return Err(TarError::Truncated(inside.into()));
                }
                self.missing_end = true;
                return Ok(None);
            }
            if buf.iter().all(|&b| b == 0) {
                self.check_tail()?;
                return Ok(None);
            }
            verify_checksum(&buf, at)?;
            let raw_name = field_bytes(&buf[0..100]);
            let ustar = &buf[257..263] == b"ustar\0";
            let mut name = raw_name.to_vec();
            if ustar && buf[345] != 0 {
                let mut full = field_bytes(&buf[345..500]).to_vec();
                full.push(b'/');
                full.extend_from_slice(raw_name);
                name = full;
            }
            self.current = String::from_utf8_lossy(pending.path.as_deref().unwrap_or(&name)).into_owned();
            let entry = self.current.clone();
            let num = |range: std::ops::Range<usize>, field: &'static str| {
                parse_number(&buf[range]).ok_or(TarError::Field { entry: entry.clone(), field })
            };
            let size = num(124..136, "size")?;
            let flag = buf[156];
            match flag {
                b'x' => {
                    let data = self.meta_data(size, &format!("the PAX header of `{entry}`"), &mut pending)?;
                    parse_pax(&data, &mut pending, &entry).map_err(|e| e.at(self.pos))?;
                    continue;
                }
                b'L' | b'K' => {
                    let mut data =
                        self.meta_data(size, &format!("the GNU long name header at byte {at}"), &mut pending)?;
                    while data.last() == Some(&0) {
                        data.pop();
                    }
                    if flag == b'L' {
                        pending.path = Some(data);
                    } else {
                        pending.link = Some(data);
                    }
                    continue;
                }
                b'g' => return Err(TarError::Global(at)),
                b'S' => return Err(TarError::Sparse(entry)),
                _ => {}
            }
            let kind = match flag {
                b'0' | 0 | b'7' => Kind::File,
                b'1' => Kind::HardLink,
                b'2' => Kind::Symlink,
                b'3' => Kind::Char,
                b'4' => Kind::Block,
                b'5' => Kind::Dir,
                b'6' => Kind::Fifo,
                other => return Err(TarError::Type { entry, flag: (other as char).escape_default().to_string() }),
            };
            let size = pending.size.unwrap_or(size);
            let mut header = Header {
                path: pending.path.take().unwrap_or(name),
                link: pending.link.take().unwrap_or_else(|| field_bytes(&buf[157..257]).to_vec()),
                kind,
                mode: pending.mode.unwrap_or(num(100..108, "mode")? as u32) & 0o7777,
                uid: pending.uid.unwrap_or(num(108..116, "uid")?),
                gid: pending.gid.unwrap_or(num(116..124, "gid")?),
                mtime: match pending.mtime {
                    Some(t) => t,
                    None => {
                        parse_time(&buf[136..148]).ok_or(TarError::Field { entry: entry.clone(), field: "mtime" })?
                    }
                },
                size,
                dev: (0, 0),
                xattrs: std::mem::take(&mut pending.xattrs).into_iter().collect(),
                dropped: std::mem::take(&mut pending.dropped),
            };
            if matches!(kind, Kind::Char | Kind::Block) {
                header.dev = (num(329..337, "devmajor")? as u32, num(337..345, "devminor")? as u32);
            }
            self.check_path(&header.path)?;
            self.entries += 1;
            if self.entries > self.limits.entries {
                return Err(TarError::Limit {
                    entry: self.current.clone(),
                    limit: Limit::Entries,
                    value: self.entries,
                    max: self.limits.entries,
                });
            }
            self.remaining = size;
            self.padding = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
            return Ok(Some(header));
        }
    }

    fn check_path(&self, path: &[u8]) -> Result<(), TarError> {
        let over = |limit, value, max| TarError::Limit { entry: self.current.clone(), limit, value, max };
        if path.len() as u64 > self.limits.path {
            return Err(over(Limit::Path, path.len() as u64, self.limits.path));
        }
        let depth = path.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".").count() as u64;
        if depth > self.limits.depth {
            return Err(over(Limit::Depth, depth, self.limits.depth));
        }
        Ok(())
    }

    /// After the first zero block, only zeros may follow (the second end block, record padding).
    fn check_tail(&mut self) -> Result<(), TarError> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match self.inner.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(io::Error::new(e.kind(), format!("after the end-of-archive blocks: {e}")).into());
                }
            };
            if let Some(i) = buf[..n].iter().position(|&b| b != 0) {
                return Err(TarError::Trailing(self.pos + i as u64));
            }
            self.count(n as u64)?;
        }
    }

    /// Bytes read from the stream so far: where a refusal happened, for tests and benchmarks
    /// that prove a flood is refused early.
    pub fn consumed(&self) -> u64 {
        self.pos
    }

    /// The current entry's data. Reading past a cut stream is an error, not a short entry.
    pub fn data(&mut self) -> EntryData<'_, R> {
        EntryData { archive: self }
    }
}

pub struct EntryData<'a, R> {
    archive: &'a mut Archive<R>,
}

impl<R: Read> Read for EntryData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let a = &mut *self.archive;
        if a.remaining == 0 {
            return Ok(0);
        }
        let want = buf.len().min(a.remaining.min(usize::MAX as u64) as usize);
        let n = a.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the stream ends inside the data of `{}`", a.current),
            ));
        }
        a.remaining -= n as u64;
        a.count(n as u64).map_err(|e| io::Error::other(e.to_string()))?;
        Ok(n)
    }
}

/// Borrowing the stream's own buffer spares a copy of every byte of file data.
impl<R: BufRead> BufRead for EntryData<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let a = &mut *self.archive;
        if a.remaining == 0 {
            return Ok(&[]);
        }
        let remaining = a.remaining;
        let (pos, max, current) = (a.pos, a.limits.unpacked, &a.current);
        let buf = a.inner.fill_buf()?;
        if buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the stream ends inside the data of `{current}`"),
            ));
        }
        let n = buf.len().min(remaining.min(usize::MAX as u64) as usize);
        // The cap is checked on what is about to be consumed, so `consume` cannot fail.
        if pos + n as u64 > max {
            let e = TarError::Limit { entry: current.clone(), limit: Limit::Unpacked, value: pos + n as u64, max };
            return Err(io::Error::other(e));
        }
        Ok(&buf[..n])
    }

    fn consume(&mut self, n: usize) {
        let a = &mut *self.archive;
        a.inner.consume(n);
        a.remaining -= n as u64;
        a.pos += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &[u8], flag: u8, size: u64) -> [u8; BLOCK] {
        let mut h = [0u8; BLOCK];
        h[..name.len()].copy_from_slice(name);
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = flag;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| b as u64).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<(Header, Vec<u8>)>, TarError> {
        let mut a = Archive::new(bytes, Limits::default());
        let mut out = Vec::new();
        while let Some(h) = a.next_entry()? {
            let mut data = Vec::new();
            a.data().read_to_end(&mut data)?;
            out.push((h, data));
        }
        Ok(out)
    }

    #[test]
    fn reads_a_file_and_pax_path() {
        let mut t = Vec::new();
        let rec = b"29 path=a/very/long/name.txt\n";
        t.extend_from_slice(&header(b"pax", b'x', rec.len() as u64));
        let mut blk = [0u8; BLOCK];
        blk[..rec.len()].copy_from_slice(rec);
        t.extend_from_slice(&blk);
        t.extend_from_slice(&header(b"short", b'0', 3));
        let mut blk = [0u8; BLOCK];
        blk[..3].copy_from_slice(b"abc");
        t.extend_from_slice(&blk);
        t.extend_from_slice(&[0u8; 1024]);
        let entries = read_all(&t).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].0.path, b"a/very/long/name.txt");
        assert_eq!(entries[0].1, b"abc");
    }

    #[test]
    fn a_cut_entry_is_an_error_not_a_short_file() {
        let mut t = Vec::new();
        t.extend_from_slice(&header(b"f", b'0', 1000));
        t.extend_from_slice(&[7u8; 600]);
        assert!(read_all(&t).is_err());
    }

    #[test]
    fn data_after_the_end_blocks_is_refused() {
        let mut t = vec![0u8; 1024];
        t.push(1);
        assert!(matches!(read_all(&t), Err(TarError::Trailing(1024))));
    }

    #[test]
    fn pax_size_over_the_header_limit_is_refused_before_reading() {
        let t = header(b"pax", b'x', 1 << 32);
        assert!(matches!(read_all(&t), Err(TarError::Limit { limit: Limit::Header, .. })));
    }

    /// One PAX record, its length counting itself.
    fn record(key: &[u8], value: &[u8]) -> Vec<u8> {
        let body = key.len() + value.len() + 3;
        let mut len = body + 1;
        while format!("{len}").len() + body != len {
            len += 1;
        }
        let mut r = format!("{len} ").into_bytes();
        r.extend_from_slice(key);
        r.push(b'=');
        r.extend_from_slice(value);
        r.push(b'\n');
        assert_eq!(r.len(), len);
        r
    }

    /// A PAX header holding `records`, padded to whole blocks.
    fn pax(records: &[u8]) -> Vec<u8> {
        let mut t = header(b"PaxHeaders/f", b'x', records.len() as u64).to_vec();
        t.extend_from_slice(records);
        t.resize(t.len().div_ceil(BLOCK) * BLOCK, 0);
        t
    }

    fn file_entry(t: &mut Vec<u8>) {
        t.extend_from_slice(&header(b"f", b'0', 0));
        t.extend_from_slice(&[0u8; 1024]);
    }

    fn first_entry(t: &[u8], limits: Limits) -> (Result<Option<Header>, TarError>, u64) {
        let mut a = Archive::new(t, limits);
        let r = a.next_entry();
        (r, a.consumed())
    }

    /// The flood of issue 16: 100 PAX headers of 2,000 distinct `SCHILY.xattr` records each
    /// before one entry. Refused at Linux's 64 KiB of names, in the header that crosses it,
    /// having read no further.
    #[test]
    fn a_flood_of_distinct_xattrs_is_refused_where_the_names_pass_64_kib() {
        let mut t = Vec::new();
        let mut names = 0;
        let mut crossed_at = None;
        for h in 0..100 {
            let mut records = Vec::new();
            for i in 0..2000 {
                let name = format!("user.h{h:03}.{i:04}");
                names += name.len() + 1;
                records.extend(record(format!("SCHILY.xattr.{name}").as_bytes(), b"v"));
            }
            t.extend(pax(&records));
            if names > XATTR_LIST_MAX && crossed_at.is_none() {
                crossed_at = Some(t.len() as u64);
            }
        }
        file_entry(&mut t);
        let (r, consumed) = first_entry(&t, Limits::default());
        let expected = crossed_at.unwrap();
        assert!(matches!(r, Err(TarError::Xattr { at, .. }) if at == expected), "{r:?}");
        assert_eq!(consumed, expected, "read no further than the header that crossed the limit");
        assert!(consumed < t.len() as u64 / 20, "refused within the first twentieth: {consumed} of {}", t.len());
    }

    /// The same names again and again: no Linux limit is crossed, but the headers before one
    /// entry count together against `header` (1 MiB), so the flood stops there.
    #[test]
    fn a_flood_of_repeated_xattrs_is_refused_at_the_header_limit_counted_together() {
        let mut records = Vec::new();
        for i in 0..2000 {
            records.extend(record(format!("SCHILY.xattr.user.k{i:04}").as_bytes(), b"v"));
        }
        let one = pax(&records);
        let mut t = Vec::new();
        for _ in 0..100 {
            t.extend(&one);
        }
        file_entry(&mut t);
        let (r, consumed) = first_entry(&t, Limits::default());
        // Refused at the header whose data would take the total past 1 MiB, before its data.
        let fits = (1 << 20) / records.len() as u64;
        let expected = one.len() as u64 * fits + BLOCK as u64;
        match r {
            Err(TarError::Headers { at, value, max, .. }) => {
                assert_eq!((at, max), (expected, 1 << 20));
                assert_eq!(value, records.len() as u64 * (fits + 1));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(consumed, expected);
        let raised = Limits { header: 1 << 30, ..Limits::default() };
        let (r, _) = first_entry(&t, raised);
        assert_eq!(r.unwrap().unwrap().xattrs.len(), 2000, "a later record replaces an earlier one");
    }

    #[test]
    fn xattrs_beyond_what_linux_allows_are_refused() {
        let big = pax(&record(b"SCHILY.xattr.user.big", &vec![b'x'; 200 << 10]));
        let (r, consumed) = first_entry(&big, Limits::default());
        assert!(matches!(&r, Err(TarError::Xattr { what, .. }) if what.contains("204800")), "{r:?}");
        assert_eq!(consumed, big.len() as u64);
        let edge = pax(&record(b"SCHILY.xattr.user.edge", &vec![b'x'; 64 << 10]));
        let mut t = edge.clone();
        file_entry(&mut t);
        assert_eq!(first_entry(&t, Limits::default()).0.unwrap().unwrap().xattrs[0].1.len(), 64 << 10);
        let long = format!("SCHILY.xattr.user.{}", "n".repeat(251));
        let (r, _) = first_entry(&pax(&record(long.as_bytes(), b"v")), Limits::default());
        assert!(matches!(&r, Err(TarError::Xattr { max: "255 bytes", .. })), "{r:?}");
        let just = format!("SCHILY.xattr.user.{}", "n".repeat(250));
        let mut t = pax(&record(just.as_bytes(), b"v"));
        file_entry(&mut t);
        assert!(first_entry(&t, Limits::default()).0.is_ok(), "255 bytes is allowed");
    }

    #[test]
    fn names_gnu_tar_cannot_read_back_are_refused() {
        for (key, value) in [
            (&b"SCHILY.xattr."[..], &b"v"[..]),
            (b"SCHILY.xattr.user.a\0b", b"v"),
            (b"LIBARCHIVE.xattr.user.a%3Db", b"dg=="),
            (b"LIBARCHIVE.xattr.user.a%00b", b"dg=="),
            (b"LIBARCHIVE.xattr.", b"dg=="),
            (b"comm\0ent", b"v"),
        ] {
            let (r, _) = first_entry(&pax(&record(key, value)), Limits::default());
            assert!(matches!(r, Err(TarError::Pax { .. })), "{}: {r:?}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn long_names_and_pax_headers_before_one_entry_share_the_header_limit() {
        let mut long = header(b"././@LongLink", b'L', 700).to_vec();
        long.resize(long.len() + 1024, b'a');
        let mut t = long.clone();
        let comment = record(b"comment", &[b'c'; 400]);
        t.extend(pax(&comment));
        file_entry(&mut t);
        let limits = Limits { header: 1000, ..Limits::default() };
        let (r, consumed) = first_entry(&t, limits);
        let total = 700 + comment.len() as u64;
        assert!(matches!(r, Err(TarError::Headers { value, max: 1000, .. }) if value == total), "{r:?}");
        assert_eq!(consumed, long.len() as u64 + BLOCK as u64);
    }

    #[test]
    fn lying_pax_record_length_is_refused() {
        let mut t = Vec::new();
        let rec = b"99 path=x\n";
        t.extend_from_slice(&header(b"pax", b'x', rec.len() as u64));
        let mut blk = [0u8; BLOCK];
        blk[..rec.len()].copy_from_slice(rec);
        t.extend_from_slice(&blk);
        assert!(matches!(read_all(&t), Err(TarError::Pax { .. })));
    }
}
