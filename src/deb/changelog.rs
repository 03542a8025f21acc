//! Which CVEs a package's `changelog.Debian` says it fixes.
//!
//! Debian's security uploads name the CVEs they fix in the changelog entry of the upload
//! (`(CVE-2026-0861)`, `debian/patches/CVE-2025-4802.patch`, …). Given a test for "newer than
//! what the image had", the CVE ids of the new entries are what a patch claims to fix.
//!
//! The format (deb-changelog(5)): each entry opens with a header at column 0,
//! `glibc (2.36-9+deb12u14) bookworm-security; urgency=medium`, its body lines are indented,
//! and it closes with the trailer ` -- Name <mail>  Date`. Entries come newest first, but
//! nothing here relies on that: every entry is judged by its own version, so an entry out of
//! order is neither lost nor wrongly counted. Text that belongs to no entry (before the first
//! header, after a trailer, or after a column-0 line that is not a header, such as
//! `Local variables:` or `Old Changelog:`) is not attributed to any version.
//!
//! One pass over the text, no backtracking: linear time in its length, no panics on any input
//! (text from a lossy decode included).

use std::collections::HashSet;
use std::io::{self, Read};

use flate2::read::MultiGzDecoder;

/// Why a compressed changelog could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ChangelogError {
    #[error("changelog.Debian.gz is not a readable gzip stream: {0}")]
    Gzip(#[source] io::Error),
    #[error("changelog.Debian.gz decompresses to more than {max} bytes")]
    TooLarge { max: u64 },
}

/// CVE ids named in the entries of a `changelog.Debian` whose version `newer(version)` accepts,
/// in order of first appearance, without duplicates, upper-cased (`cve-2024-1234` is found as
/// `CVE-2024-1234`).
pub fn cves(text: &str, newer: impl Fn(&str) -> bool) -> Vec<String> {
    let mut found = Found::default();
    let mut in_newer_entry = false;
    for line in text.lines() {
        if let Some(version) = header_version(line) {
            in_newer_entry = newer(version);
        } else if line.starts_with(" -- ") || (!line.starts_with([' ', '\t']) && !line.trim().is_empty()) {
            // A trailer closes the entry; so does any other text at column 0.
            in_newer_entry = false;
        } else if in_newer_entry {
            scan_cve_ids(line, &mut found);
        }
    }
    found.ids
}

/// [`cves`] of the gzip-compressed `changelog.Debian.gz` (concatenated gzip members are read
/// as one stream, as `zcat` does). At most `max` decompressed bytes are held in memory: a
/// changelog larger than that is an error, not a truncated answer.
pub fn cves_gz(gz: &[u8], max: u64, newer: impl Fn(&str) -> bool) -> Result<Vec<String>, ChangelogError> {
    let mut text = Vec::new();
    MultiGzDecoder::new(gz).take(max.saturating_add(1)).read_to_end(&mut text).map_err(ChangelogError::Gzip)?;
    if text.len() as u64 > max {
        return Err(ChangelogError::TooLarge { max });
    }
    Ok(cves(&String::from_utf8_lossy(&text), newer))
}

/// The CVE ids seen so far, in order, each once.
#[derive(Default)]
struct Found {
    ids: Vec<String>,
    seen: HashSet<String>,
}

impl Found {
    fn add(&mut self, id: String) {
        if self.seen.insert(id.clone()) {
            self.ids.push(id);
        }
    }
}

/// The version of an entry header `NAME (VERSION) DIST [DIST…]; KEY=VALUE…`, shaped as
/// dpkg-parsechangelog's header pattern asks: a package name at column 0, a version without
/// spaces or parentheses, at least one distribution, then `;`.
fn header_version(line: &str) -> Option<&str> {
    let (name, rest) = line.split_once(" (")?;
    let name_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    let (version, rest) = rest.split_once(')')?;
    let version_ok = !version.is_empty() && !version.contains(['(', ' ', '\t']);
    let (dists, _) = rest.split_once(';')?;
    let dists_ok = dists.starts_with([' ', '\t']) && !dists.trim().is_empty();
    (name_ok && version_ok && dists_ok).then_some(version)
}

/// Adds every `CVE-YYYY-NNNN…` (4-digit year, 4 or more digits, any case) in `line`. An id
/// glued to a preceding letter or digit (`XCVE-…`) is not one. Each byte is looked at a
/// bounded number of times: a failed match costs at most the 9 bytes `CVE-YYYY-`, a
/// successful one skips past its digits.
fn scan_cve_ids(line: &str, found: &mut Found) {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match cve_id_at(b, i) {
            Some(end) => {
                // `i..end` is ASCII, so both are char boundaries.
                found.add(line[i..end].to_ascii_uppercase());
                i = end;
            }
            None => i += 1,
        }
    }
}

