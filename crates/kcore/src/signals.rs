//! SIGINT and SIGTERM as a flag the tools poll, so they can finish cleanly
//! (flush the producer, commit what was written). A second signal ends the
//! process at once with status 130.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};

#[derive(Clone)]
pub struct Interrupt {
    flag: Arc<AtomicBool>,
}

impl Interrupt {
    /// Install the handlers. Call once, early in `main`.
    pub fn install() -> Result<Self> {
        let flag = Arc::new(AtomicBool::new(false));
        for signal in [SIGINT, SIGTERM] {
            // Registered first, so it sees the flag as the earlier signal left it.
            signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&flag))
                .context("installing signal handlers")?;
            signal_hook::flag::register(signal, Arc::clone(&flag))
                .context("installing signal handlers")?;
        }
        Ok(Interrupt { flag })
    }

    /// True once SIGINT or SIGTERM has arrived.
    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}
