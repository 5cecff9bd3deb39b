//! Where kcluster keeps its clusters, so that kcluster writes and every other
//! tool can find a running cluster without flags; and the [`Role`] of a node in it.
//!
//! Layout (outside any repository):
//! `$KPIPES_STATE_DIR` or `$XDG_STATE_HOME/kpipes` or `~/.local/state/kpipes`
//! └── clusters/NAME/cluster.json, node-ID/{server.properties,data,logs,pid}

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Whether `name` is safe as a file or directory name (cluster and profile names):
/// letters, digits, '-', '_' and '.', not hidden, at most 64 characters.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// The state root for every cluster.
pub fn state_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("KPIPES_STATE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("kpipes");
    }
    home_dir().join(".local/state/kpipes")
}

/// The cache root (downloaded Kafka distributions).
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("KPIPES_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("kpipes");
    }
    home_dir().join(".cache/kpipes")
}

fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

pub fn clusters_dir() -> PathBuf {
    state_root().join("clusters")
}

pub fn cluster_dir(name: &str) -> PathBuf {
    clusters_dir().join(name)
}

/// Where a cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// JVM processes on this machine.
    Local,
    /// Docker containers, through docker compose.
    Compose,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Local => "local",
            BackendKind::Compose => "compose",
        }
    }
}

/// How a cluster keeps its metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Kafka 4: the brokers are their own controllers (Raft), no ZooKeeper
    Kraft,
    /// The seed tutorial's topology: a 3-node ZooKeeper ensemble and Kafka 3.9 brokers
    Zookeeper,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Kraft => "kraft",
            Mode::Zookeeper => "zookeeper",
        }
    }
}

/// What `cluster.json` records about a cluster: enough to restart any node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterState {
    pub name: String,
    pub backend: BackendKind,
    pub mode: Mode,
    /// The Apache Kafka version the brokers run; None where the images are Confluent
    /// Platform's (compose backend, ZooKeeper mode: see `cp_version`).
    #[serde(default)]
    pub kafka_version: Option<String>,
    /// The Confluent Platform image version (compose backend, ZooKeeper mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cp_version: Option<String>,
    /// The Kafka distribution directory, holding `libs/` (local backend; empty otherwise).
    pub distribution: PathBuf,
    /// The KRaft cluster id (empty in ZooKeeper mode: the brokers get theirs from ZooKeeper).
    pub cluster_id: String,
    /// The Kafka brokers (in KRaft mode each is also a controller).
    #[serde(alias = "nodes")]
    pub brokers: Vec<NodeState>,
    /// ZooKeeper ensemble members (zookeeper mode only).
    #[serde(default)]
    pub zookeepers: Vec<NodeState>,
    /// JVM heap of each node (local backend); `None` for clusters from before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap: Option<String>,
    /// `kcluster up --secure`: the client listeners speak SASL_SSL (SCRAM-SHA-512) with
    /// the cluster's own CA, and ACLs deny by default. The clients' settings are in
    /// [`ClusterState::user_properties`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secure: bool,
    /// `kcluster up --schema-registry`: an Apicurio Registry runs beside the brokers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_registry: Option<RegistryState>,
    /// `kcluster up --advertise ID=HOST:PORT`: what a broker advertises to clients instead
    /// of its own address (a misconfigured advertised.listeners, on purpose).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub advertised: std::collections::BTreeMap<u32, String>,
    /// `kcluster up --oauth JWKS_URL`: the client listeners take OAUTHBEARER tokens checked
    /// against this JWKS (and PLAIN for the `admin` user kcluster itself logs in as).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_jwks: Option<String>,
}

/// Where a cluster's schema registry listens (local backend).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistryState {
    pub host: String,
    /// Its HTTP API (the Confluent-compatible one is under [`REGISTRY_API_PATH`]).
    pub port: u16,
    /// Its management port (health), bound on loopback so that it never takes 9000.
    pub management_port: u16,
}

/// Where Apicurio Registry serves the Confluent-compatible API.
pub const REGISTRY_API_PATH: &str = "/apis/ccompat/v7";

