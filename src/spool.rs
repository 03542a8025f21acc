//! The spool: file contents of every layer, in one unlinked temporary file.
//!
//! Layers are streams and the image must be written sorted, so contents are copied once into
//! the spool (hashed on the way) and copied out again in path order. Memory holds only
//! offsets; the page cache does the rest.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;

use sha2::{Digest, Sha256};

/// Where one file's bytes live in the spool, and their digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// Unique per stored content: hard links share it, nothing else does.
    pub id: u64,
    pub offset: u64,
    pub size: u64,
    pub sha256: [u8; 32],
}

pub struct Spool {
    writer: BufWriter<File>,
    len: u64,
    next_id: u64,
}

impl Spool {
    pub fn new() -> io::Result<Spool> {
        Ok(Spool { writer: BufWriter::with_capacity(1 << 20, tempfile::tempfile()?), len: 0, next_id: 0 })
    }

    /// Copies `reader` to the end of the spool, hashing it.
    pub fn store(&mut self, reader: &mut impl Read) -> io::Result<Content> {
        let mut hasher = Sha256::new();
        let offset = self.len;
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            self.writer.write_all(&buf[..n])?;
            self.len += n as u64;
        }
        self.next_id += 1;
        Ok(Content { id: self.next_id, offset, size: self.len - offset, sha256: hasher.finalize().into() })
    }

    /// Makes everything stored readable; call once storing is done.
    pub fn finish(self) -> io::Result<SpoolReader> {
        let file = self.writer.into_inner().map_err(|e| e.into_error())?;
        Ok(SpoolReader { file })
    }
}

pub struct SpoolReader {
    file: File,
}

impl SpoolReader {
    /// Copies one content to `out`.
    pub fn copy_to(&self, content: &Content, out: &mut impl Write) -> io::Result<()> {
        let mut buf = vec![0u8; (content.size as usize).clamp(1, 256 * 1024)];
        let mut done = 0u64;
        while done < content.size {
            let want = (content.size - done).min(buf.len() as u64) as usize;
            let n = self.file.read_at(&mut buf[..want], content.offset + done)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "spool file is shorter than recorded"));
            }
            out.write_all(&buf[..n])?;
            done += n as u64;
        }
        Ok(())
    }
}
