//! Column types and schemas: the shape of a dataset, as agencies declare it and the public sees it.

use std::collections::HashSet;
use std::fmt;

use opendata_limits::{COLUMNS, Limit, SCHEMA_BYTES, TEXT_NAME, TEXT_PARAGRAPH, excerpt};
use serde::{Deserialize, Serialize};

/// Longest field name PostgreSQL can use as an identifier.
pub const MAX_FIELD_NAME_BYTES: usize = 63;

/// A column's data type (Socrata's `dataTypeName`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// Free text.
    Text,
    /// Exact decimal.
    Number,
    /// Double-precision float.
    Double,
    /// Boolean.
    Checkbox,
    /// Floating timestamp (no time zone).
    CalendarDate,
    /// Fixed timestamp (an instant, stored in UTC); Socrata calls it `date`.
    Date,
    /// Longitude/latitude point.
    Point,
    /// Legacy location: latitude, longitude, human address.
    Location,
    /// Link with optional description.
    Url,
}

impl ColumnType {
    /// Every type.
    pub const ALL: [ColumnType; 9] = [
        ColumnType::Text,
        ColumnType::Number,
        ColumnType::Double,
        ColumnType::Checkbox,
        ColumnType::CalendarDate,
        ColumnType::Date,
        ColumnType::Point,
        ColumnType::Location,
        ColumnType::Url,
    ];

    /// Socrata's `dataTypeName`.
    pub fn data_type_name(self) -> &'static str {
        crate::convert::column_type_to_proto(self).data_type_name()
    }

    /// The SoQL type name reported in `X-SODA2-Types`.
    pub fn soql_type(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Number => "number",
            ColumnType::Double => "double",
            ColumnType::Checkbox => "boolean",
            ColumnType::CalendarDate => "floating_timestamp",
            ColumnType::Date => "fixed_timestamp",
            ColumnType::Point => "point",
            ColumnType::Location => "location",
            ColumnType::Url => "url",
        }
    }

    /// Parses a `dataTypeName` (also accepting the SoQL names and a few common synonyms).
    pub fn parse(name: &str) -> Option<ColumnType> {
        match name.trim().to_ascii_lowercase().as_str() {
            "text" | "string" => Some(ColumnType::Text),
            "number" | "numeric" | "money" | "percent" => Some(ColumnType::Number),
            "double" | "float" => Some(ColumnType::Double),
            "checkbox" | "boolean" | "bool" => Some(ColumnType::Checkbox),
            "calendar_date" | "floating_timestamp" => Some(ColumnType::CalendarDate),
            "date" | "fixed_timestamp" => Some(ColumnType::Date),
            "point" => Some(ColumnType::Point),
            "location" => Some(ColumnType::Location),
            "url" => Some(ColumnType::Url),
            _ => None,
        }
    }

    /// The PostgreSQL type that stores it.
    pub fn sql_type(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Number => "numeric",
            ColumnType::Double => "double precision",
            ColumnType::Checkbox => "boolean",
            ColumnType::CalendarDate => "timestamp",
            ColumnType::Date => "timestamptz",
            ColumnType::Point => "point",
            ColumnType::Location | ColumnType::Url => "jsonb",
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.data_type_name())
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// API name, `[a-z_][a-z0-9_]*`.
    pub field_name: String,
    /// Human-readable name.
    pub display_name: String,
    /// Data type.
    pub column_type: ColumnType,
    /// Data dictionary text.
    #[serde(default)]
    pub description: String,
    /// 1-based position.
    pub position: u32,
    /// Catalog-assigned numeric id (0 until assigned).
    #[serde(default)]
    pub id: i64,
    /// Whether to index this column.
    #[serde(default)]
    pub indexed: bool,
}

impl Column {
    /// A column with a field name, display name and type; position and id are filled in later.
    pub fn new(field_name: &str, display_name: &str, column_type: ColumnType) -> Column {
        Column {
            field_name: field_name.to_owned(),
            display_name: display_name.to_owned(),
            column_type,
            description: String::new(),
            position: 0,
            id: 0,
            indexed: false,
        }
    }
}

/// A dataset's columns and optional row identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// Columns in position order.
    pub columns: Vec<Column>,
    /// Field name of the row identifier.
    #[serde(default)]
    pub row_identifier: Option<String>,
}

/// A schema that is not acceptable, with the offending field named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SchemaError {
    /// The offending field (`columns[2].field_name`).
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// The limit (of `opendata_limits`) the schema goes past, when that is what is wrong.
    pub limit: Option<&'static str>,
}

