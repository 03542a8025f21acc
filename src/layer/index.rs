//! A decoded base, kept in the cache, so that a rebuild need not decompress the base again
//! (docs/image-format.md).
//!
//! The index holds the base's tree as layering left it (every entry with its metadata and
//! content digest) and, for each content, where its bytes lie: in a frame of the image the
//! recording build wrote, or, for the base files no image holds (those a patch replaced), in
//! extra frames stored beside. A build uses an index only when its sha256 equals the one a
//! baseline built from the same base artifact recorded, and reads each frame only when its
//! bytes have the sha256 the index lists: a chain of digests from a (signed) record down to
//! every byte. A frame the cache lost is not a failed build: the build starts again and
//! decodes the base.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::cache::Cache;
use crate::image::{ChunkMap, Segment};
use crate::limits::Limits;
use crate::recipe::Format;
use crate::spool::{Content, External, Ranges, EXTERNAL};
use crate::tree::{Kind, Node, Tree};

const MAGIC: &[u8] = b"gild-base-index-2\n";
/// How a frame the index points at is stored.
const ZSTD: u8 = 0;
const GZIP: u8 = 1;
const RAW: u8 = 2;
/// Bases with more entries are not indexed: the snapshot would cost more memory than the
/// build's bound allows.
pub const MAX_ENTRIES: usize = 200_000;
/// Extra frames hold about this much.
const EXTRA: usize = 4 << 20;
/// Decoded frames kept at once while reading.
const KEEP: usize = 8;

/// The cache key of the index of a base: what decides how the base decodes.
pub fn key(base: &[u8; 32], epoch: Option<i64>, allow_devices: bool, limits: &Limits) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(MAGIC);
    h.update(base);
    h.update(format!("{epoch:?} {allow_devices} {limits:?} {}", env!("CARGO_PKG_VERSION")));
    h.finalize().into()
}

/// The base's tree and warnings, serialized right after the base is layered (contents by
/// digest only: their places are known once the image is written).
pub struct Snapshot {
    nodes: Vec<u8>,
    warnings: Vec<String>,
    /// Each content of the base once.
    contents: Vec<Content>,
}

impl Snapshot {
    pub fn take(tree: &Tree, warnings: &[String]) -> Option<Snapshot> {
        if tree.len() > MAX_ENTRIES {
            return None;
        }
        let mut nodes = Vec::new();
        let mut contents = Vec::new();
        let mut seen = std::collections::HashSet::new();
        put_u64(&mut nodes, tree.len() as u64);
        for (path, node) in tree.iter() {
            put_node(&mut nodes, path, node);
            if let Kind::File(c) = &node.kind {
                if seen.insert(c.id) {
                    contents.push(c.clone());
                }
            }
        }
        Some(Snapshot { nodes, warnings: warnings.to_vec(), contents })
    }

    /// Stores, as extra frames in the cache, the base's contents no image of this build holds:
    /// those no file of the final tree has (a patch replaced them), or every content when no
    /// image is compressed in frames (`held` is empty). Runs beside the image's writing: it
    /// needs only the final tree. The frames are stored raw: they are read far more often than
    /// the cache's room is short, and compressing them was the longest step of a cold build's
    /// tail.
    pub fn extras(
        &self,
        ranges: Ranges<'_>,
        held: &std::collections::HashSet<[u8; 32]>,
        cache: &Cache,
    ) -> io::Result<Extras> {
        let mut out = Extras::default();
        let mut extra = Vec::new();
        let mut pending: Vec<([u8; 32], u64, u64)> = Vec::new();
        let mut done = std::collections::HashSet::new();
        let mut flush = |extra: &mut Vec<u8>, pending: &mut Vec<([u8; 32], u64, u64)>| {
            if extra.is_empty() {
                return;
            }
            let sha: [u8; 32] = Sha256::digest(&*extra).into();
            let key: [u8; 32] = Sha256::new().chain_update(b"gild raw frame\0").chain_update(sha).finalize().into();
            cache.put("frame", &key, extra);
            let n = out.frames.len() as u32;
            out.frames.push((RAW, key, sha, extra.len() as u64));
            for (digest, at, len) in pending.drain(..) {
                out.located.push((digest, vec![Segment { chunk: n, at, len }]));
            }
            extra.clear();
        };
        for content in &self.contents {
            if content.size == 0 || held.contains(&content.sha256) || !done.insert(content.sha256) {
                continue;
            }
            let at = extra.len() as u64;
            ranges.read_into(content, 0, content.size, &mut extra)?;
            pending.push((content.sha256, at, content.size));
            if extra.len() >= EXTRA {
                flush(&mut extra, &mut pending);
            }
        }
        flush(&mut extra, &mut pending);
        Ok(out)
    }

