//! One cluster node as a process: listens on 127.0.0.1:<port>, joins ring
//! `ring` with cookie `cookie`, meets the nodes given as `id:port`, and
//! prints its ring whenever membership changes. Stop it with Ctrl-C.
//!
//! `cargo run --release --example node -- foo 7022 [bar:7023 …]`

use notp::cluster::{ClusterNode, ClusterOptions, GossipEvent};
use notp::Node;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: node <id> <port> [<id>:<port> to meet …]";
    let id = args.next().ok_or(usage)?;
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let node = ClusterNode::start(
        Node::new(&id, "127.0.0.1", port),
        "cookie",
        "ring",
        ClusterOptions::default(),
    )
    .await?;
    println!("{id}: listening on 127.0.0.1:{port}, ring \"ring\", cookie \"cookie\"");
    let events = node.gossip().subscribe();
    for peer in args {
        let (peer_id, peer_port) = peer.split_once(':').ok_or(usage)?;
        node.gossip()
            .meet(&Node::new(peer_id, "127.0.0.1", peer_port.parse()?))?;
        println!("{id}: meeting {peer}");
    }
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            event = events.recv() => match event {
                Some(GossipEvent::Process { new, .. }) => {
                    let ids: Vec<&str> = new.nodes().iter().map(|n| n.id()).collect();
                    println!("{id}: ring is now {ids:?}");
                }
                Some(_) => {}
                None => break,
            },
        }
    }
    node.stop();
    Ok(())
}
