//! Is each broker up? A broker is `up` when its process runs and the cluster
//! metadata lists it, `starting` when only the process runs, `down` otherwise.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use kcore::state::ClusterState;
use kcore::QuietContext;
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

pub struct BrokerStatus {
    pub id: u32,
    pub address: String,
    pub state: &'static str,
    pub pid: Option<i32>,
}

impl BrokerStatus {
    pub fn to_json(&self, cluster: &str) -> serde_json::Value {
        json!({"cluster": cluster, "id": self.id, "address": self.address, "state": self.state, "pid": self.pid})
    }
}

/// The status of every broker (`kind` is the node directory prefix).
pub fn broker_statuses(state: &ClusterState, kind: &str) -> Vec<BrokerStatus> {
    let pids: Vec<Option<i32>> = state.nodes.iter().map(|n| state.running_pid(kind, n.id)).collect();
    let listed = if pids.iter().any(Option::is_some) {
        MetadataProbe::new(&state.bootstrap())
            .map(|probe| probe.broker_ids(Duration::from_secs(5)))
            .unwrap_or_default()
    } else {
        HashSet::new()
    };
    state
        .nodes
        .iter()
        .zip(pids)
        .map(|(node, pid)| BrokerStatus {
            id: node.id,
            address: node.address(),
            state: match (pid, listed.contains(&node.id)) {
                (None, _) => "down",
                (Some(_), true) => "up",
                (Some(_), false) => "starting",
            },
            pid,
        })
        .collect()
}

/// A spinner on stderr while waiting, only when stderr is a terminal.
pub struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
}

impl Progress {
    pub fn new(total: usize) -> Self {
        let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let progress = Progress { bar, total };
        progress.update(0);
        progress
    }

    pub fn update(&self, ready: usize) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("waiting for brokers: {ready}/{} ready", self.total));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
