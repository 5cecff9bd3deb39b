//! README.md stays true: its runnable examples run against the test cluster, and its table
//! of contents leads to its sections.
//!
//! What runs: every ```sh block right after a `<!-- tests/readme.rs runs this block -->`
//! comment (lines starting with `kcluster` are left out: the test cluster stands in for
//! them), and the kpipes column of the "Coming from kcat / kafka-console-*" table, in order,
//! with `T` and `G` a fresh topic and group. Topic names in a block (`my-topic`) are made
//! unique per run.

use kpipes_e2e::*;

const README: &str = include_str!("../README.md");
const MARKER: &str = "<!-- tests/readme.rs runs this block";

/// The blocks marked as runnable, as written.
fn marked_blocks() -> Vec<String> {
    README
        .split(MARKER)
        .skip(1)
        .map(|after| {
            let start = after
                .find("```sh\n")
                .expect("a ```sh block after the marker")
                + 6;
            let end = after[start..].find("```").expect("the block's end") + start;
            after[start..end].to_string()
        })
        .collect()
}

/// The kpipes commands of the table of the section `heading`: its last column's code.
fn table_commands(heading: &str) -> Vec<String> {
    let section = README
        .split(&format!("## {heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("README has no section '{heading}'"));
    section
        .lines()
        .take_while(|line| !line.starts_with("## "))
        .filter(|line| line.starts_with("| ") && !line.starts_with("| task"))
        .filter_map(|row| {
            // The last cell: cells are split at '|' not escaped as '\|'.
            let cells: Vec<String> = row
                .replace("\\|", "\u{0}")
                .split('|')
                .map(|cell| cell.trim().replace('\u{0}', "|"))
                .collect();
            let last = cells.iter().rev().find(|cell| !cell.is_empty())?;
            let command = last.strip_prefix('`')?.split('`').next()?.to_string();
            let tool = command.split_whitespace().next()?;
            ["ktopic", "kprod", "kcons", "kgroup", "printf"]
                .contains(&tool)
                .then_some(command)
        })
        .collect()
}

/// `word` replaced by `with` wherever it stands alone (not inside another word).
fn replace_word(text: &str, word: &str, with: &str) -> String {
    let pattern_char = |c: char| c.is_alphanumeric() || c == '-' || c == '_' || c == '.';
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + word.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(pattern_char) || after.is_some_and(pattern_char) {
            out.push_str(word);
        } else {
            out.push_str(with);
        }
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

/// Run `script` with bash (errexit, pipefail) against the test cluster; its output.
fn run_script(script: &str) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("example.sh");
    std::fs::write(&path, script).unwrap();
    in_shell(&format!("bash -eo pipefail {}", path.display()), &[]).success()
}

#[test]
fn the_marked_examples_run() {
    needs_cluster!();
    let blocks = marked_blocks();
    assert!(!blocks.is_empty(), "no block is marked as runnable");
    for block in blocks {
        let topic = unique_name("readme");
        let script: Vec<String> = block
            .lines()
            .filter(|line| !line.trim_start().starts_with("kcluster"))
            .map(|line| replace_word(line, "my-topic", &topic))
            .collect();
        let ran = run_script(&script.join("\n"));
        assert!(!ran.stdout().is_empty(), "{block}: no output");
    }
}

#[test]
fn the_kpipes_side_of_coming_from_kcat_runs() {
    needs_cluster!();
    let commands = table_commands("Coming from kcat / kafka-console-*");
    assert!(commands.len() >= 10, "{commands:?}");
    let (topic, group) = (unique_name("readme-t"), unique_name("readme-g"));
    let script: Vec<String> = commands
        .iter()
        .map(|command| replace_word(&replace_word(command, "T", &topic), "G", &group))
        .collect();
    run_script(&script.join("\n"));
    // And the topic they made is gone again (the last row deletes it).
    assert!(!topics().contains(&topic));
}

#[test]
fn the_table_of_contents_leads_to_every_section() {
    let headings: Vec<&str> = README
        .lines()
        .filter_map(|line| line.strip_prefix("## "))
        .collect();
    let anchor = |heading: &str| -> String {
        heading
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '-' || *c == ' ' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect()
    };
    let contents = README
        .split("## Contents\n")
        .nth(1)
        .expect("a table of contents")
        .split("\n## ")
        .next()
        .unwrap();
    for heading in headings.iter().filter(|h| **h != "Contents") {
        assert!(
            contents.contains(&format!("(#{})", anchor(heading))),
            "the table of contents has no link to '{heading}'"
        );
    }
    // Every link in it leads somewhere.
    for link in contents.split("(#").skip(1) {
        let target = link.split(')').next().unwrap();
        assert!(
            headings.iter().any(|h| anchor(h) == target),
            "the table of contents links to #{target}, which is no section"
        );
    }
}
