//! docs/image-format.md: an image is cut into chunks where its entries say, each chunk one
//! independent zstd frame or gzip member; a rebuild copies the frames a baseline recorded from
//! the cache and compresses only the rest; neither the cache nor the number of workers moves a
//! byte; a cache that is damaged, shared, open to others or bounded never fails a build; and
//! stock readers take the concatenated frames as one stream.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

const NAME: &str = "frames";
const FORMATS: [&str; 2] = ["tar.zst", "tar.gz"];

// ---------------------------------------------------------------------------------------------
// Trees of many chunks, made from a seed

/// xorshift64: the trees are a function of their seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: [&str; 32] = [
    "golden", "image", "patch", "signed", "layer", "baseline", "tree", "entry", "frame", "chunk", "cache", "zstd",
    "gzip", "member", "record", "version", "epoch", "sha256", "mtree", "usr", "lib", "bin", "etc", "opt", "root",
    "daemon", "config", "value", "true", "false", "0755", "0644",
];

/// `n` bytes of word soup: compresses about as well as the text and config files of a real
/// root, so every frame costs the compressor some work and none shrinks to nothing.
fn text(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        let r = rng.next();
        out.extend_from_slice(WORDS[(r % 32) as usize].as_bytes());
        out.push(if r >> 60 == 0 { b'\n' } else { b' ' });
    }
    out.truncate(n);
    out
}

/// `n` bytes that do not compress (a stripped binary, an already compressed file).
fn noise(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        out.extend_from_slice(&rng.next().to_le_bytes());
    }
    out.truncate(n);
    out
}

/// The files a test puts under `opt/`, by path (`opt/dNN/fNNNN`).
struct Tree {
    files: Vec<(String, Vec<u8>)>,
}

impl Tree {
    /// About `mib` MiB of files from 32 bytes to 256 KiB over eight directories, one in ten
    /// incompressible, and with `large` one file of 6 MiB (a file of 4 MiB or more starts a
    /// chunk and its data is cut every 4 MiB): several chunks, some of each kind.
    fn new(seed: u64, mib: u64, large: bool) -> Tree {
        let mut rng = Rng::new(seed);
        let mut files = Vec::new();
        let mut total = 0u64;
        while total < mib << 20 {
            let shift = rng.below(13);
            let size = (32u64 << shift) + rng.below(32 << shift);
            let i = files.len();
            let data = if rng.below(10) == 0 { noise(&mut rng, size as usize) } else { text(&mut rng, size as usize) };
            files.push((format!("opt/d{:02}/f{i:04}", i % 8), data));
            total += size;
        }
        if large {
            files.push(("opt/d03/large.bin".to_string(), text(&mut rng, 6 << 20)));
        }
        Tree { files }
    }

    /// The small base of the harness with the tree added.
    fn layer(&self) -> Layer {
        let mut layer = base_layer().dir("./opt");
        for d in 0..8 {
            layer = layer.dir(format!("./opt/d{d:02}"));
        }
        for (path, data) in &self.files {
            layer = layer.file(format!("./{path}"), data);
        }
        layer
    }

    /// A patch that gives one small file (picked by `pick`) new bytes of the same size, so
    /// that no cut moves: its path, its new bytes and the layer.
    fn patch_one(&self, pick: u64) -> (String, Vec<u8>, Layer) {
        let small: Vec<&(String, Vec<u8>)> =
            self.files.iter().filter(|(_, d)| (100..64 << 10).contains(&d.len())).collect();
        let (path, old) = small[(pick % small.len() as u64) as usize];
        let new: Vec<u8> = old.iter().map(|b| b ^ 0x20).collect();
        let layer = Layer::new().file(format!("./{path}"), &new);
        (path.clone(), new, layer)
    }
}

/// Writes `recipes/frames.toml` at `version`: the tree as the base, and the patches given.
fn recipe(ws: &Workspace, version: &str, tree: &Tree, patches: &[(&str, Layer)]) -> String {
    let mut r = ws.recipe(NAME).version(version).formats(&FORMATS).base(tree.layer());
    for (id, layer) in patches {
        r = r.patch(id, layer.clone());
    }
    r.write()
}

