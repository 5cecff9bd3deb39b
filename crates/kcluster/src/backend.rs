//! What a backend does: the operations in which running nodes as JVM processes
//! ([`crate::local`]) and as containers ([`crate::compose`]) really differ. The commands
//! themselves (`up`, `start`, `stop`, `kill`, `status`, `logs`, `down`) are written once,
//! in [`crate::commands`], on top of this trait. A third backend (podman, a remote host)
//! is one more file implementing it, and one more arm in `commands::open_backend` and
//! `commands::create_cluster`.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Result;
use kcore::state::{ClusterState, NodeState};

use crate::budget::Budget;
use crate::health::Liveness;
use crate::wait::Watch;
use kcore::state::Role;

pub trait Backend {
    /// The cluster this backend runs.
    fn state(&self) -> &ClusterState;

    /// Whether each node's process (or container) runs now.
    fn liveness(&self) -> HashMap<(Role, u32), Liveness>;

    /// Start these nodes, which are down, for `up` (local: each JVM once its ports are
    /// free; compose: `docker compose up -d`, which starts every node at once).
    fn launch(&mut self, role: Role, nodes: &[NodeState], budget: Budget) -> Result<()>;

    /// Start one stopped node again, for `start`.
    fn restart(&mut self, role: Role, node: &NodeState, budget: Budget) -> Result<()> {
        self.launch(role, std::slice::from_ref(node), budget)
    }

    /// Stop again what this call launched (a failed `up` leaves nothing half-started).
    fn undo_launch(&mut self);

    /// Stop one node: gracefully (SIGTERM, SIGKILL after `grace`) or at once (SIGKILL).
    /// False when it was not running (and nothing was done).
    fn stop_node(
        &self,
        role: Role,
        node: &NodeState,
        graceful: bool,
        grace: Duration,
    ) -> Result<bool>;

    /// Copy the logs of these nodes to stdout, each line prefixed by its node when several.
    fn logs(&self, role: Role, ids: &[u32], follow: bool) -> Result<()>;

    /// Stop every node, and remove the cluster's data unless `keep`. Returns what else
    /// holds kept data, and what went with a removal, for `down`'s message.
    fn teardown(&self, keep: bool) -> Result<(&'static str, &'static str)>;

    /// Words for the summary line of `up` after the mode, e.g. ", compose project kpipes-x".
    fn place(&self) -> String {
        String::new()
    }

    /// Whether `pause`, `isolate`, `slow`, `fill` and `chaos` work here (the local
    /// backend's); else the error to report.
    fn supports_faults(&self) -> Result<()> {
        Err(kcore::Failure::usage(format!(
            "faults are not supported on the {} backend: make the cluster with --backend local",
            self.state().backend.as_str()
        ))
        .into())
    }

    /// The backend as the waits see it (fail early when a node exits; why it failed).
    fn watch(&mut self) -> &mut dyn Watch;
}

/// A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (Kafka's Uuid form).
/// Never one that starts with `-` (one in 64 would): Kafka's own tools would read it as
/// an option, and Kafka's `Uuid.randomUuid()` avoids them for that reason.
pub fn new_cluster_id() -> Result<String> {
    use base64::Engine;
    loop {
        let bytes = kcore::random::bytes(16)?;
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        if !id.starts_with('-') {
            return Ok(id);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cluster_ids_never_look_like_options() {
        for _ in 0..2_000 {
            let id = super::new_cluster_id().unwrap();
            assert_eq!(id.len(), 22);
            assert!(!id.starts_with('-'), "{id}");
        }
    }
}
