//! The output image: one PAX tar stream, written once and compressed into every format asked
//! for at the same time (docs/layers.md).
//!
//! Every byte is a function of the tree: entries in path-byte order, names `./path`, numeric
//! ids only, no uname/gname/atime/ctime, mtimes already clamped by layering, fixed compressor
//! settings (zstd always in its multithreaded format, whose bytes do not depend on the number
//! of workers; gzip with a zero mtime and no name).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};

use sha2::{Digest, Sha256};

use crate::progress::Progress;
use crate::recipe::Format;
use crate::spool::SpoolReader;
use crate::tree::{Kind, Node, Tree};

const BLOCK: usize = 512;
/// zstd multithreaded job size: part of the image format (changing it changes every image).
const JOB_SIZE: u32 = 2 << 20;
const MAX_WORKERS: usize = 4;

/// One written image file.
#[derive(Debug, Clone)]
pub struct Written {
    pub format: Format,
    pub size: u64,
    pub sha256: [u8; 32],
}

/// Writes the tree as one tar stream, compressed once per `(format, files)` and written to
/// each of those files: one encoder's output serves every file that must hold the same bytes
/// (the `tar.gz` image and the OCI layer). A format with no files is only hashed: the
/// uncompressed tar's sha256 is the OCI layer's `diff_id`. One [`Written`] per output, in order.
pub fn write(
    tree: &Tree,
    spool: &SpoolReader,
    outputs: Vec<(Format, Vec<File>)>,
    progress: &dyn Progress,
) -> io::Result<Vec<Written>> {
    let mut sinks =
        outputs.into_iter().map(|(format, files)| Sink::new(format, files)).collect::<io::Result<Vec<_>>>()?;
    {
        let mut tee = BufWriter::with_capacity(1 << 20, Tee(&mut sinks));
        progress.start("writing the image", Some(tree.len() as u64));
        write_tar(tree, spool, &mut tee, progress)?;
        tee.flush()?;
    }
    sinks.into_iter().map(Sink::finish).collect()
}

/// Writes the tar stream of the tree.
pub fn write_tar(tree: &Tree, spool: &SpoolReader, out: &mut impl Write, progress: &dyn Progress) -> io::Result<()> {
    // The first path of each hard-link group (in byte order) carries the data.
    let mut ids: Vec<u64> =
        tree.iter().filter_map(|(_, n)| if let Kind::File(c) = &n.kind { Some(c.id) } else { None }).collect();
    ids.sort_unstable();
    let counts: std::collections::HashSet<u64> = ids.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect();
    drop(ids);
    let mut leaders: HashMap<u64, Vec<u8>> = HashMap::new();
    for (path, node) in tree.iter() {
        crate::interrupt::check()?;
        progress.advance(1);
        let mut name = b"./".to_vec();
        name.extend_from_slice(path);
        if node.is_dir() && !path.is_empty() {
            name.push(b'/');
        }
        match &node.kind {
            Kind::File(c) if counts.contains(&c.id) => {
                if let Some(leader) = leaders.get(&c.id) {
                    let mut link = b"./".to_vec();
                    link.extend_from_slice(leader);
                    entry(out, &name, node, b'1', 0, &link)?;
                    continue;
                }
                leaders.insert(c.id, path.clone());
                entry(out, &name, node, b'0', c.size, b"")?;
                spool.copy_to(c, out)?;
                pad(out, c.size)?;
            }
            Kind::File(c) => {
                entry(out, &name, node, b'0', c.size, b"")?;
                spool.copy_to(c, out)?;
                pad(out, c.size)?;
            }
            Kind::Dir => entry(out, &name, node, b'5', 0, b"")?,
            Kind::Symlink(t) => entry(out, &name, node, b'2', 0, t)?,
            Kind::Char(..) => entry(out, &name, node, b'3', 0, b"")?,
            Kind::Block(..) => entry(out, &name, node, b'4', 0, b"")?,
            Kind::Fifo => entry(out, &name, node, b'6', 0, b"")?,
        }
    }
    out.write_all(&[0u8; 2 * BLOCK])
}

fn pad(out: &mut impl Write, size: u64) -> io::Result<()> {
    let rest = (BLOCK - (size % BLOCK as u64) as usize) % BLOCK;
    out.write_all(&[0u8; BLOCK][..rest])
}

const OCTAL7_MAX: u64 = 0o7777777;
const OCTAL11_MAX: u64 = 0o77777777777;

/// One entry: a PAX header first when a value does not fit ustar.
fn entry(out: &mut impl Write, name: &[u8], node: &Node, flag: u8, size: u64, link: &[u8]) -> io::Result<()> {
    let mut records = Vec::new();
    if name.len() > 100 {
        pax_record(&mut records, b"path", name);
    }
    if link.len() > 100 {
        pax_record(&mut records, b"linkpath", link);
    }
    if size > OCTAL11_MAX {
        pax_record(&mut records, b"size", size.to_string().as_bytes());
    }
    if node.uid > OCTAL7_MAX {
        pax_record(&mut records, b"uid", node.uid.to_string().as_bytes());
    }
    if node.gid > OCTAL7_MAX {
        pax_record(&mut records, b"gid", node.gid.to_string().as_bytes());
    }
    if node.mtime < 0 || node.mtime as u64 > OCTAL11_MAX {
        pax_record(&mut records, b"mtime", node.mtime.to_string().as_bytes());
    }
    for (key, value) in &node.xattrs {
        let mut k = b"SCHILY.xattr.".to_vec();
        k.extend_from_slice(key);
        pax_record(&mut records, &k, value);
    }
    if !records.is_empty() {
        let mut pax_name = b"./PaxHeaders/".to_vec();
        let base = name.split(|&b| b == b'/').rfind(|c| !c.is_empty()).unwrap_or(b".");
        pax_name.extend_from_slice(&base[..base.len().min(80)]);
        let header = ustar(&pax_name, 0o644, 0, 0, 0, b'x', records.len() as u64, b"", (0, 0));
        out.write_all(&header)?;
        out.write_all(&records)?;
        pad(out, records.len() as u64)?;
    }
    let dev = match node.kind {
        Kind::Char(a, b) | Kind::Block(a, b) => (a, b),
        _ => (0, 0),
    };
    let mtime = node.mtime.clamp(0, OCTAL11_MAX as i64) as u64;
    let header = ustar(
        name,
        node.mode,
        node.uid.min(OCTAL7_MAX),
        node.gid.min(OCTAL7_MAX),
        mtime,
        flag,
        size.min(OCTAL11_MAX),
        link,
        dev,
    );
    out.write_all(&header)
}

