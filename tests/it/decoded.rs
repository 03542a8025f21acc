//! Patches kept decoded in the cache: a build that decompresses a gzip or xz patch (or a Debian
//! package; a plain or zstd tar decodes as fast as the cache reads) keeps the stream in
//! `$GILD_CACHE/decoded/` and records its sha256 as `decoded` in the patch's `[[patch]]` table,
//! and the next version reads it from there instead of decompressing the artifact again, but
//! only with the bytes a baseline recorded. The images are those of a build without the cache;
//! an entry altered on disk, or one no baseline vouches for, is not used; the artifacts are
//! verified on every build. With a base index the base is verified beside the layering: its
//! failure is still the build's error, journaled once, and nothing is published.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::debfix::*;
use crate::harness::*;

const NAME: &str = "dec";
const FORMATS: [&str; 2] = ["tar.zst", "tar.gz"];
const TAR: Compression = Compression::Tar;
const GZ: Compression = Compression::Gz;
const ZST: Compression = Compression::Zst;
const XZ: Compression = Compression::Xz;

// ---------------------------------------------------------------------------------------------
// Recipes: the harness's small base and patches `P-0`, `P-1`, … in the compressions given

/// Patch `i`: a few hundred KiB of text (so decompressing it is real work), `etc/motd` changed,
/// and the file the patch before it left in `opt/p{i-1}/gone` whited out.
fn patch_layer(i: usize) -> Layer {
    let text: Vec<u8> = (0..12_000).flat_map(|j| format!("patch {i} line {j}: decoded once\n").into_bytes()).collect();
    let mut layer = Layer::new()
        .dir("./opt")
        .dir(format!("./opt/p{i}"))
        .file(format!("./opt/p{i}/data"), &text)
        .file(format!("./opt/p{i}/gone"), b"to be removed\n")
        .file("./etc/motd", format!("patched by {i}\n").as_bytes());
    if i > 0 {
        layer = layer.whiteout(&format!("./opt/p{}/gone", i - 1));
    }
    layer
}

/// Writes `recipes/dec.toml` at `version` with one patch per compression given.
fn recipe(ws: &Workspace, version: &str, patches: &[Compression]) -> String {
    let mut r = ws.recipe(NAME).version(version).formats(&FORMATS).base(base_layer());
    for (i, c) in patches.iter().enumerate() {
        r = r.patch(&format!("P-{i}"), patch_layer(i)).compress(*c);
    }
    r.write()
}

// ---------------------------------------------------------------------------------------------
// Running and reading

/// Version 1.0.1: P-0 in zstd, then `second` as P-1, signed by `signer`.
fn next_with(ws: &Workspace, second: Layer, signer: &str) -> String {
    let r = ws.recipe(NAME).version("1.0.1").formats(&FORMATS).base(base_layer());
    r.patch("P-0", patch_layer(0)).compress(ZST).patch("P-1", second).sig_by(signer).write()
}

/// `gild --json build RECIPE EXTRA…`; asserts success.
fn build(ws: &Workspace, recipe: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--json", "build", recipe];
    args.extend_from_slice(extra);
    ws.gild(&args).success().json()
}

/// `"decoded": {"reused", "decompressed"}` of a build's JSON.
fn decoded(j: &serde_json::Value) -> (u64, u64) {
    let d = &j["decoded"];
    let n = |k: &str| d[k].as_u64().unwrap_or_else(|| panic!("no decoded.{k} in {j}"));
    (n("reused"), n("decompressed"))
}

/// The `decoded` digest of each `[[patch]]` of `version`'s baseline.toml, in order.
fn recorded_decoded(ws: &Workspace, name: &str, version: &str) -> Vec<Option<String>> {
    let b = ws.baseline(name, version);
    let patches = tv(&b, &["patch"]).as_array().unwrap();
    patches.iter().map(|p| p.get("decoded").map(|d| d.as_str().expect("a string").to_string())).collect()
}

/// The sha256 of each image of `version`, by file name.
fn image_digests(ws: &Workspace, version: &str) -> Vec<(String, String)> {
    FORMATS
        .iter()
        .map(|ext| (format!("{NAME}-{version}.{ext}"), sha256_hex(&ws.read(ws.image_path(NAME, version, ext)))))
        .collect()
}

/// The decoded patches the cache holds.
fn entries(ws: &Workspace) -> Vec<PathBuf> {
    files_under(&ws.cache().join("decoded"))
}

