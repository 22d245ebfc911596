//! Tables as `list`, `find` print them, in OVS's five formats (`--format=list|table|html|
//! csv|json`) with OVS's three cell styles (`--data=string|bare|json`), headings and column
//! width limits (OVS's `lib/table.c`).
//!
//! Pure; every format is byte-for-byte OVS's, including the blank line between two tables of
//! one invocation and the trailing-space trimming of the `table` format.

use super::args::{Cells, Format, Style};
use crate::ovsdb::schema::ColumnType;
use crate::ovsdb::Datum;
use serde_json::Value;

/// A table: headings and rows of typed cells.
#[derive(Debug, Default)]
pub(crate) struct OutTable {
    pub headings: Vec<String>,
    pub rows: Vec<Vec<(Datum, ColumnType)>>,
}

/// OVS's `cell_to_text`.
fn cell_text(d: &Datum, ty: &ColumnType, cells: Cells) -> String {
    match cells {
        Cells::Str => d.to_text(ty),
        Cells::Bare => d.to_bare(ty),
        Cells::Json => serde_json::to_string(&d.to_json(ty)).unwrap_or_default(),
    }
}

/// OVS's `json_to_ds` with `JSSF_PRETTY`: two spaces per level, closing brackets right after
/// the last member.
pub(crate) fn json_pretty(v: &Value, depth: usize, out: &mut String) {
    let indent = |d: usize, out: &mut String| {
        out.push('\n');
        out.push_str(&" ".repeat(2 * d));
    };
    match v {
        Value::Array(a) => {
            out.push('[');
            if !a.is_empty() {
                indent(depth + 1, out);
            }
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    indent(depth + 1, out);
                }
                json_pretty(e, depth + 1, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            indent(depth + 1, out);
            for (i, (k, e)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    indent(depth + 1, out);
                }
                out.push_str(&crate::ovsdb::datum::json_quote(k));
                out.push_str(": ");
                json_pretty(e, depth + 1, out);
            }
            out.push('}');
        }
        other => out.push_str(&serde_json::to_string(other).unwrap_or_default()),
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains(['\n', '"', ',']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// OVS's `table_print_html_cell__`: UUIDs become links to their rows.
fn html_cell(element: &str, content: &str) -> String {
    let mut out = format!("    <{element}>");
    let mut rest = content;
    while !rest.is_empty() {
        if rest.len() >= 36 && rest.is_char_boundary(36) && crate::config::is_uuid(&rest[..36]) {
            out.push_str(&format!("<a href=\"#{}\">{}</a>", &rest[..36], &rest[..8]));
            rest = &rest[36..];
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push_str(&html_escape(&c.to_string()));
            rest = &rest[c.len_utf8()..];
        }
    }
    out.push_str(&format!("</{element}>\n"));
    out
}

/// The first `n` bytes of `s` (at a character boundary).
fn clip(s: &str, n: usize) -> &str {
    let mut n = n.min(s.len());
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

impl OutTable {
    /// The table in `style`; `first` says whether an earlier table of this invocation was
    /// printed (OVS separates tables by a blank line).
    pub fn format(&self, style: &Style, first: &mut bool) -> String {
        let texts: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|(d, ty)| cell_text(d, ty, style.cells))
                    .collect()
            })
            .collect();
        let mut out = String::new();
        if !matches!(style.format, Format::Html | Format::Json) {
            if !*first {
                out.push('\n');
            }
            *first = false;
        }
        match style.format {
            Format::List => {
                for (y, row) in texts.iter().enumerate() {
                    if y > 0 {
                        out.push('\n');
                    }
                    for (x, text) in row.iter().enumerate() {
                        if style.headings {
                            let h = self.headings.get(x).map(String::as_str).unwrap_or("");
                            out.push_str(&format!("{h:<20}: "));
                        }
                        out.push_str(text);
                        out.push('\n');
                    }
                }
            }
            Format::Table => {
                let mut widths = vec![0usize; self.headings.len()];
                for (x, w) in widths.iter_mut().enumerate() {
                    *w = texts
                        .iter()
                        .filter_map(|r| r.get(x))
                        .map(String::len)
                        .max()
                        .unwrap_or(0);
                    if style.max_column_width > 0 {
                        *w = (*w).min(style.max_column_width);
                    }
                    if style.headings {
                        *w = (*w).max(self.headings[x].len());
                    }
                }
                let line = |cells: Vec<String>, out: &mut String| {
                    out.push_str(cells.join(" ").trim_end_matches(' '));
                    out.push('\n');
                };
                if style.headings {
                    let h = self
                        .headings
                        .iter()
                        .zip(&widths)
                        .map(|(h, w)| format!("{h:<w$}"));
                    line(h.collect(), &mut out);
                    line(widths.iter().map(|w| "-".repeat(*w)).collect(), &mut out);
                }
                for row in &texts {
                    let cells = row
                        .iter()
                        .zip(&widths)
                        .map(|(t, w)| format!("{:<w$}", clip(t, *w)));
                    line(cells.collect(), &mut out);
                }
            }
            Format::Csv => {
                if style.headings {
                    let h: Vec<String> = self.headings.iter().map(|h| csv_cell(h)).collect();
                    out.push_str(&h.join(","));
                    out.push('\n');
                }
                for row in &texts {
                    let l: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
                    out.push_str(&l.join(","));
                    out.push('\n');
                }
            }
            Format::Html => {
                out.push_str("<table border=1>\n");
                if style.headings {
                    out.push_str("  <tr>\n");
                    for h in &self.headings {
                        out.push_str(&html_cell("th", h));
                    }
                    out.push_str("  </tr>\n");
                }
                for row in &texts {
                    out.push_str("  <tr>\n");
                    for (x, text) in row.iter().enumerate() {
                        if self.headings.get(x).is_some_and(|h| h == "_uuid") {
                            out.push_str(&format!(
                                "    <td><a name=\"{}\">{}</a></td>\n",
                                html_escape(text),
                                html_escape(clip(text, 8))
                            ));
                        } else {
                            out.push_str(&html_cell("td", text));
                        }
                    }
                    out.push_str("  </tr>\n");
                }
                out.push_str("</table>\n");
            }
            Format::Json => {
                let data: Vec<Value> = self
                    .rows
                    .iter()
                    .map(|r| Value::Array(r.iter().map(|(d, ty)| d.to_json(ty)).collect()))
                    .collect();
                let mut obj = serde_json::Map::new();
                obj.insert("data".into(), Value::Array(data));
                obj.insert(
                    "headings".into(),
                    Value::Array(
                        self.headings
                            .iter()
                            .map(|h| Value::from(h.as_str()))
                            .collect(),
                    ),
                );
                let v = Value::Object(obj);
                if style.pretty {
                    json_pretty(&v, 0, &mut out);
                } else {
                    out.push_str(&serde_json::to_string(&v).unwrap_or_default());
                }
                out.push('\n');
            }
        }
        out
    }
}
