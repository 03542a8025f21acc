//! `gild intake`: an approved, signed patch is verified, pinned and appended to the recipe,
//! with the recipe's comments and formatting kept.

use crate::harness::*;

const NOW: &str = "2026-11-25T10:00:00Z";

/// A recipe with comments in odd places and one patch, as people write them.
fn commented_recipe(ws: &Workspace) -> String {
    let recipe = ws.recipe("demo").patch("P-1", Layer::new().file("./etc/motd", b"one\n")).write();
    ws.edit(&recipe, |t| {
        let t = t.replace("[image]\n", "# The demo image.\n[image]   # header comment\n");
        let t = t.replace("[[patch]]\n", "\n# Patches apply in order.\n[[patch]]\n");
        format!("{t}\n[rollout]\nchannels = [ \"test\",   \"prod\" ]   # odd spacing kept\n")
    });
    recipe
}

fn patch_layer(n: u32) -> Layer {
    Layer::new().file(format!("./opt/patch-{n}"), format!("{n}\n").as_bytes())
}

fn intake_args<'a>(recipe: &'a str, artifact: &'a str, id: &'a str) -> Vec<&'a str> {
    vec!["intake", recipe, artifact, "--id", id, "--severity", "high", "--change", "CHG-7", "--approved-by", "a.khan"]
}

fn recipe_toml(ws: &Workspace, recipe: &str) -> toml::Value {
    let text = ws.read_string(recipe);
    toml::from_str(&text).unwrap_or_else(|e| panic!("recipe does not parse: {e}\n{text}"))
}

#[test]
fn intake_appends_a_pinned_patch_and_build_applies_it() {
    let ws = Workspace::new();
    let recipe = commented_recipe(&ws);
    let art = ws.signed_artifact("p2.tar", &patch_layer(2), &["vendor"]);
    let mut args = intake_args(&recipe, &art, "P-2");
    args.extend(["--fixes", "CVE-2026-1", "--fixes", "CVE-2026-2", "--exploited", "--released", "2026-11-18"]);
    args.extend(["--backout", "Rebuild without P-2."]);
    ws.gild_at(NOW, &args).success().stdout_has("intake demo P-2: appended to recipes/demo.toml");
    let t = recipe_toml(&ws, &recipe);
    let p = &t["patch"][1];
    assert_eq!(p["id"].as_str(), Some("P-2"));
    assert_eq!(p["artifact"].as_str(), Some("../artifacts/p2.tar"), "relative to the recipe");
    assert_eq!(p["sha256"].as_str(), Some(&sha256_hex(&ws.read(&art))[..]));
    assert_eq!(p["signed-by"].as_array().unwrap().len(), 1);
    assert_eq!(p["threshold"].as_integer(), Some(1));
    assert!(p.get("signatures").is_none(), "the default ARTIFACT.minisig is not written: {p}");
    assert_eq!(p["severity"].as_str(), Some("high"));
    assert_eq!(p["fixes"].as_array().unwrap().len(), 2);
    assert_eq!(p["exploited"].as_bool(), Some(true));
    assert_eq!(p["released"].as_datetime().unwrap().to_string(), "2026-11-18");
    assert_eq!(p["approval"]["change"].as_str(), Some("CHG-7"));
    assert_eq!(p["approval"]["by"].as_str(), Some("a.khan"));
    assert_eq!(p["approval"]["date"].as_datetime().unwrap().to_string(), "2026-11-25", "today, from GILD_NOW");
    assert_eq!(p["backout"].as_str(), Some("Rebuild without P-2."));
    ws.gild(&["build", &recipe]).success();
    assert_eq!(ws.image("demo", "1.0.0").data("opt/patch-2"), b"2\n");
}