    /// The index of this base: contents the image holds point at its frames (`image`, the
    /// frames of one compressed image, in order), the others at the `extras` stored before.
    /// Returns the index's bytes (to be stored and its sha256 recorded); an error when a
    /// content is in neither.
    pub fn finish(
        self,
        extras: Extras,
        map: &ChunkMap,
        image: Option<(Format, &[crate::image::Frame])>,
    ) -> io::Result<Vec<u8>> {
        let mut frames: Vec<(u8, [u8; 32], [u8; 32], u64)> = Vec::new();
        if let Some((format, list)) = image {
            let kind = if format == Format::TarGz { GZIP } else { ZSTD };
            for (f, len) in list.iter().zip(&map.chunks) {
                frames.push((kind, f.key, f.sha256, *len));
            }
        }
        let base = frames.len() as u32;
        frames.extend(extras.frames);
        let mut located: HashMap<[u8; 32], Vec<Segment>> = extras
            .located
            .into_iter()
            .map(|(d, s)| (d, s.into_iter().map(|s| Segment { chunk: s.chunk + base, ..s }).collect()))
            .collect();
        for content in &self.contents {
            if content.size == 0 || located.contains_key(&content.sha256) {
                continue;
            }
            match map.contents.get(&content.sha256).filter(|_| image.is_some()) {
                Some(segments) if segments.iter().map(|s| s.len).sum::<u64>() == content.size => {
                    located.insert(content.sha256, segments.clone());
                }
                _ => return Err(io::Error::other("a content of the base is in no frame")),
            }
        }
        let mut located: Vec<_> = located.into_iter().collect();
        located.sort_by_key(|a| a.0);

        let mut out = MAGIC.to_vec();
        put_u64(&mut out, self.warnings.len() as u64);
        for w in &self.warnings {
            put_bytes(&mut out, w.as_bytes());
        }
        out.extend_from_slice(&self.nodes);
        put_u64(&mut out, frames.len() as u64);
        for (kind, key, sha, len) in &frames {
            out.push(*kind);
            out.extend_from_slice(key);
            out.extend_from_slice(sha);
            put_u64(&mut out, *len);
        }
        put_u64(&mut out, located.len() as u64);
        for (digest, segments) in &located {
            out.extend_from_slice(digest);
            put_u64(&mut out, segments.len() as u64);
            for s in segments {
                put_u64(&mut out, s.chunk as u64);
                put_u64(&mut out, s.at);
                put_u64(&mut out, s.len);
            }
        }
        Ok(out)
    }
}

/// The base's contents no image holds, stored in the cache as raw frames, and where each lies.
#[derive(Default)]
pub struct Extras {
    frames: Vec<(u8, [u8; 32], [u8; 32], u64)>,
    located: Vec<([u8; 32], Vec<Segment>)>,
}

/// A loaded index: the base's tree, whose contents are read from the cache's frames.
pub struct BaseIndex {
    pub tree: Tree,
    pub warnings: Vec<String>,
    pub source: Arc<Frames>,
    /// The first id the spool may give its own contents.
    pub next_id: u64,
}

/// The frames an index points at, read (and checked) when a content is needed.
pub struct Frames {
    cache: Arc<Cache>,
    frames: Vec<(u8, [u8; 32], [u8; 32], u64)>,
    /// By external number (a content's offset without [`EXTERNAL`]).
    segments: Vec<Vec<Segment>>,
    decoded: Mutex<Vec<(u32, Arc<Vec<u8>>)>>,
    /// Set when a frame could not be read: the build starts again without the index.
    failed: Arc<AtomicBool>,
}

