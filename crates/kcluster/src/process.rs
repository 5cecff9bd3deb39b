//! The nodes' processes, for every local process kcluster runs (the local backend's JVMs
//! and the schema-registry sidecar): starting one detached, and stopping one.

use std::fs::{self, OpenOptions};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Spawn a node's process (`command`) in `dir`, output appended to `log`, detached in its
/// own session so a Ctrl-C at the terminal spares it; its pid goes to `dir/pid`.
pub fn spawn_detached(command: &mut Command, dir: &Path, log: &Path, what: &str) -> Result<Child> {
    let out = OpenOptions::new().create(true).append(true).open(log)?;
    command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = command
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    fs::write(dir.join("pid"), format!("{}\n", child.id()))?;
    Ok(child)
}

/// Send `signal`, wait up to `grace` for the process to go, then SIGKILL it.
pub fn terminate(pid: i32, dir: &Path, signal: i32, grace: Duration) {
    // SAFETY: plain kill(2) on a pid we verified carries this node's marker.
    unsafe { libc::kill(pid, signal) };
    // A paused node (`kcluster pause`) handles SIGTERM only once it runs again.
    // SAFETY: the same pid.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let deadline = Instant::now() + grace;
    while kcore::state::pid_is_node(pid, dir) {
        if Instant::now() >= deadline {
            // SAFETY: plain kill(2), on the same verified pid.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Its marker is gone a moment before its files are: a node is stopped once its
    // ports are free (bounded: a process stuck in the kernel must not hang kcluster).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !kcore::state::process_ended(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}