// ---------------------------------------------------------------------------------------------
// Running and reading

/// `gild ARGS` with extra environment.
fn gild_env(ws: &Workspace, env: &[(&str, &OsStr)], args: &[&str]) -> Run {
    let mut cmd = ws.command(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Run::new(args, cmd.output().unwrap())
}

/// `gild --json build RECIPE EXTRA…` with extra environment; asserts success.
fn build(ws: &Workspace, env: &[(&str, &OsStr)], recipe: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--json", "build", recipe];
    args.extend_from_slice(extra);
    gild_env(ws, env, &args).success().json()
}

/// `"frames": {"reused", "compressed"}` of a build's JSON.
fn counts(j: &serde_json::Value) -> (u64, u64) {
    let f = &j["frames"];
    let n = |k: &str| f[k].as_u64().unwrap_or_else(|| panic!("no frames.{k} in {j}"));
    (n("reused"), n("compressed"))
}

/// The frames `baseline.toml` of `version` records for its `ext` image: (key, sha256) in order.
fn recorded(ws: &Workspace, version: &str, ext: &str) -> Vec<(String, String)> {
    let b = ws.baseline(NAME, version);
    let file = format!("{NAME}-{version}.{ext}");
    let image = tv(&b, &["image"])
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["file"].as_str() == Some(file.as_str()))
        .unwrap_or_else(|| panic!("baseline.toml records no {file}"));
    let frames = image.get("frame").and_then(|f| f.as_array()).unwrap_or_else(|| panic!("no frames for {file}"));
    frames.iter().map(|f| (f["key"].as_str().unwrap().to_string(), f["sha256"].as_str().unwrap().to_string())).collect()
}

/// Every frame `version` records, both formats.
fn all_recorded(ws: &Workspace, version: &str) -> Vec<(String, String)> {
    FORMATS.iter().flat_map(|ext| recorded(ws, version, ext)).collect()
}

/// The images of `version`, by format.
fn images(ws: &Workspace, version: &str) -> Vec<Vec<u8>> {
    FORMATS.iter().map(|ext| ws.read(ws.image_path(NAME, version, ext))).collect()
}

/// Where the cache keeps the frame with this (hex) key.
fn cache_entry(cache: &Path, key: &str) -> PathBuf {
    cache.join("frame").join(&key[..2]).join(key)
}

/// Removes the images of `version` from out/, rebuilds it without the cache, and asserts that
/// gild calls it unchanged and writes every image again, matching the record: the bytes a
/// build with a cache wrote are the bytes of a build without one.
fn assert_rebuilt_identical_without_cache(ws: &Workspace, recipe: &str, version: &str) {
    let before = images(ws, version);
    for ext in FORMATS {
        std::fs::remove_file(ws.image_path(NAME, version, ext)).unwrap();
    }
    let run = ws.gild(&["build", recipe, "--version", version, "--no-cache"]);
    run.success().stdout_has(&format!("unchanged {NAME} {version}"));
    assert_eq!(
        run.stdout.matches("(written again; matches the record)").count(),
        FORMATS.len(),
        "every image is written again:\n{}",
        run.stdout
    );
    assert!(images(ws, version) == before, "{version} without the cache differs from the build with it");
    for (ext, bytes) in FORMATS.iter().zip(&before) {
        let b = ws.baseline(NAME, version);
        let file = format!("{NAME}-{version}.{ext}");
        let rec =
            tv(&b, &["image"]).as_array().unwrap().iter().find(|i| i["file"].as_str() == Some(file.as_str())).cloned();
        assert_eq!(rec.unwrap()["sha256"].as_str().unwrap(), sha256_hex(bytes), "{file} against its record");
    }
}

// ---------------------------------------------------------------------------------------------
// The cache at work

