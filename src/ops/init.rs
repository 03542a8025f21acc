//! `gild init [DIR] [--name NAME] [--key NAME]`: a new workspace — `recipes/NAME.toml`, a
//! recipe that explains itself, `recipes/keys/`, a `.gitignore` for `out/` — and with `--key` a
//! new minisign key pair: the public half in `recipes/keys/`, the secret half in
//! `$XDG_CONFIG_HOME/gild/keys/` (else `~/.config/gild/keys/`), never in the workspace.
//! Nothing that exists is overwritten.

use std::io::Write;

use base64::Engine as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Report};
use crate::ops::Context;
use crate::trust::{KeyId, PublicKey};

#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// The workspace directory (default: where gild runs).
    pub dir: Option<PathBuf>,
    /// The image name (default: the directory's name).
    pub name: Option<String>,
    /// Make a key pair of this name.
    pub key: Option<String>,
}

pub struct InitReport {
    pub root: PathBuf,
    pub name: String,
    /// Files and directories written, relative to the workspace.
    pub created: Vec<String>,
    pub key: Option<NewKey>,
}

pub struct NewKey {
    pub name: String,
    pub id: KeyId,
    /// `recipes/keys/NAME.pub`.
    pub public: String,
    /// Where the secret half is, outside the workspace.
    pub secret: PathBuf,
}

pub fn init(ctx: &Context, opts: &InitOptions) -> Result<InitReport, Error> {
    let base = ctx.base()?;
    let root = match &opts.dir {
        Some(d) => base.join(d),
        None => base,
    };
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => root
            .canonicalize()
            .unwrap_or_else(|_| root.clone())
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default()
            .to_lowercase(),
    };
    if !crate::recipe::valid_name(&name) {
        return Err(Error::Usage(
            Report::new(format!("`{name}` cannot name an image"))
                .help("pass `--name NAME` ([a-z0-9][a-z0-9._-]{0,63})"),
        ));
    }
    let recipe = root.join("recipes").join(format!("{name}.toml"));
    if recipe.exists() {
        return Err(Error::Usage(
            Report::new(format!("`{}` exists", recipe.display()))
                .cause("gild init never overwrites a recipe")
                .help("pass another `--name`, or edit the recipe"),
        ));
    }
    let key = opts.key.as_deref().map(|k| key_paths(&root, k)).transpose()?;

    let mut created = Vec::new();
    let keys_dir = root.join("recipes").join("keys");
    if !keys_dir.is_dir() {
        std::fs::create_dir_all(&keys_dir).map_err(Error::io(format!("cannot create `{}`", keys_dir.display())))?;
        created.push("recipes/keys/".to_string());
    }
    let new_key = match key {
        Some((key_name, public, secret)) => {
            let id = make_key(&key_name, &public, &secret)?;
            created.push(format!("recipes/keys/{key_name}.pub"));
            Some(NewKey { name: key_name.clone(), id, public: format!("recipes/keys/{key_name}.pub"), secret })
        }
        None => None,
    };
    let epoch = crate::date::now().map_err(Error::Usage)?.div_euclid(86400) * 86400;
    let text = template(&name, new_key.as_ref().map(|k| k.name.as_str()), epoch);
    create_new(&recipe, text.as_bytes(), 0o644)?;
    created.push(format!("recipes/{name}.toml"));
    let ignore = root.join(".gitignore");
    if !ignore.exists() {
        create_new(
            &ignore,
            b"# Written by gild init: images are built, not kept; secret keys never belong here.\n/out/\n*.key\n",
            0o644,
        )?;
        created.push(".gitignore".to_string());
    }
    Ok(InitReport { root, name, created, key: new_key })
}

/// The key's name, its public file in the workspace and its secret file outside it.
fn key_paths(root: &Path, key: &str) -> Result<(String, PathBuf, PathBuf), Error> {
    if !crate::recipe::valid_name(key) {
        return Err(Error::Usage(
            Report::new(format!("`--key {key}` cannot name a key"))
                .help("use [a-z0-9][a-z0-9._-]{0,63}, e.g. `--key vendor`"),
        ));
    }
    let config = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => {
                return Err(Error::Usage(
                    Report::new("no place for the secret key")
                        .cause("neither `XDG_CONFIG_HOME` nor `HOME` is set")
                        .help("set `XDG_CONFIG_HOME` to a private directory"),
                ))
            }
        },
    };
    let secret = config.join("gild").join("keys").join(format!("{key}.key"));
    let public = root.join("recipes").join("keys").join(format!("{key}.pub"));
    let inside = |p: &Path| {
        let (p, r) = (absolute(p), absolute(root));
        p.starts_with(&r)
    };
    if inside(&secret) {
        return Err(Error::Usage(
            Report::new(format!("the secret key would be written to `{}`, inside the workspace", secret.display()))
                .help("set `XDG_CONFIG_HOME` to a directory outside the workspace"),
        ));
    }
    for p in [&public, &secret] {
        if p.exists() {
            return Err(Error::Usage(
                Report::new(format!("`{}` exists", p.display()))
                    .cause("gild init never overwrites a key")
                    .help("pick another `--key` name, or use the key you have"),
            ));
        }
    }
    Ok((key.to_string(), public, secret))
}

