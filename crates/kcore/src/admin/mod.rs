//! librdkafka's admin API through its C interface (`rdkafka::bindings`), for the
//! requests rdkafka 0.39 does not wrap or wraps without the broker's own message.
//!
//! One way to do it for every tool: each request gets its own event queue, is submitted
//! with librdkafka's request timeout set to the tool's `--timeout`, and is waited for
//! once on that queue ([`Pending::wait`]), so nothing needs an async runtime. Several
//! requests may be in flight at once: submit them all, then wait for each. Every C object
//! is owned by a guard that destroys it ([`Owned`]); pointers read out of a result event
//! are copied into plain Rust values before the event is dropped.
//!
//! - [`acls`]: CreateAcls (kcluster's secure clusters).
//! - [`groups`]: consumer groups (list, describe, committed offsets, alter, delete).
//! - [`leaders`]: ElectLeaders (preferred or unclean).
//! - [`offsets`]: ListOffsets (earliest, latest, by time) for any set of partitions.
//! - [`records`]: DeleteRecords (trimming partitions up to an offset).
//! - [`topics`]: CreateTopics with the broker's message, IncrementalAlterConfigs,
//!   DescribeTopics (topic ids), DescribeConfigs.
//! - [`session`]: one admin connection for a command (ktopic, kgroup), and the topic
//!   requests made through rdkafka's admin API (DeleteTopics, CreatePartitions).
//! - [`serve_events`]: hand the client's main-queue log lines and errors to its context.

pub mod acls;
pub mod groups;
pub mod leaders;
pub mod offsets;
pub mod records;
pub mod session;
pub mod topics;

use std::ffi::{CStr, CString};
use std::fmt;
use std::os::raw::{c_char, c_int};
use std::time::Duration;

use anyhow::{bail, Result};
use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::types::RDKafkaErrorCode;

use crate::failure::Failure;

/// A failure the broker (or librdkafka) reported for a request, a group, a topic or a
/// partition: its code, and the broker's own message when it sent one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    pub code: RDKafkaErrorCode,
    pub message: String,
}

impl AdminError {
    pub fn new(code: rd::rd_kafka_resp_err_t, message: Option<String>) -> Self {
        let code = RDKafkaErrorCode::from(code);
        // The broker's message is the useful one; the code's description is the fallback.
        let message = message.unwrap_or_else(|| code.to_string());
        AdminError { code, message }
    }

    /// The error behind a (borrowed) `rd_kafka_error_t`, None for null or "no error".
    ///
    /// # Safety
    /// `error` must be null or a live error object.
    pub(crate) unsafe fn from_error(error: *const rd::rd_kafka_error_t) -> Option<Self> {
        // SAFETY: the caller keeps this function's contract (its `# Safety`).
        unsafe {
            if error.is_null() {
                return None;
            }
            let code = rd::rd_kafka_error_code(error);
            if code == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                return None;
            }
            Some(AdminError::new(
                code,
                text(rd::rd_kafka_error_string(error)),
            ))
        }
    }

    /// The ACLs refused it (group, topic, cluster or transactional id).
    pub fn is_not_authorized(&self) -> bool {
        crate::failure::is_authorization_code(self.code)
    }

    /// No answer in time (librdkafka's own request timeout, or a broker's).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.code,
            RDKafkaErrorCode::OperationTimedOut | RDKafkaErrorCode::RequestTimedOut
        )
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AdminError {}

/// One librdkafka object, destroyed with its own destructor when dropped.
pub(crate) struct Owned<T> {
    pub(crate) ptr: *mut T,
    destroy: unsafe extern "C" fn(*mut T),
}

impl<T> Owned<T> {
    pub(crate) fn new(
        ptr: *mut T,
        destroy: unsafe extern "C" fn(*mut T),
        what: &str,
    ) -> Result<Self> {
        if ptr.is_null() {
            bail!("librdkafka could not create {what}");
        }
        Ok(Owned { ptr, destroy })
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came non-null from the librdkafka constructor paired with `destroy`,
        // and nothing else frees it.
        unsafe { (self.destroy)(self.ptr) }
    }
}

