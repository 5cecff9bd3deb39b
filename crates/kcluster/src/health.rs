//! Is each node up? One answer for every backend and mode.
//!
//! A broker is `up` when its process (or container) runs and the cluster metadata
//! lists it, `starting` when only the process runs, `down` otherwise. A ZooKeeper
//! node is `up` when it serves as leader or follower of the ensemble (its `srvr`
//! four-letter command says so), `starting` while it runs but has not joined a quorum.
//! The backends only say which processes run; the waiting and the JSON lines are here.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use kcore::state::{ClusterState, NodeState};
use kcore::{Failure, QuietContext};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use serde_json::json;

/// A metadata client that reconnects quickly, for polling a cluster that is starting.
pub struct MetadataProbe {
    client: BaseConsumer<QuietContext>,
}

impl MetadataProbe {
    pub fn new(bootstrap: &str) -> Result<Self> {
        let client = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("reconnect.backoff.ms", "100")
            .set("reconnect.backoff.max.ms", "500")
            .set("socket.connection.setup.timeout.ms", "2000")
            .create_with_context(QuietContext::new("kcluster", 0))?;
        Ok(MetadataProbe { client })
    }

    /// Ids of the brokers in the cluster metadata (empty when nobody answers in time).
    pub fn broker_ids(&self, timeout: Duration) -> HashSet<u32> {
        self.client
            .fetch_metadata(None, timeout)
            .map(|md| md.brokers().iter().map(|b| b.id() as u32).collect())
            .unwrap_or_default()
    }
}

/// The role of a node: what its JSON line says and what its node directory
/// (`kafka-N/`, `zookeeper-N/`) and compose service (`kafka-N`, `zookeeper-N`) are called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Broker,
    Zookeeper,
}

impl Role {
    /// The role a node command (`stop`, `kill`, `start`, `logs`) acts on: given `--zookeeper`
    /// or a broker.
    pub fn of_flag(zookeeper: bool) -> Role {
        if zookeeper {
            Role::Zookeeper
        } else {
            Role::Broker
        }
    }

    /// The JSON `role`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Broker => "broker",
            Role::Zookeeper => "zookeeper",
        }
    }

    /// The node directory prefix and compose service prefix.
    pub fn kind(self) -> &'static str {
        match self {
            Role::Broker => "kafka",
            Role::Zookeeper => "zookeeper",
        }
    }

    /// What people call it in messages.
    pub fn label(self) -> &'static str {
        match self {
            Role::Broker => "broker",
            Role::Zookeeper => "ZooKeeper node",
        }
    }

    pub fn service(self, id: u32) -> String {
        format!("{}-{id}", self.kind())
    }

    /// The nodes of this role in a cluster.
    pub fn nodes(self, state: &ClusterState) -> &[NodeState] {
        match self {
            Role::Broker => &state.nodes,
            Role::Zookeeper => &state.zookeepers,
        }
    }
}

/// What a backend knows about one node's process: whether it runs, and how to name it.
#[derive(Debug, Clone, Default)]
pub struct Liveness {
    pub running: bool,
    /// The process id (local backend).
    pub pid: Option<i32>,
    /// The container name (compose backend).
    pub container: Option<String>,
}

pub struct NodeStatus {
    pub role: Role,
    pub id: u32,
    pub address: String,
    pub state: &'static str,
    pub live: Liveness,
    /// `leader` or `follower` for a ZooKeeper node that serves.
    pub quorum: Option<String>,
}

impl NodeStatus {
    pub fn to_json(&self, cluster: &str) -> serde_json::Value {
        let mut line = json!({
            "cluster": cluster,
            "role": self.role.name(),
            "id": self.id,
            "address": self.address,
            "state": self.state,
            "pid": self.live.pid,
        });
        if let Some(container) = &self.live.container {
            line["container"] = json!(container);
        }
        if self.role == Role::Zookeeper {
            line["quorum"] = json!(self.quorum);
        }
        line
    }
}

