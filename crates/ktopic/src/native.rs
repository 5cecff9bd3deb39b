//! Admin requests that rdkafka 0.39 does not offer, made through librdkafka's C API
//! (rdkafka re-exports it as `rdkafka::bindings`):
//!
//! - IncrementalAlterConfigs: rdkafka has only AlterConfigs, which replaces a topic's
//!   whole config and resets every key it is not sent; changing one key must leave the
//!   others alone, without a read-modify-write race against other admins.
//! - DescribeTopics: the only way to a topic's id (librdkafka's metadata has none).
//! - CreateTopics with the broker's own message ("Unknown topic config name: x"):
//!   rdkafka's `create_topics` keeps only the error code ("Configuration is invalid").
//!
//! - Serving the client's main queue, where librdkafka leaves its log lines and error
//!   events: rdkafka serves it only from a producer's or consumer's `poll`, which an
//!   AdminClient never calls, so `-v` would show nothing and a timeout could not say why.
//!
//! Each request runs on a queue of its own and blocks for its one result event, so
//! nothing here needs an async runtime. All pointers librdkafka hands back live as long
//! as the result event, which outlives every read of them below.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fmt;
use std::os::raw::{c_char, c_int};
use std::time::Duration;

use anyhow::{bail, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::types::RDKafkaErrorCode;

/// One topic's failure as the broker (or librdkafka) reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    pub code: RDKafkaErrorCode,
    pub message: String,
}

