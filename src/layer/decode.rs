//! Decompressing verified artifacts for the layering: the bytes decoded are the bytes verified
//! (hashed again as they are read), and patches are decoded ahead of their turn on lanes of
//! their own so that the layers below them are read meanwhile.

use std::io::{self, BufReader};

use super::decompress::{self, Compression, Sink, Spill};
use super::{decoded, dpkg};
use crate::limits::Limits;
use crate::trust::{TrustError, Verified};

/// What decompressing an artifact found at its end.
#[derive(Debug)]
pub struct Decoded {
    /// The compression its magic bytes named, or why decoding failed.
    pub result: io::Result<Compression>,
    /// The sha256 of every byte of the artifact: read to its end whatever the decoding
    /// found, so that a failure can first be told apart from an artifact that changed since it
    /// was verified. An error when the file itself could not be read through.
    pub digest: io::Result<[u8; 32]>,
    /// The sha256 of the decoded stream as the cache keeps it (see [`decoded`]), for the
    /// baseline to record.
    pub kept: Option<[u8; 32]>,
    /// Read from the cache, not decompressed.
    pub from_cache: bool,
}

impl Decoded {
    /// Nothing could be decoded nor hashed (the decompressing thread is gone).
    pub fn failed(e: io::Error) -> Decoded {
        let again = io::Error::new(e.kind(), e.to_string());
        Decoded { result: Err(e), digest: Err(again), kept: None, from_cache: false }
    }

    /// The trust failure when the bytes read were not the verified ones. Settled before any
    /// decode or parse error is reported: a rewritten artifact reads as garbage, and "bad
    /// input" would hide that the verified artifact changed (docs/recipe.md, docs/exit-codes.md).
    pub fn changed(&self, artifact: &Verified) -> Option<TrustError> {
        match &self.digest {
            Ok(found) if *found != artifact.spec().sha256 => Some(artifact.changed_error(*found)),
            _ => None,
        }
    }
}

/// Decompresses a verified artifact into `sink`, meant for another thread than the one that
/// reads the stream. It hashes the artifact again as it reads, and reads it to its end even
/// when decoding fails or the reader stops early: the bytes decompressed must be the very
/// bytes that were verified, which the reader checks against the pin before anything else.
pub fn decode(artifact: &Verified, limits: &Limits, mut sink: impl Sink) -> Decoded {
    let mut pinned = match open(artifact, &mut sink) {
        Ok(p) => p,
        Err(failed) => return failed,
    };
    let (result, rest) = decode_all(artifact, &mut pinned, limits, sink);
    Decoded { result, digest: rest.map(|_| pinned.digest()), kept: None, from_cache: false }
}

/// [`decode`], the artifact read and hashed on a thread of its own: for the base, whose
/// decompression is the longest single task of a cold build, and then does nothing else.
/// (Patches, decoded ahead on several lanes, keep one thread each: memory stays flat.)
pub fn decode_base(artifact: &Verified, limits: &Limits, mut sink: impl Sink) -> Decoded {
    let mut pinned = match open(artifact, &mut sink) {
        Ok(p) => p,
        Err(failed) => return failed,
    };
    let (mut raw_tx, mut raw) = decompress::pipe();
    std::thread::scope(|scope| {
        let reading = scope.spawn(move || (raw_tx.pump(&mut pinned), pinned));
        let (result, rest) = decode_all(artifact, &mut raw, limits, sink);
        drop(raw);
        let digest = match reading.join() {
            Ok((read, pinned)) => read.and(rest).map(|_| pinned.digest()),
            Err(_) => Err(io::Error::other("the thread reading the artifact stopped")),
        };
        Decoded { result, digest, kept: None, from_cache: false }
    })
}

/// The artifact opened to be read and hashed again; when it cannot be, the sink is told.
fn open<'a>(artifact: &'a Verified, sink: &mut impl Sink) -> Result<crate::trust::PinnedReader<'a>, Decoded> {
    artifact.open().map_err(|e| {
        sink.fail(&e);
        Decoded::failed(e)
    })
}

