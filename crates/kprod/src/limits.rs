//! The topic's own record size limit (`max.message.bytes`), read with DescribeConfigs
//! through librdkafka's C API on the producer's own handle (no second connection).
//!
//! The brokers reject a whole batch that is larger than the topic's limit, so a record
//! too large for it would take its batch-mates down with it. Knowing the limit, kprod
//! refuses such a record itself (bad input, with its line number) and keeps batches
//! within the limit.

use std::ffi::{CStr, CString};
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::client::Client;

/// Bytes a record batch (v2) adds to its records: the batch header.
pub const BATCH_OVERHEAD: usize = 61;
/// Most bytes one record (v2) adds to its key, value and headers (length varints,
/// attributes, timestamp and offset deltas).
pub const RECORD_OVERHEAD: usize = 36;
/// Most bytes a header adds to its name and value (two length varints).
pub const HEADER_OVERHEAD: usize = 10;

/// The effective `max.message.bytes` of `topic`, or None when the brokers do not say
/// (no permission to describe configs, an old broker, no answer in time).
pub fn topic_max_message_bytes<C: rdkafka::ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> Option<usize> {
    let name = CString::new(topic).ok()?;
    let timeout_ms = timeout.as_millis().clamp(1, i32::MAX as u128) as i32;
    let rk = client.native_ptr();
    // SAFETY: every object created here is destroyed before returning; the pointers read
    // from the result event live as long as the event, which is destroyed last.
    unsafe {
        let resource = rd::rd_kafka_ConfigResource_new(
            rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
            name.as_ptr(),
        );
        let options = rd::rd_kafka_AdminOptions_new(
            rk,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS,
        );
        let mut errstr = [0 as std::ffi::c_char; 256];
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options,
            timeout_ms,
            errstr.as_mut_ptr(),
            errstr.len(),
        );
        let queue = rd::rd_kafka_queue_new(rk);
        let mut resources = [resource];
        rd::rd_kafka_DescribeConfigs(rk, resources.as_mut_ptr(), 1, options, queue);
        // The request times out on its own; the margin only guards against a lost event.
        let event = rd::rd_kafka_queue_poll(queue, timeout_ms.saturating_add(1000));
        let found = if event.is_null() {
            None
        } else {
            read_limit(event)
        };
        if !event.is_null() {
            rd::rd_kafka_event_destroy(event);
        }
        rd::rd_kafka_queue_destroy(queue);
        rd::rd_kafka_AdminOptions_destroy(options);
        rd::rd_kafka_ConfigResource_destroy(resource);
        found
    }
}

/// # Safety
/// `event` must be a live DescribeConfigs result event.
unsafe fn read_limit(event: *mut rd::rd_kafka_event_t) -> Option<usize> {
    if rd::rd_kafka_event_error(event) != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        return None;
    }
    let result = rd::rd_kafka_event_DescribeConfigs_result(event);
    if result.is_null() {
        return None;
    }
    let mut count = 0;
    let resources = rd::rd_kafka_DescribeConfigs_result_resources(result, &mut count);
    if resources.is_null() || count != 1 {
        return None;
    }
    let resource = *resources;
    if rd::rd_kafka_ConfigResource_error(resource)
        != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
    {
        return None;
    }
    let mut entries_count = 0;
    let entries = rd::rd_kafka_ConfigResource_configs(resource, &mut entries_count);
    if entries.is_null() {
        return None;
    }
    std::slice::from_raw_parts(entries, entries_count)
        .iter()
        .find_map(|&entry| {
            let name = rd::rd_kafka_ConfigEntry_name(entry);
            let value = rd::rd_kafka_ConfigEntry_value(entry);
            if name.is_null()
                || value.is_null()
                || CStr::from_ptr(name).to_bytes() != b"max.message.bytes"
            {
                return None;
            }
            CStr::from_ptr(value).to_str().ok()?.trim().parse().ok()
        })
}

/// The most bytes the brokers may count for a batch holding just this record.
pub fn record_batch_bytes<'h>(
    key: usize,
    value: usize,
    headers: impl IntoIterator<Item = (&'h str, usize)>,
) -> usize {
    let headers: usize = headers
        .into_iter()
        .map(|(name, value)| HEADER_OVERHEAD + name.len() + value)
        .sum();
    BATCH_OVERHEAD + RECORD_OVERHEAD + key + value + headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_bytes_count_every_part() {
        assert_eq!(record_batch_bytes(0, 0, []), 97);
        assert_eq!(record_batch_bytes(3, 900, [("h", 2)]), 97 + 903 + 13);
    }
}