impl SchemaError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        SchemaError {
            field: field.into(),
            message: message.into(),
            limit: None,
        }
    }

    /// `field`'s `value` goes past `limit` (or, without a limit to name, holds a NUL character).
    fn over(field: impl Into<String>, message: String, limit: Limit, value: &str) -> Self {
        SchemaError {
            limit: (!value.contains('\0')).then_some(limit.name),
            ..SchemaError::new(field, message)
        }
    }
}

/// Checks the columns of a schema against their limits: [`COLUMNS`], [`TEXT_NAME`] for names,
/// [`TEXT_PARAGRAPH`] for descriptions, [`SCHEMA_BYTES`] for all of it together, and no NUL
/// characters.
fn check_documentation(columns: &[Column]) -> Result<(), SchemaError> {
    if let Some(problem) = COLUMNS.count_problem(columns.len()) {
        return Err(SchemaError::over("columns", problem, COLUMNS, ""));
    }
    let mut bytes = 0;
    for (index, column) in columns.iter().enumerate() {
        for (field, value, limit) in [
            ("display_name", &column.display_name, TEXT_NAME),
            ("description", &column.description, TEXT_PARAGRAPH),
            ("field_name", &column.field_name, TEXT_NAME),
        ] {
            if let Some(problem) = limit.text_problem(value) {
                return Err(SchemaError::over(
                    format!("columns[{index}].{field}"),
                    problem,
                    limit,
                    value,
                ));
            }
        }
        bytes += column.field_name.len() + column.display_name.len() + column.description.len();
    }
    if bytes > SCHEMA_BYTES.get() {
        return Err(SchemaError::over(
            "columns",
            format!(
                "the columns' names and descriptions take {bytes} bytes; at most {} are allowed (limit {})",
                SCHEMA_BYTES.value, SCHEMA_BYTES.name
            ),
            SCHEMA_BYTES,
            "",
        ));
    }
    Ok(())
}

impl Schema {
    /// Checks the columns against their limits (see [`Schema::normalized`]); for documentation
    /// changed in place.
    pub fn check_limits(&self) -> Result<(), SchemaError> {
        check_documentation(&self.columns)
    }

    /// Whether no columns are declared.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The column with this field name.
    pub fn column(&self, field_name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|column| column.field_name == field_name)
    }

    /// The row identifier column.
    pub fn row_identifier_column(&self) -> Option<&Column> {
        self.row_identifier
            .as_deref()
            .and_then(|name| self.column(name))
    }

    /// Fills in derived values (field names from display names, positions) and checks the
    /// schema: valid and unique field names, known row identifier, at least one column and at most
    /// [`COLUMNS`], documentation within its limits.
    pub fn normalized(mut self) -> Result<Schema, SchemaError> {
        if self.columns.is_empty() {
            return Err(SchemaError::new(
                "columns",
                "a schema needs at least one column",
            ));
        }
        check_documentation(&self.columns)?;
        let mut seen = HashSet::new();
        for (index, column) in self.columns.iter_mut().enumerate() {
            if column.field_name.is_empty() {
                column.field_name = field_name_from(&column.display_name);
            }
            if column.display_name.trim().is_empty() {
                column.display_name = column.field_name.clone();
            }
            column.display_name = column.display_name.trim().to_owned();
            column.description = column.description.trim().to_owned();
            if let Err(reason) = validate_field_name(&column.field_name) {
                return Err(SchemaError::new(
                    format!("columns[{index}].field_name"),
                    reason,
                ));
            }
            if !seen.insert(column.field_name.clone()) {
                return Err(SchemaError::new(
                    format!("columns[{index}].field_name"),
                    format!("field name `{}` is used twice", column.field_name),
                ));
            }
            column.position = index as u32 + 1;
        }
        if let Some(row_identifier) = self
            .row_identifier
            .as_deref()
            .filter(|name| !name.is_empty())
        {
            let column = self.column(row_identifier).ok_or_else(|| {
                SchemaError::new(
                    "row_identifier",
                    format!("row identifier `{row_identifier}` is not a column of the schema"),
                )
            })?;
            if matches!(
                column.column_type,
                ColumnType::Point | ColumnType::Location | ColumnType::Url | ColumnType::Double
            ) {
                return Err(SchemaError::new(
                    "row_identifier",
                    format!("a {} column cannot identify rows", column.column_type),
                ));
            }
        } else {
            self.row_identifier = None;
        }
        Ok(self)
    }
}

