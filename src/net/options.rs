use std::time::Duration;

use crate::error::{check, OptionsError};

/// How a kernel connects, signs and bounds itself. Defaults are the
/// reference's where it has one (`retry` 5 s, unlimited retries, 1024
/// queued frames per peer) and conservative limits where it has none.
///
/// [`validate`](Self::validate) says which values cannot work; the kernel
/// refuses them at start ([`Kernel::start`](super::Kernel::start)).
#[derive(Debug, Clone)]
pub struct KernelOptions {
    /// Shared secret signing every message; `None` (or empty) accepts all.
    pub cookie: Option<String>,
    /// Wait between reconnection attempts (reference `retry`, 5000 ms). At
    /// least 1 ms: zero would retry a refused connection in a busy loop.
    pub retry: Duration,
    /// Give up a peer after this many failed attempts in a row (reference
    /// `maxRetries`, unlimited). `Some(0)` gives up at the first failure.
    pub max_retries: Option<u32>,
    /// Frames queued per peer while its connection is down (reference
    /// `maxLen`, 1024); when full, the oldest is dropped. At least 1.
    pub max_queue: usize,
    /// Bytes a connected peer's writer may fall behind by (64 MiB); past
    /// that the oldest frames are dropped. At least 1.
    pub max_queue_bytes: usize,
    /// Largest frame accepted (16 MiB); a larger one closes the connection.
    /// At least [`MIN_FRAME`] bytes: a smaller limit cannot hold a signed
    /// envelope with a node's identity and a reply tag.
    pub max_frame: usize,
    /// Bytes of partially received streamed bodies held per connection
    /// (64 MiB); a stream that would exceed it is dropped. At least 1.
    pub max_stream_bytes: usize,
    /// Accepted connections open at once (1024); more are closed at once.
    /// From 1 to [`MAX_COUNT`].
    pub max_inbound: usize,
    /// Calls awaiting replies at once (65 536); more fail immediately. At
    /// least 1: zero would fail every call.
    pub max_pending: usize,
    /// Messages waiting in one server's mailbox (65 536); more are dropped
    /// (calls among them answered with an error). From 1 to [`MAX_COUNT`].
    pub mailbox: usize,
    /// A streamed body not finished within this is dropped (30 s). At
    /// least 1 ms.
    pub stream_timeout: Duration,
}

/// The smallest `max_frame` accepted, in bytes.
pub const MIN_FRAME: usize = 256;

/// The most connections or mailbox places the kernel can count (what the
/// runtime's semaphores and channels hold).
pub const MAX_COUNT: usize = usize::MAX >> 3;

impl Default for KernelOptions {
    fn default() -> Self {
        KernelOptions {
            cookie: None,
            retry: Duration::from_millis(5000),
            max_retries: None,
            max_queue: 1024,
            max_queue_bytes: 64 * 1024 * 1024,
            max_frame: crate::wire::DEFAULT_MAX_FRAME,
            max_stream_bytes: 64 * 1024 * 1024,
            max_inbound: 1024,
            max_pending: 65_536,
            mailbox: 65_536,
            stream_timeout: Duration::from_secs(30),
        }
    }
}

impl KernelOptions {
    /// The same options with `cookie` set.
    pub fn with_cookie(mut self, cookie: impl Into<String>) -> Self {
        let cookie = cookie.into();
        self.cookie = (!cookie.is_empty()).then_some(cookie);
        self
    }

    /// The first option (in field order) whose value cannot work, as each
    /// field's documentation says.
    pub fn validate(&self) -> Result<(), OptionsError> {
        const MS: Duration = Duration::from_millis(1);
        check(self.retry >= MS, "retry", "must be at least 1 ms")?;
        check(self.max_queue > 0, "max_queue", "must be at least 1")?;
        check(
            self.max_queue_bytes > 0,
            "max_queue_bytes",
            "must be at least 1",
        )?;
        check(
            self.max_frame >= MIN_FRAME,
            "max_frame",
            "must be at least 256 bytes (a smaller frame cannot hold a signed envelope)",
        )?;
        check(
            self.max_stream_bytes > 0,
            "max_stream_bytes",
            "must be at least 1",
        )?;
        check(
            (1..=MAX_COUNT).contains(&self.max_inbound),
            "max_inbound",
            "must be from 1 to usize::MAX / 8",
        )?;
        check(self.max_pending > 0, "max_pending", "must be at least 1")?;
        check(
            (1..=MAX_COUNT).contains(&self.mailbox),
            "mailbox",
            "must be from 1 to usize::MAX / 8",
        )?;
        check(
            self.stream_timeout >= MS,
            "stream_timeout",
            "must be at least 1 ms",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(KernelOptions::default().validate(), Ok(()));
    }

    #[test]
    fn zero_or_uncountable_values_are_named_in_the_error() {
        let d = KernelOptions::default;
        let cases: Vec<(&str, KernelOptions)> = vec![
            (
                "retry",
                KernelOptions {
                    retry: Duration::ZERO,
                    ..d()
                },
            ),
            (
                "max_queue",
                KernelOptions {
                    max_queue: 0,
                    ..d()
                },
            ),
            (
                "max_queue_bytes",
                KernelOptions {
                    max_queue_bytes: 0,
                    ..d()
                },
            ),
            (
                "max_frame",
                KernelOptions {
                    max_frame: 0,
                    ..d()
                },
            ),
            (
                "max_frame",
                KernelOptions {
                    max_frame: MIN_FRAME - 1,
                    ..d()
                },
            ),
            (
                "max_stream_bytes",
                KernelOptions {
                    max_stream_bytes: 0,
                    ..d()
                },
            ),
            (
                "max_inbound",
                KernelOptions {
                    max_inbound: 0,
                    ..d()
                },
            ),
            (
                "max_inbound",
                KernelOptions {
                    max_inbound: usize::MAX,
                    ..d()
                },
            ),
            (
                "max_pending",
                KernelOptions {
                    max_pending: 0,
                    ..d()
                },
            ),
            ("mailbox", KernelOptions { mailbox: 0, ..d() }),
            (
                "mailbox",
                KernelOptions {
                    mailbox: MAX_COUNT + 1,
                    ..d()
                },
            ),
            (
                "stream_timeout",
                KernelOptions {
                    stream_timeout: Duration::from_micros(999),
                    ..d()
                },
            ),
        ];
        for (option, opts) in cases {
            let e = opts.validate().unwrap_err();
            assert_eq!(e.option, option);
            assert!(
                e.to_string()
                    .starts_with(&format!("invalid option `{option}`: must")),
                "{e}"
            );
        }
    }

    #[test]
    fn the_smallest_working_values_are_accepted() {
        let opts = KernelOptions {
            retry: Duration::from_millis(1),
            max_retries: Some(0),
            max_queue: 1,
            max_queue_bytes: 1,
            max_frame: MIN_FRAME,
            max_stream_bytes: 1,
            max_inbound: 1,
            max_pending: 1,
            mailbox: MAX_COUNT,
            stream_timeout: Duration::from_millis(1),
            ..KernelOptions::default()
        };
        assert_eq!(opts.validate(), Ok(()));
    }
}
