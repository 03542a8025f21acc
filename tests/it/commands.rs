//! The commands people reached for in their first week (issue 13): `init`, `show`, `list`,
//! `prune`, `completions`, `man`.

use std::path::Path;
use std::process::Command;

use crate::harness::*;

const T0: &str = "2026-11-01T09:00:00Z";
const ROLLOUT: &str = "[rollout]\nchannels = [\"test\", \"prod\"]\nsoak = \"1d\"\n";

/// gild in `dir` (not a harness workspace), with its own config home.
fn gild_in(dir: &Path, config: &Path, args: &[&str]) -> Run {
    let out = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin("gild"))
        .current_dir(dir)
        .args(args)
        .env("XDG_CONFIG_HOME", config)
        .env("GILD_CACHE", config.join("cache"))
        .env("GILD_ACTOR", "tester")
        .env("NO_COLOR", "1")
        .env_remove("GILD_NOW")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    Run::new(args, out)
}

#[test]
fn init_then_a_base_is_all_a_first_build_needs() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, config) = (tmp.path().join("web"), tmp.path().join("config"));
    std::fs::create_dir_all(&dir).unwrap();
    let run = gild_in(&dir, &config, &["init", "--key", "ops"]);
    run.success()
        .stdout_has("initialised `web`")
        .stdout_has("created   recipes/web.toml")
        .stderr_has("the SECRET key `ops` is at");
    let secret = config.join("gild/keys/ops.key");
    assert!(secret.is_file(), "the secret half is in the config home");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(dir.join("recipes/keys/ops.pub").is_file());
    let stray: Vec<_> = walkdir::WalkDir::new(&dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".key"))
        .collect();
    assert!(stray.is_empty(), "no secret key in the workspace: {stray:?}");
    assert!(std::fs::read_to_string(dir.join(".gitignore")).unwrap().contains("*.key"));

    // The base: a layer signed with the new key, named where the recipe's comment says.
    let base = base_layer().tar();
    std::fs::create_dir_all(dir.join("artifacts")).unwrap();
    std::fs::write(dir.join("artifacts/base.tar"), &base).unwrap();
    let sk = minisign::SecretKeyBox::from_string(&std::fs::read_to_string(&secret).unwrap())
        .unwrap()
        .into_secret_key(Some(String::new()))
        .unwrap();
    let sig = minisign::sign(None, &sk, &base[..], Some("base"), None).unwrap();
    std::fs::write(dir.join("artifacts/base.tar.minisig"), sig.into_string()).unwrap();
    let recipe = dir.join("recipes/web.toml");
    let text = std::fs::read_to_string(&recipe).unwrap();
    let zeros = "0".repeat(64);
    let text = text
        .replace("# artifact = \"../artifacts/base.tar.zst\"", "artifact = \"../artifacts/base.tar\"")
        .replace(&format!("# sha256 = \"{zeros}\""), &format!("sha256 = \"{}\"", sha256_hex(&base)));
    std::fs::write(&recipe, text).unwrap();
    gild_in(&dir, &config, &["build", "web"]).success().stdout_has("built web 1.0.0");

    gild_in(&dir, &config, &["init", "--key", "ops"]).exit(2).stderr_has("exists");
    let inside = dir.join("cfg");
    gild_in(&dir, &inside, &["init", "--name", "other", "--key", "k2"]).exit(2).stderr_has("inside the workspace");
    let other = tmp.path().join("Not A Name");
    std::fs::create_dir_all(&other).unwrap();
    gild_in(&other, &config, &["init"]).exit(2).stderr_has("--name NAME");
    let j = gild_in(&other, &config, &["--json", "init", "sub", "--name", "sub"]).success().json();
    assert_eq!(j["command"], "init");
    assert!(other.join("sub/recipes/sub.toml").is_file(), "DIR is where the workspace goes");
}

