//! The Rust door in one screen: a ring, its placements, a vector clock, and
//! two kernels on loopback calling each other's GenServer.
//!
//! `cargo run --release --example demo`

use std::time::Duration;

use notp::gen_server::{self, GenServer};
use notp::net::{Kernel, KernelOptions};
use notp::{CHash, Node, VectorClock};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("== Rust: consistent hash ring (rfactor 3, pfactor 2)");
    let mut ring = CHash::new(3, 2);
    for (id, port) in [("foo", 7022), ("bar", 7023), ("baz", 7024)] {
        ring.insert(Node::new(id, "localhost", port), None)?;
    }
    println!(
        "   {} nodes, {} virtual nodes",
        ring.number_nodes(),
        ring.size()
    );
    for key in ["user:1", "user:2", "order:42", "héllo wörld"] {
        let owner = ring.find(key).map_or("-", |n| n.id());
        let replicas: Vec<&str> = ring.range_next(key, None).iter().map(|n| n.id()).collect();
        println!("   {key:<12} -> {owner:<4} replicas {replicas:?}");
    }

    println!("== Rust: vector clocks");
    let mut a = VectorClock::new();
    a.increment("actor-a").increment("actor-a");
    let mut b = VectorClock::new();
    b.increment("actor-b");
    println!(
        "   a descends b? {}   b descends a? {}",
        a.descends(&b),
        b.descends(&a)
    );
    a.merge(&b);
    println!(
        "   after a.merge(b): a descends b? {}   {} actors",
        a.descends(&b),
        a.size()
    );

    println!("== Rust: two kernels, a GenServer call across loopback");
    let opts = KernelOptions::default().with_cookie("cookie");
    let k_foo = Kernel::start(Node::new("foo", "127.0.0.1", 0), opts.clone()).await?;
    let k_bar = Kernel::start(Node::new("bar", "127.0.0.1", 0), opts).await?;
    for (from, to) in [(&k_foo, &k_bar), (&k_bar, &k_foo)] {
        if let Some(sink) = from.connect(to.node()) {
            sink.wait_connected().await;
        }
    }
    GenServer::start(&k_bar, "greeter")?
        .spawn(|req| Some(json!(format!("hello, {}", req.from.node.id)).into()));
    let answer = gen_server::call(
        &k_foo,
        k_bar.node(),
        "greeter",
        "hello",
        json!(null),
        Some(Duration::from_secs(5)),
    )
    .await?;
    println!("   foo -> bar/greeter: {:?}", answer.into_json());
    k_foo.stop();
    k_bar.stop();
    Ok(())
}
