//! Time per MB of the extension headers before one entry, from 64 KiB to 10 MiB, read by
//! gild's tar reader with the `header` limit raised: the check that merging PAX records is
//! linear (docs/layers.md, issue 16). Run by `bench/pax.sh`:
//!
//! ```text
//! cargo run --release --example bench_pax -- [--runs N]
//! ```
//!
//! Three kinds of headers, each split into PAX headers of 64 KiB before one file entry:
//!
//! - `xattr`: `SCHILY.xattr.user.kNNNN` records cycling over 2,000 names, each later record
//!   replacing the earlier one (distinct names stop at Linux's 64 KiB of names, a limit no
//!   key raises);
//! - `dropped`: records of distinct unknown keys, which gild drops and reports;
//! - `mixed`: `path`, `mtime`, `uid` and `comment` records over and over.
//!
//! For each kind and size it prints the best of N runs of the reading thread's CPU time per
//! MB of headers (CPU time, not wall time: shared machines are loaded), and per kind the ratio
//! of the slowest to the fastest size (linear: close to 1). With `--only KIND KIB [--parse]`
//! it makes one stream and reads it only when asked: `bench/pax.sh` runs both under
//! valgrind and takes the difference, the instructions the reader spends, exact and
//! independent of the load.

use gild::layer::tar::Archive;
use gild::limits::Limits;

const BLOCK: usize = 512;
const SIZES: [usize; 5] = [64 << 10, 256 << 10, 1 << 20, 4 << 20, 10 << 20];
const CHUNK: usize = 64 << 10;

fn record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3;
    let mut len = body + 1;
    while format!("{len}").len() + body != len {
        len += 1;
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

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

/// `total` bytes of PAX records of `kind`, in headers of about 64 KiB, then one empty file.
fn stream(kind: &str, total: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(total * 11 / 10);
    let (mut written, mut n) = (0, 0usize);
    while written < total {
        let mut records = Vec::with_capacity(CHUNK + 128);
        while records.len() < CHUNK.min(total - written) {
            let r = match kind {
                "xattr" => record(&format!("SCHILY.xattr.user.k{:04}", n % 2000), b"value"),
                "dropped" => record(&format!("VENDOR.key{n:08}"), b"v"),
                _ => match n % 4 {
                    0 => record("path", format!("usr/share/doc/p{n}/file").as_bytes()),
                    1 => record("mtime", b"1763769600.123456789"),
                    2 => record("uid", format!("{}", n % 65536).as_bytes()),
                    _ => record("comment", b"written by a benchmark"),
                },
            };
            records.extend(r);
            n += 1;
        }
        written += records.len();
        out.extend_from_slice(&header(b"PaxHeaders/f", b'x', records.len() as u64));
        out.extend_from_slice(&records);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }
    out.extend_from_slice(&header(b"f", b'0', 0));
    out.extend_from_slice(&[0u8; 2 * BLOCK]);
    (out, written)
}

/// CPU time of the calling thread, in seconds.
fn thread_cpu() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes only into `t`.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// Reads the stream to its one entry's header: the reader's work. What the caller then does
/// with the header (layering moves it into the tree; here it is dropped) is not the reader's,
/// so it is returned, to be dropped outside the measurement.
fn read(bytes: &[u8], limits: Limits) -> gild::layer::tar::Header {
    let mut a = Archive::new(bytes, limits);
    let h = a.next_entry().expect("reads").expect("one entry");
    assert!(a.next_entry().expect("reads").is_none());
    h
}

fn main() {
    let mut runs = 5;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let limits = Limits { header: 1 << 30, ..Limits::default() };
    match &args[..] {
        [flag, n] if flag == "--runs" => runs = n.parse().expect("--runs N"),
        [flag, kind, kib, rest @ ..] if flag == "--only" => {
            let (bytes, headers) = stream(kind, kib.parse::<usize>().expect("KIB") << 10);
            if rest.first().is_some_and(|r| r == "--parse") {
                // The process ends here: the header's memory goes back with it, uncounted.
                std::mem::forget(read(&bytes, limits));
            }
            println!("{headers}");
            return;
        }
        [] => {}
        _ => panic!("usage: bench_pax [--runs N | --only KIND KIB [--parse]]"),
    }
    println!("| kind | headers | best of {runs} (CPU) | ns per MB |");
    println!("| --- | ---: | ---: | ---: |");
    let mut summary = Vec::new();
    for kind in ["xattr", "dropped", "mixed"] {
        let mut per_mb = Vec::new();
        for size in SIZES {
            let (bytes, headers) = stream(kind, size);
            let mut best = f64::INFINITY;
            for _ in 0..runs {
                let start = thread_cpu();
                let header = read(&bytes, limits);
                best = best.min(thread_cpu() - start);
                drop(header);
            }
            let ns = best * 1e9 / (headers as f64 / (1 << 20) as f64);
            println!("| {kind} | {} KiB | {:.2} ms | {:.0} |", headers >> 10, best * 1e3, ns);
            per_mb.push(ns);
        }
        let (lo, hi) = per_mb.iter().fold((f64::INFINITY, 0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        summary.push(format!("{kind}: slowest/fastest per MB = {:.2}", hi / lo));
    }
    println!();
    for line in summary {
        println!("{line}");
    }
}
