//! Waiting for nodes to serve, within a command's `--timeout`, with a spinner on a terminal.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use kcore::progress::{Mode, Status};
use kcore::state::{ClusterState, NodeState};
use kcore::Failure;

use crate::budget::Budget;
use crate::health::{brokers_serving, listed_brokers, zookeeper_mode};
use crate::role::Role;

/// The brokers' ZooKeeper session timeout (both backends configure it). A broker that dies
/// without a clean shutdown stays registered (and keeps its partition leaderships) until
/// its session expires: 6 s instead of Kafka's default 18 s makes failover quick.
pub const ZOOKEEPER_SESSION_TIMEOUT_MS: u64 = 6_000;

/// How long `up` and `start` wait for a killed broker's old registration to go.
pub const DEREGISTRATION_WAIT: Duration = Duration::from_millis(3 * ZOOKEEPER_SESSION_TIMEOUT_MS);

/// What the readiness waits ask of a backend while they poll.
pub trait Watch {
    /// Fail early (exit 7) when a node that is being waited for has exited.
    fn check(&mut self, role: Role) -> Result<()>;
    /// Why a node did not get ready, as detail lines under the error (see [`crate::node_log`]).
    fn failure_detail(&self, role: Role, id: u32) -> String;
}

/// Wait until every ZooKeeper node in `ids` serves as leader or follower.
pub fn wait_zookeepers(
    state: &ClusterState,
    ids: &[u32],
    budget: Budget,
    watch: &mut dyn Watch,
) -> Result<()> {
    wait_for(Role::Zookeeper, ids, budget, watch, |ask| {
        ids.iter()
            .copied()
            .filter(|id| {
                let mode = Role::Zookeeper
                    .node(state, *id)
                    .and_then(|n| zookeeper_mode(&n.address(), ask));
                !matches!(mode.as_deref(), Some("leader") | Some("follower"))
            })
            .collect()
    })
}

/// Wait until every broker in `ids` serves (see [`crate::health::served_by`]) and knows
/// every other one of them as live, so that a command run right after (`ktopic create
/// -r 3`) finds them all whichever broker it asks.
pub fn wait_brokers(
    state: &ClusterState,
    ids: &[u32],
    budget: Budget,
    watch: &mut dyn Watch,
) -> Result<()> {
    let nodes: Vec<&NodeState> = ids
        .iter()
        .filter_map(|id| Role::Broker.node(state, *id))
        .collect();
    let wanted: HashSet<u32> = ids.iter().copied().collect();
    wait_for(Role::Broker, ids, budget, watch, |ask| {
        let answers = brokers_serving(state, &nodes, ask);
        nodes
            .iter()
            .zip(&answers)
            .filter(|(_, live)| !live.as_ref().is_some_and(|live| live.is_superset(&wanted)))
            .map(|(node, _)| node.id)
            .collect()
    })
}

/// Poll `not_ready` (given how long one question may take) until no node of `ids` is
/// left in what it returns; fail early when the backend sees a node exit, and at the
/// deadline with why the first node left did not get ready.
fn wait_for(
    role: Role,
    ids: &[u32],
    budget: Budget,
    watch: &mut dyn Watch,
    mut not_ready: impl FnMut(Duration) -> Vec<u32>,
) -> Result<()> {
    let progress = Progress::new(ids.len(), role.label());
    let result = loop {
        if let Err(err) = watch.check(role) {
            break Err(err);
        }
        // Never ask past the deadline: `--timeout 0.5` means half a second.
        let ask = budget
            .remaining()
            .clamp(Duration::from_millis(200), Duration::from_millis(1500));
        let missing = not_ready(ask);
        progress.update(ids.len() - missing.len());
        if missing.is_empty() {
            break Ok(());
        }
        if budget.expired() {
            break Err(Failure::unhealthy(format!(
                "{}(s) {missing:?} not ready within {:.0}s (raise --timeout?)\n{}",
                role.label(),
                budget.timeout.as_secs_f64(),
                watch.failure_detail(role, missing[0])
            ))
            .into());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    progress.finish();
    result
}

/// ZooKeeper mode: a broker that died without a clean shutdown stays registered (and in the
/// metadata) until its ZooKeeper session expires, and a broker started before that fails to
/// register. Wait, at most `within`, until broker `id` is gone from the metadata.
pub fn wait_deregistered(state: &ClusterState, id: u32, within: Duration) {
    let deadline = Instant::now() + within;
    let mut said = false;
    while listed_brokers(state, Duration::from_millis(1500)).contains(&id)
        && Instant::now() < deadline
    {
        if !said {
            eprintln!("kcluster: broker {id} is still registered in ZooKeeper; waiting for its old session to expire");
            said = true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// kcore's spinner on stderr while waiting (on a terminal, for waits longer than
/// [`kcore::progress::DELAY`]): how many of the nodes are ready.
pub struct Progress {
    ready: Arc<AtomicUsize>,
    status: Status,
}

impl Progress {
    /// `what`: the nodes waited for, singular ("broker"); the message makes it plural.
    pub fn new(total: usize, what: &'static str) -> Self {
        let ready = Arc::new(AtomicUsize::new(0));
        let shown = Arc::clone(&ready);
        let status = Status::start("kcluster", Mode::terminal(), move |elapsed| {
            let ready = shown.load(Ordering::Relaxed);
            format!(
                "waiting for {what}s: {ready}/{total} ready ({})",
                kcore::progress::duration(elapsed)
            )
        });
        Progress { ready, status }
    }

    pub fn update(&self, ready: usize) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Clear the line.
    pub fn finish(self) {
        drop(self.status);
    }
}
