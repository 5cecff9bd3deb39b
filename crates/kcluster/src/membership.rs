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
use rdkafka::metadata::Metadata;
use serde_json::json;

use kcore::reassignments::{self, Move};
use kcore::state::{BackendKind, ClusterState, Mode, NodeState, Role};
use kcore::{Connection, Failure, JsonLines, QuietContext};

use crate::backend::Backend;
use crate::budget::Budget;
use crate::cli::{AddArgs, RemoveArgs};

/// `kcluster add`: one more broker, started and serving when this returns.
pub fn add(mut state: ClusterState, args: &AddArgs) -> Result<()> {
    only_local(&state, "add")?;
    let budget = Budget::new(args.timeout);
    let node = crate::local::add_broker(&mut state)?;
    let mut backend = crate::local::Local::open(state.clone());
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
    refuse_controller(&state, &node)?;
    let connection = Connection {
        brokers: state
            .brokers
            .iter()
            .filter(|n| n.id != id)
            .map(|n| n.address())
            .collect::<Vec<_>>()
            .join(","),
        brokers_source: "the cluster's state",
        properties: crate::security::client_properties(&state),
        timeout: Duration::from_secs(10),
        verbose: 0,
        profile: None,
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
    let moves = drain_plan(&metadata, id as i32)?;
    let controller = controller_address(client, &metadata, &connection, id as i32)?;
    let mut out = JsonLines::stdout();
    if !moves.is_empty() {
        eprintln!(
            "kcluster: moving {} partitions off broker {id}",
            moves.len()
        );
        drain(
            &connection,
            client,
            &controller,
            moves,
            args,
            &state.name,
            &mut out,
        )?;
    }

    // Drained: stop it, and (KRaft) tell the controller it is gone for good.
    let backend = crate::local::Local::open(state.clone());
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

/// KRaft: the nodes `up` made are the quorum's voters, which stays as it was made.
fn refuse_controller(state: &ClusterState, node: &NodeState) -> Result<()> {
    if state.mode != Mode::Kraft || !crate::local::is_controller(node) {
        return Ok(());
    }
    let voters: Vec<String> = state
        .brokers
        .iter()
        .filter(|n| crate::local::is_controller(n))
        .map(|n| n.id.to_string())
        .collect();
    Err(Failure::refused(format!(
        "broker {} is also a controller, one of the KRaft quorum's voters ({}): kcluster removes only brokers that `kcluster add` joined",
        node.id,
        voters.join(", ")
    ))
    .into())
}

/// Every partition with a replica on `broker` moves that replica to another broker, or
/// the removal is refused (exit 9) where too few brokers remain to keep its replica count.
fn drain_plan(metadata: &Metadata, broker: i32) -> Result<Vec<Move>> {
    let remaining: Vec<i32> = metadata
        .brokers()
        .iter()
        .map(|b| b.id())
        .filter(|b| *b != broker)
        .collect();
    let mut moves = Vec::new();
    for topic in metadata.topics() {
        let current: Vec<Vec<i32>> = topic
            .partitions()
            .iter()
            .map(|p| p.replicas().to_vec())
            .collect();
        let drained = kcore::placement::drained(&current, broker, &remaining);
        for (p, target) in topic.partitions().iter().zip(drained) {
            if !p.replicas().contains(&broker) {
                continue;
            }
            let Some(target) = target else {
                return Err(Failure::refused(format!(
                    "removing broker {broker} would leave {}/{} with fewer than its {} replicas: only {} other brokers are up ({}); add a broker first, or lower the topic's replication factor (`ktopic reassign {} -r N`)",
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
    Ok(moves)
}

/// The controller's address (not the broker being removed, which it may be in KRaft,
/// where any broker forwards the requests).
fn controller_address(
    client: &Client<QuietContext>,
    metadata: &Metadata,
    connection: &Connection,
    leaving: i32,
) -> Result<String> {
    let id = kcore::admin::controller_id(client, connection.timeout)
        .filter(|c| *c != leaving)
        .or_else(|| {
            metadata
                .brokers()
                .iter()
                .map(|b| b.id())
                .find(|b| *b != leaving)
        })
        .ok_or_else(|| anyhow!("no other broker to ask"))?;
    metadata
        .brokers()
        .iter()
        .find(|b| b.id() == id)
        .map(|b| format!("{}:{}", b.host(), b.port()))
        .ok_or_else(|| anyhow!("the controller, broker {id}, is not in the metadata"))
}

/// Make the moves and wait for them (`--timeout`), a JSON line per partition moved.
fn drain(
    connection: &Connection,
    client: &Client<QuietContext>,
    controller: &str,
    moves: Vec<Move>,
    args: &RemoveArgs,
    cluster: &str,
    out: &mut JsonLines<std::io::Stdout>,
) -> Result<()> {
    let id = args.id;
    let verdicts = reassignments::alter(connection, controller, &moves)?;
    if let Some(((topic, partition), Some(why))) = verdicts.iter().find(|(_, v)| v.is_some()) {
        return Err(anyhow!(
            "the controller refused to move {topic}/{partition} off broker {id}: {why}"
        ));
    }
    let deadline = Instant::now() + Duration::from_secs_f64(args.timeout);
    let left = reassignments::wait_for(connection, client, controller, moves, deadline, |m| {
        out.emit(&json!({
            "cluster": cluster, "moved": {"topic": m.topic, "partition": m.partition},
            "replicas": m.replicas, "from": id,
        }))?;
        out.flush()
    })?;
    if !left.is_empty() {
        return Err(Failure::unhealthy(format!(
            "{} partitions were still moving off broker {id} after {:.0}s; it keeps running (`ktopic reassign --list` shows the moves; `kcluster remove {id}` again waits for them)",
            left.len(),
            args.timeout
        ))
        .into());
    }
    Ok(())
}

fn only_local(state: &ClusterState, what: &str) -> Result<()> {
    if state.backend != BackendKind::Local {
        return Err(Failure::usage(format!(
            "kcluster {what} works on local clusters; '{}' runs in docker compose",
            state.name
        ))
        .into());
    }
    Ok(())
}
