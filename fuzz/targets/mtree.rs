//! The mtree spec reader (gild's files.mtree, NetBSD `mtree -c`, bsdtar's form).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        if let Ok(spec) = gild::tree::spec::parse(data) {
            let _ = gild::tree::spec::to_tree(spec);
        }
        let _ = gild::tree::spec::read(data.to_vec(), &gild::limits::Limits::default());
    });
}
