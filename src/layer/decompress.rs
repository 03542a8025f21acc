//! Compression told by magic bytes, never by file name (SPEC §1, §4).

use std::io::{self, BufRead, Read};

use crate::limits::Limits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Xz,
}

impl Compression {
    pub fn detect(head: &[u8]) -> Result<Compression, String> {
        let zstd_skippable = head.len() >= 4 && head[0] & 0xf0 == 0x50 && head[1..4] == [0x2a, 0x4d, 0x18];
        Ok(if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) || zstd_skippable {
            Compression::Zstd
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Compression::Xz
        } else if head.starts_with(b"BZh") {
            return Err("bzip2 compression is not supported; recompress it with zstd, gzip or xz".into());
        } else if head.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
            return Err("lz4 compression is not supported; recompress it with zstd, gzip or xz".into());
        } else {
            Compression::None
        })
    }
}

/// A reader of the decompressed stream. Concatenated gzip members, zstd frames and xz streams
/// read as one stream; anything else after them is an error from the decoder.
pub fn decoder<'a, R: BufRead + 'a>(mut r: R, limits: &Limits) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let head = r.fill_buf()?;
    let kind = Compression::detect(head).map_err(io::Error::other)?;
    let reader: Box<dyn Read + 'a> = match kind {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(r)?;
            d.window_log_max(window_log(limits.window))?;
            Box::new(d)
        }
        Compression::Xz => {
            let memlimit = limits.window.saturating_add(1 << 20);
            let stream = xz2::stream::Stream::new_stream_decoder(memlimit, xz2::stream::CONCATENATED)
                .map_err(io::Error::other)?;
            Box::new(xz2::bufread::XzDecoder::new_stream(r, stream))
        }
    };
    Ok((kind, reader))
}

/// The largest window log whose window fits the limit (zstd accepts 10..=31).
fn window_log(window: u64) -> u32 {
    (63 - window.max(1).leading_zeros()).clamp(10, 31)
}

/// The decompressed stream, read on another thread: decompression runs on one core while
/// the caller parses, hashes and spools on the other.
pub struct Pipe {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    free: std::sync::mpsc::SyncSender<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
    done: bool,
}

/// The producing end of a [`Pipe`].
pub struct PipeWriter {
    tx: std::sync::mpsc::SyncSender<io::Result<Vec<u8>>>,
    free: std::sync::mpsc::Receiver<Vec<u8>>,
}

const CHUNK: usize = 512 * 1024;

/// A bounded pipe of a few chunks, so memory stays flat whatever the layer's size.
pub fn pipe() -> (PipeWriter, Pipe) {
    let (tx, rx) = std::sync::mpsc::sync_channel(4);
    let (free_tx, free_rx) = std::sync::mpsc::sync_channel(8);
    (PipeWriter { tx, free: free_rx }, Pipe { rx, free: free_tx, chunk: Vec::new(), pos: 0, done: false })
}

impl PipeWriter {
    /// Copies `reader` into the pipe; an error is passed on to the reading end, where it
    /// surfaces at the point of the stream it happened. Returns early when the reader is gone.
    pub fn pump(&self, reader: &mut dyn Read) -> io::Result<()> {
        loop {
            let mut chunk = self.free.try_recv().unwrap_or_else(|_| Vec::with_capacity(CHUNK));
            chunk.resize(CHUNK, 0);
            let mut filled = 0;
            while filled < CHUNK {
                match reader.read(&mut chunk[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let copy = io::Error::new(e.kind(), e.to_string());
                        chunk.truncate(filled);
                        if filled > 0 && self.tx.send(Ok(chunk)).is_err() {
                            return Ok(());
                        }
                        let _ = self.tx.send(Err(copy));
                        return Err(e);
                    }
                }
            }
            if filled == 0 {
                return Ok(());
            }
            chunk.truncate(filled);
            if self.tx.send(Ok(chunk)).is_err() {
                return Ok(());
            }
        }
    }

    /// Passes an error that happened before any data (such as an unknown compression).
    pub fn fail(&self, e: &io::Error) {
        let _ = self.tx.send(Err(io::Error::new(e.kind(), e.to_string())));
    }
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    let used = std::mem::replace(&mut self.chunk, chunk);
                    let _ = self.free.try_send(used);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_decide() {
        assert_eq!(Compression::detect(&[0x1f, 0x8b, 8]).unwrap(), Compression::Gzip);
        assert_eq!(Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd]).unwrap(), Compression::Zstd);
        assert_eq!(Compression::detect(&[0x50, 0x2a, 0x4d, 0x18]).unwrap(), Compression::Zstd);
        assert_eq!(Compression::detect(b"\xfd7zXZ\0").unwrap(), Compression::Xz);
        assert_eq!(Compression::detect(b"./usr").unwrap(), Compression::None);
        assert!(Compression::detect(b"BZh91AY").is_err());
    }

    #[test]
    fn window_log_is_the_floor() {
        assert_eq!(window_log(128 << 20), 27);
        assert_eq!(window_log((128 << 20) + 1), 27);
        assert_eq!(window_log(1), 10);
    }
}
