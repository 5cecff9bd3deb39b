//! The topic's own record size limit (`max.message.bytes`), read with DescribeConfigs
//! through kcore's admin layer on the producer's own handle (no second connection). The
//! request goes out together with the metadata request, so that it adds no round trip
//! before the first record.
//!
//! The brokers reject a whole batch that is larger than the topic's limit, so a record
//! too large for it would take its batch-mates down with it. Knowing the limit, kprod
//! refuses such a record itself (bad input, with its line number) and keeps batches
//! within the limit.

use std::time::Duration;

use kcore::admin::topics::TopicConfigsRequest;
use rdkafka::client::Client;

/// Bytes a record batch (v2) adds to its records: the batch header.
pub const BATCH_OVERHEAD: usize = 61;
/// Most bytes one record (v2) adds to its key, value and headers (length varints,
/// attributes, timestamp and offset deltas).
pub const RECORD_OVERHEAD: usize = 36;
/// Most bytes a header adds to its name and value (two length varints).
pub const HEADER_OVERHEAD: usize = 10;

/// Ask for `topic`'s configs; [`topic_max_message_bytes`] reads the answer.
pub fn ask<C: rdkafka::ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> Option<TopicConfigsRequest> {
    TopicConfigsRequest::submit(client, &[topic], timeout).ok()
}

/// The effective `max.message.bytes` of the topic asked about, or None when the brokers
/// do not say (no permission to describe configs, an old broker, no answer in time).
pub fn topic_max_message_bytes(request: Option<TopicConfigsRequest>) -> Option<usize> {
    let (_, entries) = request?.wait().ok()?.into_iter().next()?;
    entries
        .ok()?
        .into_iter()
        .find(|entry| entry.name == "max.message.bytes")
        .and_then(|entry| entry.value?.trim().parse().ok())
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
