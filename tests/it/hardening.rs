//! Hostile and broken input, interruption and concurrency (docs/layers.md "Hostile and broken
//! input", §5 atomicity): nothing bad gets in, and nothing is ever half-written.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Compression, Layer, Mount, Run, TarEntry, Workspace};

fn refused(layer: Layer, needles: &[&str]) {
    let ws = Workspace::new();
    let run = ws.recipe("demo").patch("P-EVIL", layer).build_fails(2);
    run.stderr_has("P-EVIL");
    for n in needles {
        run.stderr_has(n);
    }
}

#[test]
fn dotdot_as_the_last_component_is_refused() {
    refused(Layer::new().dir("./etc/.."), &["./etc/..", "`..`"]);
}

#[test]
fn dotdot_after_a_symlink_is_refused() {
    refused(Layer::new().file("./lib/../etc/passwd", b"x"), &["./lib/../etc/passwd", "`..`"]);
}

#[test]
fn dotdot_in_a_gnu_long_name_is_refused() {
    let long = format!("./{}/../../../../etc/shadow", "d".repeat(120));
    let mut l = TarEntry::new(b'L', "././@LongLink");
    l.data = long.clone().into_bytes();
    l.data.push(0);
    let layer = Layer::new().entry(l).file("placeholder", b"x");
    refused(layer, &["`..`"]);
}

#[test]
fn hard_link_to_a_later_entry_is_refused() {
    refused(
        Layer::new().hardlink("./etc/early", "./etc/later").file("./etc/later", b"x"),
        &["./etc/later", "not in the tree"],
    );
}

#[test]
fn opaque_marker_inside_a_file_is_refused() {
    refused(Layer::new().file("./etc/hostname/.wh..wh..opq", b""), &["etc/hostname", "not a directory"]);
}

#[test]
fn whiteout_named_only_dots_is_refused() {
    refused(Layer::new().file("./etc/.wh...", b""), &["whiteout"]);
}

#[test]
fn header_with_a_bad_checksum_is_refused() {
    let mut tar = Layer::new().file("./etc/motd", b"hi\n").tar();
    tar[0] ^= 0x20; // the name changes, the stored checksum does not
    refused(Layer::new().raw(&tar).without_end(), &["checksum"]);
}

#[test]
fn pax_size_running_past_the_end_of_the_stream_is_refused() {
    let mut e = TarEntry::new(b'0', "./etc/motd");
    e.data = b"hi\n".to_vec();
    e.pax.push(("size".to_string(), b"1000000".to_vec()));
    refused(Layer::new().entry(e), &["ends inside"]);
}

/// Cut in the middle, each compression: an error, never a shorter image.
#[test]
fn truncated_streams_are_refused_at_every_compression() {
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let tar = Layer::new().file("./opt/blob", &payload).file("./opt/after", b"after\n").tar();
    for c in [Compression::Gz, Compression::Zst, Compression::Xz, Compression::Tar] {
        let whole = c.compress(&tar);
        let cut = whole[..whole.len() / 2].to_vec();
        let ws = Workspace::new();
        let run = ws.recipe("demo").patch("P-CUT", Layer::new()).compress(c).artifact_bytes(cut).build_fails(2);
        run.stderr_has("P-CUT");
    }
}

/// A few kilobytes of zstd that unpack to 256 MiB: stopped at the `unpacked` limit while
/// reading, never written out.
#[test]
fn compression_bomb_is_stopped_at_the_unpacked_limit() {
    let e = TarEntry::new(b'0', "./zeros");
    let mut stream = crate::harness::ustar_header(&e, b"./zeros", b"", 256 << 20).to_vec();
    stream.resize(512 + (256 << 20) + 1024, 0);
    let bomb = zstd::encode_all(&stream[..], 19).unwrap();
    assert!(bomb.len() < 64 * 1024, "the bomb is small: {}", bomb.len());
    let ws = Workspace::new();
    let recipe =
        ws.recipe("demo").patch("P-BOMB", Layer::new()).compress(Compression::Zst).artifact_bytes(bomb).write();
    let run = ws.gild(&["--limit", "unpacked=64MiB", "build", &recipe]);
    run.exit(2).stderr_has("P-BOMB").stderr_has("`unpacked` limit").stderr_has("--limit unpacked=");
    ws.assert_nothing_written("demo", "1.0.0");
}

