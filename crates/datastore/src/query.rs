//! Row queries over a dataset version: the request the public API sends, checked against the
//! schema and compiled to SQL whose identifiers come only from the schema and whose values are all
//! bind parameters. This is the plain subset of SoQL — `$select` of columns, `$order` on one
//! column, `$limit`, `$offset` and `?field=value` filters — behind the interface the full SoQL
//! compiler plugs into.

use crate::coerce::coerce_into;
use crate::output::{OutputColumn, ValueKind};
use crate::schema::{ColumnType, Schema};
use crate::table::{CREATED_AT_COLUMN, ID_COLUMN, UPDATED_AT_COLUMN, qualified, quote_ident};

/// `$limit` when none is given: clients page on exactly this.
pub const DEFAULT_LIMIT: u64 = 1000;

/// The query parameters as the public sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryRequest {
    /// `$select`.
    pub select: String,
    /// `$where`.
    pub where_clause: String,
    /// `$order`.
    pub order: String,
    /// `$group`.
    pub group: String,
    /// `$having`.
    pub having: String,
    /// `$limit` (default 1000, no maximum).
    pub limit: Option<u64>,
    /// `$offset`.
    pub offset: u64,
    /// `$q`.
    pub search: String,
    /// `$query`.
    pub query: String,
    /// `?field=value` filters, ANDed.
    pub filters: Vec<(String, String)>,
}

/// A query that cannot run, with the parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A name that is not a column of the dataset.
    #[error("no such column: {column}")]
    NoSuchColumn {
        /// The parameter that named it.
        parameter: String,
        /// The name.
        column: String,
    },
    /// A clause that does not parse, or is not supported.
    #[error("{message}")]
    Malformed {
        /// The parameter at fault.
        parameter: String,
        /// What is wrong.
        message: String,
    },
    /// A value that does not fit its column's type.
    #[error("{message}")]
    TypeMismatch {
        /// The parameter at fault.
        parameter: String,
        /// What is wrong.
        message: String,
    },
}

impl QueryError {
    /// The parameter at fault.
    pub fn parameter(&self) -> &str {
        match self {
            QueryError::NoSuchColumn { parameter, .. }
            | QueryError::Malformed { parameter, .. }
            | QueryError::TypeMismatch { parameter, .. } => parameter,
        }
    }
}

/// SQL ready to run, with its binds and output columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledQuery {
    /// The statement; every value is a `$n` placeholder.
    pub sql: String,
    /// Values for `$1`, `$2`, ... (all text, cast in the SQL).
    pub binds: Vec<String>,
    /// Output columns, in order.
    pub columns: Vec<OutputColumn>,
}

/// Whether results are serialized as CSV (some types are written differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// JSON.
    Json,
    /// CSV.
    Csv,
}

/// A selectable field: a schema column or a system field.
#[derive(Debug, Clone, Copy)]
enum Field<'a> {
    Column(&'a crate::schema::Column),
    System(&'static str),
}

impl Field<'_> {
    fn name(&self) -> &str {
        match self {
            Field::Column(column) => &column.field_name,
            Field::System(name) => name,
        }
    }
}

fn resolve<'a>(schema: &'a Schema, name: &str, parameter: &str) -> Result<Field<'a>, QueryError> {
    match name {
        ID_COLUMN => Ok(Field::System(ID_COLUMN)),
        CREATED_AT_COLUMN => Ok(Field::System(CREATED_AT_COLUMN)),
        UPDATED_AT_COLUMN => Ok(Field::System(UPDATED_AT_COLUMN)),
        _ => schema
            .column(name)
            .map(Field::Column)
            .ok_or_else(|| QueryError::NoSuchColumn {
                parameter: parameter.to_owned(),
                column: name.to_owned(),
            }),
    }
}