/// The cache entry whose bytes have this sha256 (a `decoded` digest a baseline recorded).
fn entry_with(ws: &Workspace, digest: &str) -> PathBuf {
    let all = entries(ws);
    all.iter()
        .find(|p| sha256_hex(&std::fs::read(p).unwrap()) == digest)
        .unwrap_or_else(|| panic!("no entry of the cache has the recorded digest {digest}: {all:?}"))
        .clone()
}

/// Removes the images of `version` from out/, rebuilds it without the cache, and asserts that
/// gild calls it unchanged and writes the very bytes again: the images a build with the cache
/// wrote are those of a build without it.
fn assert_same_without_cache(ws: &Workspace, recipe: &str, version: &str) {
    let before = image_digests(ws, version);
    for ext in FORMATS {
        std::fs::remove_file(ws.image_path(NAME, version, ext)).unwrap();
    }
    let j = build(ws, recipe, &["--no-cache"]);
    assert_eq!(j["status"], "unchanged", "{j}");
    assert_eq!(decoded(&j), (0, j["patches"].as_array().unwrap().len() as u64), "--no-cache reads no entry: {j}");
    assert_eq!(image_digests(ws, version), before, "{version} written without the cache differs");
}

/// `install.sh` of `version` in `ws` and in `plain` (built without the cache), the same but
/// for the vendor's public key, which each workspace makes anew. The script decompresses each
/// patch as the build found it compressed, which a patch read from the cache must carry too.
fn assert_same_install_script(ws: &Workspace, plain: &Workspace, name: &str, version: &str) {
    let script = |w: &Workspace| w.read_string(w.baseline_dir(name, version).join("install.sh"));
    let expected = script(plain).replace(&plain.key("vendor").base64(), &ws.key("vendor").base64());
    assert!(script(ws) == expected, "install.sh of {version} differs from the one built without the cache");
}

/// The journal's lines, through `gild log --verify`.
fn journal(ws: &Workspace, name: &str) -> Vec<serde_json::Value> {
    let j = ws.gild(&["--json", "log", name, "--verify"]).success().json();
    j["entries"].as_array().unwrap().clone()
}

/// Asserts the journal of `name` holds exactly one `refused` line, for artifact `id`.
fn assert_refused_once(ws: &Workspace, name: &str, id: &str) {
    let refused: Vec<serde_json::Value> = journal(ws, name).into_iter().filter(|e| e["event"] == "refused").collect();
    assert_eq!(refused.len(), 1, "one `refused` line: {refused:?}");
    assert_eq!(refused[0]["id"], id, "{refused:?}");
}

/// `out/.gild-tmp-*`: temporary images.
fn temporaries(ws: &Workspace) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(ws.path("out")) else { return Vec::new() };
    rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|f| f.starts_with(".gild-tmp")).collect()
}

