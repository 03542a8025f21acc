//! Regenerates the demo workspace: `fixtures/` (keys, base image, patches, signatures) and
//! `recipes/demo.toml` (written whole from a template, so its sha256 pins always match).
//!
//! ```text
//! cargo run --example demo_fixtures              # keep existing keys, rebuild the rest
//! cargo run --example demo_fixtures -- --new-keys # also make new demo keys
//! ```
//!
//! The tarballs are byte-stable: every header is written by hand (fixed mtimes, numeric
//! ids, empty user and group names) and the compressors run single-threaded at fixed
//! levels. The signatures are not: the `minisign` crate adds random noise to each one, so
//! the outputs are committed, and the demo baseline must be rebuilt after a rerun
//! (`rm -rf baselines/demo out && cargo run --release -- build recipes/demo.toml`).
//!
//! The keys are DEMO keys with unencrypted secret halves, committed on purpose so tests can
//! sign things. Never trust them for anything.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine as _;
use sha2::{Digest, Sha256};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// 2026-01-01T00:00:00Z: every entry of the base image.
const BASE_MTIME: u64 = 1_767_225_600;
/// 2026-11-18T00:00:00Z: DEMO-2026-0001 (openssl).
const OPENSSL_MTIME: u64 = 1_794_960_000;
/// 2026-11-10T00:00:00Z: DEMO-2026-0002 (motd cleanup).
const MOTD_MTIME: u64 = 1_794_268_800;
/// 2026-11-12T00:00:00Z: DEMO-2026-0003 (sshd hardening).
const SSHD_MTIME: u64 = 1_794_441_600;

const KEY_COMMENT: &str = "gild DEMO key - for tests only, never trust it";

// ---------------------------------------------------------------------------------------
// tar

enum Kind {
    Dir,
    File(Vec<u8>),
    Symlink(&'static str),
    /// A hard link to an earlier entry, named as that entry is named in the archive.
    HardLink(&'static str),
}

struct Entry {
    name: &'static str,
    kind: Kind,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
}

fn entry(name: &'static str, kind: Kind, mode: u32, mtime: u64) -> Entry {
    let (uid, gid) = (0, 0);
    Entry { name, kind, mode, uid, gid, mtime }
}

fn dir(name: &'static str, mode: u32, mtime: u64) -> Entry {
    entry(name, Kind::Dir, mode, mtime)
}

fn file(name: &'static str, mode: u32, mtime: u64, data: impl Into<Vec<u8>>) -> Entry {
    entry(name, Kind::File(data.into()), mode, mtime)
}

fn symlink(name: &'static str, target: &'static str, mtime: u64) -> Entry {
    entry(name, Kind::Symlink(target), 0o777, mtime)
}

fn hardlink(name: &'static str, target: &'static str, mode: u32, mtime: u64) -> Entry {
    entry(name, Kind::HardLink(target), mode, mtime)
}

/// Whiteouts are empty regular files, as in OCI layers.
fn whiteout(name: &'static str, mtime: u64) -> Entry {
    file(name, 0o644, mtime, Vec::new())
}

/// A ustar archive with exactly the given entries in the given order. The name is written
/// into the header as is: `tar::Header::set_path` would drop the leading `./`.
fn tar_bytes(entries: &[Entry]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_ustar();
        let name = e.name.as_bytes();
        let slot = &mut h.as_old_mut().name;
        if name.len() > slot.len() {
            return Err(format!("fixture entry name too long for ustar: {}", e.name).into());
        }
        slot[..name.len()].copy_from_slice(name);
        h.set_mode(e.mode);
        h.set_uid(e.uid);
        h.set_gid(e.gid);
        h.set_mtime(e.mtime);
        let data: &[u8] = match &e.kind {
            Kind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                &[]
            }
            Kind::File(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                data
            }
            Kind::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_link_name_literal(target)?;
                &[]
            }
            Kind::HardLink(target) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_link_name_literal(target)?;
                &[]
            }
        };
        h.set_size(data.len() as u64);
        h.set_cksum();
        builder.append(&h, data)?;
    }
    Ok(builder.into_inner()?)
}

fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    // GzBuilder writes mtime 0 and OS 255 (unknown) unless told otherwise: byte-stable.
    let mut enc = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::best());
    enc.write_all(data)?;
    Ok(enc.finish()?)
}

fn xz(data: &[u8]) -> Result<Vec<u8>> {
    let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 6);
    enc.write_all(data)?;
    Ok(enc.finish()?)
}

fn zstd(data: &[u8]) -> Result<Vec<u8>> {
    // Single-threaded level 3: fine for inputs (only gild's own images must use the
    // multithreaded format).
    Ok(zstd::stream::encode_all(data, 3)?)
}

/// Small fake executables: an ELF magic, then enough text to tell them apart.
fn fake_elf(what: &str) -> Vec<u8> {
    let mut v = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
    for i in 0..8 {
        v.extend_from_slice(format!("gild demo fixture binary: {what} ({i})\n").as_bytes());
    }
    v
}

// ---------------------------------------------------------------------------------------
// The fixtures

fn base_entries() -> Vec<Entry> {
    let t = BASE_MTIME;
    let mut readme = file(
        "./usr/share/doc/read me.txt",
        0o644,
        t,
        "A file with a space in its name, owned by 1000:1000.\nfiles.mtree writes it as read\\040me.txt.\n",
    );
    readme.uid = 1000;
    readme.gid = 1000;
    vec![
        dir("./", 0o755, t),
        symlink("./bin", "usr/bin", t),
        dir("./etc/", 0o755, t),
        file("./etc/hostname", 0o644, t, "demo\n"),
        file("./etc/motd", 0o644, t, "Welcome to the gild demo image.\nThis message is removed by DEMO-2026-0002.\n"),
        file(
            "./etc/os-release",
            0o644,
            t,
            "PRETTY_NAME=\"Gild Demo Linux 1 (fixture)\"\nNAME=\"Gild Demo Linux\"\n\
             VERSION_ID=\"1\"\nVERSION=\"1 (fixture)\"\nID=gild-demo\n\
             HOME_URL=\"https://example.invalid/gild-demo\"\n",
        ),
        dir("./etc/ssh/", 0o755, t),
        file(
            "./etc/ssh/sshd_config",
            0o644,
            t,
            "# gild demo base: sshd_config as the vendor ships it\n\
             Include /etc/ssh/sshd_config.d/*.conf\n\
             PermitRootLogin yes\n\
             PasswordAuthentication yes\n\
             X11Forwarding yes\n\
             Subsystem sftp /usr/lib/openssh/sftp-server\n",
        ),
        symlink("./lib", "usr/lib", t),
        symlink("./sbin", "usr/sbin", t),
        dir("./usr/", 0o755, t),
        dir("./usr/bin/", 0o755, t),
        file("./usr/bin/login", 0o755, t, fake_elf("login")),
        file("./usr/bin/ls", 0o755, t, fake_elf("ls")),
        // `dir` is the same program as `ls` (coreutils ships them as separate files; here
        // a hard link, to exercise link groups).
        hardlink("./usr/bin/dir", "./usr/bin/ls", 0o755, t),
        file("./usr/bin/passwd", 0o4755, t, fake_elf("passwd (setuid root)")),
        file("./usr/bin/sh", 0o755, t, fake_elf("sh")),
        dir("./usr/lib/", 0o755, t),
        dir("./usr/lib/x86_64-linux-gnu/", 0o755, t),
        file("./usr/lib/x86_64-linux-gnu/libcrypto.so.3", 0o644, t, fake_elf("libcrypto.so.3 3.0.14")),
        file("./usr/lib/x86_64-linux-gnu/libssl.so.3", 0o644, t, fake_elf("libssl.so.3 3.0.14")),
        dir("./usr/sbin/", 0o755, t),
        file("./usr/sbin/sshd", 0o755, t, fake_elf("sshd")),
        dir("./usr/share/", 0o755, t),
        dir("./usr/share/doc/", 0o755, t),
        readme,
        dir("./usr/share/legacy/", 0o755, t),
        file("./usr/share/legacy/a", 0o644, t, "legacy file a: hidden by the opaque marker of DEMO-2026-0002\n"),
        file("./usr/share/legacy/b", 0o644, t, "legacy file b: hidden by the opaque marker of DEMO-2026-0002\n"),
        dir("./var/", 0o755, t),
        dir("./var/tmp/", 0o1777, t),
    ]
}

