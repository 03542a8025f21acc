//! docs/oci.md: `formats = ["oci"]` writes `out/NAME-VERSION.oci/`, an OCI image layout of one
//! layer that is the tar image's very bytes; its digests are recorded; `verify`, `diff`,
//! `scan` and `audit` read it back; skopeo and umoci take it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::harness::*;

const LAYOUT: &str = "out/demo-1.0.0.oci";
const GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn patch() -> Layer {
    Layer::new()
        .file_meta("./usr/bin/gzip", b"gzip\n", 0o755, 0, 0)
        .hardlink("./usr/bin/gunzip", "./usr/bin/gzip")
        .file_meta("./usr/bin/su", b"su\n", 0o4755, 0, 0)
        .dir_meta("./srv", 0o750, 33, 33)
        .file_meta("./srv/index.html", b"<html>\n", 0o640, 33, 33)
        .symlink("./srv/current", "index.html")
}

/// `recipes/demo.toml` with the given formats and `[image]` lines, and one patch.
fn recipe(ws: &Workspace, formats: &[&str], lines: &[&str]) -> String {
    let mut r = ws.recipe("demo").formats(formats);
    for l in lines {
        r = r.image_line(l);
    }
    r.patch("P-1", patch()).write()
}

fn build(ws: &Workspace, formats: &[&str], lines: &[&str]) {
    let recipe = recipe(ws, formats, lines);
    ws.gild(&["build", &recipe]).success();
}

fn amd64(ws: &Workspace) {
    build(ws, &["tar.gz", "oci"], &["platform = \"linux/amd64\""]);
}

fn json(ws: &Workspace, rel: impl AsRef<Path>) -> Value {
    serde_json::from_slice(&ws.read(rel)).unwrap()
}

/// The blob a descriptor names, in the layout.
fn blob(ws: &Workspace, layout: &str, descriptor: &Value) -> Vec<u8> {
    let digest = descriptor["digest"].as_str().unwrap();
    let bytes = ws.read(format!("{layout}/blobs/sha256/{}", digest.strip_prefix("sha256:").unwrap()));
    assert_eq!(format!("sha256:{}", sha256_hex(&bytes)), digest, "a blob hashes to its name");
    assert_eq!(bytes.len() as u64, descriptor["size"].as_u64().unwrap(), "a blob has its descriptor's size");
    bytes
}

/// The index's one manifest, and the config and layer it names.
fn image(ws: &Workspace, layout: &str) -> (Value, Value, Vec<u8>) {
    let index = json(ws, format!("{layout}/index.json"));
    let manifest: Value = serde_json::from_slice(&blob(ws, layout, &index["manifests"][0])).unwrap();
    let config: Value = serde_json::from_slice(&blob(ws, layout, &manifest["config"])).unwrap();
    let layer = blob(ws, layout, &manifest["layers"][0]);
    (manifest, config, layer)
}

/// Every file under `dir`, by relative path.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    snapshot(dir).into_iter().map(|(p, (_, bytes))| (p.strip_prefix(dir).unwrap().to_path_buf(), bytes)).collect()
}

#[test]
fn the_layout_holds_one_image_with_oci_media_types() {
    let ws = Workspace::new();
    amd64(&ws);
    assert_eq!(ws.read(format!("{LAYOUT}/oci-layout")), br#"{"imageLayoutVersion":"1.0.0"}"#);
    let index = json(&ws, format!("{LAYOUT}/index.json"));
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], "application/vnd.oci.image.index.v1+json");
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 1, "one image");
    let entry = &manifests[0];
    assert_eq!(entry["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(entry["annotations"]["org.opencontainers.image.ref.name"], "1.0.0");
    assert_eq!(entry["platform"]["os"], "linux");
    assert_eq!(entry["platform"]["architecture"], "amd64");

    let (manifest, config, _) = image(&ws, LAYOUT);
    let tree = tv(&ws.baseline("demo", "1.0.0"), &["tree"]).as_str().unwrap().to_string();
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.oci.image.config.v1+json");
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1, "one layer");
    assert_eq!(manifest["layers"][0]["mediaType"], GZIP_LAYER);
    assert_eq!(manifest["annotations"]["org.opencontainers.image.version"], "1.0.0");
    assert_eq!(manifest["annotations"]["org.opencontainers.image.revision"], tree.as_str());
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert!(config.get("variant").is_none());
    assert_eq!(config["created"], "2025-11-22T00:00:00Z", "the epoch as RFC 3339");
    assert_eq!(config["rootfs"]["type"], "layers");

    // Nothing else: three blobs, the index and the layout file.
    let names: Vec<String> = files(&ws.path(LAYOUT)).keys().map(|p| p.display().to_string()).collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names.contains(&"index.json".to_string()) && names.contains(&"oci-layout".to_string()));
    assert!(!ws.path("out").read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().starts_with(".gild")));
}

