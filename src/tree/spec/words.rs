//! The words of a spec line: `KEY=VALUE` keywords, `/unset` names, and NetBSD's vis escapes
//! (`\s`, `\M-C`, octal) that paths and link targets are written in.

use super::{EntryType, Keywords};

/// Keywords gild reads and keywords it knows and passes over (times, link counts, other
/// digests: they say nothing gild compares).
const PASSED_OVER: &[&str] = &[
    "time",
    "nlink",
    "flags",
    "uname",
    "gname",
    "cksum",
    "md5",
    "md5digest",
    "sha1",
    "sha1digest",
    "sha384",
    "sha384digest",
    "sha512",
    "sha512digest",
    "rmd160",
    "rmd160digest",
    "ripemd160digest",
    "inode",
    "resdevice",
    "contents",
    "tags",
];
const READ: &[&str] = &["type", "mode", "uid", "gid", "size", "sha256", "sha256digest", "link", "device"];
/// Keywords that change how a checker treats a path; a spec describing a host has no use
/// for them and gild does not guess their meaning for a comparison.
const UNSUPPORTED: &[&str] = &["ignore", "optional", "nochange"];

/// Applies one `KEY=VALUE` word.
pub(super) fn keyword(k: &mut Keywords, word: &[u8]) -> Result<(), String> {
    let Some(eq) = word.iter().position(|&b| b == b'=') else {
        return Err(valueless(&show(word)));
    };
    let (key, value) = (&word[..eq], &word[eq + 1..]);
    if value.is_empty() {
        return Err(valueless(&show(key)));
    }
    let text = || std::str::from_utf8(value).unwrap_or("");
    let bad = |what: &str| format!("`{}={}`: {what}", show(key), show(value));
    match key {
        b"type" => {
            k.kind = Some(match value {
                b"file" => EntryType::File,
                b"dir" => EntryType::Dir,
                b"link" => EntryType::Link,
                b"char" => EntryType::Char,
                b"block" => EntryType::Block,
                b"fifo" => EntryType::Fifo,
                b"socket" => EntryType::Socket,
                _ => return Err(bad("unknown type (file, dir, link, char, block, fifo, socket)")),
            })
        }
        b"mode" => {
            let text = text();
            let mode = (text.len() <= 6 && text.bytes().all(|b| (b'0'..=b'7').contains(&b)))
                .then(|| u32::from_str_radix(text, 8).ok())
                .flatten()
                .filter(|m| *m <= 0o7777);
            k.mode = Some(mode.ok_or_else(|| bad("not an octal mode from 0 to 7777 (symbolic modes are not read)"))?);
        }
        b"uid" => k.uid = Some(decimal(text()).ok_or_else(|| bad("not a decimal number"))?),
        b"gid" => k.gid = Some(decimal(text()).ok_or_else(|| bad("not a decimal number"))?),
        b"size" => k.size = Some(decimal(text()).ok_or_else(|| bad("not a decimal number"))?),
        b"sha256" | b"sha256digest" => k.sha256 = Some(sha256(value).ok_or_else(|| bad("not 64 hex digits"))?),
        b"link" => k.link = Some(unescape(value)?.into()),
        b"device" => k.device = Some(device(text()).ok_or_else(|| bad("not FORMAT,MAJOR,MINOR or a device number"))?),
        _ => {
            let key = show(key);
            if UNSUPPORTED.contains(&key.as_str()) {
                return Err(format!("keyword `{key}` is not supported: gild compares whole trees"));
            }
            if !PASSED_OVER.contains(&key.as_str()) {
                return Err(format!("unknown keyword `{key}`"));
            }
        }
    }
    Ok(())
}

/// The mistake of a keyword written without a value.
fn valueless(key: &str) -> String {
    if UNSUPPORTED.contains(&key) {
        format!("keyword `{key}` is not supported: gild compares whole trees")
    } else if READ.contains(&key) || PASSED_OVER.contains(&key) {
        format!("keyword `{key}` has no value (truncated?)")
    } else {
        format!("unknown keyword `{key}`")
    }
}

