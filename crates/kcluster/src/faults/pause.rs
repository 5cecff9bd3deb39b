//! `pause` and `resume`: a node's JVM stopped with SIGSTOP and continued with SIGCONT.
//! Nothing is closed: the kernel still accepts connections to its ports and holds its
//! open ones, so clients see requests time out, not connections refused, as they would
//! with a broker stuck in a long GC pause or a frozen VM. Signals need no root.

use anyhow::Result;
use kcore::state::{ClusterState, Role};
use kcore::Failure;

use super::Fault;

/// Freeze the node's process; the fault records its pid.
pub fn pause(state: &ClusterState, fault: &mut Fault) -> Result<()> {
    let role = fault.role();
    let Some(pid) = state.running_pid(role.prefix(), fault.id) else {
        return Err(Failure::unhealthy(format!(
            "{} {} of '{}' is not running: nothing to pause",
            role.label(),
            fault.id,
            state.name
        ))
        .into());
    };
    fault.pid = Some(pid);
    signal(pid, libc::SIGSTOP)
}

/// Continue the node's process, if it still is the one paused (a process killed and
/// started again since is not frozen).
pub fn resume(state: &ClusterState, fault: &Fault) -> Result<()> {
    let role: Role = fault.role();
    match (state.running_pid(role.prefix(), fault.id), fault.pid) {
        (Some(pid), Some(paused)) if pid == paused => signal(pid, libc::SIGCONT),
        _ => Ok(()),
    }
}

fn signal(pid: i32, signal: i32) -> Result<()> {
    // SAFETY: plain kill(2) on a pid that carries this node's marker.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(anyhow::anyhow!(
            "signalling process {pid}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
