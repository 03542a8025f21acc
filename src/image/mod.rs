//! The output image: one PAX tar stream ([`tar`]), cut into chunks at points the entries
//! decide ([`chunk`]), each chunk compressed on any core into one independent frame per format
//! ([`frame`]), the frames written in order (docs/image-format.md).
//!
//! Every byte is a function of the tree: the cut points, the compressors and their settings
//! are fixed, and neither the number of cores nor the cache moves a byte. A frame the cache
//! holds is used only when its sha256 is the one a baseline recorded for its key.

pub mod chunk;
pub mod frame;
mod sink;
pub mod tar;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::cache::Cache;
use crate::progress::Progress;
use crate::recipe::Format;
use crate::spool::{Ranges, SpoolReader};
use crate::tree::Tree;
use chunk::{Chunk, Chunker};
use frame::Compressors;
pub use sink::Hashed;
use sink::Threaded;
pub use tar::{write_tar, Stream};

/// At most this many workers compress at once: each holds a chunk or two in memory.
const MAX_WORKERS: usize = 8;

/// One frame of a compressed image, as `baseline.toml` records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub key: [u8; 32],
    pub sha256: [u8; 32],
}

/// One written image file.
#[derive(Debug, Clone)]
pub struct Written {
    pub format: Format,
    pub size: u64,
    pub sha256: [u8; 32],
    /// The frames of a compressed format, in order.
    pub frames: Vec<Frame>,
}

/// How frames are made: in which image format, and, from the cache, for keys a baseline
/// recorded (key → sha256).
#[derive(Clone, Copy)]
pub struct Frames<'a> {
    pub format: frame::ImageFormat,
    pub cache: Option<&'a Cache>,
    pub recorded: &'a HashMap<[u8; 32], [u8; 32]>,
}

/// How the frames of one build were made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameCount {
    /// Copied from the cache.
    pub reused: u64,
    /// Compressed by this build.
    pub compressed: u64,
}

/// Where each file's data lies in the image's chunks: what a cached base index points at.
#[derive(Debug, Default)]
pub struct ChunkMap {
    /// Each chunk's uncompressed length, in order.
    pub chunks: Vec<u64>,
    /// By content sha256: the segments holding the content's bytes in order.
    pub contents: HashMap<[u8; 32], Vec<Segment>>,
}

/// `len` bytes of a content, at `at` in chunk `chunk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub chunk: u32,
    pub at: u64,
    pub len: u64,
}

impl ChunkMap {
    fn add(&mut self, chunk: &Chunk) {
        let mut at = 0;
        for piece in &chunk.pieces {
            match piece {
                chunk::Piece::Bytes(b) => at += b.len() as u64,
                chunk::Piece::Data { content, offset, len } => {
                    let segments = self.contents.entry(content.sha256).or_default();
                    let covered: u64 = segments.iter().map(|s| s.len).sum();
                    // The first copy of a content is enough.
                    if covered == *offset && covered < content.size {
                        segments.push(Segment { chunk: chunk.index as u32, at, len: *len });
                    }
                    at += len;
                }
            }
        }
        self.chunks.push(chunk.len);
    }
}

/// What [`write`] did.
pub struct Wrote {
    /// One per output, in order.
    pub written: Vec<Written>,
    pub count: FrameCount,
    pub map: ChunkMap,
}

