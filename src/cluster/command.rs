//! The command server: the `"command"` GenServer every node runs for the
//! CLI (PROTOCOL §6). It answers only senders that are not members (CLI
//! clients), on the socket the command arrived on, with
//! `{"ok":…,"data"?:…,"error"?:…,"tag":…}` signed like an envelope.

use serde_json::{json, Map, Value};

use super::{ClusterError, GossipRing};
use crate::gen_server::{GenServer, Request};
use crate::net::{error_value, Kernel, NetError};
use crate::Node;

/// The server name the CLI addresses.
pub const NAME: &str = "command";

/// Every command the CLI can send.
pub const COMMANDS: [&str; 15] = [
    "join", "leave", "meet", "insert", "minsert", "update", "remove", "mremove", "inspect",
    "nodes", "has", "get", "weight", "weights", "ping",
];

/// Starts the command server for `gossip` on `kernel`.
pub fn spawn(kernel: &Kernel, gossip: &GossipRing) -> Result<(), NetError> {
    spawn_named(kernel, gossip, NAME)
}

/// Starts a command server for `gossip` on `kernel` under `name` (the
/// original's `CommandServer.start(name)`); it ends when `name` is
/// unregistered.
pub fn spawn_named(kernel: &Kernel, gossip: &GossipRing, name: &str) -> Result<(), NetError> {
    let mut server = GenServer::start(kernel, name)?;
    let (kernel, gossip) = (kernel.clone(), gossip.clone());
    tokio::spawn(async move {
        while let Some(req) = server.recv().await {
            let sender = &req.from.node.id;
            if !req.from.is_socket() || kernel.is_connected_id(sender) {
                tracing::debug!(%sender, "command from a member ignored");
                continue;
            }
            let mut answer = answer(run(&gossip, &req));
            if let (Some(tag), Some(obj)) = (&req.from.tag, answer.as_object_mut()) {
                obj.insert("tag".into(), Value::String(tag.clone()));
            }
            if let Err(e) = kernel.answer_on_socket(&req.from, &answer) {
                tracing::debug!("cannot answer the CLI: {e}");
            }
        }
    });
    Ok(())
}

/// The answer the CLI gets for a command's outcome: `{"ok":true}`,
/// `{"ok":true,"data":…}` or `{"ok":false,"error":{"message":…,"_error":true}}`.
pub fn answer(outcome: Result<Option<Value>, String>) -> Value {
    match outcome {
        Ok(None) => json!({ "ok": true }),
        Ok(Some(data)) => json!({ "ok": true, "data": data }),
        Err(message) => json!({ "ok": false, "error": error_value(&message, &[]) }),
    }
}

/// Runs one command; `Ok(Some(data))` answers with data.
pub fn run(gossip: &GossipRing, req: &Request) -> Result<Option<Value>, String> {
    let args = req.data.as_json().cloned().unwrap_or(Value::Null);
    execute(gossip, &req.event, &args)
}

/// Runs `command` with its arguments `args` (the body's `data`) on
/// `gossip`, as a request from the CLI is run; a door's own calls to the
/// command methods come here too.
pub fn execute(gossip: &GossipRing, command: &str, args: &Value) -> Result<Option<Value>, String> {
    let args = Args(args.as_object().cloned().unwrap_or_default());
    let me = gossip.kernel().node().id().to_owned();
    let done = |outcome: Result<(), ClusterError>| outcome.map(|()| None).map_err(reason);
    match command {
        "join" => done(gossip.join(&args.id()?)),
        "leave" => done(gossip.leave()),
        "meet" => done(gossip.meet(&args.node()?)),
        "insert" => done(gossip.insert(&args.node()?, args.weight())),
        "minsert" => {
            let nodes: Vec<Node> = args.nodes()?.into_iter().filter(|n| n.id() != me).collect();
            done(gossip.minsert(&nodes, args.weight()))
        }
        "update" => done(gossip.update(&args.node()?, args.weight())),
        "remove" => done(gossip.remove(&args.node()?)),
        "mremove" => {
            let nodes: Vec<Node> = args.nodes()?.into_iter().filter(|n| n.id() != me).collect();
            done(gossip.mremove(&nodes))
        }
        "inspect" => Ok(Some(gossip.ring().to_value())),
        "nodes" => Ok(Some(json!(gossip.ring().nodes()))),
        "has" => Ok(Some(Value::Bool(gossip.ring().is_defined(&args.id()?)))),
        "get" => {
            let id = args.id()?;
            gossip
                .ring()
                .get(&id)
                .map(|n| Some(json!(n)))
                .ok_or_else(|| undefined(&id))
        }
        "weight" => {
            let id = args.id()?;
            gossip
                .ring()
                .weight(&id)
                .map(|w| Some(json!(w)))
                .ok_or_else(|| undefined(&id))
        }
        "weights" => {
            let ring = gossip.ring();
            let map: Map<String, Value> = ring
                .weights()
                .iter()
                .map(|(k, w)| (k.clone(), json!(w)))
                .collect();
            Ok(Some(Value::Object(map)))
        }
        "ping" => Ok(Some(json!("pong"))),
        other => Err(unknown(other)),
    }
}