impl AdminError {
    fn new(code: rd::rd_kafka_resp_err_t, message: Option<String>) -> Self {
        let code = RDKafkaErrorCode::from(code);
        // The broker's message is the useful one; the code's description is the fallback.
        let message = message.unwrap_or_else(|| code.to_string());
        AdminError { code, message }
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AdminError {}

/// One librdkafka object, destroyed with its own destructor when dropped.
struct Owned<T> {
    ptr: *mut T,
    destroy: unsafe extern "C" fn(*mut T),
}

impl<T> Owned<T> {
    fn new(ptr: *mut T, destroy: unsafe extern "C" fn(*mut T), what: &str) -> Result<Self> {
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
fn text(ptr: *const c_char) -> Option<String> {
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

fn c_string(value: &str, what: &str) -> Result<CString> {
    CString::new(value)
        .map_err(|_| kcore::Failure::usage(format!("{what} '{value}' contains a NUL byte")).into())
}

fn millis(timeout: Duration) -> c_int {
    timeout.as_millis().min(c_int::MAX as u128) as c_int
}

/// Submit one admin request on a private queue and wait for its result event.
/// The request timeout is librdkafka's; the wait adds a margin so that its own,
/// more precise, timeout message arrives first.
fn request<C: ClientContext>(
    client: &Client<C>,
    op: rd::rd_kafka_admin_op_t,
    expected_event: rd::rd_kafka_event_type_t,
    timeout: Duration,
    submit: impl FnOnce(
        *mut rd::rd_kafka_t,
        *const rd::rd_kafka_AdminOptions_t,
        *mut rd::rd_kafka_queue_t,
    ),
) -> Result<Owned<rd::rd_kafka_event_t>> {
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
    // The operation timeout (how long the controller waits for the change to reach every
    // broker) exists only for these requests; librdkafka refuses it for the others.
    if op == rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATETOPICS {
        // SAFETY: as above.
        let err = unsafe {
            rd::rd_kafka_AdminOptions_set_operation_timeout(
                options.ptr,
                millis(timeout),
                errstr.as_mut_ptr(),
                errstr.len(),
            )
        };
        if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            bail!(
                "setting the operation timeout: {}",
                text(errstr.as_ptr()).unwrap_or_default()
            );
        }
    }
    // SAFETY: `rk` is live; the queue is destroyed before we return.
    let queue = Owned::new(
        unsafe { rd::rd_kafka_queue_new(rk) },
        rd::rd_kafka_queue_destroy,
        "a queue",
    )?;
    submit(rk, options.ptr, queue.ptr);
    let wait = millis(timeout.saturating_add(Duration::from_secs(5)));
    // SAFETY: polling our own live queue.
    let event = unsafe { rd::rd_kafka_queue_poll(queue.ptr, wait) };
    if event.is_null() {
        bail!("no answer from the brokers within {timeout:.0?}");
    }
    let event = Owned::new(event, rd::rd_kafka_event_destroy, "an event")?;
    // SAFETY: a live event.
    let (kind, err) = unsafe {
        (
            rd::rd_kafka_event_type(event.ptr),
            rd::rd_kafka_event_error(event.ptr),
        )
    };
    if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        // SAFETY: a live event; the string lives as long as it.
        let message = text(unsafe { rd::rd_kafka_event_error_string(event.ptr) });
        return Err(AdminError::new(err, message).into());
    }
    if kind != expected_event {
        bail!("librdkafka answered an admin request with an unexpected event ({kind})");
    }
    Ok(event)
}

/// Hand the log lines and error events waiting on the client's main queue to its
/// context (which prints them with `-v` and remembers the last error), waiting at most
/// `wait` for the first one.
pub fn serve_events<C: ClientContext>(client: &Client<C>, wait: Duration) {
    let context = client.context();
    // SAFETY: a live client; the queue reference is released below.
    let queue = unsafe { rd::rd_kafka_queue_get_main(client.native_ptr()) };
    let Ok(queue) = Owned::new(queue, rd::rd_kafka_queue_destroy, "the main queue") else {
        return;
    };
    let mut timeout = millis(wait);
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

/// What to create.
#[derive(Debug, Clone)]
pub struct NewTopicSpec<'a> {
    pub name: &'a str,
    pub partitions: i32,
    /// -1: the brokers' `default.replication.factor`.
    pub replication_factor: i32,
    pub configs: &'a [(String, String)],
}

/// Create topics; one result per topic, in the brokers' order.
pub fn create_topics<C: ClientContext>(
    client: &Client<C>,
    topics: &[NewTopicSpec<'_>],
    timeout: Duration,
) -> Result<Vec<(String, Result<(), AdminError>)>> {
    let mut new_topics = Vec::with_capacity(topics.len());
    for topic in topics {
        let name = c_string(topic.name, "topic name")?;
        let mut errstr = [0 as c_char; 512];
        // SAFETY: a NUL-terminated name and a writable buffer of the stated size.
        let ptr = unsafe {
            rd::rd_kafka_NewTopic_new(
                name.as_ptr(),
                topic.partitions,
                topic.replication_factor,
                errstr.as_mut_ptr(),
                errstr.len(),
            )
        };
        if ptr.is_null() {
            let why = text(errstr.as_ptr()).unwrap_or_else(|| "invalid arguments".into());
            return Err(kcore::Failure::usage(format!(
                "cannot create topic '{}': {why}",
                topic.name
            ))
            .into());
        }
        let new_topic = Owned::new(ptr, rd::rd_kafka_NewTopic_destroy, "a new topic")?;
        for (key, value) in topic.configs {
            let (c_key, c_value) = (
                c_string(key, "config key")?,
                c_string(value, "config value")?,
            );
            // SAFETY: a live NewTopic; librdkafka copies both strings.
            let err = unsafe {
                rd::rd_kafka_NewTopic_set_config(new_topic.ptr, c_key.as_ptr(), c_value.as_ptr())
            };
            if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                return Err(kcore::Failure::usage(format!(
                    "bad config {key}={value}: {}",
                    AdminError::new(err, None)
                ))
                .into());
            }
        }
        new_topics.push(new_topic);
    }
    let mut pointers: Vec<*mut rd::rd_kafka_NewTopic_t> =
        new_topics.iter().map(|t| t.ptr).collect();
    let event = request(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATETOPICS,
        rd::RD_KAFKA_EVENT_CREATETOPICS_RESULT,
        timeout,
        |rk, options, queue| {
            // SAFETY: live handles; librdkafka copies the NewTopic objects.
            unsafe {
                rd::rd_kafka_CreateTopics(rk, pointers.as_mut_ptr(), pointers.len(), options, queue)
            }
        },
    )?;
    // SAFETY: the event is a CreateTopics result (checked by `request`), alive until the end.
    let results = unsafe {
        let result = rd::rd_kafka_event_CreateTopics_result(event.ptr);
        let mut count = 0usize;
        let topics = rd::rd_kafka_CreateTopics_result_topics(result, &mut count);
        slice(topics, count)
    };
    Ok(results
        .iter()
        .map(|&topic| {
            // SAFETY: entries of a live result.
            let (name, err, message) = unsafe {
                (
                    text(rd::rd_kafka_topic_result_name(topic)).unwrap_or_default(),
                    rd::rd_kafka_topic_result_error(topic),
                    text(rd::rd_kafka_topic_result_error_string(topic)),
                )
            };
            let outcome = if err == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                Ok(())
            } else {
                Err(AdminError::new(err, message))
            };
            (name, outcome)
        })
        .collect())
}

/// One incremental change to a topic's config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChange {
    Set(String, String),
    /// Remove the topic's own value: the key falls back to the broker's default.
    Delete(String),
}

/// Apply `changes` to `topic`'s config and nothing else (IncrementalAlterConfigs).
/// A refusal of the broker comes back as an [`AdminError`] in the error chain.
pub fn alter_topic_config<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    changes: &[ConfigChange],
    timeout: Duration,
) -> Result<()> {
    let name = c_string(topic, "topic name")?;
    // SAFETY: a NUL-terminated name; librdkafka copies it.
    let resource = Owned::new(
        unsafe {
            rd::rd_kafka_ConfigResource_new(
                rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
                name.as_ptr(),
            )
        },
        rd::rd_kafka_ConfigResource_destroy,
        "a config resource",
    )?;
    for change in changes {
        let (key, value, op) = match change {
            ConfigChange::Set(key, value) => (
                key,
                Some(c_string(value, "config value")?),
                rd::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET,
            ),
            ConfigChange::Delete(key) => (
                key,
                None,
                rd::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_DELETE,
            ),
        };
        let c_key = c_string(key, "config key")?;
        let value_ptr = value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
        // SAFETY: a live resource; librdkafka copies the strings. It returns an error object
        // that we own, or null.
        let error = unsafe {
            rd::rd_kafka_ConfigResource_add_incremental_config(
                resource.ptr,
                c_key.as_ptr(),
                op,
                value_ptr,
            )
        };
        if !error.is_null() {
            let error = Owned::new(error, rd::rd_kafka_error_destroy, "an error")?;
            // SAFETY: a live error object.
            let why = text(unsafe { rd::rd_kafka_error_string(error.ptr) }).unwrap_or_default();
            return Err(
                kcore::Failure::usage(format!("bad config change for '{key}': {why}")).into(),
            );
        }
    }
    let mut pointers = [resource.ptr];
    let event = request(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_INCREMENTALALTERCONFIGS,
        rd::RD_KAFKA_EVENT_INCREMENTALALTERCONFIGS_RESULT,
        timeout,
        |rk, options, queue| {
            // SAFETY: live handles; librdkafka copies the resource.
            unsafe {
                rd::rd_kafka_IncrementalAlterConfigs(
                    rk,
                    pointers.as_mut_ptr(),
                    pointers.len(),
                    options,
                    queue,
                )
            }
        },
    )?;
    // SAFETY: the event is an IncrementalAlterConfigs result, alive until the end.
    let resources = unsafe {
        let result = rd::rd_kafka_event_IncrementalAlterConfigs_result(event.ptr);
        let mut count = 0usize;
        let resources = rd::rd_kafka_IncrementalAlterConfigs_result_resources(result, &mut count);
        slice(resources, count)
    };
    for &resource in resources {
        // SAFETY: entries of a live result.
        let (err, message) = unsafe {
            (
                rd::rd_kafka_ConfigResource_error(resource),
                text(rd::rd_kafka_ConfigResource_error_string(resource)),
            )
        };
        if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(AdminError::new(err, message).into());
        }
    }
    Ok(())
}