/// The status of every node, ZooKeeper nodes first; `live` tells whether a node's process runs.
pub fn statuses(state: &ClusterState, live: &dyn Fn(Role, u32) -> Liveness) -> Vec<NodeStatus> {
    let mut out = Vec::new();
    for node in &state.zookeepers {
        let live = live(Role::Zookeeper, node.id);
        let quorum = if live.running {
            zookeeper_mode(&node.address(), Duration::from_secs(2))
        } else {
            None
        };
        let serving = quorum
            .as_deref()
            .is_some_and(|m| m == "leader" || m == "follower");
        out.push(NodeStatus {
            role: Role::Zookeeper,
            id: node.id,
            address: node.address(),
            state: match (live.running, serving) {
                (false, _) => "down",
                (true, true) => "up",
                (true, false) => "starting",
            },
            live,
            quorum,
        });
    }
    let lives: Vec<Liveness> = state
        .nodes
        .iter()
        .map(|n| live(Role::Broker, n.id))
        .collect();
    let listed = if lives.iter().any(|l| l.running) {
        MetadataProbe::new(&state.bootstrap())
            .map(|probe| probe.broker_ids(Duration::from_secs(5)))
            .unwrap_or_default()
    } else {
        HashSet::new()
    };
    for (node, live) in state.nodes.iter().zip(lives) {
        out.push(NodeStatus {
            role: Role::Broker,
            id: node.id,
            address: node.address(),
            state: match (live.running, listed.contains(&node.id)) {
                (false, _) => "down",
                (true, true) => "up",
                (true, false) => "starting",
            },
            live,
            quorum: None,
        });
    }
    out
}

/// One JSON line per node on stdout.
pub fn print(state: &ClusterState, statuses: &[NodeStatus]) -> Result<()> {
    let mut out = kcore::JsonLines::stdout();
    for status in statuses {
        out.emit(&status.to_json(&state.name))?;
    }
    out.flush()
}

/// `kcluster status`: print, then exit 7 unless every node is up.
pub fn report(state: &ClusterState, statuses: &[NodeStatus]) -> Result<()> {
    print(state, statuses)?;
    let not_up: Vec<String> = statuses
        .iter()
        .filter(|s| s.state != "up")
        .map(|s| format!("{} {} is {}", s.role.label(), s.id, s.state))
        .collect();
    if not_up.is_empty() {
        Ok(())
    } else {
        Err(Failure::unhealthy(format!("cluster '{}': {}", state.name, not_up.join(", "))).into())
    }
}

/// The `Mode:` a ZooKeeper server reports to `srvr` (`leader`, `follower`, `standalone`),
/// or None when it does not answer or does not serve yet.
pub fn zookeeper_mode(address: &str, timeout: Duration) -> Option<String> {
    let addrs: Vec<_> = address.to_socket_addrs().ok()?.collect();
    for addr in addrs {
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else {
            continue;
        };
        let _ = stream.set_read_timeout(Some(timeout));
        let _ = stream.set_write_timeout(Some(timeout));
        if stream.write_all(b"srvr").is_err() {
            continue;
        }
        let mut text = String::new();
        let _ = stream.take(64 * 1024).read_to_string(&mut text);
        return text
            .lines()
            .find_map(|line| line.strip_prefix("Mode: "))
            .map(|m| m.trim().to_string());
    }
    None
}

/// How long a command may wait in all (`--timeout`), counted from its start.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub started: Instant,
    pub timeout: Duration,
}

impl Budget {
    pub fn new(timeout_secs: f64) -> Budget {
        Budget {
            started: Instant::now(),
            timeout: Duration::from_secs_f64(timeout_secs.max(0.0)),
        }
    }

    pub fn expired(&self) -> bool {
        self.started.elapsed() >= self.timeout
    }
}

/// What the readiness waits ask of a backend while they poll.
pub trait Watch {
    /// Fail early (exit 7) when a node that is being waited for has exited.
    fn check(&mut self, role: Role) -> Result<()>;
    /// The end of a node's log, for the error message when it does not get ready.
    fn log_tail(&self, role: Role, id: u32) -> String;
}