/// The end of the CVE id starting at `i`, if one does.
fn cve_id_at(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && b[i - 1].is_ascii_alphanumeric() {
        return None;
    }
    let rest = b.get(i..)?;
    let prefix = rest.get(..9)?;
    let shaped =
        prefix[..4].eq_ignore_ascii_case(b"cve-") && prefix[4..8].iter().all(u8::is_ascii_digit) && prefix[8] == b'-';
    if !shaped {
        return None;
    }
    let digits = rest[9..].iter().take_while(|c| c.is_ascii_digit()).count();
    (digits >= 4).then_some(i + 9 + digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    /// The head of bookworm's `libc6` changelog (shortened bodies), as shipped.
    const GLIBC: &str = "\
glibc (2.36-9+deb12u14) bookworm; urgency=medium

  * debian/patches/git-updates.diff: update from upstream stable branch:
    - Fix and integer overflow in _int_memalign leading to heap corruption
      (CVE-2026-0861).  Closes: #1125678.
    - Fix stack contents leak in getnetbyaddr (CVE-2026-0915).  Closes:
      #1125748.
    - Fix bug in wordexp, which could return uninitialized memory when using
      WRDE_REUSE together with WRDE_APPEND (CVE-2025-15281).  Closes: #1126266.
    - Fix incorrect handling of DNS responses in gethostbyaddr and
      gethostbyaddr_r (CVE-2026-4437).  Closes: #1131435.

 -- Aurelien Jarno <aurel32@debian.org>  Mon, 27 Apr 2026 22:14:33 +0200

glibc (2.36-9+deb12u13) bookworm; urgency=medium

  * debian/patches/git-updates.diff: update from upstream stable branch:
    - Fix error reporting (false negatives) in SGID tests
    - Fix double-free after allocation failure in regcomp (GLIBC-SA-2025-0005
      / CVE-2025-8058).  Closes: #1109803.

 -- Aurelien Jarno <aurel32@debian.org>  Mon, 25 Aug 2025 21:11:05 +0200

glibc (2.36-9+deb12u12) bookworm; urgency=medium

  * d/p/local-revert-aarch64-use-prefer_sve_ifuncs-for-sve-memset.diff: revert
    upstream commit \"AArch64: Use prefer_sve_ifuncs for SVE memset\".

 -- Aurelien Jarno <aurel32@debian.org>  Mon, 02 Jun 2025 22:53:56 +0200

glibc (2.36-9+deb12u11) bookworm; urgency=medium

  * debian/patches/git-updates.diff: update from upstream stable branch:
    - Fixed incorrect LD_LIBRARY_PATH search in dlopen for static setuid
      binaries (GLIBC-SA-2025-0002 / CVE-2025-4802).

 -- Aurelien Jarno <aurel32@debian.org>  Thu, 29 May 2025 11:41:11 +0200
";

    /// "Newer than what the image has", by the revision's `debNNuMM` counter: enough for the
    /// excerpt, which differs only there (the real caller compares as dpkg does).
    fn newer_than(installed: u32) -> impl Fn(&str) -> bool {
        move |v: &str| v.rsplit_once('u').and_then(|(_, n)| n.parse::<u32>().ok()).is_some_and(|n| n > installed)
    }

    fn gzip(text: &str) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(text.as_bytes()).expect("writing to a Vec");
        enc.finish().expect("writing to a Vec")
    }

    #[test]
    fn the_newer_entries_name_their_cves_in_order() {
        assert_eq!(cves(GLIBC, newer_than(13)), ["CVE-2026-0861", "CVE-2026-0915", "CVE-2025-15281", "CVE-2026-4437"]);
        let all = cves(GLIBC, |_| true);
        assert_eq!(all.len(), 6);
        assert_eq!(all[4..], ["CVE-2025-8058", "CVE-2025-4802"]);
        assert!(cves(GLIBC, newer_than(14)).is_empty());
    }

    #[test]
    fn each_entry_is_judged_by_its_own_version() {
        // Only the two oldest entries are "newer": no stop at the first entry that is not.
        let odd = |v: &str| v.ends_with("u11") || v.ends_with("u13");
        assert_eq!(cves(GLIBC, odd), ["CVE-2025-8058", "CVE-2025-4802"]);
        let asked = std::cell::RefCell::new(Vec::new());
        cves(GLIBC, |v| {
            asked.borrow_mut().push(v.to_string());
            false
        });
        assert_eq!(*asked.borrow(), ["2.36-9+deb12u14", "2.36-9+deb12u13", "2.36-9+deb12u12", "2.36-9+deb12u11"]);
    }

    #[test]
    fn ids_are_matched_in_any_case_deduplicated_and_upper_cased() {
        let text = "\
openssl (3.0.17-1~deb12u3) bookworm-security; urgency=medium

  * Fix cve-2025-9230 and CVE-2025-9231 (d/p/CVE-2025-9230.patch).
  * Again CVE-2025-9231, and CVE-2025-12345678; not CVE-2025-123, CVE-25-1234,
    XCVE-2025-1111, CVE_2025_2222 or CVE-2025-.
  * Epoch'd neighbour: openssl (1:3.0) is no header, and CVE-2025-99999a counts.

 -- Debian Security Team <team@security.debian.org>  Tue, 30 Sep 2025 19:26:15 +0000
";
        assert_eq!(cves(text, |_| true), ["CVE-2025-9230", "CVE-2025-9231", "CVE-2025-12345678", "CVE-2025-99999"]);
    }

    #[test]
    fn text_outside_entries_counts_for_none() {
        let text = "\
CVE-2020-0001 before any header
pkg (1.0-2) unstable; urgency=medium

  * Fix CVE-2020-0002.

 -- A <a@b>  Mon, 01 Jan 2024 00:00:00 +0000
  CVE-2020-0003 after the trailer
pkg (1.0-1) unstable; urgency=low

  * Fix CVE-2020-0004.
Old Changelog:
  CVE-2020-0005 in the old-format tail
pkg (1.0) no-semicolon
  CVE-2020-0006 under a line that is no header
";
        assert_eq!(cves(text, |_| true), ["CVE-2020-0002", "CVE-2020-0004"]);
    }

    #[test]
    fn headers_are_recognised_as_dpkg_parsechangelog_does() {
        assert_eq!(
            header_version("glibc (2.36-9+deb12u14) bookworm-security; urgency=medium"),
            Some("2.36-9+deb12u14")
        );
        assert_eq!(header_version("git (1:2.39.5-0+deb12u2) bookworm dists; urgency=high"), Some("1:2.39.5-0+deb12u2"));
        assert_eq!(header_version("libstdc++6 (14.2.0-19)\tunstable;urgency=low"), Some("14.2.0-19"));
        for not in [
            "  glibc (2.36-9) bookworm; urgency=medium",
            "glibc (2.36-9) ; urgency=medium",
            "glibc (2.36-9)bookworm; urgency=medium",
            "glibc (2.36 9) bookworm; urgency=medium",
            "glibc () bookworm; urgency=medium",
            "glibc (2.36-9) bookworm urgency=medium",
            "-glibc (2.36-9) bookworm; urgency=medium",
            "Local variables:",
        ] {
            assert_eq!(header_version(not), None, "{not}");
        }
    }

    #[test]
    fn crlf_line_ends_are_read_too() {
        let text = GLIBC.replace('\n', "\r\n");
        assert_eq!(cves(&text, newer_than(12)), cves(GLIBC, newer_than(12)));
    }

    #[test]
    fn gzip_members_are_read_as_one_stream() {
        let (head, tail) = GLIBC.split_at(GLIBC.find("glibc (2.36-9+deb12u12)").expect("in the excerpt"));
        let mut gz = gzip(head);
        gz.extend(gzip(tail));
        let got = cves_gz(&gz, GLIBC.len() as u64, |_| true).expect("valid gzip under the cap");
        assert_eq!(got, cves(GLIBC, |_| true));
    }

    #[test]
    fn gzip_past_the_cap_or_corrupt_is_an_error() {
        let gz = gzip(GLIBC);
        let max = GLIBC.len() as u64;
        assert!(cves_gz(&gz, max, |_| true).is_ok());
        assert!(matches!(cves_gz(&gz, max - 1, |_| true), Err(ChangelogError::TooLarge { max: m }) if m == max - 1));
        assert!(matches!(cves_gz(&gz[..gz.len() / 2], max, |_| true), Err(ChangelogError::Gzip(_))));
        assert!(matches!(cves_gz(b"not gzip at all", max, |_| true), Err(ChangelogError::Gzip(_))));
        assert!(cves_gz(&gzip(""), 0, |_| true).expect("empty is valid").is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// Any text (bytes decoded lossily) is read without panic, and every answer is a
        /// well-formed, upper-case id that the text names.
        #[test]
        fn any_text_gives_well_formed_ids(bytes in proptest::collection::vec(any::<u8>(), 0..400),
                                          sprinkle in "(pkg \\(1\\) x;\n|  cve-2024-1234\n| -- \n|\n)*") {
            let mut text = String::from_utf8_lossy(&bytes).into_owned();
            text.push_str(&sprinkle);
            for id in cves(&text, |_| true) {
                prop_assert!(id.starts_with("CVE-") && id.len() >= 13, "{}", id);
                prop_assert!(id[4..8].bytes().all(|b| b.is_ascii_digit()) && id[9..].bytes().all(|b| b.is_ascii_digit()));
                prop_assert!(text.to_ascii_uppercase().contains(&id));
            }
        }
    }
}