/// A base big enough that a debug build takes a while.
fn big_base(megabytes: usize) -> Layer {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut layer = crate::harness::base_layer().dir("./opt");
    for i in 0..megabytes {
        let chunk: Vec<u8> = (0..1 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        layer = layer.file(format!("./opt/blob{i}"), &chunk);
    }
    layer
}

fn leftovers(ws: &Workspace) -> Vec<String> {
    let mut found = Vec::new();
    for dir in ["out", "baselines/demo"] {
        if let Ok(rd) = std::fs::read_dir(ws.path(dir)) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(".gild-tmp-") {
                    found.push(format!("{dir}/{name}"));
                }
            }
        }
    }
    found
}

#[test]
fn sigint_stops_a_build_exits_130_and_leaves_nothing() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").base(big_base(48)).compress(Compression::Tar).write();
    let child = ws.process(&["build", &recipe]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    while !ws.path("baselines/demo/.lock").exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    unsafe_kill(child.id(), 2);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    ws.assert_nothing_written("demo", "1.0.0");
    assert!(leftovers(&ws).is_empty(), "left {:?}", leftovers(&ws));
}

fn unsafe_kill(pid: u32, signal: i32) {
    let status = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().unwrap();
    assert!(status.success());
}

/// Where a killed build was when the SIGKILL landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Landed {
    /// It had finished: the kill came too late to mean anything.
    Finished,
    BeforeCommit,
    AfterCommit,
}

/// Starts `gild build RECIPE --version V`, waits for `ready` (polled as fast as it can) or
/// `delay`, SIGKILLs it, and says on which side of the commit point the kill landed.
fn kill_build(ws: &Workspace, recipe: &str, version: &str, ready: &dyn Fn() -> bool, deadline: Duration) -> Landed {
    use std::os::unix::process::ExitStatusExt;
    let mut child = ws
        .process(&["build", recipe, "--version", version])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !ready() && start.elapsed() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::hint::spin_loop();
    }
    let _ = child.kill();
    let status = child.wait().unwrap();
    match status.signal() {
        Some(9) if ws.path(format!("baselines/demo/{version}")).exists() => Landed::AfterCommit,
        Some(9) => Landed::BeforeCommit,
        _ => {
            assert!(status.success(), "{version}: {status}");
            Landed::Finished
        }
    }
}

/// A temporary image of the build is in `out/` (not the user's own `.gild-tmp-demo@mine`).
fn temp_image_in_out(ws: &Workspace) -> bool {
    std::fs::read_dir(ws.path("out")).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with(".gild-tmp-demo@") && n != ".gild-tmp-demo@mine"
        })
    })
}

