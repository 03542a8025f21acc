//! Image versions: dot-separated integers without leading zeros, compared numerically.

use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    parts: Vec<u64>,
}

impl Version {
    pub fn parse(s: &str) -> Result<Version, &'static str> {
        if s.is_empty() {
            return Err("a version is dot-separated integers, like 2026.11.2");
        }
        let mut parts = Vec::new();
        for part in s.split('.') {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err("a version is dot-separated integers, like 2026.11.2");
            }
            if part.len() > 1 && part.starts_with('0') {
                return Err("version parts have no leading zeros");
            }
            parts.push(part.parse().map_err(|_| "a version part is too large")?);
        }
        Ok(Version { parts })
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        // 1.2 == 1.2.0 would make two directories for one version: compare the parts as
        // written, padding with zeros, then the longer one is newer.
        let n = self.parts.len().max(other.parts.len());
        for i in 0..n {
            let a = self.parts.get(i).copied().unwrap_or(0);
            let b = other.parts.get(i).copied().unwrap_or(0);
            match a.cmp(&b) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        self.parts.len().cmp(&other.parts.len())
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        let v = |s| Version::parse(s).unwrap();
        assert!(v("2026.11.10") > v("2026.11.9"));
        assert!(v("1.0.1") > v("1.0"));
        assert!(v("2") > v("1.99"));
        assert_eq!(v("1.2.3").to_string(), "1.2.3");
    }

    #[test]
    fn leading_zeros_and_junk_are_refused() {
        assert!(Version::parse("1.02").is_err());
        assert!(Version::parse("1..2").is_err());
        assert!(Version::parse("v1").is_err());
        assert!(Version::parse("").is_err());
    }
}
