//! `gild man DIR`: writes the man pages (rendered from the command line's definition by
//! `cli`) into DIR, each replaced whole.

use std::path::Path;

use crate::error::Error;
use crate::ops::{display_path, Context};

pub struct ManReport {
    /// The files written, as the user would name them.
    pub pages: Vec<String>,
}

pub fn install(ctx: &Context, dir: &Path, pages: &[(String, Vec<u8>)]) -> Result<ManReport, Error> {
    let base = ctx.base()?;
    let dir = base.join(dir);
    std::fs::create_dir_all(&dir).map_err(Error::io(format!("cannot create `{}`", dir.display())))?;
    let mut written = Vec::new();
    for (file, roff) in pages {
        let path = dir.join(file);
        crate::workspace::replace_file(&path, roff).map_err(Error::io(format!("cannot write `{}`", path.display())))?;
        written.push(display_path(&path, &base));
    }
    Ok(ManReport { pages: written })
}
