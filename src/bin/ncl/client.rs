//! The CLI side of the command protocol (PROTOCOL §3, §6): one signed
//! `"message"` frame per command to the node's `"command"` server, and the
//! answer read back on the same socket, checked and matched by tag.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use notp::wire::{self, js_json, FrameDecoder, FrameType, Sender, Signer};

use crate::args::{Target, EXIT_CONNECTION, EXIT_NO_ANSWER, EXIT_UNREACHABLE};

/// Largest answer accepted (a big ring's `inspect` stays far below).
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// Why a command got no answer.
#[derive(Debug)]
pub enum ClientError {
    /// No connection could be made (exit 2).
    Unreachable(String),
    /// Connected, but no valid answer within the timeout (exit 3).
    NoAnswer {
        /// Answers to this request whose signature did not check out.
        bad_signatures: usize,
    },
    /// The node closed or reset the connection before answering (exit 4).
    Dropped(String),
    /// The connection failed otherwise, or carried garbage (exit 4).
    Connection(String),
    /// The system has no randomness for tags (exit 4).
    Random(String),
}

impl ClientError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ClientError::Unreachable(_) => EXIT_UNREACHABLE,
            ClientError::NoAnswer { .. } => EXIT_NO_ANSWER,
            ClientError::Dropped(_) | ClientError::Connection(_) | ClientError::Random(_) => {
                EXIT_CONNECTION
            }
        }
    }

    /// A sentence for the user.
    pub fn message(&self, target: &Target) -> String {
        let who = target.describe();
        let ms = target.timeout.as_millis();
        match self {
            ClientError::Unreachable(why) => format!("cannot reach {who}: {why}"),
            ClientError::NoAnswer { bad_signatures: 0 } => format!(
                "{who} did not answer within {ms} ms; the cookie may be wrong \
                 (a node drops commands not signed with its cookie; set it with -a/--key)"
            ),
            ClientError::NoAnswer { .. } => format!(
                "{who} answered, but not with a valid signature for this cookie, within \
                 {ms} ms; the cookie (-a/--key) is probably wrong"
            ),
            ClientError::Dropped(why) | ClientError::Connection(why) => {
                format!("connection to {who} failed: {why}")
            }
            ClientError::Random(why) => format!("cannot make a request id: {why}"),
        }
    }
}

/// A connection (made on demand, kept between commands) to one node.
pub struct Client {
    target: Target,
    signer: Signer,
    /// `{"id":"<instance>_<pid>"}` as JSON text.
    from: String,
    conn: Option<TcpStream>,
    decoder: FrameDecoder,
}

/// What a received frame is to the pending request.
enum Received {
    Answer(Value),
    BadSignature,
    Other,
}

