//! The low and high watermarks of every partition read, asked in two requests per broker
//! (ListOffsets for the earliest, then for the latest offsets of all its partitions), not
//! two per partition: asked one by one, the round trips grew with the partitions (BENCHMARKS.md,
//! "kcons -e: sparse and wide topics"). The high watermark is the consumer's (read_committed:
//! the last stable offset).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kcore::QuietContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};

/// (low, high) per (topic, partition).
pub type Watermarks = HashMap<(String, i32), (i64, i64)>;

/// How long to wait before asking again a partition whose leader cannot answer yet.
const AGAIN_AFTER: Duration = Duration::from_millis(100);

/// The watermarks of `partitions`. Right after a topic is created or its leader changes,
/// the leader may answer that its high watermark is not caught up yet
/// (OFFSET_NOT_AVAILABLE), or there is no leader yet: asked again until `timeout` has passed.
pub fn of(
    consumer: &BaseConsumer<QuietContext>,
    partitions: &[(String, i32)],
    timeout: Duration,
) -> KafkaResult<Watermarks> {
    if partitions.is_empty() {
        return Ok(Watermarks::new());
    }
    let deadline = Instant::now() + timeout;
    let lows = ask(consumer, partitions, Offset::Beginning, deadline)?;
    let highs = ask(consumer, partitions, Offset::End, deadline)?;
    Ok(partitions
        .iter()
        .map(|(t, p)| {
            let key = (t.clone(), *p);
            let low = lows.get(&key).copied().unwrap_or(0);
            let high = highs.get(&key).copied().unwrap_or(low);
            (key, (low, high))
        })
        .collect())
}

/// One ListOffsets round (earliest or latest) for every partition; librdkafka groups them
/// by leader (a timestamp of -2 or -1 in the request asks for the earliest or latest offset).
fn ask(
    consumer: &BaseConsumer<QuietContext>,
    partitions: &[(String, i32)],
    which: Offset,
    deadline: Instant,
) -> KafkaResult<HashMap<(String, i32), i64>> {
    let mut asked = TopicPartitionList::with_capacity(partitions.len());
    for (topic, p) in partitions {
        asked.add_partition_offset(topic, *p, which)?;
    }
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match consumer.offsets_for_times(asked.clone(), left) {
            Ok(answer) => {
                return Ok(answer
                    .elements()
                    .iter()
                    .filter_map(|e| match e.offset() {
                        Offset::Offset(n) => Some(((e.topic().to_string(), e.partition()), n)),
                        _ => None,
                    })
                    .collect())
            }
            Err(KafkaError::MetadataFetch(
                RDKafkaErrorCode::OffsetNotAvailable
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::NotLeaderForPartition
                | RDKafkaErrorCode::FencedLeaderEpoch
                | RDKafkaErrorCode::UnknownLeaderEpoch,
            )) if Instant::now() + AGAIN_AFTER < deadline => std::thread::sleep(AGAIN_AFTER),
            Err(err) => return Err(err),
        }
    }
}
