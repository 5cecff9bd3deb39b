//! Consumer groups: ListConsumerGroups, DescribeConsumerGroups,
//! ListConsumerGroupOffsets, AlterConsumerGroupOffsets, DeleteGroups and
//! DeleteConsumerGroupOffsets.
//!
//! librdkafka takes one group per offsets request (list, alter, delete-offsets); the
//! `submit_*` forms let a caller put several in flight and then wait for each.

use std::os::raw::c_char;
use std::time::Duration;

use anyhow::Result;
use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};
use rdkafka::types::RDKafkaErrorCode;

use super::{
    c_string, no_options, read_partitions, slice, submit, text, AdminError, Owned, PartitionList,
    PartitionOffset, Pending,
};

/// A group as ListConsumerGroups names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    pub group: String,
    /// librdkafka's name: Stable, Empty, PreparingRebalance, CompletingRebalance, Dead, Unknown.
    pub state: String,
    /// `classic`, `consumer` (KIP-848's protocol) or `unknown`.
    pub group_type: String,
    /// A group that only stores offsets, with no membership protocol.
    pub simple: bool,
}

/// Every group the brokers know; per-broker failures come back beside the groups found,
/// so one broker's trouble does not hide the others' groups.
pub fn list_groups<C: ClientContext>(
    client: &Client<C>,
    timeout: Duration,
) -> Result<(Vec<GroupListing>, Vec<AdminError>)> {
    let event = submit(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS,
        rd::RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT,
        timeout,
        no_options,
        |rk, options, queue| {
            // SAFETY: live handles.
            unsafe { rd::rd_kafka_ListConsumerGroups(rk, options, queue) }
        },
    )?
    .wait()?;
    // SAFETY: the event is a ListConsumerGroups result, alive while we read it.
    unsafe {
        let result = rd::rd_kafka_event_ListConsumerGroups_result(event.ptr());
        let mut count = 0usize;
        let valid = rd::rd_kafka_ListConsumerGroups_result_valid(result, &mut count);
        let groups = slice(valid as *const _, count)
            .iter()
            .map(|&listing| GroupListing {
                group: text(rd::rd_kafka_ConsumerGroupListing_group_id(listing))
                    .unwrap_or_default(),
                state: state_name(rd::rd_kafka_ConsumerGroupListing_state(listing)),
                group_type: type_name(rd::rd_kafka_ConsumerGroupListing_type(listing)),
                simple: rd::rd_kafka_ConsumerGroupListing_is_simple_consumer_group(listing) != 0,
            })
            .collect();
        let mut count = 0usize;
        let failed = rd::rd_kafka_ListConsumerGroups_result_errors(result, &mut count);
        let errors = slice(failed as *const _, count)
            .iter()
            .filter_map(|&error| AdminError::from_error(error))
            .collect();
        Ok((groups, errors))
    }
}

/// One member of a group and the partitions assigned to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub member_id: String,
    pub client_id: String,
    pub host: String,
    /// `group.instance.id` of a static member.
    pub instance_id: Option<String>,
    /// `(topic, partition)`, as assigned now.
    pub assignment: Vec<(String, i32)>,
}

/// A broker, as a group's coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: i32,
    pub host: String,
    pub port: u16,
}

/// What DescribeConsumerGroups says about one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub group: String,
    /// Set when this group could not be described (the other fields are then empty).
    pub error: Option<AdminError>,
    pub state: String,
    pub group_type: String,
    pub simple: bool,
    /// The partition assignor (`range`, `cooperative-sticky`, `uniform`, ...); None if none.
    pub assignor: Option<String>,
    pub coordinator: Option<Node>,
    pub members: Vec<Member>,
}

impl GroupDescription {
    /// Kafka answers for a group it does not know with the state `Dead` (classic
    /// protocol) or GROUP_ID_NOT_FOUND (the consumer protocol).
    pub fn exists(&self) -> bool {
        match &self.error {
            Some(error) => error.code != RDKafkaErrorCode::GroupIdNotFound,
            None => self.state != "Dead",
        }
    }
}

/// Describe groups; one description per group asked for, in the brokers' order.
pub fn describe_groups<C: ClientContext>(
    client: &Client<C>,
    groups: &[&str],
    timeout: Duration,
) -> Result<Vec<GroupDescription>> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    submit_describe_groups(client, groups, timeout)?.wait()
}

/// A DescribeConsumerGroups request in flight.
pub struct PendingDescriptions(Pending);

