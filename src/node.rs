use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;

/// A member of the cluster: a unique id and the address it listens on.
///
/// Serialises as `{"id":…,"host":…,"port":…}` in exactly that key order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Node {
    id: String,
    host: String,
    port: u16,
}

impl Node {
    pub fn new(id: impl Into<String>, host: impl Into<String>, port: u16) -> Self {
        Node {
            id: id.into(),
            host: host.into(),
            port,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn set_id(&mut self, id: impl Into<String>) {
        self.id = id.into();
    }

    pub fn set_host(&mut self, host: impl Into<String>) {
        self.host = host.into();
    }

    pub fn set_port(&mut self, port: u16) {
        self.port = port;
    }

    /// Reads `{"id","host","port"}` from a parsed JSON value, naming the
    /// field that is wrong when it is not.
    pub fn from_value(v: &Value) -> Result<Node, Error> {
        let obj = v
            .as_object()
            .ok_or_else(|| Error::MalformedNode("expected an object {id, host, port}".into()))?;
        let text = |field: &str| -> Result<String, Error> {
            obj.get(field)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| Error::MalformedNode(format!("`{field}` must be a string")))
        };
        let port = obj
            .get("port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| {
                Error::MalformedNode("`port` must be an integer from 0 to 65535".into())
            })?;
        Ok(Node {
            id: text("id")?,
            host: text("host")?,
            port,
        })
    }

    /// Parses the JSON text of a node.
    pub fn from_json(text: &str) -> Result<Node, Error> {
        Node::from_value(&serde_json::from_str::<Value>(text)?)
    }

    /// The JSON text of this node, byte-identical to the original's
    /// `JSON.stringify(node)`.
    pub fn to_json(&self) -> String {
        // Serialising three plain fields cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}:{}", self.id, self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_key_order_and_round_trips() {
        let n = Node::new("foo", "localhost", 7022);
        assert_eq!(
            n.to_json(),
            r#"{"id":"foo","host":"localhost","port":7022}"#
        );
        assert_eq!(Node::from_json(&n.to_json()).unwrap(), n);
    }

    #[test]
    fn malformed_nodes_name_the_field() {
        let e = Node::from_json(r#"{"id":"a","host":"h","port":70000}"#).unwrap_err();
        assert!(e.to_string().contains("port"), "{e}");
        let e = Node::from_json(r#"{"id":1,"host":"h","port":1}"#).unwrap_err();
        assert!(e.to_string().contains("id"), "{e}");
        assert!(matches!(
            Node::from_json("[]"),
            Err(Error::MalformedNode(_))
        ));
        assert!(matches!(Node::from_json("{"), Err(Error::Json(_))));
    }
}
