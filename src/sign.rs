//! Signed baselines: `SHA256SUMS` over everything a baseline says, signed with the build key.
//!
//! gild verifies every input; its own outputs are what every audit and every script-built host
//! trusts, so they are signed with the same tool. `SHA256SUMS` is in `sha256sum`'s format (so
//! a host checks it with stock tools: `minisign -Vm SHA256SUMS -p build.pub && sha256sum -c
//! --ignore-missing SHA256SUMS`) and lists every file of the baseline directory by its name
//! and every image by its file name. Signing uses the `minisign` crate (prehashed, as the CLI
//! signs); verifying stays with `minisign-verify`, as for artifacts.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::hex;
use crate::trust::{KeyId, PublicKey};

/// The file names gild writes for a signature (docs/signing.md).
pub const SUMS: &str = "SHA256SUMS";
pub const SUMS_SIG: &str = "SHA256SUMS.minisig";

/// Where the secret half of the build key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A minisign secret key file.
    File(PathBuf),
    /// An environment variable holding the key file's text.
    Env(String),
}

/// `[sign]` of a recipe.
#[derive(Debug, Clone)]
pub struct SignPolicy {
    pub key: SecretSource,
    /// Keys a baseline's signature may come from (several during a rotation), as written and
    /// loaded.
    pub public: Vec<(String, PublicKey)>,
    /// Versions before this one were recorded before signing began: accepted unsigned.
    pub since: Option<crate::recipe::Version>,
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("cannot read the build key `{what}`\n  cause: {why}\n  help: {help}")]
    Key { what: String, why: String, help: String },
    #[error("the build key `{0}` lies inside the workspace\n  help: keep secret keys outside the repository (a file elsewhere, or `{{ env = \"GILD_SIGNING_KEY\" }}`); only a key whose untrusted comment says it is for tests only is accepted there")]
    InWorkspace(String),
    #[error("cannot sign `{0}`\n  cause: {1}")]
    Sign(String, String),
    #[error("baseline `{dir}` is not signed: no `SHA256SUMS.minisig`\n  help: {help}")]
    Unsigned { dir: String, help: String },
    #[error("the signature of `{dir}/SHA256SUMS` does not verify{}", causes.iter().map(|c| format!("\n  cause: {c}")).collect::<String>())]
    BadSignature { dir: String, causes: Vec<String> },
    #[error("`{file}` does not match the signed `SHA256SUMS` of `{dir}`\n  cause: signed sha256 {expected}\n  cause: found sha256  {found}")]
    Mismatch { dir: String, file: String, expected: String, found: String },
    #[error("`{file}` is in baseline `{dir}` but not in its signed `SHA256SUMS`")]
    Unlisted { dir: String, file: String },
    #[error("`{file}`, listed in the signed `SHA256SUMS` of `{dir}`, is missing")]
    Missing { dir: String, file: String },
    #[error("cannot read `{0}`\n  cause: {1}")]
    Io(String, io::Error),
}

impl SignError {
    /// Trust failures are 3; a key that cannot be read or a write that fails is 2.
    pub fn exit_code(&self) -> u8 {
        match self {
            SignError::Key { .. } | SignError::InWorkspace(_) | SignError::Sign(..) | SignError::Io(..) => 2,
            _ => 3,
        }
    }
}

/// A loaded secret build key.
pub struct BuildKey {
    key: minisign::SecretKey,
    id: KeyId,
}

impl BuildKey {
    pub fn id(&self) -> KeyId {
        self.id
    }
}

