//! `ktopic delete`: delete topics (names from the command line and/or stdin) and wait
//! until they are gone from the metadata, so the same names can be created again at once.

use std::io::BufRead;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use rdkafka::types::RDKafkaErrorCode;
use serde_json::json;

use kcore::progress::Status;
use kcore::{Failure, JsonLines};

use crate::cli::DeleteArgs;
use crate::session::{unique, Session};
use kcore::outcome::Outcome;

pub fn delete(session: &Session, args: &DeleteArgs) -> Result<()> {
    let names = unique(expand_stdin(&args.topics, || {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<std::io::Result<Vec<String>>>()
            .context("reading topic names from stdin")
    })?);
    // `... | grep '^tmp-' | ktopic delete -` with no match: nothing to do is no failure.
    if names.is_empty() {
        return Ok(());
    }
    let before = session.snapshot()?;
    let mut outcome = Outcome::new("ktopic", "topics", "deleted", names.len());
    let (known, unknown): (Vec<&str>, Vec<&str>) = names
        .iter()
        .map(String::as_str)
        .partition(|name| before.topics.contains_key(*name));
    for name in unknown {
        outcome.fail(Failure::not_found(format!("unknown topic '{name}'")));
    }

    let mut deleted: Vec<String> = Vec::new();
    if !known.is_empty() {
        let deadline = Instant::now() + session.timeout();
        let spinner = Status::spinner(
            "ktopic",
            "deleting, waiting until every broker has forgotten the topics",
        );
        let results = session.delete_topics(&known)?;
        for result in results {
            match result {
                Ok(name) => deleted.push(name),
                Err((name, RDKafkaErrorCode::UnknownTopicOrPartition)) => {
                    outcome.fail(Failure::not_found(format!("unknown topic '{name}'")))
                }
                Err((name, code)) if kcore::failure::is_authorization_code(code) => outcome.fail(
                    Failure::denied(format!("cannot delete topic '{name}'"), code),
                ),
                Err((name, code)) => outcome.fail(anyhow!("cannot delete topic '{name}': {code}")),
            }
        }
        let (snapshot, _) = session.wait_for(deadline, |snapshot| {
            deleted
                .iter()
                .all(|name| !snapshot.topics.contains_key(name))
        })?;
        drop(spinner);
        let mut out = JsonLines::stdout();
        for name in &deleted {
            if snapshot.topics.contains_key(name) {
                outcome.fail(Failure::unhealthy(format!(
                    "topic '{name}' was deleted, but is still in the metadata after {:.0?}",
                    session.timeout()
                )));
            } else {
                out.emit(&json!({"topic": name, "deleted": true}))?;
            }
        }
        out.flush()?;
    }
    outcome.finish()
}

/// The names to delete: each argument, where `-` stands for stdin's lines (blank lines
/// and surrounding spaces dropped). `read_stdin` is called at most once.
fn expand_stdin(
    args: &[String],
    read_stdin: impl FnOnce() -> Result<Vec<String>>,
) -> Result<Vec<String>> {
    let mut read_stdin = Some(read_stdin);
    let mut names = Vec::new();
    for arg in args {
        if arg != "-" {
            names.push(arg.clone());
        } else if let Some(read) = read_stdin.take() {
            names.extend(
                read()?
                    .iter()
                    .map(|line| line.trim())
                    .filter(|line| !line.is_empty())
                    .map(str::to_string),
            );
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dash_reads_stdin_once() {
        let args: Vec<String> = ["a", "-", "b", "-"].map(String::from).to_vec();
        let names = expand_stdin(&args, || {
            Ok(vec![" x ".into(), String::new(), "  ".into(), "y".into()])
        })
        .unwrap();
        assert_eq!(names, ["a", "x", "y", "b"]);
        let names = expand_stdin(&["a".to_string()], || panic!("stdin must not be read")).unwrap();
        assert_eq!(names, ["a"]);
    }
}