/// The SQL expression that formats a field for output, and how to write it.
fn output_expression(field: Field<'_>, target: Target) -> (String, &'static str, ValueKind) {
    let name = quote_ident(field.name());
    let column_type = match field {
        Field::Column(column) => column.column_type,
        Field::System(ID_COLUMN) => {
            return (format!("'row-' || {name}::text"), "text", ValueKind::String);
        }
        Field::System(_) => ColumnType::Date,
    };
    let soql_type = column_type.soql_type();
    match column_type {
        ColumnType::Text => (name, soql_type, ValueKind::String),
        ColumnType::Number => (
            format!("trim_scale({name})::text"),
            soql_type,
            ValueKind::String,
        ),
        ColumnType::Double => (format!("{name}::text"), soql_type, ValueKind::Number),
        ColumnType::Checkbox => (format!("{name}::text"), soql_type, ValueKind::Boolean),
        ColumnType::CalendarDate => (
            format!(r#"to_char({name}, 'YYYY-MM-DD"T"HH24:MI:SS.MS')"#),
            soql_type,
            ValueKind::String,
        ),
        ColumnType::Date => (
            format!(r#"to_char({name} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"#),
            soql_type,
            ValueKind::String,
        ),
        ColumnType::Point => (format!("{name}::text"), soql_type, ValueKind::Point),
        ColumnType::Url => match target {
            Target::Json => (format!("{name}::text"), soql_type, ValueKind::Json),
            Target::Csv => (
                format!(
                    "CASE WHEN {name} IS NOT NULL THEN concat_ws(' ', {name}->>'url', '(' || ({name}->>'description') || ')') END"
                ),
                soql_type,
                ValueKind::String,
            ),
        },
        ColumnType::Location => match target {
            Target::Json => (format!("{name}::text"), soql_type, ValueKind::Json),
            Target::Csv => (
                format!(
                    "CASE WHEN {name} IS NOT NULL THEN concat_ws(' ', ({name}->>'human_address')::jsonb->>'address', '(' || ({name}->>'latitude') || ', ' || ({name}->>'longitude') || ')') END"
                ),
                soql_type,
                ValueKind::String,
            ),
        },
    }
}

/// Compiles a request against `schema` for rows in `table` (in the `data` schema).
pub fn compile(
    request: &QueryRequest,
    schema: &Schema,
    table: &str,
    target: Target,
) -> Result<CompiledQuery, QueryError> {
    for (parameter, value) in [
        ("$where", &request.where_clause),
        ("$group", &request.group),
        ("$having", &request.having),
        ("$q", &request.search),
        ("$query", &request.query),
    ] {
        if !value.trim().is_empty() {
            return Err(QueryError::Malformed {
                parameter: parameter.to_owned(),
                message: format!("{parameter} is not supported by this server yet"),
            });
        }
    }

    let fields: Vec<Field<'_>> = match request.select.trim() {
        "" | "*" => schema.columns.iter().map(Field::Column).collect(),
        select => select
            .split(',')
            .map(|name| resolve(schema, name.trim(), "$select"))
            .collect::<Result<_, _>>()?,
    };
    let mut select_list = Vec::with_capacity(fields.len());
    let mut columns = Vec::with_capacity(fields.len());
    for field in &fields {
        let (expression, soql_type, kind) = output_expression(*field, target);
        select_list.push(expression);
        columns.push(OutputColumn {
            name: field.name().to_owned(),
            soql_type,
            kind,
        });
    }
    if select_list.is_empty() {
        return Err(QueryError::Malformed {
            parameter: "$select".to_owned(),
            message: "nothing to select".to_owned(),
        });
    }

    let mut binds = Vec::new();
    let mut conditions = Vec::new();
    for (name, value) in &request.filters {
        let field = resolve(schema, name, name)?;
        let condition = filter_condition(field, value, binds.len() + 1)?;
        binds.push(condition.1);
        conditions.push(condition.0);
    }

    let mut sql = format!(
        "SELECT {} FROM {}",
        select_list.join(", "),
        qualified(table)
    );
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    if let Some(order) = parse_order(schema, &request.order)? {
        sql.push_str(&order);
    }
    binds.push(request.limit.unwrap_or(DEFAULT_LIMIT).to_string());
    sql.push_str(&format!(" LIMIT ${}::bigint", binds.len()));
    if request.offset > 0 {
        binds.push(request.offset.to_string());
        sql.push_str(&format!(" OFFSET ${}::bigint", binds.len()));
    }
    Ok(CompiledQuery {
        sql,
        binds,
        columns,
    })
}

fn filter_condition(
    field: Field<'_>,
    value: &str,
    placeholder: usize,
) -> Result<(String, String), QueryError> {
    let name = quote_ident(field.name());
    let mismatch = |message: String| QueryError::TypeMismatch {
        parameter: field.name().to_owned(),
        message,
    };
    let column_type = match field {
        Field::Column(column) => column.column_type,
        Field::System(ID_COLUMN) => {
            let id = value.strip_prefix("row-").unwrap_or(value);
            id.parse::<i64>()
                .map_err(|_| mismatch(format!("`{value}` is not a row id")))?;
            return Ok((format!("{name} = ${placeholder}::bigint"), id.to_owned()));
        }
        Field::System(_) => ColumnType::Date,
    };
    if column_type == ColumnType::Text {
        return Ok((format!("{name} = ${placeholder}"), value.to_owned()));
    }
    if matches!(
        column_type,
        ColumnType::Point | ColumnType::Location | ColumnType::Url
    ) {
        return Err(mismatch(format!(
            "{} columns cannot be filtered by equality",
            column_type
        )));
    }
    let mut canonical = Vec::new();
    coerce_into(column_type, value, &mut canonical).map_err(|reason| {
        mismatch(format!(
            "`{value}` does not fit column {}: {reason}",
            field.name()
        ))
    })?;
    if canonical == b"\\N" {
        return Ok((format!("{name} IS NULL"), String::new()));
    }
    let canonical = String::from_utf8(canonical).unwrap_or_default();
    Ok((
        format!("{name} = ${placeholder}::{}", column_type.sql_type()),
        canonical,
    ))
}

fn parse_order(schema: &Schema, order: &str) -> Result<Option<String>, QueryError> {
    let order = order.trim();
    if order.is_empty() {
        return Ok(None);
    }
    let mut words = order.split_whitespace();
    let name = words.next().unwrap_or_default();
    let direction = match words.next().map(|w| w.to_ascii_uppercase()) {
        None => "ASC",
        Some(word) if word == "ASC" => "ASC",
        Some(word) if word == "DESC" => "DESC",
        Some(word) => {
            return Err(QueryError::Malformed {
                parameter: "$order".to_owned(),
                message: format!("expected ASC or DESC after the column, found `{word}`"),
            });
        }
    };
    if words.next().is_some() || name.contains(',') {
        return Err(QueryError::Malformed {
            parameter: "$order".to_owned(),
            message: "ordering by one column is supported: `$order=column [ASC|DESC]`".to_owned(),
        });
    }
    let field = resolve(schema, name, "$order")?;
    if let Field::Column(column) = field
        && matches!(
            column.column_type,
            ColumnType::Point | ColumnType::Location | ColumnType::Url
        )
    {
        return Err(QueryError::TypeMismatch {
            parameter: "$order".to_owned(),
            message: format!("{} columns cannot be ordered", column.column_type),
        });
    }
    let nulls = if direction == "ASC" {
        "NULLS LAST"
    } else {
        "NULLS FIRST"
    };
    Ok(Some(format!(
        " ORDER BY {} {direction} {nulls}",
        quote_ident(field.name())
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Column;

    fn schema() -> Schema {
        let column = |field: &str, column_type| Column::new(field, field, column_type);
        Schema {
            columns: vec![
                column("town", ColumnType::Text),
                column("sale_amount", ColumnType::Number),
                column("location", ColumnType::Point),
            ],
            row_identifier: None,
        }
        .normalized()
        .unwrap()
    }

    #[test]
    fn plain_requests_compile_to_bound_sql() {
        let request = QueryRequest {
            select: "town, sale_amount".into(),
            order: "sale_amount DESC".into(),
            limit: Some(5),
            offset: 10,
            filters: vec![
                ("town".into(), "Hartford".into()),
                ("sale_amount".into(), "$1,000".into()),
            ],
            ..QueryRequest::default()
        };
        let compiled = compile(&request, &schema(), "ds_v1", Target::Json).unwrap();
        assert_eq!(
            compiled.sql,
            r#"SELECT "town", trim_scale("sale_amount")::text FROM data."ds_v1" WHERE "town" = $1 AND "sale_amount" = $2::numeric ORDER BY "sale_amount" DESC NULLS FIRST LIMIT $3::bigint OFFSET $4::bigint"#
        );
        assert_eq!(compiled.binds, vec!["Hartford", "1000", "5", "10"]);
        assert_eq!(compiled.columns[1].soql_type, "number");
    }

    #[test]
    fn the_default_limit_is_exactly_1000() {
        let compiled = compile(&QueryRequest::default(), &schema(), "t", Target::Csv).unwrap();
        assert_eq!(compiled.binds.last().unwrap(), "1000");
        assert_eq!(compiled.columns.len(), 3);
    }

    #[test]
    fn injection_attempts_are_inert_or_refused() {
        let hostile = "town\"; DROP TABLE x; --";
        let error = compile(
            &QueryRequest {
                select: hostile.into(),
                ..QueryRequest::default()
            },
            &schema(),
            "t",
            Target::Json,
        )
        .unwrap_err();
        assert!(matches!(error, QueryError::NoSuchColumn { .. }));
        let compiled = compile(
            &QueryRequest {
                filters: vec![("town".into(), "x' OR '1'='1".into())],
                ..QueryRequest::default()
            },
            &schema(),
            "t",
            Target::Json,
        )
        .unwrap();
        assert!(!compiled.sql.contains("OR"), "{}", compiled.sql);
        assert_eq!(compiled.binds[0], "x' OR '1'='1");
    }

    #[test]
    fn errors_name_the_parameter() {
        let bad_order = compile(
            &QueryRequest {
                order: "town sideways".into(),
                ..QueryRequest::default()
            },
            &schema(),
            "t",
            Target::Json,
        )
        .unwrap_err();
        assert_eq!(bad_order.parameter(), "$order");
        let bad_filter = compile(
            &QueryRequest {
                filters: vec![("sale_amount".into(), "lots".into())],
                ..QueryRequest::default()
            },
            &schema(),
            "t",
            Target::Json,
        )
        .unwrap_err();
        assert!(
            matches!(bad_filter, QueryError::TypeMismatch { ref parameter, .. } if parameter == "sale_amount")
        );
        let unknown = compile(
            &QueryRequest {
                filters: vec![("price".into(), "1".into())],
                ..QueryRequest::default()
            },
            &schema(),
            "t",
            Target::Json,
        )
        .unwrap_err();
        assert!(matches!(unknown, QueryError::NoSuchColumn { .. }));
    }
}
