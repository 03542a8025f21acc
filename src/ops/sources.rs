//! Where the comparing commands find their tree sources: paths relative to where gild runs
//! (or `-C DIR`), baseline references in the workspace, limits from `--limit`.

use crate::error::Error;
use crate::limits::Limits;
use crate::ops::Context;
use crate::tree::source::Locator;
use crate::workspace::Workspace;

pub(crate) fn locator(ctx: &Context) -> Result<Locator, Error> {
    let base = ctx.base()?;
    let workspace = Workspace::find(ctx.dir.as_ref().map(|_| base.as_path()), &base);
    let mut limits = Limits::default();
    for arg in &ctx.limits {
        limits.apply_arg(arg).map_err(Error::usage)?;
    }
    Ok(Locator { base, workspace, limits, progress: ctx.progress.clone(), reach: Default::default() })
}