/// Flips one byte in the middle of `path`.
fn flip(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Reuse

/// The point of the cache: a new version with one patch more decompresses only that patch,
/// and writes, byte for byte, the images of the same recipes built without any cache.
#[test]
fn a_new_version_reads_the_recorded_patches_decoded_and_writes_the_images_of_a_build_without_the_cache() {
    let first = [XZ, GZ];
    let next = [XZ, GZ, ZST];
    let ws = Workspace::new();
    let j = build(&ws, &recipe(&ws, "1.0.0", &first), &[]);
    assert_eq!(decoded(&j), (0, 2), "a cold cache: both patches decompressed: {j}");
    let j = build(&ws, &recipe(&ws, "1.0.1", &next), &[]);
    assert_eq!(decoded(&j), (2, 1), "the two recorded patches read from the cache, the new one decompressed: {j}");

    let plain = Workspace::new();
    build(&plain, &recipe(&plain, "1.0.0", &first), &["--no-cache"]);
    let p = build(&plain, &recipe(&plain, "1.0.1", &next), &["--no-cache"]);
    assert_eq!(decoded(&p), (0, 3), "{p}");
    assert!(!plain.cache().exists(), "--no-cache uses no cache at all");
    assert_eq!(j["tree"], p["tree"], "the same tree");
    for version in ["1.0.0", "1.0.1"] {
        assert_eq!(image_digests(&ws, version), image_digests(&plain, version), "{version}: the same image bytes");
    }
    let image = ws.image(NAME, "1.0.1");
    assert_eq!(image.data("etc/motd"), b"patched by 2\n");
    assert!(image.data("opt/p0/data").starts_with(b"patch 0 line 0: "), "P-0's file, read from the cache");
    assert!(!image.has("opt/p0/gone") && !image.has("opt/p1/gone") && image.has("opt/p2/gone"), "whiteouts applied");
}

/// The text output says what the cache spared, in the line the docs give.
#[test]
fn the_text_output_counts_the_patches_read_decoded_from_the_cache() {
    let ws = Workspace::new();
    let run = ws.gild(&["build", &recipe(&ws, "1.0.0", &[GZ, XZ, GZ])]);
    assert!(!run.success().stdout.contains("read decoded"), "nothing read from a cold cache:\n{}", run.stdout);
    ws.gild(&["build", &recipe(&ws, "1.0.1", &[GZ, XZ, GZ, TAR])])
        .success()
        .stdout_has("\n  patches   1 decompressed, 3 read decoded from the cache\n");
}

/// `decoded` in a `[[patch]]` is what lets a later build trust the cache's entry: a build with
/// the cache records one for each gzip and xz patch, naming an entry with those bytes, and
/// none for a plain or zstd tar (not worth keeping); one without the cache records none (and
/// writes no cache).
#[test]
fn the_baseline_records_a_decoded_digest_for_each_patch_only_when_the_cache_is_used() {
    let ws = Workspace::new();
    build(&ws, &recipe(&ws, "1.0.0", &[TAR, GZ, XZ, ZST]), &[]);
    let digests = recorded_decoded(&ws, NAME, "1.0.0");
    assert_eq!(digests.len(), 4);
    assert!(digests[0].is_none() && digests[3].is_none(), "a plain and a zstd tar are not kept: {digests:?}");
    for (i, d) in digests.iter().enumerate().skip(1).take(2) {
        let d = d.as_ref().unwrap_or_else(|| panic!("P-{i} records no `decoded`"));
        assert!(d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()), "P-{i}: decoded = {d:?}");
        entry_with(&ws, d);
    }
    assert_eq!(entries(&ws).len(), 2, "one entry per patch kept: {:?}", entries(&ws));

    let plain = Workspace::new();
    build(&plain, &recipe(&plain, "1.0.0", &[TAR, GZ, XZ, ZST]), &["--no-cache"]);
    assert_eq!(recorded_decoded(&plain, NAME, "1.0.0"), vec![None, None, None, None]);
    assert!(!plain.read_string("baselines/dec/1.0.0/baseline.toml").contains("decoded"));
    assert!(!plain.cache().exists(), "--no-cache writes no cache");
}

/// Every compression a patch may come in, and a plain tar, gives the same tree whether read
/// back from the cache (gzip, xz) or decompressed (plain, zstd: not kept).
#[test]
fn a_patch_of_every_compression_round_trips_through_the_cache() {
    let first = [TAR, GZ, ZST, XZ];
    let next = [TAR, GZ, ZST, XZ, GZ];
    let ws = Workspace::new();
    build(&ws, &recipe(&ws, "1.0.0", &first), &[]);
    let r = recipe(&ws, "1.0.1", &next);
    let j = build(&ws, &r, &[]);
    assert_eq!(decoded(&j), (2, 3), "the gzip and xz patches read from the cache: {j}");

    let plain = Workspace::new();
    build(&plain, &recipe(&plain, "1.0.0", &first), &["--no-cache"]);
    let p = build(&plain, &recipe(&plain, "1.0.1", &next), &["--no-cache"]);
    assert_eq!(j["tree"], p["tree"], "the tree read from the cache is the tree decompressed");
    assert_eq!(ws.read_string("baselines/dec/1.0.1/files.mtree"), plain.read_string("baselines/dec/1.0.1/files.mtree"));
    assert_same_install_script(&ws, &plain, NAME, "1.0.1");
    let script = ws.read_string("baselines/dec/1.0.1/install.sh");
    for line in [
        "<\"$ARTIFACTS\"/'dec-P-0.tar'\n",
        "gzip -dc <\"$ARTIFACTS\"/'dec-P-1.tar.gz' |",
        "zstd -dcq <\"$ARTIFACTS\"/'dec-P-2.tar.zst' |",
        "xz -dc <\"$ARTIFACTS\"/'dec-P-3.tar.xz' |",
    ] {
        assert!(script.contains(line), "install.sh lacks {line:?}: a cached patch lost its compression");
    }
    assert_same_without_cache(&ws, &r, "1.0.1");
}

