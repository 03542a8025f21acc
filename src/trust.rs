//! Trust: sha256 pins and minisign signatures (docs/recipe.md).
//!
//! [`verify`] is the only way to obtain a [`Verified`] artifact, and a layer can only be opened
//! from one, so no byte of an artifact is decompressed or parsed before its pin and its
//! signatures have been checked. A `Verified` owns the open file handle that was hashed; the
//! layer reader hashes the same handle again as it reads and refuses a mismatch, so replacing
//! or rewriting the file after verification changes nothing.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::Report;
use crate::recipe::{ArtifactSpec, Key, SignatureFile};

/// A minisign key ID: 8 bytes, shown as minisign shows it (hex of the little-endian integer).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 8]);

impl KeyId {
    /// The 8 key-ID bytes as minisign stores them.
    pub fn from_bytes(bytes: [u8; 8]) -> KeyId {
        KeyId(bytes)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0.iter().rev() {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A minisign public key with its key ID.
#[derive(Clone, Debug)]
pub struct PublicKey {
    id: KeyId,
    key: minisign_verify::PublicKey,
    /// The key line, for scripts that verify with the minisign CLI (`-P`).
    base64: String,
}

impl PublicKey {
    /// The key line of a `.pub` file or a `-P` key string; whitespace around it is ignored.
    pub fn from_base64(s: &str) -> Result<PublicKey, String> {
        let s = s.trim();
        let bin = base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| format!("bad base64: {e}"))?;
        if bin.len() != 42 || &bin[..2] != b"Ed" {
            return Err("not an Ed25519 minisign key (expected 42 bytes starting with `Ed`)".into());
        }
        let key = minisign_verify::PublicKey::from_base64(s).map_err(|e| e.to_string())?;
        let mut id = [0u8; 8];
        id.copy_from_slice(&bin[2..10]);
        Ok(PublicKey { id: KeyId(id), key, base64: s.to_string() })
    }

    /// A `.pub` file: an optional `untrusted comment:` line, then the key line. CRLF line ends
    /// and surrounding blank lines are accepted.
    pub fn from_pub_file(text: &str) -> Result<PublicKey, String> {
        let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        match lines.as_slice() {
            [key] => PublicKey::from_base64(key),
            [comment, key] if comment.starts_with("untrusted comment:") => PublicKey::from_base64(key),
            _ => Err("expected an `untrusted comment:` line and a key line".into()),
        }
    }

    pub fn id(&self) -> KeyId {
        self.id
    }

    pub fn base64(&self) -> &str {
        &self.base64
    }

    /// Checks a signature of `bytes` made by this key (prehashed, as gild signs baselines).
    pub fn verify_bytes(&self, bytes: &[u8], sig: &minisign_verify::Signature) -> Result<(), String> {
        self.key.verify(bytes, sig, false).map_err(|e| e.to_string())
    }
}

/// Why an artifact is not trusted. Every variant is exit 3 except `Missing` (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    Missing { id: String, artifact: String, source: io::Error },
    Pin { id: String, artifact: String, expected: String, found: String },
    Signature { id: String, artifact: String, signature: String, why: String },
    Threshold { id: String, artifact: String, threshold: usize, found: usize, reasons: Vec<String> },
    Changed { id: String, artifact: String, expected: String, found: String },
}

crate::error::display_report!(TrustError);

impl TrustError {
    pub fn report(&self) -> Report {
        match self {
            TrustError::Missing { id, artifact, source } => {
                Report::new(format!("cannot read artifact `{artifact}` ({id})")).cause(source.to_string())
            }
            TrustError::Pin { id, artifact, expected, found } => Report::new(format!(
                "artifact `{artifact}` ({id}) does not match its pin"
            ))
            .cause(format!("expected sha256 {expected}"))
            .cause(format!("found sha256    {found}"))
            .help("if this is the artifact that was approved, update `sha256` in the recipe; otherwise do not use it"),
            TrustError::Signature { id, artifact, signature, why } => {
                Report::new(format!("signature `{signature}` of artifact `{artifact}` ({id}) is unusable")).cause(why)
            }
            TrustError::Threshold { id, artifact, threshold, found, reasons } => Report::new(format!(
                "artifact `{artifact}` ({id}) has {found} of the {threshold} signature(s) it needs"
            ))
            .causes(reasons.iter().cloned()),
            TrustError::Changed { id, artifact, expected, found } => {
                Report::new(format!("artifact `{artifact}` ({id}) changed while gild was reading it"))
                    .cause(format!("expected sha256 {expected}"))
                    .cause(format!("read sha256     {found}"))
            }
        }
    }
}

/// A signature that counted: recorded in the baseline.
#[derive(Debug, Clone)]
pub struct Signer {
    pub key: String,
    pub key_id: KeyId,
    pub trusted_comment: String,
    /// The signature file, as the recipe names it.
    pub signature: String,
}

/// A listed signature that did not count, and why.
#[derive(Debug, Clone)]
pub struct Ignored {
    pub signature: String,
    pub reason: String,
}

/// An artifact whose pin and signatures have been checked. Only [`verify`] makes one.
#[derive(Debug)]
pub struct Verified {
    spec: ArtifactSpec,
    file: File,
    /// The first bytes of the verified file: what kind of artifact it is (docs/layers.md).
    head: [u8; 8],
    pub signers: Vec<Signer>,
    pub ignored: Vec<Ignored>,
}

impl Verified {
    pub fn spec(&self) -> &ArtifactSpec {
        &self.spec
    }