/// Loads the secret key (its password from `GILD_SIGNING_PASSWORD`, or none). A key file
/// inside `workspace` is refused unless its untrusted comment says it is for tests only.
pub fn load_key(source: &SecretSource, workspace: &Path) -> Result<BuildKey, SignError> {
    let (what, text) = match source {
        SecretSource::File(path) => {
            let text = fs::read_to_string(path).map_err(|e| SignError::Key {
                what: path.display().to_string(),
                why: e.to_string(),
                help: "`[sign] key = { file = … }` names a minisign secret key file".into(),
            })?;
            let inside = match (path.canonicalize(), workspace.canonicalize()) {
                (Ok(p), Ok(w)) => p.starts_with(w),
                _ => false,
            };
            let for_tests = text.lines().next().is_some_and(|l| l.to_ascii_lowercase().contains("for tests only"));
            if inside && !for_tests {
                return Err(SignError::InWorkspace(path.display().to_string()));
            }
            (path.display().to_string(), text)
        }
        SecretSource::Env(var) => {
            let text = std::env::var(var).map_err(|_| SignError::Key {
                what: format!("${var}"),
                why: "the variable is not set".into(),
                help: format!("export {var} with the text of the minisign secret key file"),
            })?;
            (format!("${var}"), text)
        }
    };
    let password = std::env::var("GILD_SIGNING_PASSWORD").unwrap_or_default();
    let text = if password.is_empty() { with_checksum(&text).unwrap_or(text) } else { text };
    let key = minisign::SecretKeyBox::from_string(text.trim_start())
        .and_then(|b| b.into_secret_key(Some(password)))
        .map_err(|e| SignError::Key {
            what: what.clone(),
            why: e.to_string(),
            help: "an encrypted key needs its password in GILD_SIGNING_PASSWORD".into(),
        })?;
    let mut id = [0u8; 8];
    let keynum = key.keynum();
    if keynum.len() != 8 {
        return Err(SignError::Key { what, why: "not an Ed25519 minisign key".into(), help: String::new() });
    }
    id.copy_from_slice(keynum);
    Ok(BuildKey { key, id: KeyId::from_bytes(id) })
}

/// An unencrypted key (KDF none) with its checksum as the `minisign` crate computes it:
/// minisign 0.11's `-G -W` writes another one, which the crate would take for a wrong
/// password. Nothing secret depends on it; the signature gild makes is checked against the
/// public key before it is written.
fn with_checksum(text: &str) -> Option<String> {
    use base64::Engine as _;
    use blake2::digest::{Update, VariableOutput};
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut lines = text.trim_start().lines();
    let comment = lines.next()?;
    let mut bytes = b64.decode(lines.next()?.trim()).ok()?;
    // sig_alg(2) kdf_alg(2) chk_alg(2) salt(32) ops(8) mem(8) keynum(8) sk(64) chk(32)
    if bytes.len() != 158 || &bytes[2..4] != b"\0\0" {
        return None;
    }
    let mut hasher = blake2::Blake2bVar::new(32).ok()?;
    hasher.update(&bytes[0..2]);
    hasher.update(&bytes[54..126]);
    hasher.finalize_variable(&mut bytes[126..158]).ok()?;
    Some(format!("{comment}\n{}\n", b64.encode(&bytes)))
}

/// The `SHA256SUMS` text: every file of `dir` but the signature files, then every image, in
/// byte order of their names.
pub fn sums(dir: &Path, images: &[(String, String)]) -> Result<String, SignError> {
    let mut lines: Vec<(String, String)> = Vec::new();
    for (name, path) in baseline_files(dir)? {
        lines.push((name, hex::encode(&file_sha256(&path)?)));
    }
    lines.extend(images.iter().map(|(name, sha)| (name.clone(), sha.clone())));
    lines.sort();
    let mut out = String::new();
    for (name, sha) in lines {
        let _ = writeln!(out, "{sha}  {name}");
    }
    Ok(out)
}

/// Signs `sums` (prehashed, as `minisign -S`), trusted comment `gild NAME VERSION tree=TREE`.
pub fn sign(key: &BuildKey, sums: &str, name: &str, version: &str, tree: &str) -> Result<String, SignError> {
    let trusted = format!("gild {name} {version} tree={tree}");
    let untrusted = format!("signature of SHA256SUMS of {name} {version}, by gild");
    minisign::sign(None, &key.key, sums.as_bytes(), Some(&trusted), Some(&untrusted))
        .map(|b| b.into_string())
        .map_err(|e| SignError::Sign(SUMS.into(), e.to_string()))
}

