//! Makes the benchmark corpus that `bench/run.sh` measures gild on: no network, every byte
//! of every tarball a function of the seed (the signatures are not: the `minisign` crate adds
//! random noise to each one, and the key is made on the first run).
//!
//! ```text
//! cargo run --release --example bench_corpus -- [--out DIR] [--seed N] [--variant V]...
//! ```
//!
//! `DIR` (default `bench/corpus/`, git-ignored) becomes a gild workspace:
//!
//! - `main` (the default variant): `artifacts/base.tar.zst`, a usr-merged root with the size
//!   mix of a Debian minbase (about 7,000 entries and 200 MB: many small text files, ELF-like
//!   binaries and libraries, a few large ones, symlinks, hard links, gzip'd docs), six patch
//!   layers of 1 to 20 MB unpacked in gzip, zstd, xz and plain tar (some ship `./lib/...` and
//!   `./bin/...`, which land in `usr/` through the base's symlinks), and `recipes/bench.toml`;
//! - `scale`: `artifacts/scale.tar.zst`, a base of exactly 1,000,000 small entries, and
//!   `recipes/scale.toml`;
//! - `diff`: two bases of 500,000 small entries that differ in about 1.5% of their paths,
//!   with `recipes/diff-a.toml` and `recipes/diff-b.toml`, for comparing two baselines;
//! - `next`: a seventh patch, `artifacts/patches/7-tzdata-2026c.tar`, that updates one file of
//!   the main base, and `next-patch.toml`, its `[[patch]]` table: appended to
//!   `recipes/bench.toml` at version 1.0.1 it makes the next version, on which `bench/run.sh`
//!   measures a warm rebuild (a new version whose tree differs from the recorded one in one
//!   small file).
//!
//! Every artifact is signed (prehashed) with `keys/bench.key`, a key the generator makes when
//! it is missing. **It is a benchmark key with an unencrypted secret half: never trust it.**
//! Each recipe (and `next-patch.toml`) is written last, so its presence means its variant is
//! complete; each variant also writes `corpus-VARIANT.txt` with its entry counts and sizes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use base64::Engine as _;
use sha2::{Digest, Sha256};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const DEFAULT_SEED: u64 = 8;
/// The recipes' epoch (2025-11-22T00:00:00Z); every layer's mtimes are later and get clamped.
const EPOCH: u64 = 1_763_769_600;
/// 2026-01-01T00:00:00Z: the base's mtimes.
const BASE_MTIME: u64 = 1_767_225_600;
/// The main base's unpacked file bytes, reached by sizing its few largest files.
const MAIN_TARGET_BYTES: u64 = 200_000_000;
const KEY_COMMENT: &str = "gild BENCHMARK key - for benchmarks only, never trust it";

// ---------------------------------------------------------------------------------------
// Randomness: splitmix64, seeded per use from the corpus seed and a label.