#[test]
fn a_rebuild_after_a_small_patch_compresses_only_the_frames_that_changed() {
    let ws = Workspace::new();
    let tree = Tree::new(1, 12, true);
    let r = recipe(&ws, "1.0.0", &tree, &[]);
    let first = build(&ws, &[], &r, &[]);
    let frames0 = all_recorded(&ws, "1.0.0");
    assert!(recorded(&ws, "1.0.0", "tar.zst").len() >= 4, "a tree of many chunks: {frames0:?}");
    assert_eq!(counts(&first), (0, frames0.len() as u64), "a cold cache serves nothing: {first}");

    let (path, data, patch) = tree.patch_one(7);
    let r = recipe(&ws, "1.0.1", &tree, &[("P-1", patch)]);
    let second = build(&ws, &[], &r, &[]);
    assert_eq!(second["status"], "built");
    let frames1 = all_recorded(&ws, "1.0.1");
    let (reused, compressed) = counts(&second);
    // Only the chunk holding the patched file and the one holding etc/gild/release (which
    // names the version) are new; the patch keeps every size, so no cut moves.
    let new = frames1.iter().filter(|f| !frames0.contains(f)).count() as u64;
    assert!(reused > 0, "a warm rebuild reuses frames: {second}");
    assert_eq!(reused + compressed, frames1.len() as u64, "{second}");
    assert_eq!(compressed, new, "exactly the frames not recorded before are compressed: {second}");
    assert!(compressed <= 2 * FORMATS.len() as u64, "at most two chunks per format changed: {second}");
    assert!(ws.image(NAME, "1.0.1").data(&path) == data, "the patched file");

    assert_rebuilt_identical_without_cache(&ws, &r, "1.0.1");
}

#[test]
fn image_bytes_depend_on_neither_the_worker_count_nor_the_cache() {
    for seed in [21u64, 22, 23] {
        let tree = Tree::new(seed, 5 + seed % 3, seed % 2 == 1);
        let (_, _, patch) = tree.patch_one(seed);
        // One cache for both workspaces: cold for the first build that uses it, then warm.
        let shared = tempfile::tempdir().unwrap();
        let cache = shared.path().join("cache");
        let built: Vec<(Workspace, (u64, u64))> = ["1", "4"]
            .into_iter()
            .map(|jobs| {
                let jobs = OsStr::new(jobs);
                let ws = Workspace::new();
                let r = recipe(&ws, "1.0.0", &tree, &[]);
                build(&ws, &[("GILD_JOBS", jobs)], &r, &["--no-cache"]);
                let r = recipe(&ws, "1.0.1", &tree, &[("P-1", patch.clone())]);
                let j = build(&ws, &[("GILD_JOBS", jobs), ("GILD_CACHE", cache.as_os_str())], &r, &[]);
                (ws, counts(&j))
            })
            .collect();
        let [(a, cold), (b, warm)] = &built[..] else { unreachable!() };
        assert_eq!(cold.0, 0, "seed {seed}: the first build finds the shared cache empty");
        assert!(warm.0 > 0, "seed {seed}: the second build takes frames from the shared cache: {warm:?}");
        assert!(recorded(a, "1.0.0", "tar.zst").len() >= 2, "seed {seed}: several chunks");
        for version in ["1.0.0", "1.0.1"] {
            assert!(
                images(a, version) == images(b, version),
                "seed {seed}: {version} with 1 worker and a cold cache differs from 4 workers and a warm one"
            );
        }
    }
}