/// A Debian package is decoded into its control data and data tar: that too comes back from
/// the cache as the same tree and the same package records.
#[test]
#[cfg_attr(any(gild_no_dpkg, gild_no_tar), ignore = "needs dpkg and GNU tar")]
fn a_debian_package_patch_round_trips_through_the_cache() {
    require(&[Need::Dpkg, Need::Tool("tar")]);
    let update = |version: &str, compression: &str| {
        foo_data()
            .version(version)
            .file(&format!("usr/share/foo/{version}.txt"), version.as_bytes())
            .compression(compression)
            .build()
    };
    let debs = [update("1.0-2", "xz"), update("1.0-3", "gzip")];
    let write = |ws: &Workspace, version: &str, n: usize| {
        let mut r = ws.recipe(NAME).version(version).formats(&FORMATS).base(deb_base());
        for (i, deb) in debs.iter().take(n).enumerate() {
            r = r.deb(&format!("P-{i}"), deb);
        }
        r.write()
    };
    let ws = Workspace::new();
    build(&ws, &write(&ws, "1.0.0", 1), &[]);
    assert!(recorded_decoded(&ws, NAME, "1.0.0")[0].is_some(), "the package's decoded stream is recorded");
    let r = write(&ws, "1.0.1", 2);
    let j = build(&ws, &r, &[]);
    assert_eq!(decoded(&j), (1, 1), "{j}");

    let plain = Workspace::new();
    build(&plain, &write(&plain, "1.0.0", 1), &["--no-cache"]);
    let p = build(&plain, &write(&plain, "1.0.1", 2), &["--no-cache"]);
    assert_eq!(j["tree"], p["tree"], "the package read from the cache gives the tree dpkg's data gives");
    assert_eq!(j["patches"], p["patches"], "and the same package records");
    assert_same_install_script(&ws, &plain, NAME, "1.0.1");
    let image = ws.image(NAME, "1.0.1");
    let status = String::from_utf8(image.data("var/lib/dpkg/status").to_vec()).unwrap();
    assert!(status.contains("Package: foo-data\n") && status.contains("Version: 1.0-3\n"), "{status}");
    assert!(image.has("usr/share/foo/1.0-3.txt") && !image.has("usr/share/foo/1.0-2.txt"), "1.0-2 upgraded");
    assert_same_without_cache(&ws, &r, "1.0.1");
}

// ---------------------------------------------------------------------------------------------
// Entries the cache must not serve

/// An entry changed on disk (one byte flipped) and one cut short are not read: the build
/// warns naming each, decompresses those patches again, writes the right images, and puts
/// entries with the recorded bytes in their place. The intact one is still used.
#[test]
fn a_decoded_entry_altered_or_cut_short_on_disk_is_not_used_and_is_written_again() {
    let ws = Workspace::new();
    build(&ws, &recipe(&ws, "1.0.0", &[GZ, XZ, GZ]), &[]);
    let digests: Vec<String> = recorded_decoded(&ws, NAME, "1.0.0").into_iter().map(Option::unwrap).collect();
    let altered = entry_with(&ws, &digests[0]);
    let cut = entry_with(&ws, &digests[1]);
    flip(&altered);
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();

    let r = recipe(&ws, "1.0.1", &[GZ, XZ, GZ, TAR]);
    let run = ws.gild(&["--json", "build", &r]);
    run.success().stderr_has(&altered.display().to_string()).stderr_has(&cut.display().to_string());
    let j = run.json();
    assert_eq!(decoded(&j), (1, 3), "only the intact entry is read: {j}");
    let warnings = j["warnings"].to_string();
    for entry in [&altered, &cut] {
        assert!(warnings.contains(&entry.display().to_string()), "a warning names {}: {j}", entry.display());
    }
    let again = recorded_decoded(&ws, NAME, "1.0.1");
    for (i, entry) in [(0, &altered), (1, &cut)] {
        assert_eq!(again[i].as_deref(), Some(&digests[i][..]), "P-{i} decodes to the bytes recorded before");
        let now = std::fs::read(entry).unwrap_or_else(|e| panic!("{} not written again: {e}", entry.display()));
        assert_eq!(sha256_hex(&now), digests[i], "{} holds the recorded bytes again", entry.display());
    }
    let image = ws.image(NAME, "1.0.1");
    assert!(image.data("opt/p0/data").starts_with(b"patch 0 line 0: "));
    assert!(image.data("opt/p1/data").ends_with(b"patch 1 line 11999: decoded once\n"), "all of P-1");
    assert_same_without_cache(&ws, &r, "1.0.1");

    // And the entries written again serve the next version.
    let j = build(&ws, &recipe(&ws, "1.0.2", &[GZ, XZ, GZ, TAR, GZ]), &[]);
    assert_eq!(decoded(&j), (3, 2), "the plain tar is never kept: {j}");
}