/// A C string librdkafka owns, copied; `None` for null or empty.
pub(crate) fn text(ptr: *const c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: librdkafka returns NUL-terminated strings that live as long as their owner.
    let text = unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .trim()
        .to_string();
    (!text.is_empty()).then_some(text)
}

/// A name for librdkafka; a NUL byte in it is a usage error.
pub(crate) fn c_string(value: &str, what: &str) -> Result<CString> {
    CString::new(value)
        .map_err(|_| Failure::usage(format!("{what} '{value}' contains a NUL byte")).into())
}

pub(crate) fn millis(timeout: Duration) -> c_int {
    timeout.as_millis().clamp(1, c_int::MAX as u128) as c_int
}

/// A C array librdkafka returned, as a slice (empty for null).
///
/// # Safety
/// `items` must point to `count` valid entries that outlive the returned slice's use.
pub(crate) unsafe fn slice<'a, T>(items: *const *const T, count: usize) -> &'a [*const T] {
    // SAFETY: the caller keeps this function's contract (its `# Safety`).
    unsafe {
        if items.is_null() || count == 0 {
            &[]
        } else {
            std::slice::from_raw_parts(items, count)
        }
    }
}

/// A request's result event, alive until dropped.
pub(crate) struct Event(Owned<rd::rd_kafka_event_t>);

impl Event {
    pub(crate) fn ptr(&self) -> *mut rd::rd_kafka_event_t {
        self.0.ptr
    }
}

/// A submitted request whose answer has not been read yet.
pub(crate) struct Pending {
    queue: Owned<rd::rd_kafka_queue_t>,
    // librdkafka copies the options at submission; kept only to free them with the queue.
    _options: Owned<rd::rd_kafka_AdminOptions_t>,
    expected_event: rd::rd_kafka_event_type_t,
    timeout: Duration,
}

impl Pending {
    /// Wait for the answer. librdkafka fails the request itself after the request timeout;
    /// the wait adds a margin so that its own, more precise, message arrives first.
    pub(crate) fn wait(self) -> Result<Event> {
        let wait = millis(self.timeout.saturating_add(Duration::from_secs(5)));
        // SAFETY: polling our own live queue.
        let event = unsafe { rd::rd_kafka_queue_poll(self.queue.ptr, wait) };
        if event.is_null() {
            return Err(Failure::unreachable(format!(
                "no answer from the brokers within {:.0?}",
                self.timeout
            ))
            .into());
        }
        let event = Event(Owned::new(event, rd::rd_kafka_event_destroy, "an event")?);
        // SAFETY: a live event.
        let (kind, err) = unsafe {
            (
                rd::rd_kafka_event_type(event.ptr()),
                rd::rd_kafka_event_error(event.ptr()),
            )
        };
        if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            // SAFETY: a live event; the string lives as long as it.
            let message = text(unsafe { rd::rd_kafka_event_error_string(event.ptr()) });
            return Err(AdminError::new(err, message).into());
        }
        if kind != self.expected_event {
            bail!("librdkafka answered an admin request with an unexpected event ({kind})");
        }
        Ok(event)
    }
}

