//! Debian version numbers (deb-version(5)), parsed and ordered exactly as dpkg does.
//!
//! The order is dpkg's `verrevcmp` (lib/dpkg/version.c): epochs first, then the upstream
//! version, then the revision; within each, alternating non-digit and digit runs, where
//! `~` sorts before everything (even the end of the string), letters before other
//! characters, and digit runs compare as numbers of any length. Validation follows dpkg's
//! `parseversion` (lib/dpkg/parsehelp.c); where dpkg merely warns, see [`Version::parse`].

use std::cmp::Ordering;
use std::fmt;
use std::ops::Range;

/// dpkg keeps epochs in a C `int` and refuses anything larger.
const MAX_EPOCH: u64 = i32::MAX as u64;

/// A parsed Debian version: `[epoch:]upstream[-revision]`.
///
/// Equality is dpkg's: two versions are equal when dpkg compares them equal, so `0:1.0`,
/// `1.0`, `1.00` and `1.0-0` are all the same version, though each prints as written.
#[derive(Clone)]
pub struct Version {
    /// The text as given, less surrounding blanks: what [`fmt::Display`] prints.
    text: String,
    epoch: u64,
    /// Byte ranges into `text`; `revision` is empty when there is none.
    upstream: Range<usize>,
    revision: Range<usize>,
}

/// A version dpkg would refuse, naming the text and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad version `{}`: {problem}", .text.escape_debug())]
pub struct VersionError {
    pub text: String,
    pub problem: VersionProblem,
}

/// What is wrong with a version; the wording follows dpkg's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VersionProblem {
    #[error("version string is empty")]
    Empty,
    #[error("version string has embedded spaces")]
    EmbeddedSpaces,
    #[error("epoch in version is empty")]
    EmptyEpoch,
    #[error("epoch in version is not number")]
    EpochNotNumber,
    #[error("epoch in version is too big (dpkg allows at most {MAX_EPOCH})")]
    EpochTooBig,
    #[error("nothing after colon in version number")]
    NothingAfterColon,
    #[error("revision number is empty")]
    EmptyRevision,
    #[error("version number is empty")]
    EmptyUpstream,
    #[error("invalid character `{}` in version number", .0.escape_debug())]
    BadUpstreamChar(char),
    #[error("invalid character `{}` in revision number", .0.escape_debug())]
    BadRevisionChar(char),
}

impl Version {
    /// Parses a version as dpkg's `parseversion` does: blanks (space, tab) around it are
    /// ignored; the epoch is everything before the first `:`, the revision everything after
    /// the last `-`.
    ///
    /// Where dpkg only warns, this is stricter in one case and not the other: characters
    /// outside `[A-Za-z0-9.+~-:]` (`[A-Za-z0-9.+~]` in the revision) are refused, as dpkg
    /// refuses them in a `.deb`; an upstream version not starting with a digit is accepted,
    /// as dpkg accepts it. The epoch must be plain digits (dpkg's `strtol` would also take a
    /// sign) no larger than dpkg's limit. Runs in time linear in `s`.
    pub fn parse(s: &str) -> Result<Version, VersionError> {
        let text = s.trim_matches(is_blank);
        let fail = |problem| Err(VersionError { text: text.to_string(), problem });
        if text.is_empty() {
            return fail(VersionProblem::Empty);
        }
        if text.contains(is_blank) {
            return fail(VersionProblem::EmbeddedSpaces);
        }
        let (epoch, rest_start) = match text.find(':') {
            Some(colon) => match parse_epoch(&text[..colon]) {
                Ok(_) if colon + 1 == text.len() => return fail(VersionProblem::NothingAfterColon),
                Ok(epoch) => (epoch, colon + 1),
                Err(problem) => return fail(problem),
            },
            None => (0, 0),
        };
        let (upstream, revision) = match text[rest_start..].rfind('-') {
            Some(dash) if rest_start + dash + 1 == text.len() => return fail(VersionProblem::EmptyRevision),
            Some(dash) => (rest_start..rest_start + dash, rest_start + dash + 1..text.len()),
            None => (rest_start..text.len(), text.len()..text.len()),
        };
        if upstream.is_empty() {
            return fail(VersionProblem::EmptyUpstream);
        }
        if let Some(c) = first_bad_char(&text[upstream.clone()], b".-+~:") {
            return fail(VersionProblem::BadUpstreamChar(c));
        }
        if let Some(c) = first_bad_char(&text[revision.clone()], b".+~") {
            return fail(VersionProblem::BadRevisionChar(c));
        }
        Ok(Version { text: text.to_string(), epoch, upstream, revision })
    }

