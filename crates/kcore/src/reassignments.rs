//! Partition reassignments (KIP-455): move a partition's replicas to other brokers, list
//! the moves in progress, cancel them. librdkafka has no call for these, so they go over
//! a [`BrokerLink`] to the controller the cluster's metadata names (a KRaft broker
//! forwards them to the active controller; a ZooKeeper-mode cluster wants its controller).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, Result};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, BrokerId,
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::broker_link::BrokerLink;
use crate::{Connection, Failure};

/// What to do with one partition: move it to these replicas (the first is its preferred
/// leader), or, `None`, cancel the move in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub topic: String,
    pub partition: i32,
    pub replicas: Option<Vec<i32>>,
}

/// A move in progress, as the controller reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ongoing {
    pub topic: String,
    pub partition: i32,
    /// Every replica during the move: the target and those still to be removed.
    pub replicas: Vec<i32>,
    pub adding: Vec<i32>,
    pub removing: Vec<i32>,
}

/// The controller's verdict on one partition's move: None when accepted.
pub type Verdicts = BTreeMap<(String, i32), Option<String>>;

/// Ask the controller at `address` to make these moves; one verdict per partition.
pub fn alter(connection: &Connection, address: &str, moves: &[Move]) -> Result<Verdicts> {
    if moves.is_empty() {
        return Ok(Verdicts::new());
    }
    let mut by_topic: BTreeMap<&str, Vec<ReassignablePartition>> = BTreeMap::new();
    for m in moves {
        by_topic.entry(&m.topic).or_default().push(
            ReassignablePartition::default()
                .with_partition_index(m.partition)
                .with_replicas(
                    m.replicas
                        .as_ref()
                        .map(|r| r.iter().map(|id| BrokerId(*id)).collect()),
                ),
        );
    }
    let topics = by_topic
        .into_iter()
        .map(|(topic, partitions)| {
            ReassignableTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(partitions)
        })
        .collect();
    let request = AlterPartitionReassignmentsRequest::default()
        .with_timeout_ms(millis(connection.timeout))
        .with_topics(topics);
    let mut link = BrokerLink::open(connection, address)?;
    let response: AlterPartitionReassignmentsResponse = link.send(&request, 0)?;
    refuse_if_failed(
        response.error_code,
        response.error_message.as_deref(),
        "move replicas",
    )?;
    let mut verdicts = Verdicts::new();
    for topic in response.responses {
        for partition in topic.partitions {
            let verdict = ResponseError::try_from_code(partition.error_code).map(|err| {
                partition
                    .error_message
                    .as_deref()
                    .map_or_else(|| err.to_string(), |m| format!("{err}: {m}"))
            });
            verdicts.insert(
                (topic.name.0.to_string(), partition.partition_index),
                verdict,
            );
        }
    }
    Ok(verdicts)
}

/// The moves in progress: of these topics' partitions, or of every topic (`None`).
pub fn list(
    connection: &Connection,
    address: &str,
    partitions: Option<&BTreeMap<String, Vec<i32>>>,
) -> Result<Vec<Ongoing>> {
    let topics = partitions.map(|wanted| {
        wanted
            .iter()
            .map(|(topic, ids)| {
                ListPartitionReassignmentsTopics::default()
                    .with_name(TopicName(StrBytes::from_string(topic.clone())))
                    .with_partition_indexes(ids.clone())
            })
            .collect()
    });
    let request = ListPartitionReassignmentsRequest::default()
        .with_timeout_ms(millis(connection.timeout))
        .with_topics(topics);
    let mut link = BrokerLink::open(connection, address)?;
    let response: ListPartitionReassignmentsResponse = link.send(&request, 0)?;
    refuse_if_failed(
        response.error_code,
        response.error_message.as_deref(),
        "list reassignments",
    )?;
    let ids = |list: &[BrokerId]| list.iter().map(|b| b.0).collect::<Vec<i32>>();
    let mut ongoing = Vec::new();
    for topic in response.topics {
        for p in topic.partitions {
            ongoing.push(Ongoing {
                topic: topic.name.0.to_string(),
                partition: p.partition_index,
                replicas: ids(&p.replicas),
                adding: ids(&p.adding_replicas),
                removing: ids(&p.removing_replicas),
            });
        }
    }
    ongoing.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    Ok(ongoing)
}

fn refuse_if_failed(code: i16, message: Option<&str>, doing: &str) -> Result<()> {
    let Some(err) = ResponseError::try_from_code(code) else {
        return Ok(());
    };
    let said = message.map(|m| format!(": {m}")).unwrap_or_default();
    if matches!(
        err,
        ResponseError::ClusterAuthorizationFailed | ResponseError::TopicAuthorizationFailed
    ) {
        // The broker's own message here is a dump of its request object: the code says it.
        let _ = said;
        return Err(Failure::denied(
            format!("cannot {doing}"),
            format!("{err}; ALTER on the cluster is needed"),
        )
        .into());
    }
    Err(anyhow!("cannot {doing}: {err}{said}"))
}

fn millis(timeout: Duration) -> i32 {
    timeout.as_millis().clamp(1, i32::MAX as u128) as i32
}

/// Wait until every move is done: the controller lists it no more, and the metadata shows
/// the partition on exactly its new replicas, all of them in sync. `finished` hears of
/// each as it finishes. The moves still going at `deadline` (they go on) come back.
pub fn wait_for<C: rdkafka::client::ClientContext>(
    connection: &Connection,
    client: &rdkafka::client::Client<C>,
    controller: &str,
    mut moves: Vec<Move>,
    deadline: std::time::Instant,
    mut finished: impl FnMut(&Move) -> Result<()>,
) -> Result<Vec<Move>> {
    while !moves.is_empty() {
        let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for m in &moves {
            topics.entry(m.topic.clone()).or_default().push(m.partition);
        }
        let ongoing = list(connection, controller, Some(&topics))?;
        let metadata = client
            .fetch_metadata(None, connection.timeout)
            .map_err(|err| {
                Failure::unreachable(format!("cannot read the cluster's metadata: {err}"))
            })?;
        let placed = |m: &Move| -> bool {
            let Some(target) = &m.replicas else {
                return true;
            };
            metadata
                .topics()
                .iter()
                .find(|t| t.name() == m.topic)
                .and_then(|t| t.partitions().iter().find(|p| p.id() == m.partition))
                .is_some_and(|p| {
                    p.replicas() == target.as_slice() && target.iter().all(|b| p.isr().contains(b))
                })
        };
        let mut still = Vec::new();
        for m in moves {
            let moving = ongoing
                .iter()
                .any(|o| o.topic == m.topic && o.partition == m.partition);
            if !moving && placed(&m) {
                finished(&m)?;
            } else {
                still.push(m);
            }
        }
        moves = still;
        if moves.is_empty() || std::time::Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(moves)
}

/// Tell the controller that broker `id` is gone for good (KRaft's UnregisterBroker): it
/// leaves the metadata at once instead of staying listed as fenced.
pub fn unregister_broker(connection: &Connection, address: &str, id: i32) -> Result<()> {
    use kafka_protocol::messages::{UnregisterBrokerRequest, UnregisterBrokerResponse};
    let mut link = BrokerLink::open(connection, address)?;
    let response: UnregisterBrokerResponse = link.send(
        &UnregisterBrokerRequest::default().with_broker_id(BrokerId(id)),
        0,
    )?;
    refuse_if_failed(
        response.error_code,
        response.error_message.as_deref(),
        &format!("unregister broker {id}"),
    )
}
