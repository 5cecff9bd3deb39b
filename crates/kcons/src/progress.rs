//! `-e`: which partitions have reached the end offsets taken at start.

use std::collections::HashSet;

use kcore::QuietContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::Offset;

#[derive(Clone, Copy)]
struct End {
    low: i64,
    high: i64,
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
        EndTracker { enabled, topics: Vec::new(), assigned: None }
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
        ends[slot] = Some(End { low, high, done: high <= low });
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
            if start >= end.high {
                end.done = true;
            }
        }
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
            if let Some(end) = self.topics[0].1.get_mut(partition as usize).and_then(Option::as_mut) {
                end.done = true;
            }
        }
    }

    /// Group mode: remember which partitions this member owns.
    pub fn track_assignment(&mut self, consumer: &BaseConsumer<QuietContext>) {
        if let Ok(tpl) = consumer.assignment() {
            self.assigned =
                Some(tpl.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect());
        }
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
            None => self.topics.iter().all(|(_, ends)| ends.iter().flatten().all(|end| end.done)),
        }
    }
}