/// An entry with the right bytes at the right place is still not read when no baseline
/// recorded its digest: here the records' `decoded` lines are deleted.
#[test]
fn an_entry_no_baseline_recorded_is_not_used() {
    let ws = Workspace::new();
    build(&ws, &recipe(&ws, "1.0.0", &[GZ, XZ]), &[]);
    let before: Vec<(PathBuf, Vec<u8>)> =
        entries(&ws).into_iter().map(|p| (p.clone(), std::fs::read(p).unwrap())).collect();
    assert_eq!(before.len(), 2);
    ws.edit("baselines/dec/1.0.0/baseline.toml", |t| {
        t.lines().filter(|l| !l.starts_with("decoded = ")).map(|l| format!("{l}\n")).collect()
    });
    assert_eq!(recorded_decoded(&ws, NAME, "1.0.0"), vec![None, None]);
    let j = build(&ws, &recipe(&ws, "1.0.1", &[GZ, XZ, ZST]), &[]);
    assert_eq!(decoded(&j), (0, 3), "no entry is read that no baseline vouches for: {j}");
    assert_eq!(recorded_decoded(&ws, NAME, "1.0.1").iter().flatten().count(), 2, "recorded now (not the zstd one)");
    for (path, bytes) in before {
        assert!(std::fs::read(&path).unwrap() == bytes, "{} holds the stream decoded again", path.display());
    }
}

/// A cache shared with another workspace holds this recipe's patches decoded, under the right
/// keys, but this workspace's baselines (built without the cache) vouch for none of them: they
/// are decompressed, not read.
#[test]
fn entries_another_workspace_left_in_the_cache_are_not_used_without_a_record() {
    let (a, b) = (Workspace::new(), Workspace::new());
    build(&a, &recipe(&a, "1.0.0", &[GZ, XZ]), &[]);
    build(&b, &recipe(&b, "1.0.0", &[GZ, XZ]), &["--no-cache"]);
    let mut cmd = b.command(&["--json", "build", &recipe(&b, "1.0.1", &[GZ, XZ, GZ])]);
    cmd.env("GILD_CACHE", a.cache());
    let j = Run::new(&["--json", "build"], cmd.output().unwrap()).success().json();
    assert_eq!(decoded(&j), (0, 3), "{j}");
    // The same shared cache serves a's own next version.
    let mut cmd = a.command(&["--json", "build", &recipe(&a, "1.0.1", &[GZ, XZ, GZ])]);
    cmd.env("GILD_CACHE", a.cache());
    let j = Run::new(&["--json", "build"], cmd.output().unwrap()).success().json();
    assert_eq!(decoded(&j), (2, 1), "{j}");
}

/// Decoded patches count toward `GILD_CACHE_MAX` like frames: a bounded cache keeps none of
/// them, and the next build, finding the recorded entries gone, decompresses its patches and
/// keeps them for the one after.
#[test]
fn decoded_entries_are_trimmed_to_gild_cache_max_and_missing_ones_are_decompressed() {
    let ws = Workspace::new();
    let r = recipe(&ws, "1.0.0", &[GZ, XZ]);
    let mut cmd = ws.command(&["--json", "build", &r]);
    cmd.env("GILD_CACHE_MAX", "1K");
    Run::new(&["--json", "build", &r], cmd.output().unwrap()).success();
    assert_eq!(recorded_decoded(&ws, NAME, "1.0.0").iter().flatten().count(), 2, "recorded all the same");
    let held: u64 = files_under(&ws.cache()).iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    assert!(held <= 1024, "the cache holds {held} bytes with GILD_CACHE_MAX=1K: {:?}", entries(&ws));
    let j = build(&ws, &recipe(&ws, "1.0.1", &[GZ, XZ, ZST]), &[]);
    assert_eq!(decoded(&j), (0, 3), "{j}");
    let j = build(&ws, &recipe(&ws, "1.0.2", &[GZ, XZ, ZST, TAR]), &[]);
    assert_eq!(decoded(&j), (2, 2), "{j}");
}

