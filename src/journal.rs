//! The journal: `baselines/NAME/journal.jsonl`, append-only and hash-chained (docs/baseline.md).
//!
//! Each line is one JSON object with `seq` (from 1), `time`, `actor`, `event`, the event's
//! details, and `prev`: the sha256 of the previous line's bytes (64 zeros on the first). An
//! edit, removal, insertion or reordering breaks the chain, and [`verify`] names the first
//! line where it breaks. A cut tail leaves an intact chain, so the heads that
//! `baseline.toml` and `channels.toml` record when they are written ([`Anchor`]s) are checked
//! too. Anyone who can write the file can rewrite the whole chain; the anchors, kept in other
//! files (and in version control), are what make that visible.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::baseline::JournalHead;
use crate::error::Report;
use crate::hex;

/// The `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The journal does not verify (exit 3).
#[derive(Debug, thiserror::Error)]
pub struct Tampered {
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
    pub cause: String,
}

crate::error::display_report!(Tampered);

impl Tampered {
    pub fn report(&self) -> crate::error::Report {
        crate::error::Report::new(format!("journal `{}` is tampered with at line {}", self.path.display(), self.line))
            .cause(&self.cause)
            .help("compare it with a copy you trust (version control, a backup); gild cannot repair it")
    }
}

/// One line as it is in the file.
#[derive(Debug, Clone)]
pub struct Line {
    /// The bytes without the newline: what the next line's `prev` hashes.
    pub bytes: Vec<u8>,
    /// Parsed, when the line is a JSON object.
    pub value: Option<Map<String, Value>>,
    /// False for a last line that lacks its newline (a cut write).
    pub terminated: bool,
}

impl Line {
    pub fn hash(&self) -> String {
        hex::encode(&Sha256::digest(&self.bytes))
    }
}

/// A head recorded elsewhere: the journal must have line `seq` hashing to `hash`.
#[derive(Debug, Clone)]
pub struct Anchor {
    /// Where it is recorded, for messages (`baselines/web/1.2.0/baseline.toml`).
    pub source: String,
    pub head: JournalHead,
}

/// Reads every line; a missing journal has none.
pub fn read(path: &Path) -> io::Result<Vec<Line>> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut lines = Vec::new();
    let mut rest = &text[..];
    while !rest.is_empty() {
        let (bytes, terminated, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], true, &rest[i + 1..]),
            None => (rest, false, &rest[rest.len()..]),
        };
        let value = match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        };
        lines.push(Line { bytes: bytes.to_vec(), value, terminated });
        rest = next;
    }
    Ok(lines)
}

