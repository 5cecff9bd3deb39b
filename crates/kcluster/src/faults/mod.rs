//! Faults on purpose: a local cluster as a bench for learning how a program behaves
//! when Kafka misbehaves (issue #29). Each fault is one command and is undone by
//! another (or by `heal`, or by `down`):
//!
//! - [`pause`]: a node's JVM frozen with SIGSTOP (`pause`), thawed with SIGCONT
//!   (`resume`). Its sockets stay open: clients see timeouts, never refusals.
//! - [`network`]: a node cut off from the other nodes, from clients, or both
//!   (`isolate`), or losing a share of its packets (`slow`): iptables rules on the
//!   loopback device, matched by the node's ports and by the cgroup v2 every node of a
//!   local cluster runs in (started as root). Packets are dropped, nothing is killed.
//! - [`disk`]: a broker's log directory filled (`fill`) and freed (`free`), on a
//!   size-limited filesystem of its own made by `up --disk-limit SIZE`.
//! - [`chaos`]: a seeded, reproducible schedule of random faults and heals.
//!
//! Every fault is written to the cluster's `faults.json` BEFORE it is applied, so that
//! `heal` and `down` can undo it from the record even after kcluster itself crashed
//! half-way; network rules are also found by the comment every one of them carries
//! (`kpipes:<cluster>:<node>:<fault>`), so a rule is never left behind.

pub mod chaos;
pub mod command;
pub mod disk;
pub mod network;
pub mod pause;

use std::path::PathBuf;

use anyhow::{Context, Result};
use kcore::state::{ClusterState, Role};
use kcore::Failure;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::backend::Backend;

/// The kinds of fault kcluster injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The node's JVM is stopped (SIGSTOP).
    Pause,
    /// The node's packets are dropped, to and from the nodes or clients named in `detail`.
    Isolate,
    /// A share of the node's packets is dropped (TCP retransmits: slow, not cut).
    Slow,
    /// The broker's log directory is full.
    Fill,
    /// The node was killed (chaos only): healing starts it again.
    Kill,
}

impl Kind {
    /// What `status` says of a node with this fault.
    pub fn state(self) -> &'static str {
        match self {
            Kind::Pause => "paused",
            Kind::Isolate => "isolated",
            Kind::Slow => "slow",
            Kind::Fill => "disk-full",
            Kind::Kill => "killed",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Pause => "pause",
            Kind::Isolate => "isolate",
            Kind::Slow => "slow",
            Kind::Fill => "fill",
            Kind::Kill => "kill",
        }
    }
}

/// One fault in force, as `faults.json` records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub kind: Kind,
    /// `broker` or `zookeeper`.
    pub role: String,
    pub id: u32,
    /// What else the fault needs to be undone or described (isolate's `from`, slow's `loss`).
    #[serde(default)]
    pub detail: Value,
    /// The process the fault applies to (a pause is only in force for that process).
    #[serde(default)]
    pub pid: Option<i32>,
    /// When it was applied, in milliseconds since the epoch.
    pub since_ms: i64,
}

impl Fault {
    pub fn new(kind: Kind, role: Role, id: u32, detail: Value) -> Fault {
        Fault {
            kind,
            role: role.name().to_string(),
            id,
            detail,
            pid: None,
            since_ms: now_ms(),
        }
    }

    pub fn role(&self) -> Role {
        Role::of_flag(self.role == Role::Zookeeper.name())
    }

    /// The JSON line a fault command prints for it.
    pub fn event(&self, cluster: &str, event: &str) -> Value {
        let mut line = json!({
            "cluster": cluster,
            "event": event,
            "fault": self.kind.name(),
            "role": self.role,
            "id": self.id,
            "state": if event == "heal" { "healed" } else { self.kind.state() },
        });
        if let Value::Object(detail) = &self.detail {
            for (key, value) in detail {
                line[key] = value.clone();
            }
        }
        line["time_ms"] = json!(now_ms());
        line
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// The faults in force on a cluster: its `faults.json`.
pub struct Record {
    path: PathBuf,
    pub faults: Vec<Fault>,
}

impl Record {
    pub fn load(state: &ClusterState) -> Record {
        let path = state.dir().join("faults.json");
        let faults = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        Record { path, faults }
    }

    /// Write the record (atomically: a crash leaves the old one or the new one).
    pub fn save(&self) -> Result<()> {
        if self.faults.is_empty() {
            let _ = std::fs::remove_file(&self.path);
            return Ok(());
        }
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&self.faults)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("writing {}", self.path.display()))
    }

    pub fn has(&self, kind: Kind, role: Role, id: u32) -> bool {
        self.faults
            .iter()
            .any(|f| f.kind == kind && f.role() == role && f.id == id)
    }

    /// The faults on one node, for `status`.
    pub fn of_node(&self, role: Role, id: u32) -> Vec<&Fault> {
        self.faults
            .iter()
            .filter(|f| f.role() == role && f.id == id)
            .collect()
    }
}