#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, label: &str) -> Rng {
        let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for b in label.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        let mut r = Rng(h);
        r.next();
        r
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An index in `0..n` skewed towards 0, as word and instruction frequencies are.
    fn skewed(&mut self, n: usize) -> usize {
        let u = self.unit();
        ((u * u * u) * n as f64) as usize
    }

    /// A log-normal size around `median`, clipped to `lo..=hi`.
    fn size(&mut self, median: f64, sigma: f64, lo: u64, hi: u64) -> u64 {
        let (u1, u2) = (self.unit().max(1e-12), self.unit());
        let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        ((median * (sigma * normal).exp()) as u64).clamp(lo, hi)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------------------
// Contents that compress like the real thing: zstd -3 takes text about 4-5×, the ELF-like
// binaries about 3× (real ones: 3-4×), gzip'd files and hashes not at all.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stuff {
    /// Prose, config lines and comments from a vocabulary.
    Text,
    /// `#!/bin/sh` and shell lines.
    Script,
    /// An ELF magic, then code made of recurring instruction patterns, string tables,
    /// address tables, zero padding and some entropy.
    Elf,
    /// Structured binary data: tables of small integers with strings (`.mo`, zoneinfo,
    /// terminfo, caches).
    Data,
    /// Text, gzip-compressed (man pages, changelogs): the size given is the compressed one.
    Gzip,
    /// dpkg's database (`var/lib/dpkg/status`): deb822 stanzas, whole, to about the size given.
    Status,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Content {
    stuff: Stuff,
    size: u64,
    seed: u64,
}

struct Dict {
    words: Vec<Vec<u8>>,
    ops: Vec<Vec<u8>>,
}

impl Dict {
    fn new(seed: u64) -> Dict {
        let mut rng = Rng::new(seed, "dict");
        const SYL: [&str; 40] = [
            "a", "e", "i", "o", "u", "ka", "ro", "ti", "ne", "sa", "lu", "mi", "de", "po", "ra", "fi", "con", "ter",
            "ing", "al", "ex", "sys", "pre", "ed", "or", "ent", "ion", "us", "conf", "lib", "dir", "st", "re", "pa",
            "th", "ch", "en", "is", "ma", "ly",
        ];
        let words = (0..3000)
            .map(|_| {
                let n = 1 + rng.below(4);
                (0..n).map(|_| rng.pick(&SYL)).collect::<String>().into_bytes()
            })
            .collect();
        let ops = (0..160)
            .map(|_| {
                let n = 1 + rng.below(7) as usize;
                (0..n).map(|_| rng.next() as u8).collect()
            })
            .collect();
        Dict { words, ops }
    }

    fn word(&self, rng: &mut Rng) -> &[u8] {
        &self.words[rng.skewed(self.words.len())]
    }

    fn make(&self, c: &Content) -> Vec<u8> {
        let mut rng = Rng::new(c.seed, "content");
        let n = c.size as usize;
        match c.stuff {
            Stuff::Text => self.text(&mut rng, n, b""),
            Stuff::Script => self.text(&mut rng, n, b"#!/bin/sh\nset -e\n"),
            Stuff::Elf => self.elf(&mut rng, n),
            Stuff::Data => self.data(&mut rng, n),
            Stuff::Status => self.status(&mut rng, n),
            Stuff::Gzip => {
                let text = self.text(&mut rng, n * 4, b"");
                let mut enc = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::default());
                enc.write_all(&text).expect("writing to a Vec");
                enc.finish().expect("writing to a Vec")
            }
        }
    }

    fn text(&self, rng: &mut Rng, n: usize, head: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 128);
        out.extend_from_slice(head);
        while out.len() < n {
            match rng.below(10) {
                0 | 1 if out.len() > 256 => copy_recent(rng, &mut out, 24, 96, 8 * 1024),
                2 => {
                    out.extend_from_slice(b"# ");
                    self.words_line(rng, &mut out, 4, 8);
                }
                3 | 4 => {
                    out.extend_from_slice(self.word(rng));
                    out.push(b'_');
                    out.extend_from_slice(self.word(rng));
                    out.extend_from_slice(b" = ");
                    if rng.chance(0.3) {
                        out.extend_from_slice(rng.below(100_000).to_string().as_bytes());
                        out.push(b'\n');
                    } else {
                        self.words_line(rng, &mut out, 1, 3);
                    }
                }
                _ => self.words_line(rng, &mut out, 6, 10),
            }
        }
        out.truncate(n);
        out
    }

    /// One stanza per package, as dpkg writes them (`dpkg` itself first), until `n` bytes or
    /// a little more: gild reads the base's `status` for its package inventory, so it must be
    /// deb822 that parses, not word soup.
    fn status(&self, rng: &mut Rng, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 4096);
        let mut i = 0;
        while out.len() < n {
            let name = match i {
                0 => "dpkg".to_string(),
                _ => format!("{}{i}", String::from_utf8_lossy(self.word(rng))),
            };
            let section = rng.pick(&["admin", "libs", "utils", "shells", "net", "perl", "python"]);
            write!(
                out,
                "Package: {name}\nStatus: install ok installed\nPriority: {}\nSection: {section}\n\
                 Installed-Size: {}\nMaintainer: Bench Maintainers <bench@example.invalid>\nArchitecture: amd64\n",
                rng.pick(&["required", "important", "optional"]),
                16 + rng.below(20_000),
            )
            .expect("writing to a Vec");
            if rng.chance(0.4) {
                writeln!(out, "Source: {}", String::from_utf8_lossy(self.word(rng))).expect("writing to a Vec");
            }
            let (major, minor, debian) = (rng.below(10), rng.below(40), 1 + rng.below(12));
            writeln!(out, "Version: {major}.{minor}-{debian}").expect("writing to a Vec");
            out.extend_from_slice(b"Description: ");
            self.words_line(rng, &mut out, 3, 6);
            for _ in 0..2 + rng.below(8) {
                out.push(b' ');
                self.words_line(rng, &mut out, 6, 10);
            }
            out.push(b'\n');
            i += 1;
        }
        out
    }

    /// A line of `least` to `least + spread - 1` words.
    fn words_line(&self, rng: &mut Rng, out: &mut Vec<u8>, least: u64, spread: u64) {
        let words = least + rng.below(spread);
        for i in 0..words {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(self.word(rng));
        }
        out.push(if rng.chance(0.2) { b'.' } else { b' ' });
        out.push(b'\n');
    }

    fn elf(&self, rng: &mut Rng, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 16 * 1024);
        out.extend_from_slice(
            b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x3e\x00\x01\x00\x00\x00",
        );
        out.resize(64, 0);
        while out.len() < n {
            let len = 512 + rng.below(16 * 1024) as usize;
            let end = out.len() + len;
            match rng.below(100) {
                0..=64 => {
                    while out.len() < end {
                        if out.len() > 4096 && rng.chance(0.04) {
                            copy_recent(rng, &mut out, 8, 64, 64 * 1024);
                            continue;
                        }
                        out.extend_from_slice(&self.ops[rng.skewed(self.ops.len())]);
                        if rng.chance(0.2) {
                            let imm = rng.next().to_le_bytes();
                            out.extend_from_slice(&imm[..if rng.chance(0.7) { 1 } else { 4 }]);
                        }
                    }
                }
                65..=79 => {
                    while out.len() < end {
                        out.extend_from_slice(self.word(rng));
                        if rng.chance(0.6) {
                            out.push(b'_');
                            out.extend_from_slice(self.word(rng));
                        }
                        out.push(0);
                    }
                }
                80..=89 => {
                    let mut addr = 0x40_0000 + rng.below(0x10_0000);
                    while out.len() < end {
                        addr += 8 + 8 * rng.below(16);
                        out.extend_from_slice(&addr.to_le_bytes());
                        out.extend_from_slice(&[0x08, 0, 0, 0, 0, 0, 0, 0]);
                    }
                }
                90..=97 => out.resize(end, 0),
                _ => {
                    while out.len() < end {
                        out.extend_from_slice(&rng.next().to_le_bytes());
                    }
                }
            }
        }
        out.truncate(n);
        out
    }

    fn data(&self, rng: &mut Rng, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 256);
        out.extend_from_slice(&(0x9504_12deu32).to_le_bytes());
        while out.len() < n {
            match rng.below(10) {
                0..=4 => {
                    out.extend_from_slice(self.word(rng));
                    out.push(b' ');
                    out.extend_from_slice(self.word(rng));
                    out.push(0);
                }
                5..=7 => {
                    let base = rng.below(4096) as u16;
                    for _ in 0..(8 + rng.below(56)) {
                        out.extend_from_slice(&(base + rng.skewed(16) as u16).to_le_bytes());
                    }
                }
                _ if out.len() > 256 => copy_recent(rng, &mut out, 8, 64, 16 * 1024),
                _ => out.extend_from_slice(&rng.next().to_le_bytes()),
            }
        }
        out.truncate(n);
        out
    }
}

/// Appends a copy of `min..max` bytes from the last `window` bytes: the repetition that
/// real text and code have (a line seen before, an inlined sequence).
fn copy_recent(rng: &mut Rng, out: &mut Vec<u8>, min: u64, max: u64, window: usize) {
    let len = (min + rng.below(max - min)) as usize;
    let from = out.len() - 1 - rng.below(out.len().min(window) as u64) as usize;
    let len = len.min(out.len() - from);
    out.extend_from_within(from..from + len);
}

// ---------------------------------------------------------------------------------------
// A layer as a plan: paths (no leading `./`, the root is "") to what they are.

#[derive(Clone, Debug)]
enum Body {
    Dir,
    File(Content),
    Symlink(String),
    /// A hard link to an earlier entry (the plan makes sure it sorts before).
    HardLink(String),
}

#[derive(Clone, Debug)]
struct Entry {
    body: Body,
    mode: u32,
    uid: u32,
    gid: u32,
}

#[derive(Default)]
struct Plan {
    entries: BTreeMap<String, Entry>,
    mtime: u64,
}

impl Plan {
    fn new(mtime: u64) -> Plan {
        let mut p = Plan { entries: BTreeMap::new(), mtime };
        p.put("", Body::Dir, 0o755);
        p
    }

    fn put(&mut self, path: &str, body: Body, mode: u32) -> &mut Entry {
        if let Some((parent, _)) = path.rsplit_once('/') {
            if !self.entries.contains_key(parent) {
                self.dir(parent, 0o755);
            }
        } else if !path.is_empty() && !self.entries.contains_key("") {
            self.put("", Body::Dir, 0o755);
        }
        self.entries.insert(path.to_string(), Entry { body, mode, uid: 0, gid: 0 });
        self.entries.get_mut(path).expect("just inserted")
    }

    fn dir(&mut self, path: &str, mode: u32) -> &mut Entry {
        self.put(path, Body::Dir, mode)
    }

    fn file(&mut self, path: &str, stuff: Stuff, size: u64, seed: u64, mode: u32) -> &mut Entry {
        self.put(path, Body::File(Content { stuff, size, seed }), mode)
    }

    fn symlink(&mut self, path: &str, target: &str) {
        self.put(path, Body::Symlink(target.to_string()), 0o777);
    }

    /// Two names for one file: the one that sorts first carries the data in the tar.
    fn hardlink_pair(&mut self, a: &str, b: &str, content: Content, mode: u32) {
        let (first, second) = if a < b { (a, b) } else { (b, a) };
        self.put(first, Body::File(content), mode);
        self.put(second, Body::HardLink(format!("./{first}")), mode);
    }

