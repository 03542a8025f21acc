//! docs/recipe.md: pins, signatures, thresholds and keys. A trust failure is exit 3 and writes
//! nothing.

use crate::harness::*;

#[test]
fn signature_by_a_declared_key_not_in_signed_by_does_not_count() {
    let ws = Workspace::new();
    ws.recipe("demo")
        .declare_key("cab")
        .base(base_layer())
        .signed_by(&["vendor"])
        .sig_by("cab")
        .build_fails(3)
        .stderr_has("demo-base.tar");
}

#[test]
fn signature_by_an_undeclared_key_does_not_count() {
    let ws = Workspace::new();
    let stranger = ws.key("stranger");
    ws.recipe("demo")
        .base(base_layer())
        .signed_by(&["vendor"])
        .sig_by("stranger")
        .build_fails(3)
        .stderr_has("demo-base.tar")
        .stderr_has_ci(&stranger.key_id());
}

#[test]
fn two_distinct_signers_meet_threshold_two() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").base(base_layer()).signed_by(&["vendor", "cab"]).threshold(2).write();
    ws.gild(&["build", &recipe]).success();
    let sigs = tv(&ws.baseline("demo", "1.0.0"), &["base", "signature"]).as_array().unwrap().len();
    assert_eq!(sigs, 2);
}

#[test]
fn same_key_signing_twice_does_not_meet_threshold_two() {
    let ws = Workspace::new();
    ws.recipe("demo")
        .base(base_layer())
        .signed_by(&["vendor", "cab"])
        .threshold(2)
        .sig_by("vendor")
        .sig_by("vendor")
        .build_fails(3)
        .stderr_has("demo-base.tar");
}

#[test]
fn missing_listed_signature_file_is_a_trust_failure() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").base(base_layer()).signed_by(&["vendor", "cab"]).threshold(2).write();
    std::fs::remove_file(ws.path("artifacts/demo-base.tar.2.minisig")).unwrap();
    ws.gild(&["build", &recipe]).exit(3).stderr_has("demo-base.tar.2.minisig");
    ws.assert_nothing_written("demo", "1.0.0");
}

/// Issue 13: a mistyped artifact path is a mistake in the input (exit 2, nothing journaled),
/// not a trust failure, though its default signature file is missing too.
#[test]
fn a_missing_artifact_is_an_input_mistake_and_journals_nothing() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").patch("P-1", Layer::new().file("etc/motd", b"1\n")).write();
    ws.edit(&recipe, |t| t.replace("demo-P-1.tar\"", "demo-P-1.tra\""));
    for args in [vec!["build", &recipe], vec!["verify", &recipe]] {
        ws.gild(&args).exit(2).stderr_has("cannot read artifact `../artifacts/demo-P-1.tra` (P-1)");
    }
    ws.assert_nothing_written("demo", "1.0.0");
    assert!(!ws.exists("baselines/demo/journal.jsonl"), "a mistake in the input is not a refusal to journal");
    // The artifact is there, its signature is not: that stays a trust failure.
    ws.edit(&recipe, |t| t.replace("demo-P-1.tra\"", "demo-P-1.tar\""));
    std::fs::remove_file(ws.path("artifacts/demo-P-1.tar.minisig")).unwrap();
    ws.gild(&["build", &recipe]).exit(3).stderr_has("demo-P-1.tar.minisig");
    assert!(ws.read_string("baselines/demo/journal.jsonl").contains("\"event\":\"refused\""));
}

#[test]
fn edited_trusted_comment_is_a_trust_failure() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    ws.edit("artifacts/demo-base.tar.minisig", |s| {
        assert!(s.contains("trusted comment: base signed by vendor"), "{s}");
        s.replace("trusted comment: base signed by vendor", "trusted comment: base signed by the CAB")
    });
    ws.gild(&["build", &recipe]).exit(3).stderr_has("demo-base.tar");
    ws.assert_nothing_written("demo", "1.0.0");
}