impl RegistryState {
    pub fn url(&self) -> String {
        format!("http://{}:{}{REGISTRY_API_PATH}", self.host, self.port)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeState {
    pub id: u32,
    pub host: String,
    /// The client port (Kafka listener, or ZooKeeper client port).
    pub port: u16,
    /// Controller port (KRaft) or quorum ports (ZooKeeper), when there is one.
    #[serde(default)]
    pub peer_ports: Vec<u16>,
}

impl NodeState {
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl ClusterState {
    pub fn dir(&self) -> PathBuf {
        cluster_dir(&self.name)
    }

    pub fn file(name: &str) -> PathBuf {
        cluster_dir(name).join("cluster.json")
    }

    pub fn load(name: &str) -> Option<ClusterState> {
        let text = std::fs::read_to_string(Self::file(name)).ok()?;
        Self::from_json(&text)
    }

    /// A state from the text of a `cluster.json`, of this version or an older one.
    pub fn from_json(text: &str) -> Option<ClusterState> {
        let mut state: ClusterState = serde_json::from_str(text).ok()?;
        // Older kcluster versions kept a compose cluster's image version as "cp-7.9.1" in
        // kafka_version (and the brokers as "nodes", which serde's alias reads).
        if let Some(cp) = state
            .kafka_version
            .as_deref()
            .and_then(|v| v.strip_prefix("cp-"))
        {
            state.cp_version = Some(cp.to_string());
            state.kafka_version = None;
        }
        Some(state)
    }

    /// Write `cluster.json` (whose presence means the cluster is complete).
    pub fn save(&self) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(Self::file(&self.name), text + "\n")
    }

    pub fn bootstrap(&self) -> String {
        self.brokers
            .iter()
            .map(NodeState::address)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn node_dir(&self, kind: &str, id: u32) -> PathBuf {
        self.dir().join(format!("{kind}-{id}"))
    }

    /// The pid of a node's process if it is running (and really is that node).
    pub fn running_pid(&self, kind: &str, id: u32) -> Option<i32> {
        running_pid_in(&self.node_dir(kind, id))
    }

    /// A secure cluster's client properties for `user` (`admin` or `reader`): librdkafka
    /// `key=value` lines (SASL_SSL, SCRAM-SHA-512, the user's password, the CA file).
    pub fn user_properties(&self, user: &str) -> PathBuf {
        self.dir().join(format!("{user}.properties"))
    }

    /// The properties every kpipes client needs to reach this cluster: none for an open
    /// cluster, the `admin` user's for a secure one.
    pub fn client_properties(&self) -> Option<PathBuf> {
        (self.secure || self.oauth_jwks.is_some()).then(|| self.user_properties("admin"))
    }

    /// The URL of the cluster's schema registry, while it runs.
    pub fn schema_registry_url(&self) -> Option<String> {
        let registry = self.schema_registry.as_ref()?;
        running_pid_in(&self.dir().join("schema-registry")).map(|_| registry.url())
    }

    /// The address broker `node` gives clients: its own, unless `--advertise` said otherwise.
    pub fn advertised_address(&self, node: &NodeState) -> String {
        self.advertised
            .get(&node.id)
            .cloned()
            .unwrap_or_else(|| node.address())
    }

    /// True when any broker process of this cluster runs.
    pub fn any_running(&self) -> bool {
        self.brokers
            .iter()
            .any(|node| self.running_pid("kafka", node.id).is_some())
    }
}

/// The JVM property that marks a process as the one living in `node_dir`,
/// so a pid reused by another program after a reboot is never mistaken for it.
pub fn process_marker(node_dir: &Path) -> String {
    format!("-Dkpipes.node={}", node_dir.display())
}

/// The pid recorded in `node_dir/pid`, if that process is alive and carries the marker.
pub fn running_pid_in(node_dir: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(node_dir.join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    pid_is_node(pid, node_dir).then_some(pid)
}

/// True when `pid` is alive (not a zombie) and its command line carries the node's marker.
pub fn pid_is_node(pid: i32, node_dir: &Path) -> bool {
    if pid <= 0 || process_ended(pid) {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let marker = process_marker(node_dir);
    cmdline
        .split(|b| *b == 0)
        .any(|arg| arg == marker.as_bytes())
}

/// True once process `pid` holds nothing any more: gone, or a zombie whose every thread
/// has exited.
///
/// A zombie nobody reaps is gone for good, but the leader thread of a JVM shows `Z` as
/// soon as it has exited itself, while its other threads still hold the process's files
/// (a broker's listening socket among them), and an exiting process's command line reads
/// empty before that too. The files close with the last thread: then its ports are free.
pub fn process_ended(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // Field 3, after the parenthesised command name, is the state.
    let zombie = stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']));
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |dir| dir.count());
    zombie && threads <= 1
}

/// Names of every cluster with a state directory.
pub fn cluster_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(clusters_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().join("cluster.json").is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// The environment variable that names the cluster every tool talks to.
pub const CLUSTER_VAR: &str = "KPIPES_CLUSTER";

/// The cluster named `name` (by `how`: `KPIPES_CLUSTER`, `--name`, a profile), which must
/// exist: a misspelt name is an error (exit 6) naming it and the clusters there are,
/// never a way to reach another cluster.
pub fn named_cluster(name: &str, how: &str) -> Result<ClusterState, crate::Failure> {
    ClusterState::load(name).ok_or_else(|| no_such_cluster(name, how))
}

/// The error for a cluster name that names no cluster (exit 6).
pub fn no_such_cluster(name: &str, how: &str) -> crate::Failure {
    let known = cluster_names();
    let there = if known.is_empty() {
        format!("there are none (`kcluster up --name {name}` starts one)")
    } else {
        format!("the clusters are: {}", known.join(", "))
    };
    crate::Failure::not_found(format!("no cluster named '{name}' (from {how}); {there}"))
}

/// The cluster `KPIPES_CLUSTER` names, if it is set; an error if it names none.
pub fn cluster_from_env() -> Result<Option<ClusterState>, crate::Failure> {
    match std::env::var(CLUSTER_VAR) {
        Ok(name) if !name.is_empty() => named_cluster(&name, CLUSTER_VAR).map(Some),
        _ => Ok(None),
    }
}

/// The cluster kcluster runs: the one named by `KPIPES_CLUSTER` (which must exist), else
/// `default` if it runs, else the only running one. Its brokers, and for a secure one the
/// properties its clients need ([`ClusterState::client_properties`]).
pub fn running_cluster() -> Result<Option<ClusterState>, crate::Failure> {
    if let Some(named) = cluster_from_env()? {
        return Ok(Some(named));
    }
    let running: Vec<ClusterState> = cluster_names()
        .iter()
        .filter_map(|name| ClusterState::load(name))
        // A compose cluster's brokers are containers, with no pids here: its state file
        // exists only while it is up (or kept), so it counts.
        .filter(|state| state.backend == BackendKind::Compose || state.any_running())
        .collect();
    if let Some(default) = running.iter().find(|state| state.name == "default") {
        return Ok(Some(default.clone()));
    }
    match running.as_slice() {
        [only] => Ok(Some(only.clone())),
        _ => Ok(None),
    }
}

/// The role of a node: what its JSON line says and what its node directory
/// (`kafka-N/`, `zookeeper-N/`) and compose service (`kafka-N`, `zookeeper-N`) are called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

    /// What its node directory and its compose service are named after: `kafka-N`,
    /// `zookeeper-N` (the seed's service names).
    pub fn prefix(self) -> &'static str {
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
        format!("{}-{id}", self.prefix())
    }

    /// The nodes of this role in a cluster.
    pub fn nodes(self, state: &ClusterState) -> &[NodeState] {
        match self {
            Role::Broker => &state.brokers,
            Role::Zookeeper => &state.zookeepers,
        }
    }

    /// The node with this role and id, if the cluster has one.
    pub fn node(self, state: &ClusterState, id: u32) -> Option<&NodeState> {
        self.nodes(state).iter().find(|n| n.id == id)
    }

    /// The node's directory in the cluster's state directory (local backend).
    pub fn node_dir(self, state: &ClusterState, id: u32) -> std::path::PathBuf {
        state.node_dir(self.prefix(), id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_state_files_still_read() {
        let old = r#"{"name":"default","backend":"compose","mode":"zookeeper","kafka_version":"cp-7.9.1",
            "distribution":"","cluster_id":"","nodes":[{"id":1,"host":"localhost","port":29092}],
            "zookeepers":[]}"#;
        let state = ClusterState::from_json(old).unwrap();
        assert_eq!(
            (state.backend, state.mode),
            (BackendKind::Compose, Mode::Zookeeper)
        );
        assert_eq!(state.kafka_version, None);
        assert_eq!(state.cp_version.as_deref(), Some("7.9.1"));
        assert_eq!(state.brokers[0].port, 29092);
        let written = serde_json::to_value(&state).unwrap();
        assert_eq!(written["backend"], "compose");
        assert!(written.get("brokers").is_some() && written.get("nodes").is_none());
    }
}