/// `path` made absolute against the current directory, `..` and symlinks resolved as far as
/// the path exists.
fn absolute(path: &Path) -> PathBuf {
    let path = std::env::current_dir().map(|c| c.join(path)).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = path.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return path,
        }
    }
    let mut out = existing.canonicalize().unwrap_or_else(|_| existing.to_path_buf());
    out.extend(rest.iter().rev());
    out
}

/// Makes a minisign key pair: the secret half (unencrypted, `0600`, in a `0700` directory) at
/// `secret`, the public half at `public`. Returns the key ID.
fn make_key(name: &str, public: &Path, secret: &Path) -> Result<KeyId, Error> {
    let failed =
        |e: minisign::PError| Error::Usage(Report::new("cannot make a minisign key pair").cause(e.to_string()));
    // An empty password writes the checksum and leaves the key in the clear; the KDF field then
    // says "none", as `minisign -G -W` writes an unencrypted key, so the minisign CLI reads it.
    let pair = minisign::KeyPair::generate_encrypted_keypair(Some(String::new())).map_err(failed)?;
    let public_text = pair.pk.to_box().map_err(failed)?.into_string();
    let mut secret_bytes = pair.sk.to_bytes();
    secret_bytes[2..4].copy_from_slice(&[0, 0]);
    let secret_text = format!(
        "untrusted comment: gild key `{name}`: the secret half, unencrypted; never share or commit it\n{}\n",
        base64::engine::general_purpose::STANDARD.encode(&secret_bytes)
    );
    let id = PublicKey::from_base64(&pair.pk.to_base64())
        .map_err(|why| Error::Usage(Report::new("cannot read the new public key").cause(why)))?
        .id();
    if let Some(dir) = secret.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(Error::io(format!("cannot create `{}`", dir.display())))?;
    }
    create_new(secret, secret_text.as_bytes(), 0o600)?;
    create_new(public, public_text.as_bytes(), 0o644)?;
    Ok(id)
}

/// Writes a file that must not exist yet.
fn create_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    let io = Error::io(format!("cannot write `{}`", path.display()));
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(io)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(Error::io(format!("cannot write `{}`", path.display())))
}

/// The recipe `gild init` writes: every section a first image needs, commented, with the
/// lines only the user can fill (the base's path and digest) commented out.
fn template(name: &str, key: Option<&str>, epoch: i64) -> String {
    let signer = key.unwrap_or("vendor");
    let keys = match key {
        Some(k) => format!("{k} = {{ file = \"keys/{k}.pub\" }}   # made by `gild init --key {k}`"),
        None => "# vendor = { file = \"keys/vendor.pub\" }   # a minisign public key (`minisign -G` makes a pair)"
            .to_string(),
    };
    let day = crate::date::format_timestamp(epoch);
    format!(
        r#"# The recipe of the image `{name}`, written by `gild init`: one image, its base, its approved
# patches (added by `gild intake`), its trust, rollout, patch policy and audit policy.
# Paths are relative to this file. `gild build {name}` builds it once the base is filled in.

[image]
name = "{name}"               # must equal the file stem
version = "1.0.0"             # dot-separated integers; only ever goes up (`--version V` for one build)
epoch = {epoch}             # every mtime is clamped to this ({day}): reproducible images
formats = ["tar.zst"]         # any of "tar.zst", "tar.gz", "tar"

[keys]
# The trust root: every artifact must be signed by keys named here.
{keys}

[base]
# The signed base image and its sha256 (`sha256sum FILE`); its signature is FILE.minisig.
# artifact = "../artifacts/base.tar.zst"
# sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
signed-by = ["{signer}"]

# `gild intake {name} PATCH --id ID --severity high --change CHG --approved-by WHO` appends
# each approved patch here as a [[patch]] table; `gild defer` records a decision not to apply one.

[rollout]
channels = ["test", "prod"]   # promotion order (`gild promote {name}@VERSION test`)
soak = "7d"                   # time in a channel before the next

[policy]
# Days from release (else approval) for a patch to be in a recorded baseline (`gild plan`).
critical = 7
high = 30
medium = 90
low = 180
exploited-factor = 0.5        # known-exploited patches get this fraction of the time

[audit]
# Paths `gild audit` passes over on hosts.
ignore = ["var/log/**", "var/cache/**", "tmp/**", "etc/machine-id", "etc/hostname"]
"#
    )
}