    fn paths_under(&self, dir: &str) -> Vec<String> {
        let prefix = format!("{dir}/");
        self.entries
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .map(|(p, _)| p.clone())
            .collect()
    }

    fn file_bytes(&self) -> u64 {
        self.entries.values().map(|e| if let Body::File(c) = &e.body { c.size } else { 0 }).sum()
    }
}

#[derive(Default, Debug)]
struct Stats {
    dirs: u64,
    files: u64,
    symlinks: u64,
    hardlinks: u64,
    file_bytes: u64,
    tar_bytes: u64,
}

impl Stats {
    fn entries(&self) -> u64 {
        self.dirs + self.files + self.symlinks + self.hardlinks
    }
}

// ---------------------------------------------------------------------------------------
// Tar: ustar headers written by hand (names as `./path`, numeric ids, no user names).

fn octal(field: &mut [u8], value: u64) {
    let n = field.len() - 1;
    let s = format!("{value:0n$o}");
    field[..n].copy_from_slice(s.as_bytes());
    field[n] = 0;
}

fn header(name: &[u8], e: &Entry, flag: u8, size: u64, link: &[u8], mtime: u64) -> Result<[u8; 512]> {
    let mut h = [0u8; 512];
    if name.len() <= 100 {
        h[..name.len()].copy_from_slice(name);
    } else {
        // ustar's prefix field: split at a slash so that the name part fits.
        let cut = name[..name.len().min(156)]
            .iter()
            .rposition(|&b| b == b'/')
            .filter(|&i| name.len() - i - 1 <= 100)
            .ok_or_else(|| format!("name too long for ustar: {}", String::from_utf8_lossy(name)))?;
        h[345..345 + cut].copy_from_slice(&name[..cut]);
        h[..name.len() - cut - 1].copy_from_slice(&name[cut + 1..]);
    }
    if link.len() > 100 {
        return Err(format!("link target too long for ustar: {}", String::from_utf8_lossy(link)).into());
    }
    octal(&mut h[100..108], u64::from(e.mode));
    octal(&mut h[108..116], u64::from(e.uid));
    octal(&mut h[116..124], u64::from(e.gid));
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], mtime);
    h[156] = flag;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    octal(&mut h[148..155], u64::from(sum));
    h[155] = b' ';
    Ok(h)
}

fn write_tar(plan: &Plan, dict: &Dict, out: &mut dyn Write) -> Result<Stats> {
    let mut st = Stats::default();
    let zeros = [0u8; 512];
    for (path, e) in &plan.entries {
        let mut name = format!("./{path}").into_bytes();
        let h = match &e.body {
            Body::Dir => {
                st.dirs += 1;
                if !path.is_empty() {
                    name.push(b'/');
                }
                header(&name, e, b'5', 0, b"", plan.mtime)?
            }
            Body::Symlink(t) => {
                st.symlinks += 1;
                header(&name, e, b'2', 0, t.as_bytes(), plan.mtime)?
            }
            Body::HardLink(t) => {
                st.hardlinks += 1;
                header(&name, e, b'1', 0, t.as_bytes(), plan.mtime)?
            }
            Body::File(c) => {
                let data = dict.make(c);
                st.files += 1;
                st.file_bytes += data.len() as u64;
                out.write_all(&header(&name, e, b'0', data.len() as u64, b"", plan.mtime)?)?;
                out.write_all(&data)?;
                let pad = (512 - data.len() % 512) % 512;
                out.write_all(&zeros[..pad])?;
                st.tar_bytes += 512 + (data.len() + pad) as u64;
                continue;
            }
        };
        out.write_all(&h)?;
        st.tar_bytes += 512;
    }
    out.write_all(&zeros)?;
    out.write_all(&zeros)?;
    st.tar_bytes += 1024;
    Ok(st)
}

// ---------------------------------------------------------------------------------------
// Compression, hashing, signing.

#[derive(Clone, Copy, Debug)]
enum Comp {
    Plain,
    Gzip,
    Zstd,
    Xz,
}

impl Comp {
    fn ext(self) -> &'static str {
        match self {
            Comp::Plain => "tar",
            Comp::Gzip => "tar.gz",
            Comp::Zstd => "tar.zst",
            Comp::Xz => "tar.xz",
        }
    }
}

/// Counts and hashes what goes to the file.
struct Hashing<W: Write> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct Artifact {
    /// Relative to the corpus directory.
    rel: String,
    sha256: String,
    size: u64,
    stats: Stats,
}

fn write_artifact(dir: &Path, rel: &str, comp: Comp, plan: &Plan, dict: &Dict) -> Result<Artifact> {
    let path = dir.join(rel);
    let file = BufWriter::with_capacity(1 << 20, File::create(&path)?);
    let mut sink = Hashing { inner: file, hasher: Sha256::new(), len: 0 };
    let stats = match comp {
        Comp::Plain => {
            let mut w = BufWriter::with_capacity(1 << 20, &mut sink);
            let st = write_tar(plan, dict, &mut w)?;
            w.flush()?;
            st
        }
        Comp::Gzip => {
            let mut enc = flate2::GzBuilder::new().write(&mut sink, flate2::Compression::default());
            let st = write_tar(plan, dict, &mut enc)?;
            enc.finish()?;
            st
        }
        Comp::Zstd => {
            // The multithreaded format: the same bytes whatever the number of workers.
            let mut enc = zstd::stream::write::Encoder::new(&mut sink, 3)?;
            enc.multithread(2)?;
            let st = write_tar(plan, dict, &mut enc)?;
            enc.finish()?;
            st
        }
        Comp::Xz => {
            let mut enc = liblzma::write::XzEncoder::new(&mut sink, 6);
            let st = write_tar(plan, dict, &mut enc)?;
            enc.finish()?;
            st
        }
    };
    sink.flush()?;
    let sha256 = hex(&sink.hasher.finalize());
    eprintln!(
        "  wrote {rel}: {} entries, {} unpacked, {} on disk",
        stats.entries(),
        mb(stats.file_bytes),
        mb(sink.len)
    );
    Ok(Artifact { rel: rel.to_string(), sha256, size: sink.len, stats })
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        write!(s, "{b:02x}").expect("writing to a String");
    }
    s
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

struct Key {
    pk: minisign::PublicKey,
    sk: minisign::SecretKey,
}

/// Loads `keys/bench.{pub,key}`, making them first when missing. The secret key is stored as
/// `minisign -G -W` stores it (no password), so the CLI can sign with it too.
fn bench_key(dir: &Path) -> Result<Key> {
    let keys = dir.join("keys");
    fs::create_dir_all(&keys)?;
    let (pub_path, key_path) = (keys.join("bench.pub"), keys.join("bench.key"));
    if !pub_path.exists() || !key_path.exists() {
        let kp = minisign::KeyPair::generate_encrypted_keypair(Some(String::new()))?;
        let boxed = kp.pk.to_box()?.into_string();
        let id = boxed.lines().next().unwrap_or_default().rsplit(' ').next().unwrap_or_default().to_string();
        let mut raw = kp.sk.to_bytes();
        raw[2..4].copy_from_slice(&[0, 0]); // kdf_alg `\0\0`: not encrypted
        let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
        fs::write(
            &pub_path,
            format!("untrusted comment: {KEY_COMMENT} (minisign public key {id})\n{}\n", kp.pk.to_base64()),
        )?;
        fs::write(&key_path, format!("untrusted comment: {KEY_COMMENT} (unencrypted secret key {id})\n{b64}\n"))?;
        eprintln!("made the benchmark key keys/bench.pub ({id})");
    }
    let pub_text = fs::read_to_string(&pub_path)?;
    let line = pub_text.lines().nth(1).ok_or_else(|| format!("{}: no key line", pub_path.display()))?;
    let pk = minisign::PublicKey::from_base64(line.trim())?;
    let sk = minisign::SecretKeyBox::from_string(&fs::read_to_string(&key_path)?)?
        .into_secret_key(Some(String::new()))
        .map_err(|e| format!("{}: {e}", key_path.display()))?;
    Ok(Key { pk, sk })
}

