//! docs/recipe.md: recipe mistakes are exit 2 and name `recipes/x.toml:LINE:COL` and the key.

use crate::harness::*;

/// Builds `recipes/x.toml` and expects exit 2 with `recipes/x.toml:LINE:COL` (LINE the
/// `nth` line holding `at`) and every word of `names` on stderr.
fn recipe_error(ws: &Workspace, at: &str, nth: usize, names: &[&str]) -> Run {
    let text = ws.read_string("recipes/x.toml");
    let line = nth_line_of(&text, at, nth);
    let run = ws.gild(&["build", "recipes/x.toml"]);
    run.exit(2);
    let loc = format!("recipes/x.toml:{line}:");
    let col = run.stderr.find(&loc).map(|i| &run.stderr[i + loc.len()..]);
    assert!(
        col.is_some_and(|c| c.starts_with(|ch: char| ch.is_ascii_digit())),
        "stderr lacks {loc}COL:\n{}\n--- recipe ---\n{text}",
        run.stderr
    );
    for n in names {
        run.stderr_has(n);
    }
    ws.assert_nothing_written("x", "1.0.0");
    run
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let ws = Workspace::new();
    ws.recipe("x").image_line("colour = \"red\"").write();
    recipe_error(&ws, "colour", 1, &["colour"]);
}

#[test]
fn unknown_key_in_a_patch_is_named_with_its_line() {
    let ws = Workspace::new();
    ws.recipe("x").patch("P-1", Layer::new().file("./etc/motd", b"m")).line("sevrity = \"low\"").write();
    recipe_error(&ws, "sevrity", 1, &["sevrity"]);
}

#[test]
fn image_name_must_equal_the_file_stem() {
    let ws = Workspace::new();
    ws.recipe("x").write();
    ws.edit("recipes/x.toml", |s| s.replace("name = \"x\"", "name = \"y\""));
    recipe_error(&ws, "name = \"y\"", 1, &["name"]);
}

#[test]
fn version_with_a_leading_zero_is_refused() {
    let ws = Workspace::new();
    ws.recipe("x").version("1.02").write();
    recipe_error(&ws, "version = \"1.02\"", 1, &["version", "1.02"]);
    ws.assert_nothing_written("x", "1.02");
}

#[test]
fn duplicate_patch_id_is_refused_at_the_second_one() {
    let ws = Workspace::new();
    let same = Layer::new().file("./etc/motd", b"m");
    ws.recipe("x").patch("P-1", same.clone()).patch("P-1", same).write();
    recipe_error(&ws, "id = \"P-1\"", 2, &["P-1"]);
}

#[test]
fn signed_by_naming_an_undeclared_key_is_refused() {
    let ws = Workspace::new();
    ws.recipe("x").write();
    ws.edit("recipes/x.toml", |s| s.replace("signed-by = [\"vendor\"]", "signed-by = [\"vendor\", \"nobody\"]"));
    recipe_error(&ws, "\"nobody\"", 1, &["nobody"]);
}

#[test]
fn threshold_above_the_number_of_signers_is_refused() {
    let ws = Workspace::new();
    ws.recipe("x").base(base_layer()).threshold(2).write();
    recipe_error(&ws, "threshold = 2", 1, &["threshold"]);
}

#[test]
fn pin_that_is_not_64_lowercase_hex_is_refused() {
    let ws = Workspace::new();
    ws.recipe("x").write();
    ws.edit("recipes/x.toml", |s| {
        let start = s.find("sha256 = \"").unwrap() + "sha256 = \"".len();
        let mut s = s;
        s.replace_range(start..start + 64, &"AB".repeat(32));
        s
    });
    recipe_error(&ws, "sha256 = ", 1, &["sha256"]);
}

#[test]
fn missing_artifact_file_is_named() {
    let ws = Workspace::new();
    let recipe = ws.recipe("x").write();
    std::fs::remove_file(ws.artifact("x", "base")).unwrap();
    ws.gild(&["build", &recipe]).exit(2).stderr_has("x-base.tar");
    ws.assert_nothing_written("x", "1.0.0");
}

/// `[audit] ignore` is part of the recipe: a bad glob fails `gild verify RECIPE` (and a build)
/// at its line and column, not the first audit months later.
#[test]
fn a_bad_audit_ignore_glob_fails_verify_at_its_line() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").section("[audit]\nignore = [\"var/log/**\", \"etc/[machine-id\"]\n").write();
    let text = ws.read_string(&recipe);
    let line = nth_line_of(&text, "etc/[machine-id", 1);
    let col = text.lines().nth(line - 1).unwrap().find("\"etc/[").unwrap() + 1;
    for args in [vec!["verify", recipe.as_str()], vec!["build", recipe.as_str()]] {
        ws.gild(&args)
            .exit(2)
            .stderr_has(&format!("recipes/demo.toml:{line}:{col}: "))
            .stderr_has("`[audit] ignore` glob `etc/[machine-id`");
    }
    ws.assert_nothing_written("demo", "1.0.0");
}
