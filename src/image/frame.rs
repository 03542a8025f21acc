//! One chunk compressed: a zstd frame or a gzip member, each independent of the others
//! (concatenated, they are one valid stream for every reader), so chunks compress on every
//! core and a frame can be copied from the cache into any image that holds the same chunk.

use std::io;

use sha2::{Digest, Sha256};

use crate::recipe::Format;

/// An image format `baseline.toml` records (`image-format`): the cut rule of [`super::chunk`]
/// and the compressor settings. Changing either changes images, and needs a new name; gild
/// still writes the formats before its own, so a version recorded in one is rebuilt to its
/// recorded bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// gzip members at libdeflate level 4.
    Chunks1,
    /// gzip members at libdeflate level 3: 4 to 8% less time than level 4 for 0.4 to 0.6% more
    /// bytes, about 1% more than `gzip -6` (the bench image, and a debootstrapped Debian root;
    /// level 2 would be 2.2% more on the Debian root).
    Chunks2,
}

impl ImageFormat {
    /// What new versions are written in.
    pub const CURRENT: ImageFormat = ImageFormat::Chunks2;

    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Chunks1 => "chunks-1",
            ImageFormat::Chunks2 => "chunks-2",
        }
    }

    /// A recorded `image-format` this gild writes.
    pub fn parse(name: &str) -> Option<ImageFormat> {
        [ImageFormat::Chunks1, ImageFormat::Chunks2].into_iter().find(|f| f.name() == name)
    }

    fn gzip_level(self) -> i32 {
        match self {
            ImageFormat::Chunks1 => 4,
            ImageFormat::Chunks2 => 3,
        }
    }
}

/// What a baseline without `image-format` was written in: one zstd stream (multithreaded
/// format, 2 MiB jobs) or one gzip member per image.
pub const STREAM_FORMAT: &str = "stream-1";

/// zstd level 3 (zstd's default), one frame per chunk with its content size and checksum.
pub const ZSTD_LEVEL: i32 = 3;
/// The libdeflate that `Cargo.lock` pins (a unit test keeps them equal): a frame's key names
/// the compressor, so a cache never serves bytes another compressor version made.
const LIBDEFLATER: &str = "1.26.1";

/// The compressors of one worker, and the buffer they compress into: kept from frame to
/// frame, so its pages are not faulted in and zeroed again for every chunk.
pub struct Compressors {
    zstd: zstd::bulk::Compressor<'static>,
    gzip: libdeflater::Compressor,
    scratch: Vec<u8>,
}

impl Compressors {
    pub fn new(image: ImageFormat) -> io::Result<Compressors> {
        let mut zstd = zstd::bulk::Compressor::new(ZSTD_LEVEL)?;
        zstd.include_checksum(true)?;
        zstd.include_contentsize(true)?;
        let level = libdeflater::CompressionLvl::new(image.gzip_level()).expect("a valid libdeflate level");
        Ok(Compressors { zstd, gzip: libdeflater::Compressor::new(level), scratch: Vec::new() })
    }

    /// `data` as one frame of `format` (a compressed format).
    pub fn compress(&mut self, format: Format, data: &[u8]) -> io::Result<Vec<u8>> {
        let out = &mut self.scratch;
        match format {
            Format::TarZst => {
                out.clear();
                out.reserve(zstd::zstd_safe::compress_bound(data.len()));
                self.zstd.compress_to_buffer(data, out)?;
            }
            Format::TarGz => {
                let bound = self.gzip.gzip_compress_bound(data.len());
                if out.len() < bound {
                    // Fresh zeroed memory the kernel maps on first write: only the pages the
                    // frames reach become resident, not the whole bound.
                    *out = vec![0; bound];
                }
                let n = self.gzip.gzip_compress(data, out).map_err(|e| io::Error::other(format!("{e:?}")))?;
                return Ok(out[..n].to_vec());
            }
            Format::Tar => return Ok(data.to_vec()),
        }
        Ok(out.to_vec())
    }
}

/// What makes a frame's bytes: the image format, the compressor and its settings, the chunk.
pub fn key(image: ImageFormat, format: Format, chunk: &[u8; 32]) -> [u8; 32] {
    let compressor = match format {
        Format::TarZst => format!("zstd {} level {ZSTD_LEVEL} checksum", zstd::zstd_safe::version_string()),
        Format::TarGz => format!("libdeflater {LIBDEFLATER} level {} gzip", image.gzip_level()),
        Format::Tar => "none".to_string(),
    };
    let mut h = Sha256::new();
    h.update(format!("gild frame\0{}\0{}\0{compressor}\0", image.name(), format.extension()));
    h.update(chunk);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_libdeflater_is_the_locked_one() {
        let lock = include_str!("../../Cargo.lock");
        let entry = format!("name = \"libdeflater\"\nversion = \"{LIBDEFLATER}\"");
        assert!(lock.contains(&entry), "Cargo.lock pins another libdeflater than frame::LIBDEFLATER names");
    }

    #[test]
    fn frames_are_independent_members_and_frames() {
        let mut c = Compressors::new(ImageFormat::CURRENT).unwrap();
        let (a, b) = (b"first chunk ".repeat(100), b"second chunk".repeat(100));
        let mut gz = c.compress(Format::TarGz, &a).unwrap();
        gz.extend(c.compress(Format::TarGz, &b).unwrap());
        let mut out = Vec::new();
        io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&gz[..]), &mut out).unwrap();
        assert_eq!(out, [a.clone(), b.clone()].concat());
        let mut zst = c.compress(Format::TarZst, &a).unwrap();
        zst.extend(c.compress(Format::TarZst, &b).unwrap());
        assert_eq!(zstd::decode_all(&zst[..]).unwrap(), [a, b].concat());
    }

    /// The keys of `chunks-1` frames are what its baselines recorded: a key changed here would
    /// make every recorded frame a miss.
    #[test]
    fn chunks_1_keys_are_unchanged() {
        let key = key(ImageFormat::Chunks1, Format::TarGz, &[7u8; 32]);
        let mut h = Sha256::new();
        h.update(format!("gild frame\0chunks-1\0tar.gz\0libdeflater {LIBDEFLATER} level 4 gzip\0"));
        h.update([7u8; 32]);
        assert_eq!(key, <[u8; 32]>::from(h.finalize()));
    }

    #[test]
    fn keys_differ_by_format_and_chunk() {
        let (x, y) = ([1u8; 32], [2u8; 32]);
        let now = ImageFormat::CURRENT;
        assert_ne!(key(now, Format::TarZst, &x), key(now, Format::TarGz, &x));
        assert_ne!(key(now, Format::TarZst, &x), key(now, Format::TarZst, &y));
        assert_eq!(key(now, Format::TarZst, &x), key(now, Format::TarZst, &x));
        assert_ne!(key(ImageFormat::Chunks1, Format::TarGz, &x), key(ImageFormat::Chunks2, Format::TarGz, &x));
    }
}