impl Client {
    pub fn new(target: Target) -> Client {
        let from = Sender {
            id: format!("{}_{}", target.instance, std::process::id()),
            host: None,
            port: None,
        }
        .to_json();
        Client {
            signer: Signer::new(target.key.as_bytes()),
            from,
            target,
            conn: None,
            decoder: FrameDecoder::new(MAX_ANSWER),
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Connects now if not connected.
    pub fn connect(&mut self) -> Result<(), ClientError> {
        if self.conn.is_none() {
            let deadline = Instant::now() + self.target.timeout;
            self.conn = Some(connect(&self.target, deadline)?);
        }
        Ok(())
    }

    /// Sends `event` with `data` and returns the answer object without its
    /// `checkSum` and `tag`.
    pub fn request(&mut self, event: &str, data: &Value) -> Result<Value, ClientError> {
        let tag = uuid_v4()?;
        let stream_id = uuid_v4()?;
        let frame = self.frame(event, data, &tag, &stream_id);
        let reused = self.conn.is_some();
        let deadline = Instant::now() + self.target.timeout;
        match self.exchange(&frame, &tag, deadline) {
            // A kept connection the node has closed since (restarted, say):
            // try once more on a new one.
            Err(ClientError::Dropped(_)) if reused => {
                let deadline = Instant::now() + self.target.timeout;
                self.exchange(&frame, &tag, deadline)
            }
            other => other,
        }
    }

    /// The signed frame of one command, as the original CLI writes it.
    fn frame(&self, event: &str, data: &Value, tag: &str, stream_id: &str) -> Vec<u8> {
        let body = js_json::to_string(&json!({ "event": event, "data": data }));
        let buffer = wire::buffer::to_json(body.as_bytes());
        let mut envelope = String::with_capacity(160 + buffer.len());
        envelope.push_str("{\"id\":\"command\",\"tag\":");
        js_json::write_str(&mut envelope, tag);
        envelope.push_str(",\"from\":");
        envelope.push_str(&self.from);
        envelope.push_str(",\"stream\":{\"stream\":");
        js_json::write_str(&mut envelope, stream_id);
        envelope.push_str(",\"done\":true},\"data\":");
        envelope.push_str(&buffer);
        envelope.push('}');
        let mut out = Vec::with_capacity(envelope.len() + 110);
        // The original always signs, even with the empty default key.
        wire::frame_around(FrameType::Message, &envelope, Some(&self.signer), &mut out);
        out
    }

    fn exchange(
        &mut self,
        frame: &[u8],
        tag: &str,
        deadline: Instant,
    ) -> Result<Value, ClientError> {
        let mut stream = match self.conn.take() {
            Some(s) => s,
            None => connect(&self.target, deadline)?,
        };
        let result = self.talk(&mut stream, frame, tag, deadline);
        match result {
            // The connection is no good any more: a fresh one next time.
            Err(ClientError::Dropped(_) | ClientError::Connection(_)) => {
                self.decoder = FrameDecoder::new(MAX_ANSWER)
            }
            // Kept, even after a timeout: a late answer is told apart by its tag.
            _ => self.conn = Some(stream),
        }
        result
    }

    fn talk(
        &mut self,
        stream: &mut TcpStream,
        frame: &[u8],
        tag: &str,
        deadline: Instant,
    ) -> Result<Value, ClientError> {
        stream
            .write_all(frame)
            .and_then(|()| stream.flush())
            .map_err(|e| ClientError::Dropped(format!("cannot send: {}", describe(&e))))?;
        let mut bad_signatures = 0;
        let mut buf = [0u8; 16 * 1024];
        loop {
            while let Some(f) = self
                .decoder
                .next_frame()
                .map_err(|e| ClientError::Connection(format!("answer too large: {e}")))?
            {
                match self.check(&f, tag) {
                    Received::Answer(v) => return Ok(v),
                    Received::BadSignature => bad_signatures += 1,
                    Received::Other => {}
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ClientError::NoAnswer { bad_signatures });
            }
            stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .map_err(|e| ClientError::Connection(describe(&e)))?;
            match stream.read(&mut buf) {
                Ok(0) => {
                    return Err(ClientError::Dropped(
                        "the node closed the connection without answering".into(),
                    ))
                }
                Ok(n) => self.decoder.extend(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(e) if is_drop(&e) => return Err(ClientError::Dropped(describe(&e))),
                Err(e) => return Err(ClientError::Connection(describe(&e))),
            }
        }
    }

    /// Classifies one received frame (delimiter removed).
    fn check(&self, frame: &[u8], tag: &str) -> Received {
        #[derive(Deserialize)]
        struct Frame<'a> {
            #[serde(rename = "type")]
            frame_type: &'a str,
            #[serde(borrow)]
            data: &'a RawValue,
        }
        let Ok(text) = std::str::from_utf8(frame) else {
            return Received::Other;
        };
        let Ok(f) = serde_json::from_str::<Frame>(text) else {
            return Received::Other;
        };
        if f.frame_type != "message" {
            return Received::Other;
        }
        let body = f.data.get();
        let Ok(Value::Object(mut answer)) = serde_json::from_str::<Value>(body) else {
            return Received::Other;
        };
        if answer.get("tag").and_then(Value::as_str) != Some(tag) {
            // An answer to an earlier command that timed out.
            return Received::Other;
        }
        let signed = wire::verify_signed(body, &self.signer);
        // With the empty key there is no secret: a node without a cookie
        // answers unsigned, and that is accepted.
        let unsigned_ok = self.target.key.is_empty() && !answer.contains_key("checkSum");
        if !signed && !unsigned_ok {
            return Received::BadSignature;
        }
        answer.shift_remove("checkSum");
        answer.shift_remove("tag");
        Received::Answer(Value::Object(answer))
    }
}

/// Whether an answer says `ok: true`.
pub fn is_ok(answer: &Value) -> bool {
    answer.get("ok") == Some(&Value::Bool(true))
}

fn connect(target: &Target, deadline: Instant) -> Result<TcpStream, ClientError> {
    let addrs = resolve(target, deadline)?;
    let mut last = ClientError::Unreachable("the host name has no address".into());
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                last = ClientError::Unreachable(format!(
                    "no connection within {} ms",
                    target.timeout.as_millis()
                ));
            }
            Err(e) => last = ClientError::Unreachable(describe(&e)),
        }
    }
    Err(last)
}

/// The addresses of the target's host. The system resolver has no timeout
/// of its own, so it runs on a thread that is abandoned at the deadline.
fn resolve(target: &Target, deadline: Instant) -> Result<Vec<SocketAddr>, ClientError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (host, port) = (target.host.clone(), target.port);
    std::thread::spawn(move || {
        let result = (host.as_str(), port)
            .to_socket_addrs()
            .map(|addrs| addrs.collect::<Vec<_>>());
        let _ = tx.send(result);
    });
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(ClientError::Unreachable(format!(
            "cannot resolve host name ({e})"
        ))),
        Err(_) => Err(ClientError::Unreachable(format!(
            "cannot resolve host name within {} ms",
            target.timeout.as_millis()
        ))),
    }
}

/// Whether `e` says the peer closed or reset the connection.
fn is_drop(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}

/// A short lowercase description of an I/O error.
fn describe(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused".into(),
        ErrorKind::ConnectionReset => "connection reset by the node".into(),
        ErrorKind::ConnectionAborted => "connection aborted".into(),
        ErrorKind::BrokenPipe => "the node closed the connection".into(),
        ErrorKind::HostUnreachable => "host unreachable".into(),
        ErrorKind::NetworkUnreachable => "network unreachable".into(),
        ErrorKind::AddrNotAvailable => "address not available".into(),
        _ => e.to_string(),
    }
}

/// A random (version 4) UUID, as the original's tags and stream ids.
fn uuid_v4() -> Result<String, ClientError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| ClientError::Random(e.to_string()))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4() {
        let u = uuid_v4().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(u, uuid_v4().unwrap());
    }
}