    /// The epoch; 0 when none is written.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The upstream version: between the epoch's `:` and the revision's `-`.
    pub fn upstream(&self) -> &str {
        &self.text[self.upstream.clone()]
    }

    /// The Debian revision; empty when there is none (which dpkg treats as equal to `0`).
    pub fn revision(&self) -> &str {
        &self.text[self.revision.clone()]
    }

    /// The version as written (less surrounding blanks).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// dpkg's `c_isblank`: what it trims around a version and refuses inside one.
fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The epoch's value, from the text before the first `:`. Never overflows: leading zeros
/// go first, and more than ten digits is too big for dpkg anyway.
fn parse_epoch(digits: &str) -> Result<u64, VersionProblem> {
    if digits.is_empty() {
        return Err(VersionProblem::EmptyEpoch);
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VersionProblem::EpochNotNumber);
    }
    let significant = digits.trim_start_matches('0');
    if significant.len() > 10 {
        return Err(VersionProblem::EpochTooBig);
    }
    let value = significant.bytes().fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
    if value > MAX_EPOCH {
        return Err(VersionProblem::EpochTooBig);
    }
    Ok(value)
}

/// The first character of `part` that is neither ASCII alphanumeric nor in `also`.
fn first_bad_char(part: &str, also: &[u8]) -> Option<char> {
    let at = part.bytes().position(|b| !b.is_ascii_alphanumeric() && !also.contains(&b))?;
    part[at..].chars().next()
}

/// The weight dpkg's `order()` gives a character of a non-digit run; `None` is the end of
/// the string, which weighs the same as a digit (0), so that only `~` sorts before it.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: compares two upstream versions or two revisions.
///
/// Digit runs are compared without converting them to integers, so runs of any length
/// work: leading zeros are skipped, then the longer run is larger, then the first
/// differing digit decides. Each byte is looked at a bounded number of times.
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let non_digit = |s: &[u8], k: usize| s.get(k).is_some_and(|c| !c.is_ascii_digit());
    while i < a.len() || j < b.len() {
        while non_digit(a, i) || non_digit(b, j) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        i += a[i.min(a.len())..].iter().take_while(|&&c| c == b'0').count();
        j += b[j.min(b.len())..].iter().take_while(|&&c| c == b'0').count();
        let run_a = digit_run(a, i);
        let run_b = digit_run(b, j);
        let by_number = run_a.len().cmp(&run_b.len()).then_with(|| run_a.cmp(run_b));
        if by_number != Ordering::Equal {
            return by_number;
        }
        i += run_a.len();
        j += run_b.len();
    }
    Ordering::Equal
}

/// The run of ASCII digits starting at `from` (empty past the end).
fn digit_run(s: &[u8], from: usize) -> &[u8] {
    let rest = &s[from.min(s.len())..];
    let len = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    &rest[..len]
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream().as_bytes(), other.upstream().as_bytes()))
            .then_with(|| verrevcmp(self.revision().as_bytes(), other.revision().as_bytes()))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({:?})", self.text)
    }
}

impl std::str::FromStr for Version {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Version, VersionError> {
        Version::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::needs::{require, Need};
    use std::process::{Command, Stdio};

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn problem(s: &str) -> VersionProblem {
        match Version::parse(s) {
            Ok(parsed) => panic!("`{s}` parsed as {parsed:?}"),
            Err(e) => e.problem,
        }
    }

    /// Asserts `a < b` both ways round.
    fn assert_lt(a: &str, b: &str) {
        assert_eq!(v(a).cmp(&v(b)), Ordering::Less, "{a} < {b}");
        assert_eq!(v(b).cmp(&v(a)), Ordering::Greater, "{b} > {a}");
    }

    #[test]
    fn tilde_sorts_before_the_empty_string() {
        assert_lt("1.0~rc1", "1.0");
        assert_lt("1.0~~", "1.0~");
        assert_lt("1.0~~a", "1.0~");
        assert_lt("1.0-1~bpo1", "1.0-1");
        assert_lt("1.0~", "1.0-0");
    }