#[test]
fn the_gzip_layer_is_the_tar_gz_image_byte_for_byte() {
    let ws = Workspace::new();
    amd64(&ws);
    let (_, _, layer) = image(&ws, LAYOUT);
    assert!(layer == ws.read("out/demo-1.0.0.tar.gz"), "the layer is not the tar.gz image");
}

#[test]
fn oci_alone_gives_the_layer_another_build_writes_as_tar_gz() {
    let alone = Workspace::new();
    build(&alone, &["oci"], &["platform = \"linux/amd64\""]);
    let mut names: Vec<String> =
        alone.path("out").read_dir().unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["demo-1.0.0.oci"], "no tar image when only \"oci\" is asked for");
    let both = Workspace::new();
    amd64(&both);
    assert!(image(&alone, LAYOUT).2 == both.read("out/demo-1.0.0.tar.gz"));
}

#[test]
fn the_diff_id_is_the_sha256_of_the_decompressed_layer() {
    let ws = Workspace::new();
    amd64(&ws);
    let (_, config, layer) = image(&ws, LAYOUT);
    let tar = decompress(&layer);
    assert_eq!(config["rootfs"]["diff_ids"], serde_json::json!([format!("sha256:{}", sha256_hex(&tar))]));
    assert_consistent(&Image::from_tar(tar), &ws.mtree("demo", "1.0.0"));
}

#[test]
fn a_zstd_layer_is_the_tar_zst_image() {
    let ws = Workspace::new();
    build(&ws, &["tar.zst", "oci"], &["platform = \"linux/arm64/v8\"", "oci-layer = \"zstd\""]);
    let (manifest, config, layer) = image(&ws, LAYOUT);
    assert_eq!(manifest["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd");
    assert!(layer == ws.read("out/demo-1.0.0.tar.zst"), "the layer is not the tar.zst image");
    assert_eq!(config["rootfs"]["diff_ids"][0], format!("sha256:{}", sha256_hex(&decompress(&layer))));
    assert_eq!((&config["architecture"], &config["variant"]), (&Value::from("arm64"), &Value::from("v8")));
    assert_eq!(tv(&ws.baseline("demo", "1.0.0"), &["oci", "layer-compression"]).as_str(), Some("zstd"));
}

#[test]
fn without_an_epoch_the_layout_has_no_created() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").epoch(None).formats(&["oci"]).image_line("platform = \"linux/amd64\"").write();
    ws.gild(&["build", &recipe]).success();
    let (manifest, config, _) = image(&ws, LAYOUT);
    assert!(config.get("created").is_none(), "{config}");
    assert!(manifest["annotations"].get("org.opencontainers.image.created").is_none(), "{manifest}");
}

#[test]
fn layouts_are_byte_identical_across_workspaces() {
    let (a, b) = (Workspace::new(), Workspace::new());
    amd64(&a);
    amd64(&b);
    let (fa, fb) = (files(&a.path(LAYOUT)), files(&b.path(LAYOUT)));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    assert!(fa == fb, "the layouts differ");
}

#[test]
fn the_layout_is_readable_by_all_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new();
    let recipe = recipe(&ws, &["oci"], &["platform = \"linux/amd64\""]);
    let out = Command::new("sh")
        .args(["-c", "umask 077; exec \"$@\"", "sh", env!("CARGO_BIN_EXE_gild"), "build", &recipe])
        .current_dir(&ws.root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for entry in walkdir(&ws.path(LAYOUT)) {
        let mode = std::fs::metadata(&entry).unwrap().permissions().mode() & 0o777;
        let want = if entry.is_dir() { 0o755 } else { 0o644 };
        assert_eq!(mode, want, "{} has mode {mode:o}", entry.display());
    }
}

