//! The journal: `baselines/NAME/journal.jsonl`, append-only and hash-chained (SPEC §7).
//!
//! Each line carries `prev`, the sha256 of the previous line's bytes, so an edit, removal or
//! reordering breaks the chain. This module appends and reads the head; `gild log --verify`
//! (a later issue) walks the chain.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::baseline::JournalHead;
use crate::trust::hex;

/// The last line's sequence number and hash, if the journal has any line.
pub fn head(path: &Path) -> io::Result<Option<JournalHead>> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(line) = text.split(|&b| b == b'\n').rfind(|l| !l.is_empty()) else {
        return Ok(None);
    };
    let value: Value = serde_json::from_slice(line).map_err(|e| {
        io::Error::new(io::ErrorKind::InvalidData, format!("last line of `{}` is not JSON: {e}", path.display()))
    })?;
    let seq = value.get("seq").and_then(Value::as_u64).unwrap_or(0);
    Ok(Some(JournalHead { seq, hash: hex(&Sha256::digest(line)) }))
}

/// Appends one event with its details; returns the new head.
pub fn append(path: &Path, event: &str, details: Map<String, Value>) -> io::Result<JournalHead> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let prev = head(path)?;
    let mut line = Map::new();
    line.insert("seq".into(), (prev.as_ref().map_or(0, |h| h.seq) + 1).into());
    line.insert("time".into(), now_rfc3339().into());
    line.insert("actor".into(), actor().into());
    line.insert("event".into(), event.into());
    for (k, v) in details {
        line.insert(k, v);
    }
    line.insert("prev".into(), prev.map_or_else(|| "0".repeat(64), |h| h.hash).into());
    let mut bytes = serde_json::to_vec(&Value::Object(line))?;
    let hash = hex(&Sha256::digest(&bytes));
    bytes.push(b'\n');
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(&bytes)?;
    file.sync_data()?;
    Ok(JournalHead { seq: head(path)?.map_or(0, |h| h.seq), hash })
}

fn actor() -> String {
    ["GILD_ACTOR", "USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .or_else(user_name)
        .unwrap_or_else(|| "unknown".into())
}

/// The name of the effective user, from the password database (CI runners often set no USER).
fn user_name() -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: a zeroed passwd is a valid out-parameter; getpwuid_r writes only into it and
    // into `buf`, whose length it is given; `result` is null or points at `pwd`.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result = std::ptr::null_mut();
        if libc::getpwuid_r(libc::geteuid(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) != 0
            || result.is_null()
        {
            return None;
        }
        Some(std::ffi::CStr::from_ptr(pwd.pw_name).to_string_lossy().into_owned())
    }
}

/// The current time (or `GILD_NOW`, for tests) as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_rfc3339() -> String {
    if let Ok(now) = std::env::var("GILD_NOW") {
        return now;
    }
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Howard Hinnant's days-to-civil conversion.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_414), (2025, 11, 22));
    }

    #[test]
    fn lines_chain_by_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let first = append(&path, "build", Map::new()).unwrap();
        let second = append(&path, "build", Map::new()).unwrap();
        assert_eq!((first.seq, second.seq), (1, 2));
        let text = std::fs::read_to_string(&path).unwrap();
        let line2: Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        assert_eq!(line2["prev"], first.hash);
    }
}
