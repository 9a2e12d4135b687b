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

use super::kernel::{stopped, Backlog, Kernel, Received, Route, Unparsable};
use super::sink::Cork;
use super::{error_value, Payload};
use crate::wire::{self, buffer, js_json, FrameDecoder, FrameType, Incoming, Sender};

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
    let stop = async move { stopped(&mut shutdown).await };
    tokio::pin!(stop);
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
        // Stopping and the stream sweep (needed only while streams are
        // partly received) come first, so that a peer that never stops
        // sending delays neither.
        let read = tokio::select! {
            biased;
            _ = &mut stop => break,
            _ = sweep.tick(), if !conn.partials.is_empty() => {
                conn.expire(opts.stream_timeout);
                continue;
            }
            read = rd.read_buf(decoder.buffer_mut()) => read,
        };
        if matches!(read, Ok(0) | Err(_)) {
            break;
        }
        // Handles every frame this read completed; what they queue for
        // peers goes out together at the end (see `Cork`).
        loop {
            let backlog = {
                let _cork = Cork::new();
                loop {
                    match decoder.next_frame_slice() {
                        Ok(Some(frame)) => {
                            if let Some(backlog) = conn.frame(frame) {
                                break Some(backlog);
                            }
                        }
                        Ok(None) => break None,
                        Err(e) => {
                            conn.kernel.inner.skips.record(
                                "FRAME_TOO_LARGE",
                                format!("{e}; closing the connection"),
                                Some(peer),
                            );
                            break 'conn;
                        }
                    }
                }
            };
            let Some(backlog) = backlog else { break };
            tokio::select! {
                biased;
                _ = &mut stop => break 'conn,
                _ = backlog.deliver() => {}
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
        let env = match wire::decode_incoming(frame, self.kernel.inner.signer.as_ref()) {
            Ok(env) => env,
            Err(reason) => {
                self.skip(reason.code(), reason.to_string());
                return None;
            }
        };
        match env.frame_type {
            FrameType::Ping => {
                self.kernel.pong(env.tag.as_deref(), &env.from.id);
                None
            }
            FrameType::Message => match self.message(env) {
                Ok(backlog) => backlog,
                // The fast path's unchecked payload did not parse: decoded
                // again, checked, the frame says what it really is.
                Err(Unparsable) => {
                    match wire::decode_incoming_checked(frame, self.kernel.inner.signer.as_ref()) {
                        Ok(env) => self.message(env).unwrap_or(None),
                        Err(reason) => {
                            self.skip(reason.code(), reason.to_string());
                            None
                        }
                    }
                }
            },
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

    fn message(&mut self, env: Incoming) -> Result<Option<Backlog>, Unparsable> {
        let route = self.route(&env.from);
        let peer = Some(self.peer);
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
            return Ok(None);
        };
        let Some(stream_id) = stream_id else {
            // A single message.
            return match error {
                Some(error) => Ok(self
                    .kernel
                    .dispatch(target, tag, from, Err(error), route, peer)),
                None => {
                    let data = Received {
                        text: data.as_deref(),
                        checked: data_checked,
                    };
                    self.kernel.deliver(target, tag, from, data, route, peer)
                }
            };
        };
        let parsed = data
            .as_deref()
            .map_or(Ok(Value::Null), serde_json::from_str);
        let chunk = match parsed {
            Ok(data) => chunk_bytes(data),
            Err(_) if !data_checked => return Err(Unparsable),
            Err(e) => {
                self.skip("MALFORMED_JSON", e.to_string());
                return Ok(None);
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
            return Ok(None);
        }
        let partial = self
            .partials
            .entry(stream_id.clone())
            .or_insert_with(|| Partial {
                target,
                tag,
                from,
                body: Vec::new(),
                started: Instant::now(),
            });
        partial.body.extend_from_slice(&chunk);
        self.partial_bytes += chunk.len();
        if !done {
            return Ok(None);
        }
        let Some(p) = self.partials.remove(&stream_id) else {
            return Ok(None);
        };
        self.partial_bytes -= p.body.len();
        let result = match error {
            Some(error) => Err(error),
            None => Ok(Payload::Bytes(p.body.into())),
        };
        Ok(self
            .kernel
            .dispatch(p.target, p.tag, p.from, result, route, peer))
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
fn chunk_bytes(data: Value) -> Vec<u8> {
    match data {
        Value::Null => Vec::new(),
        Value::String(s) => s.into_bytes(),
        other => {
            buffer::from_value(&other).unwrap_or_else(|| js_json::to_string(&other).into_bytes())
        }
    }
}
