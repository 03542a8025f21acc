//! Verifying the artifacts and layering them: the base decoded or read from its index, the
//! patches decoded ahead (or read decoded from the cache), and the order trust failures are
//! reported and journaled in.

use super::*;

/// Where layering starts: from a cached base index, or by decoding the base (and then taking
/// a snapshot of it for the index when there is a cache).
pub(super) enum Start {
    Index(Box<layer::index::BaseIndex>),
    Decode { snapshot: bool },
}

/// The layered tree, what each patch changed, the base's top-level symlinks, its packages and
/// the digests a package install checks.
type LayerAll = (Layered, Vec<Changes>, Vec<(Vec<u8>, Vec<u8>)>, Option<layer::Packages>, BaseDigests);

/// The base's sha256 of the files a Debian package's install touches (`etc/`, `var/lib/dpkg/`).
pub(super) type BaseDigests = std::collections::HashMap<Vec<u8>, [u8; 32]>;

/// Verifies every artifact and layers them, keeping both cores busy.
///
/// A worker verifies the patches and then decodes them ahead, in order, into temporary files
/// (or reads them decoded from the cache), while this thread verifies the base and layers it
/// (its decompression on a second thread): by the time the base is read, the patches wait
/// decoded. No byte of an artifact is decompressed before its own verification, and no patch
/// is layered before every patch is verified. When a base index spares the build from reading
/// the base, the base is verified on a thread of its own instead, and the caller settles it
/// ([`BaseCheck::settle`]) before it publishes anything. A base that fails verification is
/// the one refusal reported and journaled, whatever else failed; otherwise the first patch
/// that failed, in recipe order.
pub(super) fn verify_and_layer<'a>(
    ws: &Workspace,
    recipe: &'a Recipe,
    limits: crate::limits::Limits,
    epoch: Option<i64>,
    start: Start,
    reuse: Option<&layer::decoded::Reuse>,
    progress: &dyn Progress,
) -> Result<(BaseCheck, Vec<Verified>, LayerAll, Option<layer::index::Snapshot>), Error> {
    let patches: Vec<&ArtifactSpec> = recipe.patches.iter().map(|p| &p.artifact).collect();
    let stopped = || Error::io("cannot verify the patches")(std::io::Error::other("the worker thread stopped"));
    let mut base = match &start {
        // The index spares the build from reading the base: it is verified meanwhile.
        Start::Index(_) => {
            let (spec, keys) = (recipe.base.clone(), recipe.keys.clone());
            BaseCheck::Pending(std::thread::spawn(move || trust::verify(&spec, &keys)))
        }
        // Verified below, while the worker verifies the patches and starts decoding them.
        Start::Decode { .. } => BaseCheck::Failed(None),
    };
    let layered = std::thread::scope(|scope| -> Result<_, Failed<'a>> {
        let (checked_tx, checked) = mpsc::channel();
        let (ahead_tx, ahead) = mpsc::channel();
        let worker_patches = patches.clone();
        scope.spawn(move || {
            let mut ok = Vec::new();
            for spec in worker_patches {
                let v = trust::verify(spec, &recipe.keys).map(Arc::new);
                let failed = v.is_err();
                if let Ok(v) = &v {
                    ok.push(Arc::clone(v));
                }
                if checked_tx.send(v).is_err() || failed {
                    return;
                }
            }
            drop(checked_tx);
            layer::decode_ahead(ok.iter().map(|v| &**v), &limits, reuse, ahead_tx);
        });

        if let Start::Decode { .. } = start {
            base = BaseCheck::Done(
                trust::verify(&recipe.base, &recipe.keys).map_err(|e| Failed::Refused(&recipe.base, e))?,
            );
        }
        let mut verified = Vec::new();
        for spec in &patches {
            match checked.recv().map_err(|_| stopped())? {
                Ok(v) => verified.push(v),
                Err(e) => return Err(Failed::Refused(spec, e)),
            }
        }

        // An artifact rewritten after its verification is found while it is layered: a trust
        // failure like any other, journaled as one `refused` line.
        let refused = |spec: &'a ArtifactSpec, e: layer::LayerError| match e {
            layer::LayerError::Trust(t) => Failed::Refused(spec, t),
            e => Failed::Other(Error::from(e)),
        };
        let spool_err = Error::io("cannot create the spool file");
        let (mut layering, snapshot) = match (start, &base) {
            (Start::Index(index), _) => {
                (Layering::from_index(limits, recipe.allow_devices, epoch, *index).map_err(spool_err)?, None)
            }
            (Start::Decode { snapshot }, BaseCheck::Done(verified)) => {
                let mut layering = Layering::new(limits, recipe.allow_devices, epoch).map_err(spool_err)?;
                layering.apply(0, verified, progress).map_err(|e| refused(&recipe.base, e))?;
                let snapshot = if snapshot { layering.snapshot() } else { None };
                (layering, snapshot)
            }
            (Start::Decode { .. }, _) => unreachable!("a decoded base is verified first"),
        };
        let base_links = layering.top_level_links();
        let base_digests = if verified.iter().any(|v| v.is_deb()) {
            layering.digests(&[b"etc", b"var/lib/dpkg"])
        } else {
            BaseDigests::new()
        };
        let mut changes = Vec::new();
        for (i, v) in verified.iter().enumerate() {
            let (stream, finished) = ahead.recv().map_err(|_| stopped())?.into_parts();
            let downgrade = recipe.patches[i].downgrade;
            let applied = layering.apply_decoded(i as u16 + 1, v, downgrade, stream, finished, progress);
            changes.push(applied.map_err(|e| refused(&recipe.patches[i].artifact, e))?);
        }
        let packages = layering.packages()?;
        layering.add_release(&release_text(recipe))?;
        Ok((verified, (layering.finish()?, changes, base_links, packages, base_digests), snapshot))
    });
    // Any failure waits for the base's verification: a base that fails it is the one refusal
    // reported and journaled, as when it is verified first.
    let (verified, layered, snapshot) = match layered {
        Ok(done) => done,
        Err(failed) => {
            base.wait();
            return Err(match (base, failed) {
                (BaseCheck::Failed(Some(t)), _) => crate::ops::refuse(ws, recipe, &recipe.base, details(recipe), t),
                (_, Failed::Refused(spec, t)) => crate::ops::refuse(ws, recipe, spec, details(recipe), t),
                (_, Failed::Other(e)) => e,
            });
        }
    };
    // The worker is done, and with it its references.
    let verified = verified.into_iter().map(|v| Arc::into_inner(v).expect("the worker has finished")).collect();
    Ok((base, verified, layered, snapshot))
}

