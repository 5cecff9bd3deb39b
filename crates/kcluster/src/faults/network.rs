//! `isolate` and `slow`: a node's packets dropped on the loopback device, by iptables
//! rules in the OUTPUT chain (every packet between two local processes passes it once).
//!
//! On loopback every node and every client shares one address, so a packet is told by
//! its ports and, where that is not enough, by the process that sent it:
//!
//! - to the node: its destination port is one of the node's (client listener, and in
//!   KRaft mode its controller listener);
//! - from the node: its socket belongs to the node's cgroup v2. Every node of a local
//!   cluster started as root runs in a cgroup of its own, `kpipes/<cluster>/<node>`
//!   ([`enter_cgroup`]), and iptables' `-m cgroup --path` matches it. A socket keeps the
//!   cgroup it was made in, so the node enters it at launch, before it opens any.
//!
//! Clients are told from nodes the same way: a node's inter-broker connections use the
//! same client port as clients do (`inter.broker.listener.name=PLAINTEXT`), so
//! `isolate --from clients` drops what reaches the port from any process outside the
//! cluster's cgroups (a chain of its own that returns for each node's cgroup).
//!
//! `slow` drops a share of the node's packets at random (iptables' statistic match):
//! TCP retransmits them, so requests slow down without failing. (tc netem would add
//! latency instead, but not every kernel has it: CI's and this project's VMs do not.)
//!
//! Every rule carries the comment `kpipes:<cluster>:<node>:<fault>`: undoing a fault
//! deletes the rules with its comment, and `down` every rule with its cluster's prefix,
//! whatever the record says.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};
use kcore::state::{ClusterState, NodeState, Role};
use kcore::Failure;
use serde_json::json;

use super::{Fault, Kind};

/// From whom `isolate` cuts a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Cut {
    /// The other nodes of the cluster (brokers, controllers, ZooKeeper)
    Brokers,
    /// Every process that is not a node of the cluster
    Clients,
    /// Everyone: nothing reaches the node and nothing leaves it
    All,
}

impl Cut {
    pub fn name(self) -> &'static str {
        match self {
            Cut::Brokers => "brokers",
            Cut::Clients => "clients",
            Cut::All => "all",
        }
    }
}

/// The fault `isolate` records.
pub fn isolate_fault(role: Role, id: u32, from: Cut) -> Fault {
    Fault::new(Kind::Isolate, role, id, json!({ "from": from.name() }))
}

/// The fault `slow` records (`loss`: percent of packets dropped).
pub fn slow_fault(role: Role, id: u32, loss: u32) -> Fault {
    Fault::new(Kind::Slow, role, id, json!({ "loss_percent": loss }))
}

/// The cgroup v2 hierarchy's mount point, if this machine has one.
fn cgroup2_root() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mounts.lines().find_map(|line| {
        let (fields, rest) = line.split_once(" - ")?;
        let fstype = rest.split_whitespace().next()?;
        let mount_point = fields.split_whitespace().nth(4)?;
        (fstype == "cgroup2").then(|| PathBuf::from(mount_point))
    })
}

/// A node's cgroup, relative to the hierarchy's root (what `-m cgroup --path` takes).
pub fn cgroup_path(state: &ClusterState, role: Role, id: u32) -> String {
    format!("kpipes/{}/{}", state.name, role.service(id))
}

/// Move a node's new process into its own cgroup, when running as root on a machine
/// with cgroup v2; otherwise nothing (`isolate` says why it cannot cut that node).
pub fn enter_cgroup(state: &ClusterState, role: Role, id: u32, pid: u32) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let Some(root) = cgroup2_root() else { return };
    let dir = root.join(cgroup_path(state, role, id));
    let moved = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join("cgroup.procs"), pid.to_string()));
    if let Err(err) = moved {
        eprintln!(
            "kcluster: {} {id} runs outside its own cgroup ({}: {err}): `isolate` cannot cut it",
            role.label(),
            dir.display()
        );
    }
}

/// Remove the cluster's cgroups (empty once its nodes are stopped).
pub fn remove_cgroups(state: &ClusterState) {
    let Some(root) = cgroup2_root() else { return };
    let cluster = root.join("kpipes").join(&state.name);
    for role in [Role::Broker, Role::Zookeeper] {
        for node in role.nodes(state) {
            let _ = std::fs::remove_dir(root.join(cgroup_path(state, role, node.id)));
        }
    }
    let _ = std::fs::remove_dir(cluster);
    // The parent too, once no cluster has a cgroup in it.
    let _ = std::fs::remove_dir(root.join("kpipes"));
}