fn sign(dir: &Path, a: &Artifact, key: &Key) -> Result<()> {
    let name = a.rel.rsplit('/').next().unwrap_or(&a.rel);
    let trusted = format!("file:{name} signer:bench (benchmark only)");
    let untrusted = "signature from the gild BENCHMARK key - for benchmarks only";
    let sig = minisign::sign(Some(&key.pk), &key.sk, File::open(dir.join(&a.rel))?, Some(&trusted), Some(untrusted))?;
    fs::write(dir.join(format!("{}.minisig", a.rel)), sig.into_string())?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The main base: a usr-merged Debian minbase-like root.

/// How a group of files is made: what they hold, their median and largest size, their mode.
#[derive(Clone, Copy)]
struct Kind(Stuff, f64, u64, u32);

/// Adds `count` files named by `name(rng, i)` under `dir`; returns their paths.
fn group(
    plan: &mut Plan,
    rng: &mut Rng,
    dir: &str,
    count: usize,
    name: impl Fn(&mut Rng, usize) -> String,
    Kind(stuff, median, max, mode): Kind,
) -> Vec<String> {
    let mut made = Vec::new();
    for i in 0..count {
        let path = format!("{dir}/{}", name(rng, i));
        if plan.entries.contains_key(&path) {
            continue;
        }
        let size = rng.size(median, 1.1, 24, max);
        plan.file(&path, stuff, size, rng.next(), mode);
        made.push(path);
    }
    made
}

fn word(rng: &mut Rng, dict: &Dict) -> String {
    String::from_utf8_lossy(dict.word(rng)).into_owned()
}

fn name_with(rng: &mut Rng, dict: &Dict, i: usize, suffix: &str) -> String {
    format!("{}{}{i}{suffix}", word(rng, dict), if rng.chance(0.5) { "-" } else { "" })
}

fn main_base(seed: u64, dict: &Dict) -> Plan {
    let mut rng = Rng::new(seed, "main-base");
    let mut p = Plan::new(BASE_MTIME);
    let r = &mut rng;

    // The usr-merge layout and the top-level directories.
    for (link, target) in [("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64"), ("sbin", "usr/sbin")] {
        p.symlink(link, target);
    }
    for d in ["boot", "dev", "home", "media", "mnt", "opt", "proc", "run", "srv", "sys", "usr/games", "usr/local/bin"] {
        p.dir(d, 0o755);
    }
    p.dir("root", 0o700);
    p.dir("tmp", 0o1777);
    p.dir("var/tmp", 0o1777);
    p.dir("var/mail", 0o2775).gid = 8;
    p.dir("var/local", 0o2775).gid = 50;

    // etc: small configs, a few scripts, shadow files, alternatives.
    let etc_dirs = [
        "etc",
        "etc/apt/apt.conf.d",
        "etc/apt/sources.list.d",
        "etc/cron.daily",
        "etc/default",
        "etc/init.d",
        "etc/pam.d",
        "etc/security",
        "etc/skel",
        "etc/logrotate.d",
        "etc/profile.d",
        "etc/ld.so.conf.d",
        "etc/systemd/system",
        "etc/dpkg/dpkg.cfg.d",
        "etc/update-motd.d",
        "etc/security/limits.d",
    ];
    for (k, d) in etc_dirs.iter().enumerate() {
        let n = if k == 0 { 70 } else { 22 };
        let script = d.ends_with("init.d") || d.ends_with("cron.daily") || d.ends_with("update-motd.d");
        let (stuff, mode) = if script { (Stuff::Script, 0o755) } else { (Stuff::Text, 0o644) };
        group(&mut p, r, d, n, |r, i| name_with(r, dict, i, ".conf"), Kind(stuff, 700.0, 64 * 1024, mode));
    }
    for f in ["etc/shadow", "etc/gshadow"] {
        p.file(f, Stuff::Text, 700, r.next(), 0o640).gid = 42;
    }
    p.symlink("etc/os-release", "../usr/lib/os-release");
    p.file("usr/lib/os-release", Stuff::Text, 380, r.next(), 0o644);
    p.file("etc/ld.so.cache", Stuff::Data, 18_000, r.next(), 0o644);

    // usr/bin and usr/sbin: ELF programs, scripts, setuid/setgid ones, hard links and
    // alternatives.
    let bins = group(
        &mut p,
        r,
        "usr/bin",
        420,
        |r, i| name_with(r, dict, i, ""),
        Kind(Stuff::Elf, 38_000.0, 1_600_000, 0o755),
    );
    group(&mut p, r, "usr/bin", 60, |r, i| name_with(r, dict, i, ".sh"), Kind(Stuff::Script, 3_000.0, 60_000, 0o755));
    let sbins =
        group(&mut p, r, "usr/sbin", 130, |r, i| name_with(r, dict, i, ""), Kind(Stuff::Elf, 30_000.0, 900_000, 0o755));
    for (name, mode, gid) in [
        ("passwd", 0o4755, 0),
        ("su", 0o4755, 0),
        ("mount", 0o4755, 0),
        ("umount", 0o4755, 0),
        ("chfn", 0o4755, 0),
        ("chsh", 0o4755, 0),
        ("gpasswd", 0o4755, 0),
        ("newgrp", 0o4755, 0),
        ("chage", 0o2755, 42),
        ("expiry", 0o2755, 42),
        ("login", 0o755, 0),
        ("ls", 0o755, 0),
        ("bash", 0o755, 0),
        ("dash", 0o755, 0),
        ("tar", 0o755, 0),
    ] {
        let size = r.size(60_000.0, 1.0, 20_000, 1_400_000);
        p.file(&format!("usr/bin/{name}"), Stuff::Elf, size, r.next(), mode).gid = gid;
    }
    p.symlink("usr/bin/sh", "dash");
    p.file("usr/sbin/nologin", Stuff::Elf, 14_000, r.next(), 0o755);
    let perl = Content { stuff: Stuff::Elf, size: 3_900_000, seed: r.next() };
    p.hardlink_pair("usr/bin/perl", "usr/bin/perl5.36.0", perl, 0o755);
    for i in 0..24 {
        let size = r.size(50_000.0, 1.0, 4_000, 800_000);
        let c = Content { stuff: Stuff::Elf, size, seed: r.next() };
        let (a, b) = (format!("usr/bin/{}{i}", word(r, dict)), format!("usr/bin/{}{i}x", word(r, dict)));
        if !p.entries.contains_key(&a) && !p.entries.contains_key(&b) {
            p.hardlink_pair(&a, &b, c, 0o755);
        }
    }
    for i in 0..40 {
        let name = format!("{}{i}", word(r, dict));
        let target = if i % 2 == 0 { &bins[i * 7 % bins.len()] } else { &sbins[i * 3 % sbins.len()] };
        p.symlink(&format!("etc/alternatives/{name}"), &format!("/{target}"));
        p.symlink(&format!("usr/bin/{name}.alt"), &format!("/etc/alternatives/{name}"));
        p.symlink(&format!("var/lib/dpkg/alternatives/{name}"), &format!("/{target}"));
    }

    // Libraries: libNAME.so.M.m.p with the libNAME.so.M symlink; the well-known big ones.
    let libdir = "usr/lib/x86_64-linux-gnu";
    let named: [(&str, &str, u64); 14] = [
        ("libc", "6", 2_000_000),
        ("libcrypto", "3", 4_700_000),
        ("libssl", "3", 700_000),
        ("libstdc++", "6.0.30", 2_300_000),
        ("libsystemd", "0.32.0", 900_000),
        ("libdb-5.3", "", 1_800_000),
        ("libgnutls", "30.34.3", 2_000_000),
        ("libunistring", "2.2.0", 1_700_000),
        ("libp11-kit", "0.3.0", 1_300_000),
        ("libzstd", "1.5.4", 800_000),
        ("liblzma", "5.4.1", 170_000),
        ("libm", "6", 900_000),
        ("libapt-pkg", "6.0.0", 2_400_000),
        ("libgcrypt", "20.4.1", 1_300_000),
    ];
    for (name, ver, size) in named {
        let file = if ver.is_empty() { format!("{libdir}/{name}.so") } else { format!("{libdir}/{name}.so.{ver}") };
        p.file(&file, Stuff::Elf, size, r.next(), 0o644);
        if let Some((major, _)) = ver.split_once('.') {
            p.symlink(&format!("{libdir}/{name}.so.{major}"), file.rsplit('/').next().unwrap_or_default());
        }
    }
    p.file(&format!("{libdir}/ld-linux-x86-64.so.2"), Stuff::Elf, 210_000, r.next(), 0o755);
    p.symlink("usr/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    for i in 0..230 {
        let (maj, min, pat) = (r.below(8), r.below(20), r.below(10));
        let name = format!("lib{}{i}", word(r, dict));
        let file = format!("{name}.so.{maj}.{min}.{pat}");
        let size = r.size(90_000.0, 1.2, 8_000, 2_500_000);
        p.file(&format!("{libdir}/{file}"), Stuff::Elf, size, r.next(), 0o644);
        p.symlink(&format!("{libdir}/{name}.so.{maj}"), &file);
    }
    group(
        &mut p,
        r,
        &format!("{libdir}/gconv"),
        250,
        |r, i| format!("{}{i}.so", word(r, dict).to_uppercase()),
        Kind(Stuff::Elf, 18_000.0, 400_000, 0o644),
    );
    p.file(&format!("{libdir}/gconv/gconv-modules.cache"), Stuff::Data, 27_000, r.next(), 0o644);
    for i in 0..70 {
        let d = format!("{libdir}/perl-base/{}", word(r, dict));
        let d = if i % 3 == 0 { format!("{d}/{}", word(r, dict)) } else { d };
        group(&mut p, r, &d, 11, |r, i| format!("{}{i}.pm", word(r, dict)), Kind(Stuff::Text, 6_000.0, 200_000, 0o644));
    }
    group(
        &mut p,
        r,
        "usr/lib/apt/methods",
        12,
        |r, i| name_with(r, dict, i, ""),
        Kind(Stuff::Elf, 40_000.0, 300_000, 0o755),
    );
    for lc in [
        "LC_ADDRESS",
        "LC_COLLATE",
        "LC_CTYPE",
        "LC_IDENTIFICATION",
        "LC_MEASUREMENT",
        "LC_MESSAGES/SYS_LC_MESSAGES",
        "LC_MONETARY",
        "LC_NAME",
        "LC_NUMERIC",
        "LC_PAPER",
        "LC_TELEPHONE",
        "LC_TIME",
    ] {
        let size = if lc == "LC_CTYPE" { 350_000 } else { r.size(2_000.0, 1.0, 50, 50_000) };
        p.file(&format!("usr/lib/locale/C.utf8/{lc}"), Stuff::Data, size, r.next(), 0o644);
    }

    // usr/share: docs (copyright + gzip'd changelogs), man pages, translations, zoneinfo,
    // terminfo, perl5, licenses.
    for i in 0..150 {
        let pkg = name_with(r, dict, i, "");
        let d = format!("usr/share/doc/{pkg}");
        let size = r.size(6_000.0, 1.0, 300, 120_000);
        p.file(&format!("{d}/copyright"), Stuff::Text, size, r.next(), 0o644);
        let size = r.size(2_500.0, 1.0, 200, 60_000);
        p.file(&format!("{d}/changelog.Debian.gz"), Stuff::Gzip, size, r.next(), 0o644);
        if i % 4 == 0 {
            p.file(&format!("{d}/NEWS.Debian.gz"), Stuff::Gzip, 1_200, r.next(), 0o644);
        }
    }
    for (sec, n) in [("man1", 230), ("man5", 70), ("man8", 130), ("de/man1", 40), ("fr/man1", 40), ("ja/man8", 30)] {
        let s = sec.rsplit('/').next().unwrap_or(sec).trim_start_matches("man").to_string();
        group(
            &mut p,
            r,
            &format!("usr/share/man/{sec}"),
            n,
            |r, i| format!("{}{i}.{s}.gz", word(r, dict)),
            Kind(Stuff::Gzip, 2_500.0, 80_000, 0o644),
        );
    }
    for lang in 0..65 {
        let d = format!("usr/share/locale/{}{lang}/LC_MESSAGES", word(r, dict));
        group(
            &mut p,
            r,
            &d,
            14,
            |r, i| format!("{}{i}.mo", word(r, dict)),
            Kind(Stuff::Data, 14_000.0, 400_000, 0o644),
        );
    }
    let mut zones = Vec::new();
    for region in
        ["Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific", "Etc"]
    {
        zones.extend(group(
            &mut p,
            r,
            &format!("usr/share/zoneinfo/{region}"),
            62,
            |r, i| format!("{}{i}", word(r, dict)),
            Kind(Stuff::Data, 1_200.0, 8_000, 0o644),
        ));
        group(
            &mut p,
            r,
            &format!("usr/share/zoneinfo/right/{region}"),
            62,
            |r, i| format!("{}{i}", word(r, dict)),
            Kind(Stuff::Data, 1_700.0, 10_000, 0o644),
        );
    }
    for (i, z) in zones.iter().enumerate().take(30) {
        let c = Content { stuff: Stuff::Data, size: 1_100, seed: r.next() };
        p.hardlink_pair(z, &format!("usr/share/zoneinfo/Link{i}"), c, 0o644);
    }
    for (i, z) in zones.iter().enumerate().skip(30).take(70) {
        let target = z.strip_prefix("usr/share/zoneinfo/").unwrap_or(z);
        p.symlink(&format!("usr/share/zoneinfo/Alias{i}"), target);
    }
    p.symlink("usr/share/zoneinfo/posix", ".");
    for d in ["a", "d", "l", "r", "s", "v", "x"] {
        group(
            &mut p,
            r,
            &format!("usr/share/terminfo/{d}"),
            7,
            |r, i| format!("{d}{}{i}", word(r, dict)),
            Kind(Stuff::Data, 1_800.0, 4_000, 0o644),
        );
    }
    for i in 0..12 {
        let d = format!("usr/share/perl5/{}", word(r, dict));
        group(
            &mut p,
            r,
            &d,
            10 + i,
            |r, i| format!("{}{i}.pm", word(r, dict)),
            Kind(Stuff::Text, 5_000.0, 100_000, 0o644),
        );
    }
    group(
        &mut p,
        r,
        "usr/share/common-licenses",
        15,
        |r, i| format!("{}-{i}", word(r, dict).to_uppercase()),
        Kind(Stuff::Text, 20_000.0, 40_000, 0o644),
    );

    // var: dpkg's database, debconf, logs.
    for i in 0..150 {
        let pkg = name_with(r, dict, i, "");
        let d = "var/lib/dpkg/info";
        p.file(&format!("{d}/{pkg}.list"), Stuff::Text, r.size(2_500.0, 1.2, 60, 100_000), r.next(), 0o644);
        p.file(&format!("{d}/{pkg}.md5sums"), Stuff::Text, r.size(3_000.0, 1.2, 60, 100_000), r.next(), 0o644);
        if i % 3 == 0 {
            p.file(&format!("{d}/{pkg}.postinst"), Stuff::Script, r.size(1_500.0, 0.8, 100, 20_000), r.next(), 0o755);
            p.file(&format!("{d}/{pkg}.prerm"), Stuff::Script, r.size(600.0, 0.8, 100, 20_000), r.next(), 0o755);
        }
    }
    p.file("var/lib/dpkg/status", Stuff::Status, 460_000, r.next(), 0o644);
    p.file("var/lib/dpkg/status-old", Stuff::Status, 455_000, r.next(), 0o644);
    p.file("var/cache/debconf/config.dat", Stuff::Text, 30_000, r.next(), 0o644);
    p.file("var/cache/debconf/templates.dat", Stuff::Text, 1_600_000, r.next(), 0o644);
    p.file("var/cache/ldconfig/aux-cache", Stuff::Data, 21_000, r.next(), 0o600);
    p.file("var/log/dpkg.log", Stuff::Text, 210_000, r.next(), 0o644);
    p.file("var/log/apt/history.log", Stuff::Text, 18_000, r.next(), 0o644);
    p.file("var/log/apt/term.log", Stuff::Text, 60_000, r.next(), 0o640).gid = 4;

    // A few large files bring the unpacked size to the target.
    let big = [
        (format!("{libdir}/libicudata.so.72.1"), Stuff::Data),
        ("usr/lib/locale/locale-archive".to_string(), Stuff::Data),
        (format!("{libdir}/libicui18n.so.72.1"), Stuff::Elf),
        ("usr/libexec/gcc/x86_64-linux-gnu/12/cc1".to_string(), Stuff::Elf),
        (format!("{libdir}/libmozjs-102.so.0.0.0"), Stuff::Elf),
        (format!("{libdir}/libLLVM-15.so.1"), Stuff::Elf),
    ];
    let share = MAIN_TARGET_BYTES.saturating_sub(p.file_bytes()) / big.len() as u64;
    for (i, (path, stuff)) in big.iter().enumerate() {
        let size = if i + 1 < big.len() {
            share * (3 + i as u64 % 3) / 4
        } else {
            MAIN_TARGET_BYTES.saturating_sub(p.file_bytes())
        };
        p.file(path, *stuff, size.max(2_000_000), r.next(), 0o644);
    }
    p
}

// ---------------------------------------------------------------------------------------
// The main patches: dpkg-style payloads (`./`, `./usr/`, ... directory entries first).

struct PatchDef {
    id: &'static str,
    file: &'static str,
    comp: Comp,
    severity: &'static str,
    fixes: &'static [&'static str],
    released: &'static str,
    plan: Plan,
}

