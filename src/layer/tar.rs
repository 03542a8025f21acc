//! A capped, strict tar reader.
//!
//! `tar` 0.4 reads long-name and PAX blocks without a cap and takes a stream cut at a header
//! boundary as a clean end (docs/interop.md); gild needs neither. This reader knows ustar, GNU and
//! PAX headers, allocates nothing from a header's claimed size before checking it against
//! [`Limits`], and refuses what gild does not keep (sparse files, global headers, unknown
//! types) instead of skipping it.

use std::io::{self, BufRead, Read};

use base64::Engine;

use crate::limits::{Limit, Limits};

const BLOCK: usize = 512;

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
    pub dropped: Vec<String>,
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
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    dropped: Vec<String>,
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

    /// Reads exactly `size` bytes of a meta entry (PAX, long name), after checking the cap.
    fn meta_data(&mut self, size: u64, what: &str) -> Result<Vec<u8>, TarError> {
        if size > self.limits.header {
            return Err(TarError::Limit {
                entry: what.to_string(),
                limit: Limit::Header,
                value: size,
                max: self.limits.header,
            });
        }
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
                    let data = self.meta_data(size, &format!("the PAX header of `{entry}`"))?;
                    parse_pax(&data, &mut pending, &entry)?;
                    continue;
                }
                b'L' | b'K' => {
                    let mut data = self.meta_data(size, &format!("the GNU long name header at byte {at}"))?;
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
                xattrs: std::mem::take(&mut pending.xattrs),
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

fn verify_checksum(buf: &[u8; BLOCK], at: u64) -> Result<(), TarError> {
    let stored = parse_number(&buf[148..156]).ok_or(TarError::Checksum(at))?;
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in buf.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += b as u64;
        signed += b as i8 as i64;
    }
    if stored == unsigned || stored as i64 == signed {
        Ok(())
    } else {
        Err(TarError::Checksum(at))
    }
}

/// A NUL-terminated header field.
fn field_bytes(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// An octal field (spaces and NULs around it), or GNU base-256 for large values.
fn parse_number(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        if field[0] == 0xff {
            return None; // negative
        }
        let mut v: u64 = (field[0] & 0x7f) as u64;
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(b as u64)?;
        }
        return Some(v);
    }
    let s = field_bytes(field);
    let s = std::str::from_utf8(s).ok()?.trim_matches(|c| c == ' ' || c == '\0');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

fn parse_time(field: &[u8]) -> Option<i64> {
    if field[0] == 0xff {
        // base-256 two's complement negative
        let mut v: i64 = -1;
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(b as i64)?;
        }
        return Some(v);
    }
    parse_number(field).and_then(|v| i64::try_from(v).ok())
}

fn parse_pax(data: &[u8], pending: &mut Pending, entry: &str) -> Result<(), TarError> {
    let bad = |why: String| TarError::Pax { entry: entry.to_string(), why };
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest.iter().position(|&b| b == b' ').ok_or_else(|| bad("a record has no length".into()))?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("a record length is not a number".into()))?;
        if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(bad(format!("a record claims {len} bytes, which does not fit the header")));
        }
        let record = &rest[space + 1..len - 1];
        rest = &rest[len..];
        let eq = record.iter().position(|&b| b == b'=').ok_or_else(|| bad("a record has no `=`".into()))?;
        let key = String::from_utf8_lossy(&record[..eq]).into_owned();
        let value = &record[eq + 1..];
        let text = || std::str::from_utf8(value).ok();
        let decimal = || {
            text()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
        };
        match key.as_str() {
            "path" | "linkpath" => {
                if value.is_empty() || value.contains(&0) {
                    return Err(bad(format!("`{key}` is empty or holds a NUL")));
                }
                if key == "path" {
                    pending.path = Some(value.to_vec());
                } else {
                    pending.link = Some(value.to_vec());
                }
            }
            "size" => pending.size = Some(decimal().ok_or_else(|| bad("`size` is not a decimal number".into()))?),
            "uid" => pending.uid = Some(decimal().ok_or_else(|| bad("`uid` is not a decimal number".into()))?),
            "gid" => pending.gid = Some(decimal().ok_or_else(|| bad("`gid` is not a decimal number".into()))?),
            "mode" => {
                let m = text()
                    .and_then(|s| u32::from_str_radix(s, 8).ok())
                    .ok_or_else(|| bad("`mode` is not octal".into()))?;
                pending.mode = Some(m);
            }
            "mtime" => {
                let s = text().ok_or_else(|| bad("`mtime` is not text".into()))?;
                let whole = s.split('.').next().unwrap_or("");
                let t: i64 = whole.parse().map_err(|_| bad(format!("`mtime={s}` is not a time")))?;
                pending.mtime = Some(t);
            }
            k if k.starts_with("GNU.sparse.") => return Err(TarError::Sparse(entry.to_string())),
            k if k.starts_with("SCHILY.xattr.") => {
                set_xattr(&mut pending.xattrs, record[13..eq].to_vec(), value.to_vec());
            }
            k if k.starts_with("LIBARCHIVE.xattr.") => {
                let name = percent_decode(&record[17..eq]);
                let engine = base64::engine::GeneralPurpose::new(
                    &base64::alphabet::STANDARD,
                    base64::engine::GeneralPurposeConfig::new()
                        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
                );
                let v = engine.decode(value).map_err(|e| bad(format!("`{k}` is not base64: {e}")))?;
                set_xattr(&mut pending.xattrs, name, v);
            }
            // Noise every archiver writes, and which gild drops by design (docs/layers.md).
            "atime" | "ctime" | "uname" | "gname" | "charset" | "hdrcharset" | "comment" => {}
            _ => pending.dropped.push(key),
        }
    }
    Ok(())
}

fn set_xattr(xattrs: &mut Vec<(Vec<u8>, Vec<u8>)>, name: Vec<u8>, value: Vec<u8>) {
    xattrs.retain(|(n, _)| *n != name);
    xattrs.push((name, value));
    xattrs.sort();
}

fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && i + 2 < s.len() {
            if let Ok(b) = u8::from_str_radix(&String::from_utf8_lossy(&s[i + 1..i + 3]), 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
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
