//! The two roles a node of a cluster can have, and what follows from each.

use kcore::state::{ClusterState, NodeState};

/// The role of a node: what its JSON line says and what its node directory
/// (`kafka-N/`, `zookeeper-N/`) and compose service (`kafka-N`, `zookeeper-N`) are called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Broker,
    Zookeeper,
}

impl Role {
    /// The role a node command (`stop`, `kill`, `start`, `logs`) acts on: given `--zookeeper`
    /// or a broker.
    pub fn of_flag(zookeeper: bool) -> Role {
        if zookeeper {
            Role::Zookeeper
        } else {
            Role::Broker
        }
    }

    /// The JSON `role`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Broker => "broker",
            Role::Zookeeper => "zookeeper",
        }
    }

    /// What its node directory and its compose service are named after: `kafka-N`,
    /// `zookeeper-N` (the seed's service names).
    pub fn prefix(self) -> &'static str {
        match self {
            Role::Broker => "kafka",
            Role::Zookeeper => "zookeeper",
        }
    }

    /// What people call it in messages.
    pub fn label(self) -> &'static str {
        match self {
            Role::Broker => "broker",
            Role::Zookeeper => "ZooKeeper node",
        }
    }

    pub fn service(self, id: u32) -> String {
        format!("{}-{id}", self.prefix())
    }

    /// The nodes of this role in a cluster.
    pub fn nodes(self, state: &ClusterState) -> &[NodeState] {
        match self {
            Role::Broker => &state.brokers,
            Role::Zookeeper => &state.zookeepers,
        }
    }

    /// The node with this role and id, if the cluster has one.
    pub fn node(self, state: &ClusterState, id: u32) -> Option<&NodeState> {
        self.nodes(state).iter().find(|n| n.id == id)
    }

    /// The node's directory in the cluster's state directory (local backend).
    pub fn node_dir(self, state: &ClusterState, id: u32) -> std::path::PathBuf {
        state.node_dir(self.prefix(), id)
    }
}