/// The same file, new content of about the same size (a package update).
fn update(p: &mut Plan, base: &Plan, path: &str, ship_as: &str, r: &mut Rng) {
    let e = base.entries.get(path).unwrap_or_else(|| panic!("the base has no `{path}`"));
    if let Body::File(c) = &e.body {
        let size = (c.size as f64 * (0.9 + 0.2 * r.unit())) as u64;
        p.file(ship_as, c.stuff, size, r.next(), e.mode).gid = e.gid;
    }
}

fn fill(p: &mut Plan, dir: &str, stuff: Stuff, bytes: u64, r: &mut Rng, dict: &Dict) {
    let mut i = 0;
    while p.file_bytes() < bytes {
        let size = r.size(120_000.0, 1.0, 4_000, 2_000_000);
        p.file(&format!("{dir}/{}{i}.so", word(r, dict)), stuff, size, r.next(), 0o644);
        i += 1;
    }
}

fn main_patches(seed: u64, base: &Plan, dict: &Dict) -> Vec<PatchDef> {
    let mut r = Rng::new(seed, "main-patches");
    let r = &mut r;
    let libdir = "usr/lib/x86_64-linux-gnu";
    let mtime = |day: u64| 1_794_960_000 + day * 86_400;
    let mut out = Vec::new();

    // 1. tzdata: every zone file, plain tar, ~1,100 small entries.
    let mut p = Plan::new(mtime(0));
    for path in base.paths_under("usr/share/zoneinfo") {
        match &base.entries[&path].body {
            Body::File(_) => update(&mut p, base, &path, &path, r),
            Body::Dir => {
                p.dir(&path, 0o755);
            }
            _ => {}
        }
    }
    out.push(PatchDef {
        id: "BENCH-2026-0001",
        file: "tzdata-2026b",
        comp: Comp::Plain,
        severity: "low",
        fixes: &[],
        released: "2026-11-02",
        plan: p,
    });

    // 2. login/passwd: through `./bin/` and `./sbin/` (usr-merge), a setuid program, gzip.
    let mut p = Plan::new(mtime(1));
    update(&mut p, base, "usr/bin/login", "bin/login", r);
    update(&mut p, base, "usr/bin/passwd", "usr/bin/passwd", r);
    update(&mut p, base, "usr/bin/su", "bin/su", r);
    update(&mut p, base, "usr/sbin/nologin", "sbin/nologin", r);
    p.file("etc/login.defs", Stuff::Text, 10_700, r.next(), 0o644);
    p.file("etc/pam.d/login", Stuff::Text, 4_100, r.next(), 0o644);
    fill(&mut p, "usr/lib/x86_64-linux-gnu/security", Stuff::Elf, 1_000_000, r, dict);
    out.push(PatchDef {
        id: "BENCH-2026-0002",
        file: "login-4.13",
        comp: Comp::Gzip,
        severity: "high",
        fixes: &["CVE-2026-90002"],
        released: "2026-11-03",
        plan: p,
    });

    // 3. liblzma + libsystemd: `./lib/...`, a new library version and its symlink, zstd.
    let mut p = Plan::new(mtime(2));
    update(&mut p, base, &format!("{libdir}/liblzma.so.5.4.1"), "lib/x86_64-linux-gnu/liblzma.so.5.4.1", r);
    p.file("lib/x86_64-linux-gnu/libsystemd.so.0.35.0", Stuff::Elf, 950_000, r.next(), 0o644);
    p.symlink("lib/x86_64-linux-gnu/libsystemd.so.0", "libsystemd.so.0.35.0");
    fill(&mut p, "usr/lib/x86_64-linux-gnu/systemd", Stuff::Elf, 4_000_000, r, dict);
    out.push(PatchDef {
        id: "BENCH-2026-0003",
        file: "libsystemd0-252.33",
        comp: Comp::Zstd,
        severity: "medium",
        fixes: &["CVE-2026-90003"],
        released: "2026-11-05",
        plan: p,
    });

    // 4. libssl3: `./lib/x86_64-linux-gnu/libssl.so.3` over `lib -> usr/lib`, gzip.
    let mut p = Plan::new(mtime(3));
    update(&mut p, base, &format!("{libdir}/libssl.so.3"), "lib/x86_64-linux-gnu/libssl.so.3", r);
    update(&mut p, base, &format!("{libdir}/libcrypto.so.3"), "lib/x86_64-linux-gnu/libcrypto.so.3", r);
    fill(&mut p, &format!("{libdir}/engines-3"), Stuff::Elf, 7_000_000, r, dict);
    p.file("usr/share/doc/libssl3/changelog.Debian.gz", Stuff::Gzip, 9_000, r.next(), 0o644);
    out.push(PatchDef {
        id: "BENCH-2026-0004",
        file: "libssl3-3.0.15",
        comp: Comp::Gzip,
        severity: "critical",
        fixes: &["CVE-2026-90004", "CVE-2026-90005"],
        released: "2026-11-07",
        plan: p,
    });

    // 5. libc6: `./lib/...`, `./lib64/` (a symlink in the base), every gconv module, zstd.
    let mut p = Plan::new(mtime(4));
    for lib in ["libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2"] {
        update(&mut p, base, &format!("{libdir}/{lib}"), &format!("lib/x86_64-linux-gnu/{lib}"), r);
    }
    p.symlink("lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    for path in base.paths_under(&format!("{libdir}/gconv")) {
        update(&mut p, base, &path, &path, r);
    }
    fill(&mut p, &format!("{libdir}/glibc-extra"), Stuff::Elf, 12_000_000, r, dict);
    out.push(PatchDef {
        id: "BENCH-2026-0005",
        file: "libc6-2.36-9",
        comp: Comp::Zstd,
        severity: "critical",
        fixes: &["CVE-2026-90006"],
        released: "2026-11-09",
        plan: p,
    });

    // 6. perl-base: the perl binary and its hard link, every module, xz.
    let mut p = Plan::new(mtime(5));
    let perl = Content { stuff: Stuff::Elf, size: 3_950_000, seed: r.next() };
    p.hardlink_pair("usr/bin/perl", "usr/bin/perl5.36.0", perl, 0o755);
    for path in base.paths_under(&format!("{libdir}/perl-base")) {
        if let Body::File(_) = base.entries[&path].body {
            update(&mut p, base, &path, &path, r);
        }
    }
    fill(&mut p, &format!("{libdir}/perl/5.36"), Stuff::Elf, 20_000_000, r, dict);
    out.push(PatchDef {
        id: "BENCH-2026-0006",
        file: "perl-base-5.36.0-7",
        comp: Comp::Xz,
        severity: "high",
        fixes: &["CVE-2026-90007"],
        released: "2026-11-11",
        plan: p,
    });
    out
}

