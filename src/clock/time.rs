use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static LAST: AtomicU64 = AtomicU64::new(0);

/// Wall-clock time in microseconds since the Unix epoch (node-microtime's
/// `now()`). Never goes backwards within a process: a read that would be
/// earlier than the previous one (the wall clock was stepped back) answers
/// the previous value instead.
pub fn now_micros() -> u64 {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let prev = LAST.fetch_max(wall, Ordering::Relaxed);
    wall.max(prev)
}

/// Tells the clock that `t` was read from it elsewhere (a front door that
/// stamps with a clock of its own), so that no later [`now_micros`] is
/// earlier.
pub(crate) fn observe(t: u64) {
    LAST.fetch_max(t, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_the_wall_clock_in_microseconds() {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let us = now_micros();
        assert!(us / 1000 >= ms && us / 1000 <= ms + 1000, "{us} vs {ms}");
    }

    #[test]
    fn never_goes_backwards_in_a_tight_loop() {
        let mut prev = now_micros();
        for _ in 0..100_000 {
            let t = now_micros();
            assert!(t >= prev);
            prev = t;
        }
    }
}
