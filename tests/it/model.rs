//! Differential property test: random stacks of small layers (files, directories, symlinks,
//! hard links, whiteouts, opaque markers, metadata updates) applied by gild give the tree a
//! plain in-memory reference model of docs/layers.md gives — or both refuse the stack.
//!
//! The model is deliberately naive (a map of paths, no resolution through symlinks): symlinks
//! are generated only at leaf names (`l1`, `l2`) that never serve as parent directories, so
//! chroot-style resolution is exercised by the layering tests, and the layering rules here.

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::harness::{sha256_hex, Layer, Need, TarEntry, Workspace};

#[derive(Debug, Clone)]
enum Op {
    File { path: String, data: Vec<u8>, mode: u32 },
    Dir { path: String, mode: u32 },
    Symlink { path: String, target: String },
    HardLink { path: String, target: String },
    Whiteout { dir: String, name: String },
    Opaque { dir: String },
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Dir,
    File(Vec<u8>),
    Symlink(String),
}

#[derive(Debug, Clone)]
struct Node {
    kind: Kind,
    mode: u32,
    layer: usize,
}

/// docs/layers.md as a map: returns the tree, or `None` when the stack must be refused.
fn model(layers: &[Vec<Op>]) -> Option<BTreeMap<String, Node>> {
    let mut t: BTreeMap<String, Node> = BTreeMap::new();
    for (li, ops) in layers.iter().enumerate() {
        for op in ops {
            match op {
                Op::File { path, data, mode } => {
                    put(&mut t, path, Node { kind: Kind::File(data.clone()), mode: *mode, layer: li })?
                }
                Op::Symlink { path, target } => {
                    put(&mut t, path, Node { kind: Kind::Symlink(target.clone()), mode: 0o777, layer: li })?
                }
                Op::HardLink { path, target } => {
                    let node = match t.get(target) {
                        Some(n @ Node { kind: Kind::File(_), .. }) if target != path => n.clone(),
                        _ => return None,
                    };
                    put(&mut t, path, Node { layer: li, ..node })?
                }
                Op::Dir { path, mode } => {
                    parents(&mut t, path, li)?;
                    match t.get_mut(path) {
                        Some(n) if n.kind == Kind::Dir => {
                            n.mode = *mode;
                            n.layer = li;
                        }
                        _ => {
                            t.insert(path.clone(), Node { kind: Kind::Dir, mode: *mode, layer: li });
                        }
                    }
                }
                Op::Whiteout { dir, name } => match dir_state(&t, dir)? {
                    false => {}
                    true => {
                        let top = join(dir, name);
                        if t.contains_key(&top) {
                            remove_lower(&mut t, &top, true, li);
                        }
                    }
                },
                Op::Opaque { dir } => {
                    if dir_state(&t, dir)? {
                        remove_lower(&mut t, dir, false, li);
                    }
                }
            }
        }
    }
    Some(t)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// `Some(true)` when `dir` is a directory, `Some(false)` when absent, `None` when a
/// non-directory is in the way.
fn dir_state(t: &BTreeMap<String, Node>, dir: &str) -> Option<bool> {
    if dir.is_empty() {
        return Some(true);
    }
    let mut p = String::new();
    for c in dir.split('/') {
        p = join(&p, c);
        match t.get(&p) {
            None => return Some(false),
            Some(n) if n.kind != Kind::Dir => return None,
            _ => {}
        }
    }
    Some(true)
}

/// Missing parents become `0755` directories of this layer; a non-directory parent refuses.
fn parents(t: &mut BTreeMap<String, Node>, path: &str, layer: usize) -> Option<()> {
    let comps: Vec<&str> = path.split('/').collect();
    let mut p = String::new();
    for c in &comps[..comps.len() - 1] {
        p = join(&p, c);
        match t.get(&p) {
            None => {
                t.insert(p.clone(), Node { kind: Kind::Dir, mode: 0o755, layer });
            }
            Some(n) if n.kind != Kind::Dir => return None,
            _ => {}
        }
    }
    Some(())
}

fn put(t: &mut BTreeMap<String, Node>, path: &str, node: Node) -> Option<()> {
    parents(t, path, node.layer)?;
    if t.get(path).is_some_and(|n| n.kind == Kind::Dir) {
        let prefix = format!("{path}/");
        t.retain(|k, _| !k.starts_with(&prefix));
    }
    t.insert(path.to_string(), node);
    Some(())
}

/// Removes what lower layers had at `top` (and below): deepest first, keeping a directory
/// that still holds entries of layer `li`.
fn remove_lower(t: &mut BTreeMap<String, Node>, top: &str, include_top: bool, li: usize) {
    let prefix = format!("{top}/");
    let mut doomed: Vec<String> =
        t.iter().filter(|(k, n)| k.starts_with(&prefix) && n.layer != li).map(|(k, _)| k.clone()).collect();
    if include_top && t.get(top).is_some_and(|n| n.layer != li) {
        doomed.insert(0, top.to_string());
    }
    for p in doomed.iter().rev() {
        let child_prefix = format!("{p}/");
        if t.get(p).is_some_and(|n| n.kind == Kind::Dir) && t.keys().any(|k| k.starts_with(&child_prefix)) {
            continue;
        }
        t.remove(p);
    }
}

fn render(t: &BTreeMap<String, Node>) -> Vec<String> {
    t.iter()
        .map(|(p, n)| match &n.kind {
            Kind::Dir => format!("./{p} type=dir mode=0{:o} uid=0 gid=0", n.mode),
            Kind::File(d) => format!(
                "./{p} type=file mode=0{:o} uid=0 gid=0 size={} sha256digest={}",
                n.mode,
                d.len(),
                sha256_hex(d)
            ),
            Kind::Symlink(l) => format!("./{p} type=link uid=0 gid=0 link={l}"),
        })
        .collect()
}

fn to_layer(ops: &[Op]) -> Layer {
    let mut layer = Layer::new();
    for op in ops {
        layer = match op {
            Op::File { path, data, mode } => {
                layer.entry(TarEntry { data: data.clone(), mode: *mode, ..TarEntry::new(b'0', format!("./{path}")) })
            }
            Op::Dir { path, mode } => {
                layer.entry(TarEntry { mode: *mode, ..TarEntry::new(b'5', format!("./{path}/")) })
            }
            Op::Symlink { path, target } => layer.symlink(format!("./{path}"), target),
            Op::HardLink { path, target } => layer.hardlink(format!("./{path}"), format!("./{target}")),
            Op::Whiteout { dir, name } => layer.file(format!("./{}", join(dir, &format!(".wh.{name}"))), b""),
            Op::Opaque { dir } => layer.file(format!("./{}", join(dir, ".wh..wh..opq")), b""),
        };
    }
    layer
}

fn dir_path() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("c")], 1..=3).prop_map(|v| v.join("/"))
}