/// `LEN key=value\n`, where LEN counts itself.
fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let rest = key.len() + value.len() + 3; // space, '=', newline
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

#[allow(clippy::too_many_arguments)]
fn ustar(
    name: &[u8],
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    flag: u8,
    size: u64,
    link: &[u8],
    dev: (u32, u32),
) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    let name = &name[..name.len().min(100)];
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], (mode & 0o7777) as u64);
    octal(&mut h[108..116], uid);
    octal(&mut h[116..124], gid);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], mtime);
    h[156] = flag;
    let link = &link[..link.len().min(100)];
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], dev.0 as u64);
    octal(&mut h[337..345], dev.1 as u64);
    h[148..156].fill(b' ');
    let sum: u64 = h.iter().map(|&b| b as u64).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

/// Zero-padded octal filling the field but its last byte, which is NUL.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&s.as_bytes()[s.len() - digits..]);
    field[digits] = 0;
}

/// Writes every chunk to every sink.
struct Tee<'a>(&'a mut Vec<Sink>);

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for sink in self.0.iter_mut() {
            sink.write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

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

enum Encoder {
    Plain(Hashed),
    Gzip(flate2::write::GzEncoder<Hashed>),
    Zstd(zstd::stream::write::Encoder<'static, Hashed>),
}

/// The image's zstd encoder. The bytes depend on the job size but not on the number of
/// workers: a fixed 2 MiB job keeps each worker's buffers small (the default, 4 windows, holds
/// ~40 MiB more at level 3), and at most 4 workers keep memory flat on big machines.
fn zstd_encoder<W: Write>(out: W, workers: u32) -> io::Result<zstd::stream::write::Encoder<'static, W>> {
    let mut e = zstd::stream::write::Encoder::new(out, 3)?;
    e.multithread(workers)?;
    e.set_parameter(zstd::stream::raw::CParameter::JobSize(JOB_SIZE))?;
    e.include_checksum(true)?;
    Ok(e)
}

struct Sink {
    format: Format,
    encoder: Encoder,
}

impl Sink {
    fn new(format: Format, files: Vec<File>) -> io::Result<Sink> {
        let hashed = Hashed::fanout(files);
        let encoder = match format {
            Format::Tar => Encoder::Plain(hashed),
            Format::TarGz => Encoder::Gzip(
                flate2::GzBuilder::new().mtime(0).operating_system(255).write(hashed, flate2::Compression::default()),
            ),
            Format::TarZst => {
                let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_WORKERS);
                Encoder::Zstd(zstd_encoder(hashed, workers as u32)?)
            }
        };
        Ok(Sink { format, encoder })
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.encoder {
            Encoder::Plain(w) => w.write_all(buf),
            Encoder::Gzip(w) => w.write_all(buf),
            Encoder::Zstd(w) => w.write_all(buf),
        }
    }

    fn finish(self) -> io::Result<Written> {
        let hashed = match self.encoder {
            Encoder::Plain(w) => w,
            Encoder::Gzip(w) => w.finish()?,
            Encoder::Zstd(w) => w.finish()?,
        };
        let (size, sha256) = hashed.finish()?;
        Ok(Written { format: self.format, size, sha256 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        let mut v = Vec::new();
        pax_record(&mut v, b"path", b"abc");
        assert_eq!(v, b"12 path=abc\n");
        let mut v = Vec::new();
        pax_record(&mut v, b"path", &[b'x'; 95]);
        assert_eq!(v.len(), 105);
        assert!(v.starts_with(b"105 "));
    }

    /// The image's bytes must not depend on the cores of the machine that builds it: the
    /// encoder run with 1, 2 and 4 workers on a stream of many jobs gives one output, whatever
    /// the cores of the machine running this test (zstd starts the workers it is told to).
    #[test]
    fn zstd_bytes_do_not_depend_on_the_number_of_workers() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let data: Vec<u8> = (0..5 * JOB_SIZE as usize)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Half random, half runs: jobs of different compressed sizes.
                if i % 4096 < 2048 {
                    (x >> 24) as u8
                } else {
                    b'a'
                }
            })
            .collect();
        let compress = |workers| {
            let mut e = zstd_encoder(Vec::new(), workers).unwrap();
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        };
        let one = compress(1);
        assert!(one.len() > 2 * JOB_SIZE as usize, "several jobs: {} bytes", one.len());
        assert!(compress(2) == one, "2 workers differ from 1");
        assert!(compress(4) == one, "4 workers differ from 1");
        assert!(compress(0) != one || one.is_empty(), "single-threaded zstd is another format: the test can tell");
    }

    #[test]
    fn octal_fields_are_zero_padded() {
        let mut f = [0u8; 8];
        octal(&mut f, 0o755);
        assert_eq!(&f, b"0000755\0");
    }
}
