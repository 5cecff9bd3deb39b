//! librdkafka's transactional producer calls through its C interface (`rdkafka::bindings`),
//! beside the admin layer ([`crate::admin`]): kprod's `--transactional` mode.
//!
//! The C interface, because rdkafka offers `send_offsets_to_transaction` only with the
//! metadata of a consumer of its own, and has no way to make that metadata from a group id
//! alone (`rd_kafka_consumer_group_metadata_new`). Each call takes the producer's client
//! and a timeout, and returns librdkafka's error classified as librdkafka classifies it
//! ([`TxnError`]); the caller decides whether to retry, abort or give up.

use std::ffi::{CStr, CString};
use std::time::Duration;

use anyhow::Result;
use rdkafka::bindings as rdsys;
use rdkafka::client::{Client, ClientContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::TopicPartitionList;

use crate::Failure;

/// A failed transactional call, classified as librdkafka classifies it.
pub struct TxnError {
    pub code: RDKafkaErrorCode,
    pub text: String,
    pub retriable: bool,
    pub abortable: bool,
    pub fatal: bool,
}

impl TxnError {
    /// Take ownership of a librdkafka error; Ok for none.
    fn check(error: *mut rdsys::rd_kafka_error_t) -> Result<(), TxnError> {
        if error.is_null() {
            return Ok(());
        }
        // SAFETY: a non-null error librdkafka handed over to us; destroyed once read.
        unsafe {
            let text = CStr::from_ptr(rdsys::rd_kafka_error_string(error))
                .to_string_lossy()
                .into_owned();
            let found = TxnError {
                code: rdsys::rd_kafka_error_code(error).into(),
                text,
                retriable: rdsys::rd_kafka_error_is_retriable(error) != 0,
                abortable: rdsys::rd_kafka_error_txn_requires_abort(error) != 0,
                fatal: rdsys::rd_kafka_error_is_fatal(error) != 0,
            };
            rdsys::rd_kafka_error_destroy(error);
            Err(found)
        }
    }

    /// The failure to exit with when nothing more can be done.
    pub fn failure(&self, doing: &str) -> Failure {
        let message = format!("{doing}: {}", self.text);
        match self.code {
            code if crate::failure::is_authorization_code(code) => {
                Failure::denied(doing, &self.text)
            }
            RDKafkaErrorCode::Fenced
            | RDKafkaErrorCode::ProducerFenced
            | RDKafkaErrorCode::InvalidProducerEpoch => Failure::delivery(format!(
                "{message} (fenced: another kprod with the same transactional id took over, or the \
                 brokers ended this producer's transaction themselves, as when a failure held it \
                 past transaction.timeout.ms)"
            )),
            _ => Failure::delivery(message),
        }
    }
}

/// `rd_kafka_consumer_group_metadata_t` of a group id alone (no member, generation -1):
/// the brokers accept transactional offset commits of it for a group without members, as
/// `kcons --no-commit` leaves it.
pub struct GroupMetadata(*mut rdsys::rd_kafka_consumer_group_metadata_t);

impl GroupMetadata {
    pub fn new(group: &str) -> Result<GroupMetadata> {
        let id = CString::new(group).map_err(|_| Failure::usage("bad --commit-group"))?;
        // SAFETY: a valid C string; librdkafka copies it.
        let ptr = unsafe { rdsys::rd_kafka_consumer_group_metadata_new(id.as_ptr()) };
        anyhow::ensure!(!ptr.is_null(), "librdkafka made no group metadata");
        Ok(GroupMetadata(ptr))
    }
}

impl Drop for GroupMetadata {
    fn drop(&mut self) {
        // SAFETY: made by rd_kafka_consumer_group_metadata_new, destroyed once.
        unsafe { rdsys::rd_kafka_consumer_group_metadata_destroy(self.0) }
    }
}

fn millis(duration: Duration) -> i32 {
    duration.as_millis().min(i32::MAX as u128) as i32
}

/// `rd_kafka_init_transactions`: fences any earlier producer with the same transactional
/// id, aborting what it left open.
pub fn init<C: ClientContext>(client: &Client<C>, timeout: Duration) -> Result<(), TxnError> {
    // SAFETY: a live producer handle.
    TxnError::check(unsafe {
        rdsys::rd_kafka_init_transactions(client.native_ptr(), millis(timeout))
    })
}

/// `rd_kafka_begin_transaction`.
pub fn begin<C: ClientContext>(client: &Client<C>) -> Result<(), TxnError> {
    // SAFETY: a live producer handle.
    TxnError::check(unsafe { rdsys::rd_kafka_begin_transaction(client.native_ptr()) })
}

/// `rd_kafka_send_offsets_to_transaction`: the group's offsets become part of the open
/// transaction.
pub fn send_offsets<C: ClientContext>(
    client: &Client<C>,
    offsets: &TopicPartitionList,
    group: &GroupMetadata,
    timeout: Duration,
) -> Result<(), TxnError> {
    // SAFETY: live handles; librdkafka copies the list and the metadata.
    TxnError::check(unsafe {
        rdsys::rd_kafka_send_offsets_to_transaction(
            client.native_ptr(),
            offsets.ptr(),
            group.0,
            millis(timeout),
        )
    })
}

/// `rd_kafka_commit_transaction`.
pub fn commit<C: ClientContext>(client: &Client<C>, timeout: Duration) -> Result<(), TxnError> {
    // SAFETY: a live producer handle.
    TxnError::check(unsafe {
        rdsys::rd_kafka_commit_transaction(client.native_ptr(), millis(timeout))
    })
}

/// `rd_kafka_abort_transaction`.
pub fn abort<C: ClientContext>(client: &Client<C>, timeout: Duration) -> Result<(), TxnError> {
    // SAFETY: a live producer handle.
    TxnError::check(unsafe {
        rdsys::rd_kafka_abort_transaction(client.native_ptr(), millis(timeout))
    })
}