/// `dir` and every path under it.
fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_baseline_records_every_file_of_the_layout() {
    let ws = Workspace::new();
    amd64(&ws);
    let record = ws.baseline("demo", "1.0.0");
    let oci = tv(&record, &["oci"]);
    assert_eq!(oci["dir"].as_str(), Some("demo-1.0.0.oci"));
    assert_eq!(oci["platform"].as_str(), Some("linux/amd64"));
    let gz = ws.read("out/demo-1.0.0.tar.gz");
    assert_eq!(oci["layer"].as_str().unwrap(), format!("sha256:{}", sha256_hex(&gz)));
    assert_eq!(oci["diff-id"].as_str().unwrap(), format!("sha256:{}", sha256_hex(&decompress(&gz))));
    let index = json(&ws, format!("{LAYOUT}/index.json"));
    assert_eq!(oci["manifest"].as_str(), index["manifests"][0]["digest"].as_str());
    let recorded: BTreeMap<String, String> = oci["file"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["file"].as_str().unwrap().to_string(), f["sha256"].as_str().unwrap().to_string()))
        .collect();
    let on_disk: BTreeMap<String, String> =
        files(&ws.path(LAYOUT)).into_iter().map(|(p, bytes)| (p.display().to_string(), sha256_hex(&bytes))).collect();
    assert_eq!(recorded, on_disk);
    let release = ws.read_string(ws.baseline_dir("demo", "1.0.0").join("RELEASE.md"));
    let manifest = oci["manifest"].as_str().unwrap();
    assert!(
        release.contains(&format!("`demo-1.0.0.oci/` (linux/amd64, gzip layer): manifest `{manifest}`")),
        "{release}"
    );
}

#[test]
fn a_recipe_without_oci_records_no_oci_table() {
    let ws = Workspace::new();
    build(&ws, &["tar.zst"], &[]);
    let text = ws.read_string(ws.baseline_dir("demo", "1.0.0").join("baseline.toml"));
    assert!(!text.contains("oci"), "{text}");
}

// -- the recipe -------------------------------------------------------------------------------

/// `gild build` refuses the recipe with exit 2, naming `recipes/demo.toml:LINE:` of the
/// first line holding `at`, and every word of `names`.
fn refused(ws: &Workspace, recipe: &str, at: &str, names: &[&str]) {
    let text = ws.read_string(recipe);
    let run = ws.gild(&["build", recipe]);
    run.exit(2).stderr_has(&format!("recipes/demo.toml:{}:", nth_line_of(&text, at, 1)));
    for n in names {
        run.stderr_has(n);
    }
    ws.assert_nothing_written("demo", "1.0.0");
}

#[test]
fn oci_without_a_platform_is_a_recipe_error() {
    let ws = Workspace::new();
    let r = recipe(&ws, &["tar.zst", "oci"], &[]);
    refused(&ws, &r, "formats", &["`[image] platform`", "platform = \"linux/amd64\""]);
}

#[test]
fn a_platform_must_be_os_and_architecture() {
    let ws = Workspace::new();
    let r = recipe(&ws, &["oci"], &["platform = \"amd64\""]);
    refused(&ws, &r, "platform", &["platform = \"amd64\"", "OS/ARCHITECTURE"]);
}

#[test]
fn the_layer_is_gzip_or_zstd() {
    let ws = Workspace::new();
    let r = recipe(&ws, &["oci"], &["platform = \"linux/amd64\"", "oci-layer = \"xz\""]);
    refused(&ws, &r, "oci-layer", &["xz", "gzip", "zstd"]);
}

#[test]
fn oci_settings_without_oci_are_a_recipe_error() {
    let ws = Workspace::new();
    let r = recipe(&ws, &["tar.zst"], &["platform = \"linux/amd64\""]);
    refused(&ws, &r, "platform", &["`platform`", "add \"oci\""]);
    let r = recipe(&ws, &["tar.zst"], &["oci-layer = \"zstd\""]);
    refused(&ws, &r, "oci-layer", &["`oci-layer`"]);
}

// -- nothing partial, rebuilds ----------------------------------------------------------------

#[test]
fn a_failed_build_leaves_no_layout() {
    let ws = Workspace::new();
    let recipe = ws
        .recipe("demo")
        .formats(&["tar.gz", "oci"])
        .image_line("platform = \"linux/amd64\"")
        .check("fails", "exit 1")
        .write();
    ws.gild(&["build", &recipe]).exit(1);
    ws.assert_nothing_written("demo", "1.0.0");
}