/// The limits decide how a patch decodes, so an entry decoded under others is not read: a
/// window limit below the xz patch's dictionary refuses it as a build without the cache does,
/// though the cache holds it decoded (under the default limits).
#[test]
fn a_patch_the_limits_now_refuse_is_refused_though_the_cache_holds_it_decoded() {
    let ws = Workspace::new();
    build(&ws, &recipe(&ws, "1.0.0", &[XZ]), &[]);
    let r = recipe(&ws, "1.0.1", &[XZ, GZ]);
    for extra in [&[][..], &["--no-cache"][..]] {
        let mut args = vec!["--limit", "window=1MiB", "build", &r];
        args.extend_from_slice(extra);
        ws.gild(&args).exit(2).stderr_has("(P-0)").stderr_has("window");
        ws.assert_nothing_written(NAME, "1.0.1");
    }
    assert_eq!(decoded(&build(&ws, &r, &[])), (1, 1), "under the default limits the entry is read");
}

/// With `[sign]`, a baseline vouches for a decoded entry only when its signature checks: an
/// entry replaced by another stream (one with a file the patch does not have) and the record
/// edited to name its digest are not taken; the patch is decompressed from its artifact.
#[test]
fn a_signed_recipe_does_not_read_an_entry_an_edited_record_vouches_for() {
    let ws = Workspace::new();
    let dir = tempfile::tempdir().unwrap();
    let pair = minisign::KeyPair::generate_encrypted_keypair(Some(String::new())).unwrap();
    let secret = dir.path().join("build.key");
    std::fs::write(&secret, pair.sk.to_box(Some("gild test build key")).unwrap().to_string()).unwrap();
    ws.write("keys/build.pub", pair.pk.to_box().unwrap().to_string());
    let sign = format!(
        "[sign]\nkey = {{ file = {} }}\npublic = [\"../keys/build.pub\"]\n",
        toml_str(&secret.display().to_string())
    );
    let write = |version: &str, n: usize| {
        let mut r = ws.recipe(NAME).version(version).formats(&FORMATS).base(base_layer());
        for i in 0..n {
            r = r.patch(&format!("P-{i}"), patch_layer(i)).compress(GZ);
        }
        r.section(&sign).write()
    };
    build(&ws, &write("1.0.0", 1), &[]);
    let digest = recorded_decoded(&ws, NAME, "1.0.0")[0].clone().unwrap();
    let entry = entry_with(&ws, &digest);
    let genuine = std::fs::read(&entry).unwrap();
    // An entry is the stream, then the byte naming its compression.
    let mut planted = patch_layer(0).file("./usr/bin/planted", b"#!not from the patch\n").tar();
    planted.push(*genuine.last().unwrap());
    std::fs::write(&entry, &planted).unwrap();
    ws.edit("baselines/dec/1.0.0/baseline.toml", |t| t.replace(&digest, &sha256_hex(&planted)));

    let j = build(&ws, &write("1.0.1", 2), &[]);
    assert_eq!(decoded(&j), (0, 2), "{j}");
    assert!(j["warnings"].to_string().contains("1.0.0"), "the record that does not check is named: {j}");
    let image = ws.image(NAME, "1.0.1");
    assert!(!image.has("usr/bin/planted"), "the planted stream was read:\n{}", image.listing());
    assert!(image.data("opt/p0/data").starts_with(b"patch 0 line 0: "));
}

// ---------------------------------------------------------------------------------------------
// Trust, with the decoded patches and the base index in the cache

