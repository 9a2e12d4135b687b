//! How fast clusters converge, the way users form them: N nodes (separate
//! processes, or in one process) formed by one node meeting all the others
//! at once (star), a chain of meets, random meets, or one `minsert`, at the
//! default 1000 ms gossip interval. Reports, per case, the share of runs
//! that converged (every ring holding every node) and the time from the
//! formation to convergence in gossip intervals, plus the RSS of the node
//! processes once converged.
//!
//! ```text
//! cargo bench --bench converge -- [--nodes 8,16,32,64] [--runs 3]
//!     [--interval 1000] [--mode both|proc|inproc] [--formations star,chain,random,minsert]
//! ```
//!
//! A node process is this program run as `--child <id>`: it listens on a
//! free port, prints `PORT <port>`, then obeys `meet <id> <port>` and
//! `minsert <id>:<port>,…` lines on stdin and prints `RING <ids>` whenever
//! its membership changes, until `quit` or the end of stdin.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use notp::cluster::{ClusterNode, ClusterOptions, GossipEvent};
use notp::gossip::GossipOptions;
use notp::Node;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Give up on a run after this many intervals.
const PATIENCE: u32 = 30;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Formation {
    Star,
    Chain,
    Random,
    Minsert,
}

impl Formation {
    fn parse(s: &str) -> Option<Formation> {
        Some(match s {
            "star" => Formation::Star,
            "chain" => Formation::Chain,
            "random" => Formation::Random,
            "minsert" => Formation::Minsert,
            _ => return None,
        })
    }

    /// The meets (`(i, j)`: node i meets node j) or, for minsert, `None`.
    fn meets(self, n: usize, seed: u64) -> Option<Vec<(usize, usize)>> {
        let mut x = seed | 1;
        let mut below = |m: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % m as u64) as usize
        };
        Some(match self {
            Formation::Star => (1..n).map(|j| (0, j)).collect(),
            Formation::Chain => (0..n - 1).map(|i| (i, i + 1)).collect(),
            Formation::Random => (1..n)
                .map(|i| {
                    let j = below(i);
                    if below(2) == 0 {
                        (i, j)
                    } else {
                        (j, i)
                    }
                })
                .collect(),
            Formation::Minsert => return None,
        })
    }
}

struct Config {
    nodes: Vec<usize>,
    runs: u32,
    interval: u64,
    proc: bool,
    inproc: bool,
    formations: Vec<Formation>,
}

fn config() -> Result<Config, Error> {
    let mut c = Config {
        nodes: vec![8, 16, 32, 64],
        runs: 3,
        interval: 1000,
        proc: true,
        inproc: true,
        formations: vec![
            Formation::Star,
            Formation::Chain,
            Formation::Random,
            Formation::Minsert,
        ],
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--nodes" => {
                c.nodes = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--runs" => c.runs = value()?.parse()?,
            "--interval" => c.interval = value()?.parse()?,
            "--mode" => {
                let m = value()?;
                c.proc = m != "inproc";
                c.inproc = m != "proc";
            }
            "--formations" => {
                c.formations = value()?
                    .split(',')
                    .map(|f| Formation::parse(f).ok_or(format!("unknown formation {f}")))
                    .collect::<Result<_, _>>()?
            }
            _ => {} // cargo bench passes --bench
        }
    }
    Ok(c)
}

fn options(interval: u64) -> ClusterOptions {
    ClusterOptions {
        gossip: GossipOptions {
            interval,
            ..GossipOptions::default()
        },
        ..ClusterOptions::default()
    }
}

fn sorted_ids(ring: &notp::CHash) -> String {
    let mut ids: Vec<&str> = ring.nodes().iter().map(|n| n.id()).collect();
    ids.sort_unstable();
    ids.join(",")
}

// ---- a node process ----------------------------------------------------------