/// After a SIGKILL at any moment a version is recorded whole or not at all, and the next build
/// removes what the killed ones wrote and nothing else: files of the user's named like images
/// and temporaries survive every kill and every cleanup. The kills are aimed at both sides of
/// the commit point (while the temporary image is written; the moment the baseline appears;
/// random moments), and the test fails unless it saw kills land on each side.
#[test]
fn builds_killed_on_both_sides_of_the_commit_point_leave_the_workspace_built_or_untouched() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").base(big_base(6)).compress(Compression::Tar).write();
    let users = [
        ("out/demo-7.7.7.tar.zst", &b"the user's own, named like an image"[..]),
        ("out/demo-1.0.3.tar.gz", b"named like an image of a version the test builds"),
        ("out/.gild-tmp-demo@mine", b"named like a temporary"),
    ];
    for (path, bytes) in users {
        ws.write(path, bytes);
    }
    // One whole build first, to aim the random kills across its whole length.
    let start = Instant::now();
    ws.gild(&["build", &recipe, "--version", "1.0.0"]).success();
    let span = (start.elapsed().as_micros() as u64 * 13 / 10).max(1);
    let mut seed: u64 = 42;
    let mut landed = Vec::new();
    for i in 1..=60u32 {
        let version = format!("1.0.{i}");
        let baseline = ws.path(format!("baselines/demo/{version}"));
        let ready: Box<dyn Fn() -> bool> = match i % 3 {
            0 => Box::new(|| temp_image_in_out(&ws)),
            1 => Box::new(move || baseline.exists()),
            _ => Box::new(|| false),
        };
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let deadline = if i % 3 == 2 { Duration::from_micros((seed >> 33) % span) } else { Duration::from_secs(60) };
        let at = kill_build(&ws, &recipe, &version, &*ready, deadline);
        landed.push(at);
        let dir = ws.path(format!("baselines/demo/{version}"));
        assert_eq!(dir.exists(), at != Landed::BeforeCommit, "{version}: {at:?}");
        if dir.exists() {
            for f in ["files.mtree", "baseline.toml", "RELEASE.md", "install.sh"] {
                assert!(dir.join(f).is_file(), "{version}: baseline without {f}");
            }
            let record: toml::Value =
                toml::from_str(&std::fs::read_to_string(dir.join("baseline.toml")).unwrap()).unwrap();
            let image = ws.path(format!("out/demo-{version}.tar.zst"));
            let sha = crate::harness::sha256_hex(&std::fs::read(&image).unwrap());
            assert_eq!(record["image"][0]["sha256"].as_str(), Some(sha.as_str()), "{version}: recorded image is whole");
        }
        for (path, bytes) in users {
            assert_eq!(ws.read(path), bytes, "after killing {version}: {path} changed or gone");
        }
    }
    let count = |l: Landed| landed.iter().filter(|&&x| x == l).count();
    let (before, after) = (count(Landed::BeforeCommit), count(Landed::AfterCommit));
    println!("of 60 kills: {before} before the commit point, {after} after it, {} too late", count(Landed::Finished));
    assert!(before > 0 && after > 0, "the kills must land on both sides of the commit point: {landed:?}");

    // One more command: it completes and cleans what the killed ones left, and only that.
    let run = ws.gild(&["build", &recipe, "--version", "2.0.0"]);
    run.success().stderr_has("out/demo-7.7.7.tar.zst").stderr_has("out/.gild-tmp-demo@mine");
    for (path, bytes) in users {
        assert_eq!(ws.read(path), bytes, "after the cleanup: {path} changed or gone");
    }
    let left: Vec<String> = leftovers(&ws).into_iter().filter(|p| p != "out/.gild-tmp-demo@mine").collect();
    assert!(left.is_empty(), "left {left:?}");
    for e in std::fs::read_dir(ws.path("baselines/demo")).unwrap().flatten() {
        assert!(!e.file_name().to_string_lossy().starts_with(".gild-claim-"), "claim left: {:?}", e.file_name());
    }
    for e in std::fs::read_dir(ws.path("out")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if users.iter().any(|(p, _)| p.ends_with(&name)) {
            continue;
        }
        let version = name.trim_start_matches("demo-").trim_end_matches(".tar.zst");
        assert!(ws.path(format!("baselines/demo/{version}/baseline.toml")).is_file(), "unrecorded image {name} kept");
    }
}

#[test]
fn two_builds_of_one_image_at_once_do_not_interleave() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").base(big_base(8)).compress(Compression::Tar).write();
    let spawn = || ws.process(&["build", &recipe]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success());
    let mut said: Vec<String> =
        [&a, &b].iter().map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").to_string()).collect();
    said.sort();
    assert!(said[0].starts_with("built demo 1.0.0") && said[1].starts_with("unchanged demo 1.0.0"), "{said:?}");
}

#[test]
fn out_directory_that_is_a_symlink_is_refused_and_nothing_is_written() {
    let ws = Workspace::new();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), ws.path("out")).unwrap();
    let recipe = ws.recipe("demo").write();
    ws.gild(&["build", &recipe]).exit(2).stderr_has("symlink").stderr_has("--out");
    assert!(std::fs::read_dir(elsewhere.path()).unwrap().next().is_none(), "nothing written through the symlink");
    assert!(!ws.path("baselines/demo/1.0.0").exists());
}

#[test]
fn out_path_that_is_a_file_gives_a_clear_error_and_nothing_is_recorded() {
    let ws = Workspace::new();
    ws.write("out", b"not a directory");
    let recipe = ws.recipe("demo").write();
    ws.gild(&["build", &recipe]).exit(2).stderr_has("out");
    assert!(!ws.path("baselines/demo/1.0.0").exists());
    assert!(leftovers(&ws).is_empty());
}

#[test]
fn baselines_directory_that_is_a_symlink_is_refused() {
    let ws = Workspace::new();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), ws.path("baselines")).unwrap();
    let recipe = ws.recipe("demo").write();
    ws.gild(&["build", &recipe]).exit(2).stderr_has("symlink");
    assert!(std::fs::read_dir(elsewhere.path()).unwrap().next().is_none());
    assert!(!Path::new(&ws.path("out/demo-1.0.0.tar.zst")).exists());
}

