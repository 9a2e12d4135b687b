//! A running kernel's outbound connections: opening and closing them, and
//! reading their state for JavaScript's `Connection` objects.

use napi_derive::napi;

use notp::wire::{frame_around, FrameType, Signer};
use notp::Node;

use super::{by_id, running};
use crate::codes::answer;
use crate::convert::invalid_arg;
use crate::event::Event;
use crate::ring::NodeFields;
use crate::runtime::runtime;

fn make_node(id: String, host: String, port: u32) -> napi::Result<Node> {
    let port = u16::try_from(port).map_err(|_| invalid_arg("port", "must be from 0 to 65535"))?;
    Ok(Node::new(id, host, port))
}

/// Opens the outbound connection to a node. `PENDING`: a `Connected`
/// event follows once it is up; `UNKNOWN_NODE`: it already existed;
/// `NOT_RUNNING`: nothing was done.
#[napi(catch_unwind)]
pub fn kernel_connect(h: u32, id: String, host: String, port: u32) -> napi::Result<u32> {
    let Some((session, kernel)) = running(h)? else {
        return Ok(answer::NOT_RUNNING);
    };
    let node = make_node(id, host, port)?;
    if kernel.is_connected(&node) {
        return Ok(answer::UNKNOWN_NODE);
    }
    let Some(sink) = kernel.connect(&node) else {
        return Ok(answer::NOT_RUNNING);
    };
    let rt = runtime().map_err(napi::Error::from_reason)?;
    rt.spawn(async move {
        sink.wait_connected().await;
        if sink.state() == notp::net::SinkState::Active {
            session.push(Event::Connected(sink.node().id().to_owned()));
        }
    });
    Ok(answer::PENDING)
}

#[napi(catch_unwind)]
pub fn kernel_disconnect(h: u32, id: String, force: bool) -> napi::Result<()> {
    if let Some((_, kernel)) = running(h)? {
        kernel.disconnect(&by_id(id), force);
    }
    Ok(())
}

/// Whether an outbound connection to that node exists.
#[napi(catch_unwind)]
pub fn kernel_is_connected(h: u32, id: String) -> napi::Result<bool> {
    Ok(running(h)?.is_some_and(|(_, k)| k.connection(&by_id(id)).is_some()))
}

/// Every outbound connection's node.
#[napi(catch_unwind)]
pub fn kernel_sinks(h: u32) -> napi::Result<Vec<NodeFields>> {
    Ok(running(h)?
        .map(|(_, k)| {
            k.sinks()
                .iter()
                .map(|s| NodeFields::from(s.node()))
                .collect()
        })
        .unwrap_or_default())
}

/// The state of one outbound connection.
#[napi(object)]
pub struct SinkInfo {
    /// One of [`crate::codes::sink_state`].
    pub state: u32,
    /// Frames waiting to be written.
    pub queued: f64,
    pub max_len: f64,
}

#[napi(catch_unwind)]
pub fn kernel_sink_info(h: u32, id: String) -> napi::Result<Option<SinkInfo>> {
    let Some((_, kernel)) = running(h)? else {
        return Ok(None);
    };
    Ok(kernel.connection(&by_id(id)).map(|sink| SinkInfo {
        state: sink.state() as u32,
        queued: sink.queued() as f64,
        max_len: sink.max_queue() as f64,
    }))
}

/// Writes one frame on the outbound connection to a node, as the
/// original's `Connection.send(event, data)` did: `{"type": <ping or
/// message>, "data": <body>}`, `body` being the envelope's JSON text
/// without `checkSum`, signed here with the kernel's cookie. Queued like
/// any frame while the connection is down. False when there is no
/// connection (or it is closed).
#[napi(catch_unwind)]
pub fn kernel_sink_send(h: u32, id: String, ping: bool, body: String) -> napi::Result<bool> {
    let Some((_, kernel)) = running(h)? else {
        return Ok(false);
    };
    let Some(sink) = kernel.connection(&by_id(id)) else {
        return Ok(false);
    };
    let signer = kernel
        .options()
        .cookie
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| Signer::new(c.as_bytes()));
    let kind = if ping {
        FrameType::Ping
    } else {
        FrameType::Message
    };
    let mut frame = Vec::with_capacity(body.len() + 110);
    frame_around(kind, &body, signer.as_ref(), &mut frame);
    Ok(sink.send(frame.into()))
}
