//! `gild defer RECIPE ID --reason …`: a decision not to apply a patch, kept with its reason.
//!
//! A listed patch moves from `[[patch]]` to `[[deferred]]` with every key it had, so
//! `--undo` can put it back (at the end of the list, verified again). A patch the recipe does
//! not list gets a `[[deferred]]` of its own; deferring one already deferred updates the
//! decision. `--drop` removes a patch (listed or deferred) from the recipe altogether: the way
//! back from an intake that should not have been, with the id and the artifact free to take
//! again; the journal keeps both events. Same lock, check and rename as `intake`.

use serde_json::{json, Map};

use crate::error::Error;
use crate::hex;
use crate::ops::build::Notify;
use crate::ops::{date_arg, display_path, Context, RecipeEdit};
use crate::recipe;
use crate::recipe::edit::{Decision, Deferral};
use crate::workspace;

#[derive(Debug, Clone, Default)]
pub struct DeferOptions {
    pub recipe: String,
    pub id: String,
    /// Required unless `undo`; with `undo`, why it comes back (journaled).
    pub reason: Option<String>,
    pub mitigation: Option<String>,
    pub review_by: Option<String>,
    pub undo: bool,
    /// Remove the patch from the recipe (needs `reason`).
    pub drop: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Deferred(Deferral),
    /// Moved back to the end of `[[patch]]`.
    Restored,
    /// Removed from the recipe; the section it was in.
    Dropped(&'static str),
}

pub struct DeferReport {
    pub name: String,
    pub recipe: String,
    pub id: String,
    pub action: Action,
    pub reason: Option<String>,
    pub mitigation: Option<String>,
    pub review_by: Option<String>,
}

pub fn defer(ctx: &Context, opts: &DeferOptions, notify: Notify) -> Result<DeferReport, Error> {
    let review_by = opts.review_by.as_deref().map(|d| date_arg("--review-by", d)).transpose()?;
    let RecipeEdit { ws, path, text, recipe, mut editor, _lock } = RecipeEdit::open(ctx, &opts.recipe, notify)?;
    let mut details = Map::new();
    details.insert("name".into(), json!(recipe.name));
    details.insert("id".into(), json!(opts.id));
    let (action, event) = if opts.undo {
        editor.undefer(&opts.id)?;
        (Action::Restored, "undefer")
    } else if opts.drop {
        if opts.reason.as_deref().map_or(true, |r| r.trim().is_empty()) {
            return Err(Error::usage("`--drop` needs `--reason`: the journal keeps why a patch left the recipe"));
        }
        let (section, sha256) = editor.drop(&opts.id)?;
        details.insert("section".into(), json!(section));
        if let Some(sha) = sha256 {
            details.insert("sha256".into(), json!(sha));
        }
        (Action::Dropped(section), "drop")
    } else {
        let reason = opts
            .reason
            .clone()
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| Error::usage("a deferral needs `--reason`: the rationale is what auditors read"))?;
        let decision = Decision { reason, mitigation: opts.mitigation.clone(), review_by };
        (Action::Deferred(editor.defer(&opts.id, &decision)?), "defer")
    };
    let new_text = editor.to_text();
    let checked = recipe::parse(&path, &new_text)?;
    if action == Action::Restored {
        // Coming back into the build: its pin and signatures must still hold.
        let patch = checked.patches.last().expect("undefer appends a patch");
        let mut refused = details.clone();
        refused.insert("command".into(), json!("defer --undo"));
        super::verify_or_refuse(&ws, &checked, &patch.artifact, refused)?;
        details.insert("sha256".into(), json!(hex::encode(&patch.artifact.sha256)));
    }
    workspace::replace_file(&path, new_text.as_bytes())
        .map_err(Error::io(format!("cannot write `{}`", path.display())))?;

    if let Action::Deferred(how) = action {
        details.insert(
            "action".into(),
            json!(match how {
                Deferral::Moved => "moved",
                Deferral::Updated => "updated",
                Deferral::Recorded => "recorded",
            }),
        );
        if how == Deferral::Moved {
            if let Some(p) = recipe.patches.iter().find(|p| p.artifact.id == opts.id) {
                details.insert("sha256".into(), json!(hex::encode(&p.artifact.sha256)));
            }
        }
    }
    if let Some(r) = &opts.reason {
        details.insert("reason".into(), json!(r));
    }
    if let Some(m) = &opts.mitigation {
        details.insert("mitigation".into(), json!(m));
    }
    if let Some(d) = review_by {
        details.insert("review-by".into(), json!(d.to_string()));
    }
    details.insert("recipe".into(), json!(hex::encode(&checked.sha256)));
    super::journal_append(&ws, &recipe.name, event, details, || super::put_back(&path, &text))?;

    Ok(DeferReport {
        name: recipe.name.clone(),
        recipe: display_path(&path, &ws.root),
        id: opts.id.clone(),
        action,
        reason: opts.reason.clone(),
        mitigation: opts.mitigation.clone(),
        review_by: review_by.map(|d| d.to_string()),
    })
}