impl PendingDescriptions {
    pub fn wait(self) -> Result<Vec<GroupDescription>> {
        let event = self.0.wait()?;
        // SAFETY: the event is a DescribeConsumerGroups result, alive while we read it.
        unsafe {
            let result = rd::rd_kafka_event_DescribeConsumerGroups_result(event.ptr());
            let mut count = 0usize;
            let groups = rd::rd_kafka_DescribeConsumerGroups_result_groups(result, &mut count);
            Ok(slice(groups as *const _, count)
                .iter()
                .map(|&group| read_description(group))
                .collect())
        }
    }
}

/// Submit a DescribeConsumerGroups request (at least one group).
pub fn submit_describe_groups<C: ClientContext>(
    client: &Client<C>,
    groups: &[&str],
    timeout: Duration,
) -> Result<PendingDescriptions> {
    let names = groups
        .iter()
        .map(|group| c_string(group, "group name"))
        .collect::<Result<Vec<_>>>()?;
    let mut pointers: Vec<*const c_char> = names.iter().map(|name| name.as_ptr()).collect();
    let pending = submit(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS,
        rd::RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT,
        timeout,
        no_options,
        |rk, options, queue| {
            // SAFETY: live handles; librdkafka copies the names.
            unsafe {
                rd::rd_kafka_DescribeConsumerGroups(
                    rk,
                    pointers.as_mut_ptr(),
                    pointers.len(),
                    options,
                    queue,
                )
            }
        },
    )?;
    Ok(PendingDescriptions(pending))
}

/// # Safety
/// `group` must be a live description.
unsafe fn read_description(
    group: *const rd::rd_kafka_ConsumerGroupDescription_t,
) -> GroupDescription {
    // SAFETY: the caller keeps this function's contract (its `# Safety`).
    unsafe {
        let name = text(rd::rd_kafka_ConsumerGroupDescription_group_id(group)).unwrap_or_default();
        let error = AdminError::from_error(rd::rd_kafka_ConsumerGroupDescription_error(group));
        let coordinator = rd::rd_kafka_ConsumerGroupDescription_coordinator(group);
        let coordinator = (!coordinator.is_null()).then(|| Node {
            id: rd::rd_kafka_Node_id(coordinator),
            host: text(rd::rd_kafka_Node_host(coordinator)).unwrap_or_default(),
            port: rd::rd_kafka_Node_port(coordinator),
        });
        let members = (0..rd::rd_kafka_ConsumerGroupDescription_member_count(group))
            .map(|index| rd::rd_kafka_ConsumerGroupDescription_member(group, index))
            .filter(|member| !member.is_null())
            .map(|member| {
                let assignment = rd::rd_kafka_MemberDescription_assignment(member);
                let partitions = if assignment.is_null() {
                    Vec::new()
                } else {
                    read_partitions(rd::rd_kafka_MemberAssignment_partitions(assignment))
                };
                Member {
                    member_id: text(rd::rd_kafka_MemberDescription_consumer_id(member))
                        .unwrap_or_default(),
                    client_id: text(rd::rd_kafka_MemberDescription_client_id(member))
                        .unwrap_or_default(),
                    host: text(rd::rd_kafka_MemberDescription_host(member)).unwrap_or_default(),
                    instance_id: text(rd::rd_kafka_MemberDescription_group_instance_id(member)),
                    assignment: partitions
                        .into_iter()
                        .map(|p| (p.topic, p.partition))
                        .collect(),
                }
            })
            .collect();
        GroupDescription {
            group: name,
            error,
            state: state_name(rd::rd_kafka_ConsumerGroupDescription_state(group)),
            group_type: type_name(rd::rd_kafka_ConsumerGroupDescription_type(group)),
            simple: rd::rd_kafka_ConsumerGroupDescription_is_simple_consumer_group(group) != 0,
            assignor: text(rd::rd_kafka_ConsumerGroupDescription_partition_assignor(
                group,
            )),
            coordinator,
            members,
        }
    }
}

fn state_name(state: rd::rd_kafka_consumer_group_state_t) -> String {
    // SAFETY: librdkafka returns a static string for every state value.
    text(unsafe { rd::rd_kafka_consumer_group_state_name(state) })
        .unwrap_or_else(|| "Unknown".into())
}

fn type_name(group_type: rd::rd_kafka_consumer_group_type_t) -> String {
    // SAFETY: librdkafka returns a static string for every type value.
    text(unsafe { rd::rd_kafka_consumer_group_type_name(group_type) })
        .unwrap_or_else(|| "Unknown".into())
        .to_ascii_lowercase()
}

/// What an offsets request did for one group: its own failure, else one entry per
/// partition (each with its own failure, if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPartitions {
    pub group: String,
    pub error: Option<AdminError>,
    pub partitions: Vec<PartitionOffset>,
}

