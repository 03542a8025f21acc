//! The fields of a tar header and the records of a PAX header: numbers in octal or base-256,
//! times, checksums, and extended attributes held to what Linux allows.

use super::*;

pub(super) fn verify_checksum(buf: &[u8; BLOCK], at: u64) -> Result<(), TarError> {
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
pub(super) fn field_bytes(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// An octal field (spaces and NULs around it), or GNU base-256 for large values.
pub(super) fn parse_number(field: &[u8]) -> Option<u64> {
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

pub(super) fn parse_time(field: &[u8]) -> Option<i64> {
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

pub(super) fn parse_pax(data: &[u8], pending: &mut Pending, entry: &str) -> Result<(), TarError> {
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
        if eq == 0 || record[..eq].contains(&0) {
            return Err(bad("a record key is empty or holds a NUL".into()));
        }
        let key = &record[..eq];
        let shown = || String::from_utf8_lossy(key);
        let value = &record[eq + 1..];
        let text = || std::str::from_utf8(value).ok();
        let decimal = || {
            text()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
        };
        match key {
            b"path" | b"linkpath" => {
                if value.is_empty() || value.contains(&0) {
                    return Err(bad(format!("`{}` is empty or holds a NUL", shown())));
                }
                if key == b"path" {
                    pending.path = Some(value.to_vec());
                } else {
                    pending.link = Some(value.to_vec());
                }
            }
            b"size" => pending.size = Some(decimal().ok_or_else(|| bad("`size` is not a decimal number".into()))?),
            b"uid" => pending.uid = Some(decimal().ok_or_else(|| bad("`uid` is not a decimal number".into()))?),
            b"gid" => pending.gid = Some(decimal().ok_or_else(|| bad("`gid` is not a decimal number".into()))?),
            b"mode" => {
                let m = text()
                    .and_then(|s| u32::from_str_radix(s, 8).ok())
                    .ok_or_else(|| bad("`mode` is not octal".into()))?;
                pending.mode = Some(m);
            }
            b"mtime" => {
                let s = text().ok_or_else(|| bad("`mtime` is not text".into()))?;
                let whole = s.split('.').next().unwrap_or("");
                let t: i64 = whole.parse().map_err(|_| bad(format!("`mtime={s}` is not a time")))?;
                pending.mtime = Some(t);
            }
            k if k.starts_with(b"GNU.sparse.") => return Err(TarError::Sparse(entry.to_string())),
            k if k.starts_with(b"SCHILY.xattr.") => {
                set_xattr(pending, record[13..eq].to_vec(), value.to_vec(), entry)?;
            }
            k if k.starts_with(b"LIBARCHIVE.xattr.") => {
                let name = percent_decode(&record[17..eq]);
                let engine = base64::engine::GeneralPurpose::new(
                    &base64::alphabet::STANDARD,
                    base64::engine::GeneralPurposeConfig::new()
                        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
                );
                let v = engine.decode(value).map_err(|e| bad(format!("`{}` is not base64: {e}", shown())))?;
                set_xattr(pending, name, v, entry)?;
            }
            // Noise every archiver writes, and which gild drops by design (docs/layers.md).
            b"atime" | b"ctime" | b"uname" | b"gname" | b"charset" | b"hdrcharset" | b"comment" => {}
            _ => pending.dropped.add(key),
        }
    }
    Ok(())
}

/// Records one extended attribute for the next entry, within what Linux allows; a name GNU
/// tar could not read back (empty, or holding NUL or `=`) is refused.
pub(super) fn set_xattr(pending: &mut Pending, name: Vec<u8>, value: Vec<u8>, entry: &str) -> Result<(), TarError> {
    let shown = || {
        let mut s = String::from_utf8_lossy(&name[..name.len().min(64)]).into_owned();
        if name.len() > 64 {
            s.push('…');
        }
        s
    };
    if name.is_empty() || name.contains(&0) || name.contains(&b'=') {
        return Err(TarError::Pax {
            entry: entry.to_string(),
            why: format!("extended attribute name `{}` is empty or holds a NUL or `=`", shown().escape_default()),
        });
    }
    let limit = |what: String, max| TarError::Xattr { entry: entry.to_string(), what, max, at: 0 };
    if name.len() > XATTR_NAME_MAX {
        return Err(limit(format!("`{}`: a name of {} bytes", shown(), name.len()), "255 bytes"));
    }
    if value.len() > XATTR_SIZE_MAX {
        return Err(limit(format!("`{}`: a value of {} bytes", shown(), value.len()), "64 KiB"));
    }
    let len = name.len() + 1;
    if pending.xattrs.insert(name, value).is_none() {
        pending.xattr_names += len;
        if pending.xattr_names > XATTR_LIST_MAX {
            let what = format!("names taking {} bytes on one entry", pending.xattr_names);
            return Err(limit(what, "64 KiB of names, each with its NUL"));
        }
    }
    Ok(())
}

impl TarError {
    /// Where in the layer an extended attribute was refused (the byte count of what was read).
    pub(super) fn at(self, pos: u64) -> TarError {
        match self {
            TarError::Xattr { entry, what, max, .. } => TarError::Xattr { entry, what, max, at: pos },
            other => other,
        }
    }
}

pub(super) fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && i + 2 < s.len() {
            if let Some(b) = crate::hex::byte(s[i + 1], s[i + 2]) {
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