#[test]
fn a_layout_gild_cannot_account_for_is_left_in_place_and_named() {
    // Nothing claims these (no killed build wrote them): gild deletes only what it can prove
    // it wrote, so the build stops instead of replacing them.
    let ws = Workspace::new();
    ws.write(format!("{LAYOUT}/oci-layout"), "{}");
    ws.write(format!("{LAYOUT}/index.json"), "left over");
    ws.write("out/.gild-tmp-demo@x/oci-layout", "{}");
    let recipe = recipe(&ws, &["tar.gz", "oci"], &["platform = \"linux/amd64\""]);
    ws.gild(&["build", &recipe]).exit(2).stderr_has("demo-1.0.0.oci");
    assert_eq!(ws.read_string(format!("{LAYOUT}/index.json")), "left over");
    assert!(ws.exists("out/.gild-tmp-demo@x/oci-layout"));
}

#[test]
fn an_unchanged_rebuild_writes_a_missing_layout_again() {
    let ws = Workspace::new();
    let recipe = recipe(&ws, &["tar.gz", "oci"], &["platform = \"linux/amd64\""]);
    ws.gild(&["build", &recipe]).success();
    let before = files(&ws.path(LAYOUT));
    std::fs::remove_dir_all(ws.path(LAYOUT)).unwrap();
    let run = ws.gild(&["build", &recipe]);
    run.success().stdout_has("unchanged demo 1.0.0").stdout_has("out/demo-1.0.0.oci");
    assert!(files(&ws.path(LAYOUT)) == before, "the layout written again differs");
    let j = ws.gild(&["--json", "build", &recipe]).success().json();
    assert_eq!(j["oci"]["manifest"], tv(&ws.baseline("demo", "1.0.0"), &["oci", "manifest"]).as_str().unwrap());
    assert_eq!(j["rewritten"], serde_json::json!([]), "a present layout is left alone");
}

#[test]
fn a_layout_that_does_not_reproduce_the_record_is_not_written() {
    let ws = Workspace::new();
    let recipe = recipe(&ws, &["tar.gz", "oci"], &["platform = \"linux/amd64\""]);
    ws.gild(&["build", &recipe]).success();
    std::fs::remove_dir_all(ws.path(LAYOUT)).unwrap();
    // The record pins another index.json (as if another gild had written it).
    let record = ws.baseline_dir("demo", "1.0.0").join("baseline.toml");
    ws.edit(&record, |t| {
        let at = t.find("file = \"index.json\"").unwrap();
        let sha = t[at..].find("sha256 = \"").unwrap() + at + 10;
        format!("{}{}{}", &t[..sha], "0".repeat(64), &t[sha + 64..])
    });
    ws.gild(&["build", &recipe]).exit(3).stderr_has("demo-1.0.0.oci/index.json").stderr_has(&"0".repeat(64));
    assert!(!ws.exists(LAYOUT), "a layout that is not the recorded one was written");
    assert!(!ws.path("out").read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().starts_with(".gild")));
}

#[test]
fn a_rebuild_for_another_platform_at_a_recorded_version_is_refused() {
    let ws = Workspace::new();
    amd64(&ws);
    ws.edit("recipes/demo.toml", |t| t.replace("linux/amd64", "linux/arm64"));
    ws.gild(&["build", "recipes/demo.toml"]).exit(2).stderr_has("linux/amd64").stderr_has("bump `[image] version`");
}

#[test]
fn oci_added_at_a_recorded_version_is_not_written_and_says_so() {
    let ws = Workspace::new();
    build(&ws, &["tar.zst"], &[]);
    ws.edit("recipes/demo.toml", |t| {
        t.replace("formats = [\"tar.zst\"]", "formats = [\"tar.zst\", \"oci\"]\nplatform = \"linux/amd64\"")
    });
    ws.gild(&["build", "recipes/demo.toml"])
        .success()
        .stdout_has("unchanged demo 1.0.0")
        .stderr_has("without the `oci` format");
    assert!(!ws.exists(LAYOUT));
}

// -- reading a layout back --------------------------------------------------------------------

#[test]
fn verify_accepts_the_recorded_layout_wherever_it_lies() {
    let ws = Workspace::new();
    amd64(&ws);
    ws.gild(&["verify", LAYOUT, "--baseline", "demo@1.0.0"]).success().stdout_has("recorded as demo-1.0.0.oci");
    std::fs::rename(ws.path(LAYOUT), ws.path("elsewhere")).unwrap();
    let j = ws.gild(&["--json", "verify", "elsewhere", "--baseline", "demo@1.0.0"]).success().json();
    assert_eq!((&j["ok"], &j["tree-matches"]), (&Value::Bool(true), &Value::Bool(true)));
}