impl GroupPartitions {
    /// The group's failure, else the first partition's.
    pub fn first_error(&self) -> Option<&AdminError> {
        self.error
            .as_ref()
            .or_else(|| self.partitions.iter().find_map(|p| p.error.as_ref()))
    }
}

/// An offsets request for one group in flight.
pub struct PendingGroupPartitions {
    pending: Pending,
    read: unsafe fn(*mut rd::rd_kafka_event_t) -> Vec<GroupPartitions>,
}

impl PendingGroupPartitions {
    /// The one group's answer.
    pub fn wait(self) -> Result<GroupPartitions> {
        let event = self.pending.wait()?;
        // SAFETY: `read` matches the event type `wait` checked; the event is alive.
        let mut groups = unsafe { (self.read)(event.ptr()) };
        groups
            .pop()
            .ok_or_else(|| anyhow::anyhow!("librdkafka answered for no group"))
    }
}

/// # Safety
/// `results` must point to `count` live group results.
unsafe fn read_group_results(
    results: *const *const rd::rd_kafka_group_result_t,
    count: usize,
) -> Vec<GroupPartitions> {
    // SAFETY: the caller keeps this function's contract (its `# Safety`).
    unsafe {
        slice(results, count)
            .iter()
            .map(|&result| GroupPartitions {
                group: text(rd::rd_kafka_group_result_name(result)).unwrap_or_default(),
                error: AdminError::from_error(rd::rd_kafka_group_result_error(result)),
                partitions: read_partitions(rd::rd_kafka_group_result_partitions(result)),
            })
            .collect()
    }
}

/// The committed offsets of `group`: of every partition it committed (`partitions`
/// None), or of the partitions named (offset -1001 where there is no commit).
pub fn submit_committed_offsets<C: ClientContext>(
    client: &Client<C>,
    group: &str,
    partitions: Option<&[(String, i32)]>,
    timeout: Duration,
) -> Result<PendingGroupPartitions> {
    let name = c_string(group, "group name")?;
    let list = partitions
        .map(|partitions| PartitionList::of(partitions.iter().map(|(t, p)| (t.clone(), *p, -1001))))
        .transpose()?;
    // SAFETY: a NUL-terminated name and a live list (or null, "all"); both are copied.
    let request = Owned::new(
        unsafe {
            rd::rd_kafka_ListConsumerGroupOffsets_new(
                name.as_ptr(),
                list.as_ref().map_or(std::ptr::null(), |l| l.ptr()),
            )
        },
        rd::rd_kafka_ListConsumerGroupOffsets_destroy,
        "a committed-offsets request",
    )?;
    let mut requests = [request.ptr];
    let pending = submit(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
        rd::RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT,
        timeout,
        no_options,
        |rk, options, queue| {
            // SAFETY: live handles; librdkafka copies the request.
            unsafe {
                rd::rd_kafka_ListConsumerGroupOffsets(rk, requests.as_mut_ptr(), 1, options, queue)
            }
        },
    )?;
    unsafe fn read(event: *mut rd::rd_kafka_event_t) -> Vec<GroupPartitions> {
        // SAFETY: the caller keeps this function's contract (its `# Safety`).
        unsafe {
            let result = rd::rd_kafka_event_ListConsumerGroupOffsets_result(event);
            let mut count = 0usize;
            let groups = rd::rd_kafka_ListConsumerGroupOffsets_result_groups(result, &mut count);
            read_group_results(groups as *const _, count)
        }
    }
    Ok(PendingGroupPartitions { pending, read })
}

/// [`submit_committed_offsets`], waited for.
pub fn committed_offsets<C: ClientContext>(
    client: &Client<C>,
    group: &str,
    partitions: Option<&[(String, i32)]>,
    timeout: Duration,
) -> Result<GroupPartitions> {
    submit_committed_offsets(client, group, partitions, timeout)?.wait()
}