/// The node's cgroup, once its running process is in it; else why `isolate` cannot cut it.
fn node_cgroup(state: &ClusterState, role: Role, id: u32) -> Result<String> {
    let path = cgroup_path(state, role, id);
    let pid = state.running_pid(role.prefix(), id);
    let inside = pid
        .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok())
        .is_some_and(|text| text.lines().any(|l| l == format!("0::/{path}")));
    if inside {
        return Ok(path);
    }
    Err(Failure::environment(format!(
        "{} {id} of '{}' does not run in its own cgroup ({path}): start it again as root \
         (`kcluster stop {id} && kcluster start {id}`) on a machine with cgroup v2",
        role.label(),
        state.name
    ))
    .into())
}

/// The comment every rule of this fault carries.
fn tag(state: &ClusterState, fault: &Fault) -> String {
    format!(
        "kpipes:{}:{}:{}",
        state.name,
        fault.role().service(fault.id),
        fault.kind.name()
    )
}

/// The chain of an `isolate --from clients` (named after its tag: iptables allows 28 characters).
fn chain_name(tag: &str) -> String {
    // FNV-1a: stable across runs and builds, unlike std's hasher.
    let hash = tag.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("KPIPES-{:016x}", hash)
}

fn ports_of(node: &NodeState) -> Vec<u16> {
    std::iter::once(node.port)
        .chain(node.peer_ports.iter().copied())
        .collect()
}

/// `-m multiport --dports`/`--sports` matches for `ports`, 15 at most per rule.
fn port_matches(which: &str, ports: &[u16]) -> Vec<Vec<String>> {
    ports
        .chunks(15)
        .map(|chunk| {
            let list: Vec<String> = chunk.iter().map(u16::to_string).collect();
            ["-p", "tcp", "-m", "multiport", which, &list.join(",")]
                .map(String::from)
                .to_vec()
        })
        .collect()
}

fn cgroup_match(path: &str) -> Vec<String> {
    ["-m", "cgroup", "--path", path].map(String::from).to_vec()
}

