//! How a kernel starts, as JavaScript passes it, turned into the engine's
//! [`KernelOptions`].
//!
//! Every option of the engine is here under the JavaScript name the
//! original used where it had one (`retry`, `maxRetries`, `maxLen`) and the
//! engine's name in camelCase otherwise. An absent option takes the
//! engine's default; the JavaScript layer fills in the original's defaults
//! (`consts.kernelOpts`, `consts.connDefaults`) itself. Values are only
//! converted (milliseconds to durations, numbers to sizes): whether they
//! make sense is the engine's to say, the same way for every door.

use std::time::Duration;

use napi_derive::napi;
use notp::net::KernelOptions;
use notp::Node;

use crate::convert::{invalid_arg, to_bound};

/// `kernelStart`'s options (camelCase in JavaScript).
#[napi(object)]
pub struct StartOptions {
    pub id: String,
    pub host: String,
    pub port: u32,
    /// Empty or absent: no cookie, every message accepted.
    pub cookie: Option<String>,
    /// ms between reconnection attempts.
    pub retry: Option<f64>,
    /// Failed attempts in a row before giving up a peer; Infinity: never.
    pub max_retries: Option<f64>,
    /// Frames queued per peer while its connection is down (the engine's
    /// `max_queue`).
    pub max_len: Option<f64>,
    /// Bytes a connected peer's writer may fall behind by.
    pub max_queue_bytes: Option<f64>,
    /// Largest frame accepted, in bytes.
    pub max_frame: Option<f64>,
    /// Bytes of partly received streamed bodies held per connection.
    pub max_stream_bytes: Option<f64>,
    /// Accepted connections open at once.
    pub max_inbound: Option<f64>,
    /// Calls awaiting replies at once.
    pub max_pending: Option<f64>,
    /// Messages waiting for one local target.
    pub mailbox: Option<f64>,
    /// ms a streamed body may take to arrive completely.
    pub stream_timeout: Option<f64>,
}

/// A size: see [`to_bound`] (past the platform's range it saturates).
fn size(name: &str, v: f64) -> napi::Result<usize> {
    to_bound(name, v).map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

/// Milliseconds as a duration: see [`to_bound`].
fn millis(name: &str, v: f64) -> napi::Result<Duration> {
    to_bound(name, v).map(Duration::from_millis)
}

impl StartOptions {
    /// The node to listen as and the engine's options.
    pub(super) fn into_engine(self) -> napi::Result<(Node, KernelOptions)> {
        let port =
            u16::try_from(self.port).map_err(|_| invalid_arg("port", "must be from 0 to 65535"))?;
        let node = Node::new(self.id, self.host, port);
        let mut o = KernelOptions::default();
        if let Some(v) = self.retry {
            o.retry = millis("retry", v)?;
        }
        if let Some(v) = self.max_retries {
            o.max_retries = match v {
                v if v.is_nan() || v < 0.0 => {
                    return Err(invalid_arg("maxRetries", "must be a non-negative number"))
                }
                v if v.is_infinite() => None,
                v => Some(v.min(f64::from(u32::MAX)) as u32),
            };
        }
        let sizes: [(&str, Option<f64>, &mut usize); 7] = [
            ("maxLen", self.max_len, &mut o.max_queue),
            (
                "maxQueueBytes",
                self.max_queue_bytes,
                &mut o.max_queue_bytes,
            ),
            ("maxFrame", self.max_frame, &mut o.max_frame),
            (
                "maxStreamBytes",
                self.max_stream_bytes,
                &mut o.max_stream_bytes,
            ),
            ("maxInbound", self.max_inbound, &mut o.max_inbound),
            ("maxPending", self.max_pending, &mut o.max_pending),
            ("mailbox", self.mailbox, &mut o.mailbox),
        ];
        for (name, value, field) in sizes {
            if let Some(v) = value {
                *field = size(name, v)?;
            }
        }
        if let Some(v) = self.stream_timeout {
            o.stream_timeout = millis("streamTimeout", v)?;
        }
        Ok((node, o.with_cookie(self.cookie.unwrap_or_default())))
    }
}

/// A running kernel's options as the engine holds them, under the same
/// names as [`StartOptions`] (the cookie aside): what `kernelOptions`
/// answers, so that a caller can see what a start actually asked for.
#[napi(object)]
pub struct EngineOptions {
    pub retry: f64,
    /// Absent: never gives up.
    pub max_retries: Option<f64>,
    pub max_len: f64,
    pub max_queue_bytes: f64,
    pub max_frame: f64,
    pub max_stream_bytes: f64,
    pub max_inbound: f64,
    pub max_pending: f64,
    pub mailbox: f64,
    pub stream_timeout: f64,
}

impl From<&KernelOptions> for EngineOptions {
    fn from(o: &KernelOptions) -> Self {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        EngineOptions {
            retry: ms(o.retry),
            max_retries: o.max_retries.map(f64::from),
            max_len: o.max_queue as f64,
            max_queue_bytes: o.max_queue_bytes as f64,
            max_frame: o.max_frame as f64,
            max_stream_bytes: o.max_stream_bytes as f64,
            max_inbound: o.max_inbound as f64,
            max_pending: o.max_pending as f64,
            mailbox: o.mailbox as f64,
            stream_timeout: ms(o.stream_timeout),
        }
    }
}