    /// The first bytes of the verified file (its magic).
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// A Debian package (`!<arch>` magic), not a tar stream.
    pub fn is_deb(&self) -> bool {
        crate::deb::ar::is_ar(&self.head)
    }

    /// The verified bytes, from the start, through a reader that proves at its end that they
    /// were the pinned ones.
    pub fn open(&self) -> io::Result<PinnedReader<'_>> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0))?;
        Ok(PinnedReader { file, hasher: Sha256::new() })
    }

    pub fn changed_error(&self, found: [u8; 32]) -> TrustError {
        TrustError::Changed {
            id: self.spec.id.clone(),
            artifact: self.spec.written.clone(),
            expected: crate::hex::encode(&self.spec.sha256),
            found: crate::hex::encode(&found),
        }
    }
}

/// Reads a verified artifact while hashing it again.
pub struct PinnedReader<'a> {
    file: &'a File,
    hasher: Sha256,
}

impl PinnedReader<'_> {
    /// The sha256 of everything read so far.
    pub fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }
}

impl Read for PinnedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// The sha256 of a file's bytes: the one way gild hashes a whole file (pins, signed sums,
/// recorded images, OCI blobs).
pub fn sha256_file(path: &std::path::Path) -> io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    io::copy(&mut File::open(path)?, &mut hasher)?;
    Ok(hasher.finalize().into())
}

/// A parsed signature file.
struct SigFile {
    path: String,
    key_id: KeyId,
    legacy: bool,
    sig: minisign_verify::Signature,
}