/// The patch of the `next` variant: one zone file of the base with new content of about its
/// size, as a one-zone tzdata fix ships it. Small on purpose: a rebuild with it differs from
/// the recorded version in one file (and `etc/gild/release`).
fn next_patch(seed: u64, base: &Plan) -> Plan {
    let mut r = Rng::new(seed, "next-patch");
    let zones: Vec<String> = base
        .paths_under("usr/share/zoneinfo/right/Europe")
        .into_iter()
        .filter(|p| matches!(base.entries[p].body, Body::File(_)))
        .collect();
    let zone = &zones[r.below(zones.len() as u64) as usize];
    let mut p = Plan::new(1_794_960_000 + 30 * 86_400);
    update(&mut p, base, zone, zone, &mut r);
    p
}

// ---------------------------------------------------------------------------------------
// The small-entry trees: `count` entries exactly, spread over two levels of directories.

/// How the diff variant's second tree differs from the first, per file.
#[derive(Clone, Copy)]
struct Drift {
    changed: f64,
    removed: f64,
    mode: f64,
    added_per_dir: f64,
}

fn small_tree(seed: u64, label: &str, count: u64, drift: Option<Drift>) -> Plan {
    let mut r = Rng::new(seed, label);
    let mut drift_rng = Rng::new(seed, &format!("{label}-drift"));
    let mut p = Plan::new(BASE_MTIME);
    p.dir("srv", 0o755);
    p.dir("srv/data", 0o755);
    let per_leaf = 98u64;
    let leaves = (count - 3) / (per_leaf + 1) + 1;
    let groups = (leaves as f64).sqrt().ceil() as u64;
    let leaf_dirs = leaves.min(count.saturating_sub(3 + groups));
    let mut files = count - 3 - groups - leaf_dirs;
    for g in 0..groups {
        p.dir(&format!("srv/data/g{g:03}"), 0o755);
    }
    for leaf in 0..leaf_dirs {
        let dir = format!("srv/data/g{:03}/p{leaf:05}", leaf % groups);
        p.dir(&dir, 0o755);
        let n = if leaf + 1 == leaf_dirs { files } else { files.min(per_leaf) };
        files -= n;
        for i in 0..n {
            let path = format!("{dir}/item-{i:03}.conf");
            let size = r.size(300.0, 1.0, 0, 8_192);
            let seed = r.next();
            let link = r.chance(0.01) && i > 0;
            let Some(d) = drift else {
                if link {
                    p.symlink(&path, &format!("item-{:03}.conf", i - 1));
                } else {
                    p.file(&path, Stuff::Text, size, seed, 0o644);
                }
                continue;
            };
            if drift_rng.chance(d.removed) {
                continue;
            }
            if link {
                p.symlink(&path, &format!("item-{:03}.conf", i - 1));
                continue;
            }
            let seed = if drift_rng.chance(d.changed) { seed ^ 1 } else { seed };
            let mode = if drift_rng.chance(d.mode) { 0o600 } else { 0o644 };
            p.file(&path, Stuff::Text, size, seed, mode);
            if drift_rng.chance(d.added_per_dir / per_leaf as f64) {
                p.file(&format!("{dir}/new-{i:03}.conf"), Stuff::Text, size, seed ^ 2, 0o644);
            }
        }
    }
    p
}

