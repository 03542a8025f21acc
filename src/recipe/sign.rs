//! `[sign]`: the build key that signs every baseline, and the keys that may have signed one.

use toml::Spanned;

use super::raw::RawSign;
use super::{Checker, RecipeError, Version};
use crate::sign::{SecretSource, SignPolicy};
use crate::trust::PublicKey;

impl Checker<'_> {
    pub(super) fn sign(&self, raw: Spanned<RawSign>) -> Result<SignPolicy, RecipeError> {
        let loc = &self.loc;
        let span = raw.span();
        let raw = raw.into_inner();
        let key = match (raw.key.get_ref().file.as_ref(), raw.key.get_ref().env.as_ref()) {
            (Some(file), None) => SecretSource::File(self.dir.join(file)),
            (None, Some(var)) if !var.is_empty() => SecretSource::Env(var.clone()),
            _ => return Err(loc.at(&raw.key, "`[sign] key` needs exactly one of `file` or `env`")),
        };
        if raw.public.is_empty() {
            return Err(loc.error(
                span,
                "`[sign]` needs `public`: the public keys a baseline's signature may come from".into(),
                Some("public = [\"keys/build.pub\"]".into()),
            ));
        }
        let mut public = Vec::new();
        for file in &raw.public {
            let path = self.dir.join(file.get_ref());
            let text = std::fs::read_to_string(&path)
                .map_err(|e| loc.at(file, format!("`[sign] public`: cannot read `{}`: {e}", path.display())))?;
            let key = PublicKey::from_pub_file(&text).map_err(|why| {
                loc.at(file, format!("`[sign] public`: `{}` is not a minisign public key: {why}", path.display()))
            })?;
            public.push((file.get_ref().clone(), key));
        }
        let since = match &raw.since {
            None => None,
            Some(v) => Some(
                Version::parse(v.get_ref())
                    .map_err(|why| loc.at(v, format!("`[sign] since = {}`: {why}", v.get_ref())))?,
            ),
        };
        Ok(SignPolicy { key, public, since })
    }
}
