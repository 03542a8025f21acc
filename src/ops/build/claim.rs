//! What a build may remove after a kill: only what it can prove it wrote (docs/baseline.md).
//!
//! A build writes outside its staged baseline: temporary images in `--out DIR`, then the images
//! at their final names, a moment before the commit point (the rename of the staged baseline).
//! A kill in between leaves them behind, and `--out` may be a directory the user shares with
//! files of their own. So before a build creates anything, it writes a *claim* beside its
//! records, `baselines/NAME/.gild-claim-S`, and appends to it (synced) every path it is about
//! to create: the staged baseline `.gild-tmp-S`, each temporary image `.gild-tmp-NAME@S.EXT`,
//! and each image it is about to rename into place with its size and sha256. The next build
//! of the image (under the lock) removes what claims list, an image only when it still holds
//! the claimed bytes and no baseline records it; anything else in `out/` or the records that
//! looks like gild's is reported and left in place.
//!
//! The claim's lines: `gild-claim 1`, `version V`, then `staged PATH`, `temp PATH`,
//! `image SHA256 SIZE PATH`, paths absolute and escaped as in `files.mtree`. A line is
//! appended before its path is created, so a torn last line claims nothing that exists.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::baseline::mtree::escape;
use crate::hex;
use crate::recipe::{Format, Version};
use crate::workspace::TMP_PREFIX;

/// Whether a baseline records an image: `(version, file name, sha256 when it must match)`.
pub type Recorded<'a> = dyn Fn(&str, &str, Option<&str>) -> bool + 'a;

/// A claim's first line.
const HEADER: &str = "gild-claim 1\n";

/// The prefix of a claim file in `baselines/NAME/`.
pub const CLAIM_PREFIX: &str = ".gild-claim-";

/// A build's claim, removed when the build ends either way (after what it lists is gone or
/// committed); left behind only by a kill.
pub struct Claim {
    path: PathBuf,
    file: File,
    /// The random part shared by everything the build names.
    stem: String,
}

impl Claim {
    /// Creates the claim of a build of `version` in `records` (the lock held).
    pub fn create(records: &Path, version: &Version) -> io::Result<Claim> {
        let tmp = tempfile::Builder::new().prefix(CLAIM_PREFIX).tempfile_in(records)?;
        let (file, path) = tmp.keep().map_err(|e| e.error)?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let stem = name.strip_prefix(CLAIM_PREFIX).unwrap_or(name).to_string();
        let mut claim = Claim { path, file, stem };
        claim.append(&format!("{HEADER}version {version}\n"))?;
        Ok(claim)
    }

    /// The staged baseline's directory, claimed before it is made.
    pub fn staged(&mut self, records: &Path) -> io::Result<tempfile::TempDir> {
        let dir = records.join(format!("{TMP_PREFIX}{}", self.stem));
        self.append(&format!("staged {}\n", escaped(&dir)))?;
        tempfile::Builder::new().prefix(&format!("{TMP_PREFIX}{}", self.stem)).rand_bytes(0).tempdir_in(records)
    }

    /// A temporary image in `out`, claimed before it is made (and made only if new).
    pub fn temp_image(&mut self, out: &Path, name: &str, format: Format) -> io::Result<tempfile::NamedTempFile> {
        let file = format!("{TMP_PREFIX}{name}@{}.{}", self.stem, format.extension());
        self.append(&format!("temp {}\n", escaped(&out.join(&file))))?;
        tempfile::Builder::new().prefix(&file).rand_bytes(0).tempfile_in(out)
    }

    /// An OCI layout about to be renamed into place at `dest`, with its manifest digest.
    pub fn layout(&mut self, dest: &Path, manifest: &str) -> io::Result<()> {
        self.append(&format!("layout {manifest} {}\n", escaped(dest)))
    }

    /// An image about to be renamed into place at `dest`, with what it must hold.
    pub fn image(&mut self, dest: &Path, sha256: &str, size: u64) -> io::Result<()> {
        self.append(&format!("image {sha256} {size} {}\n", escaped(dest)))
    }

