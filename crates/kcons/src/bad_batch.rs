//! A batch kcons cannot decompress or parse: an error that names where it is, never a hang.
//!
//! librdkafka reports such a batch (corrupt compressed data, a codec or message format it
//! does not know) as a consumer error for its partition and then fetches the same batch
//! again, forever: a reader that only logs it prints nothing more and never ends. rdkafka's
//! `poll` hands on only the error's code, not its partition, offset or text, so kcons stops
//! at the first such error, writes out (and commits) what it has, and then finds the batch
//! with a probe: a throw-away consumer per partition that still has records after kcons's
//! position, read with librdkafka's own poll, whose error carries all three.

use std::ffi::CStr;
use std::fmt;
use std::time::{Duration, Instant};

use kcore::{Connection, Failure, QuietContext};
use rdkafka::bindings as rdsys;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

/// The consumer errors that mean a batch cannot be read (and never will be).
pub fn is_undecodable(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::BadCompression
            | RDKafkaErrorCode::BadMessage
            | RDKafkaErrorCode::NotImplemented
            | RDKafkaErrorCode::InvalidMessage
            | RDKafkaErrorCode::UnsupportedCompressionType
            | RDKafkaErrorCode::InvalidRecord
    )
}

/// What the poll loop returns on such an error (turned into a located [`Failure`] by
/// [`locate`] once the output is written out).
#[derive(Debug)]
pub struct Undecodable(pub RDKafkaErrorCode);

impl fmt::Display for Undecodable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a batch of records cannot be read: {}", self.0)
    }
}

impl std::error::Error for Undecodable {}

/// Where the batch is: the exit-11 failure naming topic, partition, offset and cause.
pub fn locate(
    consumer: &BaseConsumer<QuietContext>,
    connection: &Connection,
    group: Option<&str>,
    code: RDKafkaErrorCode,
) -> Failure {
    let deadline = Instant::now() + connection.timeout;
    let positions = consumer
        .position()
        .unwrap_or_else(|_| TopicPartitionList::new());
    for element in positions.elements() {
        let (topic, partition) = (element.topic(), element.partition());
        let Ok((_, high)) =
            consumer.fetch_watermarks(topic, partition, left(deadline).max(MIN_WAIT))
        else {
            continue;
        };
        let start = match element.offset() {
            Offset::Offset(n) if n >= high => continue,
            Offset::Offset(n) => Offset::Offset(n),
            // Nothing read there yet: where kcons started (the group's offset, else the
            // beginning; a probe before the start only reads a little more).
            _ if group.is_some() => Offset::Stored,
            _ => Offset::Beginning,
        };
        if let Some(found) = probe(connection, group, topic, partition, start, high, deadline) {
            return Failure::undecodable(format!(
                "{topic}/{partition} at offset {}: the batch there cannot be decompressed or parsed: {} \
                 (kcons wrote out every record before it)",
                found.offset, found.cause
            ));
        }
    }
    Failure::undecodable(format!(
        "a batch of records cannot be decompressed or parsed ({code}); kcons wrote out every record \
         before it, but could not tell which partition it is in"
    ))
}

/// The least a probe waits, even past kcons's own deadline.
const MIN_WAIT: Duration = Duration::from_secs(2);

fn left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

struct Found {
    offset: i64,
    cause: String,
}

/// Read one partition from `start` until the error (Some) or its end (None).
fn probe(
    connection: &Connection,
    group: Option<&str>,
    topic: &str,
    partition: i32,
    start: Offset,
    high: i64,
    deadline: Instant,
) -> Option<Found> {
    let private = format!("kcons-probe-{}", std::process::id());
    let mut config = connection.client_config(&[
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "false"),
        ("enable.partition.eof", "true"),
        ("auto.offset.reset", "earliest"),
        (
            "fetch.message.max.bytes",
            crate::FETCH_MAX_BYTES_PER_PARTITION,
        ),
    ]);
    config.set("group.id", group.unwrap_or(&private));
    let probe: BaseConsumer<QuietContext> = connection
        .create_from(config, QuietContext::new("kcons", 0))
        .ok()?;
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, partition, start)
        .ok()?;
    probe.assign(&assignment).ok()?;
    let rk = probe.client().native_ptr();
    let deadline = deadline.max(Instant::now() + MIN_WAIT);
    while Instant::now() < deadline {
        // SAFETY: `rk` is the probe's live handle; every message polled is destroyed once
        // read, before the next poll.
        let message = unsafe { rdsys::rd_kafka_consumer_poll(rk, 100) };
        if message.is_null() {
            continue;
        }
        // SAFETY: a non-null message just polled, not destroyed yet.
        let (err, offset) = unsafe { ((*message).err, (*message).offset) };
        let outcome = if err == rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            (offset + 1 >= high).then_some(None)
        } else if err == rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__PARTITION_EOF {
            Some(None)
        } else if is_undecodable(err.into()) {
            Some(Some(Found {
                offset,
                // SAFETY: the live message polled above, with its error set.
                cause: unsafe { error_text(message) },
            }))
        } else {
            None
        };
        // SAFETY: the message is ours and destroyed once; nothing read from it outlives this.
        unsafe { rdsys::rd_kafka_message_destroy(message) };
        if let Some(found) = outcome {
            return found;
        }
    }
    None
}

/// An error message's text: librdkafka puts it where a message's value would be (what its
/// header-only `rd_kafka_message_errstr` reads), else the code's description.
///
/// # Safety
/// `message` is a live message from `rd_kafka_consumer_poll` with an error set.
unsafe fn error_text(message: *const rdsys::rd_kafka_message_t) -> String {
    // SAFETY: the caller's promise: a live message; its payload (when set) holds `len`
    // bytes, and librdkafka's error strings are static and NUL-terminated.
    unsafe {
        let (payload, len, err) = ((*message).payload, (*message).len, (*message).err);
        if payload.is_null() {
            return CStr::from_ptr(rdsys::rd_kafka_err2str(err))
                .to_string_lossy()
                .into_owned();
        }
        let bytes = std::slice::from_raw_parts(payload as *const u8, len);
        String::from_utf8_lossy(bytes).into_owned()
    }
}
