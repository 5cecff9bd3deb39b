//! Aligned columns for people (`--table`); JSON lines stay the default for pipes.
//!
//! Columns whose every cell is a number are right-aligned so digits line up;
//! everything else is left-aligned. Widths count characters, not bytes.

use std::io::Write;

use anyhow::{Context, Result};

/// A table built row by row and written at the end, once every width is known.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Add a row; missing cells are blank, extra cells are dropped.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut cells: Vec<String> = cells.into_iter().map(Into::into).collect();
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The whole table as text, a newline after every line.
    pub fn render(&self) -> String {
        let columns = self.headers.len();
        if columns == 0 {
            return String::new();
        }
        let width = |column: usize| {
            std::iter::once(&self.headers[column])
                .chain(self.rows.iter().map(|row| &row[column]))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..columns).map(width).collect();
        let numeric: Vec<bool> = (0..columns)
            .map(|column| {
                let mut cells = self
                    .rows
                    .iter()
                    .map(|row| row[column].as_str())
                    .filter(|c| !c.is_empty());
                let mut any = false;
                let all = cells.all(|cell| {
                    any = true;
                    cell.parse::<f64>().is_ok()
                });
                any && all
            })
            .collect();
        let mut text = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (column, cell) in row.iter().enumerate() {
                if column > 0 {
                    line.push_str("  ");
                }
                let pad = " ".repeat(widths[column] - cell.chars().count());
                if numeric[column] {
                    line.push_str(&pad);
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    // No trailing spaces after the last column.
                    if column + 1 < columns {
                        line.push_str(&pad);
                    }
                }
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }

    /// Write the table to `out` and flush it.
    pub fn write(&self, out: &mut impl Write) -> Result<()> {
        out.write_all(self.render().as_bytes())
            .context("writing stdout")?;
        out.flush().context("writing stdout")
    }
}

impl Table {
    /// One row per JSON object, one column per key of the first object (upper-cased
    /// headers), so a tool's `--table` shows exactly the fields of its JSON lines.
    pub fn from_json_lines(lines: &[serde_json::Value]) -> Table {
        let keys: Vec<String> = lines
            .first()
            .and_then(|line| line.as_object())
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        let mut table = Table::new(keys.iter().map(|key| key.to_uppercase()));
        for line in lines {
            table.row(keys.iter().map(|key| cell(&line[key.as_str()])));
        }
        table
    }
}

/// A JSON value as a table cell: strings bare, arrays comma-joined, null blank.
pub fn cell(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// A list of numbers as one cell: `1,2,3`.
pub fn join<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_numbers_go_right() {
        let mut table = Table::new(["TOPIC", "PARTITIONS", "REPLICAS"]);
        table.row(["a", "1", "1,2,3"]);
        table.row(["longer-name", "12", "2"]);
        assert_eq!(
            table.render(),
            "TOPIC        PARTITIONS  REPLICAS\n\
             a                     1  1,2,3\n\
             longer-name          12  2\n"
        );
    }

    #[test]
    fn short_rows_are_padded_and_widths_count_characters() {
        let mut table = Table::new(["K", "V"]);
        table.row(["é"]);
        table.row(["ab", "x"]);
        assert_eq!(table.render(), "K   V\né\nab  x\n");
    }

    #[test]
    fn json_lines_become_rows() {
        let lines = vec![
            serde_json::json!({"topic": "a", "partition": 0, "isr": [1, 2], "leader": null}),
            serde_json::json!({"topic": "b", "partition": 10, "isr": [3], "leader": 3}),
        ];
        assert_eq!(
            Table::from_json_lines(&lines).render(),
            "TOPIC  PARTITION  ISR  LEADER\n\
             a              0  1,2\n\
             b             10  3         3\n"
        );
        assert_eq!(Table::from_json_lines(&[]).render(), "");
    }

    #[test]
    fn join_uses_commas() {
        assert_eq!(join(&[1, 2, 3]), "1,2,3");
        assert_eq!(join::<i32>(&[]), "");
    }
}
