//! kprod's progress line on stderr (drawn by `kcore::progress`): records read, delivered,
//! in flight (queued, being sent or retried), failed, and the rates; then one summary line.
//!
//! The counters are kept by the loops that do the work anyway: the reading loop publishes
//! its own once per chunk of input (thousands of lines), the delivery callback counts its
//! reports. The line is made from them by the progress thread, at most ten times a second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kcore::progress::{self, Line, Mode, Rate, Status};

#[derive(Default)]
pub struct Counters {
    /// Input lines taken so far (bad ones included) and their bytes.
    pub lines: AtomicU64,
    pub bytes: AtomicU64,
    /// Records handed to librdkafka.
    pub sent: AtomicU64,
    /// Delivery reports so far, and the failed ones among them.
    pub reports: AtomicU64,
    pub failed: AtomicU64,
}

impl Counters {
    /// The reading loop's counts, once per chunk of input.
    pub fn publish(&self, lines: u64, bytes: u64, sent: u64) {
        self.lines.store(lines, Ordering::Relaxed);
        self.bytes.store(bytes, Ordering::Relaxed);
        self.sent.store(sent, Ordering::Relaxed);
    }

    fn get(&self, counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn delivered(&self) -> u64 {
        self.get(&self.reports)
            .saturating_sub(self.get(&self.failed))
    }
}

/// Start the line (or nothing, as `mode` says).
pub fn start(mode: Mode, counters: &Arc<Counters>) -> Status {
    let counters = Arc::clone(counters);
    let mut records = Rate::default();
    let mut bytes = Rate::default();
    Status::start("kprod", mode, move |_| {
        let c = &counters;
        let delivered = c.delivered();
        let in_flight = c.get(&c.sent).saturating_sub(c.get(&c.reports));
        // Dropped first on a narrow terminal: the byte rate, what is in flight, the rate.
        Line::new()
            .part("", format!("{} read", progress::count(c.get(&c.lines))), 7)
            .part(", ", format!("{} delivered", progress::count(delivered)), 9)
            .part(", ", format!("{} in flight", progress::count(in_flight)), 4)
            .part(
                ", ",
                format!("{} failed", progress::count(c.get(&c.failed))),
                8,
            )
            .maybe(
                "; ",
                records
                    .per_second(delivered)
                    .map(|r| format!("{} records/s", progress::rate(r))),
                5,
            )
            .maybe(
                ", ",
                bytes
                    .per_second(c.get(&c.bytes))
                    .map(progress::megabytes_per_second),
                3,
            )
    })
}

/// The line that replaces the live one at the end.
pub fn summary(counters: &Counters, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64().max(0.001);
    let delivered = counters.delivered();
    let plural = if delivered == 1 { "" } else { "s" };
    let mut line = format!(
        "delivered {} record{plural} in {} ({} records/s, {})",
        progress::count(delivered),
        progress::duration(elapsed),
        progress::rate(delivered as f64 / seconds),
        progress::megabytes_per_second(counters.get(&counters.bytes) as f64 / seconds),
    );
    let failed = counters.get(&counters.failed);
    if failed > 0 {
        line.push_str(&format!("; {} failed", progress::count(failed)));
    }
    line
}