#[test]
fn artifact_changed_after_pinning_names_expected_and_found_digest() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    let path = ws.artifact("demo", "base");
    let pinned = sha256_hex(&std::fs::read(&path).unwrap());
    let changed = base_layer().file("./etc/backdoor", b"x").tar();
    std::fs::write(&path, &changed).unwrap();
    // Re-signed by the right key: only the pin can catch it.
    ws.sign(&ws.key("vendor"), &path, &ws.path("artifacts/demo-base.tar.minisig"), false, "base signed by vendor");
    ws.gild(&["build", &recipe])
        .exit(3)
        .stderr_has("demo-base.tar")
        .stderr_has(&pinned)
        .stderr_has(&sha256_hex(&changed));
    ws.assert_nothing_written("demo", "1.0.0");
}

#[test]
fn signature_by_a_revoked_key_does_not_count() {
    let ws = Workspace::new();
    ws.key("old");
    ws.recipe("demo")
        .key_line("old", r#"{ file = "../keys/old.pub", revoked = 2026-10-01, reason = "key rotated" }"#)
        .base(base_layer())
        .signed_by(&["old"])
        .build_fails(3)
        .stderr_has_ci("revoked");
}

#[test]
#[cfg_attr(gild_no_minisign, ignore = "minisign not installed")]
fn legacy_and_prehashed_signatures_are_both_accepted() {
    require(&[Need::Tool("minisign")]);
    let ws = Workspace::new();
    let recipe = ws
        .recipe("demo")
        .base(base_layer())
        .signed_by(&["vendor", "legacy"])
        .threshold(2)
        .sig_by("vendor")
        .legacy_sig_by("legacy")
        .write();
    let sig = ws.read_string("artifacts/demo-base.tar.2.minisig");
    let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, sig.lines().nth(1).unwrap()).unwrap();
    assert_eq!(&raw[..2], b"Ed", "the CLI made a legacy signature");
    let sig = ws.read_string("artifacts/demo-base.tar.minisig");
    let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, sig.lines().nth(1).unwrap()).unwrap();
    assert_eq!(&raw[..2], b"ED", "the crate made a prehashed signature");
    ws.gild(&["build", &recipe]).success();
    let sigs = tv(&ws.baseline("demo", "1.0.0"), &["base", "signature"]).as_array().unwrap().clone();
    let mut keys: Vec<&str> = sigs.iter().map(|s| s["key"].as_str().unwrap()).collect();
    keys.sort();
    assert_eq!(keys, ["legacy", "vendor"]);
}

#[test]
fn verify_recipe_reports_signers_and_trusted_comments_and_builds_nothing() {
    let ws = Workspace::new();
    let recipe = ws
        .recipe("demo")
        .base(base_layer())
        .sig_with_comment("vendor", "debian 12 minbase 2026-11-01")
        .patch("P-1", Layer::new().file("./etc/motd", b"hi\n"))
        .signed_by(&["vendor", "cab"])
        .threshold(2)
        .sig_with_comment("vendor", "openssl 3.0.15")
        .sig_with_comment("cab", "approved CHG-1042")
        .write();
    let j = ws.gild(&["--json", "verify", &recipe]).success().json();
    assert_eq!(j["command"], "verify");
    assert_eq!(j["ok"], true);
    let arts = j["artifacts"].as_array().unwrap();
    assert_eq!(arts.len(), 2, "{j}");
    assert_eq!(arts[0]["id"], "base");
    assert_eq!(arts[0]["artifact"], "../artifacts/demo-base.tar");
    assert_eq!(arts[0]["sha256"], sha256_hex(&std::fs::read(ws.artifact("demo", "base")).unwrap()));
    let s = &arts[0]["signers"][0];
    assert_eq!(s["key"], "vendor");
    assert!(s["key-id"].as_str().unwrap().eq_ignore_ascii_case(&ws.key("vendor").key_id()), "{j}");
    assert_eq!(s["trusted-comment"], "debian 12 minbase 2026-11-01");
    assert_eq!(arts[1]["id"], "P-1");
    let mut comments: Vec<&str> =
        arts[1]["signers"].as_array().unwrap().iter().map(|s| s["trusted-comment"].as_str().unwrap()).collect();
    comments.sort();
    assert_eq!(comments, ["approved CHG-1042", "openssl 3.0.15"]);
    assert!(!ws.exists("out"), "verify wrote out/");
    assert!(!ws.exists("baselines/demo/1.0.0"), "verify recorded a baseline");
}

