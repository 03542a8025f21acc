//! Cutting the image's tar stream into chunks whose bounds depend only on the entries
//! (docs/image-format.md): each chunk becomes one zstd frame or gzip member, compressed on any
//! core, and a rebuild whose tree differs in a few entries changes only the chunks that hold
//! them, so the others can be copied from the cache.
//!
//! The rule, part of the image format: a chunk ends before an entry when the chunk holds
//! [`MIN`] bytes and the entry is picked by the hash of its name, with a chance in proportion
//! to its size (one cut per [`TARGET`] bytes on average), or when the chunk holds [`MAX`]
//! bytes, or when the entry's data is [`PIECE`] bytes or more. Such a large file's data is cut
//! again every [`PIECE`] bytes of its own data. The last chunk ends with the archive's two
//! zero blocks. Nothing else (cores, cache, timing) moves a cut.
//!
//! Whether an entry is picked depends on that entry alone, so after a change the cuts fall
//! where they fell before as soon as the chunk holding the change ends; only [`MIN`] and
//! [`MAX`] depend on where a chunk began, and they are far from the typical chunk.
//!
//! A chunk is described without reading any file: header bytes as they are, file data by
//! content digest, offset and length. The sha256 of that description is the chunk's key.

use std::io;

use sha2::{Digest, Sha256};

use super::tar::TarOut;
use crate::spool::{Content, Ranges};

/// A chunk may end once it holds this many bytes, before a picked entry.
pub const MIN: u64 = 512 << 10;
/// One cut per this many bytes, on average: an entry is picked with a chance of its weight
/// (512 bytes plus its data size) in `TARGET`.
pub const TARGET: u64 = 4 << 20;
/// A chunk ends before the next entry once it holds this many bytes.
pub const MAX: u64 = 8 << 20;
/// A file with this much data starts a chunk, and its data is cut every `PIECE` bytes.
pub const PIECE: u64 = 4 << 20;

/// What a chunk holds, in order.
#[derive(Debug, Clone)]
pub enum Piece {
    /// Headers and padding.
    Bytes(Vec<u8>),
    /// `len` bytes of a file's data from `offset`.
    Data { content: Content, offset: u64, len: u64 },
}

#[derive(Debug)]
pub struct Chunk {
    /// Place in the stream, from 0.
    pub index: usize,
    pub pieces: Vec<Piece>,
    /// Uncompressed bytes.
    pub len: u64,
    /// sha256 of the chunk's description: equal keys, equal bytes.
    pub key: [u8; 32],
}

impl Chunk {
    /// The chunk's bytes into `out` (emptied first; a worker's buffer, reused from chunk to
    /// chunk): headers as they are, file data read from the spool.
    pub fn read_into(&self, ranges: &Ranges, out: &mut Vec<u8>) -> io::Result<()> {
        out.clear();
        out.reserve(self.len as usize);
        for piece in &self.pieces {
            match piece {
                Piece::Bytes(b) => out.extend_from_slice(b),
                Piece::Data { content, offset, len } => ranges.read_into(content, *offset, *len, out)?,
            }
        }
        Ok(())
    }
}

/// Whether a chunk may end before this entry: the first 8 bytes of the sha256 of its name
/// (`./path`, directories with a trailing `/`), big-endian, modulo [`TARGET`], are less than
/// 512 plus its data size.
pub fn picks(name: &[u8], data: u64) -> bool {
    let digest = Sha256::digest(name);
    let h = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    h % TARGET < 512 + data
}

/// A [`TarOut`] that hands each finished chunk to `emit`.
pub struct Chunker<F: FnMut(Chunk) -> io::Result<()>> {
    emit: F,
    pieces: Vec<Piece>,
    len: u64,
    hasher: Sha256,
    next: usize,
}

impl<F: FnMut(Chunk) -> io::Result<()>> Chunker<F> {
    pub fn new(emit: F) -> Self {
        Chunker { emit, pieces: Vec::new(), len: 0, hasher: Sha256::new(), next: 0 }
    }

