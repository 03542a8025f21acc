//! Limits on what a layer may make gild do.
//!
//! Every layer is read as if it were hostile (docs/layers.md): these caps are what keep a signed but
//! broken or malicious archive from exhausting memory, disk or time. Each can be raised in the
//! recipe's `[image.limits]` table or with `--limit KEY=VALUE`, and every error that hits one
//! names the key to raise.

use std::fmt;

/// The caps enforced while reading layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest PAX or GNU long-name header, in bytes.
    pub header: u64,
    /// Longest path, in bytes.
    pub path: u64,
    /// Most components in a path.
    pub depth: u64,
    /// Most entries in one layer.
    pub entries: u64,
    /// Most bytes one layer may unpack to.
    pub unpacked: u64,
    /// Longest chain of symlinks followed while resolving one path.
    pub links: u64,
    /// Largest decoder window (xz dictionary, zstd window), in bytes.
    pub window: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header: 1 << 20,
            path: 4096,
            depth: 256,
            entries: 4_000_000,
            unpacked: 64 << 30,
            links: 40,
            window: 128 << 20,
        }
    }
}

/// Which limit was hit; its name is the key that raises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Header,
    Path,
    Depth,
    Entries,
    Unpacked,
    Links,
    Window,
}

impl Limit {
    pub const ALL: [Limit; 7] =
        [Limit::Header, Limit::Path, Limit::Depth, Limit::Entries, Limit::Unpacked, Limit::Links, Limit::Window];

    pub fn key(self) -> &'static str {
        match self {
            Limit::Header => "header",
            Limit::Path => "path",
            Limit::Depth => "depth",
            Limit::Entries => "entries",
            Limit::Unpacked => "unpacked",
            Limit::Links => "links",
            Limit::Window => "window",
        }
    }

    pub fn from_key(key: &str) -> Option<Limit> {
        Limit::ALL.into_iter().find(|l| l.key() == key)
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl Limits {
    pub fn get(&self, limit: Limit) -> u64 {
        match limit {
            Limit::Header => self.header,
            Limit::Path => self.path,
            Limit::Depth => self.depth,
            Limit::Entries => self.entries,
            Limit::Unpacked => self.unpacked,
            Limit::Links => self.links,
            Limit::Window => self.window,
        }
    }

    pub fn set(&mut self, limit: Limit, value: u64) {
        let slot = match limit {
            Limit::Header => &mut self.header,
            Limit::Path => &mut self.path,
            Limit::Depth => &mut self.depth,
            Limit::Entries => &mut self.entries,
            Limit::Unpacked => &mut self.unpacked,
            Limit::Links => &mut self.links,
            Limit::Window => &mut self.window,
        };
        *slot = value;
    }

    /// Applies one `KEY=VALUE` override, as given to `--limit`.
    pub fn apply_arg(&mut self, arg: &str) -> Result<(), String> {
        let (key, value) = arg.split_once('=').ok_or_else(|| format!("`--limit {arg}` is not KEY=VALUE"))?;
        let limit = Limit::from_key(key.trim()).ok_or_else(|| {
            let keys: Vec<_> = Limit::ALL.iter().map(|l| l.key()).collect();
            format!("unknown limit `{key}`; the limits are {}", keys.join(", "))
        })?;
        let value = parse_size(value.trim())
            .ok_or_else(|| format!("limit `{key}`: `{value}` is not a number (suffixes: KiB, MiB, GiB)"))?;
        self.set(limit, value);
        Ok(())
    }
}

/// Parses `123`, `64KiB`, `1MiB`, `64GiB` (also `K`, `M`, `G`).
pub fn parse_size(s: &str) -> Option<u64> {
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(digits);
    let num: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" => 1,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        _ => return None,
    };
    num.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("1MiB"), Some(1 << 20));
        assert_eq!(parse_size("64GiB"), Some(64 << 30));
        assert_eq!(parse_size("1.5MiB"), None);
    }

    #[test]
    fn limit_argument_names_unknown_keys() {
        let mut l = Limits::default();
        l.apply_arg("header=2MiB").unwrap();
        assert_eq!(l.header, 2 << 20);
        assert!(l.apply_arg("bogus=1").unwrap_err().contains("unknown limit `bogus`"));
    }
}
