//! Topics: CreateTopics with the broker's own message ("Unknown topic config name: x";
//! rdkafka's `create_topics` keeps only the error code), IncrementalAlterConfigs (rdkafka
//! has only AlterConfigs, which resets every key it is not sent), DescribeTopics (the
//! only way to a topic's id) and DescribeConfigs of topics (the one route for kprod's
//! record limit and ktopic's configs).

use std::collections::HashMap;
use std::os::raw::c_char;
use std::time::Duration;

use anyhow::Result;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};

use super::{c_string, millis, no_options, slice, submit, text, AdminError, Owned, Pending};
use crate::failure::Failure;

/// The operation timeout (how long the controller waits for the change to reach every
/// broker) exists only for some requests; librdkafka refuses it for the others.
pub(crate) fn operation_timeout(
    options: *mut rd::rd_kafka_AdminOptions_t,
    timeout: Duration,
) -> Result<()> {
    let mut errstr = [0 as c_char; 512];
    // SAFETY: live options and a writable buffer of the stated size.
    let err = unsafe {
        rd::rd_kafka_AdminOptions_set_operation_timeout(
            options,
            millis(timeout),
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    };
    if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        anyhow::bail!(
            "setting the operation timeout: {}",
            text(errstr.as_ptr()).unwrap_or_default()
        );
    }
    Ok(())
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
            return Err(
                Failure::usage(format!("cannot create topic '{}': {why}", topic.name)).into(),
            );
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
                return Err(Failure::usage(format!(
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
    let event = submit(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATETOPICS,
        rd::RD_KAFKA_EVENT_CREATETOPICS_RESULT,
        timeout,
        |options| operation_timeout(options, timeout),
        |rk, options, queue| {
            // SAFETY: live handles; librdkafka copies the NewTopic objects.
            unsafe {
                rd::rd_kafka_CreateTopics(rk, pointers.as_mut_ptr(), pointers.len(), options, queue)
            }
        },
    )?
    .wait()?;
    // SAFETY: the event is a CreateTopics result (checked by `request`), alive until the end.
    let results = unsafe {
        let result = rd::rd_kafka_event_CreateTopics_result(event.ptr());
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

/// A config resource naming `topic`, for DescribeConfigs and IncrementalAlterConfigs.
fn topic_resource(topic: &str) -> Result<Owned<rd::rd_kafka_ConfigResource_t>> {
    config_resource(&ConfigTarget::Topic(topic))
}

/// Whose config an IncrementalAlterConfigs changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigTarget<'a> {
    Topic(&'a str),
    /// A broker's dynamic config, by broker id.
    Broker(i32),
}

fn config_resource(target: &ConfigTarget<'_>) -> Result<Owned<rd::rd_kafka_ConfigResource_t>> {
    let (kind, name) = match target {
        ConfigTarget::Topic(topic) => (
            rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
            c_string(topic, "topic name")?,
        ),
        ConfigTarget::Broker(id) => (
            rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_BROKER,
            c_string(&id.to_string(), "broker id")?,
        ),
    };
    // SAFETY: a NUL-terminated name; librdkafka copies it.
    Owned::new(
        unsafe { rd::rd_kafka_ConfigResource_new(kind, name.as_ptr()) },
        rd::rd_kafka_ConfigResource_destroy,
        "a config resource",
    )
}

/// Apply `changes` to `topic`'s config and nothing else (IncrementalAlterConfigs).
/// A refusal of the broker comes back as an [`AdminError`] in the error chain.
pub fn alter_topic_config<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    changes: &[ConfigChange],
    timeout: Duration,
) -> Result<()> {
    alter_config(client, ConfigTarget::Topic(topic), changes, timeout)
}

/// Apply `changes` to a topic's or a broker's config and nothing else.
pub fn alter_config<C: ClientContext>(
    client: &Client<C>,
    target: ConfigTarget<'_>,
    changes: &[ConfigChange],
    timeout: Duration,
) -> Result<()> {
    let resource = config_resource(&target)?;
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
            return Err(Failure::usage(format!("bad config change for '{key}': {why}")).into());
        }
    }
    let mut pointers = [resource.ptr];
    let event = submit(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_INCREMENTALALTERCONFIGS,
        rd::RD_KAFKA_EVENT_INCREMENTALALTERCONFIGS_RESULT,
        timeout,
        no_options,
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
    )?
    .wait()?;
    // SAFETY: the event is an IncrementalAlterConfigs result, alive until the end.
    let resources = unsafe {
        let result = rd::rd_kafka_event_IncrementalAlterConfigs_result(event.ptr());
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

/// A DescribeTopics request for topic ids on its way: submitted before other work on the
/// same client (ktopic's metadata request) so that the two round trips overlap, answered
/// by [`Self::wait`] (ids as Kafka prints them: URL-safe base64, no padding; a topic the
/// brokers report an error for is left out). Dropped unanswered, librdkafka discards its
/// answer.
pub struct TopicIdsRequest(Option<Pending>);

impl TopicIdsRequest {
    pub fn submit<C: ClientContext>(
        client: &Client<C>,
        names: &[&str],
        timeout: Duration,
    ) -> Result<TopicIdsRequest> {
        if names.is_empty() {
            return Ok(TopicIdsRequest(None));
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
        let pending = submit(
            client,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBETOPICS,
            rd::RD_KAFKA_EVENT_DESCRIBETOPICS_RESULT,
            timeout,
            no_options,
            |rk, options, queue| {
                // SAFETY: live handles; librdkafka copies the collection.
                unsafe { rd::rd_kafka_DescribeTopics(rk, collection.ptr, options, queue) }
            },
        )?;
        Ok(TopicIdsRequest(Some(pending)))
    }

    /// The ids by topic name (bounded by the request's timeout).
    pub fn wait(self) -> Result<HashMap<String, String>> {
        let Some(pending) = self.0 else {
            return Ok(HashMap::new());
        };
        let event = pending.wait()?;
        // SAFETY: the event is a DescribeTopics result, alive until the end.
        let descriptions = unsafe {
            let result = rd::rd_kafka_event_DescribeTopics_result(event.ptr());
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

/// One config entry of a topic, as the brokers describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    /// None where the brokers hide it (sensitive) or have none.
    pub value: Option<String>,
    pub is_sensitive: bool,
    /// Set on the topic itself, not inherited from the brokers' defaults.
    pub is_override: bool,
}

/// Each topic with its config entries, or why the brokers would not describe it.
pub type DescribedConfigs = Vec<(String, Result<Vec<ConfigEntry>, AdminError>)>;

/// Every config entry of each of `topics` (DescribeConfigs, one request for all), sorted
/// by name: one result per topic, in the order asked; a topic the brokers refuse to
/// describe has its [`AdminError`].
pub fn describe_topic_configs<C: ClientContext>(
    client: &Client<C>,
    topics: &[&str],
    timeout: Duration,
) -> Result<DescribedConfigs> {
    TopicConfigsRequest::submit(client, topics, timeout)?.wait()
}

/// A DescribeConfigs request on its way: submitted first, so that its round trip overlaps
/// other work on the same client (kprod's metadata request), answered by [`Self::wait`].
/// Dropped unanswered, librdkafka discards its answer.
pub struct TopicConfigsRequest {
    topics: Vec<String>,
    pending: Option<Pending>,
}

impl TopicConfigsRequest {
    pub fn submit<C: ClientContext>(
        client: &Client<C>,
        topics: &[&str],
        timeout: Duration,
    ) -> Result<TopicConfigsRequest> {
        let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        if topics.is_empty() {
            return Ok(TopicConfigsRequest {
                topics,
                pending: None,
            });
        }
        let resources = topics
            .iter()
            .map(|topic| topic_resource(topic))
            .collect::<Result<Vec<_>>>()?;
        let mut pointers: Vec<_> = resources.iter().map(|r| r.ptr).collect();
        let pending = submit(
            client,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS,
            rd::RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT,
            timeout,
            no_options,
            |rk, options, queue| {
                // SAFETY: live handles; librdkafka copies the resources.
                unsafe {
                    rd::rd_kafka_DescribeConfigs(
                        rk,
                        pointers.as_mut_ptr(),
                        pointers.len(),
                        options,
                        queue,
                    )
                }
            },
        )?;
        Ok(TopicConfigsRequest {
            topics,
            pending: Some(pending),
        })
    }

    /// The answer (bounded by the request's timeout).
    pub fn wait(self) -> Result<DescribedConfigs> {
        let Some(pending) = self.pending else {
            return Ok(Vec::new());
        };
        let event = pending.wait()?;
        // SAFETY: the event is a DescribeConfigs result, alive while we read it.
        let described = unsafe {
            let result = rd::rd_kafka_event_DescribeConfigs_result(event.ptr());
            let mut count = 0usize;
            let resources = rd::rd_kafka_DescribeConfigs_result_resources(result, &mut count);
            slice(resources, count)
                .iter()
                .map(|&resource| read_config_resource(resource))
                .collect::<Vec<_>>()
        };
        let mut answers = Vec::with_capacity(self.topics.len());
        for topic in self.topics {
            let found = described.iter().find(|(name, _)| *name == topic);
            let Some((_, entries)) = found else {
                anyhow::bail!("the brokers described no config for topic '{topic}'");
            };
            let entries = entries.clone();
            answers.push((topic, entries));
        }
        Ok(answers)
    }
}

/// A described resource's name, and its entries sorted by name or its error.
///
/// # Safety
/// `resource` must be a resource of a live DescribeConfigs result.
unsafe fn read_config_resource(
    resource: *const rd::rd_kafka_ConfigResource_t,
) -> (String, Result<Vec<ConfigEntry>, AdminError>) {
    // SAFETY: the caller's promise: a live resource, and its entries live as long.
    unsafe {
        let name = text(rd::rd_kafka_ConfigResource_name(resource)).unwrap_or_default();
        let err = rd::rd_kafka_ConfigResource_error(resource);
        if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            let message = text(rd::rd_kafka_ConfigResource_error_string(resource));
            return (name, Err(AdminError::new(err, message)));
        }
        let mut count = 0usize;
        let entries = rd::rd_kafka_ConfigResource_configs(resource, &mut count);
        let mut entries: Vec<ConfigEntry> = slice(entries, count)
            .iter()
            .map(|&entry| {
                let is_sensitive = rd::rd_kafka_ConfigEntry_is_sensitive(entry) != 0;
                ConfigEntry {
                    name: text(rd::rd_kafka_ConfigEntry_name(entry)).unwrap_or_default(),
                    value: if is_sensitive {
                        None
                    } else {
                        text(rd::rd_kafka_ConfigEntry_value(entry))
                    },
                    is_sensitive,
                    is_override: rd::rd_kafka_ConfigEntry_source(entry)
                        == rd::rd_kafka_ConfigSource_t::RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG,
                }
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        (name, Ok(entries))
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