#[test]
fn intake_keeps_every_byte_of_the_recipe_it_does_not_add() {
    let ws = Workspace::new();
    let recipe = commented_recipe(&ws);
    let before = ws.read_string(&recipe);
    let art = ws.signed_artifact("p2.tar", &patch_layer(2), &["vendor"]);
    ws.gild(&intake_args(&recipe, &art, "P-2")).success();
    let after = ws.read_string(&recipe);
    let split = before.find("\n[rollout]").unwrap();
    assert!(after.starts_with(&before[..split]), "{after}");
    assert!(after.ends_with(&before[split..]), "the tables after the patches stay last: {after}");
    let added = &after[split..after.len() - (before.len() - split)];
    assert!(added.starts_with("\n[[patch]]\nid = \"P-2\"\n"), "one blank line, then the table: {added:?}");
}

#[test]
fn intake_takes_the_approval_date_given() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    let art = ws.signed_artifact("p.tar", &patch_layer(1), &["vendor"]);
    let mut args = intake_args(&recipe, &art, "P-1");
    args.extend(["--date", "2026-10-01"]);
    ws.gild(&args).success();
    assert_eq!(
        recipe_toml(&ws, &recipe)["patch"][0]["approval"]["date"].as_datetime().unwrap().to_string(),
        "2026-10-01"
    );
    let mut bad = intake_args(&recipe, &art, "P-9");
    bad.extend(["--date", "2026-02-30"]);
    ws.gild(&bad).exit(2).stderr_has("not a date");
}

#[test]
fn intake_refers_to_the_artifact_relative_to_the_recipe_from_anywhere() {
    let ws = Workspace::new();
    ws.recipe("demo").write();
    let art = ws.signed_artifact("p.tar", &patch_layer(1), &["vendor"]);
    std::fs::create_dir_all(ws.path("artifacts/sub")).unwrap();
    let mut cmd = ws.command(&["intake", "demo", "../p.tar", "--id", "P-1", "--severity", "low"]);
    cmd.args(["--change", "C", "--approved-by", "b"]).current_dir(ws.path("artifacts/sub"));
    Run::new(&[], cmd.output().unwrap()).success();
    let t = recipe_toml(&ws, "recipes/demo.toml");
    assert_eq!(t["patch"][0]["artifact"].as_str(), Some("../artifacts/p.tar"), "{art}");
}

#[test]
fn intake_refuses_a_duplicate_id_or_digest_and_leaves_the_recipe() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").patch("P-1", patch_layer(1)).write();
    let before = ws.read(&recipe);
    let art = ws.signed_artifact("p2.tar", &patch_layer(2), &["vendor"]);
    ws.gild(&intake_args(&recipe, &art, "P-1")).exit(2).stderr_has("patch id `P-1` is already used");
    let same = ws.artifact("demo", "P-1");
    let same = same.strip_prefix(&ws.root).unwrap().to_str().unwrap().to_string();
    ws.gild(&intake_args(&recipe, &same, "P-2")).exit(2).stderr_has("already pinned in the recipe, as `P-1`");
    let base = ws.artifact("demo", "base");
    let base = base.strip_prefix(&ws.root).unwrap().to_str().unwrap().to_string();
    ws.gild(&intake_args(&recipe, &base, "P-3")).exit(2).stderr_has("as `base`");
    assert!(ws.read(&recipe) == before, "a refused intake changed the recipe");
}

#[test]
fn intake_refuses_an_id_or_digest_that_is_deferred() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").patch("P-1", patch_layer(1)).write();
    ws.gild(&["defer", &recipe, "P-1", "--reason", "breaks billing"]).success();
    let art = ws.signed_artifact("p2.tar", &patch_layer(2), &["vendor"]);
    ws.gild(&intake_args(&recipe, &art, "P-1")).exit(2).stderr_has("`[[deferred]]`").stderr_has("defer --undo");
    let same = ws.artifact("demo", "P-1");
    let same = same.strip_prefix(&ws.root).unwrap().to_str().unwrap().to_string();
    ws.gild(&intake_args(&recipe, &same, "P-2")).exit(2).stderr_has("as `P-1`");
}