/// Topic ids (as Kafka prints them: URL-safe base64, no padding) by topic name.
/// Topics the brokers report an error for are left out.
pub fn topic_ids<C: ClientContext>(
    client: &Client<C>,
    names: &[&str],
    timeout: Duration,
) -> Result<HashMap<String, String>> {
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let c_names = names
        .iter()
        .map(|name| c_string(name, "topic name"))
        .collect::<Result<Vec<_>>>()?;
    let mut pointers: Vec<*const c_char> = c_names.iter().map(|name| name.as_ptr()).collect();
    // SAFETY: NUL-terminated names that librdkafka copies into the collection.
    let collection = Owned::new(
        unsafe {
            rd::rd_kafka_TopicCollection_of_topic_names(pointers.as_mut_ptr(), pointers.len())
        },
        rd::rd_kafka_TopicCollection_destroy,
        "a topic collection",
    )?;
    let event = request(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBETOPICS,
        rd::RD_KAFKA_EVENT_DESCRIBETOPICS_RESULT,
        timeout,
        |rk, options, queue| {
            // SAFETY: live handles.
            unsafe { rd::rd_kafka_DescribeTopics(rk, collection.ptr, options, queue) }
        },
    )?;
    // SAFETY: the event is a DescribeTopics result, alive until the end.
    let descriptions = unsafe {
        let result = rd::rd_kafka_event_DescribeTopics_result(event.ptr);
        let mut count = 0usize;
        let topics = rd::rd_kafka_DescribeTopics_result_topics(result, &mut count);
        slice(topics, count)
    };
    let mut ids = HashMap::new();
    for &description in descriptions {
        // SAFETY: entries of a live result; the error and uuid belong to the description.
        unsafe {
            let error = rd::rd_kafka_TopicDescription_error(description);
            if !error.is_null()
                && rd::rd_kafka_error_code(error)
                    != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
            {
                continue;
            }
            let uuid = rd::rd_kafka_TopicDescription_topic_id(description);
            let Some(name) = text(rd::rd_kafka_TopicDescription_name(description)) else {
                continue;
            };
            if uuid.is_null() {
                continue;
            }
            let (high, low) = (
                rd::rd_kafka_Uuid_most_significant_bits(uuid),
                rd::rd_kafka_Uuid_least_significant_bits(uuid),
            );
            if let Some(id) = format_topic_id(high, low) {
                ids.insert(name, id);
            }
        }
    }
    Ok(ids)
}

/// Kafka's own text form of a topic id (`Uuid.toString()`): the 16 bytes, most significant
/// first, in URL-safe base64 without padding. The all-zero id means "none".
pub fn format_topic_id(most_significant: i64, least_significant: i64) -> Option<String> {
    if most_significant == 0 && least_significant == 0 {
        return None;
    }
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&most_significant.to_be_bytes());
    bytes[8..].copy_from_slice(&least_significant.to_be_bytes());
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// A C array librdkafka returned, as a slice (empty for null).
///
/// # Safety
/// `items` must point to `count` valid entries that outlive the returned slice's use.
unsafe fn slice<'a, T>(items: *mut *const T, count: usize) -> &'a [*const T] {
    if items.is_null() || count == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(items, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_ids_print_as_kafka_does() {
        // Kafka prints Uuid(0x0123456789abcdef, 0xfedcba9876543210) as "ASNFZ4mrze_-3LqYdlQyEA".
        assert_eq!(
            format_topic_id(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210_u64 as i64).as_deref(),
            Some("ASNFZ4mrze_-3LqYdlQyEA")
        );
        assert_eq!(format_topic_id(0, 0), None);
    }
}
