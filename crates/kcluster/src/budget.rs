//! A command's time budget (`--timeout`): every wait of the command draws on it.

use std::time::{Duration, Instant};

/// How long a command may wait in all (`--timeout`), counted from its start.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub started: Instant,
    pub timeout: Duration,
}

impl Budget {
    pub fn new(timeout_secs: f64) -> Budget {
        Budget {
            started: Instant::now(),
            timeout: Duration::from_secs_f64(timeout_secs.max(0.0)),
        }
    }

    pub fn expired(&self) -> bool {
        self.started.elapsed() >= self.timeout
    }

    /// What is left of it (zero once expired).
    pub fn remaining(&self) -> Duration {
        self.timeout.saturating_sub(self.started.elapsed())
    }
}