/// A build long enough for a bar (over a second in a debug build) says nothing on stderr when
/// stderr is not a terminal, and nothing with `--json` either.
#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal_or_with_json() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").base(big_base(48)).compress(Compression::Tar).write();
    let run = ws.gild(&["build", &recipe]);
    run.success();
    assert_eq!(run.stderr, "", "stderr of a piped build");
    let run = ws.gild(&["--json", "build", &recipe, "--version", "1.0.1"]);
    run.success();
    assert_eq!(run.stderr, "", "stderr of a --json build");
}

/// A full disk under `--out`: a clear error naming the directory, exit 2, no image, no
/// temporary and no baseline left. Needs a 64 KiB tmpfs (root, and a system that allows it).
#[test]
#[cfg_attr(gild_no_tmpfs, ignore = "cannot mount a tmpfs here")]
fn a_full_disk_under_out_gives_a_clear_error_and_leaves_nothing() {
    let ws = Workspace::new();
    let small = ws.path("small");
    std::fs::create_dir(&small).unwrap();
    let _mount = Mount::tmpfs(&small, "64k");
    let recipe = ws.recipe("demo").base(big_base(1)).compress(Compression::Tar).write();
    let run = ws.gild(&["build", &recipe, "--out", "small"]);
    run.exit(2).stderr_has("small").stderr_has_ci("no space left");
    assert_eq!(std::fs::read_dir(&small).unwrap().count(), 0, "nothing left on the full disk");
    assert!(!ws.path("baselines/demo/1.0.0").exists());
    assert!(leftovers(&ws).is_empty());
}

#[test]
fn nul_in_a_pax_path_is_refused() {
    let mut e = TarEntry::new(b'0', "./etc/motd");
    e.data = b"hi\n".to_vec();
    e.pax.push(("path".to_string(), b"./etc/mo\0td".to_vec()));
    refused(Layer::new().entry(e), &["NUL"]);
}

/// A second gild waits for the image's lock, says so, and gives up after `GILD_LOCK_TIMEOUT`
/// seconds with exit 2, naming the lock; nothing is written. Once the lock is free it builds.
#[test]
fn a_lock_held_too_long_times_out_with_exit_2_naming_the_lock() {
    use std::os::fd::AsRawFd;
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    std::fs::create_dir_all(ws.path("baselines/demo")).unwrap();
    let held = std::fs::File::create(ws.path("baselines/demo/.lock")).unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) }, 0);
    let started = std::time::Instant::now();
    let args = ["build", recipe.as_str()];
    let run = Run::new(&args, ws.command(&args).env("GILD_LOCK_TIMEOUT", "1").output().unwrap());
    let waited = started.elapsed();
    run.exit(2)
        .stderr_has("waiting for another gild")
        .stderr_has("baselines/demo/.lock")
        .stderr_has("GILD_LOCK_TIMEOUT");
    assert!(waited >= std::time::Duration::from_secs(1), "gave up after {waited:?}");
    ws.assert_nothing_written("demo", "1.0.0");
    drop(held);
    ws.gild(&["build", &recipe]).success();
}

/// The flood of issue 16: 100 PAX headers of 2,000 distinct `SCHILY.xattr.*` records each
/// before one entry (about 7 MB of headers, which once took minutes). Refused with exit 2,
/// naming Linux's 64 KiB of names, in the header that crosses it: the message says how many
/// bytes were read, and that is where the crossing header ends.
#[test]
fn a_flood_of_pax_xattr_headers_is_refused_where_it_crosses_a_limit() {
    let mut layer = Layer::new();
    let (mut names, mut read, mut crossed_at) = (0, 0, None);
    for h in 0..100 {
        let mut records = Vec::new();
        for i in 0..2000 {
            let name = format!("user.h{h:03}.{i:04}");
            names += name.len() + 1;
            records.extend(crate::harness::pax_record(&format!("SCHILY.xattr.{name}"), b"v"));
        }
        read += 512 + records.len().div_ceil(512) * 512;
        if names > 64 << 10 && crossed_at.is_none() {
            crossed_at = Some(read);
        }
        layer = layer.entry(TarEntry { data: records, ..TarEntry::new(b'x', "PaxHeaders/motd") });
    }
    let layer = layer.file("./etc/motd", b"flooded\n");
    let ws = Workspace::new();
    let run = ws.recipe("demo").patch("P-FLOOD", layer).build_fails(2);
    let expected = crossed_at.unwrap();
    run.stderr_has("P-FLOOD")
        .stderr_has("over what Linux allows (64 KiB of names")
        .stderr_has(&format!("refused after reading {expected} bytes of the layer"));
    assert!(expected < 300_000, "refused within the first few headers: {expected}");
    ws.assert_nothing_written("demo", "1.0.0");
}

