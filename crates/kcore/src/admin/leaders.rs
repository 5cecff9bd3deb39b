//! ElectLeaders: move each partition's leadership to its preferred replica (the first in
//! its replica list), or, unclean, to any live replica even if it is not in sync.

use std::time::Duration;

use anyhow::Result;
use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};

use super::topics::operation_timeout;
use super::{slice, submit, AdminError, Owned, PartitionList};

/// Which election to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Election {
    /// Give leadership back to the preferred replica, where it is alive and in sync.
    Preferred,
    /// Elect any live replica, in sync or not: records the old leader had may be lost.
    Unclean,
}

/// One partition's outcome: `None` when the election happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectionResult {
    pub topic: String,
    pub partition: i32,
    pub error: Option<AdminError>,
}

/// Hold an election for these partitions (each at most once) and wait for the answer.
pub fn elect_leaders<C: ClientContext>(
    client: &Client<C>,
    election: Election,
    partitions: &[(String, i32)],
    timeout: Duration,
) -> Result<Vec<ElectionResult>> {
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let list = PartitionList::of(partitions.iter().map(|(t, p)| (t.clone(), *p, -1)))?;
    let kind = match election {
        Election::Preferred => rd::rd_kafka_ElectionType_t::RD_KAFKA_ELECTION_TYPE_PREFERRED,
        Election::Unclean => rd::rd_kafka_ElectionType_t::RD_KAFKA_ELECTION_TYPE_UNCLEAN,
    };
    // SAFETY: a live list; librdkafka copies it into the request object.
    let request = Owned::new(
        unsafe { rd::rd_kafka_ElectLeaders_new(kind, list.ptr()) },
        rd::rd_kafka_ElectLeaders_destroy,
        "an ElectLeaders request",
    )?;
    let pending = submit(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_ELECTLEADERS,
        rd::RD_KAFKA_EVENT_ELECTLEADERS_RESULT,
        timeout,
        |options| operation_timeout(options, timeout),
        |rk, options, queue| {
            // SAFETY: live handles; librdkafka copies the request.
            unsafe { rd::rd_kafka_ElectLeaders(rk, request.ptr, options, queue) }
        },
    )?;
    let event = pending.wait()?;
    // SAFETY: the event is an ElectLeaders result, alive while we read it; every pointer
    // read from it is copied into owned values before it is dropped.
    unsafe {
        let result = rd::rd_kafka_event_ElectLeaders_result(event.ptr());
        let mut count = 0usize;
        let items = rd::rd_kafka_ElectLeaders_result_partitions(result, &mut count);
        Ok(slice(items as *const _, count)
            .iter()
            .filter_map(|&item| {
                let partition = rd::rd_kafka_topic_partition_result_partition(item);
                if partition.is_null() {
                    return None;
                }
                let partition = &*partition;
                Some(ElectionResult {
                    topic: super::text(partition.topic).unwrap_or_default(),
                    partition: partition.partition,
                    error: AdminError::from_error(rd::rd_kafka_topic_partition_result_error(item)),
                })
            })
            .collect())
    }
}