async fn child(id: String, interval: u64) -> Result<(), Error> {
    let node = ClusterNode::start(
        Node::new(&id, "127.0.0.1", 0),
        "cookie",
        "ring",
        options(interval),
    )
    .await?;
    let mut out = tokio::io::stdout();
    out.write_all(format!("PORT {}\n", node.kernel().node().port()).as_bytes())
        .await?;
    out.flush().await?;
    let events = node.gossip().subscribe();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Some(line) = line? else { break };
                let words: Vec<&str> = line.split_whitespace().collect();
                match words.as_slice() {
                    ["meet", peer, port] => {
                        node.gossip().meet(&Node::new(*peer, "127.0.0.1", port.parse()?))?;
                    }
                    ["minsert", list] => {
                        let mut nodes = vec![];
                        for p in list.split(',') {
                            let (peer, port) = p.split_once(':').ok_or("bad minsert")?;
                            nodes.push(Node::new(peer, "127.0.0.1", port.parse()?));
                        }
                        node.gossip().minsert(&nodes, None)?;
                    }
                    ["quit"] => break,
                    _ => {}
                }
            }
            event = events.recv() => match event {
                Some(GossipEvent::Process { new, .. }) => {
                    out.write_all(format!("RING {}\n", sorted_ids(&new)).as_bytes()).await?;
                    out.flush().await?;
                }
                Some(_) => {}
                None => break,
            },
        }
    }
    node.kernel().stop();
    Ok(())
}

// ---- one run ------------------------------------------------------------------

/// A run's outcome: intervals to converge (`None`: gave up) and the node
/// processes' RSS in KiB (empty in process).
struct Outcome {
    intervals: Option<f64>,
    rss_kib: Vec<u64>,
}

/// Waits until `n` reports, as `(node index, sorted ids)`, agree on all `n`
/// nodes; the time that took from `t0`.
async fn wait_converged(
    rx: &mut mpsc::UnboundedReceiver<(usize, String)>,
    n: usize,
    t0: Instant,
    patience: Duration,
) -> Option<Duration> {
    let mut rings: HashMap<usize, String> = HashMap::new();
    let deadline = tokio::time::Instant::from_std(t0 + patience);
    loop {
        let first = rings.get(&0);
        if rings.len() == n
            && first.is_some_and(|f| f.split(',').count() == n)
            && rings.values().all(|r| Some(r) == first)
        {
            return Some(t0.elapsed());
        }
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((i, ids))) => {
                rings.insert(i, ids);
            }
            _ => return None,
        }
    }
}

