//! `gild plan`: what is approved but not yet built, by priority, with due dates.

use crate::harness::*;

const POLICY: &str = "[policy]\ncritical = 7\nhigh = 30\nmedium = 90\nlow = 180\nexploited-factor = 0.5\n";

fn layer(n: u32) -> Layer {
    Layer::new().file(format!("./opt/p{n}"), b"x\n")
}

/// A critical, exploited patch released 2026-11-20 under a 7-day policy with factor 0.5.
fn critical_exploited(ws: &Workspace) -> String {
    ws.recipe("web")
        .image_line("exposure = \"internet\"")
        .patch("CRIT-1", layer(1))
        .line("severity = \"critical\"")
        .line("exploited = true")
        .line("released = 2026-11-20")
        .section(POLICY)
        .write()
}

#[test]
fn plan_reports_a_critical_exploited_patch_overdue_and_exits_1() {
    let ws = Workspace::new();
    let recipe = critical_exploited(&ws);
    // Released 5 days ago; floor(7 × 0.5) = 3 days; due 2026-11-23, 2 days ago.
    ws.gild(&["plan", &recipe, "--today", "2026-11-25"])
        .exit(1)
        .stdout_has("1 overdue")
        .stdout_has("web  CRIT-1  critical, exploited  released 2026-11-20  due 2026-11-23  OVERDUE by 2 day(s)");
    let j = ws.gild(&["--json", "plan", &recipe, "--today", "2026-11-25"]).exit(1).json();
    assert_eq!(j["command"], "plan");
    assert_eq!(j["today"], "2026-11-25");
    assert_eq!(j["overdue"], 1);
    let p = &j["patches"][0];
    assert_eq!(p["rank"], 1);
    assert_eq!(p["name"], "web");
    assert_eq!(p["id"], "CRIT-1");
    assert_eq!(p["severity"], "critical");
    assert_eq!(p["exploited"], true);
    assert_eq!(p["released"], "2026-11-20");
    assert_eq!(p["due"], "2026-11-23");
    assert_eq!(p["days-left"], -2);
    assert_eq!(p["overdue"], true);
    assert_eq!(p["exposure"], "internet");
}

#[test]
fn plan_on_the_due_date_is_not_overdue() {
    let ws = Workspace::new();
    let recipe = critical_exploited(&ws);
    ws.gild(&["plan", &recipe, "--today", "2026-11-23"]).success().stdout_has("due today");
    ws.gild(&["plan", &recipe, "--today", "2026-11-24"]).exit(1);
}

#[test]
fn plan_takes_today_from_gild_now_without_today() {
    let ws = Workspace::new();
    let recipe = critical_exploited(&ws);
    ws.gild_at("2026-11-21T12:00:00Z", &["plan", &recipe]).success().stdout_has("plan on 2026-11-21");
    ws.gild_at("2026-11-25T12:00:00Z", &["plan", &recipe]).exit(1);
}

#[test]
fn plan_leaves_out_patches_in_the_newest_baseline() {
    let ws = Workspace::new();
    let recipe = critical_exploited(&ws);
    ws.gild(&["build", &recipe]).success();
    ws.gild(&["plan", &recipe, "--today", "2026-12-25"])
        .success()
        .stdout_has("every approved patch is in a recorded baseline");
    let j = ws.gild(&["--json", "plan", &recipe, "--today", "2026-12-25"]).success().json();
    assert_eq!(j["images"][0]["baseline"], "1.0.0");
}

#[test]
fn plan_counts_a_repinned_patch_as_not_built() {
    let ws = Workspace::new();
    let recipe = critical_exploited(&ws);
    ws.gild(&["build", &recipe]).success();
    // Same id, another artifact: what the baseline holds is not what is approved now.
    let art = ws.signed_artifact("crit-1b.tar", &layer(9), &["vendor"]);
    ws.edit(&recipe, |t| {
        let old = t.lines().find(|l| l.starts_with("artifact = \"../artifacts/web-CRIT-1")).unwrap().to_string();
        let sha = t.lines().filter(|l| l.starts_with("sha256 = ")).nth(1).unwrap().to_string();
        t.replace(&old, &format!("artifact = \"../{art}\""))
            .replace(&sha, &format!("sha256 = \"{}\"", sha256_hex(&ws.read(&art))))
    });
    let j = ws.gild(&["--json", "plan", &recipe, "--today", "2026-11-21"]).success().json();
    assert_eq!(j["patches"][0]["id"], "CRIT-1", "{j}");
}

