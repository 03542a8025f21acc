//! The image's tar stream: PAX, entries in path-byte order, names `./path`, numeric ids only,
//! no uname/gname/atime/ctime, mtimes already clamped by layering (docs/image-format.md).

use std::collections::HashMap;
use std::io::{self, Write};

use crate::progress::Progress;
use crate::spool::{Content, SpoolReader};
use crate::tree::{Kind, Node, Tree};

pub const BLOCK: usize = 512;

/// Where a tar stream goes: its bytes, and each file's data by reference, so that a chunked
/// writer can name a chunk by the digests of its contents without reading them.
pub trait TarOut {
    /// Called before each entry's first header, with the entry's name (`./path`) and data size.
    fn entry(&mut self, name: &[u8], data: u64) -> io::Result<()>;
    /// Header and padding bytes.
    fn bytes(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// One file's data, as stored in the spool.
    fn data(&mut self, content: &Content) -> io::Result<()>;
}

/// A plain tar stream into a writer, data copied from the spool.
pub struct Stream<'a, W: Write> {
    pub out: W,
    pub spool: &'a SpoolReader,
}

impl<W: Write> TarOut for Stream<'_, W> {
    fn entry(&mut self, _name: &[u8], _data: u64) -> io::Result<()> {
        Ok(())
    }

    fn bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }

    fn data(&mut self, content: &Content) -> io::Result<()> {
        self.spool.copy_to(content, &mut self.out)
    }
}

/// Writes the tar stream of the tree.
pub fn write_tar(tree: &Tree, out: &mut impl TarOut, progress: &dyn Progress) -> io::Result<()> {
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
                    out.entry(&name, 0)?;
                    entry(out, &name, node, b'1', 0, &link)?;
                    continue;
                }
                leaders.insert(c.id, path.clone());
                file(out, &name, node, c)?;
            }
            Kind::File(c) => file(out, &name, node, c)?,
            other => {
                out.entry(&name, 0)?;
                match other {
                    Kind::Dir => entry(out, &name, node, b'5', 0, b"")?,
                    Kind::Symlink(t) => entry(out, &name, node, b'2', 0, t)?,
                    Kind::Char(..) => entry(out, &name, node, b'3', 0, b"")?,
                    Kind::Block(..) => entry(out, &name, node, b'4', 0, b"")?,
                    Kind::Fifo => entry(out, &name, node, b'6', 0, b"")?,
                    Kind::File(_) => unreachable!("matched above"),
                }
            }
        }
    }
    out.bytes(&[0u8; 2 * BLOCK])
}

/// A regular file's entry: headers, data, padding.
fn file(out: &mut impl TarOut, name: &[u8], node: &Node, c: &Content) -> io::Result<()> {
    out.entry(name, c.size)?;
    entry(out, name, node, b'0', c.size, b"")?;
    out.data(c)?;
    pad(out, c.size)
}

fn pad(out: &mut impl TarOut, size: u64) -> io::Result<()> {
    let rest = (BLOCK - (size % BLOCK as u64) as usize) % BLOCK;
    out.bytes(&[0u8; BLOCK][..rest])
}

const OCTAL7_MAX: u64 = 0o7777777;
const OCTAL11_MAX: u64 = 0o77777777777;

/// One entry: a PAX header first when a value does not fit ustar.
fn entry(out: &mut impl TarOut, name: &[u8], node: &Node, flag: u8, size: u64, link: &[u8]) -> io::Result<()> {
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
        out.bytes(&header)?;
        out.bytes(&records)?;
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
    out.bytes(&header)
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

    #[test]
    fn octal_fields_are_zero_padded() {
        let mut f = [0u8; 8];
        octal(&mut f, 0o755);
        assert_eq!(&f, b"0000755\0");
    }
}
