//! `-e`: which partitions have reached the end offsets taken at start, and how much of
//! the way there consumption has come (for the progress line).

use std::collections::HashSet;
use std::time::Duration;

use kcore::QuietContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaResult;
use rdkafka::{Offset, TopicPartitionList};

#[derive(Clone, Copy)]
struct End {
    low: i64,
    high: i64,
    /// Where consumption starts, once known.
    start: Option<i64>,
    done: bool,
}

/// Per topic, per partition: the end to reach. Disabled (never done) without `-e`.
pub struct EndTracker {
    enabled: bool,
    topics: Vec<(String, Vec<Option<End>>)>,
    /// Group mode: the partitions assigned to this member, once known.
    assigned: Option<HashSet<(String, i32)>>,
}

impl EndTracker {
    pub fn new(enabled: bool) -> Self {
        EndTracker {
            enabled,
            topics: Vec::new(),
            assigned: None,
        }
    }

    fn end(&self, topic: &str, partition: i32) -> Option<End> {
        let (_, ends) = self.topics.iter().find(|(t, _)| t == topic)?;
        ends.get(usize::try_from(partition).ok()?)
            .copied()
            .flatten()
    }

    fn end_mut(&mut self, topic: &str, partition: i32) -> Option<&mut End> {
        let (_, ends) = self.topics.iter_mut().find(|(t, _)| t == topic)?;
        ends.get_mut(usize::try_from(partition).ok()?)?.as_mut()
    }

    /// The partition's watermarks at start; an empty partition is done at once.
    pub fn expect(&mut self, topic: &str, partition: i32, low: i64, high: i64) {
        let index = match self.topics.iter().position(|(t, _)| t == topic) {
            Some(index) => index,
            None => {
                self.topics.push((topic.to_string(), Vec::new()));
                self.topics.len() - 1
            }
        };
        let ends = &mut self.topics[index].1;
        let slot = partition as usize;
        if ends.len() <= slot {
            ends.resize(slot + 1, None);
        }
        ends[slot] = Some(End {
            low,
            high,
            start: None,
            done: high <= low,
        });
    }

    /// Where consumption of a partition starts: at or past the end, it is done at once.
    pub fn starts_at(&mut self, topic: &str, partition: i32, start: Offset) {
        if let Some(end) = self.end_mut(topic, partition) {
            let start = match start {
                Offset::Beginning => end.low,
                Offset::End => end.high,
                Offset::Offset(n) => n,
                Offset::OffsetTail(n) => (end.high - n).max(end.low),
                _ => end.low,
            };
            end.start = Some(start.clamp(end.low, end.high.max(end.low)));
            if start >= end.high {
                end.done = true;
            }
        }
    }

    /// The part of `assignment` still to read: without the partitions already done, and
    /// each starting at its start offset where that is known (librdkafka then fetches at
    /// once, without looking up where `beginning` or `end` is).
    pub fn left_to_read(&self, assignment: &TopicPartitionList) -> KafkaResult<TopicPartitionList> {
        if !self.enabled {
            return Ok(assignment.clone());
        }
        let mut left = TopicPartitionList::with_capacity(assignment.count());
        for e in assignment.elements() {
            let (topic, partition) = (e.topic(), e.partition());
            let offset = match self.end(topic, partition) {
                Some(end) if end.done => continue,
                Some(End {
                    start: Some(start), ..
                }) => Offset::Offset(start),
                _ => e.offset(),
            };
            left.add_partition_offset(topic, partition, offset)?;
        }
        Ok(left)
    }

    /// False for records past the end taken at start (they arrived after kcons started).
    pub fn wants(&mut self, topic: &str, partition: i32, offset: i64) -> bool {
        if !self.enabled {
            return true;
        }
        match self.end_mut(topic, partition) {
            Some(end) if offset >= end.high => {
                end.done = true;
                false
            }
            _ => true,
        }
    }

    pub fn consumed(&mut self, topic: &str, partition: i32, offset: i64) {
        if let Some(end) = self.end_mut(topic, partition) {
            if offset + 1 >= end.high {
                end.done = true;
            }
        }
    }

