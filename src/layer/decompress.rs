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