/// Rewrites the config of the layout's image with `f`, and the manifest and index after it,
/// so that every digest holds again: another image, consistent in itself.
fn rewrite_config(ws: &Workspace, f: impl FnOnce(&mut Value)) {
    let (mut manifest, mut config, _) = image(ws, LAYOUT);
    f(&mut config);
    let put = |bytes: &[u8]| {
        let sha = sha256_hex(bytes);
        ws.write(format!("{LAYOUT}/blobs/sha256/{sha}"), bytes);
        (Value::from(format!("sha256:{sha}")), Value::from(bytes.len()))
    };
    let config_bytes = serde_json::to_vec(&config).unwrap();
    (manifest["config"]["digest"], manifest["config"]["size"]) = put(&config_bytes);
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
    let mut index = json(ws, format!("{LAYOUT}/index.json"));
    (index["manifests"][0]["digest"], index["manifests"][0]["size"]) = put(&manifest_bytes);
    ws.write(format!("{LAYOUT}/index.json"), serde_json::to_vec(&index).unwrap());
}

#[test]
fn verify_refuses_another_image_with_the_same_layer() {
    let ws = Workspace::new();
    amd64(&ws);
    rewrite_config(&ws, |c| c["config"]["Labels"]["org.opencontainers.image.version"] = Value::from("9.9.9"));
    let j = ws.gild(&["--json", "verify", LAYOUT, "--baseline", "demo@1.0.0"]).exit(3).json();
    let index = json(&ws, format!("{LAYOUT}/index.json"));
    assert_eq!(j["sha256"].as_str(), index["manifests"][0]["digest"].as_str().map(|d| &d[7..]), "{j}");
    assert_eq!(j["recorded-as"], Value::Null);
    assert_eq!(j["tree-matches"], Value::Bool(true), "the same layer, so the same tree");
    ws.gild(&["verify", LAYOUT, "--baseline", "demo@1.0.0"]).exit(3).stderr_has("is not one the baseline records");
}

#[test]
#[cfg_attr(gild_no_skopeo, ignore = "skopeo not installed")]
fn verify_accepts_a_copy_made_by_skopeo() {
    require(&[Need::Tool("skopeo")]);
    let ws = Workspace::new();
    amd64(&ws);
    // skopeo writes its own index.json; the image (manifest, config, layer) is the same.
    run(Command::new("skopeo")
        .args(["copy", "--preserve-digests"])
        .arg(format!("oci:{}:1.0.0", ws.path(LAYOUT).display()))
        .arg(format!("oci:{}:1.0.0", ws.path("copy").display())));
    assert!(ws.read("copy/index.json") != ws.read(format!("{LAYOUT}/index.json")));
    ws.gild(&["verify", "copy", "--baseline", "demo@1.0.0"]).success().stdout_has("recorded as demo-1.0.0.oci");
}

#[test]
fn an_altered_layer_is_a_trust_failure_for_every_reader() {
    let ws = Workspace::new();
    amd64(&ws);
    let layer = tv(&ws.baseline("demo", "1.0.0"), &["oci", "layer"]).as_str().unwrap().replace("sha256:", "");
    let path = ws.path(format!("{LAYOUT}/blobs/sha256/{layer}"));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[40] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    for args in [
        vec!["verify", LAYOUT, "--baseline", "demo@1.0.0"],
        vec!["scan", LAYOUT],
        vec!["diff", "demo@1.0.0", LAYOUT],
        vec!["audit", "demo@1.0.0", LAYOUT],
    ] {
        ws.gild(&args).exit(3).stderr_has("was altered").stderr_has(&layer);
    }
}

#[test]
fn a_wrong_diff_id_is_a_trust_failure() {
    let ws = Workspace::new();
    build(&ws, &["oci"], &["platform = \"linux/amd64\""]);
    rewrite_config(&ws, |c| c["rootfs"]["diff_ids"][0] = Value::from(format!("sha256:{}", "1".repeat(64))));
    ws.gild(&["scan", LAYOUT]).exit(3).stderr_has("rootfs.diff_ids").stderr_has(&"1".repeat(64));
}

#[test]
fn a_blob_digest_cannot_name_a_path_outside_the_layout() {
    let ws = Workspace::new();
    build(&ws, &["oci"], &["platform = \"linux/amd64\""]);
    let mut index = json(&ws, format!("{LAYOUT}/index.json"));
    index["manifests"][0]["digest"] = Value::from("sha256:../../../recipes/demo.toml");
    ws.write(format!("{LAYOUT}/index.json"), serde_json::to_vec(&index).unwrap());
    ws.gild(&["scan", LAYOUT]).exit(2).stderr_has("not a sha256 digest");
}

