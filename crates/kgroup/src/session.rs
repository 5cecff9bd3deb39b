//! kgroup's side of the admin session (kcore's [`kcore::admin::session::Session`]): the
//! topics the cluster has, and what group failures mean.

use std::collections::BTreeMap;
use std::ops::Deref;

use anyhow::Result;
use rdkafka::types::RDKafkaErrorCode;

use kcore::admin::groups::{self, GroupDescription};
use kcore::admin::AdminError;
use kcore::{ConnectionArgs, Failure};

/// The command's admin session, with the topics the cluster has.
pub struct Session {
    admin: kcore::admin::session::Session,
    /// Partition ids of every topic, from the metadata fetched at start.
    pub topics: BTreeMap<String, Vec<i32>>,
}

impl Deref for Session {
    type Target = kcore::admin::session::Session;
    fn deref(&self) -> &Self::Target {
        &self.admin
    }
}

impl Session {
    /// Connect and fetch the metadata: exit 5 with one line when the brokers cannot be
    /// reached within --timeout.
    pub fn open(args: &ConnectionArgs) -> Result<Session> {
        let admin = kcore::admin::session::Session::open(args, "kgroup")?;
        let topics = admin.topic_partitions()?;
        Ok(Session { admin, topics })
    }

    /// The partitions of `topic`; exit 6 for a topic the cluster does not have.
    pub fn partitions_of(&self, topic: &str) -> Result<&[i32]> {
        self.topics
            .get(topic)
            .map(Vec::as_slice)
            .ok_or_else(|| Failure::not_found(format!("unknown topic '{topic}'")).into())
    }

    /// Describe one group that must exist: exit 6 when it does not.
    pub fn existing_group(&self, group: &str) -> Result<GroupDescription> {
        let description = groups::describe_groups(self.client(), &[group], self.timeout())
            .map_err(|err| failure(err, &format!("cannot describe group '{group}'")))?
            .into_iter()
            .find(|d| d.group == group)
            .ok_or_else(|| anyhow::anyhow!("the brokers did not describe group '{group}'"))?;
        check_description(&description)?;
        Ok(description)
    }
}

/// A description's own failure, or an unknown group, as an error with its exit code.
pub fn check_description(description: &GroupDescription) -> Result<()> {
    let group = &description.group;
    if !description.exists() {
        return Err(Failure::not_found(format!("unknown group '{group}'")).into());
    }
    if let Some(error) = &description.error {
        return Err(admin_failure(
            error,
            &format!("cannot describe group '{group}'"),
        ));
    }
    Ok(())
}

/// Refuse to change the offsets of a group that has active members (exit 9): the brokers
/// accept offsets only from the group's own members while it has any, and a running
/// consumer would overwrite them with its next commit anyway.
pub fn require_inactive(description: &GroupDescription, doing: &str) -> Result<()> {
    let count = description.members.len();
    if count == 0 {
        return Ok(());
    }
    let clients: Vec<String> = description
        .members
        .iter()
        .map(|m| format!("{} on {}", m.client_id, m.host))
        .collect();
    Err(Failure::refused(format!(
        "cannot {doing} group '{}': it has {count} active member{} ({}; state {}); stop its consumers first",
        description.group,
        if count == 1 { "" } else { "s" },
        clients.join(", "),
        description.state
    ))
    .into())
}

/// An error from the admin layer, with the exit code its cause calls for.
pub fn failure(err: anyhow::Error, doing: &str) -> anyhow::Error {
    match err.downcast_ref::<AdminError>() {
        Some(admin) => admin_failure(admin, doing),
        None => err.context(doing.to_string()),
    }
}

/// What a broker's (or librdkafka's) answer means for the exit code.
pub fn admin_failure(error: &AdminError, doing: &str) -> anyhow::Error {
    let message = format!("{doing}: {error}");
    if error.is_not_authorized() {
        return Failure::denied(doing, error).into();
    }
    if error.is_timeout() {
        return Failure::unreachable(message).into();
    }
    match error.code {
        RDKafkaErrorCode::GroupIdNotFound | RDKafkaErrorCode::UnknownTopicOrPartition => {
            Failure::not_found(message).into()
        }
        RDKafkaErrorCode::NonEmptyGroup
        | RDKafkaErrorCode::UnknownMemberId
        | RDKafkaErrorCode::GroupSubscribedToTopic
        | RDKafkaErrorCode::RebalanceInProgress
        | RDKafkaErrorCode::IllegalGeneration => Failure::refused(format!(
            "{message} (the group has active members; stop its consumers first)"
        ))
        .into(),
        _ => anyhow::anyhow!(message),
    }
}

/// Names in the order given, each once.
pub fn unique(names: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names
        .iter()
        .filter(|name| seen.insert(name.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kcore::failure::exit_code_for;
    use kcore::ExitCode;
    use rdkafka::bindings::rd_kafka_resp_err_t as E;

    fn code(err: E) -> ExitCode {
        exit_code_for(&admin_failure(&AdminError::new(err, None), "doing"))
    }

    #[test]
    fn broker_errors_map_to_documented_codes() {
        assert_eq!(
            code(E::RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED),
            ExitCode::NotAuthorized
        );
        assert_eq!(
            code(E::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED),
            ExitCode::NotAuthorized
        );
        assert_eq!(
            code(E::RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND),
            ExitCode::NotFound
        );
        assert_eq!(
            code(E::RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP),
            ExitCode::Refused
        );
        assert_eq!(
            code(E::RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID),
            ExitCode::Refused
        );
        assert_eq!(code(E::RD_KAFKA_RESP_ERR__TIMED_OUT), ExitCode::Unreachable);
        assert_eq!(
            code(E::RD_KAFKA_RESP_ERR_INVALID_REQUEST),
            ExitCode::Failure
        );
    }

    #[test]
    fn unique_keeps_first_order() {
        let names: Vec<String> = ["b", "a", "b"].map(String::from).to_vec();
        assert_eq!(unique(&names), ["b", "a"]);
    }
}
