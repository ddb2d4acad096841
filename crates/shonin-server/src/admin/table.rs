//! The output of the list commands: a table whose columns are as wide as their widest cell
//! (characters, not bytes), or with `--json` one JSON array of objects keyed by the column names
//! in lower case, for scripts.

use clap::Args;
use std::io::Write;

/// `--json` of a list command.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct ListArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Rows under fixed column names.
#[derive(Debug)]
pub struct Table {
    headers: &'static [&'static str],
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &'static [&'static str]) -> Self {
        Self {
            headers,
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are empty, extra ones are dropped.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut row: Vec<String> = cells.into_iter().map(Into::into).collect();
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
    }

    /// Writes the table (or, with `json`, the array) to `out`.
    pub fn write(&self, out: &mut impl Write, json: bool) -> std::io::Result<()> {
        if json {
            let rows: Vec<serde_json::Map<String, serde_json::Value>> = self
                .rows
                .iter()
                .map(|row| {
                    self.headers
                        .iter()
                        .zip(row)
                        .map(|(h, c)| (h.to_ascii_lowercase(), serde_json::Value::from(c.as_str())))
                        .collect()
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &rows)?;
            return writeln!(out);
        }
        let width = |i: usize, h: &str| {
            self.rows
                .iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain([h.chars().count()])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = self
            .headers
            .iter()
            .enumerate()
            .map(|(i, h)| width(i, h))
            .collect();
        let line = |out: &mut dyn Write, cells: &mut dyn Iterator<Item = &str>| {
            let mut text = String::new();
            for (i, cell) in cells.enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                text.push_str(cell);
                let width = widths.get(i).copied().unwrap_or(0);
                let pad = width.saturating_sub(cell.chars().count());
                text.extend(std::iter::repeat_n(' ', pad));
            }
            writeln!(out, "{}", text.trim_end())
        };
        line(out, &mut self.headers.iter().copied())?;
        for row in &self.rows {
            line(out, &mut row.iter().map(String::as_str))?;
        }
        Ok(())
    }

    /// Writes to standard output.
    pub fn print(&self, json: bool) -> std::io::Result<()> {
        self.write(&mut std::io::stdout().lock(), json)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let mut t = Table::new(&["NAME", "ID"]);
        t.row(["a-much-longer-name", "1"]);
        t.row(["日本", "22"]);
        let mut out = Vec::new();
        t.write(&mut out, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "NAME                ID");
        assert_eq!(lines[1], "a-much-longer-name  1");
        assert_eq!(lines[2], format!("日本{}22", " ".repeat(18)));
    }

    #[test]
    fn json_is_an_array_of_objects_keyed_by_lower_case_names() {
        let mut t = Table::new(&["CLIENT_ID", "GRANTS"]);
        t.row(["c1", "client_credentials"]);
        let mut out = Vec::new();
        t.write(&mut out, true).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!([{"client_id": "c1", "grants": "client_credentials"}])
        );
    }
}