/// Signs and proves the signature verifies with the public key of that ID in `public`: a
/// damaged secret key fails the build instead of recording a signature no one can check.
pub fn sign_checked(
    key: &BuildKey,
    public: &[(String, PublicKey)],
    sums: &str,
    name: &str,
    version: &str,
    tree: &str,
) -> Result<String, SignError> {
    let text = sign(key, sums, name, version, tree)?;
    let sig = minisign_verify::Signature::decode(&text).map_err(|e| SignError::Sign(SUMS.into(), e.to_string()))?;
    let verified =
        public.iter().filter(|(_, p)| p.id() == key.id()).any(|(_, p)| p.verify_bytes(sums.as_bytes(), &sig).is_ok());
    if !verified {
        return Err(SignError::Sign(
            SUMS.into(),
            format!("the signature by key ID {} does not verify with the public key `[sign] public` lists for it: the secret and public halves do not belong together", key.id()),
        ));
    }
    Ok(text)
}

/// What checking a signed baseline found.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// The key that signed it, by its name in `public`.
    pub key: String,
    pub trusted_comment: String,
    /// Files whose digest was checked.
    pub files: Vec<String>,
    /// Listed images not found where they were looked for: not checked.
    pub unchecked: Vec<String>,
}

/// Checks `dir`'s signature against `public`, then every file of the baseline and every
/// listed image found in `out_dir` (none when it is `None`: the record alone is checked). A
/// file of the baseline that the sums do not list, a digest that differs, or a bad signature
/// is a trust failure.
pub fn check(dir: &Path, out_dir: Option<&Path>, public: &[(String, PublicKey)]) -> Result<Checked, SignError> {
    let label = dir.display().to_string();
    let sig_path = dir.join(SUMS_SIG);
    let sig_text = match fs::read_to_string(&sig_path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(SignError::Unsigned {
                dir: label,
                help: "the recipe has `[sign]` (or a build key is required): rebuild it signed, or set `[sign] since` above its version if it predates signing".into(),
            })
        }
        Err(e) => return Err(SignError::Io(sig_path.display().to_string(), e)),
    };
    let sums_bytes = fs::read(dir.join(SUMS)).map_err(|e| SignError::Io(dir.join(SUMS).display().to_string(), e))?;
    let sig = minisign_verify::Signature::decode(&sig_text)
        .map_err(|e| SignError::BadSignature { dir: label.clone(), causes: vec![format!("{SUMS_SIG}: {e}")] })?;
    let mut causes = Vec::new();
    let mut signer = None;
    for (name, key) in public {
        match key.verify_bytes(&sums_bytes, &sig) {
            Ok(()) => {
                signer = Some(name.clone());
                break;
            }
            Err(why) => causes.push(format!("not by `{name}` ({}): {why}", key.id())),
        }
    }
    let Some(key) = signer else {
        if public.is_empty() {
            causes.push("`[sign] public` lists no key".into());
        }
        return Err(SignError::BadSignature { dir: label, causes });
    };
    let sums_text = String::from_utf8_lossy(&sums_bytes);
    let mut listed = std::collections::BTreeMap::new();
    for line in sums_text.lines() {
        if let Some((sha, name)) = line.split_once("  ") {
            listed.insert(name.to_string(), sha.to_string());
        }
    }
    let mut checked =
        Checked { key, trusted_comment: sig.trusted_comment().to_string(), files: Vec::new(), unchecked: Vec::new() };
    let present = baseline_files(dir)?;
    for (name, path) in &present {
        let Some(expected) = listed.get(name) else {
            return Err(SignError::Unlisted { dir: label, file: name.clone() });
        };
        let found = hex::encode(&file_sha256(path)?);
        if *expected != found {
            return Err(SignError::Mismatch { dir: label, file: name.clone(), expected: expected.clone(), found });
        }
        checked.files.push(name.clone());
    }
    for (name, expected) in &listed {
        if present.iter().any(|(n, _)| n == name) {
            continue;
        }
        if is_baseline_file(name) {
            return Err(SignError::Missing { dir: label, file: name.clone() });
        }
        // Not in the baseline directory: an image, looked for in `out_dir`.
        let Some(path) = out_dir.map(|d| d.join(name)) else {
            checked.unchecked.push(name.clone());
            continue;
        };
        match fs::metadata(&path) {
            Ok(_) => {
                let found = hex::encode(&file_sha256(&path)?);
                if *expected != found {
                    return Err(SignError::Mismatch {
                        dir: label,
                        file: path.display().to_string(),
                        expected: expected.clone(),
                        found,
                    });
                }
                checked.files.push(name.clone());
            }
            Err(_) => checked.unchecked.push(name.clone()),
        }
    }
    Ok(checked)
}