/// Submit one admin request on a queue of its own; [`Pending::wait`] reads its answer.
/// `prepare` may set request-specific options before the request is submitted.
pub(crate) fn submit<C: ClientContext>(
    client: &Client<C>,
    op: rd::rd_kafka_admin_op_t,
    expected_event: rd::rd_kafka_event_type_t,
    timeout: Duration,
    prepare: impl FnOnce(*mut rd::rd_kafka_AdminOptions_t) -> Result<()>,
    request: impl FnOnce(
        *mut rd::rd_kafka_t,
        *const rd::rd_kafka_AdminOptions_t,
        *mut rd::rd_kafka_queue_t,
    ),
) -> Result<Pending> {
    let rk = client.native_ptr();
    // SAFETY: `rk` is a live client handle for the duration of this call.
    let options = Owned::new(
        unsafe { rd::rd_kafka_AdminOptions_new(rk, op) },
        rd::rd_kafka_AdminOptions_destroy,
        "admin options",
    )?;
    let mut errstr = [0 as c_char; 512];
    // SAFETY: valid options and a writable buffer of the stated size.
    let err = unsafe {
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options.ptr,
            millis(timeout),
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    };
    if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        bail!(
            "setting the request timeout: {}",
            text(errstr.as_ptr()).unwrap_or_default()
        );
    }
    prepare(options.ptr)?;
    // SAFETY: `rk` is live; the queue is destroyed with the Pending.
    let queue = Owned::new(
        unsafe { rd::rd_kafka_queue_new(rk) },
        rd::rd_kafka_queue_destroy,
        "a queue",
    )?;
    request(rk, options.ptr, queue.ptr);
    Ok(Pending {
        queue,
        _options: options,
        expected_event,
        timeout,
    })
}

/// Options that need nothing beyond the request timeout.
pub(crate) fn no_options(_: *mut rd::rd_kafka_AdminOptions_t) -> Result<()> {
    Ok(())
}

/// One partition of a topic with an offset (or an offset spec, or a result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionOffset {
    pub topic: String,
    pub partition: i32,
    /// librdkafka's value: an offset, or negative for "none" (-1001) and the specs.
    pub offset: i64,
    pub error: Option<AdminError>,
}

/// A topic-partition list we own.
pub(crate) struct PartitionList(Owned<rd::rd_kafka_topic_partition_list_t>);

impl PartitionList {
    pub(crate) fn new(capacity: usize) -> Result<Self> {
        // SAFETY: plain constructor.
        let list = unsafe {
            rd::rd_kafka_topic_partition_list_new(capacity.min(c_int::MAX as usize) as c_int)
        };
        Ok(PartitionList(Owned::new(
            list,
            rd::rd_kafka_topic_partition_list_destroy,
            "a partition list",
        )?))
    }

    /// A list of `(topic, partition, offset)`.
    pub(crate) fn of(entries: impl IntoIterator<Item = (String, i32, i64)>) -> Result<Self> {
        let entries: Vec<_> = entries.into_iter().collect();
        let list = PartitionList::new(entries.len())?;
        for (topic, partition, offset) in &entries {
            let name = c_string(topic, "topic name")?;
            // SAFETY: a live list; librdkafka copies the name and returns the new element,
            // which belongs to the list.
            unsafe {
                let element =
                    rd::rd_kafka_topic_partition_list_add(list.ptr(), name.as_ptr(), *partition);
                (*element).offset = *offset;
            }
        }
        Ok(list)
    }

    pub(crate) fn ptr(&self) -> *mut rd::rd_kafka_topic_partition_list_t {
        self.0.ptr
    }
}

/// The entries of a partition list librdkafka owns, copied.
///
/// # Safety
/// `list` must be null or a live partition list.
pub(crate) unsafe fn read_partitions(
    list: *const rd::rd_kafka_topic_partition_list_t,
) -> Vec<PartitionOffset> {
    // SAFETY: the caller keeps this function's contract (its `# Safety`).
    unsafe {
        if list.is_null() || (*list).cnt <= 0 || (*list).elems.is_null() {
            return Vec::new();
        }
        std::slice::from_raw_parts((*list).elems, (*list).cnt as usize)
            .iter()
            .map(|element| read_partition(element))
            .collect()
    }
}

/// # Safety
/// `element` must be a live partition entry.
pub(crate) unsafe fn read_partition(element: &rd::rd_kafka_topic_partition_t) -> PartitionOffset {
    PartitionOffset {
        topic: text(element.topic).unwrap_or_default(),
        partition: element.partition,
        offset: element.offset,
        error: (element.err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR)
            .then(|| AdminError::new(element.err, None)),
    }
}