#[test]
fn a_cache_entry_altered_on_disk_is_ignored_and_written_again() {
    let ws = Workspace::new();
    let tree = Tree::new(2, 10, false);
    let r = recipe(&ws, "1.0.0", &tree, &[]);
    build(&ws, &[], &r, &[]);
    // Every tar.zst frame in the cache gets one byte flipped, and the first is cut short; the
    // tar.gz frames stay intact, so the rebuild can tell the two apart.
    let zst0 = recorded(&ws, "1.0.0", "tar.zst");
    for (i, (key, _)) in zst0.iter().enumerate() {
        let path = cache_entry(&ws.cache(), key);
        let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
        if i == 0 {
            bytes.truncate(mid);
        }
        std::fs::write(&path, bytes).unwrap();
    }

    let (path, data, patch) = tree.patch_one(3);
    let r = recipe(&ws, "1.0.1", &tree, &[("P-1", patch)]);
    let run = ws.gild(&["--json", "build", &r]);
    run.success().stderr_has("cache");
    let j = run.json();
    let warnings = j["warnings"].as_array().unwrap();
    assert!(warnings.iter().any(|w| w.as_str().unwrap().contains("cache")), "a warning names the cache: {j}");
    let gz0 = recorded(&ws, "1.0.0", "tar.gz");
    let intact = recorded(&ws, "1.0.1", "tar.gz").iter().filter(|f| gz0.contains(f)).count();
    let total = all_recorded(&ws, "1.0.1").len() as u64;
    assert_eq!(counts(&j), (intact as u64, total - intact as u64), "only intact entries are reused: {j}");
    // The altered entries were replaced by the frames compressed again.
    for (key, sha) in recorded(&ws, "1.0.1", "tar.zst") {
        assert_eq!(sha256_hex(&std::fs::read(cache_entry(&ws.cache(), &key)).unwrap()), sha, "cache entry {key}");
    }

    let image = ws.image(NAME, "1.0.1");
    assert_consistent(&image, &ws.mtree(NAME, "1.0.1"));
    assert!(image.data(&path) == data, "the patched file");
    assert_rebuilt_identical_without_cache(&ws, &r, "1.0.1");
}

#[test]
fn concurrent_builds_sharing_one_cache_write_the_images_of_builds_without_it() {
    let tree = Tree::new(3, 10, true);
    let (_, _, patch) = tree.patch_one(11);
    let (a, b, plain) = (Workspace::new(), Workspace::new(), Workspace::new());
    let cache = a.cache();
    let at_once = |version: &str, patches: &[(&str, Layer)]| {
        let commands = [&a, &b]
            .iter()
            .map(|ws| {
                let r = recipe(ws, version, &tree, patches);
                let mut cmd = ws.command(&["--json", "build", &r]);
                cmd.env("GILD_CACHE", &cache);
                cmd
            })
            .collect();
        let runs: Vec<Run> =
            run_at_once(commands).into_iter().map(|out| Run::new(&["--json", "build", "frames"], out)).collect();
        runs.iter().map(|run| counts(&run.success().json())).collect::<Vec<_>>()
    };
    // Both write the same entries at once, then both read them and write the new ones at once.
    at_once("1.0.0", &[]);
    let warm = at_once("1.0.1", &[("P-1", patch.clone())]);
    assert!(warm.iter().all(|(reused, _)| *reused > 0), "both rebuilds read the shared cache: {warm:?}");
    assert!(
        files_under(&cache).iter().all(|p| !p.file_name().unwrap().to_string_lossy().starts_with(".tmp-")),
        "no temporaries left in the cache"
    );

    let r = recipe(&plain, "1.0.0", &tree, &[]);
    build(&plain, &[], &r, &["--no-cache"]);
    let r = recipe(&plain, "1.0.1", &tree, &[("P-1", patch)]);
    build(&plain, &[], &r, &["--no-cache"]);
    assert!(files_under(&plain.cache()).is_empty(), "--no-cache writes nothing into the cache");
    for version in ["1.0.0", "1.0.1"] {
        let expected = images(&plain, version);
        assert!(images(&a, version) == expected, "{version} of the first concurrent build differs from --no-cache");
        assert!(images(&b, version) == expected, "{version} of the second concurrent build differs from --no-cache");
    }
}