/// The stock tool reads the key `init --key` makes as an unencrypted key of its own (no
/// password asked).
#[test]
#[cfg_attr(gild_no_minisign, ignore = "minisign not installed")]
fn the_stock_minisign_signs_with_the_key_init_makes() {
    require(&[Need::Tool("minisign")]);
    let tmp = tempfile::tempdir().unwrap();
    let (dir, config) = (tmp.path().join("web"), tmp.path().join("config"));
    std::fs::create_dir_all(&dir).unwrap();
    gild_in(&dir, &config, &["init", "--key", "ops"]).success();
    std::fs::write(tmp.path().join("file"), b"signed by the stock tool\n").unwrap();
    let out = Command::new("minisign")
        .args(["-S", "-s"])
        .arg(config.join("gild/keys/ops.key"))
        .arg("-m")
        .arg(tmp.path().join("file"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "minisign -S: {}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new("minisign")
        .arg("-V")
        .arg("-p")
        .arg(dir.join("recipes/keys/ops.pub"))
        .arg("-m")
        .arg(tmp.path().join("file"))
        .output()
        .unwrap();
    assert!(out.status.success(), "minisign -V with the public half: {}", String::from_utf8_lossy(&out.stderr));
}

/// demo 1.0.0, 1.1.0 (with P-2 and its CVE), 1.1.0 in test, 1.0.0 revoked.
fn history(ws: &Workspace) -> String {
    let recipe = ws.recipe("demo").patch("P-1", Layer::new().file("etc/motd", b"one\n")).section(ROLLOUT).write();
    ws.gild_at(T0, &["build", &recipe]).success();
    let art = ws.signed_artifact("p2.tar", &Layer::new().file("opt/two", b"2\n"), &["vendor"]);
    let intake =
        ["intake", &recipe, &art, "--id", "P-2", "--severity", "critical", "--change", "C-2", "--approved-by", "me"];
    let mut intake = intake.to_vec();
    intake.extend(["--fixes", "CVE-2026-4242"]);
    ws.gild_at(T0, &intake).success();
    ws.gild_at(T0, &["build", &recipe, "--version", "1.1.0"]).success();
    ws.gild_at(T0, &["promote", "demo@1.1.0", "test"]).success();
    ws.gild_at(T0, &["revoke", "demo@1.0.0", "--reason", "motd typo"]).success();
    recipe
}

#[test]
fn show_says_what_a_baseline_holds() {
    let ws = Workspace::new();
    history(&ws);
    let run = ws.gild(&["show", "demo"]);
    run.success()
        .stdout_has("demo 1.1.0  (newest)")
        .stdout_has("parent    1.0.0")
        .stdout_has("channels  test")
        .stdout_has("patch     P-2  critical  CVE-2026-4242  (C-2 by me on 2026-11-01)")
        .stdout_has("image     demo-1.1.0.tar.zst");
    let j = ws.gild(&["--json", "show", "demo@test"]).success().json();
    assert_eq!((j["command"].as_str(), j["version"].as_str()), (Some("show"), Some("1.1.0")));
    assert_eq!(j["patches"][1]["fixes"][0], "CVE-2026-4242");
    assert_eq!(j["images"][0]["present"], true);
    assert_eq!(j["signed"], false);
    let j = ws.gild(&["--json", "show", "demo@1.0.0"]).success().json();
    assert_eq!(j["revoked"]["reason"], "motd typo", "{j}");
    assert_eq!(j["newest"], false);
    ws.gild(&["show", "demo@1.0.0"]).success().stdout_has("REVOKED by tester");
    ws.gild(&["show", "demo@prod"]).exit(2).stderr_has("nor a channel of `demo` that runs one");
}

#[test]
fn list_has_one_line_per_image() {
    let ws = Workspace::new();
    history(&ws);
    ws.recipe("plain").write();
    let run = ws.gild(&["list"]);
    run.success();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines, ["demo  1.0.0 (revoked), 1.1.0  newest 1.1.0  test=1.1.0", "plain  no recorded version"]);
    let j = ws.gild(&["--json", "list"]).success().json();
    assert_eq!(j["images"][0]["versions"][0]["revoked"], true);
    assert_eq!(j["images"][0]["channels"]["test"], "1.1.0");
    assert_eq!(j["images"][1]["recipe"], "recipes/plain.toml");
}

#[test]
fn prune_removes_only_images_it_can_prove_no_one_needs() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").formats(&["tar.zst", "tar.gz"]).section(ROLLOUT).write();
    for v in ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"] {
        ws.gild_at(T0, &["build", &recipe, "--version", v]).success();
    }
    ws.gild_at(T0, &["promote", "demo@1.0.0", "test"]).success();
    ws.gild_at(T0, &["revoke", "demo@1.4.0", "--reason", "bad"]).success();
    ws.write("out/demo-1.1.0.tar.gz", b"someone else's file by that name");
    ws.write("out/demo-notes.txt", b"notes");
    let j = ws.gild(&["--json", "prune", "demo", "--keep", "2"]).success().json();
    let removed: Vec<&str> = j["removed"].as_array().unwrap().iter().map(|r| r["file"].as_str().unwrap()).collect();
    assert_eq!(
        removed,
        ["out/demo-1.1.0.tar.zst", "out/demo-1.4.0.tar.zst", "out/demo-1.4.0.tar.gz"],
        "1.3.0 and 1.2.0 are the newest two not revoked, 1.0.0 runs in test: {j}"
    );
    let left: Vec<&str> = j["left"].as_array().unwrap().iter().map(|r| r["file"].as_str().unwrap()).collect();
    assert_eq!(left, ["out/demo-1.1.0.tar.gz", "out/demo-notes.txt"]);
    for v in ["1.0.0", "1.2.0", "1.3.0"] {
        assert!(ws.image_path("demo", v, "tar.zst").is_file(), "{v} kept");
    }
    for v in ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"] {
        assert!(ws.baseline_dir("demo", v).join("baseline.toml").is_file(), "baselines are never removed");
    }
    ws.gild(&["prune", "demo"])
        .success()
        .stdout_has("removed 0 image(s)")
        .stdout_has("kept      1.0.0  (runs in test)");
    ws.gild(&["prune", "demo", "--keep", "0"]).exit(2);
}

