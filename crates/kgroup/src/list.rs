//! `kgroup list`: every consumer group the brokers know, one line each.

use anyhow::Result;
use serde_json::{json, Value};

use kcore::admin::groups;
use kcore::table::Table;

use crate::cli::ListArgs;
use crate::session::{admin_failure, failure, Session};

pub fn list(session: &Session, args: &ListArgs) -> Result<()> {
    let (mut listed, errors) = groups::list_groups(session.client(), session.timeout())
        .map_err(|err| failure(err, "cannot list groups"))?;
    listed.sort_by(|a, b| a.group.cmp(&b.group));
    // Members and coordinator come from describing them; the listing's state is only a
    // fallback for a group the description misses.
    let names: Vec<&str> = listed.iter().map(|g| g.group.as_str()).collect();
    let descriptions = groups::describe_groups(session.client(), &names, session.timeout())
        .map_err(|err| failure(err, "cannot describe groups"))?;
    let mut lines: Vec<Value> = Vec::with_capacity(listed.len());
    for listing in &listed {
        let described = descriptions
            .iter()
            .find(|d| d.group == listing.group && d.error.is_none());
        let state = described.map_or(listing.state.as_str(), |d| d.state.as_str());
        if !args.state.is_empty() && !args.state.iter().any(|s| s == state) {
            continue;
        }
        lines.push(json!({
            "group": listing.group,
            "state": state,
            "type": listing.group_type,
            "assignor": described.and_then(|d| d.assignor.clone()),
            "members": described.map(|d| d.members.len()),
            "coordinator": described.and_then(|d| d.coordinator.as_ref().map(|c| c.id)),
        }));
    }
    let table = args.table.then(|| Table::from_json_lines(&lines));
    kcore::output::print(&lines, table)?;
    // A broker that could not say which groups it coordinates: what was listed is
    // incomplete, so the listing is not a success.
    if let Some(error) = errors.first() {
        for other in &errors[1..] {
            kcore::report_error("kgroup", &format!("cannot list every group: {other}"));
        }
        return Err(admin_failure(error, "cannot list every group"));
    }
    Ok(())
}
