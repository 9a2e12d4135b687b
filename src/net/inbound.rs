//! Accepted connections: frames in, verified, streamed bodies put back
//! together (within bounds), and routed. Only CLI answers are ever written
//! back on these sockets.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

use super::kernel::{stopped, Backlog, Kernel, Route};
use super::{error_value, Payload};
use crate::wire::{self, buffer, js_json, DropReason, Envelope, FrameDecoder, FrameType, Sender};

/// A streamed body being received.
struct Partial {
    target: String,
    tag: Option<String>,
    from: Sender,
    body: Vec<u8>,
    started: Instant,
}

/// Per-connection state.
struct Conn {
    kernel: Kernel,
    peer: SocketAddr,
    /// Writes back on this socket (answers to CLI clients).
    back: mpsc::Sender<Bytes>,
    partials: HashMap<String, Partial>,
    partial_bytes: usize,
}

pub(crate) async fn serve(
    kernel: Kernel,
    stream: TcpStream,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let (back, mut back_rx) = mpsc::channel::<Bytes>(64);
    let writer = tokio::spawn(async move {
        while let Some(frame) = back_rx.recv().await {
            if wr.write_all(&frame).await.is_err() {
                break;
            }
        }
    });
    let opts = kernel.inner.opts.clone();
    let mut shutdown = kernel.inner.shutdown.subscribe();
    let mut conn = Conn {
        kernel,
        peer,
        back,
        partials: HashMap::new(),
        partial_bytes: 0,
    };
    let mut decoder = FrameDecoder::new(opts.max_frame);
    let mut sweep =
        tokio::time::interval(opts.stream_timeout.min(std::time::Duration::from_secs(1)));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    'conn: loop {
        let buf: &mut BytesMut = decoder.buffer_mut();
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        tokio::select! {
            _ = stopped(&mut shutdown) => break,
            _ = sweep.tick() => conn.expire(opts.stream_timeout),
            read = rd.read_buf(decoder.buffer_mut()) => {
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(_) => loop {
                        match decoder.next_frame() {
                            Ok(Some(frame)) => {
                                if let Some(backlog) = conn.frame(&frame) {
                                    tokio::select! {
                                        _ = stopped(&mut shutdown) => break 'conn,
                                        _ = backlog.deliver() => {}
                                    }
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                conn.kernel.inner.skips.record("FRAME_TOO_LARGE", format!("{e}; closing the connection"), Some(peer));
                                break 'conn;
                            }
                        }
                    },
                }
            }
        }
    }
    if !conn.partials.is_empty() {
        tracing::debug!(%peer, streams = conn.partials.len(), "connection closed mid-stream; dropping partial bodies");
    }
    drop(conn);
    let _ = writer.await;
}

impl Conn {
    fn skip(&self, code: &'static str, detail: impl Into<String>) {
        self.kernel
            .inner
            .skips
            .record(code, detail, Some(self.peer));
    }

    fn frame(&mut self, frame: &[u8]) -> Option<Backlog> {
        let env = match wire::decode(frame, self.kernel.inner.signer.as_ref()) {
            Ok(env) => env,
            Err(reason) => {
                self.skip(reason.code(), reason.to_string());
                return None;
            }
        };
        match env.frame_type {
            FrameType::Ping => {
                self.kernel.pong(&env);
                None
            }
            FrameType::Message => self.message(env),
        }
    }

    fn route(&self, sender: &Sender) -> Route {
        // Members carry a full address and are answered over our own
        // connection to them; anything else (the CLI) on this socket.
        if sender.host.is_some() && sender.port.is_some() {
            Route::Peer
        } else {
            Route::Socket(self.back.clone())
        }
    }

    fn message(&mut self, env: Envelope) -> Option<Backlog> {
        let target = env.id.clone()?;
        let route = self.route(&env.from);
        let Some(stream_id) = env.stream_id().map(str::to_owned) else {
            // A single message.
            let result = match (env.error(), env.data_value()) {
                (Some(error), _) => Err(error.clone()),
                (None, Ok(v)) => Ok(Payload::from_wire(v)),
                (None, Err(e)) => {
                    self.skip(
                        DropReason::MalformedJson(String::new()).code(),
                        e.to_string(),
                    );
                    return None;
                }
            };
            let peer = Some(self.peer);
            return self.kernel.dispatch(
                &target,
                env.tag.as_deref(),
                &env.from,
                result,
                route,
                peer,
            );
        };
        let chunk = match chunk_bytes(&env) {
            Ok(c) => c,
            Err(e) => {
                self.skip("MALFORMED_JSON", e);
                return None;
            }
        };
        let limit = self.kernel.inner.opts.max_stream_bytes;
        if self.partial_bytes + chunk.len() > limit {
            self.skip(
                "STREAM_TOO_LARGE",
                format!("stream {stream_id} for {target} exceeds {limit} bytes"),
            );
            if let Some(p) = self.partials.remove(&stream_id) {
                self.partial_bytes -= p.body.len();
                self.refuse(&p, "Stream exceeds the receiver's limit.");
            }
            return None;
        }
        let partial = self
            .partials
            .entry(stream_id.clone())
            .or_insert_with(|| Partial {
                target,
                tag: env.tag.clone(),
                from: env.from.clone(),
                body: Vec::new(),
                started: Instant::now(),
            });
        partial.body.extend_from_slice(&chunk);
        self.partial_bytes += chunk.len();
        if !env.done() {
            return None;
        }
        let p = self.partials.remove(&stream_id)?;
        self.partial_bytes -= p.body.len();
        let result = match env.error() {
            Some(error) => Err(error.clone()),
            None => Ok(Payload::Bytes(p.body.into())),
        };
        let peer = Some(self.peer);
        self.kernel
            .dispatch(&p.target, p.tag.as_deref(), &p.from, result, route, peer)
    }

    /// Drops streams that have not finished in time, answering the ones a
    /// caller waits on.
    fn expire(&mut self, timeout: std::time::Duration) {
        let expired: Vec<String> = self
            .partials
            .iter()
            .filter(|(_, p)| p.started.elapsed() > timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some(p) = self.partials.remove(&id) {
                self.partial_bytes -= p.body.len();
                self.skip(
                    "STREAM_TIMEOUT",
                    format!("stream {id} for {} did not finish in {timeout:?}", p.target),
                );
                self.refuse(&p, "Stream timed out.");
            }
        }
    }

    fn refuse(&self, p: &Partial, message: &str) {
        if p.tag.is_none() {
            return;
        }
        let from = super::From {
            node: p.from.clone(),
            tag: p.tag.clone(),
            route: self.route(&p.from),
        };
        let _ = self.kernel.reply_error(&from, &error_value(message, &[]));
    }
}

/// The bytes a stream chunk contributes: a Buffer's bytes, a string's UTF-8,
/// any other value's JSON text; nothing for `null`.
fn chunk_bytes(env: &Envelope) -> Result<Vec<u8>, String> {
    let Some(raw) = &env.data else {
        return Ok(Vec::new());
    };
    let v: Value = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
    Ok(match v {
        Value::String(s) => s.into_bytes(),
        other => {
            buffer::from_value(&other).unwrap_or_else(|| js_json::to_string(&other).into_bytes())
        }
    })
}