    fn append(&mut self, line: &str) -> io::Result<()> {
        self.file.write_all(line.as_bytes())?;
        self.file.sync_data()
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Absolute, so a claim made with one `--out` is honoured by a build with another.
fn escaped(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    escape(abs.as_os_str().as_bytes())
}

fn unescaped(word: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    crate::tree::spec::unescape(word.as_bytes()).ok().map(|b| PathBuf::from(std::ffi::OsString::from_vec(b)))
}

/// One claim as read back.
#[derive(Debug, Default)]
struct Listed {
    version: Option<String>,
    staged: Vec<PathBuf>,
    temps: Vec<PathBuf>,
    images: Vec<(PathBuf, String, u64)>,
    layouts: Vec<(PathBuf, String)>,
}

fn read_claim(path: &Path) -> io::Result<Option<Listed>> {
    let text = fs::read(path)?;
    let mut claim = Listed::default();
    // Killed before its first line was whole: it claims nothing (nothing is created before
    // the line that claims it), and the file is the killed build's own.
    if HEADER.as_bytes().starts_with(&text) {
        return Ok(Some(claim));
    }
    let mut lines = text.split_inclusive(|&b| b == b'\n').filter_map(|l| l.strip_suffix(b"\n"));
    if lines.next() != Some(b"gild-claim 1") {
        return Ok(None);
    }
    for line in lines {
        let line = String::from_utf8_lossy(line);
        let words: Vec<&str> = line.split(' ').collect();
        match words[..] {
            ["version", v] => claim.version = Some(v.to_string()),
            ["staged", p] => claim.staged.extend(unescaped(p)),
            ["temp", p] => claim.temps.extend(unescaped(p)),
            ["layout", manifest, p] => claim.layouts.extend(unescaped(p).map(|p| (p, manifest.to_string()))),
            ["image", sha, size, p] => {
                if let (Some(p), Ok(size)) = (unescaped(p), size.parse()) {
                    claim.images.push((p, sha.to_string(), size));
                }
            }
            _ => {}
        }
    }
    Ok(Some(claim))
}

/// After a kill: removes what the claims in `records` list (an image only when it holds the
/// claimed bytes and no baseline records it), then the claims; returns what it found and left
/// in place, as warnings. `recorded(version, file, sha256)` tells whether a baseline records
/// that image (with that sha256, when given). Call with the lock held, before the build claims
/// anything.
pub fn clean(records: &Path, out: &Path, name: &str, recorded: &Recorded) -> io::Result<Vec<String>> {
    let mut warnings = Vec::new();
    let mut claimed: Vec<PathBuf> = Vec::new();
    for entry in read_dir(records)? {
        let file = entry.file_name();
        if !file.to_string_lossy().starts_with(CLAIM_PREFIX) {
            continue;
        }
        let path = entry.path();
        let Some(claim) = read_claim(&path)? else {
            warnings.push(format!("`{}` is not a claim gild can read; left in place", path.display()));
            continue;
        };
        let version = claim.version.unwrap_or_default();
        for dir in &claim.staged {
            remove(dir, true)?;
            claimed.push(dir.clone());
        }
        for temp in &claim.temps {
            remove(temp, false)?;
            claimed.push(temp.clone());
        }
        for (image, sha, size) in &claim.images {
            claimed.push(image.clone());
            let file = image.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            if recorded(&version, &file, Some(sha)) {
                continue;
            }
            match holds(image, sha, *size)? {
                Holds::Claimed => remove(image, false)?,
                Holds::Absent => {}
                Holds::Other => warnings.push(format!(
                    "`{}` was claimed by a killed build but no longer holds what it wrote; left in place",
                    image.display()
                )),
            }
        }
        for (dir, manifest) in &claim.layouts {
            claimed.push(dir.clone());
            let file = dir.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            if recorded(&version, &file, None) || !dir.exists() {
                continue;
            }
            // Only the layout this build wrote: its index names the claimed manifest.
            let index = fs::read_to_string(dir.join("index.json")).unwrap_or_default();
            if dir.join("oci-layout").is_file() && index.contains(manifest.as_str()) {
                fs::remove_dir_all(dir)?;
            } else {
                warnings.push(format!(
                    "`{}` was claimed by a killed build but no longer holds what it wrote; left in place",
                    dir.display()
                ));
            }
        }
        fs::remove_file(&path)?;
    }
    warnings.extend(unaccounted(records, out, name, &claimed, recorded)?);
    Ok(warnings)
}

enum Holds {
    Claimed,
    Absent,
    Other,
}

fn holds(path: &Path, sha: &str, size: u64) -> io::Result<Holds> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Holds::Absent),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() != size {
        return Ok(Holds::Other);
    }
    Ok(if hex::encode(&sha256_of(&mut file)?) == sha { Holds::Claimed } else { Holds::Other })
}

