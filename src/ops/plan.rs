//! `gild plan [RECIPE…] [--today DATE]`: approved patches not yet in a recorded baseline,
//! by priority, with due dates; deferrals past their review date. Exit 1 when anything is
//! overdue, so CI can gate on it.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::baseline::Record;
use crate::date::Date;
use crate::error::{Error, Report};
use crate::hex;
use crate::ops::{date_arg, display_path, today, Context};
use crate::plan::{self, Pending, Review};
use crate::recipe::{self, Recipe};

#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Empty: every recipe in the workspace.
    pub recipes: Vec<String>,
    pub today: Option<String>,
}

pub struct PlanReport {
    pub today: Date,
    /// Highest priority first.
    pub patches: Vec<Pending>,
    pub reviews: Vec<Review>,
    /// Each image looked at, with its newest recorded version.
    pub images: Vec<(String, Option<String>)>,
}

impl PlanReport {
    pub fn overdue(&self) -> usize {
        self.patches.iter().filter(|p| p.overdue(self.today)).count()
    }

    /// 1 when a patch is overdue or a deferral is past its review date.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.overdue() > 0 || !self.reviews.is_empty())
    }
}

pub fn plan(ctx: &Context, opts: &PlanOptions) -> Result<PlanReport, Error> {
    let today = match &opts.today {
        Some(d) => date_arg("--today", d)?,
        None => today()?,
    };
    let (ws, paths) = if opts.recipes.is_empty() {
        let ws = ctx.workspace()?;
        let paths = all_recipes(&ws.root.join("recipes"))?;
        (ws, paths)
    } else {
        let mut ws = None;
        let mut paths = Vec::new();
        for arg in &opts.recipes {
            let (w, p) = ctx.recipe_path(arg)?;
            ws.get_or_insert(w);
            paths.push(p);
        }
        (ws.expect("at least one recipe"), paths)
    };
    let mut report = PlanReport { today, patches: Vec::new(), reviews: Vec::new(), images: Vec::new() };
    for path in paths {
        let recipe = recipe::load(&path)?;
        let shown = display_path(&ws.root.join(&path), &ws.root);
        let records = ws.baselines(&recipe.name);
        // A patch counts as built when the newest version that is not revoked has it.
        let versions = crate::rollout::Versions::load(&records, &recipe.name)?;
        let newest = versions.newest();
        let built: BTreeSet<(String, String)> = match newest {
            Some((_, dir)) => {
                read_record(&dir.join("baseline.toml"))?.patch.into_iter().map(|p| (p.id, p.sha256)).collect()
            }
            None => BTreeSet::new(),
        };
        report.images.push((recipe.name.clone(), newest.map(|(v, _)| v.to_string())));
        pending(&recipe, &shown, &built, &mut report.patches)?;
        for d in &recipe.deferred {
            let Some(review_by) = &d.review_by else { continue };
            let review_by = date_of(review_by, &shown, &d.id, "review-by")?;
            if today > review_by {
                report.reviews.push(Review {
                    image: recipe.name.clone(),
                    recipe: shown.clone(),
                    id: d.id.clone(),
                    reason: d.reason.clone(),
                    mitigation: d.mitigation.clone(),
                    review_by,
                });
            }
        }
    }
    report.patches.sort_by(plan::priority);
    report.reviews.sort_by(|a, b| a.review_by.cmp(&b.review_by).then_with(|| a.image.cmp(&b.image)));
    Ok(report)
}

/// The recipe's patches whose id and pin the newest baseline does not hold.
fn pending(
    recipe: &Recipe,
    shown: &str,
    built: &BTreeSet<(String, String)>,
    out: &mut Vec<Pending>,
) -> Result<(), Error> {
    for p in &recipe.patches {
        let id = &p.artifact.id;
        if built.contains(&(id.clone(), hex::encode(&p.artifact.sha256))) {
            continue;
        }
        let released = p.released.as_ref().map(|r| date_of(r, shown, id, "released")).transpose()?;
        let approved = date_of(&p.approval.date, shown, id, "approval.date")?;
        out.push(Pending {
            image: recipe.name.clone(),
            recipe: shown.to_string(),
            id: id.clone(),
            severity: p.severity,
            exploited: p.exploited,
            fixes: p.fixes.clone(),
            released,
            approved,
            exposure: recipe.exposure,
            criticality: recipe.criticality,
            due: plan::due_date(recipe.policy.as_ref(), p.severity, p.exploited, released, approved),
        });
    }
    Ok(())
}

fn date_of(dt: &toml::value::Datetime, recipe: &str, id: &str, key: &str) -> Result<Date, Error> {
    Date::from_toml(dt).ok_or_else(|| {
        Error::Usage(
            Report::new(format!("`{recipe}`: `{id}`: `{key} = {dt}` is not a date")).help("write it as YYYY-MM-DD"),
        )
    })
}

fn all_recipes(dir: &std::path::Path) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(Error::io(format!("cannot read `{}`", dir.display())))? {
        let entry = entry.map_err(Error::io(format!("cannot read `{}`", dir.display())))?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn read_record(path: &std::path::Path) -> Result<Record, Error> {
    let text = std::fs::read_to_string(path).map_err(Error::io(format!("cannot read `{}`", path.display())))?;
    Record::from_toml(&text).map_err(|e| {
        Error::Corrupt(Report::new(format!("`{}` is not a baseline record", path.display())).cause(e.message()))
    })
}
