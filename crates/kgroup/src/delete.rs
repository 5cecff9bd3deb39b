//! `kgroup delete` and `kgroup delete-offsets`.

use anyhow::Result;
use serde_json::json;

use kcore::admin::groups;

use crate::cli::{DeleteArgs, DeleteOffsetsArgs};
use crate::session::{admin_failure, failure, require_inactive, unique, Session};
use crate::spec;
use kcore::outcome::Outcome;

/// Delete groups; the brokers refuse a group with active members (exit 9) and one they
/// do not know (exit 6).
pub fn delete(session: &Session, args: &DeleteArgs) -> Result<()> {
    let names = unique(&args.groups);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let results = groups::delete_groups(session.client(), &refs, session.timeout())
        .map_err(|err| failure(err, "cannot delete groups"))?;
    let mut outcome = Outcome::new("kgroup", "groups", "deleted", names.len());
    let mut lines = Vec::new();
    for name in &names {
        match results.iter().find(|(group, _)| group == name) {
            Some((_, None)) => lines.push(json!({"group": name, "deleted": true})),
            Some((_, Some(error))) => outcome.fail(admin_failure(
                error,
                &format!("cannot delete group '{name}'"),
            )),
            None => outcome.fail(anyhow::anyhow!(
                "the brokers did not answer for group '{name}'"
            )),
        }
    }
    kcore::output::print(&lines, None)?;
    outcome.finish()
}

/// Delete a group's commits for some partitions; refused while the group has members.
pub fn delete_offsets(session: &Session, args: &DeleteOffsetsArgs) -> Result<()> {
    let group = args.group.as_str();
    // The group first, as for reset: a group one may not see says so before any topic.
    let description = session.existing_group(group)?;
    let partitions = spec::partitions(session, &args.topics)?;
    require_inactive(&description, "delete the offsets of")?;
    let doing = format!("cannot delete the offsets of group '{group}'");
    let answer =
        groups::delete_committed_offsets(session.client(), group, &partitions, session.timeout())
            .map_err(|err| failure(err, &doing))?;
    if let Some(error) = &answer.error {
        return Err(admin_failure(error, &doing));
    }
    let mut lines = Vec::new();
    for partition in &answer.partitions {
        if let Some(error) = &partition.error {
            return Err(admin_failure(
                error,
                &format!("{doing} in {}/{}", partition.topic, partition.partition),
            ));
        }
        lines.push(json!({
            "group": group,
            "topic": partition.topic,
            "partition": partition.partition,
            "deleted": true,
        }));
    }
    kcore::output::print(&lines, None)
}