#[test]
fn verify_reports_signatures_that_do_not_count() {
    let ws = Workspace::new();
    let recipe = ws
        .recipe("demo")
        .declare_key("cab")
        .base(base_layer())
        .signed_by(&["vendor"])
        .sig_by("vendor")
        .sig_by("cab")
        .write();
    let j = ws.gild(&["--json", "verify", &recipe]).success().json();
    let ignored = j["artifacts"][0]["ignored"].as_array().unwrap();
    assert_eq!(ignored.len(), 1, "{j}");
    assert!(ignored[0]["signature"].as_str().unwrap().contains("demo-base.tar.2.minisig"), "{j}");
    assert!(ignored[0]["reason"].as_str().is_some_and(|r| !r.is_empty()), "{j}");
}

#[test]
fn verify_recipe_with_a_wrong_pin_exits_3() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    std::fs::write(ws.artifact("demo", "base"), b"not the pinned bytes").unwrap();
    ws.gild(&["verify", &recipe]).exit(3).stderr_has("demo-base.tar");
    let j = ws.gild(&["--json", "verify", &recipe]).exit(3).json();
    assert_eq!(j["ok"], false);
    let failure = &j["failures"][0];
    assert!(failure["message"].as_str().unwrap().contains("does not match its pin"), "{j}");
    assert_eq!(failure["causes"].as_array().unwrap().len(), 2, "{j}");
}

#[test]
fn key_file_with_crlf_and_surrounding_whitespace_is_accepted() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    let key = ws.key("vendor");
    let text =
        format!("\r\n  untrusted comment: minisign public key {}\r\n   {}  \r\n\r\n", key.key_id(), key.base64());
    ws.write("keys/vendor.pub", text);
    ws.gild(&["build", &recipe]).success();
}

#[test]
fn key_string_with_surrounding_whitespace_is_accepted() {
    let ws = Workspace::new();
    let cab = ws.key("cab");
    let recipe = ws
        .recipe("demo")
        .key_line("cab", &format!("{{ key = \"  {}\\r\\n\" }}", cab.base64()))
        .base(base_layer())
        .signed_by(&["cab"])
        .write();
    ws.gild(&["build", &recipe]).success();
}

#[test]
fn two_keys_with_the_same_key_id_are_refused() {
    let ws = Workspace::new();
    let vendor = ws.key("vendor");
    let mut twin = minisign::KeyPair::generate_unencrypted_keypair().unwrap().pk.to_bytes();
    twin[2..10].copy_from_slice(&vendor.public[2..10]);
    ws.public_only_key("twin", twin);
    let recipe = ws.recipe("demo").declare_key("twin").write();
    ws.gild(&["build", &recipe]).exit(2).stderr_has_ci(&vendor.key_id());
    ws.assert_nothing_written("demo", "1.0.0");
}

#[test]
fn signature_file_holding_two_signatures_is_refused() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").base(base_layer()).signed_by(&["vendor", "cab"]).write();
    let first = ws.read_string("artifacts/demo-base.tar.minisig");
    let second = ws.read_string("artifacts/demo-base.tar.2.minisig");
    ws.write("artifacts/demo-base.tar.minisig", format!("{first}{second}"));
    ws.gild(&["build", &recipe]).exit(3).stderr_has("demo-base.tar.minisig");
    ws.assert_nothing_written("demo", "1.0.0");
}

#[test]
fn valid_signature_of_another_file_is_a_trust_failure() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").patch("P-1", Layer::new().file("./etc/motd", b"m")).write();
    std::fs::copy(ws.path("artifacts/demo-P-1.tar.minisig"), ws.path("artifacts/demo-base.tar.minisig")).unwrap();
    ws.gild(&["build", &recipe]).exit(3).stderr_has("demo-base.tar");
    ws.assert_nothing_written("demo", "1.0.0");
}

#[test]
fn untrusted_patch_is_named_by_its_id() {
    let ws = Workspace::new();
    ws.recipe("demo")
        .patch("P-UNSIGNED", Layer::new().file("./etc/motd", b"m"))
        .sig_by("stranger")
        .build_fails(3)
        .stderr_has("P-UNSIGNED");
}

