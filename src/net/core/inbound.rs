//! One accepted connection, from a frame's bytes to what becomes of it:
//! verified and decoded (the fast path first), a ping answered, a single
//! message routed, a stream chunk added to its body (routed once whole).

use std::time::{Duration, Instant};

use super::reassembly::{chunk_bytes, Chunk, Piece, Reassembly, StreamGauge, Unreadable};
use super::route::{route, Arrival, Content, Tables, Unparsable};
use super::{Answer, Dropped, Effect, Origin};
use crate::wire::{self, FrameType, Incoming, Sender, Signer};

/// What routing on this node needs besides the connection.
#[derive(Clone, Copy)]
pub(crate) struct Context<'a, T> {
    pub(crate) tables: &'a T,
    pub(crate) node_id: &'a str,
    /// Checks every frame's signature, when the node has a cookie.
    pub(crate) signer: Option<&'a Signer>,
}

/// The state of one accepted connection: its streams being received. `R`
/// is the driver's way back to a sender on it (see [`Origin`]).
#[derive(Debug)]
pub(crate) struct Inbound<R> {
    streams: Reassembly<R>,
}

impl<R> Inbound<R> {
    /// A connection holding at most `max_stream_bytes` of partly received
    /// streams, each finished within `stream_timeout`.
    pub(crate) fn new(max_stream_bytes: usize, stream_timeout: Duration) -> Self {
        Inbound {
            streams: Reassembly::new(max_stream_bytes, stream_timeout),
        }
    }

    /// Counts this connection's partly received streams into `gauge` too
    /// (the kernel's, shared by its connections).
    pub(crate) fn counting(mut self, gauge: std::sync::Arc<StreamGauge>) -> Self {
        self.streams = self.streams.counting(gauge);
        self
    }

    /// What becomes of one frame (delimiter removed) received at `now`.
    /// `way` is how a sender on this connection is answered.
    pub(crate) fn receive<T: Tables>(
        &mut self,
        cx: &Context<'_, T>,
        frame: &[u8],
        way: impl Fn(&Sender) -> R,
        now: Instant,
    ) -> Effect<T::Waiter, T::Handle, R> {
        let first = match wire::decode_incoming(frame, cx.signer) {
            Ok(env) => self.step(cx, env, &way, now),
            Err(reason) => return Effect::Drop(Dropped::new(reason.code(), reason.to_string())),
        };
        match first {
            Ok(effect) => effect,
            // The fast path's unchecked payload did not parse: decoded
            // again, checked, the frame says what it really is.
            Err(Unparsable) => match wire::decode_incoming_checked(frame, cx.signer) {
                Ok(env) => self.step(cx, env, &way, now).unwrap_or(Effect::Nothing),
                Err(reason) => Effect::Drop(Dropped::new(reason.code(), reason.to_string())),
            },
        }
    }

    fn step<T: Tables>(
        &mut self,
        cx: &Context<'_, T>,
        env: Incoming<'_>,
        way: &impl Fn(&Sender) -> R,
        now: Instant,
    ) -> Result<Effect<T::Waiter, T::Handle, R>, Unparsable> {
        if env.frame_type == FrameType::Ping {
            return Ok(match env.tag {
                Some(tag) => Effect::Pong {
                    to: env.from.id,
                    tag,
                },
                None => Effect::Nothing,
            });
        }
        let way = way(&env.from);
        let Incoming {
            id: Some(target),
            tag,
            from,
            done,
            stream_id,
            error,
            data,
            data_checked,
            ..
        } = env
        else {
            return Ok(Effect::Nothing);
        };
        let from = Origin {
            node: from,
            tag,
            way,
        };
        let (target, from, content) = match stream_id {
            None => {
                let content = match error {
                    Some(error) => Content::Read(Err(error)),
                    None => Content::Text {
                        text: data.as_deref(),
                        checked: data_checked,
                    },
                };
                (target, from, content)
            }
            Some(stream_id) => {
                let bytes = match chunk_bytes(data.as_deref(), data_checked) {
                    Ok(bytes) => bytes,
                    Err(Unreadable::Unchecked) => return Err(Unparsable),
                    Err(Unreadable::Malformed(dropped)) => return Ok(Effect::Drop(dropped)),
                };
                let piece = Piece {
                    id: stream_id,
                    target,
                    from,
                    bytes: &bytes,
                    done,
                    error,
                };
                match self.streams.add(piece, now) {
                    Chunk::Waiting => return Ok(Effect::Nothing),
                    Chunk::TooLarge { dropped, answer } => {
                        return Ok(Effect::Refuse { dropped, answer })
                    }
                    Chunk::Done {
                        target,
                        from,
                        result,
                    } => (target, from, Content::Read(result)),
                }
            }
        };
        let msg = Arrival {
            target,
            from,
            content,
        };
        route(cx.tables, cx.node_id, msg)
    }

    /// Drops the streams not finished by `now`: each is counted, and the
    /// caller waiting on one is owed the error answer given with it.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(Dropped, Option<Answer<R>>)> {
        self.streams.expire(now)
    }

    /// Whether streams are being received (and so must be watched for
    /// expiry).
    pub(crate) fn has_streams(&self) -> bool {
        !self.streams.is_empty()
    }

    /// The connection ended: drops its streams, telling how many.
    pub(crate) fn close(&mut self) -> usize {
        self.streams.clear()
    }
}