/// Fail cleanly (exit 8) unless this runs as root.
pub fn need_root(what: &str) -> Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        Ok(())
    } else {
        Err(Failure::environment(format!(
            "{what} needs root (it changes the machine's firewall, mounts or cgroups): run kcluster as root"
        ))
        .into())
    }
}

/// Apply one fault: recorded first, then done; the record is dropped again if doing it
/// failed. Prints the fault's JSON line.
pub fn inject(
    backend: &dyn Backend,
    fault: Fault,
    apply: impl FnOnce(&ClusterState, &mut Fault) -> Result<()>,
) -> Result<Fault> {
    let state = backend.state();
    backend.supports_faults()?;
    let mut record = Record::load(state);
    if record.has(fault.kind, fault.role(), fault.id) {
        return Err(Failure::refused(format!(
            "{} {} of '{}' is already {}: `kcluster heal {}` first",
            fault.role().label(),
            fault.id,
            state.name,
            fault.kind.state(),
            fault.id
        ))
        .into());
    }
    let mut fault = fault;
    record.faults.push(fault.clone());
    record.save()?;
    if let Err(err) = apply(state, &mut fault) {
        let _ = undo(state, &fault);
        record.faults.pop();
        record.save()?;
        return Err(err);
    }
    *record.faults.last_mut().expect("pushed above") = fault.clone();
    record.save()?;
    kcore::JsonLines::stdout().emit(&fault.event(&state.name, "fault"))?;
    Ok(fault)
}

/// Undo one fault (whatever of it was done).
fn undo(state: &ClusterState, fault: &Fault) -> Result<()> {
    match fault.kind {
        Kind::Pause => pause::resume(state, fault),
        Kind::Isolate | Kind::Slow => network::remove(state, fault),
        Kind::Fill => disk::free(state, fault),
        // A killed node is started by the caller (chaos), which has the backend.
        Kind::Kill => Ok(()),
    }
}

/// Undo the faults that `select` picks, printing a JSON line for each; those that
/// failed to undo stay recorded and make the error.
pub fn heal_where(
    state: &ClusterState,
    select: impl Fn(&Fault) -> bool,
    quiet: bool,
) -> Result<Vec<Fault>> {
    let mut record = Record::load(state);
    let mut healed = Vec::new();
    let mut failed = Vec::new();
    let mut kept = Vec::new();
    for fault in std::mem::take(&mut record.faults) {
        if !select(&fault) {
            kept.push(fault);
            continue;
        }
        match undo(state, &fault) {
            Ok(()) => healed.push(fault),
            Err(err) => {
                failed.push(format!("{} {}: {err:#}", fault.kind.name(), fault.id));
                kept.push(fault);
            }
        }
    }
    record.faults = kept;
    record.save()?;
    if !quiet {
        let mut out = kcore::JsonLines::stdout();
        for fault in &healed {
            out.emit(&fault.event(&state.name, "heal"))?;
        }
        out.flush()?;
    }
    if !failed.is_empty() {
        return Err(anyhow::anyhow!(
            "could not undo every fault:\n  {}",
            failed.join("\n  ")
        ));
    }
    Ok(healed)
}

/// `down`: undo every recorded fault, then remove whatever tagged rule is left of this
/// cluster (a crash between applying and recording cannot leave one behind).
pub fn clean_before_down(state: &ClusterState) -> Result<()> {
    heal_where(state, |_| true, true)?;
    network::remove_all(state)
}

/// `down`, once every node is stopped: unmount the log directories, remove the cgroups.
pub fn clean_after_down(state: &ClusterState) -> Result<()> {
    disk::unmount_all(state)?;
    network::remove_cgroups(state);
    Ok(())
}

/// The state `status` shows for a running node with faults, and the faults' names.
pub fn status_of(
    record: &Record,
    role: Role,
    id: u32,
    pid: Option<i32>,
) -> Option<(&'static str, Vec<String>)> {
    let faults: Vec<&Fault> = record
        .of_node(role, id)
        .into_iter()
        // A pause is in force only for the process it froze.
        .filter(|f| f.kind != Kind::Pause || f.pid == pid)
        .collect();
    let first = faults.first()?;
    Some((
        first.kind.state(),
        faults.iter().map(|f| f.kind.name().to_string()).collect(),
    ))
}

/// Apply a fault of any kind but `kill` (which needs the backend's stop): recorded, done,
/// printed.
pub fn apply_kind(backend: &dyn Backend, fault: Fault) -> Result<Fault> {
    match fault.kind {
        Kind::Pause => inject(backend, fault, pause::pause),
        Kind::Isolate | Kind::Slow => inject(backend, fault, network::apply),
        Kind::Fill => inject(backend, fault, disk::fill),
        Kind::Kill => Err(anyhow::anyhow!("a kill is applied by the backend")),
    }
}
