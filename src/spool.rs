//! The spool: file contents of every layer, in one unlinked temporary file.
//!
//! Layers are streams and the image must be written sorted, so contents are copied once into
//! the spool (hashed on the way) and copied out again in path order. Memory holds only
//! offsets; the page cache does the rest.

use std::fs::File;
use std::io::{self, BufRead, BufWriter, Write};
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

impl Content {
    /// A content known only by its size and digest (read from a spec, a tarball or a
    /// directory): it has no place in a spool.
    pub fn digest(size: u64, sha256: [u8; 32]) -> Content {
        Content { id: 0, offset: 0, size, sha256 }
    }
}

/// Contents that live outside the spool: a base's files, read from the cache's frames when
/// a build starts from a cached base index (docs/image-format.md) instead of decoding the
/// base. Such a content's `offset` has [`EXTERNAL`] set; the rest is the source's own number.
pub trait External: Send + Sync {
    /// Appends `len` bytes of `content` from `offset` to `out`.
    fn read_into(&self, content: &Content, offset: u64, len: u64, out: &mut Vec<u8>) -> io::Result<()>;
}

/// The bit of [`Content::offset`] that marks an external content.
pub const EXTERNAL: u64 = 1 << 63;

pub struct Spool {
    writer: BufWriter<File>,
    len: u64,
    next_id: u64,
    external: Option<std::sync::Arc<dyn External>>,
}

impl Spool {
    pub fn new() -> io::Result<Spool> {
        Ok(Spool {
            // Small files are gathered into few writes; a large slice goes straight through.
            writer: BufWriter::with_capacity(64 * 1024, tempfile::tempfile()?),
            len: 0,
            next_id: 0,
            external: None,
        })
    }

    /// A spool whose contents with [`EXTERNAL`] set are read from `external`; its own ids
    /// start after `first_id`, so they never meet the external contents' ids.
    pub fn with_external(external: std::sync::Arc<dyn External>, first_id: u64) -> io::Result<Spool> {
        let mut spool = Spool::new()?;
        spool.external = Some(external);
        spool.next_id = first_id;
        Ok(spool)
    }

    /// Copies `reader` to the end of the spool, hashing it, straight from the reader's buffer.
    pub fn store(&mut self, reader: &mut impl BufRead) -> io::Result<Content> {
        self.store_seen(reader, |_| {})
    }

    /// [`Spool::store`], showing every byte to `seen` on the way (a Debian package's files
    /// are also hashed with md5, as its database lists them).
    pub fn store_seen(&mut self, reader: &mut impl BufRead, mut seen: impl FnMut(&[u8])) -> io::Result<Content> {
        let mut hasher = Sha256::new();
        let offset = self.len;
        loop {
            let buf = match reader.fill_buf() {
                Ok([]) => break,
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(buf);
            seen(buf);
            self.writer.write_all(buf)?;
            let n = buf.len();
            reader.consume(n);
            self.len += n as u64;
        }
        self.next_id += 1;
        Ok(Content { id: self.next_id, offset, size: self.len - offset, sha256: hasher.finalize().into() })
    }

    /// Reads back one stored content while storing goes on: gild reads the small files a
    /// Debian package updates (`var/lib/dpkg/status`, lists, conffiles) from the tree so far.
    pub fn read(&mut self, content: &Content) -> io::Result<Vec<u8>> {
        if content.offset & EXTERNAL != 0 {
            let mut out = Vec::new();
            external(&self.external)?.read_into(content, 0, content.size, &mut out)?;
            return Ok(out);
        }
        self.writer.flush()?;
        let mut buf = vec![0u8; usize::try_from(content.size).map_err(io::Error::other)?];
        let n = read_full(self.writer.get_ref(), &mut buf, content.offset)?;
        if n < buf.len() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "spool file is shorter than recorded"));
        }
        Ok(buf)
    }

    /// Makes everything stored readable; call once storing is done.
    pub fn finish(self) -> io::Result<SpoolReader> {
        let file = self.writer.into_inner().map_err(|e| e.into_error())?;
        Ok(SpoolReader { file, window: Default::default(), external: self.external })
    }
}

fn external(source: &Option<std::sync::Arc<dyn External>>) -> io::Result<&dyn External> {
    source.as_deref().ok_or_else(|| io::Error::other("a content outside the spool, and no source for it"))
}

pub struct SpoolReader {
    file: File,
    external: Option<std::sync::Arc<dyn External>>,
    /// A window of the spool read ahead: contents stored one after another and written out in
    /// about that order (a sorted base) then cost one `pread` per window, not one per file.
    /// (Behind a lock so the layers can be read from the thread that writes `install.sh` while
    /// the images are written.)
    window: std::sync::Mutex<Window>,
}

#[derive(Default)]
struct Window {
    offset: u64,
    data: Vec<u8>,
}

const WINDOW: usize = 1 << 20;

impl SpoolReader {
    /// Copies one content to `out`.
    pub fn copy_to(&self, content: &Content, out: &mut impl Write) -> io::Result<()> {
        if content.offset & EXTERNAL != 0 {
            let mut buf = Vec::new();
            self.ranges().read_into(content, 0, content.size, &mut buf)?;
            return out.write_all(&buf);
        }
        let mut window = self.window.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let end = content.offset + content.size;
        let inside = |w: &Window| content.offset >= w.offset && end <= w.offset + w.data.len() as u64;
        if content.size as usize <= WINDOW / 4 && !inside(&window) {
            window.data.resize(WINDOW, 0);
            let n = read_full(&self.file, &mut window.data, content.offset)?;
            window.data.truncate(n);
            window.offset = content.offset;
        }
        if inside(&window) {
            let start = (content.offset - window.offset) as usize;
            return out.write_all(&window.data[start..start + content.size as usize]);
        }
        // A large content: straight through the window's buffer, a window at a time.
        let mut done = 0u64;
        window.data.resize(WINDOW, 0);
        window.offset = u64::MAX;
        while done < content.size {
            let want = (content.size - done).min(WINDOW as u64) as usize;
            let n = self.file.read_at(&mut window.data[..want], content.offset + done)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "spool file is shorter than recorded"));
            }
            out.write_all(&window.data[..n])?;
            done += n as u64;
        }
        window.data.clear();
        Ok(())
    }
}

/// Reads ranges of stored contents from any thread (the image's chunks are read and
/// compressed on every core).
#[derive(Clone, Copy)]
pub struct Ranges<'a>(&'a File, &'a Option<std::sync::Arc<dyn External>>);

impl SpoolReader {
    pub fn ranges(&self) -> Ranges<'_> {
        Ranges(&self.file, &self.external)
    }
}

impl Ranges<'_> {
    /// Appends `len` bytes of `content` from `offset` to `out`.
    pub fn read_into(&self, content: &Content, offset: u64, len: u64, out: &mut Vec<u8>) -> io::Result<()> {
        if content.offset & EXTERNAL != 0 {
            return external(self.1)?.read_into(content, offset, len, out);
        }
        let start = out.len();
        out.resize(start + len as usize, 0);
        let n = read_full(self.0, &mut out[start..], content.offset + offset)?;
        if n as u64 != len {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "spool file is shorter than recorded"));
        }
        Ok(())
    }
}

/// Reads up to `buf.len()` bytes at `offset`, fewer only at the end of the file.
fn read_full(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}
