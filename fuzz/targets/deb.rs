//! The `.deb` container: members in dpkg's order, each read to its end.
use std::io::Read;

use gild::deb::ar::Deb;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(mut deb) = Deb::open(data) else { return };
        let mut sink = Vec::new();
        if let Ok(mut control) = deb.control() {
            let _ = control.read_to_end(&mut sink);
        }
        if let Ok(mut member) = deb.data() {
            let _ = member.read_to_end(&mut sink);
        }
        let _ = deb.finish();
    });
}