fn parent_dir() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("c")], 0..=2).prop_map(|v| v.join("/"))
}

fn leaf_path() -> impl Strategy<Value = String> {
    (parent_dir(), prop_oneof![Just("a"), Just("b"), Just("c"), Just("l1"), Just("l2")]).prop_map(|(d, n)| join(&d, n))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (dir_path(), proptest::collection::vec(any::<u8>(), 0..24), prop_oneof![Just(0o644), Just(0o600), Just(0o755)])
            .prop_map(|(path, data, mode)| Op::File { path, data, mode }),
        3 => (dir_path(), prop_oneof![Just(0o755), Just(0o700)]).prop_map(|(path, mode)| Op::Dir { path, mode }),
        1 => (parent_dir(), prop_oneof![Just("l1"), Just("l2")], prop_oneof![Just("a"), Just("../b"), Just("/c/a"), Just("x y")])
            .prop_map(|(d, n, target)| Op::Symlink { path: join(&d, n), target: target.to_string() }),
        1 => (leaf_path(), dir_path()).prop_map(|(path, target)| Op::HardLink { path, target }),
        1 => (parent_dir(), prop_oneof![Just("a"), Just("b"), Just("c"), Just("l1")]).prop_map(|(dir, name)| Op::Whiteout { dir, name: name.to_string() }),
        1 => dir_path().prop_map(|dir| Op::Opaque { dir }),
    ]
}

