//! The fault commands of kcluster's command line, on top of [`super`].

use anyhow::Result;
use kcore::state::{ClusterState, Role};
use kcore::Failure;
use serde_json::json;

use super::{chaos, network, Fault, Kind};
use crate::cli::{ChaosArgs, Command, FaultArgs, HealArgs, IsolateArgs, SlowArgs};
use crate::commands::{node, open_backend};

/// Run one fault command (the caller holds the cluster's lock).
pub fn run(state: ClusterState, command: Command) -> Result<()> {
    match command {
        Command::Pause(args) => pause(state, &args),
        Command::Resume(args) => undo(state, &args, Kind::Pause),
        Command::Isolate(args) => isolate(state, &args),
        Command::Slow(args) => slow(state, &args),
        Command::Fill(args) => fill(state, &args),
        Command::Free(args) => undo(state, &args, Kind::Fill),
        Command::Heal(args) => heal(state, &args),
        Command::Chaos(args) => chaos(state, &args),
        _ => unreachable!("not a fault command"),
    }
}

fn target(state: &ClusterState, args: &FaultArgs) -> Result<(Role, u32)> {
    let role = Role::of_flag(args.zookeeper);
    Ok((role, node(state, role, args.id)?.id))
}

/// `kcluster pause N`.
pub fn pause(state: ClusterState, args: &FaultArgs) -> Result<()> {
    let (role, id) = target(&state, args)?;
    let backend = open_backend(state)?;
    super::apply_kind(
        backend.as_ref(),
        Fault::new(Kind::Pause, role, id, json!({})),
    )?;
    Ok(())
}

/// `kcluster isolate N [--from ...]`.
pub fn isolate(state: ClusterState, args: &IsolateArgs) -> Result<()> {
    let (role, id) = target(&state, &args.node)?;
    let backend = open_backend(state)?;
    super::apply_kind(
        backend.as_ref(),
        network::isolate_fault(role, id, args.from),
    )?;
    Ok(())
}

/// `kcluster slow N [--loss PERCENT]`.
pub fn slow(state: ClusterState, args: &SlowArgs) -> Result<()> {
    let (role, id) = target(&state, &args.node)?;
    let backend = open_backend(state)?;
    super::apply_kind(backend.as_ref(), network::slow_fault(role, id, args.loss))?;
    Ok(())
}

/// `kcluster fill N`.
pub fn fill(state: ClusterState, args: &FaultArgs) -> Result<()> {
    let (role, id) = target(&state, args)?;
    let backend = open_backend(state)?;
    super::apply_kind(
        backend.as_ref(),
        Fault::new(Kind::Fill, role, id, json!({})),
    )?;
    Ok(())
}

/// `kcluster resume N` (undoes `pause`) and `kcluster free N` (undoes `fill`): exit 6
/// when the node has no such fault.
pub fn undo(state: ClusterState, args: &FaultArgs, kind: Kind) -> Result<()> {
    let (role, id) = target(&state, args)?;
    open_backend(state.clone())?.supports_faults()?;
    let healed = super::heal_where(
        &state,
        |f| f.kind == kind && f.role() == role && f.id == id,
        false,
    )?;
    if healed.is_empty() {
        return Err(Failure::not_found(format!(
            "{} {id} of '{}' is not {}",
            role.label(),
            state.name,
            kind.state()
        ))
        .into());
    }
    Ok(())
}

/// `kcluster heal [N]`: undo every fault, or one node's; nothing to undo is no error.
pub fn heal(state: ClusterState, args: &HealArgs) -> Result<()> {
    let backend = open_backend(state.clone())?;
    backend.supports_faults()?;
    let healed = match args.id {
        Some(id) => {
            let role = Role::of_flag(args.zookeeper);
            let id = node(&state, role, id)?.id;
            super::heal_where(&state, |f| f.role() == role && f.id == id, false)?
        }
        None => {
            let healed = super::heal_where(&state, |_| true, false)?;
            // Also any rule a crash left unrecorded.
            network::remove_all(&state)?;
            healed
        }
    };
    eprintln!(
        "kcluster: {} fault(s) healed on '{}'",
        healed.len(),
        state.name
    );
    Ok(())
}

/// `kcluster chaos --seed N --duration D --faults ...`.
pub fn chaos(state: ClusterState, args: &ChaosArgs) -> Result<()> {
    let kinds = chaos::kinds_for(
        args.faults.as_deref(),
        &state.name,
        super::disk::has_disk_limit(&state),
    )?;
    let seed = match args.seed {
        Some(seed) => seed,
        None => u64::from_le_bytes(kcore::random::bytes(8)?.try_into().expect("8 bytes")),
    };
    let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    eprintln!(
        "kcluster: chaos on '{}' with --seed {seed} --faults {}",
        state.name,
        names.join(",")
    );
    let mut backend = open_backend(state)?;
    let plan = chaos::Plan {
        seed,
        duration: args.duration,
        kinds,
        hold: args.hold,
    };
    chaos::run(backend.as_mut(), &plan)
}
