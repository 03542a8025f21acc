//! A rebuild that starts from the cache's index of the decoded base instead of decoding it
//! again (docs/image-format.md): same bytes as a build without the cache, and a cache that
//! lost or garbled what the index points at costs time, never the build.

use crate::harness::*;

/// The base's package database: what the SBOM lists.
const STATUS: &[u8] = b"Package: base-files\nStatus: install ok installed\nPriority: required\n\
Section: admin\nInstalled-Size: 300\nMaintainer: Gild Tests <tests@example.org>\nArchitecture: amd64\n\
Version: 12.4+deb12u5\nDescription: Debian base system miscellaneous files\n\n";
const OS_RELEASE: &[u8] = b"NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n";

/// A base of a few MiB in many files, so the image has several chunks, with a package
/// database and `os-release` (which a build reads back from the index's frames).
fn base() -> Layer {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut layer = base_layer()
        .dir("./var")
        .dir("./var/lib")
        .dir("./var/lib/dpkg")
        .file("./var/lib/dpkg/status", STATUS)
        .file("./usr/lib/os-release", OS_RELEASE)
        .symlink("./etc/os-release", "../usr/lib/os-release")
        .dir("./usr/share/data");
    for i in 0..400 {
        let size = 2_000 + (i * 7_919) % 30_000;
        let data: Vec<u8> = (0..size)
            .map(|j| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Half noise, half text: compressible, not trivially.
                if j % 64 < 32 {
                    (x >> 24) as u8
                } else {
                    b"patch management "[j % 17]
                }
            })
            .collect();
        layer = layer.file(format!("./usr/share/data/f{i:04}"), &data);
    }
    layer
}

fn recipe(ws: &Workspace, version: &str, patches: usize) -> String {
    recipe_in(ws, version, patches, &["tar.zst", "tar.gz"])
}

fn recipe_in(ws: &Workspace, version: &str, patches: usize, formats: &[&str]) -> String {
    let mut r = ws.recipe("idx").version(version).formats(formats).base(base());
    if formats.contains(&"oci") {
        r = r.image_line("platform = \"linux/amd64\"");
    }
    for p in 0..patches {
        let layer =
            Layer::new().file(format!("./usr/share/data/f{:04}", 100 * p + 7), format!("patched {p}\n").as_bytes());
        r = r.patch(&format!("P-{p}"), layer);
    }
    r.write()
}

fn base_index(ws: &Workspace, version: &str) -> String {
    let text = ws.read_string(format!("baselines/idx/{version}/baseline.toml"));
    let line =
        text.lines().find(|l| l.starts_with("base-index = ")).unwrap_or_else(|| panic!("no base-index:\n{text}"));
    line.to_string()
}

/// The images of `version` written again without the cache must match the record.
fn same_without_cache(ws: &Workspace, recipe: &str, version: &str) {
    for ext in ["tar.zst", "tar.gz"] {
        std::fs::remove_file(ws.path(format!("out/idx-{version}.{ext}"))).unwrap();
    }
    let j = ws.gild(&["--json", "build", recipe, "--no-cache"]).success().json();
    assert_eq!(j["status"], "unchanged", "{j}");
    assert_eq!(j["rewritten"].as_array().map(Vec::len), Some(2), "both images written again and matching: {j}");
}

#[test]
fn a_rebuild_with_one_more_patch_starts_from_the_base_index_and_gives_the_same_bytes() {
    let ws = Workspace::new();
    let first = recipe(&ws, "1.0.0", 1);
    let j = ws.gild(&["--json", "build", &first]).success().json();
    assert_eq!(j["base-index"], "written", "{j}");
    let next = recipe(&ws, "1.0.1", 2);
    let j = ws.gild(&["--json", "build", &next]).success().json();
    assert_eq!(j["base-index"], "used", "the base is not decoded again: {j}");
    assert_eq!(base_index(&ws, "1.0.0"), base_index(&ws, "1.0.1"));
    assert!(j["frames"]["reused"].as_u64().unwrap() > 0, "{j}");
    same_without_cache(&ws, &next, "1.0.1");
    let image = ws.image("idx", "1.0.1");
    assert_eq!(image.data("usr/share/data/f0107"), b"patched 1\n");
    assert_eq!(image.data("usr/share/data/f0007"), b"patched 0\n");
}

/// The components of a version's SBOM.
fn components(ws: &Workspace, version: &str) -> serde_json::Value {
    let text = ws.read_string(ws.baseline_dir("idx", version).join("sbom.cdx.json"));
    let sbom: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("sbom.cdx.json: {e}\n{text}"));
    sbom["components"].clone()
}