/// Wait until every ZooKeeper node in `ids` serves as leader or follower.
pub fn wait_zookeepers(
    state: &ClusterState,
    ids: &[u32],
    budget: Budget,
    watch: &mut dyn Watch,
) -> Result<()> {
    let progress = Progress::new(ids.len(), "ZooKeeper nodes");
    loop {
        if let Err(err) = watch.check(Role::Zookeeper) {
            progress.finish();
            return Err(err);
        }
        let missing: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|id| {
                let node = state.zookeepers.iter().find(|n| n.id == *id);
                let mode =
                    node.and_then(|n| zookeeper_mode(&n.address(), Duration::from_millis(500)));
                !matches!(mode.as_deref(), Some("leader") | Some("follower"))
            })
            .collect();
        progress.update(ids.len() - missing.len());
        if missing.is_empty() {
            progress.finish();
            return Ok(());
        }
        if budget.expired() {
            progress.finish();
            return Err(Failure::unhealthy(format!(
                "ZooKeeper node(s) {missing:?} not serving within {:.0}s (raise --timeout?); node {}'s log ends with:\n{}",
                budget.timeout.as_secs_f64(),
                missing[0],
                watch.log_tail(Role::Zookeeper, missing[0])
            ))
            .into());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Wait until every broker id in `ids` is in the cluster metadata.
///
/// In ZooKeeper mode each broker learns of a new one from the controller a moment after it
/// registers, and the metadata comes from whichever broker answers: there the answer must
/// hold for a second before it counts, so that `status` right after agrees.
pub fn wait_brokers(
    state: &ClusterState,
    ids: &[u32],
    budget: Budget,
    watch: &mut dyn Watch,
) -> Result<()> {
    let settle = if state.mode == "zookeeper" {
        Duration::from_millis(1000)
    } else {
        Duration::ZERO
    };
    let progress = Progress::new(ids.len(), "brokers");
    let probe = MetadataProbe::new(&state.bootstrap())?;
    let mut ready_since: Option<Instant> = None;
    loop {
        if let Err(err) = watch.check(Role::Broker) {
            progress.finish();
            return Err(err);
        }
        let present = probe.broker_ids(Duration::from_millis(1000));
        let ready = ids.iter().filter(|id| present.contains(id)).count();
        progress.update(ready);
        if ready == ids.len() {
            let since = *ready_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= settle {
                progress.finish();
                return Ok(());
            }
        } else {
            ready_since = None;
        }
        if budget.expired() {
            progress.finish();
            let missing: Vec<u32> = ids
                .iter()
                .copied()
                .filter(|id| !present.contains(id))
                .collect();
            let first = missing.first().copied().unwrap_or(ids[0]);
            return Err(Failure::unhealthy(format!(
                "broker(s) {missing:?} not ready within {:.0}s (raise --timeout?); broker {first}'s log ends with:\n{}",
                budget.timeout.as_secs_f64(),
                watch.log_tail(Role::Broker, first)
            ))
            .into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// ZooKeeper mode: a broker that died without a clean shutdown stays registered (and in the
/// metadata) until its ZooKeeper session expires, and a broker started before that fails to
/// register. Wait, at most `within`, until broker `id` is gone from the metadata.
pub fn wait_deregistered(state: &ClusterState, id: u32, within: Duration) {
    let deadline = Instant::now() + within;
    let Ok(probe) = MetadataProbe::new(&state.bootstrap()) else {
        return;
    };
    let mut said = false;
    while probe.broker_ids(Duration::from_millis(1500)).contains(&id) && Instant::now() < deadline {
        if !said {
            eprintln!("kcluster: broker {id} is still registered in ZooKeeper; waiting for its old session to expire");
            said = true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A spinner on stderr while waiting, only when stderr is a terminal.
pub struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    what: &'static str,
}

impl Progress {
    pub fn new(total: usize, what: &'static str) -> Self {
        let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .expect("valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let progress = Progress { bar, total, what };
        progress.update(0);
        progress
    }

    pub fn update(&self, ready: usize) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "waiting for {}: {ready}/{} ready",
                self.what, self.total
            ));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