// ---------------------------------------------------------------------------------------
// Recipes and the corpus description.

fn artifact_toml(a: &Artifact) -> String {
    format!("artifact = \"../{}\"\nsha256 = \"{}\"\nsigned-by = [\"bench\"]\n", a.rel, a.sha256)
}

fn recipe_head(name: &str, what: &str, base: &Artifact) -> String {
    format!(
        "# The {name} benchmark recipe: {what}.\n\
         # Written by `cargo run --release --example bench_corpus`, with the pins of the artifacts\n\
         # it made; the key in ../keys is a BENCHMARK key: never trust it.\n\n\
         [image]\nname = \"{name}\"\nversion = \"1.0.0\"\nepoch = {EPOCH}\nformats = [\"tar.zst\"]\n\n\
         [keys]\nbench = {{ file = \"../keys/bench.pub\" }}\n\n\
         [base]\n{}",
        artifact_toml(base)
    )
}

fn describe(out: &mut String, a: &Artifact) {
    let s = &a.stats;
    writeln!(
        out,
        "{}\t{} entries ({} files, {} dirs, {} symlinks, {} hard links)\t{} file bytes\t{} tar bytes\t{} bytes on disk\tsha256 {}",
        a.rel, s.entries(), s.files, s.dirs, s.symlinks, s.hardlinks, s.file_bytes, s.tar_bytes, a.size, a.sha256
    )
    .expect("writing to a String");
}

