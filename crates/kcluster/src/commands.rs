//! kcluster's commands, written once for every backend (see [`crate::backend`]).

use std::collections::HashMap;

use anyhow::{Context, Result};
use kcore::state::{BackendKind, ClusterState, Mode, NodeState};
use kcore::Failure;

use crate::backend::Backend;
use crate::budget::Budget;
use crate::cli::{BackendChoice, DownArgs, LogsArgs, NodeArgs, StatusArgs, UpArgs};
use crate::health::{self, Liveness};
use crate::wait::{self, DEREGISTRATION_WAIT};
use kcore::state::Role;

/// `kcluster up`: make the cluster if it is new, start the nodes of it that are down,
/// ZooKeeper first, and wait until they serve.
pub fn up(name: &str, args: &UpArgs) -> Result<()> {
    let budget = Budget::new(args.timeout);
    let state = match ClusterState::load(name) {
        Some(state) => existing_for_up(state, args)?,
        None if args.schema_registry && args.backend == BackendChoice::Compose => {
            return Err(Failure::usage(
                "--schema-registry runs beside a local cluster (the compose backend has none): --backend local",
            )
            .into())
        }
        None => {
            let mode = args.mode.unwrap_or(Mode::Kraft);
            // A secure cluster and one with a schema registry run on the local backend.
            let local_only = args.secure
                || args.schema_registry
                || args.oauth.is_some()
                || !args.advertise.is_empty();
            let (kind, note) = choose_backend(args.backend, local_only);
            create_cluster(kind, name, args, mode, note.as_deref())?
        }
    };
    let state = with_registry(state, args)?;
    let mut backend = open_backend(state)?;
    let live = backend.liveness();
    let state = backend.state().clone();
    let down = |role: Role| -> Vec<NodeState> {
        role.nodes(&state)
            .iter()
            .filter(|n| !running(&live, role, n.id))
            .cloned()
            .collect()
    };
    let (zookeepers_down, brokers_down) = (down(Role::Zookeeper), down(Role::Broker));

    // ZooKeeper mode, after a crash: a broker stays registered until its session expires,
    // and one started before that exits. Only a cluster with brokers still running can say.
    if state.mode == Mode::Zookeeper && brokers_down.len() < state.brokers.len() {
        for node in &brokers_down {
            wait::wait_deregistered(&state, node.id, DEREGISTRATION_WAIT);
        }
    }
    let started = zookeepers_down.len() + brokers_down.len();
    let mut registry_started = false;
    let result = (|| -> Result<()> {
        backend.launch(Role::Zookeeper, &zookeepers_down, budget)?;
        if !args.no_wait && !state.zookeepers.is_empty() {
            let ids: Vec<u32> = state.zookeepers.iter().map(|n| n.id).collect();
            wait::wait_zookeepers(&state, &ids, budget, backend.watch())?;
        }
        backend.launch(Role::Broker, &brokers_down, budget)?;
        // The registry starts while the brokers do; it needs none of them.
        registry_started = crate::schema_registry::launch(&state, budget)?;
        if !args.no_wait {
            let ids: Vec<u32> = state.brokers.iter().map(|n| n.id).collect();
            wait::wait_brokers(&state, &ids, budget, backend.watch())?;
            if state.secure {
                // Idempotent: a resumed cluster keeps its ACLs, a new one gets them now.
                let left = budget.remaining().max(std::time::Duration::from_secs(5));
                crate::security::grant_reader(&state, left)?;
            }
            crate::schema_registry::wait_ready(&state, budget)?;
        } else if state.secure && started > 0 {
            eprintln!("kcluster: user 'reader' gets its ACLs at the next `kcluster up` that waits for the brokers");
        }
        Ok(())
    })();
    if let Err(err) = result {
        // Leave nothing half-started behind: what this call started goes down again.
        backend.undo_launch();
        if registry_started {
            crate::schema_registry::stop(&state);
        }
        return Err(err);
    }
    if started > 0 {
        let what = if args.no_wait {
            "started (not waiting for them)"
        } else {
            "started"
        };
        eprintln!(
            "kcluster: {started} of {} nodes {what}, cluster '{name}' ({} mode{}) ready in {:.1}s",
            state.brokers.len() + state.zookeepers.len(),
            state.mode.as_str(),
            backend.place(),
            budget.started.elapsed().as_secs_f64()
        );
        if state.secure {
            eprintln!("kcluster: {}", crate::security::summary(&state));
        }
    }
    print_status(backend.as_ref())
}

/// `up --schema-registry`: the cluster gets a registry (kept in its state) if it has none.
fn with_registry(mut state: ClusterState, args: &UpArgs) -> Result<ClusterState> {
    if !args.schema_registry || state.schema_registry.is_some() {
        return Ok(state);
    }
    if state.backend != BackendKind::Local {
        return Err(Failure::usage(
            "--schema-registry runs beside a local cluster (the compose backend has none): --backend local",
        )
        .into());
    }
    state.schema_registry = Some(crate::schema_registry::new_state(&state.name)?);
    state.save()?;
    Ok(state)
}

