//! Turning CSV records into COPY rows for a schema: the file's header is matched to the schema's
//! columns, each cell is coerced to its column's type, and a row that does not fit is rejected with
//! the column, the value and the reason.

use opendata_limits::excerpt;
use std::collections::HashSet;

use crate::coerce::coerce_into;
use crate::schema::{ColumnType, Schema, field_name_from};

/// Columns of the schema an unknown header cell's error lists.
const KNOWN_COLUMNS_SHOWN: usize = 20;

/// Longest offending value kept in a rejection, in characters.
const MAX_REJECTED_VALUE_CHARS: usize = 200;

/// A header that does not match the schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HeaderError(pub String);

/// Why one row was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Line the row starts on.
    pub line: u64,
    /// Field name of the offending column.
    pub column: String,
    /// The offending value, truncated.
    pub value: String,
    /// Why it does not fit.
    pub reason: String,
}

#[derive(Debug, Clone)]
struct Target {
    file_index: usize,
    field_name: String,
    column_type: ColumnType,
    required: bool,
}

/// Encodes records of one file into COPY rows of one schema.
#[derive(Debug, Clone)]
pub struct RowEncoder {
    targets: Vec<Target>,
}

impl RowEncoder {
    /// Matches `header` to `schema`: each header cell names a column by field name, display name
    /// (case-insensitively) or the field name derived from it. Unknown and repeated columns are
    /// errors; schema columns missing from the file are left out (null, or unchanged by upserts).
    /// `require_row_identifier` makes the row identifier mandatory in the file and in every row.
    pub fn new(
        schema: &Schema,
        header: &[&str],
        require_row_identifier: bool,
    ) -> Result<RowEncoder, HeaderError> {
        let mut targets = Vec::with_capacity(header.len());
        let mut matched = HashSet::new();
        for (file_index, cell) in header.iter().enumerate() {
            let derived = field_name_from(cell);
            let column = schema
                .columns
                .iter()
                .find(|c| c.field_name == cell.trim())
                .or_else(|| {
                    schema
                        .columns
                        .iter()
                        .find(|c| c.display_name.trim().eq_ignore_ascii_case(cell.trim()))
                })
                .or_else(|| schema.columns.iter().find(|c| c.field_name == derived))
                .ok_or_else(|| {
                    let known: Vec<&str> = schema
                        .columns
                        .iter()
                        .take(KNOWN_COLUMNS_SHOWN)
                        .map(|c| c.field_name.as_str())
                        .collect();
                    let more = schema.columns.len().saturating_sub(KNOWN_COLUMNS_SHOWN);
                    HeaderError(format!(
                        "header column {} `{}` is not in the dataset's schema (columns: {}{})",
                        file_index + 1,
                        excerpt(cell),
                        known.join(", "),
                        if more > 0 {
                            format!(" and {more} more")
                        } else {
                            String::new()
                        }
                    ))
                })?;
            if !matched.insert(column.field_name.clone()) {
                return Err(HeaderError(format!(
                    "header column {} `{}` names column `{}` a second time",
                    file_index + 1,
                    excerpt(cell),
                    column.field_name
                )));
            }
            targets.push(Target {
                file_index,
                field_name: column.field_name.clone(),
                column_type: column.column_type,
                required: require_row_identifier
                    && schema.row_identifier.as_deref() == Some(column.field_name.as_str()),
            });
        }
        if require_row_identifier {
            match schema.row_identifier.as_deref() {
                None => {
                    return Err(HeaderError(
                        "an upsert needs a row identifier column in the schema".to_owned(),
                    ));
                }
                Some(row_identifier) if !matched.contains(row_identifier) => {
                    return Err(HeaderError(format!(
                        "the file has no `{row_identifier}` column, which identifies rows for the upsert"
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(RowEncoder { targets })
    }

    /// Field names of the file's columns, in COPY order.
    pub fn field_names(&self) -> Vec<&str> {
        self.targets.iter().map(|t| t.field_name.as_str()).collect()
    }

    /// Appends one COPY text row (terminated by a newline) for the record whose field `i` is
    /// `field(i)`, or returns why the row does not fit; on rejection nothing is appended.
    pub fn encode<'a>(
        &self,
        line: u64,
        field: impl Fn(usize) -> &'a str,
        out: &mut Vec<u8>,
    ) -> Result<(), Rejection> {
        let start = out.len();
        for (position, target) in self.targets.iter().enumerate() {
            if position > 0 {
                out.push(b'\t');
            }
            let raw = field(target.file_index);
            let outcome = if target.required && raw.trim().is_empty() {
                Err("the row identifier is empty".to_owned())
            } else {
                coerce_into(target.column_type, raw, out)
            };
            if let Err(reason) = outcome {
                out.truncate(start);
                return Err(Rejection {
                    line,
                    column: target.field_name.clone(),
                    value: raw.chars().take(MAX_REJECTED_VALUE_CHARS).collect(),
                    reason,
                });
            }
        }
        out.push(b'\n');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Column;

    fn schema() -> Schema {
        let column = Column::new;
        Schema {
            columns: vec![
                column("serial_number", "Serial Number", ColumnType::Number),
                column("town", "Town", ColumnType::Text),
                column("date_recorded", "Date Recorded", ColumnType::CalendarDate),
            ],
            row_identifier: Some("serial_number".into()),
        }
        .normalized()
        .unwrap()
    }

    #[test]
    fn headers_match_by_field_or_display_name_in_any_order() {
        let encoder = RowEncoder::new(
            &schema(),
            &["Town", "date_recorded", "SERIAL NUMBER"],
            false,
        )
        .unwrap();
        assert_eq!(
            encoder.field_names(),
            vec!["town", "date_recorded", "serial_number"]
        );
        let fields = ["Hartford", "01/30/2023", "220008"];
        let mut out = Vec::new();
        encoder.encode(2, |i| fields[i], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Hartford\t2023-01-30 00:00:00\t220008\n"
        );
    }

    #[test]
    fn unknown_and_repeated_headers_are_refused() {
        let unknown = RowEncoder::new(&schema(), &["Town", "Price"], false).unwrap_err();
        assert!(unknown.0.contains("header column 2 `Price`"), "{unknown}");
        let repeated = RowEncoder::new(&schema(), &["town", "Town"], false).unwrap_err();
        assert!(repeated.0.contains("a second time"), "{repeated}");
    }

    #[test]
    fn upserts_need_the_row_identifier() {
        let error = RowEncoder::new(&schema(), &["Town"], true).unwrap_err();
        assert!(error.0.contains("serial_number"), "{error}");
        let encoder = RowEncoder::new(&schema(), &["Serial Number", "Town"], true).unwrap();
        let mut out = Vec::new();
        let rejection = encoder
            .encode(5, |i| ["", "Avon"][i], &mut out)
            .unwrap_err();
        assert_eq!(rejection.column, "serial_number");
        assert_eq!(rejection.reason, "the row identifier is empty");
        assert!(out.is_empty());
    }

    #[test]
    fn a_bad_cell_rejects_the_row_with_line_column_and_value() {
        let encoder = RowEncoder::new(
            &schema(),
            &["Serial Number", "Town", "Date Recorded"],
            false,
        )
        .unwrap();
        let mut out = b"kept\n".to_vec();
        let rejection = encoder
            .encode(7, |i| ["1", "Avon", "13/45/2020"][i], &mut out)
            .unwrap_err();
        assert_eq!(rejection.line, 7);
        assert_eq!(rejection.column, "date_recorded");
        assert_eq!(rejection.value, "13/45/2020");
        assert!(rejection.reason.starts_with("not a date"));
        assert_eq!(out, b"kept\n");
    }
}