#[test]
fn trust_is_checked_before_a_byte_of_the_layer_is_read() {
    let ws = Workspace::new();
    ws.recipe("demo")
        .patch("P-EVIL", Layer::new().file("../outside", b"x"))
        .sig_by("stranger")
        .build_fails(3)
        .stderr_has("P-EVIL");
}

#[test]
fn trust_failure_writes_nothing_even_when_an_earlier_build_exists() {
    let ws = Workspace::new();
    let recipe = ws.recipe("demo").write();
    ws.gild(&["build", &recipe]).success();
    let before = (snapshot(&ws.path("out")), snapshot(&ws.baseline_dir("demo", "1.0.0")));
    ws.recipe("demo").version("1.1.0").patch("P-1", Layer::new().file("./etc/motd", b"m")).sig_by("stranger").write();
    ws.gild(&["build", &recipe]).exit(3);
    ws.assert_nothing_written("demo", "1.1.0");
    let after = (snapshot(&ws.path("out")), snapshot(&ws.baseline_dir("demo", "1.0.0")));
    assert!(before == after, "a refused build touched the earlier outputs");
}

#[test]
fn a_later_untrusted_patch_is_reported_before_an_earlier_hostile_one_is_read() {
    // Patches are verified on a worker while the base is checked; layering waits for all of
    // them, so the trust failure (exit 3) still wins over P-1's hostile entry (exit 2).
    let ws = Workspace::new();
    ws.recipe("demo")
        .patch("P-1", Layer::new().file("../outside", b"x"))
        .patch("P-2", Layer::new().file("./etc/motd", b"m"))
        .sig_by("stranger")
        .build_fails(3)
        .stderr_has("P-2");
    ws.assert_nothing_written("demo", "1.0.0");
}

