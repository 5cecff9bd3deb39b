//! `ktopic offsets`: each partition's low and high watermark, or the offset at a time.

use anyhow::{anyhow, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;

use kcore::table::Table;
use kcore::{Connection, Failure, QuietContext};

use crate::cli::OffsetsArgs;
use crate::snapshot::Snapshot;

pub fn offsets(connection: &Connection, args: &OffsetsArgs) -> Result<()> {
    let topic = args.topic.as_str();
    // A consumer without a group: it only asks, it never joins or commits.
    let consumer: BaseConsumer<QuietContext> = connection.create(
        &[("enable.auto.commit", "false")],
        QuietContext::new("ktopic", connection.verbose),
    )?;
    let snapshot = Snapshot::fetch(consumer.client(), connection)?;
    // For -v: what librdkafka logged while we asked, however this ends.
    struct ServeOnDrop<'a>(&'a BaseConsumer<QuietContext>);
    impl Drop for ServeOnDrop<'_> {
        fn drop(&mut self) {
            kcore::admin::serve_events(self.0.client(), std::time::Duration::ZERO);
        }
    }
    let _serve = ServeOnDrop(&consumer);
    let partitions: Vec<i32> = snapshot
        .topics
        .get(topic)
        .ok_or_else(|| Failure::not_found(format!("unknown topic '{topic}'")))?
        .partitions
        .iter()
        .map(|p| p.id)
        .collect();

    let mut watermarks = Vec::with_capacity(partitions.len());
    for &partition in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, connection.timeout)
            .map_err(|err| anyhow!("cannot read the offsets of {topic}/{partition}: {err}"))?;
        watermarks.push((partition, low, high));
    }

    let lines = match args.at {
        None => watermarks
            .iter()
            .map(|&(partition, low, high)| json!({"topic": topic, "partition": partition, "low": low, "high": high}))
            .collect::<Vec<_>>(),
        Some(timestamp) => {
            let mut request = TopicPartitionList::new();
            for &partition in &partitions {
                request
                    .add_partition_offset(topic, partition, Offset::Offset(timestamp))
                    .map_err(|err| anyhow!("cannot ask for {topic}/{partition}: {err}"))?;
            }
            let answer = consumer
                .offsets_for_times(request, connection.timeout)
                .map_err(|err| anyhow!("cannot look up offsets by time in topic '{topic}': {err}"))?;
            let mut lines = Vec::with_capacity(watermarks.len());
            for &(partition, _, high) in &watermarks {
                let element = answer
                    .find_partition(topic, partition)
                    .ok_or_else(|| anyhow!("no answer for {topic}/{partition} from the offsets-by-time lookup"))?;
                element.error().map_err(|err| anyhow!("cannot look up {topic}/{partition} by time: {err}"))?;
                let offset = offset_at(element.offset(), high);
                lines.push(json!({"topic": topic, "partition": partition, "timestamp": timestamp, "offset": offset}));
            }
            lines
        }
    };
    let table = args.table.then(|| Table::from_json_lines(&lines));
    kcore::output::print(&lines, table)
}

/// The broker's answer to "first offset with a timestamp at or after T": that offset, or,
/// when no record is that recent (librdkafka's -1, "end"), the high watermark: the offset
/// the next record gets, so a consumer starting there misses nothing from T on.
fn offset_at(answer: Offset, high: i64) -> i64 {
    match answer {
        Offset::Offset(offset) if offset >= 0 => offset,
        _ => high,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_record_that_recent_means_the_high_watermark() {
        assert_eq!(offset_at(Offset::Offset(7), 10), 7);
        assert_eq!(offset_at(Offset::End, 10), 10);
        assert_eq!(offset_at(Offset::Offset(-1), 10), 10);
    }
}