async fn run_inproc(n: usize, how: Formation, seed: u64, interval: u64) -> Result<Outcome, Error> {
    let mut nodes = vec![];
    for i in 0..n {
        nodes.push(
            ClusterNode::start(
                Node::new(format!("n{i}"), "127.0.0.1", 0),
                "cookie",
                "ring",
                options(interval),
            )
            .await?,
        );
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    for (i, x) in nodes.iter().enumerate() {
        let events = x.gossip().subscribe();
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                if let GossipEvent::Process { new, .. } = e {
                    if tx.send((i, sorted_ids(&new))).is_err() {
                        break;
                    }
                }
            }
        });
    }
    let node = |i: usize| nodes[i].kernel().node().clone();
    let t0 = Instant::now();
    match how.meets(n, seed) {
        Some(meets) => {
            for (i, j) in meets {
                nodes[i].gossip().meet(&node(j))?;
            }
        }
        None => {
            let all: Vec<Node> = (1..n).map(node).collect();
            nodes[0].gossip().minsert(&all, None)?;
        }
    }
    let took = wait_converged(
        &mut rx,
        n,
        t0,
        Duration::from_millis(interval * u64::from(PATIENCE)),
    )
    .await;
    for x in &nodes {
        x.kernel().stop();
    }
    Ok(Outcome {
        intervals: took.map(|d| d.as_secs_f64() * 1000.0 / interval as f64),
        rss_kib: vec![],
    })
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn run_proc(n: usize, how: Formation, seed: u64, interval: u64) -> Result<Outcome, Error> {
    let exe = std::env::current_exe()?;
    let mut children: Vec<Child> = vec![];
    let mut stdins = vec![];
    let mut ports = vec![];
    let (tx, mut rx) = mpsc::unbounded_channel();
    for i in 0..n {
        let mut c = Command::new(&exe)
            .args(["--child", &format!("n{i}"), &interval.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = c.stdin.take().ok_or("no stdin")?;
        let mut lines = BufReader::new(c.stdout.take().ok_or("no stdout")?).lines();
        let first = lines.next_line().await?.ok_or("a node process ended")?;
        let port: u16 = first.strip_prefix("PORT ").ok_or("no port")?.parse()?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(ids) = line.strip_prefix("RING ") {
                    if tx.send((i, ids.to_owned())).is_err() {
                        break;
                    }
                }
            }
        });
        children.push(c);
        stdins.push(stdin);
        ports.push(port);
    }
    let t0 = Instant::now();
    match how.meets(n, seed) {
        Some(meets) => {
            for (i, j) in meets {
                let line = format!("meet n{j} {}\n", ports[j]);
                stdins[i].write_all(line.as_bytes()).await?;
            }
        }
        None => {
            let list: Vec<String> = (1..n).map(|j| format!("n{j}:{}", ports[j])).collect();
            let line = format!("minsert {}\n", list.join(","));
            stdins[0].write_all(line.as_bytes()).await?;
        }
    }
    let took = wait_converged(
        &mut rx,
        n,
        t0,
        Duration::from_millis(interval * u64::from(PATIENCE)),
    )
    .await;
    let rss: Vec<u64> = children
        .iter()
        .filter_map(|c| c.id().and_then(rss_kib))
        .collect();
    for s in &mut stdins {
        let _ = s.write_all(b"quit\n").await;
    }
    drop(stdins);
    for c in &mut children {
        if tokio::time::timeout(Duration::from_secs(5), c.wait())
            .await
            .is_err()
        {
            let _ = c.kill().await;
        }
    }
    Ok(Outcome {
        intervals: took.map(|d| d.as_secs_f64() * 1000.0 / interval as f64),
        rss_kib: rss,
    })
}

fn rounds(n: usize) -> u32 {
    usize::BITS - (n - 1).leading_zeros()
}

async fn bench(c: Config) -> Result<(), Error> {
    println!(
        "convergence at a {} ms interval, {} runs per case; intervals from the formation to every ring holding every node",
        c.interval, c.runs
    );
    let mut modes = vec![];
    if c.inproc {
        modes.push("in-process");
    }
    if c.proc {
        modes.push("processes");
    }
    for mode in modes {
        for &n in &c.nodes {
            for &how in &c.formations {
                let mut took = vec![];
                let mut rss = vec![];
                for run in 0..c.runs {
                    let seed = 0x9e37_79b9_7f4a_7c15 ^ (u64::from(run) << 8) ^ n as u64;
                    let o = if mode == "processes" {
                        run_proc(n, how, seed, c.interval).await?
                    } else {
                        run_inproc(n, how, seed, c.interval).await?
                    };
                    took.push(o.intervals);
                    rss.extend(o.rss_kib);
                }
                let done: Vec<f64> = took.iter().flatten().copied().collect();
                let mut sorted = done.clone();
                sorted.sort_by(f64::total_cmp);
                let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
                let worst = sorted.last().copied().unwrap_or(f64::NAN);
                rss.sort_unstable();
                let rss_note = match (rss.get(rss.len() / 2), rss.last()) {
                    (Some(m), Some(x)) => {
                        format!(
                            "  RSS/node median {:.1} MB, max {:.1} MB",
                            *m as f64 / 1024.0,
                            *x as f64 / 1024.0
                        )
                    }
                    _ => String::new(),
                };
                println!(
                    "{mode:>10} N={n:<3} {:<8} converged {}/{}  median {median:.2}  worst {worst:.2} intervals  (target <= rounds+3 = {}){rss_note}",
                    format!("{how:?}").to_lowercase(),
                    done.len(),
                    took.len(),
                    rounds(n) + 3,
                );
            }
        }
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let id = args.get(i + 1).ok_or("--child needs an id")?.clone();
        let interval = args.get(i + 2).and_then(|s| s.parse().ok()).unwrap_or(1000);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        return rt.block_on(child(id, interval));
    }
    let c = config()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(bench(c))
}