    #[test]
    fn the_epoch_outweighs_everything_else() {
        assert_lt("9.9-9", "1:0.1");
        assert_lt("1:2.0", "2:1.0");
        assert_eq!(v("0:1.0"), v("1.0"));
        assert_eq!(v("007:1.0").epoch(), 7);
    }

    #[test]
    fn letters_sort_before_other_characters() {
        assert_lt("1.0a", "1.0+");
        assert_lt("1.0z", "1.0.");
        assert_lt("1.0Z", "1.0a");
        assert_lt("1.0+", "1.0.");
        assert_lt("1.0", "1.0a");
        assert_lt("1.0", "1.0+b1");
    }

    #[test]
    fn digit_runs_compare_as_numbers() {
        assert_lt("1.9", "1.10");
        assert_lt("2", "10");
        assert_eq!(v("1.01"), v("1.1"));
        assert_eq!(v("1.000"), v("1.0"));
        assert_eq!(v("1.0"), v("1.0-0"));
        assert_eq!(v("1.0-00"), v("1.0"));
        assert_lt("1.0-0", "1.0-0.1");
    }

    #[test]
    fn huge_digit_runs_neither_overflow_nor_lose_order() {
        let big = "9".repeat(10_000);
        let bigger = format!("1{}", "0".repeat(10_000));
        assert_lt(&big, &bigger);
        assert_eq!(v(&format!("{}{big}", "0".repeat(5_000))), v(&big));
        assert_lt(&format!("1.{big}8"), &format!("1.{big}9"));
    }

    #[test]
    fn parts_are_split_at_the_first_colon_and_the_last_hyphen() {
        let x = v("1:2.0-rc-3");
        assert_eq!((x.epoch(), x.upstream(), x.revision()), (1, "2.0-rc", "3"));
        let y = v("2:1:1.0");
        assert_eq!((y.epoch(), y.upstream(), y.revision()), (2, "1:1.0", ""));
    }

    #[test]
    fn display_prints_the_text_as_written() {
        for s in ["0:1.0", "1.00-0", "1.0~rc1+dfsg-2ubuntu0.1"] {
            assert_eq!(v(s).to_string(), s);
        }
        assert_eq!(v(" \t1.0 ").to_string(), "1.0");
    }

    #[test]
    fn parse_errors_name_the_problem() {
        use VersionProblem::*;
        assert_eq!(problem(""), Empty);
        assert_eq!(problem(" \t"), Empty);
        assert_eq!(problem("1.0 1"), EmbeddedSpaces);
        assert_eq!(problem(":1.0"), EmptyEpoch);
        assert_eq!(problem("a:1.0"), EpochNotNumber);
        assert_eq!(problem("+1:1.0"), EpochNotNumber);
        assert_eq!(problem("2147483648:1.0"), EpochTooBig);
        assert_eq!(problem(&format!("{}:1", "9".repeat(100))), EpochTooBig);
        assert_eq!(v("2147483647:1.0").epoch(), 2147483647);
        assert_eq!(problem("1:"), NothingAfterColon);
        assert_eq!(problem("1.0-"), EmptyRevision);
        assert_eq!(problem("-1"), EmptyUpstream);
        assert_eq!(problem("1:-1"), EmptyUpstream);
        assert_eq!(problem("1.0_1"), BadUpstreamChar('_'));
        assert_eq!(problem("1.0é"), BadUpstreamChar('é'));
        assert_eq!(problem("1.0-1:2"), EpochNotNumber);
        assert_eq!(problem("1:1.0-1:2"), BadRevisionChar(':'));
        let message = Version::parse("1.0-").map(|_| ()).unwrap_err().to_string();
        assert_eq!(message, "bad version `1.0-`: revision number is empty");
    }

    #[test]
    fn an_upstream_version_need_not_start_with_a_digit() {
        // dpkg warns but accepts, and orders it like any other.
        assert_lt("1", "a1");
        assert_lt("a1", "b");
        assert_eq!(v("1:abc").upstream(), "abc");
    }

    /// A small deterministic generator (xorshift64*), so that a failure reproduces.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }
    }