#[test]
fn completions_and_man_pages_come_from_the_command_line() {
    let ws = Workspace::new();
    let script = ws.gild(&["completions", "bash"]).success().stdout.clone();
    assert!(script.contains("prune") && script.contains("--keep"), "every command and flag is in it");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        assert!(!ws.gild(&["completions", shell]).success().stdout.is_empty(), "{shell}");
    }
    let j = ws.gild(&["--json", "man", "man"]).success().json();
    let pages: Vec<&str> = j["pages"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(pages.contains(&"man/gild.1") && pages.contains(&"man/gild-prune.1"), "{pages:?}");
}

#[test]
#[cfg_attr(gild_no_bash, ignore = "bash not installed")]
fn bash_sources_the_completions() {
    require(&[Need::Tool("bash")]);
    let ws = Workspace::new();
    ws.write("gild.bash", &ws.gild(&["completions", "bash"]).success().stdout);
    let out = Command::new("bash")
        .arg("-c")
        .arg("set -e; source ./gild.bash; complete -p gild")
        .current_dir(&ws.root)
        .output()
        .unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "bash sources it: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
#[cfg_attr(gild_no_man, ignore = "man not installed")]
fn man_renders_every_man_page() {
    require(&[Need::Tool("man")]);
    let ws = Workspace::new();
    let j = ws.gild(&["--json", "man", "man"]).success().json();
    let pages: Vec<&str> = j["pages"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    for page in &pages {
        let out = Command::new("man")
            .arg("-l")
            .arg(ws.path(page))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        assert!(out.status.success(), "man -l {page}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("gild"), "{page} renders");
    }
}

/// The man pages in docs/man/ and the completions in docs/completions/ are what this gild
/// generates: regenerate them when the command line changes.
#[test]
fn the_committed_man_pages_and_completions_are_current() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ws = Workspace::new();
    ws.gild(&["man", "man"]).success();
    let fix = "regenerate: `cargo run -- man docs/man`, `cargo run -- completions SHELL > docs/completions/gild.SHELL`";
    let mut generated: Vec<String> = std::fs::read_dir(ws.path("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut committed: Vec<String> = std::fs::read_dir(repo.join("docs/man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    generated.sort();
    committed.sort();
    assert_eq!(committed, generated, "{fix}");
    for page in &generated {
        assert!(
            ws.read(format!("man/{page}")) == std::fs::read(repo.join("docs/man").join(page)).unwrap(),
            "docs/man/{page} is stale; {fix}"
        );
    }
    for shell in ["bash", "zsh", "fish"] {
        let script = ws.gild(&["completions", shell]).success().stdout.clone();
        let committed = std::fs::read_to_string(repo.join(format!("docs/completions/gild.{shell}"))).unwrap();
        assert!(script == committed, "docs/completions/gild.{shell} is stale; {fix}");
    }
}