/// An existing cluster keeps its backend, mode and broker count; a heap given again is kept.
fn existing_for_up(mut state: ClusterState, args: &UpArgs) -> Result<ClusterState> {
    let name = state.name.clone();
    let asked_backend = match args.backend {
        BackendChoice::Auto => None,
        BackendChoice::Local => Some(BackendKind::Local),
        BackendChoice::Compose => Some(BackendKind::Compose),
    };
    let conflicts = asked_backend.is_some_and(|b| b != state.backend)
        || args.mode.is_some_and(|m| m != state.mode);
    if args.secure && !state.secure {
        return Err(Failure::usage(format!(
            "cluster '{name}' exists and is open (not secure): `kcluster down --name {name}` first to make it secure"
        ))
        .into());
    }
    if conflicts {
        return Err(Failure::usage(format!(
            "cluster '{name}' exists ({} backend, {} mode): `kcluster down --name {name}` first to change it",
            state.backend.as_str(),
            state.mode.as_str()
        ))
        .into());
    }
    if let Some(wanted) = args.brokers.filter(|&b| b as usize != state.brokers.len()) {
        return Err(Failure::usage(format!(
            "cluster '{name}' already has {} brokers, not {wanted}: `kcluster down --name {name}` first to change it",
            state.brokers.len()
        ))
        .into());
    }
    // The heap (local backend) is kept for the nodes this starts, and for `start` later.
    if state.backend == BackendKind::Local {
        if let Some(heap) = args
            .heap
            .as_ref()
            .filter(|h| state.heap.as_ref() != Some(*h))
        {
            state.heap = Some(heap.clone());
            state.save()?;
        }
    }
    Ok(state)
}

/// The backend for a new cluster, and what to say about the choice `auto` made. A cluster
/// that needs the local backend (secure, or with a schema registry) gets it.
fn choose_backend(choice: BackendChoice, local_only: bool) -> (BackendKind, Option<String>) {
    match choice {
        BackendChoice::Auto if local_only => (BackendKind::Local, None),
        BackendChoice::Local => (BackendKind::Local, None),
        BackendChoice::Compose => (BackendKind::Compose, None),
        BackendChoice::Auto => match crate::compose::engine_answers()
            .and_then(|()| crate::compose::find_compose().map(|_| ()))
        {
            Ok(()) => (
                BackendKind::Compose,
                Some("a Docker engine answers: using the compose backend (--backend local runs JVM processes instead)".into()),
            ),
            Err(why) => (
                BackendKind::Local,
                Some(format!("using the local backend ({why}; --backend compose to insist)")),
            ),
        },
    }
}

fn running(live: &HashMap<(Role, u32), Liveness>, role: Role, id: u32) -> bool {
    live.get(&(role, id)).is_some_and(|l| l.running)
}

/// `kcluster start N`: start one stopped node again and wait until it serves.
pub fn start(state: ClusterState, args: &NodeArgs) -> Result<()> {
    let role = Role::of_flag(args.zookeeper);
    let node = node(&state, role, args.id)?.clone();
    let budget = Budget::new(args.start_budget());
    let mut backend = open_backend(state)?;
    let state = backend.state().clone();
    if !running(&backend.liveness(), role, node.id) {
        if role == Role::Broker && state.mode == Mode::Zookeeper {
            wait::wait_deregistered(&state, node.id, DEREGISTRATION_WAIT);
        }
        backend.restart(role, &node, budget)?;
    }
    match role {
        Role::Broker => wait::wait_brokers(&state, &[node.id], budget, backend.watch())?,
        Role::Zookeeper => wait::wait_zookeepers(&state, &[node.id], budget, backend.watch())?,
    }
    print_status(backend.as_ref())
}

/// `kcluster stop N` (graceful) and `kcluster kill N` (SIGKILL).
pub fn stop(state: ClusterState, args: &NodeArgs, graceful: bool) -> Result<()> {
    let role = Role::of_flag(args.zookeeper);
    let node = node(&state, role, args.id)?.clone();
    let backend = open_backend(state)?;
    let label = format!("{} {}", role.label(), node.id);
    let grace = std::time::Duration::from_secs_f64(args.stop_grace());
    if backend.stop_node(role, &node, graceful, grace)? {
        let what = if graceful { "stopped" } else { "killed" };
        eprintln!("kcluster: {label} ({}) {what}", node.address());
    } else {
        eprintln!(
            "kcluster: {label} of '{}' is not running",
            backend.state().name
        );
    }
    print_status(backend.as_ref())
}