/// The same 2,000 names in every header cross no Linux limit, but the headers before one
/// entry count together against `header`: refused at 1 MiB, naming the key that raises it.
#[test]
fn pax_headers_before_one_entry_count_together_against_the_header_limit() {
    let mut records = Vec::new();
    for i in 0..2000 {
        records.extend(crate::harness::pax_record(&format!("SCHILY.xattr.user.k{i:04}"), b"v"));
    }
    let one = 512 + records.len().div_ceil(512) * 512;
    let fits = (1 << 20) / records.len();
    let mut layer = Layer::new();
    for _ in 0..100 {
        layer = layer.entry(TarEntry { data: records.clone(), ..TarEntry::new(b'x', "PaxHeaders/motd") });
    }
    let layer = layer.file("./etc/motd", b"flooded\n");
    let ws = Workspace::new();
    let run = ws.recipe("demo").patch("P-FLOOD", layer).build_fails(2);
    run.stderr_has("P-FLOOD")
        .stderr_has("over the `header` limit (1048576)")
        .stderr_has(&format!("refused after reading {} bytes of the layer", one * fits + 512))
        .stderr_has("--limit header=");
}

#[test]
fn an_xattr_value_over_64_kib_is_refused() {
    let big = vec![b'x'; 200 << 10];
    let layer = Layer::new().file_xattrs("./etc/motd", b"hi\n", 0o644, &[("user.big", &big)]);
    let ws = Workspace::new();
    ws.recipe("demo")
        .patch("P-BIG", layer)
        .build_fails(2)
        .stderr_has("P-BIG")
        .stderr_has("a value of 204800 bytes")
        .stderr_has("64 KiB");
    ws.assert_nothing_written("demo", "1.0.0");
}

#[test]
fn an_xattr_name_with_a_nul_or_an_empty_one_is_refused() {
    for (name, says) in [("user.a\0b", "holds a NUL"), ("", "name `` is empty")] {
        let layer = Layer::new().file_xattrs("./etc/motd", b"hi\n", 0o644, &[(name, b"v")]);
        let ws = Workspace::new();
        ws.recipe("demo").patch("P-NAME", layer).build_fails(2).stderr_has("P-NAME").stderr_has(says);
    }
}

/// PAX records gild does not keep are reported, but a flood of distinct keys is not echoed
/// back whole, nor kept whole in memory: the warning names twenty keys and counts the records.
#[test]
fn dropped_pax_records_are_named_up_to_twenty_and_counted_beyond() {
    let mut e = TarEntry::new(b'0', "./etc/motd");
    e.data = b"hi\n".to_vec();
    e.pax = (0..30).map(|i| (format!("VENDOR.k{i:02}"), b"v".to_vec())).collect();
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").patch("P-NOISE", Layer::new().entry(e)).write();
    let run = ws.gild(&["build", &recipe]);
    run.success()
        .stderr_has("dropped PAX records gild does not keep: VENDOR.k00, VENDOR.k01")
        .stderr_has("VENDOR.k19 and other keys (30 records in all)");
    assert!(!run.stderr.contains("VENDOR.k20"), "{}", run.stderr);
}

/// Issue 13: an extended attribute name holding NUL or `=`, or an empty one, went into the
/// image, and GNU tar then could not extract it ("Malformed extended header: missing equal
/// sign"). It is refused at layering, naming the layer and the entry.
#[test]
fn an_xattr_name_gnu_tar_could_not_read_back_is_refused() {
    // LIBARCHIVE.xattr names are %-encoded and their values base64 (`dg==` is `v`).
    let names: [(&str, &[u8], &str); 3] = [
        ("SCHILY.xattr.user.a\0b", b"v", "NUL"),
        ("LIBARCHIVE.xattr.user.a%3Db", b"dg==", "="),
        ("SCHILY.xattr.", b"v", "empty"),
    ];
    for (key, value, why) in names {
        let ws = Workspace::new();
        let entry = TarEntry {
            data: b"x\n".to_vec(),
            pax: vec![(key.to_string(), value.to_vec())],
            ..TarEntry::new(b'0', "etc/x")
        };
        let run = ws.recipe("demo").patch("P-X", Layer::new().entry(entry)).build_fails(2);
        // Refused by the tar reader where the record is (a NUL key), or at the entry.
        run.stderr_has("P-X");
        let named = ["extended attribute", "xattr", "record key"].iter().any(|w| run.stderr.contains(w));
        assert!(named, "{why}: {}", run.stderr);
    }
}
