//! DeleteRecords: move partitions' log start offsets forward, deleting the records
//! before them (Kafka removes the segments wholly below the new start in the background).

use std::time::Duration;

use anyhow::Result;
use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};

use super::topics::operation_timeout;
use super::{read_partitions, submit, Owned, PartitionList, PartitionOffset};

/// Delete the records before each `(topic, partition, offset)` (offset -1: every record,
/// up to the high watermark); the answer has each partition's new start offset (its low
/// watermark) or its own failure.
pub fn delete_records<C: ClientContext>(
    client: &Client<C>,
    before: &[(String, i32, i64)],
    timeout: Duration,
) -> Result<Vec<PartitionOffset>> {
    if before.is_empty() {
        return Ok(Vec::new());
    }
    let list = PartitionList::of(before.iter().cloned())?;
    // SAFETY: a live list; librdkafka copies it into the request object.
    let request = Owned::new(
        unsafe { rd::rd_kafka_DeleteRecords_new(list.ptr()) },
        rd::rd_kafka_DeleteRecords_destroy,
        "a DeleteRecords request",
    )?;
    let pending = submit(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DELETERECORDS,
        rd::RD_KAFKA_EVENT_DELETERECORDS_RESULT,
        timeout,
        |options| operation_timeout(options, timeout),
        |rk, options, queue| {
            let mut requests = [request.ptr];
            // SAFETY: live handles; librdkafka copies the one request in the array.
            unsafe { rd::rd_kafka_DeleteRecords(rk, requests.as_mut_ptr(), 1, options, queue) }
        },
    )?;
    let event = pending.wait()?;
    // SAFETY: the event is a DeleteRecords result, alive while its list is copied.
    unsafe {
        let result = rd::rd_kafka_event_DeleteRecords_result(event.ptr());
        Ok(read_partitions(rd::rd_kafka_DeleteRecords_result_offsets(
            result,
        )))
    }
}
