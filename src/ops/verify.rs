//! `gild verify RECIPE`: every artifact's pin and signatures, nothing built.

use crate::error::Error;
use crate::ops::Context;
use crate::trust::{self, Ignored, Signer};

/// One artifact's verdict.
pub struct ArtifactResult {
    pub id: String,
    pub artifact: String,
    pub sha256: String,
    pub signers: Vec<Signer>,
    pub ignored: Vec<Ignored>,
}

pub struct VerifyReport {
    pub name: String,
    pub version: String,
    pub artifacts: Vec<ArtifactResult>,
    /// Every artifact that failed, in recipe order.
    pub failures: Vec<Error>,
}

pub fn verify(ctx: &Context, recipe_arg: &str) -> Result<VerifyReport, Error> {
    let (_, recipe) = ctx.recipe(recipe_arg)?;
    let mut artifacts = Vec::new();
    let mut failures = Vec::new();
    for spec in recipe.artifacts() {
        match trust::verify(spec, &recipe.keys) {
            Ok(v) => artifacts.push(ArtifactResult {
                id: spec.id.clone(),
                artifact: spec.written.clone(),
                sha256: crate::hex::encode(&spec.sha256),
                signers: v.signers.clone(),
                ignored: v.ignored.clone(),
            }),
            Err(e) => failures.push(Error::from(e)),
        }
    }
    Ok(VerifyReport { name: recipe.name.clone(), version: recipe.version.to_string(), artifacts, failures })
}

impl VerifyReport {
    pub fn exit_code(&self) -> u8 {
        self.failures.iter().map(Error::exit_code).max().unwrap_or(0)
    }
}