/// Writes the tree as one tar stream into each `(format, files)`: every file of a format
/// gets the same bytes (the `tar.gz` image and the OCI layer). A format with no files is only
/// hashed: the plain tar's sha256 is the OCI layer's `diff_id`. One [`Written`] per output, in
/// order.
pub fn write(
    tree: &Tree,
    spool: &SpoolReader,
    outputs: Vec<(Format, Vec<File>)>,
    frames: Frames,
    progress: &dyn Progress,
) -> io::Result<Wrote> {
    let mut sinks: Vec<Sink> = outputs
        .into_iter()
        .map(|(format, files)| Sink { format, out: Threaded::new(files), frames: Vec::new() })
        .collect();
    let need = Need {
        plain: sinks.iter().any(|s| s.format == Format::Tar),
        compressed: sinks.iter().map(|s| s.format).filter(|f| *f != Format::Tar).collect(),
    };
    let workers = workers();
    let ranges = spool.ranges();
    progress.start("writing the image", Some(tree.len() as u64));
    let (jobs, queue) = mpsc::sync_channel::<Chunk>(workers);
    let queue = Mutex::new(queue);
    let (done_tx, done) = mpsc::channel::<io::Result<Done>>();
    let mut map = ChunkMap::default();
    let count = std::thread::scope(|scope| -> io::Result<FrameCount> {
        for _ in 0..workers {
            let (queue, done_tx, need) = (&queue, done_tx.clone(), &need);
            scope.spawn(move || {
                let mut compressors = match Compressors::new(frames.format) {
                    Ok(c) => c,
                    Err(e) => return drop(done_tx.send(Err(e))),
                };
                let mut data = Vec::new();
                loop {
                    let chunk = match queue.lock().unwrap_or_else(|e| e.into_inner()).recv() {
                        Ok(chunk) => chunk,
                        Err(_) => return,
                    };
                    let result = process(chunk, need, ranges, frames, (&mut compressors, &mut data));
                    if done_tx.send(result).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        let mut order = Order { pending: BTreeMap::new(), next: 0, count: FrameCount::default() };
        // Chunks handed out and not yet written: bounds memory to a few chunks per worker.
        let mut in_flight = 0usize;
        let window = workers + 2;
        let mut chunker = Chunker::new(|chunk: Chunk| {
            while in_flight >= window {
                let d = done.recv().map_err(|_| io::Error::other("an image worker stopped"))??;
                in_flight -= order.take(d, &mut sinks)?;
            }
            in_flight += 1;
            map.add(&chunk);
            jobs.send(chunk).map_err(|_| io::Error::other("the image workers stopped"))
        });
        write_tar(tree, &mut chunker, progress)?;
        let chunks = chunker.finish()?;
        drop(jobs);
        while order.next < chunks {
            let d = done.recv().map_err(|_| io::Error::other("an image worker stopped"))??;
            order.take(d, &mut sinks)?;
        }
        Ok(order.count)
    })?;
    let written = sinks
        .into_iter()
        .map(|s| {
            let (size, sha256) = s.out.finish()?;
            Ok(Written { format: s.format, size, sha256, frames: s.frames })
        })
        .collect::<io::Result<_>>()?;
    Ok(Wrote { written, count, map })
}

/// `GILD_JOBS`, else the cores available (at most [`MAX_WORKERS`]): the speed, never the bytes.
fn workers() -> usize {
    match std::env::var("GILD_JOBS").ok().and_then(|j| j.parse::<usize>().ok()).filter(|n| *n > 0) {
        Some(n) => n.min(256),
        None => cores(),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_WORKERS)
}

/// The warning for a `GILD_JOBS` that is not a number of threads (the cores are used then).
pub fn jobs_warning() -> Option<String> {
    let jobs = std::env::var("GILD_JOBS").ok()?;
    match jobs.trim().parse::<usize>() {
        Ok(n) if n > 0 && jobs.trim() == jobs => None,
        _ => Some(format!("GILD_JOBS={jobs} is not a number of threads (1 or more); using {}", cores())),
    }
}

/// What every chunk must be turned into.
struct Need {
    /// The plain tar (an image, or the OCI `diff_id`).
    plain: bool,
    compressed: Vec<Format>,
}

/// A chunk made ready for writing.
struct Done {
    index: usize,
    plain: Option<Vec<u8>>,
    /// One per compressed format, in [`Need::compressed`]'s order.
    frames: Vec<Made>,
}

/// One frame of a chunk.
struct Made {
    format: Format,
    key: [u8; 32],
    bytes: Vec<u8>,
    sha256: [u8; 32],
    /// Taken from the cache.
    reused: bool,
}

/// Takes each frame from the cache when a baseline recorded it and the cache has it; reads
/// and compresses the chunk otherwise (and then stores its frames). The chunk is read into
/// the worker's buffer `data`, which a plain tar output takes.
fn process(
    chunk: Chunk,
    need: &Need,
    ranges: Ranges,
    frames: Frames,
    (z, data): (&mut Compressors, &mut Vec<u8>),
) -> io::Result<Done> {
    let mut out = Vec::with_capacity(need.compressed.len());
    let mut read = false;
    if need.plain {
        chunk.read_into(&ranges, data)?;
        read = true;
    }
    for &format in &need.compressed {
        let key = frame::key(frames.format, format, &chunk.key);
        let cached = frames.cache.zip(frames.recorded.get(&key)).and_then(|(cache, sha)| {
            let bytes = cache.get("frame", &key, sha)?;
            Some((bytes, *sha))
        });
        if let Some((bytes, sha)) = cached {
            out.push(Made { format, key, bytes, sha256: sha, reused: true });
            continue;
        }
        if !read {
            chunk.read_into(&ranges, data)?;
            read = true;
        }
        let bytes = z.compress(format, data)?;
        let sha: [u8; 32] = Sha256::digest(&bytes).into();
        if let Some(cache) = frames.cache {
            cache.put("frame", &key, &bytes);
        }
        out.push(Made { format, key, bytes, sha256: sha, reused: false });
    }
    let plain = need.plain.then(|| std::mem::take(data));
    Ok(Done { index: chunk.index, plain, frames: out })
}

/// Writes chunks in stream order as they come back from the workers.
struct Order {
    pending: BTreeMap<usize, Done>,
    next: usize,
    count: FrameCount,
}

impl Order {
    /// Takes a finished chunk; returns how many chunks it could write.
    fn take(&mut self, done: Done, sinks: &mut [Sink]) -> io::Result<usize> {
        self.pending.insert(done.index, done);
        let mut written = 0;
        while let Some(mut done) = self.pending.remove(&self.next) {
            for f in &done.frames {
                match f.reused {
                    true => self.count.reused += 1,
                    false => self.count.compressed += 1,
                }
            }
            for sink in sinks.iter_mut() {
                if sink.format == Format::Tar {
                    sink.out.write(Arc::new(done.plain.take().expect("asked for")))?;
                    continue;
                }
                let at = done.frames.iter().position(|f| f.format == sink.format).expect("every compressed format");
                let made = done.frames.swap_remove(at);
                sink.frames.push(Frame { key: made.key, sha256: made.sha256 });
                sink.out.write(Arc::new(made.bytes))?;
            }
            self.next += 1;
            written += 1;
        }
        Ok(written)
    }
}

struct Sink {
    format: Format,
    out: Threaded,
    frames: Vec<Frame>,
}