/// Walks the chain from the first line, then checks the anchors. Returns the first problem.
pub fn verify(path: &Path, lines: &[Line], anchors: &[Anchor]) -> Result<(), Tampered> {
    let bad = |line: usize, cause: String| Tampered { path: path.to_path_buf(), line, cause };
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let Some(value) = &line.value else {
            return Err(bad(n, format!("line {n} is not a JSON object")));
        };
        if !line.terminated {
            return Err(bad(
                n,
                format!("line {n} has no newline at its end: a write was cut off, or the line was edited"),
            ));
        }
        match value.get("seq").and_then(Value::as_u64) {
            Some(seq) if seq == n as u64 => {}
            Some(seq) if seq > n as u64 => {
                return Err(bad(
                    n,
                    format!(
                        "line {n} has seq {seq}, expected {n}: line(s) before it were removed, or lines were reordered"
                    ),
                ))
            }
            Some(seq) => {
                return Err(bad(
                    n,
                    format!(
                        "line {n} has seq {seq}, expected {n}: a line was inserted before it, or lines were reordered"
                    ),
                ))
            }
            None => return Err(bad(n, format!("line {n} has no `seq`"))),
        }
        if i > 0 {
            let time = |l: &Line| l.value.as_ref()?.get("time")?.as_str().and_then(crate::date::parse_timestamp);
            if let (Some(before), Some(t)) = (time(&lines[i - 1]), time(line)) {
                if t < before {
                    return Err(bad(
                        n,
                        format!(
                            "line {n} is dated {}, earlier than line {} before it ({})",
                            crate::date::format_timestamp(t),
                            n - 1,
                            crate::date::format_timestamp(before)
                        ),
                    ));
                }
            }
        }
        let expected = if i == 0 { GENESIS.to_string() } else { lines[i - 1].hash() };
        match value.get("prev").and_then(Value::as_str) {
            Some(prev) if prev == expected => {}
            // The line before no longer hashes to what this line recorded: that line changed
            // (its `seq` is right, or the check above would have named it).
            Some(_) if i > 0 => {
                return Err(bad(
                    n - 1,
                    format!(
                        "line {} does not hash to the `prev` that line {n} records: line {} was edited",
                        n - 1,
                        n - 1
                    ),
                ))
            }
            Some(prev) => {
                return Err(bad(n, format!("line 1 has `prev` {prev}, not 64 zeros: lines before it were removed")))
            }
            None => return Err(bad(n, format!("line {n} has no `prev`"))),
        }
    }
    for anchor in anchors {
        let seq = anchor.head.seq;
        if seq == 0 {
            continue;
        }
        match lines.get(seq as usize - 1) {
            None => {
                return Err(bad(
                    lines.len() + 1,
                    format!(
                        "`{}` records journal line {seq}, but the journal ends at line {}: its tail was cut",
                        anchor.source,
                        lines.len()
                    ),
                ))
            }
            Some(line) if line.hash() != anchor.head.hash => {
                return Err(bad(
                    seq as usize,
                    format!(
                        "line {seq} does not hash to the head `{}` records: the journal was rewritten up to line {seq}",
                        anchor.source
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The last line's sequence number and hash, if the journal has any line.
pub fn head(path: &Path) -> io::Result<Option<JournalHead>> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(body) = text.strip_suffix(b"\n") else {
        if text.is_empty() {
            return Ok(None);
        }
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the last line of `{}` has no newline (a cut write?); see `gild log --verify`", path.display()),
        ));
    };
    let line = body.rsplit(|&b| b == b'\n').next().unwrap_or(body);
    let value: Value = serde_json::from_slice(line).map_err(|e| {
        io::Error::new(io::ErrorKind::InvalidData, format!("the last line of `{}` is not JSON: {e}", path.display()))
    })?;
    let seq = value.get("seq").and_then(Value::as_u64).unwrap_or(0);
    Ok(Some(JournalHead { seq, hash: hex::encode(&Sha256::digest(line)) }))
}

/// One line ready to append: its bytes and the head it makes.
pub struct Pending {
    bytes: Vec<u8>,
    pub head: JournalHead,
}

/// The time of the next line of the journal at `path`: [`crate::date::now`], which a replay
/// (`GILD_NOW`) may set earlier than the clock but never earlier than the journal's last line,
/// since a line dated before its predecessor is tampering. Commands that will append call it
/// before they change anything.
pub fn now(path: &Path) -> Result<i64, Report> {
    let now = crate::date::now()?;
    not_before_last(path, now)?;
    Ok(now)
}

fn not_before_last(path: &Path, time: i64) -> Result<(), Report> {
    let last = last_time(path).map_err(|e| Report::new(format!("cannot read `{}`", path.display())).because_io(&e))?;
    match last {
        Some((seq, t)) if time < t => Err(Report::new(format!(
            "the time {} is earlier than line {seq} of the journal `{}` ({})",
            crate::date::format_timestamp(time),
            path.display(),
            crate::date::format_timestamp(t)
        ))
        .help("a replay (`GILD_NOW`) may go back only as far as the journal's last line")),
        _ => Ok(()),
    }
}

/// The sequence number and time of the journal's last line.
fn last_time(path: &Path) -> io::Result<Option<(u64, i64)>> {
    let lines = read(path)?;
    Ok(lines.last().and_then(|l| {
        let v = l.value.as_ref()?;
        Some((v.get("seq")?.as_u64()?, crate::date::parse_timestamp(v.get("time")?.as_str()?)?))
    }))
}

/// Prepares the next event with its details, so a caller can record the head it will make
/// (in `channels.toml`) before appending it. Call with the image's lock held.
pub fn prepare(path: &Path, event: &str, details: Map<String, Value>) -> io::Result<Pending> {
    let time = now(path).map_err(|r| r.into_io(io::ErrorKind::InvalidInput))?;
    prepare_at(path, time, event, details)
}

/// [`prepare`] at a given time (seconds since the epoch, from [`now`]), so a record written
/// beside the journal can carry the very same time.
pub fn prepare_at(path: &Path, time: i64, event: &str, details: Map<String, Value>) -> io::Result<Pending> {
    not_before_last(path, time).map_err(|r| r.into_io(io::ErrorKind::InvalidInput))?;
    let prev = head(path)?;
    let seq = prev.as_ref().map_or(0, |h| h.seq) + 1;
    let mut line = Map::new();
    line.insert("seq".into(), seq.into());
    line.insert("time".into(), crate::date::format_timestamp(time).into());
    line.insert("actor".into(), actor().into());
    line.insert("event".into(), event.into());
    for (k, v) in details {
        line.insert(k, v);
    }
    line.insert("prev".into(), prev.map_or_else(|| GENESIS.to_string(), |h| h.hash).into());
    let bytes = serde_json::to_vec(&Value::Object(line))?;
    let hash = hex::encode(&Sha256::digest(&bytes));
    Ok(Pending { bytes, head: JournalHead { seq, hash } })
}

impl Pending {
    pub fn append(mut self, path: &Path) -> io::Result<JournalHead> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        self.bytes.push(b'\n');
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        file.write_all(&self.bytes)?;
        file.sync_data()?;
        Ok(self.head)
    }
}

/// Appends one event with its details; returns the new head. Call with the image's lock held.
pub fn append(path: &Path, event: &str, details: Map<String, Value>) -> io::Result<JournalHead> {
    prepare(path, event, details)?.append(path)
}

/// `GILD_ACTOR`, else `SUDO_USER` (who ran `sudo gild …`), else the user name.
pub fn actor() -> String {
    ["GILD_ACTOR", "SUDO_USER", "USER", "LOGNAME"]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn journal(n: usize) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        for i in 0..n {
            let mut d = Map::new();
            d.insert("n".into(), i.into());
            append(&path, "build", d).unwrap();
        }
        (dir, path)
    }

    fn bad_line(path: &Path, anchors: &[Anchor]) -> Option<usize> {
        verify(path, &read(path).unwrap(), anchors).err().map(|t| t.line)
    }

    fn rewrite(path: &Path, f: impl FnOnce(&mut Vec<String>)) {
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        f(&mut lines);
        std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    }

    #[test]
    fn lines_chain_by_hash() {
        let (_d, path) = journal(2);
        let lines = read(&path).unwrap();
        assert_eq!(lines[1].value.as_ref().unwrap()["prev"], lines[0].hash());
        assert_eq!(lines[0].value.as_ref().unwrap()["prev"], GENESIS);
        assert_eq!(head(&path).unwrap().unwrap().seq, 2);
        assert_eq!(bad_line(&path, &[]), None);
    }

    #[test]
    fn edit_removal_and_swap_name_the_line() {
        let (_d, path) = journal(4);
        let original = std::fs::read(&path).unwrap();
        rewrite(&path, |l| l[1] = l[1].replace("\"n\":1", "\"n\":9"));
        assert_eq!(bad_line(&path, &[]), Some(2));
        std::fs::write(&path, &original).unwrap();
        rewrite(&path, |l| {
            l.remove(1);
        });
        assert_eq!(bad_line(&path, &[]), Some(2));
        std::fs::write(&path, &original).unwrap();
        rewrite(&path, |l| l.swap(2, 3));
        assert_eq!(bad_line(&path, &[]), Some(3));
    }

    #[test]
    fn anchors_catch_a_cut_tail_and_a_rewritten_last_line() {
        let (_d, path) = journal(3);
        let head = head(&path).unwrap().unwrap();
        let anchor = Anchor { source: "channels.toml".into(), head };
        rewrite(&path, |l| {
            l.pop();
        });
        assert_eq!(bad_line(&path, std::slice::from_ref(&anchor)), Some(3));
        assert_eq!(bad_line(&path, &[]), None, "without an anchor a cut tail is invisible");
    }
}