/// The base's packages and OS are read from the index's frames in a rebuild that does not
/// decode the base: its SBOM is the one a build without the cache writes.
#[test]
fn a_rebuild_from_the_base_index_lists_the_base_packages() {
    let ws = Workspace::new();
    ws.gild(&["build", &recipe(&ws, "1.0.0", 1)]).success();
    let j = ws.gild(&["--json", "build", &recipe(&ws, "1.0.1", 2)]).success().json();
    assert_eq!(j["base-index"], "used", "{j}");
    let warm = components(&ws, "1.0.1");
    let listed = warm.to_string();
    assert!(listed.contains("pkg:deb/debian/base-files@12.4%2Bdeb12u5"), "the base's package: {warm}");
    assert!(listed.contains("\"operating-system\""), "the base's os-release: {warm}");

    let cold = Workspace::new();
    cold.gild(&["build", &recipe(&cold, "1.0.1", 2), "--no-cache"]).success();
    assert_eq!(warm, components(&cold, "1.0.1"), "a build without the cache lists the same");
}

/// An OCI layout's layer is chunked like an image, and its frames are recorded too: the next
/// version takes the unchanged ones from the cache, and the base from its index.
#[test]
fn an_oci_layer_alone_is_rebuilt_from_the_cache() {
    let ws = Workspace::new();
    ws.gild(&["build", &recipe_in(&ws, "1.0.0", 1, &["oci"])]).success();
    assert!(ws.read_string("baselines/idx/1.0.0/baseline.toml").contains("[[oci.frame]]"));
    let j = ws.gild(&["--json", "build", &recipe_in(&ws, "1.0.1", 2, &["oci"])]).success().json();
    assert_eq!(j["base-index"], "used", "{j}");
    assert!(j["frames"]["reused"].as_u64().unwrap() > 0, "{j}");
}

#[test]
fn a_garbled_index_is_ignored_and_the_base_decoded() {
    let ws = Workspace::new();
    ws.gild(&["build", &recipe(&ws, "1.0.0", 1)]).success();
    let mut garbled = 0;
    for entry in walk(&ws.cache().join("index")) {
        let mut bytes = std::fs::read(&entry).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        std::fs::write(&entry, bytes).unwrap();
        garbled += 1;
    }
    assert_eq!(garbled, 1, "one base, one index");
    let next = recipe(&ws, "1.0.1", 2);
    let j = ws.gild(&["--json", "build", &next]).success().json();
    assert_eq!(j["base-index"], "written", "decoded again and indexed anew: {j}");
    assert!(j["warnings"].to_string().contains("cache"), "the garbled entry is reported: {j}");
    same_without_cache(&ws, &next, "1.0.1");
}

/// Every frame the index points at garbled on disk (present, so the index is taken, but not
/// with its recorded bytes): the build notices when it reads one, and builds again decoding
/// the base, with the same bytes.
#[test]
fn frames_the_index_needs_garbled_on_disk_cost_a_second_pass_not_the_build() {
    let ws = Workspace::new();
    ws.gild(&["build", &recipe(&ws, "1.0.0", 1)]).success();
    for entry in walk(&ws.cache().join("frame")) {
        let mut bytes = std::fs::read(&entry).unwrap();
        bytes[0] ^= 0xff;
        std::fs::write(&entry, bytes).unwrap();
    }
    let next = recipe(&ws, "1.0.1", 2);
    let j = ws.gild(&["--json", "build", &next]).success().json();
    assert_eq!(j["frames"]["reused"], 0, "no garbled frame is used: {j}");
    assert!(j["warnings"].to_string().contains("built again without it"), "{j}");
    same_without_cache(&ws, &next, "1.0.1");
}

#[test]
fn no_cache_neither_reads_nor_writes_an_index() {
    let ws = Workspace::new();
    let j = ws.gild(&["--json", "build", &recipe(&ws, "1.0.0", 1), "--no-cache"]).success().json();
    assert!(j["base-index"].is_null(), "{j}");
    assert!(!ws.cache().exists(), "nothing written to the cache");
    assert!(!ws.read_string("baselines/idx/1.0.0/baseline.toml").contains("base-index"));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for group in std::fs::read_dir(dir).unwrap() {
        for entry in std::fs::read_dir(group.unwrap().path()).unwrap() {
            out.push(entry.unwrap().path());
        }
    }
    out.sort();
    out
}
