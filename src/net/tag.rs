use std::time::{Duration, Instant};

/// Random bytes in a tag's prefix.
const PREFIX_BYTES: usize = 24;

/// The shortest tag this node makes (the prefix and one counter digit):
/// a shorter name is never a call of ours.
pub(crate) const MIN_TAG_LEN: usize = 2 * PREFIX_BYTES + 1;

/// How long one random prefix is used before it is renewed.
const PREFIX_LIFETIME: Duration = Duration::from_secs(3600);

/// Reply tags as the original makes them: 48 random hex characters (24
/// bytes) followed by a counter in lowercase hex; the prefix is renewed hourly
/// and the counter restarts.
#[derive(Debug)]
pub(crate) struct TagGenerator {
    prefix: String,
    counter: u64,
    /// When the prefix was made (`None`: not yet, it is made with the first
    /// tag).
    born: Option<Instant>,
}

impl Default for TagGenerator {
    fn default() -> Self {
        TagGenerator {
            prefix: random_hex(PREFIX_BYTES),
            counter: 0,
            born: None,
        }
    }
}

impl TagGenerator {
    /// The next tag, made at `now`.
    pub(crate) fn next_tag(&mut self, now: Instant) -> String {
        let born = *self.born.get_or_insert(now);
        if now.saturating_duration_since(born) >= PREFIX_LIFETIME {
            *self = TagGenerator {
                born: Some(now),
                ..TagGenerator::default()
            };
        }
        let tag = format!("{}{:x}", self.prefix, self.counter);
        self.counter += 1;
        tag
    }
}

/// `n` random bytes as lowercase hex (stream ids, tag prefixes).
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // getrandom(2) does not fail on the platforms we build for; should it
    // ever, tags stay unique through their counter and only stream ids lose
    // their randomness.
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_a_random_prefix_and_a_hex_counter() {
        let now = Instant::now();
        let mut g = TagGenerator::default();
        let a = g.next_tag(now);
        assert_eq!(a.len(), 49);
        assert!(a.ends_with('0'));
        for _ in 0..9 {
            g.next_tag(now);
        }
        let b = g.next_tag(now);
        assert_eq!(&a[..48], &b[..48]);
        assert!(b.ends_with('a'));
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(TagGenerator::default().next_tag(now), a);
        // An hour on, the prefix is new and the counter restarts.
        let later = g.next_tag(now + PREFIX_LIFETIME);
        assert_ne!(&later[..48], &a[..48]);
        assert!(later.ends_with('0'));
    }
}
