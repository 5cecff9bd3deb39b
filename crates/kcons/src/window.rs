//! `--until TIME`: each partition ends at its first record (in offset order) whose timestamp
//! is at or after TIME; that record is not printed. With a start time (`-o TIME`) this is a
//! window: the start is included, the end excluded, `[start, until)`.
//!
//! Where the stop is, is asked of the brokers at start (the same time index `-o TIME` uses,
//! so a window reads only the window): a partition whose start is already there is done at
//! once. A partition with no record at or after TIME yet is read on (new records arrive)
//! until one comes, or, once the clock has passed TIME, until it has been read to its end.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use kcore::{Failure, QuietContext};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

/// How often partitions are checked against their stops and ends (positions are asked of
/// librdkafka: not on every 100 ms tick).
const CHECK_EVERY: Duration = Duration::from_millis(200);

#[derive(Default)]
struct Part {
    /// The first offset whose record is at or after TIME, when the brokers know one.
    stop: Option<i64>,
    /// Where reading starts, as assigned (before any record, the position is not known).
    start: Option<Offset>,
    done: bool,
}

pub struct Window {
    until: Option<i64>,
    parts: HashMap<(String, i32), Part>,
    checked: Option<Instant>,
}

impl Window {
    pub fn new(until: Option<i64>) -> Window {
        Window {
            until,
            parts: HashMap::new(),
            checked: None,
        }
    }

    pub fn enabled(&self) -> bool {
        self.until.is_some()
    }

    fn part(&mut self, topic: &str, partition: i32) -> &mut Part {
        self.parts
            .entry((topic.to_string(), partition))
            .or_default()
    }

    /// Ask the brokers where each partition's window ends, and note where reading starts
    /// (`assignment`, the resolved start offsets): a partition starting there is done.
    pub fn look_up_stops(
        &mut self,
        consumer: &BaseConsumer<QuietContext>,
        assignment: &TopicPartitionList,
        timeout: Duration,
    ) -> Result<()> {
        let Some(until) = self.until else {
            return Ok(());
        };
        if assignment.count() == 0 {
            return Ok(());
        }
        let mut asked = TopicPartitionList::new();
        for e in assignment.elements() {
            asked.add_partition_offset(e.topic(), e.partition(), Offset::Offset(until))?;
            self.part(e.topic(), e.partition()).start = Some(e.offset());
        }
        let stops = consumer.offsets_for_times(asked, timeout).map_err(|err| {
            Failure::unreachable(format!("looking up offsets for --until: {err}"))
        })?;
        for e in stops.elements() {
            let part = self.part(e.topic(), e.partition());
            if let Offset::Offset(stop) = e.offset() {
                if stop >= 0 {
                    part.stop = Some(stop);
                    if matches!(part.start, Some(Offset::Offset(start)) if start >= stop) {
                        part.done = true;
                    }
                }
            }
        }
        self.pause_done(consumer);
        Ok(())
    }

    /// Whether a record is inside the window. The first at or after TIME ends its partition
    /// (which is paused: nothing more of it is fetched).
    pub fn wants(
        &mut self,
        consumer: &BaseConsumer<QuietContext>,
        topic: &str,
        partition: i32,
        offset: i64,
        timestamp: Option<i64>,
    ) -> bool {
        let Some(until) = self.until else {
            return true;
        };
        let part = self.part(topic, partition);
        if part.done {
            return false;
        }
        let past = timestamp.is_some_and(|t| t >= until) || part.stop.is_some_and(|s| offset >= s);
        if past {
            part.done = true;
            pause(consumer, topic, partition);
        }
        !past
    }

    /// On the poll loop's tick: partitions whose position reached their stop, and once the
    /// clock has passed TIME, partitions read to their end, are done.
    pub fn check(&mut self, consumer: &BaseConsumer<QuietContext>) {
        let Some(until) = self.until else {
            return;
        };
        if self.checked.is_some_and(|at| at.elapsed() < CHECK_EVERY) {
            return;
        }
        self.checked = Some(Instant::now());
        let Ok(positions) = consumer.position() else {
            return;
        };
        let passed = kcore::time::parse_time("now").is_ok_and(|now| now >= until);
        for e in positions.elements() {
            let (topic, partition) = (e.topic(), e.partition());
            let part = self.part(topic, partition);
            if part.done {
                continue;
            }
            let position = match (e.offset(), part.start) {
                (Offset::Offset(n), _) | (_, Some(Offset::Offset(n))) if n >= 0 => Some(n),
                _ => None,
            };
            if let (Some(position), Some(stop)) = (position, part.stop) {
                if position >= stop {
                    part.done = true;
                    continue;
                }
            }
            if passed {
                // The watermarks of the last fetch: a request would wait behind the fetch
                // long-polling on the same connection (0.9 s for 5 partitions, measured).
                if let Some((low, high)) =
                    crate::status::cached_watermarks(consumer, topic, partition)
                {
                    // Before its first record, a partition is where it starts: the end for a
                    // start time with no record that recent.
                    let at = position.unwrap_or(match part.start {
                        Some(Offset::End) => high,
                        Some(Offset::OffsetTail(n)) => (high - n).max(low),
                        _ => low,
                    });
                    if at >= high {
                        part.done = true;
                    }
                }
            }
        }
        self.pause_done(consumer);
    }

    /// True once every partition assigned to this consumer is done, by `--until` or by
    /// `also_done` (`-e`'s end offsets).
    pub fn all_done(
        &self,
        consumer: &BaseConsumer<QuietContext>,
        also_done: impl Fn(&str, i32) -> bool,
    ) -> bool {
        if self.until.is_none() {
            return false;
        }
        let Ok(assignment) = consumer.assignment() else {
            return false;
        };
        assignment.count() > 0
            && assignment.elements().iter().all(|e| {
                let key = (e.topic().to_string(), e.partition());
                self.parts.get(&key).is_some_and(|p| p.done) || also_done(e.topic(), e.partition())
            })
    }

    fn pause_done(&self, consumer: &BaseConsumer<QuietContext>) {
        for ((topic, partition), part) in &self.parts {
            if part.done {
                pause(consumer, topic, *partition);
            }
        }
    }
}

/// Stop fetching a partition that is done (a pause of one that is not assigned does nothing).
fn pause(consumer: &BaseConsumer<QuietContext>, topic: &str, partition: i32) {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    let _ = consumer.pause(&tpl);
}