#[test]
fn intake_of_an_unsigned_or_wrongly_signed_artifact_is_a_trust_failure_and_journaled() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").declare_key("cab").write();
    let before = ws.read(&recipe);
    ws.write("artifacts/bare.tar", patch_layer(1).tar());
    ws.gild(&intake_args(&recipe, "artifacts/bare.tar", "P-1")).exit(3).stderr_has("bare.tar.minisig");
    let art = ws.signed_artifact("cab.tar", &patch_layer(2), &["cab"]);
    ws.gild(&intake_args(&recipe, &art, "P-2"))
        .exit(3)
        .stderr_has("has 0 of the 1 signature(s) it needs")
        .stderr_has("not in `signed-by`");
    assert!(ws.read(&recipe) == before, "a refused intake changed the recipe");
    let j = ws.gild(&["--json", "log", "demo", "--verify"]).success().json();
    let events: Vec<&str> = j["entries"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["refused", "refused"], "{j}");
    assert_eq!(j["entries"][1]["id"], "P-2");
}

#[test]
fn intake_of_a_missing_artifact_is_a_usage_error() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    ws.gild(&intake_args(&recipe, "artifacts/nope.tar", "P-1")).exit(2).stderr_has("nope.tar");
}

#[test]
fn intake_needs_every_signer_asked_and_sets_the_threshold_to_their_number() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").declare_key("cab").write();
    let one = ws.signed_artifact("one.tar", &patch_layer(1), &["vendor"]);
    let mut args = intake_args(&recipe, &one, "P-1");
    args.extend(["--signed-by", "vendor", "--signed-by", "cab"]);
    ws.gild(&args).exit(3).stderr_has("has 1 of the 2 signature(s) it needs");

    let two = ws.signed_artifact("two.tar", &patch_layer(2), &["vendor", "cab"]);
    let mut args = intake_args(&recipe, &two, "P-2");
    args.extend(["--signed-by", "vendor", "--signed-by", "cab"]);
    args.extend(["--signature", "artifacts/two.tar.minisig", "--signature", "artifacts/two.tar.2.minisig"]);
    let j = {
        let mut a = vec!["--json"];
        a.extend(args.iter().copied());
        ws.gild(&a).success().json()
    };
    assert_eq!(j["command"], "intake");
    assert_eq!(j["threshold"], 2);
    assert_eq!(j["signers"].as_array().unwrap().len(), 2, "{j}");
    let p = &recipe_toml(&ws, &recipe)["patch"][0];
    assert_eq!(p["threshold"].as_integer(), Some(2));
    let sigs: Vec<&str> = p["signatures"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert_eq!(sigs, ["../artifacts/two.tar.minisig", "../artifacts/two.tar.2.minisig"]);
    ws.gild(&["verify", &recipe]).success();
}

#[test]
fn intake_by_default_asks_for_the_signers_of_the_last_patch() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").patch("P-1", patch_layer(1)).signed_by(&["vendor", "cab"]).threshold(2).write();
    let one = ws.signed_artifact("one.tar", &patch_layer(2), &["vendor"]);
    ws.gild(&intake_args(&recipe, &one, "P-2")).exit(3).stderr_has("has 1 of the 2 signature(s) it needs");
    let mut args = intake_args(&recipe, &one, "P-2");
    args.extend(["--signed-by", "vendor"]);
    ws.gild(&args).success();
    assert_eq!(recipe_toml(&ws, &recipe)["patch"][1]["threshold"].as_integer(), Some(1));
}

#[test]
fn intake_with_an_unknown_key_is_a_usage_error() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    let art = ws.signed_artifact("p.tar", &patch_layer(1), &["vendor"]);
    let mut args = intake_args(&recipe, &art, "P-1");
    args.extend(["--signed-by", "nobody"]);
    ws.gild(&args).exit(2).stderr_has("no key `nobody`").stderr_has("`vendor`");
}

#[test]
fn intake_is_journaled_and_the_journal_verifies() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    let art = ws.signed_artifact("p.tar", &patch_layer(1), &["vendor"]);
    ws.gild_at(NOW, &intake_args(&recipe, &art, "P-1")).success();
    let j = ws.gild(&["--json", "log", "demo", "--verify"]).success().json();
    let e = &j["entries"][0];
    assert_eq!(e["event"], "intake");
    assert_eq!(e["id"], "P-1");
    assert_eq!(e["time"], NOW);
    assert_eq!(e["actor"], "tester");
    assert_eq!(e["sha256"], sha256_hex(&ws.read(&art)));
    assert_eq!(e["change"], "CHG-7");
    assert_eq!(e["approved-by"], "a.khan");
    assert_eq!(e["recipe"], sha256_hex(&ws.read(&recipe)), "the recipe as intake left it");
}