impl BaseIndex {
    /// Parses an index read from the cache (already checked against a recorded sha256); `None`
    /// when it is malformed or a frame it needs is not in the cache.
    pub fn load(bytes: &[u8], cache: Arc<Cache>, failed: Arc<AtomicBool>) -> Option<BaseIndex> {
        let mut r = Reader(bytes);
        if r.take(MAGIC.len())? != MAGIC {
            return None;
        }
        let warnings = (0..r.u64()?)
            .map(|_| r.bytes().map(|b| String::from_utf8_lossy(b).into_owned()))
            .collect::<Option<Vec<_>>>()?;
        let count = r.u64()? as usize;
        let mut entries = Vec::with_capacity(count.min(MAX_ENTRIES));
        for _ in 0..count {
            entries.push(get_node(&mut r)?);
        }
        let frames = (0..r.u64()?)
            .map(|_| Some((r.take(1)?[0], r.array()?, r.array()?, r.u64()?)))
            .collect::<Option<Vec<_>>>()?;
        let mut located: HashMap<[u8; 32], Vec<Segment>> = HashMap::new();
        for _ in 0..r.u64()? {
            let digest = r.array()?;
            let segments = (0..r.u64()?)
                .map(|_| Some(Segment { chunk: u32::try_from(r.u64()?).ok()?, at: r.u64()?, len: r.u64()? }))
                .collect::<Option<Vec<_>>>()?;
            if segments.iter().any(|s| s.chunk as usize >= frames.len() || s.at + s.len > frames[s.chunk as usize].3) {
                return None;
            }
            located.insert(digest, segments);
        }
        if !r.0.is_empty() || !entries.first().is_some_and(|(p, _)| p.is_empty()) {
            return None;
        }
        if frames.iter().any(|f| !cache.has("frame", &f.1)) {
            return None;
        }
        // Contents by their recorded id: hard links share one.
        let mut numbers: HashMap<u64, u64> = HashMap::new();
        let mut segments = Vec::new();
        let mut max_id = 0;
        for (_, node) in entries.iter_mut() {
            if let Kind::File(c) = &mut node.kind {
                max_id = max_id.max(c.id);
                let n = match numbers.get(&c.id) {
                    Some(n) => *n,
                    None => {
                        let s = match c.size {
                            0 => Vec::new(),
                            _ => located.get(&c.sha256)?.clone(),
                        };
                        if s.iter().map(|s| s.len).sum::<u64>() != c.size {
                            return None;
                        }
                        segments.push(s);
                        let n = segments.len() as u64 - 1;
                        numbers.insert(c.id, n);
                        n
                    }
                };
                c.offset = EXTERNAL | n;
            }
        }
        let source = Frames { cache, frames, segments, decoded: Mutex::new(Vec::new()), failed };
        Some(BaseIndex { tree: Tree::from_sorted(entries), warnings, source: Arc::new(source), next_id: max_id + 1 })
    }
}

impl Frames {
    /// Decodes, on a thread of its own, the frames holding `contents` (base files a build reads
    /// whole after its patches: the package database, `os-release`), so that reading finds them
    /// decoded instead of waiting for their decompression. A frame that cannot be read is left
    /// for that reading to report.
    pub fn prefetch(self: &Arc<Self>, contents: Vec<Content>) {
        let chunks: Vec<u32> = contents
            .iter()
            .filter_map(|c| self.segments.get((c.offset & !EXTERNAL) as usize))
            .flatten()
            .map(|s| s.chunk)
            .take(KEEP / 2)
            .collect();
        if chunks.is_empty() {
            return;
        }
        let frames = Arc::clone(self);
        std::thread::spawn(move || {
            for chunk in chunks {
                if frames.decode(chunk, false).is_err() {
                    return;
                }
            }
        });
    }

    /// The frame, from those kept or read, checked and decompressed; when it cannot be read
    /// and `report` is set, the build is told to start again without the index.
    fn decode(&self, chunk: u32, report: bool) -> io::Result<Arc<Vec<u8>>> {
        let mut decoded = self.decoded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, d)) = decoded.iter().find(|(c, _)| *c == chunk) {
            return Ok(Arc::clone(d));
        }
        let (kind, key, sha, len) = self.frames[chunk as usize];
        let lost = || {
            if report {
                self.failed.store(true, Ordering::Relaxed);
            }
            io::Error::other(format!("the cache lost a frame of the base index ({})", crate::hex::encode(&key)))
        };
        let bytes = self.cache.get("frame", &key, &sha).ok_or_else(lost)?;
        let data = match kind {
            RAW => bytes,
            GZIP => {
                let mut out = vec![0; len as usize];
                let n = libdeflater::Decompressor::new().gzip_decompress(&bytes, &mut out).map_err(|_| lost())?;
                out.truncate(n);
                out
            }
            ZSTD => zstd::bulk::decompress(&bytes, len as usize).map_err(|_| lost())?,
            _ => return Err(lost()),
        };
        if data.len() as u64 != len {
            return Err(lost());
        }
        let data = Arc::new(data);
        if decoded.len() >= KEEP {
            decoded.remove(0);
        }
        decoded.push((chunk, Arc::clone(&data)));
        Ok(data)
    }
}

