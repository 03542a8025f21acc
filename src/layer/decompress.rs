//! Compression told by magic bytes, never by file name (docs/layers.md).

use std::fs::File;
use std::io::{self, BufRead, Read, Seek, Write};
use std::sync::{mpsc, Arc, Condvar, Mutex, PoisonError};

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
            let stream = liblzma::stream::Stream::new_stream_decoder(memlimit, liblzma::stream::CONCATENATED)
                .map_err(io::Error::other)?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(r, stream))
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
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    free: mpsc::SyncSender<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
    done: bool,
}

/// The producing end of a [`Pipe`].
pub struct PipeWriter {
    tx: mpsc::SyncSender<io::Result<Vec<u8>>>,
    free: mpsc::Receiver<Vec<u8>>,
}

const CHUNK: usize = 512 * 1024;

/// A bounded pipe of a few chunks, so memory stays flat whatever the layer's size.
pub fn pipe() -> (PipeWriter, Pipe) {
    let (tx, rx) = mpsc::sync_channel(4);
    let (free_tx, free_rx) = mpsc::sync_channel(8);
    (PipeWriter { tx, free: free_rx }, Pipe { rx, free: free_tx, chunk: Vec::new(), pos: 0, done: false })
}

/// The producing end of a stream read on another thread: a [`PipeWriter`] or a [`SpillWriter`].
pub trait Sink {
    /// Copies `reader` into the stream; an error is passed on to the reading end, where it
    /// surfaces at the point of the stream it happened. Returns early when the reader is gone.
    fn pump(&mut self, reader: &mut dyn Read) -> io::Result<()>;

    /// Passes an error that happened before any data (such as an unknown compression).
    fn fail(&mut self, e: &io::Error);
}

impl Sink for PipeWriter {
    fn pump(&mut self, reader: &mut dyn Read) -> io::Result<()> {
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
                        let copy = copy_error(&e);
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

    fn fail(&mut self, e: &io::Error) {
        let _ = self.tx.send(Err(copy_error(e)));
    }
}

fn copy_error(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

impl BufRead for Pipe {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.chunk.len() {
            let Some(chunk) = next(&self.rx, &mut self.done)? else { return Ok(&[]) };
            let used = std::mem::replace(&mut self.chunk, chunk);
            let _ = self.free.try_send(used);
            self.pos = 0;
        }
        Ok(&self.chunk[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.chunk.len());
    }
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, buf)
    }
}

/// The next item a producing thread sent: `None` once it has finished. An error it passed
/// is returned once, and ends the stream.
fn next<T>(rx: &mpsc::Receiver<io::Result<T>>, done: &mut bool) -> io::Result<Option<T>> {
    if *done {
        return Ok(None);
    }
    match rx.recv() {
        Ok(Ok(item)) => Ok(Some(item)),
        Ok(Err(e)) => {
            *done = true;
            Err(e)
        }
        Err(_) => {
            *done = true;
            Ok(None)
        }
    }
}

/// `Read` through a `BufRead`'s own buffer.
fn read_buffered(reader: &mut impl BufRead, buf: &mut [u8]) -> io::Result<usize> {
    let available = reader.fill_buf()?;
    let n = buf.len().min(available.len());
    buf[..n].copy_from_slice(&available[..n]);
    reader.consume(n);
    Ok(n)
}

/// How much of a layer is decompressed ahead of its reader, in segments of temporary files:
/// the page cache, not the heap, holds a layer that waits for its turn.
const SEGMENT: u64 = 32 << 20;
const SEGMENTS_AHEAD: usize = 2;
/// How many bytes all the spills of one build may hold at once, written but not yet read: the
/// temporary space decompressing ahead may take, however many and large the patches.
pub const AHEAD: u64 = 256 << 20;

/// Bytes spills may still hold, shared by the spills of one build: a writer waits for room
/// before it starts a segment, and a segment gives its room back once read (or dropped).
pub struct Budget {
    left: Mutex<u64>,
    freed: Condvar,
    total: u64,
}

impl Budget {
    pub fn new(total: u64) -> Arc<Budget> {
        Arc::new(Budget { left: Mutex::new(total), freed: Condvar::new(), total })
    }

    /// Waits for `want` bytes of room (at most the whole budget) and holds them.
    fn take(self: &Arc<Self>, want: u64) -> Held {
        let want = want.min(self.total);
        let mut left = self.left.lock().unwrap_or_else(PoisonError::into_inner);
        while *left < want {
            left = self.freed.wait(left).unwrap_or_else(PoisonError::into_inner);
        }
        *left -= want;
        Held { budget: Arc::clone(self), bytes: want }
    }