#[test]
fn a_cache_directory_others_can_write_to_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new();
    std::fs::create_dir(ws.cache()).unwrap();
    std::fs::set_permissions(ws.cache(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let tree = Tree::new(4, 3, false);
    let r = recipe(&ws, "1.0.0", &tree, &[]);
    let run = ws.gild(&["--json", "build", &r]);
    run.success().stderr_has("others can write");
    let (reused, compressed) = counts(&run.json());
    assert_eq!(reused, 0);
    assert_eq!(compressed, all_recorded(&ws, "1.0.0").len() as u64);
    assert!(
        std::fs::read_dir(ws.cache()).unwrap().next().is_none(),
        "nothing is written into a cache others can write to: {:?}",
        files_under(&ws.cache())
    );
    let mode = std::fs::metadata(ws.cache()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o777, "and gild leaves its mode alone");
}

#[test]
fn the_cache_is_trimmed_to_gild_cache_max() {
    let ws = Workspace::new();
    let tree = Tree::new(5, 6, false);
    let r = recipe(&ws, "1.0.0", &tree, &[]);
    let mut cmd = ws.command(&["build", &r]);
    cmd.env("GILD_CACHE_MAX", "1K");
    Run::new(&["build", &r], cmd.output().unwrap()).success();
    let held: u64 = files_under(&ws.cache()).iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    assert!(held <= 1024, "the cache holds {held} bytes with GILD_CACHE_MAX=1K");
    assert_consistent(&ws.image(NAME, "1.0.0"), &ws.mtree(NAME, "1.0.0"));

    // Without the bound the same cache keeps the frames of the next build.
    let r = recipe(&ws, "1.0.1", &tree, &[("P-1", Layer::new().file("./etc/motd", b"hello\n"))]);
    build(&ws, &[], &r, &[]);
    let held: u64 = files_under(&ws.cache()).iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    assert!(held > 1 << 20, "the default bound keeps the frames: {held} bytes");
}

// ---------------------------------------------------------------------------------------------
// Frames as readers see them

/// Paths as `files.mtree` lists them, normalised (`.`, `etc`, `etc/gild`, …), sorted.
fn mtree_paths(ws: &Workspace) -> Vec<String> {
    let mut paths: Vec<String> =
        ws.mtree(NAME, "1.0.0").entries.iter().map(|(p, _)| String::from_utf8(normalize(p)).unwrap()).collect();
    paths.sort();
    paths
}

/// A tool's listing of an archive, normalised like [`mtree_paths`].
fn listing(out: &std::process::Output, what: &str) -> Vec<String> {
    assert!(out.status.success(), "{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut paths: Vec<String> = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| String::from_utf8(normalize(l.as_bytes())).unwrap())
        .collect();
    paths.sort();
    paths
}

fn run(cmd: &mut Command) -> std::process::Output {
    cmd.output().unwrap()
}

#[test]
#[cfg_attr(
    any(gild_no_tar, gild_no_bsdtar, gild_no_gzip, gild_no_zstd, gild_no_python3),
    ignore = "needs GNU tar, bsdtar, gzip, zstd and python3"
)]
fn stock_tools_read_every_image_of_many_frames() {
    require(&[Need::Tool("tar"), Need::Tool("bsdtar"), Need::Tool("gzip"), Need::Tool("zstd"), Need::Tool("python3")]);
    let ws = Workspace::new();
    let tree = Tree::new(6, 10, true);
    let r = recipe(&ws, "1.0.0", &tree, &[]);
    build(&ws, &[], &r, &[]);
    let want = mtree_paths(&ws);
    let zst = ws.image_path(NAME, "1.0.0", "tar.zst");
    let gz = ws.image_path(NAME, "1.0.0", "tar.gz");
    assert!(recorded(&ws, "1.0.0", "tar.zst").len() >= 4, "many frames");

    let ok = |out: std::process::Output, what: &str| {
        assert!(out.status.success(), "{what} failed: {}", String::from_utf8_lossy(&out.stderr));
        out
    };
    ok(run(Command::new("gzip").arg("-t").arg(&gz)), "gzip -t");
    ok(run(Command::new("zstd").arg("-q").arg("-t").arg(&zst)), "zstd -t");
    let list = ok(run(Command::new("zstd").arg("-l").arg(&zst)), "zstd -l");
    let text = String::from_utf8(list.stdout).unwrap();
    let frames: usize = text
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("zstd -l shows no frame count:\n{text}"));
    assert_eq!(frames, recorded(&ws, "1.0.0", "tar.zst").len(), "zstd -l against baseline.toml:\n{text}");

    // As a user would: `tarfile.open(PATH)`; zstd (before Python 3.14) as a stream from `zstd -dc`.
    let python = "import sys, tarfile\n\
                  p = sys.argv[1]\n\
                  t = tarfile.open(p) if p != '-' else tarfile.open(fileobj=sys.stdin.buffer, mode='r|')\n\
                  for m in t: print(m.name)\n";
    for image in [&zst, &gz] {
        let shown = image.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(listing(&run(Command::new("tar").arg("-tf").arg(image)), "tar -tf"), want, "GNU tar -tf {shown}");
        assert_eq!(
            listing(&run(Command::new("bsdtar").arg("-tf").arg(image)), "bsdtar -tf"),
            want,
            "bsdtar -tf {shown}"
        );
        let out = match image == &zst {
            true => {
                run(Command::new("sh").arg("-c").arg("zstd -dc \"$1\" | python3 -c \"$0\" -").arg(python).arg(image))
            }
            false => run(Command::new("python3").arg("-c").arg(python).arg(image)),
        };
        assert_eq!(listing(&out, "python3 tarfile"), want, "Python's tarfile on {shown}");

        let dir = tempfile::tempdir().unwrap();
        ok(run(Command::new("tar").arg("-xf").arg(image).arg("-C").arg(dir.path())), "tar -xf");
        for (path, data) in &tree.files {
            let got = std::fs::read(dir.path().join(path)).unwrap_or_else(|e| panic!("{path} from {shown}: {e}"));
            assert!(got == *data, "{path} extracted by GNU tar from {shown} differs");
        }
    }
}

