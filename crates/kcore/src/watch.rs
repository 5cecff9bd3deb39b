//! `--watch`: poll a state made of keyed rows (a partition, a node) until interrupted,
//! and say what changed: one JSON line per change for scripts, or, with a table on a
//! terminal, the table redrawn in place with the changed cells highlighted.
//!
//! The first poll prints every row (`"event":"current"`); after that a row is printed
//! only when it appears (`added`), disappears (`removed`) or one of its fields changes
//! (`changed`, with `"changed":[fields]` and the fields' `"previous"` values). Every line
//! has `"time"` (ms since 1970). A failed poll is a warning on stderr (each distinct
//! message once) and the watch goes on: a watch outlives the failures it is watching.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde_json::{json, Map, Value};

use crate::signals::Interrupt;
use crate::table::{cell, Table};
use crate::JsonLines;

/// Rows by key (the key orders the table), each a flat JSON object.
pub type Rows = BTreeMap<String, Map<String, Value>>;

/// How often to poll, and how to show what changed.
pub struct Watch {
    pub tool: &'static str,
    pub interval: Duration,
    /// Columns (row fields) of a table redrawn in place; None: JSON lines.
    pub table: Option<Vec<&'static str>>,
}

/// One change of one row between two polls; None when nothing changed.
pub fn change(
    before: Option<&Map<String, Value>>,
    after: Option<&Map<String, Value>>,
) -> Option<Value> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut line = Map::new();
    line.insert("time".into(), json!(now));
    match (before, after) {
        (None, None) => return None,
        (None, Some(row)) => {
            line.insert("event".into(), json!("added"));
            line.extend(row.clone());
        }
        (Some(row), None) => {
            line.insert("event".into(), json!("removed"));
            line.extend(row.clone());
        }
        (Some(old), Some(new)) => {
            let changed: Vec<&String> = new.keys().filter(|k| old.get(*k) != new.get(*k)).collect();
            if changed.is_empty() {
                return None;
            }
            let previous: Map<String, Value> = changed
                .iter()
                .map(|k| ((*k).clone(), old.get(*k).cloned().unwrap_or(Value::Null)))
                .collect();
            line.insert("event".into(), json!("changed"));
            line.insert("changed".into(), json!(changed));
            line.extend(new.clone());
            line.insert("previous".into(), Value::Object(previous));
        }
    }
    Some(Value::Object(line))
}

impl Watch {
    /// Poll with `poll` every interval until SIGINT/SIGTERM; Ok(()) then.
    pub fn run(&self, interrupt: &Interrupt, mut poll: impl FnMut() -> Result<Rows>) -> Result<()> {
        let mut last: Option<Rows> = None;
        let mut warned = BTreeSet::new();
        let mut out = JsonLines::stdout();
        let mut drawn_lines = 0usize;
        // When each (row, column) cell last changed: highlighted for a while after.
        let mut changed_at: BTreeMap<(String, usize), Instant> = BTreeMap::new();
        while !interrupt.requested() {
            let started = Instant::now();
            match poll() {
                Ok(rows) => {
                    match &self.table {
                        Some(columns) => {
                            note_changes(&mut changed_at, columns, last.as_ref(), &rows);
                            drawn_lines = redraw(columns, &changed_at, &rows, drawn_lines)?;
                        }
                        None => {
                            emit_changes(&mut out, last.as_ref(), &rows)?;
                            out.flush()?;
                        }
                    }
                    last = Some(rows);
                }
                Err(err) => {
                    let message = format!("{err:#}");
                    if warned.insert(message.clone()) {
                        crate::report_warning(self.tool, &format!("{message} (still watching)"));
                        drawn_lines = 0;
                    }
                }
            }
            // Sleep out the interval in small steps, so Ctrl-C ends the watch at once.
            while started.elapsed() < self.interval && !interrupt.requested() {
                std::thread::sleep(Duration::from_millis(20).min(self.interval));
            }
        }
        Ok(())
    }
}

fn emit_changes<W: Write>(out: &mut JsonLines<W>, last: Option<&Rows>, rows: &Rows) -> Result<()> {
    let Some(last) = last else {
        for row in rows.values() {
            let mut line = Map::new();
            line.insert(
                "time".into(),
                change(None, Some(row)).unwrap()["time"].clone(),
            );
            line.insert("event".into(), json!("current"));
            line.extend(row.clone());
            out.emit(&line)?;
        }
        return Ok(());
    };
    let keys: BTreeSet<&String> = last.keys().chain(rows.keys()).collect();
    for key in keys {
        if let Some(line) = change(last.get(key), rows.get(key)) {
            out.emit(&line)?;
        }
    }
    Ok(())
}