    #[cfg(test)]
    fn left(&self) -> u64 {
        *self.left.lock().unwrap()
    }
}

/// Room held in a [`Budget`] until dropped.
struct Held {
    budget: Arc<Budget>,
    bytes: u64,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut left = self.budget.left.lock().unwrap_or_else(PoisonError::into_inner);
        *left += self.bytes;
        self.budget.freed.notify_all();
    }
}

/// One written segment, rewound for reading, with the room it holds: `len` bytes from where
/// the file stands.
struct Segment {
    file: File,
    len: u64,
    held: Held,
}

/// A stream decompressed ahead of its reader into temporary files, so a patch can be
/// decompressed while the layers below it are still being read. At most a few segments wait
/// at once, and no more than the [`Budget`] allows; past that the writer waits for the
/// reader, as a pipe's would.
pub struct Spill {
    rx: mpsc::Receiver<io::Result<Segment>>,
    segment: Option<(io::BufReader<io::Take<File>>, Held)>,
    done: bool,
}

/// The producing end of a [`Spill`].
pub struct SpillWriter {
    tx: mpsc::SyncSender<io::Result<Segment>>,
    budget: Arc<Budget>,
    segment: u64,
}

/// Writing a segment failed: the temporary directory, not the layer, is at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0} (a temporary file of a layer decompressed ahead)")]
pub struct SpillFailed(pub io::Error);

pub fn spill(budget: &Arc<Budget>) -> (SpillWriter, Spill) {
    spill_in_segments_of(SEGMENT, budget)
}

fn spill_in_segments_of(segment: u64, budget: &Arc<Budget>) -> (SpillWriter, Spill) {
    let (tx, rx) = mpsc::sync_channel(SEGMENTS_AHEAD);
    (SpillWriter { tx, budget: Arc::clone(budget), segment }, Spill { rx, segment: None, done: false })
}

impl SpillWriter {
    /// Fills one segment from `reader`: `None` at the end of the stream. A read error comes
    /// after the data read before it.
    fn segment(&self, reader: &mut dyn Read, buf: &mut [u8]) -> (Option<Segment>, Option<io::Error>) {
        let failed = |e: io::Error| io::Error::new(e.kind(), SpillFailed(e));
        let mut segment: Option<Segment> = None;
        let mut written = 0u64;
        let mut error = None;
        while written < self.segment {
            let want = buf.len().min((self.segment - written) as usize);
            let n = match reader.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            };
            let put = match segment.as_mut() {
                Some(s) => Ok(s),
                None => {
                    // Room first: a file is only started once the budget allows it.
                    let held = self.budget.take(self.segment);
                    tempfile::tempfile().map(|file| segment.insert(Segment { file, len: u64::MAX, held }))
                }
            }
            .and_then(|s| s.file.write_all(&buf[..n]));
            if let Err(e) = put {
                return (None, Some(failed(e)));
            }
            written += n as u64;
        }
        match segment.map(|mut s| s.file.seek(io::SeekFrom::Start(0)).map(|_| s)) {
            Some(Ok(s)) => (Some(s), error),
            Some(Err(e)) => (None, Some(failed(e))),
            None => (None, error),
        }
    }
}

impl SpillWriter {
    /// Sends `len` bytes of a file, from where it stands, as the stream: a patch the cache
    /// kept decoded is read in place, not copied.
    pub fn send_file(self, file: File, len: u64) {
        let _ = self.tx.send(Ok(Segment { file, len, held: self.budget.take(0) }));
    }
}

impl Sink for SpillWriter {
    fn pump(&mut self, reader: &mut dyn Read) -> io::Result<()> {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let (segment, error) = self.segment(reader, &mut buf);
            let more = segment.is_some() && error.is_none();
            if let Some(s) = segment {
                if self.tx.send(Ok(s)).is_err() {
                    return Ok(());
                }
            }
            if let Some(e) = error {
                let copy = copy_error(&e);
                let _ = self.tx.send(Err(e));
                return Err(copy);
            }
            if !more {
                return Ok(());
            }
        }
    }

    fn fail(&mut self, e: &io::Error) {
        let _ = self.tx.send(Err(copy_error(e)));
    }
}

impl BufRead for Spill {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        loop {
            // (Checked first, then borrowed again: the borrow checker cannot see that the
            // early return and the loop's next round do not overlap.)
            let empty = match self.segment.as_mut() {
                Some((reader, _)) => {
                    reader.fill_buf().map_err(|e| io::Error::new(e.kind(), SpillFailed(e)))?.is_empty()
                }
                None => true,
            };
            if !empty {
                return self.segment.as_mut().expect("checked above").0.fill_buf();
            }
            // A segment read to its end gives its room back.
            self.segment = None;
            let Some(s) = next(&self.rx, &mut self.done)? else { return Ok(&[]) };
            self.segment = Some((io::BufReader::with_capacity(256 * 1024, s.file.take(s.len)), s.held));
        }
    }

    fn consume(&mut self, n: usize) {
        if let Some((reader, _)) = self.segment.as_mut() {
            reader.consume(n);
        }
    }
}