/// DEMO-2026-0001: a dpkg-style payload that still ships under `./lib/` (usr-merge).
fn openssl_entries() -> Vec<Entry> {
    let t = OPENSSL_MTIME;
    vec![
        dir("./", 0o755, t),
        // Directory entries where the base has `lib -> usr/lib`: the symlink must stay.
        dir("./lib/", 0o755, t),
        dir("./lib/x86_64-linux-gnu/", 0o755, t),
        file("./lib/x86_64-linux-gnu/libcrypto.so.3", 0o644, t, fake_elf("libcrypto.so.3 3.0.15")),
        file("./lib/x86_64-linux-gnu/libssl.so.3", 0o644, t, fake_elf("libssl.so.3 3.0.15")),
        dir("./usr/", 0o755, t),
        dir("./usr/bin/", 0o755, t),
        file("./usr/bin/openssl", 0o755, t, fake_elf("openssl 3.0.15")),
    ]
}

/// DEMO-2026-0002: whiteouts. The new README comes *before* the opaque marker in the tar:
/// the marker acts on the lower layers only, wherever it stands, so README must survive.
fn motd_entries() -> Vec<Entry> {
    let t = MOTD_MTIME;
    vec![
        dir("./etc/", 0o755, t),
        whiteout("./etc/.wh.motd", t),
        dir("./usr/", 0o755, t),
        dir("./usr/share/", 0o755, t),
        dir("./usr/share/legacy/", 0o755, t),
        file("./usr/share/legacy/README", 0o644, t, "The legacy files were retired by DEMO-2026-0002.\n"),
        whiteout("./usr/share/legacy/.wh..wh..opq", t),
    ]
}