/// Run iptables (waiting for its lock: other kcluster calls may change rules too).
fn iptables(args: &[String]) -> Result<()> {
    let output = Command::new("iptables")
        .arg("-w")
        .args(args)
        .output()
        .map_err(|err| {
            Failure::environment(format!(
                "running iptables: {err} (scripts/setup installs it: apt-get install iptables)"
            ))
        })?;
    if !output.status.success() {
        return Err(anyhow::anyhow!(
            "iptables {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(())
}

/// Insert a tagged rule at the top of `chain`.
fn insert(chain: &str, matches: Vec<String>, tag: &str, target: &str) -> Result<()> {
    let mut args = vec!["-I".to_string(), chain.to_string()];
    args.extend(matches);
    args.extend(["-m", "comment", "--comment", tag, "-j", target].map(String::from));
    iptables(&args)
}

/// Add the rules of an `isolate` or `slow` fault.
pub fn apply(state: &ClusterState, fault: &mut Fault) -> Result<()> {
    super::need_root(&format!("kcluster {}", fault.kind.name()))?;
    let role = fault.role();
    let node = crate::commands::node(state, role, fault.id)?.clone();
    let tag = tag(state, fault);
    match fault.kind {
        Kind::Slow => {
            let loss = fault.detail["loss_percent"].as_u64().unwrap_or(30);
            let chance = ["-m", "statistic", "--mode", "random", "--probability"]
                .map(String::from)
                .into_iter()
                .chain([format!("{:.2}", loss as f64 / 100.0)]);
            let chance: Vec<String> = chance.collect();
            for which in ["--dports", "--sports"] {
                for mut matches in port_matches(which, &ports_of(&node)) {
                    matches.extend(chance.iter().cloned());
                    insert("OUTPUT", matches, &tag, "DROP")?;
                }
            }
            Ok(())
        }
        Kind::Isolate => {
            let from = match fault.detail["from"].as_str() {
                Some("brokers") => Cut::Brokers,
                Some("clients") => Cut::Clients,
                _ => Cut::All,
            };
            isolate(state, role, &node, from, &tag)
        }
        _ => unreachable!("network faults are isolate and slow"),
    }
}

/// Every node of the cluster but `(role, id)`, with its role.
fn others(state: &ClusterState, role: Role, id: u32) -> Vec<(Role, NodeState)> {
    [Role::Broker, Role::Zookeeper]
        .into_iter()
        .flat_map(|r| r.nodes(state).iter().map(move |n| (r, n.clone())))
        .filter(|(r, n)| !(*r == role && n.id == id))
        .collect()
}

fn isolate(state: &ClusterState, role: Role, node: &NodeState, from: Cut, tag: &str) -> Result<()> {
    let own = node_cgroup(state, role, node.id)?;
    match from {
        Cut::All => {
            for matches in port_matches("--dports", &ports_of(node)) {
                insert("OUTPUT", matches, tag, "DROP")?;
            }
            insert("OUTPUT", cgroup_match(&own), tag, "DROP")
        }
        Cut::Brokers => {
            let peers = others(state, role, node.id);
            let their_ports: Vec<u16> = peers.iter().flat_map(|(_, n)| ports_of(n)).collect();
            for ports in port_matches("--dports", &their_ports) {
                let matches = cgroup_match(&own).into_iter().chain(ports).collect();
                insert("OUTPUT", matches, tag, "DROP")?;
            }
            for (peer_role, peer) in peers {
                // A peer that is down has no process to match (it joins no cgroup until it runs).
                let Ok(theirs) = node_cgroup(state, peer_role, peer.id) else {
                    continue;
                };
                for ports in port_matches("--dports", &ports_of(node)) {
                    let matches = cgroup_match(&theirs).into_iter().chain(ports).collect();
                    insert("OUTPUT", matches, tag, "DROP")?;
                }
            }
            Ok(())
        }
        Cut::Clients => {
            let chain = chain_name(tag);
            iptables(&["-N".to_string(), chain.clone()])?;
            insert(&chain, Vec::new(), tag, "DROP")?;
            // Inserted at the top, one by one: the returns come before the drop.
            for (peer_role, peer) in others(state, role, node.id) {
                if let Ok(theirs) = node_cgroup(state, peer_role, peer.id) {
                    insert(&chain, cgroup_match(&theirs), tag, "RETURN")?;
                }
            }
            insert(&chain, cgroup_match(&own), tag, "RETURN")?;
            for matches in port_matches("--dports", &[node.port]) {
                insert("OUTPUT", matches, tag, &chain)?;
            }
            Ok(())
        }
    }
}

/// Delete the rules of one fault (and its chain).
pub fn remove(state: &ClusterState, fault: &Fault) -> Result<()> {
    let tag = tag(state, fault);
    remove_tagged(|comment| comment == tag)
}

/// Delete every rule of this cluster, whatever the record says (for `down`).
pub fn remove_all(state: &ClusterState) -> Result<()> {
    let prefix = format!("kpipes:{}:", state.name);
    remove_tagged(|comment| comment.starts_with(&prefix))
}

/// Delete every rule whose comment `pick` accepts, then the chains they were in.
/// Nothing to do (and no error) when iptables is missing or this is not root.
fn remove_tagged(pick: impl Fn(&str) -> bool) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let Ok(listing) = Command::new("iptables").args(["-w", "-S"]).output() else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(&listing.stdout).into_owned();
    let mut chains = Vec::new();
    // OUTPUT's rules first: a chain can only go once nothing jumps to it.
    let mut rules: Vec<Vec<String>> = text
        .lines()
        .filter_map(|line| {
            let words: Vec<String> = line
                .split_whitespace()
                .map(|w| w.trim_matches('"').to_string())
                .collect();
            let at = words.iter().position(|w| w == "--comment")?;
            (words.first()? == "-A" && pick(&words[at + 1])).then_some(words)
        })
        .collect();
    rules.sort_by_key(|words| words[1] != "OUTPUT");
    for mut words in rules {
        words[0] = "-D".to_string();
        if words[1].starts_with("KPIPES-") && !chains.contains(&words[1]) {
            chains.push(words[1].clone());
        }
        iptables(&words).context("removing a fault's rule")?;
    }
    for chain in chains {
        iptables(&["-X".to_string(), chain])?;
    }
    Ok(())
}
