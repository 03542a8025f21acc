//! Files that count and hash what is written to them, and start writeback as they go.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

/// Buffered files that count and hash the bytes that reach them, all the same bytes: images,
/// and `files.mtree` (whose sha256 is the baseline's `tree`). With no file, a hasher.
pub struct Hashed {
    files: Vec<BufWriter<WrittenBack>>,
    hasher: Sha256,
    size: u64,
}

impl Hashed {
    pub fn new(file: File) -> Hashed {
        Hashed::fanout(vec![file])
    }

    pub fn fanout(files: Vec<File>) -> Hashed {
        let files = files
            .into_iter()
            .map(|file| BufWriter::with_capacity(1 << 20, WrittenBack { file, written: 0, started: 0 }))
            .collect();
        Hashed { files, hasher: Sha256::new(), size: 0 }
    }

    /// Flushes and syncs the files; returns their size and sha256.
    pub fn finish(self) -> io::Result<(u64, [u8; 32])> {
        for mut file in self.files {
            file.flush()?;
            let file = file.into_inner().map_err(|e| e.into_error())?;
            file.file.sync_all()?;
        }
        Ok((self.size, self.hasher.finalize().into()))
    }
}

/// A file whose writeback to disk starts while it is being written, a few MiB behind: the
/// `fsync` before the commit point then waits for the last few MiB, not for the whole image
/// (as PostgreSQL's `*_flush_after` settings do).
struct WrittenBack {
    file: File,
    written: u64,
    /// Where writeback was last started up to.
    started: u64,
}

const WRITE_BACK_EVERY: u64 = 8 << 20;

impl Write for WrittenBack {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= WRITE_BACK_EVERY {
            use std::os::fd::AsRawFd;
            let (from, len) = (self.started as libc::off64_t, (self.written - self.started) as libc::off64_t);
            // SAFETY: a hint on a descriptor we own; its failure (such as EINVAL on a file
            // system without it) only means the final fsync does all the work, as before.
            unsafe { libc::sync_file_range(self.file.as_raw_fd(), from, len, libc::SYNC_FILE_RANGE_WRITE) };
            self.started = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Write for Hashed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for file in &mut self.files {
            file.write_all(buf)?;
        }
        self.hasher.update(buf);
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.files.iter_mut().try_for_each(|f| f.flush())
    }
}

/// An image's files, written on a thread of their own while the caller hashes the same bytes:
/// a rebuild that copies most frames from the cache spends its time on these two.
pub struct Threaded {
    tx: Option<mpsc::SyncSender<Arc<Vec<u8>>>>,
    writer: Option<JoinHandle<io::Result<()>>>,
    hasher: Sha256,
    size: u64,
}

impl Threaded {
    /// No file: only hashed (and counted).
    pub fn new(files: Vec<File>) -> Threaded {
        let (tx, writer) = match files.is_empty() {
            true => (None, None),
            false => {
                // A rendezvous: the writer holds one buffer at a time, the one being hashed.
                let (tx, rx) = mpsc::sync_channel::<Arc<Vec<u8>>>(0);
                let writer = std::thread::spawn(move || -> io::Result<()> {
                    let mut out = Hashed::fanout(files);
                    for buf in rx {
                        for file in &mut out.files {
                            file.write_all(&buf)?;
                        }
                    }
                    out.finish().map(drop)
                });
                (Some(tx), Some(writer))
            }
        };
        Threaded { tx, writer, hasher: Sha256::new(), size: 0 }
    }

    pub fn write(&mut self, buf: Arc<Vec<u8>>) -> io::Result<()> {
        if let Some(tx) = &self.tx {
            if tx.send(Arc::clone(&buf)).is_err() {
                // The writer stopped on an error: that error is the one to report.
                self.tx = None;
                return Err(self.join().err().unwrap_or_else(|| io::Error::other("the image writer stopped")));
            }
        }
        self.hasher.update(&buf[..]);
        self.size += buf.len() as u64;
        Ok(())
    }

    fn join(&mut self) -> io::Result<()> {
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the image writer stopped")),
            None => Ok(()),
        }
    }

    /// Waits for the files to be written and synced; returns their size and sha256.
    pub fn finish(mut self) -> io::Result<(u64, [u8; 32])> {
        self.tx = None;
        self.join()?;
        Ok((self.size, std::mem::take(&mut self.hasher).finalize().into()))
    }
}

impl Drop for Threaded {
    /// An image given up on is not written behind the build's back.
    fn drop(&mut self) {
        self.tx = None;
        let _ = self.join();
    }
}