/// How long a changed cell stays highlighted: long enough to be seen at a glance.
const HIGHLIGHT_FOR: Duration = Duration::from_secs(5);

fn note_changes(
    changed_at: &mut BTreeMap<(String, usize), Instant>,
    columns: &[&str],
    last: Option<&Rows>,
    rows: &Rows,
) {
    let Some(last) = last else { return };
    for (key, row) in rows {
        let before = last.get(key);
        for (column, name) in columns.iter().enumerate() {
            if before.and_then(|b| b.get(*name)) != row.get(*name) {
                changed_at.insert((key.clone(), column), Instant::now());
            }
        }
    }
    changed_at.retain(|_, at| at.elapsed() < HIGHLIGHT_FOR);
}

/// Draw the table over the one drawn before (`drawn_lines` lines high); cells that
/// changed lately in reverse video. The new height.
fn redraw(
    columns: &[&str],
    changed_at: &BTreeMap<(String, usize), Instant>,
    rows: &Rows,
    drawn_lines: usize,
) -> Result<usize> {
    let mut table = Table::new(columns.iter().map(|c| c.to_uppercase()));
    let mut marks = Vec::new();
    for (index, (key, row)) in rows.iter().enumerate() {
        table.row(
            columns
                .iter()
                .map(|c| cell(row.get(*c).unwrap_or(&Value::Null))),
        );
        for column in 0..columns.len() {
            if changed_at.contains_key(&(key.clone(), column)) {
                marks.push((index + 1, column));
            }
        }
    }
    let text = table.render();
    let colour = crate::use_colour(&std::io::stdout());
    let mut screen = String::new();
    if drawn_lines > 0 {
        // Up to the first line drawn before, and clear everything below.
        screen.push_str(&format!("\x1b[{drawn_lines}A\x1b[J"));
    }
    for (line_no, line) in text.lines().enumerate() {
        screen.push_str(&highlight(line, line_no, &marks, colour));
        screen.push('\n');
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(screen.as_bytes())
        .context("writing stdout")?;
    stdout.flush().context("writing stdout")?;
    Ok(text.lines().count())
}

/// One rendered table line with the marked cells in reverse video (colour terminals only).
fn highlight(line: &str, line_no: usize, marks: &[(usize, usize)], colour: bool) -> String {
    let columns: Vec<usize> = marks
        .iter()
        .filter(|(l, _)| *l == line_no)
        .map(|(_, c)| *c)
        .collect();
    if !colour || columns.is_empty() {
        return line.to_string();
    }
    // Cells are separated by two spaces or more; mark each changed cell's text.
    let mut cells = Vec::new();
    let mut start = None;
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != ' ' {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(s) = start {
            let double = i + 1 < chars.len() && chars[i + 1] == ' ';
            if double || i + 1 == chars.len() {
                cells.push((s, i));
                start = None;
            }
        }
        i += 1;
    }
    if let Some(s) = start {
        cells.push((s, chars.len()));
    }
    let mut marked = String::new();
    let mut at = 0;
    for (column, (from, to)) in cells.iter().enumerate() {
        if columns.contains(&column) {
            marked.extend(&chars[at..*from]);
            marked.push_str("\x1b[7m");
            marked.extend(&chars[*from..*to]);
            marked.push_str("\x1b[0m");
            at = *to;
        }
    }
    marked.extend(&chars[at..]);
    marked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, Value)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn changes_name_the_fields_and_their_previous_values() {
        let old = row(&[
            ("partition", json!(0)),
            ("leader", json!(1)),
            ("isr", json!([1, 2, 3])),
        ]);
        let new = row(&[
            ("partition", json!(0)),
            ("leader", json!(2)),
            ("isr", json!([2, 3])),
        ]);
        let line = change(Some(&old), Some(&new)).unwrap();
        assert_eq!(line["event"], "changed");
        assert_eq!(line["changed"], json!(["leader", "isr"]));
        assert_eq!(line["leader"], 2);
        assert_eq!(line["previous"], json!({"leader": 1, "isr": [1, 2, 3]}));
        assert!(change(Some(&old), Some(&old)).is_none());
        assert_eq!(change(None, Some(&new)).unwrap()["event"], "added");
        assert_eq!(change(Some(&old), None).unwrap()["event"], "removed");
    }

    #[test]
    fn highlighting_marks_only_the_changed_cell() {
        let line = "t      0       2  1,2,3";
        let marked = highlight(line, 1, &[(1, 2)], true);
        assert_eq!(marked, "t      0       \x1b[7m2\x1b[0m  1,2,3");
        assert_eq!(highlight(line, 1, &[(1, 2)], false), line);
    }
}