fn read_signature(spec: &ArtifactSpec, file: &SignatureFile) -> Result<SigFile, TrustError> {
    let bad = |why: String| TrustError::Signature {
        id: spec.id.clone(),
        artifact: spec.written.clone(),
        signature: file.written.clone(),
        why,
    };
    let text = std::fs::read_to_string(&file.path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let lines: Vec<&str> = lines.into_iter().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() != 4 {
        return Err(bad(format!(
            "a minisign signature file has 4 lines (untrusted comment, signature, trusted comment, global signature); this one has {}",
            lines.len()
        )));
    }
    let bin = base64::engine::general_purpose::STANDARD
        .decode(lines[1].trim())
        .map_err(|e| bad(format!("line 2 is not base64: {e}")))?;
    if bin.len() != 74 {
        return Err(bad("line 2 is not a minisign signature".into()));
    }
    let legacy = match &bin[..2] {
        b"Ed" => true,
        b"ED" => false,
        _ => return Err(bad("unknown signature algorithm".into())),
    };
    let mut id = [0u8; 8];
    id.copy_from_slice(&bin[2..10]);
    let sig = minisign_verify::Signature::decode(&lines.join("\n")).map_err(|e| bad(e.to_string()))?;
    Ok(SigFile { path: file.written.clone(), key_id: KeyId(id), legacy, sig })
}

/// Checks an artifact's pin, then its signatures, reading it once.
///
/// Prehashed signatures are verified as the file streams past; legacy ones sign the whole
/// message, so their artifact is held in memory (minisign itself does the same).
pub fn verify(spec: &ArtifactSpec, keys: &[Key]) -> Result<Verified, TrustError> {
    // A missing artifact is a mistake in the input (exit 2), whatever its signatures say.
    let mut file = File::open(&spec.path).map_err(|source| TrustError::Missing {
        id: spec.id.clone(),
        artifact: spec.written.clone(),
        source,
    })?;
    let sigs = spec.signatures.iter().map(|p| read_signature(spec, p)).collect::<Result<Vec<_>, _>>()?;

    // Each signature is matched with the listed, unrevoked key that carries its key ID.
    let mut ignored = Vec::new();
    let mut candidates: Vec<(&SigFile, &Key)> = Vec::new();
    for sig in &sigs {
        let listed = spec.signed_by.iter().map(|&i| &keys[i]).find(|k| k.id == sig.key_id);
        match listed {
            None => {
                let other = keys.iter().find(|k| k.id == sig.key_id);
                let reason = match other {
                    Some(k) => format!(
                        "`{}`: signed by key `{}` ({}), which is not in `signed-by` of `{}`",
                        sig.path, k.name, sig.key_id, spec.id
                    ),
                    None => format!("`{}`: signed by key ID {}, which no key in `[keys]` has", sig.path, sig.key_id),
                };
                ignored.push(Ignored { signature: sig.path.clone(), reason });
            }
            Some(k) if k.revoked.is_some() => ignored.push(Ignored {
                signature: sig.path.clone(),
                reason: format!(
                    "`{}`: key `{}` ({}) is revoked since {}{}",
                    sig.path,
                    k.name,
                    k.id,
                    k.revoked.as_deref().unwrap_or_default(),
                    k.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
                ),
            }),
            Some(k) => candidates.push((sig, k)),
        }
    }

    let need_whole = candidates.iter().any(|(s, _)| s.legacy);
    let mut whole = Vec::new();
    let mut streams: Vec<_> = candidates
        .iter()
        .filter(|(s, _)| !s.legacy)
        .filter_map(|(s, k)| k.key.key.verify_stream(&s.sig).ok().map(|v| (s.path.clone(), v)))
        .collect();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let (mut head, mut seen) = ([0u8; 8], 0);
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(TrustError::Missing { id: spec.id.clone(), artifact: spec.written.clone(), source })
            }
        };
        hasher.update(&buf[..n]);
        if seen < head.len() {
            let take = (head.len() - seen).min(n);
            head[seen..seen + take].copy_from_slice(&buf[..take]);
            seen += take;
        }
        for (_, v) in &mut streams {
            v.update(&buf[..n]);
        }
        if need_whole {
            whole.extend_from_slice(&buf[..n]);
        }
    }
    let found: [u8; 32] = hasher.finalize().into();
    if found != spec.sha256 {
        return Err(TrustError::Pin {
            id: spec.id.clone(),
            artifact: spec.written.clone(),
            expected: crate::hex::encode(&spec.sha256),
            found: crate::hex::encode(&found),
        });
    }

    let mut stream_results = std::collections::HashMap::new();
    for (path, mut v) in streams {
        stream_results.insert(path, v.finalize().is_ok());
    }
    let mut signers: Vec<Signer> = Vec::new();
    for (sig, key) in candidates {
        let ok = if sig.legacy {
            key.key.key.verify(&whole, &sig.sig, true).is_ok()
        } else {
            stream_results.get(&sig.path).copied().unwrap_or(false)
        };
        if !ok {
            ignored.push(Ignored {
                signature: sig.path.clone(),
                reason: format!(
                    "`{}`: the signature by key `{}` ({}) does not verify (the artifact or the trusted comment was altered, or it signs another file)",
                    sig.path,
                    key.name,
                    key.id
                ),
            });
        } else if signers.iter().any(|s| s.key_id == key.id) {
            ignored.push(Ignored {
                signature: sig.path.clone(),
                reason: format!("`{}`: key `{}` ({}) already signed; one key counts once", sig.path, key.name, key.id),
            });
        } else {
            signers.push(Signer {
                key: key.name.clone(),
                key_id: key.id,
                trusted_comment: sig.sig.trusted_comment().to_string(),
                signature: sig.path.clone(),
            });
        }
    }
    if signers.len() < spec.threshold {
        let mut reasons: Vec<String> = ignored.iter().map(|i| i.reason.clone()).collect();
        let counted: Vec<String> = signers.iter().map(|s| format!("`{}` ({})", s.key, s.key_id)).collect();
        reasons.push(if counted.is_empty() {
            "no listed key signed it".to_string()
        } else {
            format!("counted: {}", counted.join(", "))
        });
        return Err(TrustError::Threshold {
            id: spec.id.clone(),
            artifact: spec.written.clone(),
            threshold: spec.threshold,
            found: signers.len(),
            reasons,
        });
    }
    Ok(Verified { spec: spec.clone(), file, head, signers, ignored })
}