/// Decodes `input` into `sink`, then reads `input` to its end: the pin covers every byte,
/// past what the decoder needed.
fn decode_all(
    artifact: &Verified,
    input: &mut impl io::Read,
    limits: &Limits,
    mut sink: impl Sink,
) -> (io::Result<Compression>, io::Result<()>) {
    let result = if artifact.is_deb() {
        dpkg::decode_deb(input, limits, &mut sink)
    } else {
        decode_tar(input, limits, &mut sink)
    };
    drop(sink);
    (result, io::copy(input, &mut io::sink()).map(drop))
}

fn decode_tar(pinned: &mut impl io::Read, limits: &Limits, sink: &mut impl Sink) -> io::Result<Compression> {
    let (kind, mut reader) = match decompress::decoder(BufReader::with_capacity(256 * 1024, pinned), limits) {
        Ok(d) => d,
        Err(e) => {
            sink.fail(&e);
            return Err(e);
        }
    };
    sink.pump(&mut reader)?;
    Ok(kind)
}

/// A patch decompressed ahead of its turn (see [`decode_ahead`]).
pub struct Ahead {
    stream: Spill,
    finished: std::sync::mpsc::Receiver<Decoded>,
}

impl Ahead {
    /// The stream, and the wait for what the decompressing thread found at its end.
    pub fn into_parts(self) -> (Spill, impl FnOnce() -> Decoded) {
        let finished = self.finished;
        let wait = move || {
            finished.recv().unwrap_or_else(|_| Decoded::failed(io::Error::other("the decompression thread stopped")))
        };
        (self.stream, wait)
    }
}

/// How many patches are decoded at once. More than two cores' worth: a lane waits for its
/// reader about as often as it works, and a slow patch (xz) should start at once rather than
/// behind the patches before it (measured on 2 cores: the cold tar.gz bench build 5% faster
/// with 4 lanes than with 2). Each lane holds at most one decoder's memory.
const LANES: usize = 4;

/// Decompresses `artifacts` into temporary files, sending each stream to `tx` in order before
/// any is decoded, so the layers below them can be read meanwhile. Up to [`LANES`] lanes
/// decode at once (patches go round them, each lane in order, with its own share of the spill
/// budget, so a lane that waits for room waits only for the reader of its own earlier patch).
/// Returns when every artifact is done or when the receiving end is gone.
pub fn decode_ahead<'a>(
    artifacts: impl IntoIterator<Item = &'a Verified>,
    limits: &Limits,
    reuse: Option<&decoded::Reuse>,
    tx: std::sync::mpsc::Sender<Ahead>,
) {
    let artifacts: Vec<&Verified> = artifacts.into_iter().collect();
    let lanes = LANES.min(artifacts.len()).max(1);
    let budgets: Vec<_> = (0..lanes).map(|_| decompress::Budget::new(decompress::AHEAD / lanes as u64)).collect();
    let mut work: Vec<Vec<_>> = (0..lanes).map(|_| Vec::new()).collect();
    for (i, artifact) in artifacts.into_iter().enumerate() {
        let (writer, stream) = decompress::spill(&budgets[i % lanes]);
        let (done, finished) = std::sync::mpsc::channel();
        if tx.send(Ahead { stream, finished }).is_err() {
            return;
        }
        work[i % lanes].push((artifact, writer, done));
    }
    std::thread::scope(|scope| {
        for lane in work {
            scope.spawn(move || {
                for (artifact, writer, done) in lane {
                    let decoded = match reuse {
                        Some(reuse) => reuse.decode(artifact, limits, writer),
                        None => decode(artifact, limits, writer),
                    };
                    if done.send(decoded).is_err() {
                        return;
                    }
                }
            });
        }
    });
}