#[test]
fn plan_counts_from_the_approval_date_without_a_release_date() {
    let ws = Workspace::new();
    let recipe = ws
        .recipe("web")
        .patch("HIGH-1", layer(1))
        .line("approval = { change = \"C\", by = \"b\", date = 2026-11-01 }")
        .section(POLICY)
        .write();
    let j = ws.gild(&["--json", "plan", &recipe, "--today", "2026-11-25"]).success().json();
    assert_eq!(j["patches"][0]["due"], "2026-12-01", "30 days after approval: {j}");
    assert!(j["patches"][0]["released"].is_null());
    assert_eq!(j["patches"][0]["days-left"], 6);
}

#[test]
fn plan_without_a_policy_has_no_due_dates_and_nothing_overdue() {
    let ws = Workspace::new();
    let recipe = ws.recipe("web").patch("P-1", layer(1)).line("severity = \"critical\"").write();
    ws.gild(&["plan", &recipe, "--today", "2030-01-01"]).success().stdout_has("no due date");
}

#[test]
fn plan_orders_exploited_then_severity_then_exposure_then_due_date() {
    let ws = Workspace::new();
    ws.recipe("inner")
        .image_line("exposure = \"internal\"")
        .patch("I-CRIT", layer(1))
        .line("severity = \"critical\"")
        .patch("I-LOW-EXPLOITED", layer(2))
        .line("severity = \"low\"")
        .line("exploited = true")
        .section(POLICY)
        .write();
    ws.recipe("edge")
        .image_line("exposure = \"internet\"")
        .patch("E-CRIT", layer(3))
        .line("severity = \"critical\"")
        .patch("E-HIGH-LATE", layer(4))
        .line("approval = { change = \"C\", by = \"b\", date = 2026-11-20 }")
        .patch("E-HIGH-EARLY", layer(5))
        .line("approval = { change = \"C\", by = \"b\", date = 2026-11-10 }")
        .section(POLICY)
        .write();
    let j = ws.gild(&["--json", "plan", "--today", "2026-11-11"]).success().json();
    let order: Vec<&str> = j["patches"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(order, ["I-LOW-EXPLOITED", "E-CRIT", "I-CRIT", "E-HIGH-EARLY", "E-HIGH-LATE"], "{j}");
    let names: Vec<&str> = j["images"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["edge", "inner"], "every recipe of the workspace");
}

#[test]
fn plan_reports_deferrals_past_their_review_date() {
    let ws = Workspace::new();
    let recipe = ws.recipe("web").patch("P-1", layer(1)).write();
    ws.gild(&["defer", &recipe, "P-1", "--reason", "breaks billing", "--review-by", "2026-12-15"]).success();
    ws.gild(&["plan", &recipe, "--today", "2026-12-15"]).success();
    ws.gild(&["plan", &recipe, "--today", "2026-12-20"])
        .exit(1)
        .stdout_has("deferrals past their review date")
        .stdout_has("web  P-1  review by 2026-12-15 (5 day(s) ago): breaks billing");
    let j = ws.gild(&["--json", "plan", &recipe, "--today", "2026-12-20"]).exit(1).json();
    assert_eq!(j["reviews"][0]["id"], "P-1");
    assert_eq!(j["reviews"][0]["days-past"], 5);
    assert_eq!(j["patches"].as_array().map(Vec::len), Some(0), "a deferred patch is not pending");
}

#[test]
fn plan_refuses_a_bad_date() {
    let ws = Workspace::new();
    let recipe = critical_exploited(&ws);
    ws.gild(&["plan", &recipe, "--today", "25.11.2026"]).exit(2).stderr_has("not a date");
    ws.gild_at("yesterday", &["plan", &recipe]).exit(2).stderr_has("GILD_NOW");
}

#[test]
fn a_policy_factor_outside_zero_to_one_is_a_recipe_error() {
    let ws = Workspace::new();
    let recipe = ws.recipe("web").section("[policy]\ncritical = 7\nexploited-factor = 2.0\n").write();
    let line = nth_line_of(&ws.read_string(&recipe), "exploited-factor", 1);
    ws.gild(&["plan", &recipe]).exit(2).stderr_has(&format!("web.toml:{line}:")).stderr_has("between 0 and 1");
}