/// `kcluster status`: one line per node; exit 7 unless every node is up. With `--watch`,
/// a line per change until Ctrl-C.
pub fn status(state: ClusterState, args: &StatusArgs) -> Result<()> {
    let backend = open_backend(state)?;
    if !args.watch {
        return health::report(backend.state(), &statuses(backend.as_ref()));
    }
    let interrupt = kcore::signals::Interrupt::install()?;
    let watch = kcore::watch::Watch {
        tool: "kcluster",
        interval: std::time::Duration::from_secs_f64(args.interval.max(0.05)),
        table: args
            .table
            .then(|| vec!["role", "id", "address", "state", "pid"]),
    };
    let name = backend.state().name.clone();
    watch.run(&interrupt, || {
        let mut rows = kcore::watch::Rows::new();
        for status in statuses(backend.as_ref()) {
            if let serde_json::Value::Object(row) = status.to_json(&name) {
                rows.insert(format!("{}\0{:05}", status.role.name(), status.id), row);
            }
        }
        if let Some((serde_json::Value::Object(row), _)) =
            crate::schema_registry::status_line(backend.state())
        {
            rows.insert("~schema-registry".into(), row);
        }
        Ok(rows)
    })
}

/// `kcluster logs [N] [-f]`.
pub fn logs(state: ClusterState, args: &LogsArgs) -> Result<()> {
    let role = Role::of_flag(args.zookeeper);
    let ids: Vec<u32> = match args.id {
        Some(id) => vec![node(&state, role, id)?.id],
        None => role.nodes(&state).iter().map(|n| n.id).collect(),
    };
    let backend = open_backend(state)?;
    backend.logs(role, &ids, args.follow)
}

/// `kcluster down [--keep]`: stop every node; keep the cluster's directory, or remove it.
pub fn down(state: ClusterState, args: &DownArgs) -> Result<()> {
    let backend = open_backend(state)?;
    let faulty = backend.supports_faults().is_ok();
    if faulty {
        // Before the nodes stop: a paused node must run again to stop cleanly.
        crate::faults::clean_before_down(backend.state())?;
    }
    let (kept_also, removed) = backend.teardown(args.keep)?;
    if faulty && !args.keep {
        crate::faults::clean_after_down(backend.state())?;
    }
    let state = backend.state();
    let (name, dir) = (&state.name, state.dir());
    if args.keep {
        eprintln!(
            "kcluster: cluster '{name}' stopped; data kept in {kept_also}{}",
            dir.display()
        );
    } else {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        eprintln!("kcluster: cluster '{name}' stopped and {removed} removed");
    }
    Ok(())
}

fn statuses(backend: &dyn Backend) -> Vec<health::NodeStatus> {
    statuses_of(backend)
}

/// Every node's status, as a backend sees it.
pub fn statuses_of(backend: &dyn Backend) -> Vec<health::NodeStatus> {
    let live = backend.liveness();
    let mut statuses = health::statuses(backend.state(), &|role, id| {
        live.get(&(role, id)).cloned().unwrap_or_default()
    });
    // A node with a fault in force says so instead of `up` or `starting`.
    let record = crate::faults::Record::load(backend.state());
    for status in statuses.iter_mut().filter(|s| s.live.running) {
        if let Some((state, faults)) =
            crate::faults::status_of(&record, status.role, status.id, status.live.pid)
        {
            status.state = state;
            status.faults = faults;
        }
    }
    statuses
}

fn print_status(backend: &dyn Backend) -> Result<()> {
    health::print(backend.state(), &statuses(backend))
}

/// A node of the cluster by role and id, or exit 6.
pub fn node(state: &ClusterState, role: Role, id: u32) -> Result<&NodeState> {
    role.node(state, id).ok_or_else(|| {
        let nodes = role.nodes(state);
        let range = if nodes.is_empty() {
            "none: not a zookeeper-mode cluster".to_string()
        } else {
            format!("1..{}", nodes.len())
        };
        Failure::not_found(format!(
            "cluster '{}' has no {} {id} (ids are {range})",
            state.name,
            role.label()
        ))
        .into()
    })
}

/// The backend of an existing cluster, as its `cluster.json` recorded it.
pub(crate) fn open_backend(state: ClusterState) -> Result<Box<dyn Backend>> {
    Ok(match state.backend {
        BackendKind::Local => Box::new(crate::local::Local::open(state)),
        BackendKind::Compose => Box::new(crate::compose::Compose::open(state)?),
    })
}

/// Make a new cluster on `kind`: check what it needs, choose its ports and ids, write
/// its files (`cluster.json` last, which means the cluster is complete). `note` (which
/// backend `auto` chose) is printed once every prerequisite was found.
fn create_cluster(
    kind: BackendKind,
    name: &str,
    args: &UpArgs,
    mode: Mode,
    note: Option<&str>,
) -> Result<ClusterState> {
    if args.secure {
        crate::security::check_supported(kind, mode)?;
    }
    crate::oauth::check_supported(kind, mode, args)?;
    match kind {
        BackendKind::Local => crate::local::create(name, args, mode, note),
        BackendKind::Compose => crate::compose::create(name, args, mode, note),
    }
}