    /// A piece of a version, weighted toward what makes comparisons tricky.
    fn piece(rng: &mut Rng) -> String {
        const DIGITS: &[&str] = &["0", "00", "1", "01", "001", "9", "10", "010", "99", "100", "12345678901234567890"];
        const OTHERS: &[&str] = &["~", "~~", "+", ".", "a", "b", "Z", "z", "~a", "+b", ".0", "rc", "dfsg", ":", "-"];
        if rng.below(2) == 0 {
            rng.pick(DIGITS).to_string()
        } else {
            rng.pick(OTHERS).to_string()
        }
    }

    /// An upstream version or revision of allowed characters, starting with a digit.
    fn part(rng: &mut Rng, upstream: bool) -> String {
        let mut s = rng.pick(&["0", "1", "1", "2", "10", "01"]).to_string();
        for _ in 0..rng.below(6) {
            let p = piece(rng);
            if upstream || !p.contains([':', '-']) {
                s.push_str(&p);
            }
        }
        s
    }

    fn random_version(rng: &mut Rng) -> String {
        let epoch = match rng.below(8) {
            0 => "1:",
            1 => "0:",
            2 => "2:",
            3 => "00:",
            _ => "",
        };
        let mut upstream = part(rng, !epoch.is_empty());
        if epoch.is_empty() {
            upstream.retain(|c| c != ':');
        }
        let revision = match rng.below(3) {
            0 => String::new(),
            _ => format!("-{}", part(rng, false)),
        };
        // A hyphen in the upstream version needs a revision after it.
        if revision.is_empty() {
            upstream.retain(|c| c != '-');
        }
        format!("{epoch}{upstream}{revision}")
    }

    /// `b` made from `a` by a small edit, so that many pairs are nearly equal.
    fn neighbour(rng: &mut Rng, a: &str) -> String {
        let b = edit(rng, a);
        if Version::parse(&b).is_ok() {
            b
        } else {
            random_version(rng)
        }
    }

    fn edit(rng: &mut Rng, a: &str) -> String {
        match rng.below(7) {
            0 => format!("{a}~"),
            1 => format!("{a}{}", piece(rng).replace([':', '-'], "")),
            2 if a.contains('-') => a.rsplit_once('-').map_or(a, |(rest, _)| rest).to_string(),
            2 => format!("{a}-0"),
            3 => a.replacen('1', "01", 1),
            4 => a.replacen('0', "", 1).replace("::", ":").trim_start_matches(':').to_string(),
            5 if !a.contains(':') => format!("0:{a}"),
            _ => random_version(rng),
        }
    }

    /// Runs `prelude` then one shell line per element of `lines` through `sh`, in four
    /// shells at once (a `dpkg` call costs a few milliseconds); returns the output lines.
    fn in_shells(prelude: &str, lines: &[String]) -> Vec<String> {
        let run = |chunk: &[String]| -> Vec<String> {
            let script = format!("export LC_ALL=C\n{prelude}\n{}\n", chunk.join("\n"));
            let out = Command::new("sh")
                .args(["-c", &script])
                .stderr(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("cannot run sh: {e}"));
            String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
        };
        let size = lines.len().div_ceil(4).max(1);
        std::thread::scope(|scope| {
            let workers: Vec<_> = lines.chunks(size).map(|chunk| scope.spawn(move || run(chunk))).collect();
            workers.into_iter().flat_map(|w| w.join().expect("shell worker")).collect()
        })
    }

