//! The capped tar reader: every entry and its data read to the end, under the default limits.
use std::io::Read;

use gild::layer::tar::Archive;
use gild::limits::Limits;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let mut archive = Archive::new(data, Limits::default());
        while let Ok(Some(_header)) = archive.next_entry() {
            let mut sink = Vec::new();
            if archive.data().read_to_end(&mut sink).is_err() {
                break;
            }
        }
    });
}