/// Commit `offsets` (`(topic, partition, offset)`) for `group`, which must have no
/// active member (the brokers refuse otherwise, with UNKNOWN_MEMBER_ID).
pub fn alter_committed_offsets<C: ClientContext>(
    client: &Client<C>,
    group: &str,
    offsets: &[(String, i32, i64)],
    timeout: Duration,
) -> Result<GroupPartitions> {
    let name = c_string(group, "group name")?;
    let list = PartitionList::of(offsets.iter().cloned())?;
    // SAFETY: a NUL-terminated name and a live list; both are copied.
    let request = Owned::new(
        unsafe { rd::rd_kafka_AlterConsumerGroupOffsets_new(name.as_ptr(), list.ptr()) },
        rd::rd_kafka_AlterConsumerGroupOffsets_destroy,
        "an offsets change",
    )?;
    let mut requests = [request.ptr];
    let pending = submit(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS,
        rd::RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT,
        timeout,
        no_options,
        |rk, options, queue| {
            // SAFETY: live handles; librdkafka copies the request.
            unsafe {
                rd::rd_kafka_AlterConsumerGroupOffsets(rk, requests.as_mut_ptr(), 1, options, queue)
            }
        },
    )?;
    unsafe fn read(event: *mut rd::rd_kafka_event_t) -> Vec<GroupPartitions> {
        // SAFETY: the caller keeps this function's contract (its `# Safety`).
        unsafe {
            let result = rd::rd_kafka_event_AlterConsumerGroupOffsets_result(event);
            let mut count = 0usize;
            let groups = rd::rd_kafka_AlterConsumerGroupOffsets_result_groups(result, &mut count);
            read_group_results(groups as *const _, count)
        }
    }
    PendingGroupPartitions { pending, read }.wait()
}

/// Delete the committed offsets of `partitions` (`(topic, partition)`) from `group`.
/// The brokers refuse for a topic the group's active members are subscribed to.
pub fn delete_committed_offsets<C: ClientContext>(
    client: &Client<C>,
    group: &str,
    partitions: &[(String, i32)],
    timeout: Duration,
) -> Result<GroupPartitions> {
    let name = c_string(group, "group name")?;
    let list = PartitionList::of(partitions.iter().map(|(t, p)| (t.clone(), *p, -1001)))?;
    // SAFETY: a NUL-terminated name and a live list; both are copied.
    let request = Owned::new(
        unsafe { rd::rd_kafka_DeleteConsumerGroupOffsets_new(name.as_ptr(), list.ptr()) },
        rd::rd_kafka_DeleteConsumerGroupOffsets_destroy,
        "an offsets deletion",
    )?;
    let mut requests = [request.ptr];
    let pending = submit(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DELETECONSUMERGROUPOFFSETS,
        rd::RD_KAFKA_EVENT_DELETECONSUMERGROUPOFFSETS_RESULT,
        timeout,
        no_options,
        |rk, options, queue| {
            // SAFETY: live handles; librdkafka copies the request.
            unsafe {
                rd::rd_kafka_DeleteConsumerGroupOffsets(
                    rk,
                    requests.as_mut_ptr(),
                    1,
                    options,
                    queue,
                )
            }
        },
    )?;
    unsafe fn read(event: *mut rd::rd_kafka_event_t) -> Vec<GroupPartitions> {
        // SAFETY: the caller keeps this function's contract (its `# Safety`).
        unsafe {
            let result = rd::rd_kafka_event_DeleteConsumerGroupOffsets_result(event);
            let mut count = 0usize;
            let groups = rd::rd_kafka_DeleteConsumerGroupOffsets_result_groups(result, &mut count);
            read_group_results(groups as *const _, count)
        }
    }
    PendingGroupPartitions { pending, read }.wait()
}

/// Delete groups (their committed offsets included); one result per group. The brokers
/// refuse a group with active members (NON_EMPTY_GROUP).
pub fn delete_groups<C: ClientContext>(
    client: &Client<C>,
    groups: &[&str],
    timeout: Duration,
) -> Result<Vec<(String, Option<AdminError>)>> {
    let mut requests = Vec::with_capacity(groups.len());
    for group in groups {
        let name = c_string(group, "group name")?;
        // SAFETY: a NUL-terminated name; librdkafka copies it.
        requests.push(Owned::new(
            unsafe { rd::rd_kafka_DeleteGroup_new(name.as_ptr()) },
            rd::rd_kafka_DeleteGroup_destroy,
            "a group deletion",
        )?);
    }
    let mut pointers: Vec<*mut rd::rd_kafka_DeleteGroup_t> =
        requests.iter().map(|r| r.ptr).collect();
    let event = submit(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DELETEGROUPS,
        rd::RD_KAFKA_EVENT_DELETEGROUPS_RESULT,
        timeout,
        no_options,
        |rk, options, queue| {
            // SAFETY: live handles; librdkafka copies the requests.
            unsafe {
                rd::rd_kafka_DeleteGroups(rk, pointers.as_mut_ptr(), pointers.len(), options, queue)
            }
        },
    )?
    .wait()?;
    // SAFETY: the event is a DeleteGroups result, alive while we read it.
    let results = unsafe {
        let result = rd::rd_kafka_event_DeleteGroups_result(event.ptr());
        let mut count = 0usize;
        let groups = rd::rd_kafka_DeleteGroups_result_groups(result, &mut count);
        read_group_results(groups as *const _, count)
    };
    Ok(results.into_iter().map(|r| (r.group, r.error)).collect())
}
