//! kcons's progress line on stderr (drawn by `kcore::progress`): records written and the
//! rates; with `-e` or `-c` how far to the end (percent of the offsets known from the end
//! offsets taken at start, or of the count) and when it will be reached; without them,
//! how far behind the end of the partitions consumption is. Then one summary line.
//!
//! The poll loop publishes its counts on its 100 ms tick, never per record; the
//! consumer's positions and the high watermarks librdkafka already holds are read then
//! too, a few times a second, and only while progress is shown.

use std::ffi::CString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kcore::progress::{self, Line, Mode, Rate, Status};
use kcore::QuietContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::Offset;

use crate::ends::EndTracker;
use crate::writer::RecordWriter;

/// How often positions and watermarks are looked at.
const OBSERVE_EVERY: Duration = Duration::from_millis(100);
/// `behind` when it is not known (yet).
const UNKNOWN: u64 = u64::MAX;

pub struct Counters {
    records: AtomicU64,
    bytes: AtomicU64,
    /// `-e`: offsets consumed of those between the starts and the ends taken at start.
    covered: AtomicU64,
    total: AtomicU64,
    /// Without `-e`: records between the positions and the partitions' ends.
    behind: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            covered: AtomicU64::new(0),
            total: AtomicU64::new(0),
            behind: AtomicU64::new(UNKNOWN),
        }
    }
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

fn set(counter: &AtomicU64, value: u64) {
    counter.store(value, Ordering::Relaxed)
}

/// The poll loop's side: publishes what it knows on its tick.
pub struct Observer {
    counters: Arc<Counters>,
    /// False while no progress is shown: then nothing is looked up.
    enabled: bool,
    exit_at_end: bool,
    looked: Option<Instant>,
}

impl Observer {
    pub fn new(counters: &Arc<Counters>, enabled: bool, exit_at_end: bool) -> Observer {
        Observer {
            counters: Arc::clone(counters),
            enabled,
            exit_at_end,
            looked: None,
        }
    }

    /// The counts of records and bytes written (cheap: two stores).
    pub fn written(&self, writer: &RecordWriter) {
        set(&self.counters.records, writer.records());
        set(&self.counters.bytes, writer.written_bytes());
    }

    /// `-e`: how much there is to read, as soon as the starts are known (a group's once
    /// its partitions are assigned: then on the tick).
    pub fn starting(&self, ends: &EndTracker) {
        if self.enabled && self.exit_at_end {
            let (_, total) = ends.covered(&rdkafka::TopicPartitionList::new());
            set(&self.counters.total, total);
        }
    }

    /// On the poll loop's tick: the counts, and now and then how far to the end.
    pub fn tick(
        &mut self,
        consumer: &BaseConsumer<QuietContext>,
        writer: &RecordWriter,
        ends: &EndTracker,
    ) {
        if !self.enabled {
            return;
        }
        self.written(writer);
        if self.looked.is_some_and(|at| at.elapsed() < OBSERVE_EVERY) {
            return;
        }
        self.looked = Some(Instant::now());
        let Ok(positions) = consumer.position() else {
            return;
        };
        if self.exit_at_end {
            let (covered, total) = ends.covered(&positions);
            set(&self.counters.covered, covered);
            set(&self.counters.total, total);
            return;
        }
        let mut behind = None;
        for e in positions.elements() {
            let Offset::Offset(at) = e.offset() else {
                continue;
            };
            if let Some(high) = cached_high_watermark(consumer, e.topic(), e.partition()) {
                *behind.get_or_insert(0) += (high - at).max(0) as u64;
            }
        }
        set(&self.counters.behind, behind.unwrap_or(UNKNOWN));
    }
}

/// The high watermark librdkafka learnt from its last fetch of the partition (no request).
fn cached_high_watermark(
    consumer: &BaseConsumer<QuietContext>,
    topic: &str,
    partition: i32,
) -> Option<i64> {
    cached_watermarks(consumer, topic, partition).map(|(_, high)| high)
}

/// The low and high watermarks librdkafka learnt from its last fetch of the partition (no
/// request: one would wait behind the fetch that is long-polling on the same connection).
pub fn cached_watermarks(
    consumer: &BaseConsumer<QuietContext>,
    topic: &str,
    partition: i32,
) -> Option<(i64, i64)> {
    let topic = CString::new(topic).ok()?;
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: a live client handle, a NUL-terminated topic name, two i64s to write into;
    // rd_kafka_get_watermark_offsets only reads librdkafka's own cached state.
    let err = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
        .then_some((low.max(0), high))
}

/// Start the line (or nothing, as `mode` says). `exit_at_end` and `count` are `-e` and `-c`.
pub fn start(
    mode: Mode,
    counters: &Arc<Counters>,
    exit_at_end: bool,
    count: Option<u64>,
) -> Status {
    let counters = Arc::clone(counters);
    let (mut records_rate, mut bytes_rate, mut fraction_rate) =
        (Rate::default(), Rate::default(), Rate::default());
    Status::start("kcons", mode, move |_| {
        let c = &counters;
        let records = get(&c.records);
        // Dropped first on a narrow terminal: the byte rate, then the record rate.
        let mut line = Line::new()
            .part("", format!("{} records", progress::count(records)), 9)
            .maybe(
                "; ",
                records_rate
                    .per_second(records)
                    .map(|r| format!("{} records/s", progress::rate(r))),
                5,
            )
            .maybe(
                ", ",
                bytes_rate
                    .per_second(get(&c.bytes))
                    .map(progress::megabytes_per_second),
                4,
            );
        let total = get(&c.total);
        let by_offsets =
            (exit_at_end && total > 0).then(|| (get(&c.covered) as f64 / total as f64, total));
        let by_count = count.map(|n| (records as f64 / n as f64, n));
        let towards_end = match (by_offsets, by_count) {
            (Some(a), Some(b)) => Some((a.0.max(b.0), a.1.min(b.1))),
            (a, b) => a.or(b),
        };
        if let Some((fraction, of)) = towards_end {
            let fraction = fraction.min(1.0);
            // The fraction in billionths, as a growing count.
            let per_second = fraction_rate
                .per_second((fraction * 1e9) as u64)
                .map(|r| r / 1e9);
            // No ETA until there is a rate to tell it from (never "ETA ?").
            let eta = per_second.filter(|r| *r > 0.0).map(|per_second| {
                let left = ((1.0 - fraction) / per_second).min(360_000.0);
                format!("ETA {}", progress::duration(Duration::from_secs_f64(left)))
            });
            line = line
                .part(
                    "; ",
                    format!(
                        "{:.0}% of {} to the end",
                        fraction * 100.0,
                        progress::count(of)
                    ),
                    8,
                )
                .maybe(", ", eta, 7);
        } else if !exit_at_end && count.is_none() {
            match get(&c.behind) {
                UNKNOWN => {}
                0 => line = line.part("; ", "at the end", 8),
                behind => {
                    line = line.part(
                        "; ",
                        format!("{} behind the end", progress::count(behind)),
                        8,
                    )
                }
            }
        }
        line
    })
}

/// The line that replaces the live one at the end.
pub fn summary(counters: &Counters, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64().max(0.001);
    let records = get(&counters.records);
    let plural = if records == 1 { "" } else { "s" };
    format!(
        "wrote {} record{plural} in {} ({} records/s, {})",
        progress::count(records),
        progress::duration(elapsed),
        progress::rate(records as f64 / seconds),
        progress::megabytes_per_second(get(&counters.bytes) as f64 / seconds),
    )
}