/// What every variant is made with.
struct Gen {
    dir: PathBuf,
    seed: u64,
    dict: Dict,
    key: Key,
}

impl Gen {
    fn artifact(&self, rel: &str, comp: Comp, plan: &Plan) -> Result<Artifact> {
        let a = write_artifact(&self.dir, rel, comp, plan, &self.dict)?;
        sign(&self.dir, &a, &self.key)?;
        Ok(a)
    }

    fn main(&self) -> Result<()> {
        let base_plan = main_base(self.seed, &self.dict);
        let base = self.artifact("artifacts/base.tar.zst", Comp::Zstd, &base_plan)?;
        let mut recipe = recipe_head("bench", "a Debian minbase-like root and six patches", &base);
        let mut desc = String::new();
        describe(&mut desc, &base);
        for (n, def) in main_patches(self.seed, &base_plan, &self.dict).into_iter().enumerate() {
            let rel = format!("artifacts/patches/{}-{}.{}", n + 1, def.file, def.comp.ext());
            let a = self.artifact(&rel, def.comp, &def.plan)?;
            describe(&mut desc, &a);
            let fixes = def.fixes.iter().map(|f| format!("\"{f}\"")).collect::<Vec<_>>().join(", ");
            write!(
                recipe,
                "\n[[patch]]\nid = \"{}\"\n{}severity = \"{}\"\nfixes = [{fixes}]\nreleased = {}\n\
                 approval = {{ change = \"CHG-9{:03}\", by = \"bench\", date = {} }}\n",
                def.id,
                artifact_toml(&a),
                def.severity,
                def.released,
                n + 1,
                def.released
            )?;
        }
        fs::write(self.dir.join("corpus-main.txt"), desc)?;
        fs::write(self.dir.join("recipes/bench.toml"), recipe)?;
        Ok(())
    }

    /// The next version's patch and its `[[patch]]` table (`next-patch.toml`, written last).
    fn next(&self) -> Result<()> {
        let base_plan = main_base(self.seed, &self.dict);
        let a =
            self.artifact("artifacts/patches/7-tzdata-2026c.tar", Comp::Plain, &next_patch(self.seed, &base_plan))?;
        let mut desc = String::new();
        describe(&mut desc, &a);
        fs::write(self.dir.join("corpus-next.txt"), desc)?;
        let table = format!(
            "# The `[[patch]]` of the bench recipe's next version: appended to recipes/bench.toml at\n\
             # version 1.0.1 (bench/run.sh does that in a workspace of its own). Written by\n\
             # `cargo run --release --example bench_corpus -- --variant next`.\n\n\
             [[patch]]\nid = \"BENCH-2026-0007\"\n{}severity = \"low\"\nfixes = []\nreleased = 2026-12-01\n\
             approval = {{ change = \"CHG-9007\", by = \"bench\", date = 2026-12-01 }}\n",
            artifact_toml(&a)
        );
        fs::write(self.dir.join("next-patch.toml"), table)?;
        Ok(())
    }

    /// A base-only recipe `name` over a small-entry tree; returns its description line.
    fn small(&self, name: &str, label: &str, count: u64, drift: Option<Drift>) -> Result<String> {
        let plan = small_tree(self.seed, label, count, drift);
        let a = self.artifact(&format!("artifacts/{name}.tar.zst"), Comp::Zstd, &plan)?;
        drop(plan);
        let mut desc = String::new();
        describe(&mut desc, &a);
        let recipe = recipe_head(name, &format!("a base of {} small entries", a.stats.entries()), &a);
        fs::write(self.dir.join(format!("recipes/{name}.toml")), recipe)?;
        Ok(desc)
    }
}

fn run(dir: &Path, seed: u64, variants: &[String]) -> Result<()> {
    for sub in ["artifacts/patches", "recipes", "keys"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    fs::write(
        dir.join("README.txt"),
        "The gild benchmark corpus, written by `cargo run --release --example bench_corpus`.\n\
         Everything here can be regenerated; keys/bench.key is a BENCHMARK key: never trust it.\n",
    )?;
    let gen = Gen { dir: dir.to_path_buf(), seed, dict: Dict::new(seed), key: bench_key(dir)? };
    for v in variants {
        let start = Instant::now();
        eprintln!("generating the `{v}` corpus (seed {seed}) in {}", dir.display());
        match v.as_str() {
            "main" => gen.main()?,
            "scale" => {
                let desc = gen.small("scale", "scale", 1_000_000, None)?;
                fs::write(dir.join("corpus-scale.txt"), desc)?;
            }
            "diff" => {
                let mut desc = gen.small("diff-a", "diff", 500_000, None)?;
                let drift = Drift { changed: 0.01, removed: 0.002, mode: 0.001, added_per_dir: 0.2 };
                desc += &gen.small("diff-b", "diff", 500_000, Some(drift))?;
                fs::write(dir.join("corpus-diff.txt"), desc)?;
            }
            "next" => gen.next()?,
            other => return Err(format!("unknown variant `{other}` (main, scale, diff or next)").into()),
        }
        eprintln!("  done in {:.1}s", start.elapsed().as_secs_f64());
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut out: Option<PathBuf> = None;
    let mut seed = DEFAULT_SEED;
    let mut variants = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("`{flag}` needs a value"));
        let parsed: std::result::Result<(), String> = match arg.as_str() {
            "--out" => value("--out").map(|v| out = Some(PathBuf::from(v))),
            "--seed" => {
                value("--seed").and_then(|v| v.parse().map(|s| seed = s).map_err(|e| format!("`--seed {v}`: {e}")))
            }
            "--variant" => value("--variant").map(|v| variants.push(v)),
            "-h" | "--help" => {
                println!(
                    "usage: bench_corpus [--out DIR] [--seed N] [--variant main|scale|diff|next]...\n\n\
                     Writes the benchmark corpus (default variant `main`) into DIR (default bench/corpus)."
                );
                return ExitCode::SUCCESS;
            }
            other => Err(format!("unexpected argument `{other}`")),
        };
        if let Err(e) = parsed {
            eprintln!("error: {e}\n  help: bench_corpus --help");
            return ExitCode::from(2);
        }
    }
    if variants.is_empty() {
        variants.push("main".into());
    }
    let dir = out.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/corpus"));
    match run(&dir, seed, &variants) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
