//! `gild prune NAME [--keep N]`: removes the images in `out/` of versions no channel runs and
//! that are not among the newest N not revoked. Only files gild can prove are its images go:
//! a file whose name and sha256 a baseline records. Anything else is reported and left, and
//! baselines are never removed (they are the record).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::error::{Error, Report};
use crate::hex;
use crate::ops::build::Notify;
use crate::ops::{display_path, Context};
use crate::recipe::Version;
use crate::rollout::Versions;

#[derive(Debug, Clone)]
pub struct PruneOptions {
    pub name: String,
    /// How many of the newest versions not revoked keep their images.
    pub keep: usize,
    /// Where the images are (default: `out/` in the workspace).
    pub out: Option<PathBuf>,
}

pub struct PruneReport {
    pub name: String,
    pub keep: usize,
    /// Removed images: file (relative to the workspace), version, size.
    pub removed: Vec<(String, String, u64)>,
    /// Versions whose images stay, and why.
    pub kept: Vec<(String, String)>,
    /// Files left alone that look like this image's, and why.
    pub left: Vec<(String, String)>,
}

pub fn prune(ctx: &Context, opts: &PruneOptions, notify: Notify) -> Result<PruneReport, Error> {
    let ws = ctx.workspace()?;
    let name = crate::ops::log::image_name(&ws, &opts.name)?;
    if opts.keep == 0 {
        return Err(Error::Usage(
            Report::new("`--keep 0` would leave no image of the newest version").help("keep at least 1"),
        ));
    }
    let out = match &opts.out {
        Some(d) => ctx.base()?.join(d),
        None => ws.out(),
    };
    let _lock = ws
        .lock(&name, || notify(&format!("waiting for another gild working on `{name}`…")))
        .map_err(Error::io(format!("cannot lock `{}`", ws.baselines(&name).display())))?;
    let versions = Versions::load(&ws.baselines(&name), &name)?;

    let mut kept: BTreeMap<Version, Vec<String>> = BTreeMap::new();
    let usable = versions.recorded.iter().rev().filter(|(v, _)| !versions.is_revoked(v));
    for (i, (v, _)) in usable.take(opts.keep).enumerate() {
        kept.entry(v.clone()).or_default().push(if i == 0 { "newest".into() } else { format!("newest {}", i + 1) });
    }
    for (channel, v) in versions.channels.current_all() {
        if let Ok(v) = Version::parse(&v) {
            kept.entry(v).or_default().push(format!("runs in {channel}"));
        }
    }

    let mut report =
        PruneReport { name: name.clone(), keep: opts.keep, removed: Vec::new(), kept: Vec::new(), left: Vec::new() };
    let mut recorded_files = std::collections::HashSet::new();
    for (v, dir) in &versions.recorded {
        let record = super::read_record(&dir.join("baseline.toml"))?;
        for image in &record.image {
            recorded_files.insert(image.file.clone());
            if kept.contains_key(v) {
                continue;
            }
            let path = out.join(&image.file);
            let shown = display_path(&path, &ws.root);
            match std::fs::symlink_metadata(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(format!("cannot read `{shown}`"))(e)),
                Ok(m) if !m.file_type().is_file() => {
                    report.left.push((shown, "not a regular file, so not an image gild wrote".into()));
                    continue;
                }
                Ok(_) => {}
            }
            let (size, sha256) = digest(&path).map_err(Error::io(format!("cannot read `{shown}`")))?;
            if sha256 != image.sha256 {
                report.left.push((shown, format!("its sha256 is not the one {name} {v} records")));
                continue;
            }
            std::fs::remove_file(&path).map_err(Error::io(format!("cannot remove `{shown}`")))?;
            report.removed.push((shown, v.to_string(), size));
        }
    }
    report.kept = kept.into_iter().rev().map(|(v, why)| (v.to_string(), why.join(", "))).collect();
    // Files that look like this image's but that no baseline records are someone else's.
    if let Ok(entries) = std::fs::read_dir(&out) {
        let mut others: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|f| f.starts_with(&format!("{name}-")) && !recorded_files.contains(f))
            .collect();
        others.sort();
        for f in others {
            report.left.push((display_path(&out.join(&f), &ws.root), "no baseline records it".into()));
        }
    }
    Ok(report)
}

fn digest(path: &std::path::Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex::encode(&hasher.finalize())))
}