    fn seeded_rng() -> Rng {
        let seed = std::env::var("GILD_VERSION_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_1e55);
        Rng(seed | 1)
    }

    /// 1200 pairs, mostly near-equal, against `dpkg --compare-versions`. The seed is fixed so
    /// a failure reproduces; `GILD_VERSION_SEED=N` explores others.
    #[test]
    #[cfg_attr(gild_no_dpkg, ignore = "dpkg not installed")]
    fn ordering_agrees_with_dpkg() {
        require(&[Need::Dpkg]);
        let mut rng = seeded_rng();
        let pairs: Vec<(String, String)> = (0..1200)
            .map(|_| {
                let a = random_version(&mut rng);
                let b = neighbour(&mut rng, &a);
                (a, b)
            })
            .collect();
        let prelude = "cmp() { if dpkg --compare-versions \"$1\" lt \"$2\"; then echo '<'; \
                       elif dpkg --compare-versions \"$1\" eq \"$2\"; then echo '='; \
                       elif dpkg --compare-versions \"$1\" gt \"$2\"; then echo '>'; else echo E; fi; }";
        let lines: Vec<String> = pairs.iter().map(|(a, b)| format!("cmp '{a}' '{b}'")).collect();
        let verdicts = in_shells(prelude, &lines);
        assert_eq!(verdicts.len(), pairs.len(), "dpkg answered every pair");
        let mut disagreements = Vec::new();
        for ((a, b), verdict) in pairs.iter().zip(&verdicts) {
            let ours = match v(a).cmp(&v(b)) {
                Ordering::Less => "<",
                Ordering::Equal => "=",
                Ordering::Greater => ">",
            };
            if ours != verdict {
                disagreements.push(format!("{a} vs {b}: dpkg {verdict}, gild {ours}"));
            }
        }
        let equal = verdicts.iter().filter(|v| *v == "=").count();
        println!("compared {} pairs with dpkg ({equal} equal)", pairs.len());
        assert!(disagreements.is_empty(), "disagreements:\n{}", disagreements.join("\n"));
    }

    /// A string of mostly version characters with some that dpkg refuses or warns about.
    fn hostile_string(rng: &mut Rng) -> String {
        const BITS: &[&str] =
            &["0", "1", "9", "a", "Z", ".", "+", "~", "-", "-", ":", ":", " ", "\t", "_", "é", "#", "00", "2147483648"];
        (0..1 + rng.below(7)).map(|_| rng.pick(BITS)).collect()
    }

    /// About 400 strings, judged by whether `dpkg --compare-versions S eq S` fails (`error`),
    /// warns (`nodigit`, `badchar`) or accepts them (`ok`). gild must refuse what dpkg
    /// refuses, accept what it accepts, refuse bad characters, and accept a non-digit start.
    #[test]
    #[cfg_attr(gild_no_dpkg, ignore = "dpkg not installed")]
    fn validation_agrees_with_dpkg() {
        require(&[Need::Dpkg]);
        let mut rng = seeded_rng();
        // dpkg reads the epoch with strtol, which also takes a sign; gild wants digits only.
        // And `--compare-versions` takes "" for no version at all.
        let signed = |s: &str| s.trim_matches(is_blank).starts_with(['+', '-']);
        let strings: Vec<String> =
            (0..500).map(|_| hostile_string(&mut rng)).filter(|s| !s.is_empty() && !signed(s)).collect();
        let prelude = "chk() { e=$(dpkg --compare-versions \"$1\" eq \"$1\" 2>&1 >/dev/null); r=$?; \
                       case \"$r:$e\" in 2:*) echo error;; *'not start with digit'*) echo nodigit;; \
                       *'invalid character'*) echo badchar;; 0:) echo ok;; *) echo \"other $r $e\";; esac; }";
        let lines: Vec<String> = strings.iter().map(|s| format!("chk '{s}'")).collect();
        let verdicts = in_shells(prelude, &lines);
        assert_eq!(verdicts.len(), strings.len(), "dpkg answered every string");
        let mut disagreements = Vec::new();
        for (s, verdict) in strings.iter().zip(&verdicts) {
            let ours = Version::parse(s).map(|_| ()).map_err(|e| e.problem);
            let bad_char = matches!(ours, Err(VersionProblem::BadUpstreamChar(_) | VersionProblem::BadRevisionChar(_)));
            let agree = match verdict.as_str() {
                "error" => ours.is_err(),
                "ok" => ours.is_ok(),
                "badchar" => bad_char,
                "nodigit" => ours.is_ok() || bad_char,
                _ => false,
            };
            if !agree {
                disagreements.push(format!("{s:?}: dpkg {verdict}, gild {ours:?}"));
            }
        }
        let count = |class: &str| verdicts.iter().filter(|v| *v == class).count();
        let classes = ["ok", "error", "badchar", "nodigit"].map(|c| format!("{} {c}", count(c))).join(", ");
        println!("validated {} strings with dpkg: {classes}", strings.len());
        assert!(disagreements.is_empty(), "disagreements:\n{}", disagreements.join("\n"));
    }
}