#[test]
fn the_first_untrusted_artifact_in_recipe_order_is_reported_and_journaled_once() {
    let ws = Workspace::new();
    let recipe = ws
        .recipe("demo")
        .patch("P-1", Layer::new().file("./etc/a", b"a"))
        .sig_by("stranger")
        .patch("P-2", Layer::new().file("./etc/b", b"b"))
        .sig_by("stranger")
        .write();
    let out = ws.gild(&["build", &recipe]);
    out.exit(3).stderr_has("P-1");
    assert!(!out.stderr.contains("P-2"), "only the first failure is reported: {}", out.stderr);
    let j = ws.gild(&["--json", "log", "demo"]).success().json();
    let entries = j["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["event"], "refused");
    assert_eq!(entries[0]["id"], "P-1");
}

/// Issue 16: an artifact rewritten in place after gild verified it, while the build runs.
/// The second patch's signature is a FIFO, so gild waits on it right after verifying the
/// first patch; this rewrites the first patch (same file, same size, 16 bytes from `at`
/// flipped) meanwhile, then lets gild go on. Returns the build's run and the first patch's
/// sha256 before and after.
fn build_while_rewriting_the_first_patch(compression: Compression, at: usize) -> (Workspace, Run, String, String) {
    build_while_rewriting("P-1", compression, at)
}

/// [`build_while_rewriting_the_first_patch`], rewriting the artifact `id` (`base` or `P-1`).
fn build_while_rewriting(id: &str, compression: Compression, at: usize) -> (Workspace, Run, String, String) {
    use std::io::{Seek, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let ws = Workspace::new();
    let payload: Vec<u8> = (0..40_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let recipe = ws
        .recipe("demo")
        .patch("P-1", Layer::new().file("./opt/one", &payload).file("./opt/two", b"two\n"))
        .compress(compression)
        .patch("P-2", Layer::new().file("./etc/motd", b"second\n"))
        .write();
    let first = ws.artifact("demo", id);
    let sig = ws.path(format!("{}.minisig", ws.artifact("demo", "P-2").display()));
    let signature = std::fs::read(&sig).unwrap();
    std::fs::remove_file(&sig).unwrap();
    let fifo = std::ffi::CString::new(sig.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);

    let mut child = ws
        .process(&["build", &recipe])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Opening the FIFO for writing succeeds once gild opens it for reading: P-1 is verified.
    let started = std::time::Instant::now();
    let mut writer = loop {
        match std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&sig) {
            Ok(f) => break f,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                assert!(child.try_wait().unwrap().is_none(), "gild ended before reading the FIFO");
                assert!(started.elapsed() < std::time::Duration::from_secs(60), "gild never read the FIFO");
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Err(e) => panic!("{e}"),
        }
    };
    if id == "base" {
        // The base is verified on the main thread meanwhile: give it time to finish first.
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let mut bytes = std::fs::read(&first).unwrap();
    let expected = sha256_hex(&bytes);
    for b in &mut bytes[at..at + 16] {
        *b ^= 0x5a;
    }
    let mut f = std::fs::OpenOptions::new().write(true).open(&first).unwrap();
    f.seek(std::io::SeekFrom::Start(0)).unwrap();
    f.write_all(&bytes).unwrap();
    drop(f);
    writer.write_all(&signature).unwrap();
    drop(writer);

    let out = child.wait_with_output().unwrap();
    let run = Run::new(&["build", &recipe], out);
    (ws, run, expected, sha256_hex(&bytes))
}

/// However the rewritten bytes fail (a corrupt compressed stream, a bad tar header), the error
/// is the trust failure: exit 3, "changed while gild was reading it", with both digests.
#[test]
fn an_artifact_rewritten_after_verification_is_a_trust_failure_whatever_its_decoding_says() {
    for (c, at) in [(Compression::Zst, 24), (Compression::Gz, 24), (Compression::Xz, 80), (Compression::Tar, 0)] {
        let (ws, run, expected, found) = build_while_rewriting_the_first_patch(c, at);
        run.exit(3)
            .stderr_has("P-1")
            .stderr_has("changed while gild was reading it")
            .stderr_has(&expected)
            .stderr_has(&found);
        ws.assert_nothing_written("demo", "1.0.0");
    }
}

/// The base is read on threads of its own (one reads and hashes it, one decompresses it): a
/// base rewritten in place after its verification is refused all the same, naming it and both
/// digests, with one `refused` line. (Should the rewrite come before the verification on a
/// loaded machine, it is refused as not matching its pin, which says the same.)
#[test]
fn a_base_rewritten_after_verification_is_a_trust_failure() {
    let (ws, run, expected, found) = build_while_rewriting("base", Compression::Tar, 600);
    run.exit(3).stderr_has("demo-base.tar").stderr_has(&expected).stderr_has(&found);
    assert!(
        run.stderr.contains("changed while gild was reading it") || run.stderr.contains("does not match its pin"),
        "{}",
        run.stderr
    );
    ws.assert_nothing_written("demo", "1.0.0");
    let j = ws.gild(&["--json", "log", "demo"]).success().json();
    let entries = j["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "one line: {entries:?}");
    assert_eq!((entries[0]["event"].as_str(), entries[0]["id"].as_str()), (Some("refused"), Some("base")));
}

/// docs/recipe.md: a trust failure gets one `refused` line, the one found while layering (an
/// artifact rewritten after its verification) too: naming the artifact and both digests.
#[test]
fn an_artifact_rewritten_during_layering_is_journaled_as_refused_once() {
    let (ws, run, expected, found) = build_while_rewriting_the_first_patch(Compression::Zst, 24);
    run.exit(3).stderr_has("changed while gild was reading it");
    let j = ws.gild(&["--json", "log", "demo", "--verify"]).success().json();
    let entries = j["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "one line: {entries:?}");
    let refused = &entries[0];
    assert_eq!(refused["event"], "refused", "{refused}");
    assert_eq!(refused["name"], "demo");
    assert_eq!(refused["id"], "P-1");
    let recipe: toml::Value = toml::from_str(&ws.read_string("recipes/demo.toml")).unwrap();
    assert_eq!(refused["artifact"].as_str(), recipe["patch"][0]["artifact"].as_str(), "{refused}");
    assert_eq!((refused["expected"].as_str(), refused["found"].as_str()), (Some(&expected[..]), Some(&found[..])));
    assert!(refused["reason"].as_str().unwrap().contains("changed while gild was reading it"), "{refused}");
}
