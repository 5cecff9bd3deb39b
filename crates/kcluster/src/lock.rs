//! One kcluster at a time per cluster: parallel tests may all call `kcluster up`.

use std::fs::{self, File};
use std::os::unix::io::AsRawFd;

use anyhow::{Context, Result};

/// An exclusive `flock` on the cluster's lock file, released on drop.
pub struct ClusterLock {
    _file: File,
}

impl ClusterLock {
    pub fn acquire(name: &str) -> Result<Self> {
        // The lock lives beside the cluster directory, which `down` deletes.
        let dir = kcore::state::clusters_dir();
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!(".{name}.lock"));
        let file = File::create(&path).with_context(|| format!("opening {}", path.display()))?;
        // SAFETY: flock on a descriptor we own; blocks until the other kcluster is done.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error()).context("locking the cluster");
        }
        Ok(ClusterLock { _file: file })
    }
}
