//! Patches as decoded, kept in the cache (docs/image-format.md), so that a rebuild does not
//! decompress a recorded patch again: for an `xz` package that is most of a warm rebuild.
//!
//! An entry is the stream decoding gave the layering (a tar, or a package's control data and
//! data tar), then one byte naming the compression. A build still verifies the artifact; it
//! takes the entry instead of decompressing only when the entry's sha256 equals the one a
//! (signed) baseline recorded as the `decoded` digest of a patch with the same artifact
//! sha256, and the entry's key names the decoder's version and limits, so that the stream is
//! the one this build would decode.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::decompress::{Compression, Sink, SpillWriter};
use super::{decode, Decoded};
use crate::cache::{Cache, Writing};
use crate::limits::Limits;
use crate::trust::Verified;

const KIND: &str = "decoded";

/// What the cache may serve: the decoded digests baselines recorded, by artifact sha256.
pub struct Reuse {
    cache: Arc<Cache>,
    recorded: HashMap<[u8; 32], Vec<[u8; 32]>>,
}

impl Reuse {
    pub fn new(cache: Arc<Cache>, recorded: HashMap<[u8; 32], Vec<[u8; 32]>>) -> Reuse {
        Reuse { cache, recorded }
    }

    /// Decodes `artifact` into `sink`, or copies it from the cache, and keeps a decoded stream
    /// the cache does not hold. [`Decoded::kept`] is the digest a baseline records.
    pub fn decode(&self, artifact: &Verified, limits: &Limits, sink: SpillWriter) -> Decoded {
        let pin = artifact.spec().sha256;
        let key = key(&pin, limits);
        if let Some((kind, file, len, digest)) = self.hit(&pin, &key) {
            // The entry was checked through this handle; the layering reads it in place.
            sink.send_file(file, len);
            return Decoded { result: Ok(kind), digest: Ok(pin), kept: Some(digest), from_cache: true };
        }
        if !worth_keeping(artifact) {
            return decode(artifact, limits, sink);
        }
        let Some(entry) = self.cache.create(KIND, &key) else { return decode(artifact, limits, sink) };
        let mut tee = Teeing { entry: Some(entry), complete: false };
        let mut decoded = decode(artifact, limits, Tee { sink, state: &mut tee });
        let whole = tee.complete && matches!(decoded.digest, Ok(d) if d == pin);
        if let (true, Ok(kind), Some(mut entry)) = (whole, &decoded.result, tee.entry) {
            match entry.write_all(&[byte(*kind)]) {
                Ok(()) => decoded.kept = entry.commit(),
                Err(e) => entry.fail(e),
            }
        }
        decoded
    }

    /// The cached stream of the artifact pinned `pin`: its compression, the entry rewound, and
    /// the stream's length (the entry but its last byte).
    fn hit(&self, pin: &[u8; 32], key: &[u8; 32]) -> Option<(Compression, File, u64, [u8; 32])> {
        let (file, digest) = self.cache.get_file(KIND, key, self.recorded.get(pin)?)?;
        let len = file.metadata().ok()?.len().checked_sub(1)?;
        let mut last = [0u8; 1];
        file.read_exact_at(&mut last, len).ok()?;
        Some((compression(last[0])?, file, len, digest))
    }
}

/// Whether keeping the decoded stream saves a later build anything: decompressing xz or gzip
/// (or a package, whose data is xz as a rule) costs far more than reading the stream back; a
/// plain or zstd tar is read about as fast as the cache could give it.
fn worth_keeping(artifact: &Verified) -> bool {
    artifact.is_deb() || matches!(Compression::detect(artifact.head()), Ok(Compression::Gzip | Compression::Xz))
}

/// The cache key of a decoded patch: the artifact, and what decides how it decodes.
fn key(pin: &[u8; 32], limits: &Limits) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"gild decoded patch 2\0");
    h.update(pin);
    h.update(format!("{limits:?} {}", env!("CARGO_PKG_VERSION")));
    h.finalize().into()
}

fn byte(kind: Compression) -> u8 {
    match kind {
        Compression::None => 0,
        Compression::Gzip => 1,
        Compression::Zstd => 2,
        Compression::Xz => 3,
    }
}

fn compression(byte: u8) -> Option<Compression> {
    Some(match byte {
        0 => Compression::None,
        1 => Compression::Gzip,
        2 => Compression::Zstd,
        3 => Compression::Xz,
        _ => return None,
    })
}

/// The entry being written, and whether the stream was read to its end.
struct Teeing<'a> {
    entry: Option<Writing<'a>>,
    complete: bool,
}

/// A sink that also writes what it is given into a cache entry.
struct Tee<'s, 'a, S> {
    sink: S,
    state: &'s mut Teeing<'a>,
}

impl<S: Sink> Sink for Tee<'_, '_, S> {
    fn pump(&mut self, reader: &mut dyn Read) -> io::Result<()> {
        let mut reader = TeeReader { inner: reader, state: &mut *self.state };
        self.sink.pump(&mut reader)
    }

    fn fail(&mut self, e: &io::Error) {
        self.state.entry = None;
        self.sink.fail(e);
    }
}

struct TeeReader<'r, 's, 'a> {
    inner: &'r mut dyn Read,
    state: &'s mut Teeing<'a>,
}

impl Read for TeeReader<'_, '_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.state.complete = true;
        } else if let Some(entry) = self.state.entry.as_mut() {
            if let Err(e) = entry.write_all(&buf[..n]) {
                // The cache is out of room: the build goes on without keeping this patch.
                if let Some(entry) = self.state.entry.take() {
                    entry.fail(e);
                }
            }
        }
        Ok(n)
    }
}