    /// librdkafka reached the end of partition `partition` (of some topic: the event
    /// does not say which). Trustworthy when one topic is consumed; with several, the
    /// offsets alone decide, which only matters when the log ends in a transaction marker.
    pub fn reached_eof(&mut self, partition: i32) {
        if self.topics.len() == 1 {
            if let Some(end) = self.topics[0]
                .1
                .get_mut(partition as usize)
                .and_then(Option::as_mut)
            {
                end.done = true;
            }
        }
    }

    /// Group mode: remember which partitions this member owns, and where each newly
    /// assigned one starts (the group's committed offset; where there is none, the end
    /// with `-o end`, else the beginning), so that one starting at its end is done at
    /// once, without waiting for an end-of-partition event.
    pub fn track_assignment(
        &mut self,
        consumer: &BaseConsumer<QuietContext>,
        at_end: bool,
        timeout: Duration,
    ) {
        let Ok(tpl) = consumer.assignment() else {
            return;
        };
        let now: HashSet<(String, i32)> = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition()))
            .collect();
        let mut new = TopicPartitionList::new();
        for (topic, partition) in &now {
            if !self
                .assigned
                .as_ref()
                .is_some_and(|before| before.contains(&(topic.clone(), *partition)))
            {
                new.add_partition(topic, *partition);
            }
        }
        if new.count() > 0 {
            if let Ok(committed) = consumer.committed_offsets(new, timeout) {
                for e in committed.elements() {
                    let start = match e.offset() {
                        Offset::Offset(n) => Offset::Offset(n),
                        _ if at_end => Offset::End,
                        _ => Offset::Beginning,
                    };
                    self.starts_at(e.topic(), e.partition(), start);
                }
            }
        }
        self.assigned = Some(now);
    }

    /// Partitions whose consumer position has reached the end taken at start are done:
    /// this sees past a log that ends in records that are never delivered (transaction
    /// markers), whichever topic they are in.
    pub fn check_positions(&mut self, consumer: &BaseConsumer<QuietContext>) {
        let Ok(positions) = consumer.position() else {
            return;
        };
        for e in positions.elements() {
            if let Offset::Offset(position) = e.offset() {
                if let Some(end) = self.end_mut(e.topic(), e.partition()) {
                    if position >= end.high {
                        end.done = true;
                    }
                }
            }
        }
    }

    /// How far consumption has come towards the ends taken at start, in offsets: (covered,
    /// total) over the partitions whose start is known (this member's, in a group), with
    /// the consumer's positions (the next offset of each partition it reads).
    pub fn covered(&self, positions: &TopicPartitionList) -> (u64, u64) {
        let (mut covered, mut total) = (0u64, 0u64);
        for (topic, ends) in &self.topics {
            for (partition, end) in ends.iter().enumerate() {
                let Some(end) = end else { continue };
                let Some(start) = end.start else { continue };
                let owned = self
                    .assigned
                    .as_ref()
                    .is_none_or(|assigned| assigned.contains(&(topic.clone(), partition as i32)));
                if !owned || end.high <= start {
                    continue;
                }
                let span = (end.high - start) as u64;
                total += span;
                covered += if end.done {
                    span
                } else {
                    match positions
                        .find_partition(topic, partition as i32)
                        .map(|e| e.offset())
                    {
                        Some(Offset::Offset(at)) => (at.clamp(start, end.high) - start) as u64,
                        _ => 0,
                    }
                };
            }
        }
        (covered, total)
    }

    /// Whether `-e` is done with this partition (never without `-e`).
    pub fn is_done(&self, topic: &str, partition: i32) -> bool {
        self.enabled
            && self
                .topics
                .iter()
                .find(|(t, _)| t == topic)
                .and_then(|(_, ends)| {
                    ends.get(usize::try_from(partition).ok()?)
                        .copied()
                        .flatten()
                })
                .is_some_and(|end| end.done)
    }

    pub fn all_done(&self) -> bool {
        if !self.enabled {
            return false;
        }
        let done = |topic: &str, partition: i32| {
            self.topics
                .iter()
                .find(|(t, _)| t == topic)
                .and_then(|(_, ends)| ends.get(partition as usize).copied().flatten())
                .is_none_or(|end| end.done)
        };
        match &self.assigned {
            // Group mode: done once this member owns partitions and all of them are done.
            Some(assigned) => !assigned.is_empty() && assigned.iter().all(|(t, p)| done(t, *p)),
            None => self
                .topics
                .iter()
                .all(|(_, ends)| ends.iter().flatten().all(|end| end.done)),
        }
    }
}