#[test]
fn eight_intakes_at_once_all_land_and_the_journal_verifies() {
    let ws = Workspace::new();
    let recipe = commented_recipe(&ws);
    let mut commands = Vec::new();
    for n in 0..8 {
        let art = ws.signed_artifact(&format!("c{n}.tar"), &patch_layer(100 + n), &["vendor"]);
        commands.push(ws.command(&intake_args(&recipe, &art, &format!("C-{n}"))));
    }
    for out in run_at_once(commands) {
        Run::new(&["intake"], out).success();
    }
    let text = ws.read_string(&recipe);
    let t = recipe_toml(&ws, &recipe);
    let mut ids: Vec<&str> = t["patch"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, ["C-0", "C-1", "C-2", "C-3", "C-4", "C-5", "C-6", "C-7", "P-1"], "{text}");
    for comment in ["# The demo image.", "# header comment", "# Patches apply in order.", "# odd spacing kept"] {
        assert!(text.contains(comment), "lost {comment:?}:\n{text}");
    }
    let j = ws.gild(&["--json", "log", "demo", "--verify"]).success().json();
    assert_eq!(j["entries"].as_array().unwrap().len(), 8);
    ws.gild(&["build", &recipe]).success();
    let image = ws.image("demo", "1.0.0");
    for n in 0..8 {
        assert!(image.has(format!("opt/patch-{}", 100 + n)), "{}", image.listing());
    }
}

/// A signed file, written as given.
fn signed_bytes(ws: &Workspace, file: &str, bytes: &[u8]) -> String {
    let rel = format!("artifacts/{file}");
    ws.write(&rel, bytes);
    let key = ws.key("vendor");
    ws.sign(&key, &ws.path(&rel), &ws.path(format!("{rel}.minisig")), false, file);
    rel
}

/// Issue 13: intake read the signature and the pin, not the layer, so a file gild cannot
/// layer was approved, journaled and listed by `plan`, and the build failed later.
#[test]
fn intake_refuses_a_file_gild_cannot_layer_and_writes_nothing() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    let before = ws.read_string(&recipe);
    let mut gz = Compression::Gz.compress(&patch_layer(1).tar());
    gz.truncate(gz.len() - 20);
    let dotdot = Layer::new().file("../escape", b"x\n").tar();
    let dev = Layer::new().char_dev("dev/evil", 1, 3).tar();
    let release = Layer::new().file("./etc/gild/release", b"name = \"x\"\n").tar();
    let cases: [(&str, &[u8], &str); 5] = [
        ("notes.txt", b"release notes, not a layer\n", "not a valid archive"),
        ("cut.tar.gz", &gz, "not a valid archive"),
        ("dotdot.tar", &dotdot, "`..` in the entry name"),
        ("dev.tar", &dev, "a patch may not add device nodes or fifos"),
        ("release.tar", &release, "`etc/gild/release` is written by gild"),
    ];
    for (file, bytes, why) in cases {
        let art = signed_bytes(&ws, file, bytes);
        let doc = ws.gild(&{
            let mut a = vec!["--json"];
            a.extend(intake_args(&recipe, &art, "P-1"));
            a
        });
        doc.exit(2).stderr_has(why).stderr_has("is not a layer gild can apply; the recipe is unchanged");
        assert_eq!(ws.read_string(&recipe), before, "{file}: the recipe is unchanged");
        assert!(!ws.exists("baselines/demo/journal.jsonl"), "{file}: nothing journaled");
    }
    // A layer gild can apply still goes in.
    let art = ws.signed_artifact("good.tar.gz", &patch_layer(1), &["vendor"]);
    ws.gild(&intake_args(&recipe, &art, "P-1")).success();
}
