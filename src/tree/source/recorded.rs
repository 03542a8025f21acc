//! Baselines as tree sources: `files.mtree` read with the xattrs `baseline.toml` records, and
//! two baselines compared by the lines that differ only, so a diff of two large baselines
//! costs what their difference costs.

use super::*;

/// A baseline directory's `files.mtree` and `baseline.toml`; the spec must be the one the
/// record's `tree` digest names.
pub(super) fn read_baseline(dir: &Path) -> Result<(Vec<u8>, Option<Box<Record>>), SourceError> {
    let spec_path = dir.join("files.mtree");
    let text = std::fs::read(&spec_path).map_err(SourceError::io(format!("cannot read `{}`", spec_path.display())))?;
    let record_path = dir.join("baseline.toml");
    let record = match std::fs::read_to_string(&record_path) {
        Ok(t) => Some(Box::new(Record::from_toml(&t).map_err(|e| SourceError::Record {
            path: record_path.display().to_string(),
            why: e.message().to_string(),
        })?)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(SourceError::io(format!("cannot read `{}`", record_path.display()))(e)),
    };
    if let Some(r) = &record {
        let found = hex::encode(&Sha256::digest(&text));
        if found != r.tree {
            return Err(SourceError::Tampered { dir: dir.display().to_string(), expected: r.tree.clone(), found });
        }
    }
    Ok((text, record))
}

/// A baseline source from its spec text. `partial`: the text holds only some of the
/// baseline's entries (see [`Locator::recorded_pair`]), so extended attributes are attached
/// to the entries present.
pub(super) fn recorded_source(
    limits: &Limits,
    arg: &str,
    dir: &Path,
    text: Vec<u8>,
    record: Option<Box<Record>>,
    partial: bool,
) -> Result<Source, SourceError> {
    let shown = dir.join("files.mtree").display().to_string();
    let (parsed, _) = parse_spec(text, &shown, limits)?;
    let mut tree = parsed.tree;
    let xattrs = match &record {
        Some(r) => {
            attach_xattrs(&mut tree, r, partial)
                .map_err(|why| SourceError::Record { path: dir.join("baseline.toml").display().to_string(), why })?;
            Xattrs::All
        }
        None => Xattrs::None,
    };
    let warnings = sockets_warning(parsed.sockets);
    Ok(Source {
        label: arg.to_string(),
        kind: SourceKind::Baseline { dir: dir.to_path_buf(), record },
        tree,
        lacks: parsed.lacks,
        xattrs,
        release: None,
        warnings,
    })
}

/// The escaped paths (`./usr/bin/ping`, as both files write them) whose extended attributes
/// differ between two records.
pub(super) fn xattr_differences(a: &Record, b: &Record) -> HashSet<Vec<u8>> {
    fn by_path(r: &Record) -> HashMap<&str, Vec<(&str, &str)>> {
        let mut m: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
        for x in &r.xattr {
            m.entry(x.path.as_str()).or_default().push((x.name.as_str(), x.sha256.as_str()));
        }
        for v in m.values_mut() {
            v.sort();
        }
        m
    }
    let (ma, mb) = (by_path(a), by_path(b));
    let mut out = HashSet::new();
    for (path, xs) in &ma {
        if mb.get(path) != Some(xs) {
            out.insert(path.as_bytes().to_vec());
        }
    }
    for path in mb.keys() {
        if !ma.contains_key(path) {
            out.insert(path.as_bytes().to_vec());
        }
    }
    out
}

/// Merges two gild-written specs (sorted by unescaped path) and keeps, from each, the root
/// line and every line whose entry is absent from the other, differs from it, or is in `extra`.
pub(super) fn differing_lines(a: &[u8], b: &[u8], extra: &HashSet<Vec<u8>>) -> Result<(Vec<u8>, Vec<u8>), String> {
    fn entries(text: &[u8]) -> impl Iterator<Item = &[u8]> {
        text.split(|&c| c == b'\n').filter(|l| !l.is_empty() && !l.starts_with(b"#"))
    }
    fn key(line: &[u8]) -> &[u8] {
        line.split(|&c| c == b' ').next().unwrap_or(line)
    }
    let header = b"#mtree v2.0\n".to_vec();
    let (mut out_a, mut out_b) = (header.clone(), header);
    let push = |out: &mut Vec<u8>, line: &[u8]| {
        out.extend_from_slice(line);
        out.push(b'\n');
    };
    let (mut ia, mut ib) = (entries(a).peekable(), entries(b).peekable());
    loop {
        match (ia.peek().copied(), ib.peek().copied()) {
            (None, None) => break,
            (Some(la), None) => {
                push(&mut out_a, la);
                ia.next();
            }
            (None, Some(lb)) => {
                push(&mut out_b, lb);
                ib.next();
            }
            (Some(la), Some(lb)) => {
                let (ka, kb) = (key(la), key(lb));
                let order =
                    if ka == kb { std::cmp::Ordering::Equal } else { spec::unescape(ka)?.cmp(&spec::unescape(kb)?) };
                match order {
                    std::cmp::Ordering::Equal => {
                        if la != lb || ka == b"." || extra.contains(ka) {
                            push(&mut out_a, la);
                            push(&mut out_b, lb);
                        }
                        ia.next();
                        ib.next();
                    }
                    std::cmp::Ordering::Less => {
                        push(&mut out_a, la);
                        ia.next();
                    }
                    std::cmp::Ordering::Greater => {
                        push(&mut out_b, lb);
                        ib.next();
                    }
                }
            }
        }
    }
    Ok((out_a, out_b))
}

/// Puts the record's `[[xattr]]` entries (name, sha256 of the value) on the tree's nodes.
pub(super) fn attach_xattrs(tree: &mut Tree, record: &Record, partial: bool) -> Result<(), String> {
    for x in &record.xattr {
        let path = record_path(&x.path)?;
        let name = spec::unescape(x.name.as_bytes())?;
        let digest =
            hex::decode(x.sha256.as_bytes()).ok_or_else(|| format!("`[[xattr]]` of `{}`: bad sha256", x.path))?;
        let node = match tree.get_mut(&path) {
            Some(node) => node,
            None if partial => continue,
            None => return Err(format!("`[[xattr]]` names `{}`, which is not in files.mtree", x.path)),
        };
        node.xattrs.push((name, digest));
        node.xattrs.sort();
    }
    Ok(())
}

/// A path as `baseline.toml` writes it (`./usr/bin/su`, escaped) as a tree path.
pub fn record_path(escaped: &str) -> Result<Vec<u8>, String> {
    let raw = spec::unescape(escaped.as_bytes())?;
    crate::tree::clean_path(&raw).ok_or_else(|| format!("`{escaped}` climbs with `..`"))
}
