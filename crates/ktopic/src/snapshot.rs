//! The cluster's topics as one metadata answer saw them, in plain owned values.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use rdkafka::client::{Client, ClientContext};
use serde_json::{json, Value};

use kcore::{Connection, QuietContext};

/// Brokers and topics from one metadata answer.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Ids of the brokers in the metadata: the live ones.
    pub brokers: Vec<i32>,
    /// `host:port` of each of those brokers, as they advertise themselves.
    pub addresses: BTreeMap<i32, String>,
    /// The broker that gave this answer.
    pub answered_by: i32,
    /// Every topic, by name (so iteration is sorted).
    pub topics: BTreeMap<String, TopicState>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicState {
    pub name: String,
    pub partitions: Vec<PartitionState>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionState {
    pub id: i32,
    /// `None` while the partition has no leader (offline, or still being created).
    pub leader: Option<i32>,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

impl Snapshot {
    /// Fetch every topic. Always the whole cluster, never one topic by name: a
    /// metadata request naming a topic lets brokers with `auto.create.topics.enable`
    /// (Kafka's default) create it, and describing must never create.
    pub fn fetch<C>(client: &Client<C>, connection: &Connection) -> Result<Snapshot>
    where
        C: ClientContext + AsRef<QuietContext>,
    {
        let serve = || kcore::admin::serve_events(client, Duration::ZERO);
        let metadata = kcore::metadata::fetch_serving(client, connection, None, &serve)?;
        let mut brokers: Vec<i32> = metadata.brokers().iter().map(|b| b.id()).collect();
        brokers.sort_unstable();
        let addresses = metadata
            .brokers()
            .iter()
            .map(|b| (b.id(), format!("{}:{}", b.host(), b.port())))
            .collect();
        let topics = metadata
            .topics()
            .iter()
            .map(|topic| {
                let mut partitions: Vec<PartitionState> = topic
                    .partitions()
                    .iter()
                    .map(|p| PartitionState {
                        id: p.id(),
                        leader: (p.leader() >= 0).then_some(p.leader()),
                        replicas: p.replicas().to_vec(),
                        isr: p.isr().to_vec(),
                    })
                    .collect();
                partitions.sort_by_key(|p| p.id);
                (
                    topic.name().to_string(),
                    TopicState {
                        name: topic.name().to_string(),
                        partitions,
                    },
                )
            })
            .collect();
        Ok(Snapshot {
            brokers,
            addresses,
            answered_by: metadata.orig_broker_id(),
            topics,
        })
    }
}

/// Kafka's own topics (`__consumer_offsets`, `__transaction_state`, ...) all start with
/// `__`; librdkafka's metadata does not carry the brokers' "internal" flag.
pub fn is_internal(topic: &str) -> bool {
    topic.starts_with("__")
}

impl TopicState {
    /// The largest replica count of its partitions (they differ only mid-reassignment).
    pub fn replication_factor(&self) -> usize {
        self.partitions
            .iter()
            .map(|p| p.replicas.len())
            .max()
            .unwrap_or(0)
    }

    pub fn under_replicated(&self) -> bool {
        self.partitions.iter().any(PartitionState::under_replicated)
    }

    pub fn offline(&self) -> bool {
        self.partitions.iter().any(PartitionState::offline)
    }

    /// `partitions` partitions (any number when `None`), each with a leader: ready for
    /// producers and consumers.
    pub fn is_ready(&self, partitions: Option<usize>) -> bool {
        !self.partitions.is_empty()
            && partitions.is_none_or(|n| self.partitions.len() == n)
            && self.partitions.iter().all(|p| p.leader.is_some())
    }

    /// The `list` line.
    pub fn summary(&self) -> Value {
        json!({
            "topic": self.name,
            "partitions": self.partitions.len(),
            "replication_factor": self.replication_factor(),
            "internal": is_internal(&self.name),
        })
    }

    /// The `describe` line (without configs); `id` is null when the brokers did not tell.
    pub fn description(&self, id: Option<&str>) -> Value {
        json!({
            "topic": self.name,
            "id": id,
            "internal": is_internal(&self.name),
            "partition_count": self.partitions.len(),
            "replication_factor": self.replication_factor(),
            "under_replicated": self.under_replicated(),
            "offline": self.offline(),
            "partitions": self.partitions.iter().map(PartitionState::description).collect::<Vec<_>>(),
        })
    }
}

impl PartitionState {
    /// Fewer in-sync replicas than replicas: a broker is down or behind.
    pub fn under_replicated(&self) -> bool {
        self.isr.len() < self.replicas.len()
    }

    /// No leader: nobody can produce to or consume from it.
    pub fn offline(&self) -> bool {
        self.leader.is_none()
    }

    pub fn description(&self) -> Value {
        json!({
            "partition": self.id,
            "leader": self.leader,
            "replicas": self.replicas,
            "isr": self.isr,
            "under_replicated": self.under_replicated(),
            "offline": self.offline(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(id: i32, leader: Option<i32>, replicas: &[i32], isr: &[i32]) -> PartitionState {
        PartitionState {
            id,
            leader,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
        }
    }

    #[test]
    fn health_of_partitions_and_topics() {
        let topic = TopicState {
            name: "t".into(),
            partitions: vec![
                partition(0, Some(1), &[1, 2, 3], &[1, 2, 3]),
                partition(1, Some(2), &[2, 3, 1], &[2, 1]),
            ],
        };
        assert!(!topic.partitions[0].under_replicated());
        assert!(topic.partitions[1].under_replicated());
        assert!(topic.under_replicated());
        assert!(!topic.offline());
        assert_eq!(topic.replication_factor(), 3);
        assert!(topic.is_ready(Some(2)));
        assert!(!topic.is_ready(Some(3)));

        let offline = TopicState {
            name: "o".into(),
            partitions: vec![partition(0, None, &[3], &[])],
        };
        assert!(offline.offline());
        assert!(!offline.is_ready(None));
        assert!(
            !TopicState::default().is_ready(None),
            "a topic without partitions is not ready"
        );
    }

    #[test]
    fn json_shapes() {
        let topic = TopicState {
            name: "t".into(),
            partitions: vec![partition(0, None, &[1, 2], &[1])],
        };
        assert_eq!(
            topic.description(Some("id1")).to_string(),
            r#"{"topic":"t","id":"id1","internal":false,"partition_count":1,"replication_factor":2,"under_replicated":true,"offline":true,"partitions":[{"partition":0,"leader":null,"replicas":[1,2],"isr":[1],"under_replicated":true,"offline":true}]}"#
        );
        assert_eq!(
            topic.summary().to_string(),
            r#"{"topic":"t","partitions":1,"replication_factor":2,"internal":false}"#
        );
    }

    #[test]
    fn internal_topics() {
        assert!(is_internal("__consumer_offsets"));
        assert!(is_internal("__transaction_state"));
        assert!(!is_internal("_schemas"));
        assert!(!is_internal("orders"));
    }
}
