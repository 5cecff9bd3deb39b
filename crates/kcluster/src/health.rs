//! Is each node up? One answer for every backend and mode.
//!
//! A broker is `up` when its process (or container) runs and it serves: its own
//! listener answers as that broker and counts itself live ([`served_by`]); `starting`
//! when only the process runs, `down` otherwise. The cluster's metadata alone would not
//! do: other brokers keep listing a killed broker until its session times out. A ZooKeeper
//! node is `up` when it serves as leader or follower of the ensemble (its `srvr`
//! four-letter command says so), `starting` while it runs but has not joined a quorum.
//! The backends only say which processes run; the JSON lines are here, the waits in
//! [`crate::wait`].

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::Result;
use kcore::state::{ClusterState, NodeState};
use kcore::{Connection, Failure, QuietContext};
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::json;

use kcore::state::Role;

/// A metadata client for polling a cluster that is starting, made like every kpipes
/// client (so it never holds a stopped broker's port, see `kcore::self_connection`); as
/// `admin` for a secure cluster.
fn metadata_client(
    state: &ClusterState,
    bootstrap: &str,
    timeout: Duration,
) -> Result<BaseConsumer<QuietContext>> {
    let connection = Connection {
        brokers: bootstrap.to_string(),
        brokers_source: "the cluster's state",
        properties: crate::security::client_properties(state),
        timeout,
        verbose: 0,
        profile: None,
    };
    connection.create(
        &[
            ("reconnect.backoff.ms", "100"),
            ("reconnect.backoff.max.ms", "500"),
            ("socket.connection.setup.timeout.ms", "2000"),
        ],
        QuietContext::new("kcluster", 0),
    )
}

/// Ids of the brokers in the cluster metadata, as whichever broker answers first sees
/// it (empty when nobody answers in time). A broker that was just killed stays in it
/// until the cluster notices: this says who is registered, not who serves.
pub fn listed_brokers(state: &ClusterState, timeout: Duration) -> HashSet<u32> {
    metadata_client(state, &state.bootstrap(), timeout)
        .ok()
        .and_then(|client| client.fetch_metadata(None, timeout).ok())
        .map(|md| md.brokers().iter().map(|b| b.id() as u32).collect())
        .unwrap_or_default()
}

/// Whether broker `node` serves: the broker ids the cluster counts as live, asked
/// through `node`'s own listener, or None when that listener does not answer within
/// `timeout` or the answer does not count `node` live.
///
/// The client knows nothing but `node`'s address, so any answer at all means that
/// listener answered a metadata request: the client learns of the other brokers only
/// from it (and may then send this request to one of them). A broker answers only
/// once it has registered and caught up with the cluster's metadata, and the cluster
/// counts it live only once it is unfenced (KRaft) or registered (ZooKeeper). A killed
/// broker, still listed by the others until its session times out, does not answer.
pub fn served_by(
    state: &ClusterState,
    node: &NodeState,
    timeout: Duration,
) -> Option<HashSet<u32>> {
    // A new client each time, so that the first contact is always this broker.
    let client = metadata_client(state, &node.address(), timeout).ok()?;
    let metadata = client.fetch_metadata(None, timeout).ok()?;
    let live: HashSet<u32> = metadata.brokers().iter().map(|b| b.id() as u32).collect();
    live.contains(&node.id).then_some(live)
}

/// Whether each broker serves (see [`served_by`]), asked in parallel.
pub(crate) fn brokers_serving(
    state: &ClusterState,
    nodes: &[&NodeState],
    timeout: Duration,
) -> Vec<Option<HashSet<u32>>> {
    std::thread::scope(|scope| {
        let asks: Vec<_> = nodes
            .iter()
            .map(|node| scope.spawn(move || served_by(state, node, timeout)))
            .collect();
        asks.into_iter()
            .map(|ask| ask.join().unwrap_or(None))
            .collect()
    })
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
    /// The faults in force on the node (`pause`, `isolate`...), see [`crate::faults`].
    pub faults: Vec<String>,
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
        if !self.faults.is_empty() {
            line["faults"] = json!(self.faults);
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
            faults: Vec::new(),
        });
    }
    let lives: Vec<Liveness> = state
        .brokers
        .iter()
        .map(|n| live(Role::Broker, n.id))
        .collect();
    let running: Vec<&NodeState> = state
        .brokers
        .iter()
        .zip(&lives)
        .filter(|(_, live)| live.running)
        .map(|(node, _)| node)
        .collect();
    let serving: HashSet<u32> = running
        .iter()
        .zip(brokers_serving(state, &running, Duration::from_secs(3)))
        .filter(|(_, served)| served.is_some())
        .map(|(node, _)| node.id)
        .collect();
    for (node, live) in state.brokers.iter().zip(lives) {
        out.push(NodeStatus {
            role: Role::Broker,
            id: node.id,
            address: node.address(),
            state: match (live.running, serving.contains(&node.id)) {
                (false, _) => "down",
                (true, true) => "up",
                (true, false) => "starting",
            },
            live,
            quorum: None,
            faults: Vec::new(),
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
    if let Some((line, _)) = crate::schema_registry::status_line(state) {
        out.emit(&line)?;
    }
    out.flush()
}

/// `kcluster status`: print, then exit 7 unless every node is up.
pub fn report(state: &ClusterState, statuses: &[NodeStatus]) -> Result<()> {
    let mut out = kcore::JsonLines::stdout();
    for status in statuses {
        out.emit(&status.to_json(&state.name))?;
    }
    let mut not_up: Vec<String> = statuses
        .iter()
        .filter(|s| s.state != "up")
        .map(|s| format!("{} {} is {}", s.role.label(), s.id, s.state))
        .collect();
    if let Some((line, up)) = crate::schema_registry::status_line(state) {
        out.emit(&line)?;
        if !up {
            not_up.push(format!(
                "the schema registry is {}",
                line["state"].as_str().unwrap_or("down")
            ));
        }
    }
    out.flush()?;
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
