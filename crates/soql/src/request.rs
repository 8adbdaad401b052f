//! A SoQL request as the public sends it (`$select`, `$where`, ..., `$query`, field filters), the
//! checks every request passes before anything is parsed, and its reading into one [`Query`].

use opendata_limits::{SOQL_TEXT, excerpt};

use crate::ast::Query;
use crate::error::{Position, SoqlError};
use crate::parser::{parse_expr, parse_group, parse_order, parse_query, parse_select};

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

impl QueryRequest {
    /// The SoQL clauses, each with its parameter's name; `$query` last.
    fn clauses(&self) -> [(&'static str, &String); 7] {
        [
            ("$select", &self.select),
            ("$where", &self.where_clause),
            ("$order", &self.order),
            ("$group", &self.group),
            ("$having", &self.having),
            ("$q", &self.search),
            ("$query", &self.query),
        ]
    }
}

/// Refuses text no clause may hold: NUL characters (which PostgreSQL cannot store in text) and
/// more than [`SOQL_TEXT`] bytes in all.
fn check_request_text(request: &QueryRequest) -> Result<(), SoqlError> {
    let clauses = request.clauses();
    let filters = request
        .filters
        .iter()
        .flat_map(|(field, value)| [(field.as_str(), field), (field.as_str(), value)]);
    let mut total = 0;
    for (parameter, text) in clauses.into_iter().chain(filters) {
        if let Some(at) = text.find('\0') {
            let parameter = excerpt(parameter);
            let column = text[..at].chars().count() + 1;
            return Err(SoqlError::malformed(
                Position {
                    line: 1,
                    column: u32::try_from(column).unwrap_or(u32::MAX),
                },
                "NUL characters are not allowed in a query",
            )
            .in_parameter(&parameter));
        }
        total += text.len();
    }
    if total > SOQL_TEXT.get() {
        // Named: the longest clause, or the field filters when they are longer together.
        let (clause, clause_bytes) = request
            .clauses()
            .into_iter()
            .map(|(name, text)| (name, text.len()))
            .max_by_key(|(_, bytes)| *bytes)
            .unwrap_or(("$where", 0));
        let filter_bytes: usize = request
            .filters
            .iter()
            .map(|(field, value)| field.len() + value.len())
            .sum();
        let longest = if filter_bytes > clause_bytes {
            "field filters"
        } else {
            clause
        };
        return Err(SoqlError::over_limit(
            SOQL_TEXT,
            Position::default(),
            format!(
                "the query is {total} bytes long; at most {} are allowed",
                SOQL_TEXT.value
            ),
        )
        .in_parameter(longest));
    }
    Ok(())
}

/// Reads a request's clauses into one query: `$query` alone, or the separate parameters.
pub fn parse_request(request: &QueryRequest) -> Result<Query, SoqlError> {
    check_request_text(request)?;
    let clause = |text: &str| !text.trim().is_empty();
    if clause(&request.query) {
        let combined = request
            .clauses()
            .into_iter()
            .find(|(name, text)| *name != "$query" && clause(text))
            .map(|(name, _)| name)
            .or_else(|| (request.limit.is_some() || request.offset > 0).then_some("$limit/$offset"))
            .or_else(|| (!request.filters.is_empty()).then_some("field filters"));
        if let Some(other) = combined {
            return Err(SoqlError::malformed(
                Position::default(),
                format!("$query cannot be combined with {other}"),
            )
            .in_parameter("$query"));
        }
        return parse_query(&request.query).map_err(|e| e.in_parameter("$query"));
    }
    let mut query = Query::default();
    if clause(&request.select) {
        let (distinct, select) =
            parse_select(&request.select).map_err(|e| e.in_parameter("$select"))?;
        query.distinct = distinct;
        query.select = select;
    }
    if clause(&request.where_clause) {
        query.filter =
            Some(parse_expr(&request.where_clause).map_err(|e| e.in_parameter("$where"))?);
    }
    if clause(&request.group) {
        query.group = parse_group(&request.group).map_err(|e| e.in_parameter("$group"))?;
    }
    if clause(&request.having) {
        query.having = Some(parse_expr(&request.having).map_err(|e| e.in_parameter("$having"))?);
    }
    if clause(&request.order) {
        query.order = parse_order(&request.order).map_err(|e| e.in_parameter("$order"))?;
    }
    if clause(&request.search) {
        query.search = Some(request.search.clone());
    }
    query.limit = request.limit;
    query.offset = (request.offset > 0).then_some(request.offset);
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_parameter(request: &QueryRequest) -> String {
        let error = parse_request(request).unwrap_err();
        assert_eq!(error.limit, Some(SOQL_TEXT.name), "{error:?}");
        error.parameter
    }

    #[test]
    fn an_overlong_request_names_its_longest_part() {
        let third = format!("town = '{}'", "x".repeat(SOQL_TEXT.get() / 3));
        let clauses = QueryRequest {
            select: third.clone(),
            where_clause: format!("{third} AND {third}"),
            having: third.clone(),
            ..QueryRequest::default()
        };
        assert_eq!(refused_parameter(&clauses), "$where");

        let filters = QueryRequest {
            select: "town".to_owned(),
            filters: (0..4)
                .map(|_| ("town".to_owned(), "x".repeat(SOQL_TEXT.get() / 3)))
                .collect(),
            ..QueryRequest::default()
        };
        assert_eq!(refused_parameter(&filters), "field filters");
    }

    #[test]
    fn a_nul_in_a_field_filter_names_the_field_cut_short() {
        let request = QueryRequest {
            filters: vec![("f".repeat(1_000), "a\0b".to_owned())],
            ..QueryRequest::default()
        };
        let error = parse_request(&request).unwrap_err();
        assert!(error.parameter.len() < 100, "{}", error.parameter);
        assert!(error.message.contains("NUL"), "{}", error.message);
    }
}