/// The artifacts are verified on every build, the ones the cache holds decoded too: a
/// recorded patch whose artifact no longer matches its pin, or whose signature no longer
/// verifies, fails the build (exit 3) naming that patch, not the base, though the base comes
/// from its index and the patch's stream from the cache.
#[test]
fn a_recorded_patch_that_fails_verification_while_the_base_index_is_used_names_the_patch() {
    for broken in ["pin", "signature"] {
        let ws = Workspace::new();
        build(&ws, &recipe(&ws, "1.0.0", &[GZ, XZ]), &[]);
        let r = recipe(&ws, "1.0.1", &[GZ, XZ, GZ]);
        let artifact = ws.artifact(NAME, "P-1");
        let good = std::fs::read(&artifact).unwrap();
        let sig = PathBuf::from(format!("{}.minisig", artifact.display()));
        let good_sig = std::fs::read(&sig).unwrap();
        let why = match broken {
            // Other bytes, signed by the key: only the pin fails.
            "pin" => {
                flip(&artifact);
                ws.sign(&ws.key("vendor"), &artifact, &sig, false, "P-1 signed by vendor");
                "does not match its pin"
            }
            // The key's signature of other bytes: only the signature fails.
            _ => {
                let other = ws.path("other-bytes");
                std::fs::write(&other, b"not the artifact").unwrap();
                ws.sign(&ws.key("vendor"), &other, &sig, false, "P-1 signed by vendor");
                "signature"
            }
        };
        let run = ws.gild(&["build", &r]);
        run.exit(3).stderr_has("dec-P-1.tar.xz").stderr_has("(P-1)").stderr_has(why);
        assert!(!run.stderr.contains("(base)"), "{broken}: the base is fine:\n{}", run.stderr);
        ws.assert_nothing_written(NAME, "1.0.1");
        assert_refused_once(&ws, NAME, "P-1");

        // As it was, the same build uses the index and the cached P-1.
        std::fs::write(&artifact, good).unwrap();
        std::fs::write(&sig, good_sig).unwrap();
        let j = build(&ws, &r, &[]);
        assert_eq!(j["base-index"], "used", "{broken}: {j}");
        assert_eq!(decoded(&j), (2, 1), "{broken}: {j}");
    }
}

