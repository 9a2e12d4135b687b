//! notp: a distributed-systems kernel — consistent hash ring, vector clocks,
//! and (in later layers) a signed full-mesh network, GenServers and gossip —
//! wire-compatible with the JavaScript notp 2.0.1.
//!
//! This crate is the engine behind three front doors: the Rust API (this
//! crate), the C ABI (`include/libnotp.h`, the `bindings/c` crate) and the
//! Node.js package (`require("notp")`, the `bindings/node` crate).
//!
//! ```
//! use notp::{CHash, Node, VectorClock};
//!
//! let mut ring = CHash::new(3, 2);
//! ring.insert(Node::new("foo", "localhost", 7022), None).unwrap();
//! ring.insert(Node::new("bar", "localhost", 7023), None).unwrap();
//! let owner = ring.find("some key").unwrap();
//! assert!(owner.id() == "foo" || owner.id() == "bar");
//!
//! let mut clock = VectorClock::new();
//! clock.increment("actor");
//! assert_eq!(clock.count("actor"), Some(1));
//! ```

// Unsafe code lives in the front doors (bindings/c, bindings/node); the
// engine allows it in one place only, src/ring/sha_ni.rs.
#![deny(unsafe_code)]

pub mod clock;
pub mod cluster;
mod error;
pub mod gen_server;
pub mod gossip;
mod js_order;
pub mod lock;
pub mod net;
mod node;
pub mod ring;
pub mod table;
pub mod wire;

pub use clock::{now_micros, ClockEntry, TrimOptions, VectorClock};
pub use cluster::{Cluster, ClusterNode};
pub use error::{Error, OptionsError};
pub use node::Node;
pub use ring::CHash;

/// The crate version, as `major.minor.patch`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
