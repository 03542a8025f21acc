//! Path resolution inside the image root, chroot-style.

use crate::limits::Limits;
use crate::tree::{self, Kind, Node, Tree};

use super::{Pass, Refusal};

pub struct Resolver<'a> {
    limits: &'a Limits,
}

impl<'a> Resolver<'a> {
    pub fn new(limits: &'a Limits) -> Self {
        Resolver { limits }
    }

    /// Resolves `comps` as a directory path, following every symlink on the way (an absolute
    /// target starts again at the image root). Missing directories are created when `create`
    /// is given (`0755 0:0`, the given mtime), else the answer is `None`. A target that climbs
    /// above the root, a chain longer than the `links` limit, or a non-directory on the way is
    /// an error.
    pub fn dir(
        &self,
        tree: &mut Tree,
        comps: &[&[u8]],
        mut create: Option<(&mut Pass, i64)>,
    ) -> Result<Option<Vec<u8>>, Refusal> {
        let mut stack: Vec<Vec<u8>> = comps.iter().rev().map(|c| c.to_vec()).collect();
        let mut cur: Vec<u8> = Vec::new();
        let mut hops = 0u64;
        while let Some(c) = stack.pop() {
            if c.is_empty() || c == b"." {
                continue;
            }
            if c == b".." {
                if cur.is_empty() {
                    return Err("a symlink on the way climbs above the image root".into());
                }
                let cut = cur.iter().rposition(|&b| b == b'/').unwrap_or(0);
                cur.truncate(cut);
                continue;
            }
            let candidate = tree::join(&cur, &c);
            match tree.get(&candidate).map(|n| &n.kind) {
                Some(Kind::Dir) => cur = candidate,
                Some(Kind::Symlink(target)) => {
                    hops += 1;
                    if hops > self.limits.links {
                        return Err(Refusal::from(format!(
                            "more than {} symlinks on the way (a loop?)",
                            self.limits.links
                        ))
                        .help("raise the `links` limit with `[image.limits] links = …` or `--limit links=…`"));
                    }
                    if target.starts_with(b"/") {
                        cur.clear();
                    }
                    stack.extend(target.split(|&b| b == b'/').rev().map(<[u8]>::to_vec));
                }
                Some(other) => {
                    return Err(format!(
                        "`{}` is a {}, not a directory",
                        String::from_utf8_lossy(&candidate),
                        other.mtree_type()
                    )
                    .into());
                }
                None => match create.as_mut() {
                    Some((pass, mtime)) => {
                        let node = Node::dir(0o755, *mtime, pass.origin());
                        pass.set(tree, candidate.clone(), node);
                        cur = candidate;
                    }
                    None => return Ok(None),
                },
            }
        }
        Ok(Some(cur))
    }
}