/// Runs `gild --json build RECIPE` with the base's signature file a FIFO: the verification of
/// the base, which a base index leaves to its own thread, waits on it until the images are
/// staged in out/ (the temporaries are there and have stopped growing); then it is given
/// `signature`. Returns the run and whether the temporaries were seen.
fn build_verifying_the_base_last(ws: &Workspace, recipe: &str, signature: &[u8]) -> (Run, bool) {
    use std::os::unix::fs::OpenOptionsExt;
    let sig = PathBuf::from(format!("{}.minisig", ws.artifact(NAME, "base").display()));
    std::fs::remove_file(&sig).unwrap();
    let fifo = std::ffi::CString::new(sig.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let mut child = ws
        .process(&["--json", "build", recipe])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    // Opening the FIFO for writing succeeds once gild opens it for reading.
    let mut writer = loop {
        match std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&sig) {
            Ok(f) => break f,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                assert!(child.try_wait().unwrap().is_none(), "gild ended before reading the base's signature");
                if started.elapsed() > Duration::from_secs(60) {
                    child.kill().unwrap();
                    panic!("gild did not read the base's signature within a minute");
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("{e}"),
        }
    };
    // The images are written meanwhile; wait until they have stopped growing, or gild waits
    // for the base before writing them.
    let mut sizes = Vec::new();
    let mut still = 0;
    let mut seen = false;
    while started.elapsed() < Duration::from_secs(20) && still < 40 {
        let now: Vec<u64> =
            temporaries(ws).iter().map(|f| std::fs::metadata(ws.path("out").join(f)).map_or(0, |m| m.len())).collect();
        seen |= !now.is_empty();
        still = if seen && now == sizes { still + 1 } else { 0 };
        sizes = now;
        std::thread::sleep(Duration::from_millis(10));
    }
    // The FIFO is non-blocking for the writer: small writes go through whole.
    writer.write_all(signature).unwrap();
    drop(writer);
    let out = child.wait_with_output().unwrap();
    std::fs::remove_file(&sig).unwrap();
    (Run::new(&["--json", "build", recipe], out), seen)
}

/// A base whose verification fails while its index is used, after the images were written:
/// still the build's error, exit 3 naming the base, one `refused` line, no image, no baseline,
/// no temporary left in out/. Both ways a base may fail: its bytes rewritten since they were
/// recorded (the pin no longer matches), or a signature that does not verify.
#[test]
fn a_base_failing_verification_beside_the_layering_publishes_nothing() {
    for broken in ["pin", "signature"] {
        let ws = Workspace::new();
        let j = build(&ws, &recipe(&ws, "1.0.0", &[ZST]), &[]);
        assert_eq!(j["base-index"], "written", "{j}");
        let r = recipe(&ws, "1.0.1", &[ZST, GZ]);
        let base = ws.artifact(NAME, "base");
        let (good, good_sig) = (ws.read(&base), std::fs::read(format!("{}.minisig", base.display())).unwrap());
        let signature = match broken {
            "pin" => {
                // Other bytes in a file's data: still a tar, and still signed by the key.
                let at = good.windows(8).position(|w| w == b"#!shell\n").unwrap();
                let mut bytes = good.clone();
                bytes[at] = b'%';
                std::fs::write(&base, &bytes).unwrap();
                ws.sign(&ws.key("vendor"), &base, &ws.path("resigned.minisig"), false, "base signed by vendor");
                ws.read("resigned.minisig")
            }
            _ => {
                let other = ws.path("other-bytes");
                std::fs::write(&other, b"not the base").unwrap();
                ws.sign(&ws.key("vendor"), &other, &ws.path("other.minisig"), false, "base signed by vendor");
                ws.read("other.minisig")
            }
        };
        let (run, staged) = build_verifying_the_base_last(&ws, &r, &signature);
        run.exit(3).stderr_has("dec-base.tar").stderr_has("(base)");
        match broken {
            "pin" => run.stderr_has("does not match its pin"),
            _ => run.stderr_has("signature"),
        };
        assert!(staged, "{broken}: the images were staged before the base's verification ended");
        assert!(temporaries(&ws).is_empty(), "{broken}: temporaries left in out/: {:?}", temporaries(&ws));
        ws.assert_nothing_written(NAME, "1.0.1");
        assert_refused_once(&ws, NAME, "base");
        assert!(!run.stdout.contains("\"built\""), "{broken}: {}", run.stdout);

        // As it was, the same build uses the index: the failure above was the index's path.
        std::fs::write(&base, &good).unwrap();
        std::fs::write(format!("{}.minisig", base.display()), &good_sig).unwrap();
        let j = build(&ws, &r, &[]);
        assert_eq!(j["base-index"], "used", "{broken}: {j}");
    }
}

/// A base artifact gone while its index is used is what it is when the base is decoded: a
/// mistake in the input (exit 2), not a trust failure, so nothing is journaled.
#[test]
fn a_missing_base_is_an_input_mistake_when_its_index_is_used_too() {
    let ws = Workspace::new();
    build(&ws, &recipe(&ws, "1.0.0", &[ZST]), &[]);
    let r = recipe(&ws, "1.0.1", &[ZST, GZ]);
    let base = ws.artifact(NAME, "base");
    let good = ws.read(&base);
    std::fs::remove_file(&base).unwrap();
    ws.gild(&["build", &r]).exit(2).stderr_has("cannot read artifact `../artifacts/dec-base.tar` (base)");
    ws.assert_nothing_written(NAME, "1.0.1");
    assert!(journal(&ws, NAME).iter().all(|e| e["event"] != "refused"), "nothing refused");
    std::fs::write(&base, good).unwrap();
    assert_eq!(build(&ws, &r, &[])["base-index"], "used");
}

/// A base failing beside the layering is reported before what the layering found: a patch
/// with a hostile entry (exit 2 on its own) does not hide the base's trust failure.
#[test]
fn a_failing_base_is_reported_before_a_hostile_patch_when_its_index_is_used() {
    let ws = Workspace::new();
    build(&ws, &recipe(&ws, "1.0.0", &[ZST]), &[]);
    let r = next_with(&ws, Layer::new().file("../outside", b"x"), "vendor");
    flip(&ws.artifact(NAME, "base"));
    let run = ws.gild(&["build", &r]);
    run.exit(3).stderr_has("dec-base.tar").stderr_has("does not match its pin");
    assert!(!run.stderr.contains("outside"), "only the base's failure is reported:\n{}", run.stderr);
    ws.assert_nothing_written(NAME, "1.0.1");
    assert_refused_once(&ws, NAME, "base");
}

/// The base and a patch both fail verification: the base is reported, as when the base is
/// decoded (verified first), and journaled as the one `refused` line, whether its index is
/// used or not.
#[test]
fn a_failing_base_beside_an_untrusted_patch_is_the_one_refusal_journaled() {
    for cache in [false, true] {
        let ws = Workspace::new();
        build(&ws, &recipe(&ws, "1.0.0", &[ZST]), &[]);
        let r = next_with(&ws, patch_layer(1), "stranger");
        flip(&ws.artifact(NAME, "base"));
        let extra: &[&str] = if cache { &[] } else { &["--no-cache"] };
        let mut args = vec!["build", &r];
        args.extend_from_slice(extra);
        let run = ws.gild(&args);
        run.exit(3).stderr_has("dec-base.tar").stderr_has("does not match its pin");
        assert!(!run.stderr.contains("(P-1)"), "cache {cache}: only the base is reported:\n{}", run.stderr);
        ws.assert_nothing_written(NAME, "1.0.1");
        assert_refused_once(&ws, NAME, "base");
    }
}