impl Read for Spill {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, buf)
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

    /// Yields `data`, then fails if `fail` is set.
    struct Source {
        data: io::Cursor<Vec<u8>>,
        fail: bool,
    }

    impl Read for Source {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.data.read(buf)? {
                0 if self.fail => Err(io::Error::other("corrupt input")),
                n => Ok(n),
            }
        }
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn a_spilled_stream_reads_back_whole_across_segments() {
        let data = sample(10_000);
        let (mut writer, mut spill) = spill_in_segments_of(1_000, &Budget::new(AHEAD));
        let mut source = Source { data: io::Cursor::new(data.clone()), fail: false };
        let producer = std::thread::spawn(move || writer.pump(&mut source));
        let mut read = Vec::new();
        spill.read_to_end(&mut read).unwrap();
        producer.join().unwrap().unwrap();
        assert_eq!(read, data);
    }

    #[test]
    fn a_spilled_read_error_comes_after_the_data_before_it() {
        let data = sample(2_500);
        let (mut writer, mut spill) = spill_in_segments_of(1_000, &Budget::new(AHEAD));
        let mut source = Source { data: io::Cursor::new(data.clone()), fail: true };
        let producer = std::thread::spawn(move || writer.pump(&mut source));
        let mut read = Vec::new();
        let err = spill.read_to_end(&mut read).unwrap_err();
        assert_eq!(err.to_string(), "corrupt input");
        assert_eq!(read, data);
        assert!(producer.join().unwrap().is_err());
    }

    #[test]
    fn the_spill_writer_stops_when_its_reader_is_gone() {
        let (mut writer, spill) = spill_in_segments_of(1_000, &Budget::new(AHEAD));
        drop(spill);
        let mut source = Source { data: io::Cursor::new(sample(1_000_000)), fail: false };
        // Would block forever on the bounded channel if it did not notice.
        writer.pump(&mut source).unwrap();
        assert!(source.data.position() < 1_000_000);
    }

    #[test]
    fn spills_sharing_a_budget_wait_for_their_reader_and_give_the_room_back() {
        // Room for two segments in all: the writer of the first stream must wait for its
        // reader, and the second stream, behind it, still comes through whole.
        let budget = Budget::new(2_000);
        let (data_a, data_b) = (sample(10_000), sample(3_500));
        let (mut writer_a, mut spill_a) = spill_in_segments_of(1_000, &budget);
        let (mut writer_b, mut spill_b) = spill_in_segments_of(1_000, &budget);
        let mut sources = [data_a.clone(), data_b.clone()].map(|d| Source { data: io::Cursor::new(d), fail: false });
        let producer = std::thread::spawn(move || {
            writer_a.pump(&mut sources[0]).unwrap();
            // Done with the first stream: its reader sees the end (as `layer::decode` does).
            drop(writer_a);
            writer_b.pump(&mut sources[1]).unwrap();
        });
        let (mut read_a, mut read_b) = (Vec::new(), Vec::new());
        spill_a.read_to_end(&mut read_a).unwrap();
        spill_b.read_to_end(&mut read_b).unwrap();
        producer.join().unwrap();
        assert!(read_a == data_a && read_b == data_b);
        drop((spill_a, spill_b));
        assert_eq!(budget.left(), 2_000, "every segment gave its room back");
    }

    #[test]
    fn a_pipe_reads_back_whole_through_its_buffer() {
        let data = sample(3 * CHUNK + 17);
        let (mut writer, mut pipe) = pipe();
        let mut source = Source { data: io::Cursor::new(data.clone()), fail: false };
        let producer = std::thread::spawn(move || writer.pump(&mut source));
        let mut read = Vec::new();
        loop {
            let buf = pipe.fill_buf().unwrap();
            if buf.is_empty() {
                break;
            }
            let n = buf.len().min(1000);
            read.extend_from_slice(&buf[..n]);
            pipe.consume(n);
        }
        producer.join().unwrap().unwrap();
        assert_eq!(read, data);
    }

    #[test]
    fn window_log_is_the_floor() {
        assert_eq!(window_log(128 << 20), 27);
        assert_eq!(window_log((128 << 20) + 1), 27);
        assert_eq!(window_log(1), 10);
    }
}