/// The sha256 of what `reader` holds.
pub fn sha256_of(reader: &mut impl Read) -> io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(hasher.finalize().into()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn remove(path: &Path, dir: bool) -> io::Result<()> {
    let r = if dir { fs::remove_dir_all(path) } else { fs::remove_file(path) };
    match r {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn read_dir(dir: &Path) -> io::Result<Vec<fs::DirEntry>> {
    match fs::read_dir(dir) {
        Ok(entries) => entries.collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// What looks like gild's in `out` and `records` but no claim lists: a temporary of this
/// image, an image of it that no baseline records, a staged baseline. Reported, never removed.
fn unaccounted(
    records: &Path,
    out: &Path,
    name: &str,
    claimed: &[PathBuf],
    recorded: &Recorded,
) -> io::Result<Vec<String>> {
    let is_claimed = |p: &Path| {
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        claimed.contains(&abs)
    };
    let mut warnings = Vec::new();
    for entry in read_dir(records)? {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with(TMP_PREFIX) && entry.file_type()?.is_dir() && !is_claimed(&entry.path()) {
            warnings.push(format!(
                "`{}` looks like a staged baseline, but no claim of a killed build lists it; left in place (remove it if it is a leftover)",
                entry.path().display()
            ));
        }
    }
    for entry in read_dir(out)? {
        let file = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if is_claimed(&path) {
            continue;
        }
        if file.starts_with(&format!("{TMP_PREFIX}{name}@")) {
            warnings.push(format!(
                "`{}` looks like a temporary image, but no claim of a killed build lists it; left in place",
                path.display()
            ));
            continue;
        }
        let Some(version) = image_version(&file, name) else { continue };
        if !recorded(version, &file, None) {
            warnings.push(format!(
                "`{}` is named like an image of `{name}` but no baseline records it; gild did not write it (or cannot prove it did), so it is left in place",
                path.display()
            ));
        }
    }
    Ok(warnings)
}

/// The version in `NAME-VERSION.EXT`, when `file` is named like an image of `name`.
fn image_version<'a>(file: &'a str, name: &str) -> Option<&'a str> {
    let rest = file.strip_prefix(name)?.strip_prefix('-')?;
    [Format::TarZst, Format::TarGz, Format::Tar]
        .iter()
        .find_map(|f| rest.strip_suffix(&format!(".{}", f.extension())))
        .filter(|v| Version::parse(v).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_are_told_by_name_version_and_format() {
        assert_eq!(image_version("demo-1.0.0.tar.zst", "demo"), Some("1.0.0"));
        assert_eq!(image_version("demo-1.0.0.tar", "demo"), Some("1.0.0"));
        assert_eq!(image_version("demo-x.tar", "demo"), None);
        assert_eq!(image_version("demox-1.0.0.tar", "demo"), None);
        assert_eq!(image_version("demo-1.0.0.tar.xz", "demo"), None);
    }

    /// A claim lists paths before they exist; reading it back gives them, whatever bytes
    /// their names hold, and a torn last line claims nothing.
    #[test]
    fn a_claim_reads_back_with_odd_paths_and_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let v = Version::parse("1.2.3").unwrap();
        let mut claim = Claim::create(dir.path(), &v).unwrap();
        let odd = dir.path().join("out dir\n#=x").join("demo-1.2.3.tar.zst");
        claim.image(&odd, "ab", 7).unwrap();
        claim.file.write_all(b"temp /never-finish").unwrap();
        let read = read_claim(&claim.path).unwrap().unwrap();
        assert_eq!(read.version.as_deref(), Some("1.2.3"));
        assert_eq!(read.images, vec![(std::path::absolute(&odd).unwrap(), "ab".to_string(), 7)]);
        assert!(read.temps.is_empty(), "{:?}", read.temps);
        let path = claim.path.clone();
        drop(claim);
        assert!(!path.exists(), "a claim is removed when its build ends");
    }

    /// A build killed between creating its claim and writing its first line leaves an empty
    /// (or torn) claim: it claims nothing, and the next build removes it.
    #[test]
    fn a_claim_killed_before_its_first_line_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        for torn in [&b""[..], b"gild-cl"] {
            std::fs::write(dir.path().join(format!("{CLAIM_PREFIX}torn")), torn).unwrap();
            let warnings = clean(dir.path(), dir.path(), "demo", &|_, _, _| false).unwrap();
            assert!(warnings.is_empty(), "{warnings:?}");
            assert!(!dir.path().join(format!("{CLAIM_PREFIX}torn")).exists());
        }
        std::fs::write(dir.path().join(format!("{CLAIM_PREFIX}other")), b"not a claim\n").unwrap();
        let warnings = clean(dir.path(), dir.path(), "demo", &|_, _, _| false).unwrap();
        assert_eq!(warnings.len(), 1, "anything else is left in place: {warnings:?}");
    }
}