/// Whether `command` with `args` would be run, or the refusal it would be
/// answered with (the original's `decodeJob` for the command server): the
/// checks [`execute`] makes before acting, and nothing else.
pub fn check(command: &str, args: &Value) -> Result<(), String> {
    let args = Args(args.as_object().cloned().unwrap_or_default());
    match command {
        "join" | "has" | "get" | "weight" => args.id().map(drop),
        "meet" | "insert" | "update" | "remove" => args.node().map(drop),
        "minsert" | "mremove" => args.nodes().map(drop),
        other if COMMANDS.contains(&other) => Ok(()),
        other => Err(unknown(other)),
    }
}

fn unknown(command: &str) -> String {
    format!("Cannot run against unknown command '{command}'")
}

/// A refusal as the original words it: an argument error's reason alone.
fn reason(e: ClusterError) -> String {
    match e {
        ClusterError::State(crate::Error::InvalidArgument { reason, .. }) => reason,
        other => other.to_string(),
    }
}

fn undefined(id: &str) -> String {
    format!("'{id}' is not defined in this ring.")
}

/// A command's arguments, read the way the original's parsers read them.
struct Args(Map<String, Value>);

impl Args {
    fn id(&self) -> Result<String, String> {
        self.0
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| "Input data must have a string `id`.".to_owned())
    }

    fn node(&self) -> Result<Node, String> {
        let v = self.0.get("node").ok_or("Input data must have a `node`.")?;
        Node::from_value(v).map_err(|e| format!("Input node is invalid: {e}"))
    }

    fn nodes(&self) -> Result<Vec<Node>, String> {
        let list = self
            .0
            .get("nodes")
            .and_then(Value::as_array)
            .ok_or("Input data must have a `nodes` array.")?;
        list.iter()
            .map(|v| Node::from_value(v).map_err(|e| format!("Input node is invalid: {e}")))
            .collect()
    }

    /// A weight that is not a positive number means the ring's rfactor.
    fn weight(&self) -> Option<u32> {
        let w = self.0.get("weight")?.as_f64()?;
        (w >= 1.0 && w <= u32::MAX as f64).then_some(w as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_refuses_unknown_commands_and_missing_arguments_only() {
        let node = json!({"id": "bar", "host": "127.0.0.1", "port": 7023});
        for command in COMMANDS {
            let args = json!({"id": "bar", "node": node, "nodes": [node]});
            assert_eq!(check(command, &args), Ok(()), "{command}");
        }
        for command in ["inspect", "nodes", "weights", "ping", "leave"] {
            assert_eq!(check(command, &Value::Null), Ok(()), "{command}");
        }
        assert_eq!(
            check("nope", &Value::Null),
            Err("Cannot run against unknown command 'nope'".to_owned())
        );
        for command in [
            "join", "has", "get", "weight", "meet", "insert", "update", "remove",
        ] {
            assert!(check(command, &Value::Null).is_err(), "{command}");
            assert!(check(command, &json!([1])).is_err(), "{command}");
        }
        for command in ["minsert", "mremove"] {
            assert!(
                check(command, &json!({"nodes": node})).is_err(),
                "{command}"
            );
            assert!(
                check(command, &json!({"nodes": [{"id": 5}]})).is_err(),
                "{command}"
            );
        }
        assert!(check("meet", &json!({"node": {"id": "x"}})).is_err());
    }

    #[test]
    fn answers_have_the_cli_shape() {
        assert_eq!(answer(Ok(None)), json!({"ok": true}));
        assert_eq!(
            answer(Ok(Some(json!("pong")))),
            json!({"ok": true, "data": "pong"})
        );
        let refused = answer(Err("no".into()));
        assert_eq!(refused["ok"], false);
        assert_eq!(refused["error"]["message"], "no");
        assert_eq!(refused["error"]["_error"], true);
    }
}