/// DEMO-2026-0003: one changed config file.
fn sshd_entries() -> Vec<Entry> {
    let t = SSHD_MTIME;
    vec![
        dir("./etc/", 0o755, t),
        dir("./etc/ssh/", 0o755, t),
        file(
            "./etc/ssh/sshd_config",
            0o644,
            t,
            "# gild demo: sshd_config hardened by DEMO-2026-0003\n\
             Include /etc/ssh/sshd_config.d/*.conf\n\
             PermitRootLogin no\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             X11Forwarding no\n\
             MaxAuthTries 3\n\
             Subsystem sftp /usr/lib/openssh/sftp-server\n",
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Keys and signatures

struct Key {
    name: &'static str,
    pk: minisign::PublicKey,
    sk: minisign::SecretKey,
}

fn key_id(pk: &minisign::PublicKey) -> Result<String> {
    // The box's first line ends with the key ID in minisign's notation.
    let boxed = pk.to_box()?.into_string();
    let first = boxed.lines().next().unwrap_or_default();
    Ok(first.rsplit(' ').next().unwrap_or_default().to_string())
}

/// Writes `NAME.pub` and `NAME.key`. The secret key is stored the way `minisign -G -W`
/// stores it (KDF algorithm `\0\0`, checksum set), so the minisign CLI can sign with it too.
fn generate_key(dir: &Path, name: &'static str) -> Result<()> {
    // "encrypted" with an empty password: the crate writes the checksum but does not encrypt.
    let kp = minisign::KeyPair::generate_encrypted_keypair(Some(String::new()))?;
    let id = key_id(&kp.pk)?;

    let mut pub_text = String::new();
    writeln!(pub_text, "untrusted comment: {KEY_COMMENT} ({name}, minisign public key {id})")?;
    writeln!(pub_text, "{}", kp.pk.to_base64())?;

    let mut raw = kp.sk.to_bytes();
    // sig_alg (2 bytes), then kdf_alg: `\0\0` means "not encrypted" to minisign and rsign.
    raw[2..4].copy_from_slice(&[0, 0]);
    let mut key_text = String::new();
    writeln!(key_text, "untrusted comment: {KEY_COMMENT} ({name}, unencrypted secret key {id})")?;
    writeln!(key_text, "{}", base64::engine::general_purpose::STANDARD.encode(&raw))?;

    fs::write(dir.join(format!("{name}.pub")), pub_text)?;
    fs::write(dir.join(format!("{name}.key")), key_text)?;
    eprintln!("generated demo key {name} ({id})");
    Ok(())
}

fn load_key(dir: &Path, name: &'static str) -> Result<Key> {
    let pub_path = dir.join(format!("{name}.pub"));
    let key_path = dir.join(format!("{name}.key"));
    let pub_text = fs::read_to_string(&pub_path)?;
    let b64 = pub_text.lines().nth(1).ok_or_else(|| format!("{}: no key line", pub_path.display()))?;
    let pk = minisign::PublicKey::from_base64(b64.trim())?;
    // An empty password: no decryption, but the checksum is still checked.
    let sk = minisign::SecretKeyBox::from_string(&fs::read_to_string(&key_path)?)?
        .into_secret_key(Some(String::new()))
        .map_err(|e| format!("{}: {e}", key_path.display()))?;
    Ok(Key { name, pk, sk })
}

/// Signs `artifact` into `sig_path` and checks the result with the public key.
fn sign(artifact: &Path, key: &Key, sig_path: &Path) -> Result<()> {
    let file_name = artifact.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let trusted = format!("file:{file_name} signer:{} (demo)", key.name);
    let untrusted = format!("signature from the gild DEMO {} key - for tests only", key.name);
    let data = fs::read(artifact)?;
    let sig = minisign::sign(Some(&key.pk), &key.sk, &data[..], Some(&trusted), Some(&untrusted))?;
    let text = sig.into_string();
    let check = minisign::SignatureBox::from_string(&text)?;
    minisign::verify(&key.pk, &check, io::Cursor::new(&data), true, false, false)?;
    fs::write(sig_path, text)?;
    Ok(())
}

fn sha256_hex(data: &[u8]) -> String {
    let mut s = String::with_capacity(64);
    for b in Sha256::digest(data) {
        write!(s, "{b:02x}").ok();
    }
    s
}

// ---------------------------------------------------------------------------------------

struct Pins {
    base: String,
    openssl: String,
    motd: String,
    sshd: String,
}

fn run(root: &Path, new_keys: bool) -> Result<()> {
    let fixtures = root.join("fixtures");
    let keys_dir = fixtures.join("keys");
    let patches = fixtures.join("patches");
    let recipes = root.join("recipes");
    for d in [&keys_dir, &patches, &recipes] {
        fs::create_dir_all(d)?;
    }

    for name in ["vendor", "cab", "build"] {
        let have = keys_dir.join(format!("{name}.pub")).exists() && keys_dir.join(format!("{name}.key")).exists();
        if new_keys || !have {
            generate_key(&keys_dir, name)?;
        }
    }
    let vendor = load_key(&keys_dir, "vendor")?;
    let cab = load_key(&keys_dir, "cab")?;

    let write = |path: PathBuf, data: Vec<u8>| -> Result<(PathBuf, String)> {
        let pin = sha256_hex(&data);
        fs::write(&path, &data)?;
        eprintln!("wrote {} ({} bytes, sha256 {pin})", path.strip_prefix(root)?.display(), data.len());
        Ok((path, pin))
    };
    let sig_path = |artifact: &Path, suffix: &str| -> PathBuf {
        let mut s = artifact.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };

    let (base, base_pin) = write(fixtures.join("base.tar.zst"), zstd(&tar_bytes(&base_entries())?)?)?;
    sign(&base, &vendor, &sig_path(&base, ".minisig"))?;

    let (openssl, openssl_pin) = write(patches.join("openssl-3.0.15.tar.gz"), gzip(&tar_bytes(&openssl_entries())?)?)?;
    sign(&openssl, &vendor, &sig_path(&openssl, ".minisig"))?;

    let (motd, motd_pin) = write(patches.join("motd-cleanup.tar.xz"), xz(&tar_bytes(&motd_entries())?)?)?;
    sign(&motd, &vendor, &sig_path(&motd, ".minisig"))?;
    sign(&motd, &cab, &sig_path(&motd, ".cab.minisig"))?;

    let (sshd, sshd_pin) = write(patches.join("sshd-hardening.tar"), tar_bytes(&sshd_entries())?)?;
    sign(&sshd, &vendor, &sig_path(&sshd, ".minisig"))?;

    let pins = Pins { base: base_pin, openssl: openssl_pin, motd: motd_pin, sshd: sshd_pin };
    let recipe = recipes.join("demo.toml");
    fs::write(&recipe, recipe_text(&pins))?;
    eprintln!("wrote {}", recipe.strip_prefix(root)?.display());
    eprintln!(
        "signatures are new: rebuild the demo baseline with\n  \
         rm -rf baselines/demo out && cargo run --release -- build recipes/demo.toml"
    );
    Ok(())
}

fn recipe_text(p: &Pins) -> String {
    format!(
        r#"# The gild demo recipe: a walkthrough of every section (docs/recipe.md).
#
# Written by `cargo run --example demo_fixtures`, which also makes the fixtures it names and
# fills in the sha256 pins: edit the template in examples/demo_fixtures.rs, not this file.
# Paths are relative to this file. Build it from the workspace root with
#
#     gild build recipes/demo.toml
#
# The keys in ../fixtures/keys are DEMO keys whose secret halves are committed: never trust them.

[image]
name = "demo"                 # must equal the file stem: recipes/demo.toml
version = "1.0.0"             # only ever goes up; `--version V` overrides it for one build
epoch = 1763769600            # every mtime is clamped to this (2025-11-22T00:00:00Z), for reproducible images
formats = ["tar.zst", "tar.gz"]   # out/demo-1.0.0.tar.zst and out/demo-1.0.0.tar.gz
criticality = "high"          # what hosts of this image carry
exposure = "dmz"              # where they stand: `plan` weighs patches by it

[keys]
# The trust root: every signature must come from one of these, by key ID.
vendor = {{ file = "../fixtures/keys/vendor.pub" }}   # signs the base and every patch
cab = {{ file = "../fixtures/keys/cab.pub" }}         # the change advisory board: second signature where required

[base]
# A small usr-merged root (bin, lib and sbin are symlinks into usr/), zstd-compressed.
artifact = "../fixtures/base.tar.zst"
sha256 = "{base}"
signed-by = ["vendor"]
# threshold = 1 and signatures = [artifact + ".minisig"] are the defaults

# The patches apply in this order, each over the result of the ones before.

[[patch]]
# gzip; ships ./lib/x86_64-linux-gnu/*.so.3, which lands in usr/lib/ through `lib -> usr/lib`
id = "DEMO-2026-0001"
artifact = "../fixtures/patches/openssl-3.0.15.tar.gz"
sha256 = "{openssl}"
signed-by = ["vendor"]
threshold = 1
severity = "critical"
fixes = ["CVE-2026-99901", "CVE-2026-99902"]   # made up for the demo
exploited = true              # known exploit in the wild: half the usual time to patch
released = 2026-11-18
approval = {{ change = "CHG-1042", by = "j.doe", date = 2026-11-19 }}
backout = "Rebuild without DEMO-2026-0001 and roll hosts back to the previous baseline; no data migration involved."

[[patch]]
# xz; whiteouts: removes etc/motd, empties usr/share/legacy/ and puts a README in it.
# Two-person rule: the vendor signed it and the change board countersigned it.
id = "DEMO-2026-0002"
artifact = "../fixtures/patches/motd-cleanup.tar.xz"
sha256 = "{motd}"
signed-by = ["vendor", "cab"]
threshold = 2
signatures = ["../fixtures/patches/motd-cleanup.tar.xz.minisig", "../fixtures/patches/motd-cleanup.tar.xz.cab.minisig"]
severity = "low"
fixes = []
released = 2026-11-10
approval = {{ change = "CHG-1043", by = "a.khan", date = 2026-11-20 }}
backout = "Rebuild without DEMO-2026-0002: etc/motd and usr/share/legacy/ come back from the base."

[[patch]]
# plain tar; replaces etc/ssh/sshd_config
id = "DEMO-2026-0003"
artifact = "../fixtures/patches/sshd-hardening.tar"
sha256 = "{sshd}"
signed-by = ["vendor"]
severity = "high"
fixes = ["CVE-2026-99917"]    # made up for the demo
released = 2026-11-12
approval = {{ change = "CHG-1044", by = "m.ortiz", date = 2026-11-21 }}
backout = "Rebuild without DEMO-2026-0003; hosts that need password logins meanwhile get a local sshd_config.d override."

[[deferred]]
# A decision not to apply a patch, with the reason kept for the auditors.
id = "DEMO-2026-0004"
reason = "The curl 8.11 update breaks the billing client's proxy settings; vendor fix expected."
mitigation = "Outbound HTTP from demo hosts goes through the egress proxy only."
review-by = 2026-12-15

[[check]]
# Smoke test, run in the extracted image before anything is recorded: $GILD_ROOT, never /.
name = "ssl library present"
run = "test -f \"$GILD_ROOT/usr/lib/x86_64-linux-gnu/libssl.so.3\""
timeout = "60s"

[rollout]
channels = ["test", "pilot", "prod"]   # promotion order
soak = "7d"                            # time in the previous channel before the next

[policy]
# Days from release (else approval) until a patch must be in a recorded baseline.
critical = 7
high = 30
medium = 90
low = 180
exploited-factor = 0.5        # DEMO-2026-0001 is due 3 days after its release

[audit]
# Paths that differ on every host and are not drift.
ignore = ["var/log/**", "var/cache/**", "tmp/**", "etc/machine-id", "etc/hostname"]

[sign]
# Every baseline is signed: SHA256SUMS over its files and images, and SHA256SUMS.minisig.
# A real build key lives outside the workspace (a file elsewhere, or `{{ env = "GILD_SIGNING_KEY" }}`);
# gild accepts this one inside only because its comment says it is a DEMO key for tests.
key = {{ file = "../fixtures/keys/build.key" }}
public = ["../fixtures/keys/build.pub"]
"#,
        base = p.base,
        openssl = p.openssl,
        motd = p.motd,
        sshd = p.sshd,
    )
}

fn main() -> ExitCode {
    let mut new_keys = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--new-keys" => new_keys = true,
            "-h" | "--help" => {
                println!(
                    "usage: cargo run --example demo_fixtures [-- --new-keys]\n\n\
                     Regenerates fixtures/ and recipes/demo.toml. Existing demo keys are kept\n\
                     unless --new-keys is given."
                );
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("error: unexpected argument `{other}`\n  help: the only flag is `--new-keys`");
                return ExitCode::from(2);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match run(root, new_keys) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let _ = io::stderr().flush();
            ExitCode::FAILURE
        }
    }
}