fn stack() -> impl Strategy<Value = Vec<Vec<Op>>> {
    proptest::collection::vec(proptest::collection::vec(op(), 1..8), 1..4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_layer_stacks_give_the_reference_models_tree(layers in stack()) {
        let ws = Workspace::new();
        // The model's base is the first layer; whiteouts in it act on nothing.
        let mut rb = ws.recipe("model").base(to_layer(&layers[0]));
        for (i, ops) in layers.iter().enumerate().skip(1) {
            rb = rb.patch(&format!("P-{i}"), to_layer(ops));
        }
        let recipe = rb.write();
        let run = ws.gild(&["build", &recipe]);
        match model(&layers) {
            None => prop_assert_eq!(run.code, 2, "the model refuses, gild must too: {}", run.stderr),
            Some(tree) => {
                prop_assert_eq!(run.code, 0, "gild refused what the model accepts: {}", run.stderr);
                let text = ws.read_string("baselines/model/1.0.0/files.mtree");
                let got: Vec<String> = text
                    .lines()
                    .skip(2)
                    .filter(|l| !l.starts_with("./etc ") && !l.starts_with("./etc/"))
                    .map(str::to_string)
                    .collect();
                let want = render(&tree).into_iter().map(|l| l.replace("link=x y", "link=x\\040y")).collect::<Vec<_>>();
                prop_assert_eq!(got, want);
            }
        }
    }
}

/// Stacks GNU tar extracts the same way gild layers them: no whiteouts (GNU tar has none), and
/// a path is always the same type (GNU tar does not replace a directory by a file). Directory
/// names and leaf names come from separate alphabets for that.
fn tar_op() -> impl Strategy<Value = Op> {
    let dir = proptest::collection::vec(prop_oneof![Just("d"), Just("e")], 1..=3).prop_map(|v| v.join("/"));
    let file = (proptest::collection::vec(prop_oneof![Just("d"), Just("e")], 0..=2), prop_oneof![Just("f"), Just("g")])
        .prop_map(|(d, n)| join(&d.join("/"), n));
    prop_oneof![
        4 => (file.clone(), proptest::collection::vec(any::<u8>(), 0..24), prop_oneof![Just(0o644), Just(0o600), Just(0o755)])
            .prop_map(|(path, data, mode)| Op::File { path, data, mode }),
        3 => (dir, prop_oneof![Just(0o755), Just(0o700)]).prop_map(|(path, mode)| Op::Dir { path, mode }),
        // GNU tar creates symlinks whose target is absolute or climbs (`..`) only at the end of
        // the archive, as placeholders first: a later entry at the same path loses to them.
        1 => (proptest::collection::vec(prop_oneof![Just("d"), Just("e")], 0..=2), prop_oneof![Just("a"), Just("f"), Just("d/g")])
            .prop_map(|(d, target)| Op::Symlink { path: join(&d.join("/"), "l"), target: target.to_string() }),
        1 => (file.clone(), file).prop_map(|(path, target)| Op::HardLink { path, target }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    /// GNU tar extracting the same layers in order gives the tree gild recorded, as NetBSD
    /// mtree judges it (run as root: owners and modes are compared).
    #[test]
    #[cfg_attr(any(gild_no_tar, gild_no_mtree, gild_no_root), ignore = "needs GNU tar, NetBSD mtree and root")]
    fn gnu_tar_extracting_the_layers_in_order_gives_gilds_tree(
        layers in proptest::collection::vec(proptest::collection::vec(tar_op(), 1..8), 1..4)
    ) {
        crate::harness::require(&[Need::Tool("tar"), Need::Tool("mtree"), Need::Root]);
        prop_assume!(model(&layers).is_some());
        let ws = Workspace::new();
        let mut rb = ws.recipe("model").base(to_layer(&layers[0]));
        for (i, ops) in layers.iter().enumerate().skip(1) {
            rb = rb.patch(&format!("P-{i}"), to_layer(ops));
        }
        let recipe = rb.write();
        ws.gild(&["build", &recipe]).success();
        let root = ws.path("tar-root");
        std::fs::create_dir(&root).unwrap();
        for (i, ops) in layers.iter().enumerate() {
            let file = ws.path(format!("layer-{i}.tar"));
            std::fs::write(&file, to_layer(ops).tar()).unwrap();
            let out = std::process::Command::new("tar")
                .args(["--numeric-owner", "--keep-directory-symlink", "-xpf"])
                .arg(&file)
                .arg("-C")
                .arg(&root)
                .output()
                .unwrap();
            prop_assert!(out.status.success(), "GNU tar: {}", String::from_utf8_lossy(&out.stderr));
        }
        // gild's own additions (etc/gild/release) are not in the layers.
        let spec: String = ws
            .read_string("baselines/model/1.0.0/files.mtree")
            .lines()
            .filter(|l| !l.starts_with("./etc ") && !l.starts_with("./etc/"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(ws.path("tar.mtree"), &spec).unwrap();
        let out = std::process::Command::new("mtree").arg("-f").arg(ws.path("tar.mtree")).arg("-p").arg(&root).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        prop_assert!(out.status.success() && text.trim().is_empty(), "mtree:\n{}\nspec:\n{}", text, spec);
    }
}