/// Names a baseline directory always holds; listed but missing, they are an error.
fn is_baseline_file(name: &str) -> bool {
    matches!(name, "baseline.toml" | "files.mtree" | "RELEASE.md" | "install.sh")
}

/// The regular files of a baseline directory but the signature files, by name.
fn baseline_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, SignError> {
    let io = |e| SignError::Io(dir.display().to_string(), e);
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == SUMS || name == SUMS_SIG || !entry.file_type().map_err(io)?.is_file() {
            continue;
        }
        out.push((name, entry.path()));
    }
    out.sort();
    Ok(out)
}

fn file_sha256(path: &Path) -> Result<[u8; 32], SignError> {
    crate::trust::sha256_file(path).map_err(|e| SignError::Io(path.display().to_string(), e))
}

/// What a reader of a baseline requires of its signature: the recipe's `[sign]`, or
/// `GILD_BUILD_KEY` (a public key file), which makes a signature mandatory whatever the
/// recipe says.
#[derive(Debug, Clone)]
pub struct Requirement {
    pub public: Vec<(String, PublicKey)>,
    pub since: Option<crate::recipe::Version>,
}

/// The requirement for baselines of `name` in `workspace`, if any. A recipe that cannot be
/// read says nothing (commands that need it report that themselves).
pub fn requirement(workspace: &crate::workspace::Workspace, name: &str) -> Result<Option<Requirement>, SignError> {
    if let Some(path) = std::env::var_os("GILD_BUILD_KEY").filter(|p| !p.is_empty()) {
        let shown = PathBuf::from(&path).display().to_string();
        let text = fs::read_to_string(&path).map_err(|e| SignError::Key {
            what: format!("GILD_BUILD_KEY={shown}"),
            why: e.to_string(),
            help: "GILD_BUILD_KEY names the public half of the build key (a minisign .pub file)".into(),
        })?;
        let key = PublicKey::from_pub_file(&text).map_err(|why| SignError::Key {
            what: format!("GILD_BUILD_KEY={shown}"),
            why,
            help: "GILD_BUILD_KEY names a minisign public key file".into(),
        })?;
        return Ok(Some(Requirement { public: vec![(shown, key)], since: None }));
    }
    let path = workspace.recipe_path(name);
    let Ok(text) = fs::read_to_string(&path) else { return Ok(None) };
    let Ok(recipe) = crate::recipe::parse(&path, &text) else { return Ok(None) };
    Ok(recipe.sign.map(|s| Requirement { public: s.public, since: s.since }))
}

/// Checks a baseline directory (`baselines/NAME/VERSION`) as its readers must: `None` when
/// nothing requires a signature, else what the check found, with a warning for a baseline
/// older than `since` and unsigned.
pub fn check_baseline(
    workspace: &crate::workspace::Workspace,
    dir: &Path,
) -> Result<Option<(Checked, Vec<String>)>, SignError> {
    let (Some(name), Some(version)) =
        (dir.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()), dir.file_name().and_then(|n| n.to_str()))
    else {
        return Ok(None);
    };
    let Some(req) = requirement(workspace, name)? else { return Ok(None) };
    let older = match (&req.since, crate::recipe::Version::parse(version)) {
        (Some(since), Ok(v)) => v < *since,
        _ => false,
    };
    if older && !dir.join(SUMS_SIG).exists() {
        let warning = format!("baseline `{}` predates signing (`[sign] since`): accepted unsigned", dir.display());
        return Ok(Some((Checked::default(), vec![warning])));
    }
    let out = workspace.out();
    check(dir, Some(&out), &req.public).map(|c| Some((c, Vec::new())))
}