/// Checks a field name: `[a-z_][a-z0-9_]*`, at most 63 bytes, not starting with `:`.
pub fn validate_field_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("field name is empty".to_owned());
    }
    if name.len() > MAX_FIELD_NAME_BYTES {
        return Err(format!(
            "field name `{}` is longer than {MAX_FIELD_NAME_BYTES} bytes",
            excerpt(name)
        ));
    }
    let mut chars = name.chars();
    let first = chars.next().unwrap_or('_');
    if !(first.is_ascii_lowercase() || first == '_')
        || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!(
            "field name `{}` must be lowercase letters, digits and underscores, not starting with a digit",
            excerpt(name)
        ));
    }
    Ok(())
}

/// Derives a field name from a column header the way Socrata does: lowercase, runs of anything
/// but letters and digits become one underscore, no leading or trailing underscores, a leading
/// underscore before a digit, at most 63 bytes (`Sale Amount` → `sale_amount`).
pub fn field_name_from(header: &str) -> String {
    let mut name = String::with_capacity(header.len());
    let mut pending_underscore = false;
    for c in header.trim().chars() {
        if c.is_ascii_alphanumeric() {
            if pending_underscore && !name.is_empty() {
                name.push('_');
            }
            pending_underscore = false;
            name.push(c.to_ascii_lowercase());
        } else {
            pending_underscore = true;
        }
    }
    if name.is_empty() {
        name.push_str("column");
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name.truncate(MAX_FIELD_NAME_BYTES);
    while name.ends_with('_') && name.len() > 1 {
        name.pop();
    }
    name
}

/// Derives unique field names for a header row: duplicates get `_1`, `_2`... (`County`, `County`
/// → `county`, `county_1`).
pub fn field_names_for_headers<'a>(headers: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut used = HashSet::new();
    headers
        .into_iter()
        .map(|header| {
            let base = field_name_from(header);
            let mut candidate = base.clone();
            let mut suffix = 1;
            while !used.insert(candidate.clone()) {
                let tail = format!("_{suffix}");
                let mut stem = base.clone();
                stem.truncate(MAX_FIELD_NAME_BYTES - tail.len());
                candidate = format!("{stem}{tail}");
                suffix += 1;
            }
            candidate
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_follow_socrata() {
        assert_eq!(field_name_from("Sale Amount"), "sale_amount");
        assert_eq!(field_name_from("OPM remarks"), "opm_remarks");
        assert_eq!(field_name_from("  Non Use Code "), "non_use_code");
        assert_eq!(field_name_from("Sales Ratio (%)"), "sales_ratio");
        assert_eq!(field_name_from("2020 Population"), "_2020_population");
        assert_eq!(
            field_name_from("Public Service Cos. & Hospital"),
            "public_service_cos_hospital"
        );
        assert_eq!(field_name_from("***"), "column");
        assert_eq!(field_name_from(&"x".repeat(100)).len(), 63);
    }

    #[test]
    fn duplicate_headers_get_suffixes() {
        assert_eq!(
            field_names_for_headers(["County", "county", "County "]),
            vec!["county", "county_1", "county_2"]
        );
    }

    #[test]
    fn normalization_fills_names_and_positions() {
        let schema = Schema {
            columns: vec![
                Column::new("", "Serial Number", ColumnType::Number),
                Column::new("town", "", ColumnType::Text),
            ],
            row_identifier: Some("serial_number".into()),
        }
        .normalized()
        .unwrap();
        assert_eq!(schema.columns[0].field_name, "serial_number");
        assert_eq!(schema.columns[1].display_name, "town");
        assert_eq!(schema.columns[1].position, 2);
    }

    #[test]
    fn bad_schemas_name_the_field() {
        let column = |name: &str| Column::new(name, name, ColumnType::Text);
        let duplicate = Schema {
            columns: vec![column("a"), column("a")],
            row_identifier: None,
        };
        assert_eq!(
            duplicate.normalized().unwrap_err().field,
            "columns[1].field_name"
        );
        let bad_name = Schema {
            columns: vec![column("Town")],
            row_identifier: None,
        };
        assert_eq!(
            bad_name.normalized().unwrap_err().field,
            "columns[0].field_name"
        );
        let unknown_identifier = Schema {
            columns: vec![column("a")],
            row_identifier: Some("b".into()),
        };
        assert_eq!(
            unknown_identifier.normalized().unwrap_err().field,
            "row_identifier"
        );
        assert!(Schema::default().normalized().is_err());
    }

    #[test]
    fn type_names_round_trip() {
        for column_type in ColumnType::ALL {
            assert_eq!(
                ColumnType::parse(column_type.data_type_name()),
                Some(column_type)
            );
            assert_eq!(
                ColumnType::parse(column_type.soql_type()),
                Some(column_type)
            );
        }
    }
}