impl External for Frames {
    fn read_into(&self, content: &Content, offset: u64, len: u64, out: &mut Vec<u8>) -> io::Result<()> {
        let segments = self
            .segments
            .get((content.offset & !EXTERNAL) as usize)
            .ok_or_else(|| io::Error::other("a content the base index does not list"))?;
        let (mut skip, mut want) = (offset, len);
        for s in segments {
            if want == 0 {
                break;
            }
            if skip >= s.len {
                skip -= s.len;
                continue;
            }
            let frame = self.decode(s.chunk, true)?;
            let from = (s.at + skip) as usize;
            let n = (s.len - skip).min(want) as usize;
            out.extend_from_slice(&frame[from..from + n]);
            want -= n as u64;
            skip = 0;
        }
        if want > 0 {
            return Err(io::Error::other("a content is shorter in the base index than in the tree"));
        }
        Ok(())
    }
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u64(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_node(out: &mut Vec<u8>, path: &[u8], node: &Node) {
    put_bytes(out, path);
    let kind = match &node.kind {
        Kind::Dir => 0,
        Kind::File(_) => 1,
        Kind::Symlink(_) => 2,
        Kind::Char(..) => 3,
        Kind::Block(..) => 4,
        Kind::Fifo => 5,
    };
    out.push(kind);
    put_u64(out, node.mode as u64);
    put_u64(out, node.uid);
    put_u64(out, node.gid);
    put_u64(out, node.mtime as u64);
    put_u64(out, node.origin as u64);
    put_u64(out, node.xattrs.len() as u64);
    for (k, v) in &node.xattrs {
        put_bytes(out, k);
        put_bytes(out, v);
    }
    match &node.kind {
        Kind::File(c) => {
            put_u64(out, c.id);
            put_u64(out, c.size);
            out.extend_from_slice(&c.sha256);
        }
        Kind::Symlink(t) => put_bytes(out, t),
        Kind::Char(a, b) | Kind::Block(a, b) => {
            put_u64(out, *a as u64);
            put_u64(out, *b as u64);
        }
        Kind::Dir | Kind::Fifo => {}
    }
}

fn get_node(r: &mut Reader) -> Option<(Vec<u8>, Node)> {
    let path = r.bytes()?.to_vec();
    let kind = r.take(1)?[0];
    let mode = u32::try_from(r.u64()?).ok()?;
    let (uid, gid, mtime) = (r.u64()?, r.u64()?, r.u64()? as i64);
    let origin = u16::try_from(r.u64()?).ok()?;
    let xattrs = (0..r.u64()?).map(|_| Some((r.bytes()?.to_vec(), r.bytes()?.to_vec()))).collect::<Option<Vec<_>>>()?;
    let device = |r: &mut Reader| Some((u32::try_from(r.u64()?).ok()?, u32::try_from(r.u64()?).ok()?));
    let kind = match kind {
        0 => Kind::Dir,
        1 => Kind::File(Content { id: r.u64()?, offset: 0, size: r.u64()?, sha256: r.array()? }),
        2 => Kind::Symlink(r.bytes()?.to_vec()),
        3 => device(r).map(|(a, b)| Kind::Char(a, b))?,
        4 => device(r).map(|(a, b)| Kind::Block(a, b))?,
        5 => Kind::Fifo,
        _ => return None,
    };
    Some((path, Node { kind, mode, uid, gid, mtime, xattrs, origin }))
}

/// Reads the index's fields, `None` past its end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn array(&mut self) -> Option<[u8; 32]> {
        self.take(32)?.try_into().ok()
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u64()?).ok()?;
        self.take(n)
    }
}