#[test]
fn scan_diff_and_audit_read_a_layout_as_its_image() {
    let ws = Workspace::new();
    amd64(&ws);
    let spec = ws.gild(&["scan", LAYOUT]).success().stdout.clone();
    assert_eq!(spec.as_bytes(), ws.read(ws.baseline_dir("demo", "1.0.0").join("files.mtree")), "scan = files.mtree");
    ws.gild(&["diff", "demo@1.0.0", LAYOUT]).success();
    let j = ws.gild(&["--json", "diff", "out/demo-1.0.0.tar.gz", LAYOUT]).success().json();
    assert_eq!(j["b"]["kind"], "OCI layout", "{j}");
    ws.gild(&["audit", "demo@1.0.0", LAYOUT]).success().stdout_has("compliant, on 1.0.0");
}

// -- stock tools ------------------------------------------------------------------------------

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
#[cfg_attr(gild_no_skopeo, ignore = "skopeo not installed")]
fn skopeo_inspect_shows_the_version_and_the_layer() {
    require(&[Need::Tool("skopeo")]);
    let ws = Workspace::new();
    amd64(&ws);
    let out = run(Command::new("skopeo").arg("inspect").arg(format!("oci:{}:1.0.0", ws.path(LAYOUT).display())));
    let j: Value = serde_json::from_str(&out).unwrap();
    let oci = tv(&ws.baseline("demo", "1.0.0"), &["oci"]).clone();
    assert_eq!(j["Digest"].as_str(), oci["manifest"].as_str());
    assert_eq!(j["Layers"], serde_json::json!([oci["layer"].as_str().unwrap()]));
    assert_eq!(j["Labels"]["org.opencontainers.image.version"], "1.0.0");
    assert_eq!((&j["Architecture"], &j["Os"]), (&Value::from("amd64"), &Value::from("linux")));
}

#[test]
#[cfg_attr(gild_no_skopeo, ignore = "skopeo not installed")]
fn skopeo_copies_the_layout_to_a_docker_archive() {
    require(&[Need::Tool("skopeo")]);
    let ws = Workspace::new();
    amd64(&ws);
    let archive = ws.path("demo.tar");
    run(Command::new("skopeo")
        .arg("copy")
        .arg(format!("oci:{}:1.0.0", ws.path(LAYOUT).display()))
        .arg(format!("docker-archive:{}:demo:1.0.0", archive.display())));
    let listing = run(Command::new("tar").arg("-tf").arg(&archive));
    assert!(listing.lines().any(|l| l == "manifest.json"), "{listing}");
}

/// The demo layout unpacked by umoci into `bundle/` of the workspace. umoci keeps owners (and
/// so unpacks the image as it is) only as root.
fn umoci_unpack(ws: &Workspace) -> PathBuf {
    amd64(ws);
    let bundle = ws.path("bundle");
    run(Command::new("umoci")
        .arg("unpack")
        .arg("--image")
        .arg(format!("{}:1.0.0", ws.path(LAYOUT).display()))
        .arg(&bundle));
    bundle
}

#[test]
#[cfg_attr(any(gild_no_umoci, gild_no_root), ignore = "needs umoci and root")]
fn umoci_unpacks_the_files_of_the_image() {
    require(&[Need::Tool("umoci"), Need::Root]);
    let ws = Workspace::new();
    umoci_unpack(&ws);
    ws.gild(&["diff", "demo@1.0.0", "bundle/rootfs"]).success().stdout_has("0 added, 0 removed, 0 changed");
}

#[test]
#[cfg_attr(any(gild_no_umoci, gild_no_mtree, gild_no_root), ignore = "needs umoci, NetBSD mtree and root")]
fn netbsd_mtree_accepts_the_rootfs_umoci_unpacks() {
    require(&[Need::Tool("umoci"), Need::Tool("mtree"), Need::Root]);
    let ws = Workspace::new();
    let bundle = umoci_unpack(&ws);
    let spec = ws.baseline_dir("demo", "1.0.0").join("files.mtree");
    let out = run(Command::new("mtree").arg("-f").arg(&spec).arg("-p").arg(bundle.join("rootfs")));
    // NetBSD mtree exits 0 on differences: its silence is the verdict.
    assert!(out.trim().is_empty(), "mtree -f files.mtree on the rootfs:\n{out}");
}
