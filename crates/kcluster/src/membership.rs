//! Brokers joining and leaving a running local cluster: `kcluster add` (the next id, a
//! free port, the cluster's mode and security) and `kcluster remove N` (its replicas
//! moved to the other brokers first, then it stops and is unregistered).
//!
//! KRaft: the nodes `up` made are brokers and controllers (the quorum's voters) and stay;
//! only brokers that `add` joined can be removed. ZooKeeper mode: any broker can.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use rdkafka::admin::AdminClient;
use rdkafka::client::Client;
use serde_json::json;

use kcore::reassignments::{self, Move};
use kcore::state::{Backend as Kind, ClusterState, Mode};
use kcore::{Connection, Failure, JsonLines, QuietContext};

use crate::budget::Budget;
use crate::cli::{AddArgs, RemoveArgs};
use crate::role::Role;

/// `kcluster add`: one more broker, started and serving when this returns.
pub fn add(mut state: ClusterState, args: &AddArgs) -> Result<()> {
    only_local(&state, "add")?;
    let budget = Budget::new(args.timeout);
    let node = crate::local::add_broker(&mut state)?;
    let mut backend = crate::local::Local::open(state.clone());
    use crate::backend::Backend;
    if let Err(err) = backend
        .launch(Role::Broker, std::slice::from_ref(&node), budget)
        .and_then(|_| crate::wait::wait_brokers(&state, &[node.id], budget, backend.watch()))
    {
        backend.undo_launch();
        return Err(err.context(format!(
            "broker {} was added to cluster '{}' but did not start (`kcluster start {}` tries again, `kcluster remove {}` takes it out)",
            node.id, state.name, node.id, node.id
        )));
    }
    eprintln!(
        "kcluster: broker {} ({}) joined cluster '{}'; it holds no partitions yet (`ktopic reassign TOPIC --execute` spreads topics onto it)",
        node.id,
        node.address(),
        state.name
    );
    crate::health::print(&state, &crate::commands::statuses_of(&backend))
}

/// `kcluster remove N`: drain broker N (every replica it holds moved to the others,
/// each partition keeping its replica count), stop it, unregister it, forget it.
pub fn remove(state: ClusterState, args: &RemoveArgs) -> Result<()> {
    only_local(&state, "remove")?;
    let id = args.id;
    let node = crate::commands::node(&state, Role::Broker, id)?.clone();
    if state.mode == Mode::Kraft && crate::local::is_controller(&node) {
        let voters: Vec<String> = state
            .brokers
            .iter()
            .filter(|n| crate::local::is_controller(n))
            .map(|n| n.id.to_string())
            .collect();
        return Err(Failure::refused(format!(
            "broker {id} is also a controller, one of the KRaft quorum's voters ({}): kcluster removes only brokers that `kcluster add` joined",
            voters.join(", ")
        ))
        .into());
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    let others: Vec<_> = state.brokers.iter().filter(|n| n.id != id).collect();
    let connection = Connection {
        brokers: others
            .iter()
            .map(|n| n.address())
            .collect::<Vec<_>>()
            .join(","),
        brokers_source: "the cluster's state",
        properties: crate::security::client_properties(&state),
        timeout: Duration::from_secs(10),
        verbose: 0,
    };
    let admin: AdminClient<QuietContext> =
        connection.create(&[], QuietContext::new("kcluster", 0))?;
    let client: &Client<QuietContext> = admin.inner();
    let metadata = client
        .fetch_metadata(None, connection.timeout)
        .map_err(|err| {
            Failure::unreachable(format!(
                "cannot read cluster '{}''s metadata: {err}",
                state.name
            ))
        })?;
    let remaining: Vec<i32> = metadata
        .brokers()
        .iter()
        .map(|b| b.id())
        .filter(|b| *b != id as i32)
        .collect();

    // The plan: every partition with a replica on N moves that replica elsewhere.
    let mut moves = Vec::new();
    for topic in metadata.topics() {
        let current: Vec<Vec<i32>> = topic
            .partitions()
            .iter()
            .map(|p| p.replicas().to_vec())
            .collect();
        let drained = kcore::placement::drained(&current, id as i32, &remaining);
        for (p, target) in topic.partitions().iter().zip(drained) {
            if !p.replicas().contains(&(id as i32)) {
                continue;
            }
            let Some(target) = target else {
                return Err(Failure::refused(format!(
                    "removing broker {id} would leave {}/{} with fewer than its {} replicas: only {} other brokers are up ({}); add a broker first, or lower the topic's replication factor (`ktopic reassign {} -r N`)",
                    topic.name(),
                    p.id(),
                    p.replicas().len(),
                    remaining.len(),
                    kcore::table::join(&remaining),
                    topic.name()
                ))
                .into());
            };
            moves.push(Move {
                topic: topic.name().to_string(),
                partition: p.id(),
                replicas: Some(target),
            });
        }
    }
    let controller_id = kcore::admin::controller_id(client, connection.timeout)
        .filter(|c| *c != id as i32)
        .or_else(|| remaining.first().copied())
        .ok_or_else(|| anyhow!("no other broker to ask"))?;
    let controller = metadata
        .brokers()
        .iter()
        .find(|b| b.id() == controller_id)
        .map(|b| format!("{}:{}", b.host(), b.port()))
        .ok_or_else(|| anyhow!("the controller, broker {controller_id}, is not in the metadata"))?;

    let mut out = JsonLines::stdout();
    if !moves.is_empty() {
        eprintln!(
            "kcluster: moving {} partitions off broker {id}",
            moves.len()
        );
        let verdicts = reassignments::alter(&connection, &controller, &moves)?;
        if let Some(((topic, partition), Some(why))) = verdicts.iter().find(|(_, v)| v.is_some()) {
            return Err(anyhow!(
                "the controller refused to move {topic}/{partition} off broker {id}: {why}"
            ));
        }
        let started = Instant::now();
        let left = reassignments::wait_for(
            &connection,
            client,
            &controller,
            moves,
            started + timeout,
            |m| {
                out.emit(&json!({
                    "cluster": state.name, "moved": {"topic": m.topic, "partition": m.partition},
                    "replicas": m.replicas, "from": id,
                }))?;
                out.flush()
            },
        )?;
        if !left.is_empty() {
            return Err(Failure::unhealthy(format!(
                "{} partitions were still moving off broker {id} after {:.0}s; it keeps running (`ktopic reassign --list` shows the moves; `kcluster remove {id}` again waits for them)",
                left.len(),
                args.timeout
            ))
            .into());
        }
    }

    // Drained: stop it, and (KRaft) tell the controller it is gone for good.
    let backend = crate::local::Local::open(state.clone());
    use crate::backend::Backend;
    backend.stop_node(Role::Broker, &node, true, Duration::from_secs(30))?;
    if state.mode == Mode::Kraft {
        reassignments::unregister_broker(&connection, &controller, id as i32)?;
    }
    let mut state = state;
    let dir = Role::Broker.node_dir(&state, id);
    state.brokers.retain(|n| n.id != id);
    state.save()?;
    let _ = std::fs::remove_dir_all(&dir);
    out.emit(&json!({"cluster": state.name, "role": "broker", "id": id, "removed": true}))?;
    out.flush()?;
    eprintln!(
        "kcluster: broker {id} drained, stopped and removed from cluster '{}'",
        state.name
    );
    Ok(())
}

fn only_local(state: &ClusterState, what: &str) -> Result<()> {
    if state.backend != Kind::Local {
        return Err(Failure::usage(format!(
            "kcluster {what} works on local clusters; '{}' runs in docker compose",
            state.name
        ))
        .into());
    }
    Ok(())
}
