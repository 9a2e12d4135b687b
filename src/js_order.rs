//! JavaScript's own-property order for plain objects: keys that are array
//! indices (canonical decimal integers below 2^32 - 1) come first in ascending
//! numeric order, then every other key in insertion order. The original keeps
//! vector clocks and node listings in plain objects, so the order they
//! serialise in (and the order `nodes()` answers in) follows this rule.

/// The numeric value of `key` when JavaScript treats it as an array index.
pub(crate) fn array_index(key: &str) -> Option<u32> {
    let b = key.as_bytes();
    if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if b.len() > 1 && b[0] == b'0' {
        return None;
    }
    let v: u64 = key.parse().ok()?;
    (v < u32::MAX as u64).then_some(v as u32)
}

/// Where a new key goes in a sequence of keys already in JavaScript order.
pub(crate) fn insert_position<'a>(keys: impl Iterator<Item = &'a str>, key: &str) -> Option<usize> {
    let idx = array_index(key)?;
    let mut pos = 0;
    for k in keys {
        match array_index(k) {
            Some(other) if other < idx => pos += 1,
            _ => break,
        }
    }
    Some(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_array_indices_like_javascript() {
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("17"), Some(17));
        assert_eq!(array_index("4294967294"), Some(4294967294));
        assert_eq!(array_index("4294967295"), None);
        assert_eq!(array_index("01"), None);
        assert_eq!(array_index("-1"), None);
        assert_eq!(array_index("1.0"), None);
        assert_eq!(array_index(""), None);
        assert_eq!(array_index("foo"), None);
    }

    #[test]
    fn index_keys_sort_before_the_rest() {
        let keys = ["2", "9", "foo", "bar"];
        assert_eq!(insert_position(keys.iter().copied(), "5"), Some(1));
        assert_eq!(insert_position(keys.iter().copied(), "1"), Some(0));
        assert_eq!(insert_position(keys.iter().copied(), "10"), Some(2));
        assert_eq!(insert_position(keys.iter().copied(), "baz"), None);
    }
}