/// One word of `/unset`: a keyword name or `all`.
pub(super) fn unset(set: &mut Keywords, word: &[u8]) -> Result<(), String> {
    match show(word).as_str() {
        "all" => *set = Keywords::default(),
        "type" => set.kind = None,
        "mode" => set.mode = None,
        "uid" => set.uid = None,
        "gid" => set.gid = None,
        "size" => set.size = None,
        "sha256" | "sha256digest" => set.sha256 = None,
        "link" => set.link = None,
        "device" => set.device = None,
        k if PASSED_OVER.contains(&k) || UNSUPPORTED.contains(&k) => {}
        k => return Err(format!("unknown keyword `{k}` in `/unset`")),
    }
    Ok(())
}

fn decimal(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// 64 hex digits.
fn sha256(hex: &[u8]) -> Option<[u8; 32]> {
    crate::hex::decode_array(hex)
}

/// `FORMAT,MAJOR,MINOR` (bsdtar writes `native,1,3`) or one number as Linux packs it.
fn device(s: &str) -> Option<(u32, u32)> {
    let number = |n: &str| -> Option<u64> {
        if let Some(hex) = n.strip_prefix("0x").or_else(|| n.strip_prefix("0X")) {
            u64::from_str_radix(hex, 16).ok()
        } else if n.len() > 1 && n.starts_with('0') {
            u64::from_str_radix(&n[1..], 8).ok()
        } else {
            decimal(n)
        }
    };
    let parts: Vec<&str> = s.split(',').collect();
    match parts[..] {
        [one] => Some(crate::tree::walk::split_dev(number(one)?)),
        [format, major, minor] | [format, major, minor, _] if format.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            Some((u32::try_from(number(major)?).ok()?, u32::try_from(number(minor)?).ok()?))
        }
        _ => None,
    }
}

/// Undoes mtree escapes: the octal `\NNN` gild and libarchive write, and the vis(3) forms
/// NetBSD writes (`\s`, `\t`, `\\`, `\#`, `\M-C`, `\^A`, ...). Anything else after a
/// backslash is a bad escape.
pub fn unescape(word: &[u8]) -> Result<Vec<u8>, String> {
    if !word.contains(&b'\\') {
        return Ok(word.to_vec());
    }
    let mut out = Vec::with_capacity(word.len());
    let mut i = 0;
    let bad = |at: usize| {
        let end = (at + 4).min(word.len());
        format!("bad escape `{}` in `{}`", show(&word[at..end]), show(word))
    };
    while i < word.len() {
        let b = word[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let Some(&c) = word.get(i + 1) else {
            return Err(format!("bad escape: `{}` ends with a lone `\\`", show(word)));
        };
        let (byte, len) = match c {
            b'0'..=b'7' => {
                let digits = word.get(i + 1..i + 4).filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
                let value = digits.map(|d| d.iter().fold(0u32, |v, b| v * 8 + u32::from(b - b'0')));
                match value.and_then(|v| u8::try_from(v).ok()) {
                    Some(v) => (v, 4),
                    None => return Err(bad(i)),
                }
            }
            b's' => (b' ', 2),
            b't' => (b'\t', 2),
            b'n' => (b'\n', 2),
            b'r' => (b'\r', 2),
            b'b' => (8, 2),
            b'a' => (7, 2),
            b'v' => (11, 2),
            b'f' => (12, 2),
            b'E' => (27, 2),
            b'M' => match (word.get(i + 2), word.get(i + 3)) {
                (Some(b'-'), Some(&x)) if (0x20..0x7f).contains(&x) => (x | 0x80, 4),
                (Some(b'^'), Some(&x)) => match control(x) {
                    Some(v) => (v | 0x80, 4),
                    None => return Err(bad(i)),
                },
                _ => return Err(bad(i)),
            },
            b'^' => match word.get(i + 2).and_then(|&x| control(x)) {
                Some(v) => (v, 3),
                None => return Err(bad(i)),
            },
            c if c.is_ascii_punctuation() => (c, 2),
            _ => return Err(bad(i)),
        };
        out.push(byte);
        i += len;
    }
    Ok(out)
}

/// `^X` of vis(3): `?` is DEL, `@`–`_` the control characters.
fn control(x: u8) -> Option<u8> {
    match x {
        b'?' => Some(0x7f),
        b'@'..=b'_' => Some(x - b'@'),
        _ => None,
    }
}

pub(super) fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
