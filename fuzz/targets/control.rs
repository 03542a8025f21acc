//! deb822 stanzas and dpkg's status file, versions and relation fields. What parses must
//! render back to what parses the same, and versions must order consistently.
use gild::deb::control::{Stanza, Status};
use gild::deb::relation;
use gild::deb::version::Version;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        if let Ok(status) = Status::parse(data) {
            let again = Status::parse(&status.render()).expect("a rendered status parses");
            assert_eq!(again.render(), status.render(), "render is stable");
        }
        let text = String::from_utf8_lossy(data);
        if let Ok(stanza) = Stanza::parse(&text) {
            let _ = stanza.to_status();
        }
        let _ = relation::parse(&text);
        let mut halves = text.splitn(2, '\n');
        if let (Some(a), Some(b)) = (halves.next(), halves.next()) {
            if let (Ok(a), Ok(b)) = (Version::parse(a), Version::parse(b)) {
                assert_eq!(a.cmp(&b), b.cmp(&a).reverse(), "version order is antisymmetric");
            }
        }
    });
}
