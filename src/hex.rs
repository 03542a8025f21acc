//! Hexadecimal, in one place: digests and extended attribute values are written as lowercase
//! hex, and read back (from records, specs, recipes, PAX names) by one set of rules: digits
//! of either case, nothing else (no sign, no space, no `0x`).

/// Lowercase hex.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Digit values; 0xff for anything else.
const VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// The byte two hex digits spell.
pub fn byte(hi: u8, lo: u8) -> Option<u8> {
    let (hi, lo) = (VALUE[hi as usize], VALUE[lo as usize]);
    ((hi | lo) & 0xf0 == 0).then_some(hi << 4 | lo)
}

/// An even number of hex digits as bytes.
pub fn decode(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    s.chunks_exact(2).map(|p| byte(p[0], p[1])).collect()
}

/// Exactly `2 × N` hex digits as `N` bytes (a million digests in a large spec: no branch per
/// digit).
pub fn decode_array<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    let mut bad = 0u8;
    for (i, b) in out.iter_mut().enumerate() {
        let (hi, lo) = (VALUE[s[2 * i] as usize], VALUE[s[2 * i + 1] as usize]);
        bad |= hi | lo;
        *b = hi << 4 | (lo & 0x0f);
    }
    (bad & 0xf0 == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_not_hex() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(encode(&bytes).as_bytes()), Some(bytes.clone()));
        assert_eq!(decode(b"ABcd"), Some(vec![0xab, 0xcd]));
        for bad in [&b"abc"[..], b"+f", b" f", b"0x", b"g0", b"-1"] {
            assert_eq!(decode(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(decode_array::<2>(b"00ff"), Some([0, 255]));
        assert_eq!(decode_array::<2>(b"00f"), None);
        assert_eq!(decode_array::<2>(b"00+f"), None);
        assert_eq!(byte(b'+', b'f'), None);
    }
}