    fn cut(&mut self) -> io::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        let chunk = Chunk {
            index: self.next,
            pieces: std::mem::take(&mut self.pieces),
            len: std::mem::take(&mut self.len),
            key: std::mem::take(&mut self.hasher).finalize().into(),
        };
        self.next += 1;
        (self.emit)(chunk)
    }

    fn push_data(&mut self, content: &Content, offset: u64, len: u64) {
        self.hasher.update([1]);
        self.hasher.update(content.sha256);
        self.hasher.update(offset.to_le_bytes());
        self.hasher.update(len.to_le_bytes());
        self.pieces.push(Piece::Data { content: content.clone(), offset, len });
        self.len += len;
    }

    /// Emits the last chunk; returns how many chunks there were.
    pub fn finish(mut self) -> io::Result<usize> {
        self.cut()?;
        Ok(self.next)
    }
}

impl<F: FnMut(Chunk) -> io::Result<()>> TarOut for Chunker<F> {
    fn entry(&mut self, name: &[u8], data: u64) -> io::Result<()> {
        if data >= PIECE || self.len >= MAX || (self.len >= MIN && picks(name, data)) {
            self.cut()?;
        }
        Ok(())
    }

    fn bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hasher.update([0]);
        self.hasher.update((bytes.len() as u64).to_le_bytes());
        self.hasher.update(bytes);
        match self.pieces.last_mut() {
            Some(Piece::Bytes(b)) => b.extend_from_slice(bytes),
            _ => self.pieces.push(Piece::Bytes(bytes.to_vec())),
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn data(&mut self, content: &Content) -> io::Result<()> {
        if content.size < PIECE {
            self.push_data(content, 0, content.size);
            return Ok(());
        }
        let mut offset = 0;
        while offset < content.size {
            if offset > 0 {
                self.cut()?;
            }
            let len = (content.size - offset).min(PIECE);
            self.push_data(content, offset, len);
            offset += len;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries as the tar writer hands them over: a name, a header, data by digest, padding.
    fn keys(entries: &[(String, u64, u8)]) -> Vec<[u8; 32]> {
        let mut keys = Vec::new();
        let mut chunker = Chunker::new(|c: Chunk| {
            assert!(c.len <= MAX + PIECE + 2048, "chunk {} holds {} bytes", c.index, c.len);
            keys.push(c.key);
            Ok(())
        });
        for (name, size, fill) in entries {
            let name = format!("./{name}");
            chunker.entry(name.as_bytes(), *size).unwrap();
            chunker.bytes(&[1; 512]).unwrap();
            let content = Content { id: 0, offset: 0, size: *size, sha256: [*fill; 32] };
            chunker.data(&content).unwrap();
            chunker.bytes(&vec![0; ((512 - size % 512) % 512) as usize]).unwrap();
        }
        chunker.bytes(&[0; 1024]).unwrap();
        chunker.finish().unwrap();
        keys
    }

    fn tree() -> Vec<(String, u64, u8)> {
        // 3,000 files of 1 KiB to 60 KiB, and three large ones: about 100 MiB.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        (0..3000)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let size = if i % 1000 == 500 { 9 << 20 } else { 1024 + x % (60 << 10) };
                (format!("usr/lib/file{i:05}"), size, (i % 251) as u8)
            })
            .collect()
    }

    fn changed(old: &[[u8; 32]], new: &[[u8; 32]]) -> usize {
        new.iter().filter(|k| !old.contains(k)).count()
    }

    #[test]
    fn one_changed_file_changes_one_chunk() {
        let mut t = tree();
        let old = keys(&t);
        // About 120 MiB in chunks of 4 MiB or so.
        assert!((15..=60).contains(&old.len()), "{} chunks", old.len());
        t[1234].2 ^= 0xff;
        let new = keys(&t);
        assert_eq!(new.len(), old.len());
        assert_eq!(changed(&old, &new), 1);
    }

    #[test]
    fn an_added_or_resized_file_changes_a_few_chunks() {
        let mut t = tree();
        let old = keys(&t);
        t.insert(1500, ("usr/lib/file01499a".into(), 300 << 10, 7));
        t[2200].1 += 40 << 10;
        let new = keys(&t);
        assert!(changed(&old, &new) <= 4, "{} of {} chunks changed", changed(&old, &new), new.len());
    }

    #[test]
    fn a_large_file_is_cut_at_fixed_offsets_of_its_data() {
        let mut t = tree();
        let old = keys(&t);
        // A large file grown by 1 MiB: its first two 4 MiB pieces keep their chunks (the test's
        // headers and digests stay the same), its last piece and what follows change.
        t[500].1 += 1 << 20;
        let new = keys(&t);
        assert!(changed(&old, &new) <= 3, "{} chunks changed", changed(&old, &new));
    }
}
