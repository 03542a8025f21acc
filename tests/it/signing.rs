//! Signed baselines: `[sign]`, `SHA256SUMS` and its minisign signature, checked by every reader.

use std::path::{Path, PathBuf};

use crate::harness::*;

/// A build key pair for tests: the secret half outside the workspace, the public half in it.
struct BuildKey {
    _dir: tempfile::TempDir,
    secret: PathBuf,
    public_rel: String,
}

fn build_key(ws: &Workspace, name: &str, comment: &str) -> BuildKey {
    let dir = tempfile::tempdir().unwrap();
    let pair = minisign::KeyPair::generate_encrypted_keypair(Some(String::new())).unwrap();
    let secret = dir.path().join(format!("{name}.key"));
    std::fs::write(&secret, pair.sk.to_box(Some(comment)).unwrap().to_string()).unwrap();
    let public_rel = format!("keys/{name}.pub");
    ws.write(&public_rel, pair.pk.to_box().unwrap().to_string());
    BuildKey { _dir: dir, secret, public_rel }
}

fn sign_section(key: &BuildKey, extra: &str) -> String {
    format!(
        "[sign]\nkey = {{ file = {} }}\npublic = [\"../{}\"]\n{extra}",
        toml_str(&key.secret.display().to_string()),
        key.public_rel
    )
}

fn signed_demo(ws: &Workspace, key: &BuildKey) {
    ws.recipe("web").patch("P-1", Layer::new().file("etc/motd", b"patched\n")).section(&sign_section(key, "")).build();
}

fn run_in(dir: &Path, program: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(program).current_dir(dir).args(args).output().unwrap()
}

#[test]
fn a_signed_baseline_lists_every_file_in_sha256sums_and_verifies() {
    let ws = Workspace::new();
    let key = build_key(&ws, "build", "gild test build key - for tests only");
    signed_demo(&ws, &key);
    let sums = std::fs::read_to_string(ws.baseline_dir("web", "1.0.0").join("SHA256SUMS")).unwrap();
    for file in ["baseline.toml", "files.mtree", "RELEASE.md", "install.sh", "web-1.0.0.tar.zst"] {
        assert!(sums.contains(&format!("  {file}\n")), "SHA256SUMS lists {file}:\n{sums}");
    }
    ws.gild(&["verify", "web@1.0.0"]).success().stdout_has("signed by").stdout_has("ok  files.mtree");
}

#[test]
#[cfg_attr(any(gild_no_minisign, gild_no_sha256sum), ignore = "needs minisign and sha256sum")]
fn a_signed_baseline_checks_out_with_stock_minisign_and_sha256sum() {
    require(&[Need::Tool("minisign"), Need::Tool("sha256sum")]);
    let ws = Workspace::new();
    let key = build_key(&ws, "build", "gild test build key - for tests only");
    signed_demo(&ws, &key);
    let dir = ws.baseline_dir("web", "1.0.0");
    // Exactly the commands RELEASE.md gives, on a copy of the baseline directory with the
    // public key beside it.
    let release = std::fs::read_to_string(dir.join("RELEASE.md")).unwrap();
    let command = release.lines().find(|l| l.starts_with("minisign -Vm SHA256SUMS")).expect("RELEASE.md says how");
    assert!(
        std::fs::read_to_string(dir.join("install.sh")).unwrap().contains(command),
        "install.sh's header gives the same check"
    );
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
    }
    std::fs::copy(ws.path(&key.public_rel), copy.path().join("build.pub")).unwrap();
    let run = run_in(copy.path(), "sh", &["-c", command]);
    assert!(run.status.success(), "{command}: {}", String::from_utf8_lossy(&run.stderr));
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("gild web 1.0.0 tree="),
        "the trusted comment names the build"
    );
}

#[test]
fn one_byte_changed_after_signing_is_refused_by_verify_audit_and_diff() {
    for file in ["files.mtree", "install.sh", "baseline.toml", "RELEASE.md"] {
        let ws = Workspace::new();
        let key = build_key(&ws, "build", "gild test build key - for tests only");
        signed_demo(&ws, &key);
        let path = ws.baseline_dir("web", "1.0.0").join(file);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x20;
        std::fs::write(&path, bytes).unwrap();
        ws.gild(&["verify", "web@1.0.0"]).exit(3).stderr_has(file);
        ws.gild(&["diff", "web@1.0.0", "web@1.0.0"]).exit(3).stderr_has(file);
        ws.gild(&["audit", "web@1.0.0", "."]).exit(3).stderr_has(file);
    }
}

#[test]
fn an_image_changed_after_signing_is_refused_and_a_missing_one_is_unchecked() {
    let ws = Workspace::new();
    let key = build_key(&ws, "build", "gild test build key - for tests only");
    signed_demo(&ws, &key);
    let image = ws.image_path("web", "1.0.0", "tar.zst");
    let mut bytes = std::fs::read(&image).unwrap();
    bytes.push(0);
    std::fs::write(&image, &bytes).unwrap();
    ws.gild(&["verify", "web@1.0.0"]).exit(3).stderr_has("web-1.0.0.tar.zst");
    std::fs::remove_file(&image).unwrap();
    ws.gild(&["verify", "web@1.0.0"]).success().stdout_has("web-1.0.0.tar.zst  not found: unchecked");
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let ws = Workspace::new();
    let key = build_key(&ws, "build", "gild test build key - for tests only");
    signed_demo(&ws, &key);
    // The recipe now trusts another key only.
    let other = build_key(&ws, "other", "gild test key - for tests only");
    ws.edit("recipes/web.toml", |t| t.replace(&key.public_rel, &other.public_rel));
    ws.gild(&["verify", "web@1.0.0"]).exit(3).stderr_has("does not verify");
}

