//! The `.deb` itself: split for the layering thread (its control tar first, then the
//! decompressed `data.tar`), and read through for `intake`.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read};

use super::{package, CONTROL_MAX};
use crate::deb::ar::Deb;
use crate::layer::decompress::{self, Compression, Sink};
use crate::layer::tar::{self, Archive};
use crate::layer::{components, EntryError};
use crate::limits::Limits;
use crate::tree;

/// Splits a verified `.deb` for the layering thread: the control tar's length (8 bytes, little
/// endian) and bytes, then the decompressed `data.tar`. Returns the data's compression.
pub(crate) fn decode_deb(input: &mut impl Read, limits: &Limits, sink: &mut impl Sink) -> io::Result<Compression> {
    let mut deb = match Deb::open(input) {
        Ok(d) => d,
        Err(e) => return Err(failed(sink, io::Error::other(e))),
    };
    let control = match read_control_member(&mut deb, limits) {
        Ok(c) => c,
        Err(e) => return Err(failed(sink, e)),
    };
    let kind = {
        let member = match deb.data() {
            Ok(m) => m,
            Err(e) => return Err(failed(sink, io::Error::other(e))),
        };
        let name = member.name.clone();
        let mut member = BufReader::new(member);
        let bzip2 = match member.fill_buf() {
            Ok(head) => head.starts_with(b"BZh"),
            Err(e) => return Err(failed(sink, io::Error::other(format!("member `{name}`: {e}")))),
        };
        // dpkg still reads `data.tar.bz2` (old packages); gild's layers never are.
        let (kind, data): (Compression, Box<dyn Read>) = if bzip2 {
            (Compression::None, Box::new(bzip2::bufread::MultiBzDecoder::new(member)))
        } else {
            match decompress::decoder(member, limits) {
                Ok(d) => d,
                Err(e) => return Err(failed(sink, io::Error::other(format!("member `{name}`: {e}")))),
            }
        };
        let frame = io::Cursor::new((control.len() as u64).to_le_bytes()).chain(io::Cursor::new(control));
        sink.pump(&mut frame.chain(data))?;
        kind
    };
    deb.finish().map_err(io::Error::other)?;
    Ok(kind)
}

fn failed(sink: &mut impl Sink, e: io::Error) -> io::Error {
    sink.fail(&e);
    e
}

fn read_control_member<R: Read>(deb: &mut Deb<R>, limits: &Limits) -> io::Result<Vec<u8>> {
    let member = deb.control().map_err(io::Error::other)?;
    let name = member.name.clone();
    let (_, reader) = decompress::decoder(BufReader::new(member), limits)
        .map_err(|e| io::Error::other(format!("member `{name}`: {e}")))?;
    let mut out = Vec::new();
    reader.take(CONTROL_MAX + 1).read_to_end(&mut out)?;
    if out.len() as u64 > CONTROL_MAX {
        return Err(io::Error::other(format!(
            "member `{name}` unpacks to more than {} MiB; no real package's control data is that large",
            CONTROL_MAX >> 20
        )));
    }
    Ok(out)
}

/// The control tar's members by name (`control`, `md5sums`, `postinst`…).
pub(super) struct Control {
    pub(super) members: BTreeMap<String, Vec<u8>>,
    pub(super) mtime: i64,
}

pub(super) fn parse_control_tar(bytes: &[u8], limits: &Limits) -> Result<Control, String> {
    let mut archive = Archive::new(bytes, *limits);
    let mut members = BTreeMap::new();
    let mut mtime = 0;
    while let Some(h) = archive.next_entry().map_err(|e| format!("control tar: {e}"))? {
        let name = String::from_utf8_lossy(&h.path).trim_start_matches("./").trim_end_matches('/').to_string();
        match h.kind {
            tar::Kind::Dir if name.is_empty() || name == "." => mtime = h.mtime,
            tar::Kind::File if !name.is_empty() && !name.contains('/') => {
                let mut data = Vec::new();
                archive.data().read_to_end(&mut data).map_err(|e| format!("control tar, `{name}`: {e}"))?;
                mtime = mtime.max(h.mtime);
                members.insert(name, data);
            }
            _ => return Err(format!("control tar: unexpected entry `{}`", String::from_utf8_lossy(&h.path))),
        }
    }
    if !members.contains_key("control") {
        return Err("control tar has no `control` file".into());
    }
    Ok(Control { members, mtime })
}

/// What `intake` needs to know of a `.deb` before it goes into a recipe.
#[derive(Debug, Clone)]
pub struct Inspected {
    pub package: String,
    pub version: String,
    pub architecture: String,
    /// `usr/share/doc/PACKAGE/changelog.Debian.gz` as the package ships it, if it does.
    pub changelog: Option<Vec<u8>>,
}

/// Why a `.deb` could not be inspected.
#[derive(Debug)]
pub enum InspectError {
    /// The package changed since it was verified (a trust failure, whatever else went wrong).
    Changed(crate::trust::TrustError),
    /// It is not a package gild can install.
    Invalid(String),
}

/// Reads a verified `.deb` through: its control file, and its changelog from `data.tar`. The
/// whole package is read, so one that gild could not layer is refused here, not at the build.
pub fn inspect(artifact: &crate::trust::Verified, limits: &Limits) -> Result<Inspected, InspectError> {
    let (writer, pipe) = decompress::pipe();
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || crate::layer::decode(artifact, limits, writer));
        let read = read_inspected(pipe, limits);
        let produced = producer
            .join()
            .unwrap_or_else(|_| crate::layer::Decoded::failed(io::Error::other("the decompression thread panicked")));
        if let Some(changed) = produced.changed(artifact) {
            return Err(InspectError::Changed(changed));
        }
        let inspected = read.map_err(InspectError::Invalid)?;
        produced.result.map_err(|e| InspectError::Invalid(e.to_string()))?;
        produced.digest.map_err(|e| InspectError::Invalid(e.to_string()))?;
        Ok(inspected)
    })
}

fn read_inspected(mut stream: impl BufRead, limits: &Limits) -> Result<Inspected, String> {
    let mut len = [0u8; 8];
    stream.read_exact(&mut len).map_err(|e| e.to_string())?;
    let mut control = Vec::new();
    (&mut stream).take(u64::from_le_bytes(len)).read_to_end(&mut control).map_err(|e| e.to_string())?;
    let control = parse_control_tar(&control, limits)?;
    let pkg = package(&control).map_err(|e| match e {
        EntryError::Refused(why) => why.why,
        EntryError::Tar(e) => e.to_string(),
        EntryError::Spool(e) => e.to_string(),
    })?;
    let wanted = format!("usr/share/doc/{}/changelog.Debian.gz", pkg.name);
    let mut changelog = None;
    let mut archive = Archive::new(stream, *limits);
    while let Some(h) = archive.next_entry().map_err(|e| format!("data.tar: {e}"))? {
        components(&h.path).map_err(|e| match e {
            EntryError::Refused(why) => format!("data.tar, `{}`: {why}", String::from_utf8_lossy(&h.path)),
            _ => "data.tar: unreadable entry".to_string(),
        })?;
        if h.kind == tar::Kind::File && tree::clean_path(&h.path).is_some_and(|p| p == wanted.as_bytes()) {
            let mut bytes = Vec::new();
            archive.data().take(CONTROL_MAX).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
            changelog = Some(bytes);
        }
    }
    Ok(Inspected { package: pkg.name, version: pkg.version.to_string(), architecture: pkg.arch, changelog })
}