/// The image cut at each frame boundary, read from the bytes themselves: zstd frames by
/// their own sizes, gzip members by decoding one after another from the remaining bytes.
fn split(ext: &str, image: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut rest = image;
    while !rest.is_empty() {
        let len = match ext {
            "tar.zst" => zstd::zstd_safe::find_frame_compressed_size(rest).expect("a whole zstd frame"),
            _ => {
                let mut member = flate2::bufread::GzDecoder::new(rest);
                std::io::copy(&mut member, &mut std::io::sink()).expect("a whole gzip member");
                rest.len() - member.into_inner().len()
            }
        };
        assert!(len > 0, "an empty frame");
        frames.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    frames
}

#[test]
fn the_recorded_frames_are_the_image_in_order() {
    let ws = Workspace::new();
    let tree = Tree::new(7, 10, true);
    let r = recipe(&ws, "1.0.0", &tree, &[]);
    build(&ws, &[], &r, &[]);
    let tar = {
        let mut out = Vec::new();
        zstd::stream::read::Decoder::new(&ws.read(ws.image_path(NAME, "1.0.0", "tar.zst"))[..])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    for ext in FORMATS {
        let image = ws.read(ws.image_path(NAME, "1.0.0", ext));
        let frames = split(ext, &image);
        let record = recorded(&ws, "1.0.0", ext);
        assert!(frames.len() >= 4, "{ext}: {} frames", frames.len());
        let shas: Vec<String> = frames.iter().map(|f| sha256_hex(f)).collect();
        let recorded_shas: Vec<String> = record.iter().map(|(_, s)| s.clone()).collect();
        assert_eq!(shas, recorded_shas, "{ext}: the frames in the image are the recorded ones, in order");
        // Each frame stands alone: decoded one by one, they make the whole tar.
        let decoded: Vec<u8> = frames.iter().flat_map(|f| decompress(f)).collect();
        assert!(decoded == tar, "{ext}: the frames decoded one by one are not the tar");
    }
}

/// A version recorded by a gild that wrote images as one stream (no `image-format` in its
/// record) cannot have its images written again byte for byte: the rebuild checks the tree,
/// says which format the record has, and writes no image.
#[test]
fn a_version_recorded_in_another_image_format_is_checked_but_not_rewritten() {
    let ws = Workspace::new();
    let recipe = ws.recipe("old").write();
    ws.gild(&["build", &recipe]).success();
    let path = "baselines/old/1.0.0/baseline.toml";
    let text = ws.read_string(path);
    assert!(text.contains("image-format = \"chunks-2\""), "{text}");
    ws.write(path, text.replace("image-format = \"chunks-2\"\n", ""));
    std::fs::remove_file(ws.path("out/old-1.0.0.tar.zst")).unwrap();
    let j = ws.gild(&["--json", "build", &recipe]).success().json();
    assert_eq!(j["status"], "unchanged", "{j}");
    assert!(j["warnings"].to_string().contains("image format `stream-1`"), "{j}");
    assert!(!ws.exists("out/old-1.0.0.tar.zst"), "no image in another format is written");
}

/// A `GILD_JOBS` that is not a number of threads is said, not silently dropped; the build goes
/// on with the cores, and the bytes are those of any other worker count.
#[test]
fn a_gild_jobs_that_is_not_a_number_is_a_warning() {
    let tree = Tree::new(31, 2, false);
    let mut built = Vec::new();
    for jobs in ["2", "two", "0"] {
        let ws = Workspace::new();
        let r = recipe(&ws, "1.0.0", &tree, &[]);
        let j = build(&ws, &[("GILD_JOBS", OsStr::new(jobs))], &r, &["--no-cache"]);
        let warnings = j["warnings"].to_string();
        match jobs {
            "2" => assert!(!warnings.contains("GILD_JOBS"), "{warnings}"),
            _ => assert!(warnings.contains(&format!("GILD_JOBS={jobs} is not a number of threads")), "{warnings}"),
        }
        built.push(images(&ws, "1.0.0"));
    }
    assert!(built.windows(2).all(|w| w[0] == w[1]), "the worker count moved a byte");
}

/// The committed demo baseline was recorded in the image format before this gild's
/// (`chunks-1`, gzip level 4): this gild still writes that format for it, so its images come
/// out with the recorded bytes, while a new version is recorded in the current format.
#[test]
fn a_version_recorded_in_the_previous_image_format_is_rebuilt_to_its_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = ["recipes", "fixtures", "fixtures/keys", "fixtures/patches", "baselines/demo", "baselines/demo/1.1.0"];
    copy_from_repo(tmp.path(), &dirs);
    let record = std::fs::read_to_string(tmp.path().join("baselines/demo/1.1.0/baseline.toml")).unwrap();
    assert!(record.contains("image-format = \"chunks-1\""), "the committed demo is recorded in chunks-1");
    let gild = |args: &[&str]| {
        let out = assert_cmd::Command::cargo_bin("gild")
            .unwrap()
            .current_dir(tmp.path())
            .args(args)
            .env("GILD_CACHE", tmp.path().join(".cache"))
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "gild {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let j = gild(&["--json", "build", "recipes/demo.toml"]);
    assert_eq!(j["status"], "unchanged", "{j}");
    let rewritten = j["rewritten"].as_array().unwrap();
    assert_eq!(rewritten.len(), 2, "both images written again, each with its recorded sha256: {j}");
    for ext in ["tar.zst", "tar.gz"] {
        let image = std::fs::read(tmp.path().join(format!("out/demo-1.1.0.{ext}"))).unwrap();
        let sha = sha256_hex(&image);
        assert!(record.contains(&sha), "out/demo-1.1.0.{ext} has the sha256 the record has");
    }
    // The next version is recorded in the current format.
    let recipe = std::fs::read_to_string(tmp.path().join("recipes/demo.toml")).unwrap();
    let next = recipe.replacen("version = \"1.1.0\"", "version = \"1.1.1\"", 1);
    assert_ne!(recipe, next, "the demo recipe names version 1.1.0");
    std::fs::write(tmp.path().join("recipes/demo.toml"), next).unwrap();
    gild(&["--json", "build", "recipes/demo.toml"]);
    let record = std::fs::read_to_string(tmp.path().join("baselines/demo/1.1.1/baseline.toml")).unwrap();
    assert!(record.contains("image-format = \"chunks-2\""), "{record}");
}
