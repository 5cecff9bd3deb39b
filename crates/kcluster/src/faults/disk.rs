//! `fill` and `free`: a broker's log directory made full, and emptied again.
//!
//! A full disk must be the broker's own, never the machine's: `up --disk-limit SIZE`
//! (as root) mounts a tmpfs of that size on each broker's data directory before its
//! storage is formatted. `fill` then allocates what is left of it in one file
//! (`kpipes-fill`), `free` deletes that file, and `down` unmounts them (`down --keep`
//! keeps them mounted, with their data, for the next `up`). A tmpfs needs no image file
//! nor loop device, and lives in memory: keep SIZE small.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use kcore::state::{ClusterState, Role};
use kcore::Failure;

use super::Fault;

/// The file `fill` allocates in a broker's data directory.
const FILL_FILE: &str = "kpipes-fill";

fn data_dir(state: &ClusterState, id: u32) -> PathBuf {
    Role::Broker.node_dir(state, id).join("data")
}

/// Whether `dir` is a mount point (listed in this process's mount table).
fn is_mount(dir: &Path) -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let wanted = dir.display().to_string();
    mounts
        .lines()
        .any(|line| line.split_whitespace().nth(4) == Some(wanted.as_str()))
}

/// Whether every broker's data directory is a filesystem of its own (`up --disk-limit`).
pub fn has_disk_limit(state: &ClusterState) -> bool {
    !state.brokers.is_empty()
        && state
            .brokers
            .iter()
            .all(|node| is_mount(&data_dir(state, node.id)))
}

/// `up --disk-limit SIZE`: a size-limited filesystem on broker `id`'s data directory.
pub fn mount(state: &ClusterState, id: u32, size: &str) -> Result<()> {
    super::need_root("kcluster up --disk-limit")?;
    let dir = data_dir(state, id);
    std::fs::create_dir_all(&dir)?;
    if is_mount(&dir) {
        return Ok(());
    }
    let source = format!("kpipes-{}-kafka-{id}", state.name);
    let output = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size},mode=0755"),
            &source,
        ])
        .arg(&dir)
        .output()
        .context("running mount")?;
    if !output.status.success() {
        return Err(Failure::usage(format!(
            "mounting a {size} filesystem on {}: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
        .into());
    }
    Ok(())
}

/// `down`: unmount every broker's limited data directory.
pub fn unmount_all(state: &ClusterState) -> Result<()> {
    for node in &state.brokers {
        let dir = data_dir(state, node.id);
        if is_mount(&dir) {
            let output = Command::new("umount").arg(&dir).output()?;
            if !output.status.success() {
                return Err(anyhow::anyhow!(
                    "unmounting {}: {}",
                    dir.display(),
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
        }
    }
    Ok(())
}

/// Allocate every free byte of the broker's limited data directory.
pub fn fill(state: &ClusterState, fault: &mut Fault) -> Result<()> {
    let dir = data_dir(state, fault.id);
    if fault.role() != Role::Broker || !is_mount(&dir) {
        return Err(Failure::usage(format!(
            "broker {} of '{}' has no disk of its own to fill: make the cluster with `kcluster up --disk-limit SIZE` (as root)",
            fault.id, state.name
        ))
        .into());
    }
    let free = free_bytes(&dir)?;
    let file = std::fs::File::create(dir.join(FILL_FILE))?;
    use std::os::fd::AsRawFd;
    // SAFETY: posix_fallocate on a descriptor we own, for a length that fits off_t.
    let failed = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, free as libc::off_t) };
    // ENOSPC is the point: whatever fitted stays allocated.
    if failed != 0 && failed != libc::ENOSPC {
        return Err(anyhow::anyhow!(
            "filling {}: {}",
            dir.display(),
            std::io::Error::from_raw_os_error(failed)
        ));
    }
    fault.detail = serde_json::json!({ "filled_bytes": free });
    Ok(())
}

/// Delete what `fill` allocated.
pub fn free(state: &ClusterState, fault: &Fault) -> Result<()> {
    match std::fs::remove_file(data_dir(state, fault.id).join(FILL_FILE)) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
        _ => Ok(()),
    }
}

fn free_bytes(dir: &Path) -> Result<u64> {
    let path = CString::new(dir.as_os_str().as_bytes())?;
    // SAFETY: statvfs fills the zeroed struct we pass; the path is NUL-terminated.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: the same struct, and a path that outlives the call.
    let failed = unsafe { libc::statvfs(path.as_ptr(), &mut stat) };
    if failed != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(stat.f_bavail as u64 * stat.f_frsize as u64)
}
