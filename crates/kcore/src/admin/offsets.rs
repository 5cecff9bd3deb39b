//! ListOffsets: the earliest or latest offset of partitions, or the first offset at a time.

use std::time::Duration;

use anyhow::Result;
use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};

use super::{no_options, read_partition, slice, submit, PartitionList, PartitionOffset, Pending};

/// Which offset of a partition to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The first offset still kept (the log start).
    Earliest,
    /// The offset the next record gets (the high watermark).
    Latest,
    /// The first offset whose record's timestamp is at or after this many ms since 1970;
    /// the answer is -1 when no record is that recent.
    AtTime(i64),
}

impl OffsetSpec {
    fn code(self) -> i64 {
        match self {
            OffsetSpec::Earliest => rd::rd_kafka_OffsetSpec_t::RD_KAFKA_OFFSET_SPEC_EARLIEST as i64,
            OffsetSpec::Latest => rd::rd_kafka_OffsetSpec_t::RD_KAFKA_OFFSET_SPEC_LATEST as i64,
            OffsetSpec::AtTime(ms) => ms,
        }
    }
}

/// A ListOffsets request in flight.
pub struct PendingOffsets(Pending);

impl PendingOffsets {
    /// One entry per partition asked for, each with its offset or its own failure.
    pub fn wait(self) -> Result<Vec<PartitionOffset>> {
        let event = self.0.wait()?;
        // SAFETY: the event is a ListOffsets result, alive while we read it.
        unsafe {
            let result = rd::rd_kafka_event_ListOffsets_result(event.ptr());
            let mut count = 0usize;
            let infos = rd::rd_kafka_ListOffsets_result_infos(result, &mut count);
            Ok(slice(infos as *const _, count)
                .iter()
                .filter_map(|&info| {
                    let partition = rd::rd_kafka_ListOffsetsResultInfo_topic_partition(info);
                    (!partition.is_null()).then(|| read_partition(&*partition))
                })
                .collect())
        }
    }
}

/// Ask for one offset of each partition (`(topic, partition)`, each at most once).
pub fn submit_list_offsets<C: ClientContext>(
    client: &Client<C>,
    partitions: &[(String, i32)],
    spec: OffsetSpec,
    timeout: Duration,
) -> Result<PendingOffsets> {
    let list = PartitionList::of(
        partitions
            .iter()
            .map(|(topic, partition)| (topic.clone(), *partition, spec.code())),
    )?;
    let pending = submit(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTOFFSETS,
        rd::RD_KAFKA_EVENT_LISTOFFSETS_RESULT,
        timeout,
        no_options,
        |rk, options, queue| {
            // SAFETY: live handles; librdkafka copies the list.
            unsafe { rd::rd_kafka_ListOffsets(rk, list.ptr(), options, queue) }
        },
    )?;
    Ok(PendingOffsets(pending))
}

/// [`submit_list_offsets`], waited for.
pub fn list_offsets<C: ClientContext>(
    client: &Client<C>,
    partitions: &[(String, i32)],
    spec: OffsetSpec,
    timeout: Duration,
) -> Result<Vec<PartitionOffset>> {
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    submit_list_offsets(client, partitions, spec, timeout)?.wait()
}