#[test]
fn an_unsigned_baseline_of_a_signing_recipe_is_refused_unless_it_predates_since() {
    let ws = Workspace::new();
    ws.recipe("web").patch("P-1", Layer::new().file("etc/motd", b"patched\n")).build();
    let key = build_key(&ws, "build", "gild test build key - for tests only");
    ws.edit("recipes/web.toml", |t| format!("{t}\n{}", sign_section(&key, "")));
    ws.gild(&["verify", "web@1.0.0"]).exit(3).stderr_has("not signed");
    ws.gild(&["diff", "web@1.0.0", "web@1.0.0"]).exit(3);
    ws.edit("recipes/web.toml", |t| t.replace("public = [", "since = \"1.0.1\"\npublic = ["));
    ws.gild(&["verify", "web@1.0.0"]).success().stderr_has("predates signing");
}

#[test]
fn gild_build_key_makes_a_signature_mandatory_whatever_the_recipe_says() {
    let ws = Workspace::new();
    ws.recipe("web").patch("P-1", Layer::new().file("etc/motd", b"patched\n")).build();
    let key = build_key(&ws, "build", "gild test build key - for tests only");
    let mut cmd = ws.command(&["verify", "web@1.0.0"]);
    cmd.env("GILD_BUILD_KEY", ws.path(&key.public_rel));
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_secret_key_inside_the_workspace_is_refused_unless_it_is_for_tests_only() {
    let ws = Workspace::new();
    let key = build_key(&ws, "build", "minisign encrypted secret key");
    std::fs::copy(&key.secret, ws.path("keys/build.key")).unwrap();
    let section = format!("[sign]\nkey = {{ file = \"../keys/build.key\" }}\npublic = [\"../{}\"]\n", key.public_rel);
    let run = ws.recipe("web").patch("P-1", Layer::new().file("etc/motd", b"x\n")).section(&section).build_fails(2);
    run.stderr_has("inside the workspace");

    let ws = Workspace::new();
    let key = build_key(&ws, "build", "gild build key - for tests only");
    std::fs::copy(&key.secret, ws.path("keys/build.key")).unwrap();
    let section = format!("[sign]\nkey = {{ file = \"../keys/build.key\" }}\npublic = [\"../{}\"]\n", key.public_rel);
    ws.recipe("web").patch("P-1", Layer::new().file("etc/motd", b"x\n")).section(&section).build();
    assert!(ws.baseline_dir("web", "1.0.0").join("SHA256SUMS.minisig").is_file());
}

#[test]
#[cfg_attr(gild_no_minisign, ignore = "minisign not installed")]
fn a_build_key_from_the_environment_and_one_made_by_the_minisign_cli_both_sign() {
    require(&[Need::Tool("minisign")]);
    let ws = Workspace::new();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("cli.key");
    let out = std::process::Command::new("minisign")
        .args(["-G", "-W", "-f", "-p"])
        .arg(ws.path("keys/cli.pub"))
        .arg("-s")
        .arg(&secret)
        .output()
        .unwrap();
    assert!(out.status.success());
    let recipe = ws
        .recipe("web")
        .patch("P-1", Layer::new().file("etc/motd", b"x\n"))
        .section("[sign]\nkey = { env = \"GILD_SIGNING_KEY\" }\npublic = [\"../keys/cli.pub\"]\n")
        .write();
    let mut cmd = ws.command(&["build", &recipe]);
    cmd.env("GILD_SIGNING_KEY", std::fs::read_to_string(&secret).unwrap());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    ws.gild(&["verify", "web@1.0.0"]).success().stdout_has("signed by");
    let mut cmd = ws.command(&["build", &recipe, "--version", "1.0.1"]);
    cmd.env_remove("GILD_SIGNING_KEY");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "no key, no build: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GILD_SIGNING_KEY"));
}

#[test]
fn an_oci_layout_is_signed_file_by_file() {
    let ws = Workspace::new();
    let key = build_key(&ws, "build", "gild test build key - for tests only");
    ws.recipe("web")
        .formats(&["tar.zst", "oci"])
        .image_line("platform = \"linux/amd64\"")
        .patch("P-1", Layer::new().file("etc/motd", b"patched\n"))
        .section(&sign_section(&key, ""))
        .build();
    let sums = std::fs::read_to_string(ws.baseline_dir("web", "1.0.0").join("SHA256SUMS")).unwrap();
    assert!(sums.contains("  web-1.0.0.oci/index.json\n"), "{sums}");
    ws.gild(&["verify", "web@1.0.0"]).success().stdout_has("ok  web-1.0.0.oci/index.json");
    let index = ws.path("out/web-1.0.0.oci/index.json");
    let text = std::fs::read_to_string(&index).unwrap();
    std::fs::write(&index, text.replace("1.0.0", "6.6.6")).unwrap();
    ws.gild(&["verify", "web@1.0.0"]).exit(3).stderr_has("index.json");
}