/// Hand the log lines and error events waiting on the client's main queue to its
/// context (which prints them with `-v` and remembers the last error), waiting at most
/// `wait` for the first one.
///
/// rdkafka serves that queue only from a producer's or consumer's `poll`, which an
/// AdminClient never calls, so without this `-v` would show nothing and a timeout could
/// not say why.
pub fn serve_events<C: ClientContext>(client: &Client<C>, wait: Duration) {
    let context = client.context();
    // SAFETY: a live client; the queue reference is released below.
    let queue = unsafe { rd::rd_kafka_queue_get_main(client.native_ptr()) };
    let Ok(queue) = Owned::new(queue, rd::rd_kafka_queue_destroy, "the main queue") else {
        return;
    };
    let mut timeout = wait.as_millis().min(c_int::MAX as u128) as c_int;
    loop {
        // SAFETY: polling a live queue; the event is ours to destroy.
        let event = unsafe { rd::rd_kafka_queue_poll(queue.ptr, timeout) };
        let Ok(event) = Owned::new(event, rd::rd_kafka_event_destroy, "an event") else {
            return;
        };
        timeout = 0;
        // SAFETY: a live event; its strings live as long as it.
        unsafe {
            match rd::rd_kafka_event_type(event.ptr) {
                rd::RD_KAFKA_EVENT_LOG => {
                    let (mut facility, mut message, mut level) =
                        (std::ptr::null(), std::ptr::null(), 0);
                    if rd::rd_kafka_event_log(event.ptr, &mut facility, &mut message, &mut level)
                        == 0
                    {
                        context.log(
                            log_level(level),
                            &text(facility).unwrap_or_default(),
                            &text(message).unwrap_or_default(),
                        );
                    }
                }
                rd::RD_KAFKA_EVENT_ERROR => {
                    let code = rd::rd_kafka_event_error(event.ptr);
                    let reason =
                        text(rd::rd_kafka_event_error_string(event.ptr)).unwrap_or_default();
                    context.error(rdkafka::error::KafkaError::Global(code.into()), &reason);
                }
                _ => {}
            }
        }
    }
}

/// syslog levels, as librdkafka logs with them.
fn log_level(level: c_int) -> RDKafkaLogLevel {
    match level {
        0 => RDKafkaLogLevel::Emerg,
        1 => RDKafkaLogLevel::Alert,
        2 => RDKafkaLogLevel::Critical,
        3 => RDKafkaLogLevel::Error,
        4 => RDKafkaLogLevel::Warning,
        5 => RDKafkaLogLevel::Notice,
        6 => RDKafkaLogLevel::Info,
        _ => RDKafkaLogLevel::Debug,
    }
}

/// The broker id the cluster's metadata names as controller (in KRaft mode any broker,
/// which forwards controller requests), or None when the brokers did not say in time.
pub fn controller_id<C: ClientContext>(client: &Client<C>, timeout: Duration) -> Option<i32> {
    // SAFETY: a live client handle; the call only reads librdkafka's metadata cache,
    // asking the brokers when it has none.
    let id = unsafe { rd::rd_kafka_controllerid(client.native_ptr(), millis(timeout)) };
    (id >= 0).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_lists_keep_what_was_added() {
        let list = PartitionList::of([("a".to_string(), 0, 5), ("b".to_string(), 2, -1)]).unwrap();
        // SAFETY: a live list we own.
        let read = unsafe { read_partitions(list.ptr()) };
        assert_eq!(read.len(), 2);
        assert_eq!(
            (read[0].topic.as_str(), read[0].partition, read[0].offset),
            ("a", 0, 5)
        );
        assert_eq!(
            (read[1].topic.as_str(), read[1].partition, read[1].offset),
            ("b", 2, -1)
        );
        assert!(read.iter().all(|p| p.error.is_none()));
    }

    #[test]
    fn authorization_errors_are_recognised() {
        let denied = AdminError::new(
            rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED,
            None,
        );
        assert!(denied.is_not_authorized());
        let other = AdminError::new(
            rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND,
            Some("gone".into()),
        );
        assert!(!other.is_not_authorized());
        assert_eq!(other.to_string(), "gone");
    }
}