/// Why layering stopped: an artifact that failed verification (journaled once the base's
/// verification is known, which comes first), or any other error.
enum Failed<'a> {
    Refused(&'a ArtifactSpec, trust::TrustError),
    Other(Error),
}

impl<E: Into<Error>> From<E> for Failed<'_> {
    fn from(e: E) -> Self {
        Failed::Other(e.into())
    }
}

/// What a `refused` journal line of this build says besides the artifact.
pub(super) fn details(recipe: &Recipe) -> Map<String, serde_json::Value> {
    let mut details = Map::new();
    details.insert("version".into(), json!(recipe.version.to_string()));
    details
}

/// The base's verification: done before the base is read, or, when a base index spares the
/// build from reading it, running beside the layering and the images' writing. Nothing is
/// published before it succeeds, and its failure is the build's error, reported before any
/// other, as if it had come first.
pub(super) enum BaseCheck {
    Done(Verified),
    Pending(std::thread::JoinHandle<Result<Verified, trust::TrustError>>),
    /// Why it failed (`None`: the verifying thread stopped).
    Failed(Option<trust::TrustError>),
}

impl BaseCheck {
    /// Waits for a pending verification.
    fn wait(&mut self) {
        if let BaseCheck::Pending(_) = self {
            let BaseCheck::Pending(handle) = std::mem::replace(self, BaseCheck::Failed(None)) else {
                unreachable!("matched above")
            };
            *self = match handle.join() {
                Ok(Ok(v)) => BaseCheck::Done(v),
                Ok(Err(e)) => BaseCheck::Failed(Some(e)),
                Err(_) => BaseCheck::Failed(None),
            };
        }
    }

    /// The verified base, or the refusal (journaled) of a base that failed verification.
    pub(super) fn settle(mut self, ws: &Workspace, recipe: &Recipe) -> Result<Verified, Error> {
        self.wait();
        match self {
            BaseCheck::Done(v) => Ok(v),
            BaseCheck::Failed(Some(e)) => Err(crate::ops::refuse(ws, recipe, &recipe.base, details(recipe), e)),
            BaseCheck::Failed(None) | BaseCheck::Pending(_) => {
                Err(Error::io("cannot verify the base")(std::io::Error::other("the verifying thread stopped")))
            }
        }
    }
}
