//! SODA query parameters: `$select`, `$where`, `$order`, `$group`, `$having`, `$limit`, `$offset`,
//! `$q`, `$query`, `$$app_token`, `$$bom`, and `field=value` filters, read from the raw query
//! string into a catalog request. Unknown `$` parameters are refused by name.

use opendata_limits::excerpt;
use opendata_proto::catalog::v1::{FieldFilter, QueryRowsRequest, RowFormat};

use crate::error::SodaError;

/// Parsed SODA parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SodaParams {
    /// The catalog request (without dataset id and format).
    pub request: QueryRowsRequest,
    /// `$$app_token`, when given in the query string.
    pub app_token: Option<String>,
}

/// Reads the query string.
pub fn parse(query: Option<&str>) -> Result<SodaParams, SodaError> {
    let mut params = SodaParams::default();
    let request = &mut params.request;
    let mut seen = std::collections::HashSet::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let value = value.into_owned();
        // Socrata refuses a `$` parameter given twice rather than silently taking one of them.
        if name.starts_with('$') && !seen.insert(name.clone()) {
            return Err(SodaError::bad_parameter(
                &name,
                format!("{name} is given more than once; give it once"),
            ));
        }
        match name.as_ref() {
            "$select" => request.select_clause = value,
            "$where" => request.where_clause = value,
            "$order" => request.order_clause = value,
            "$group" => request.group_clause = value,
            "$having" => request.having_clause = value,
            "$q" => request.search = value,
            "$query" => request.query = value,
            "$limit" => request.limit = Some(parse_count("$limit", &value)?),
            "$offset" => request.offset = parse_count("$offset", &value)?,
            "$version" => request.version = parse_version("$version", &value)?,
            "$$app_token" => params.app_token = Some(value),
            "$$bom" => request.bom = parse_flag("$$bom", &value)?,
            "$$exclude_system_fields" | "$$read_from_nbe" | "$$version" => {}
            other if other.starts_with('$') => {
                return Err(SodaError::bad_parameter(
                    other,
                    format!(
                        "unknown parameter {}; SODA parameters are $select, $where, $order, $group, $having, $limit, $offset, $q, $query and $version",
                        excerpt(other)
                    ),
                ));
            }
            field => request.filters.push(FieldFilter {
                field: field.to_owned(),
                value,
            }),
        }
    }
    Ok(params)
}

/// A version number (1, 2, …) given as `parameter`.
pub fn parse_version(parameter: &str, value: &str) -> Result<i64, SodaError> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|version| *version >= 1)
        .ok_or_else(|| {
            SodaError::bad_parameter(
                parameter,
                format!(
                    "{parameter} takes a version number (1, 2, …), not `{}`",
                    excerpt(value)
                ),
            )
        })
}

/// A count of rows (`$limit`, `$offset`) given as `parameter`.
pub fn parse_count(parameter: &str, value: &str) -> Result<u64, SodaError> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|count| i64::try_from(*count).is_ok())
        .ok_or_else(|| {
            SodaError::bad_parameter(
                parameter,
                format!(
                    "{parameter} must be a whole number of rows up to {}, not `{value}`",
                    i64::MAX
                ),
            )
        })
}

fn parse_flag(parameter: &str, value: &str) -> Result<bool, SodaError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(SodaError::bad_parameter(
            parameter,
            format!("{parameter} must be true or false"),
        )),
    }
}

/// The id in a resource path and the format its extension names (`abcd-1234.csv`); `None` when
/// there is no extension and the `Accept` header decides.
pub fn split_extension(file: &str) -> Result<(&str, Option<RowFormat>), SodaError> {
    let Some((id, extension)) = file.rsplit_once('.') else {
        return Ok((file, None));
    };
    let format = match extension {
        "json" => RowFormat::Json,
        "csv" => RowFormat::Csv,
        "geojson" => RowFormat::Geojson,
        other => {
            return Err(SodaError::bad_parameter(
                "format",
                format!("unknown format .{other}; use .json, .csv or .geojson"),
            ));
        }
    };
    Ok((id, Some(format)))
}

/// The format an `Accept` header asks for: CSV or GeoJSON when named, JSON otherwise.
pub fn negotiate(accept: Option<&str>) -> RowFormat {
    let accept = accept.unwrap_or_default().to_ascii_lowercase();
    let position = |needle: &str| accept.find(needle).unwrap_or(usize::MAX);
    let candidates = [
        (position("application/json"), RowFormat::Json),
        (position("text/csv"), RowFormat::Csv),
        (
            position("geo+json").min(position("vnd.geo+json")),
            RowFormat::Geojson,
        ),
    ];
    candidates
        .into_iter()
        .filter(|(at, _)| *at != usize::MAX)
        .min_by_key(|(at, _)| *at)
        .map_or(RowFormat::Json, |(_, format)| format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soda_parameters_and_filters_are_read() {
        let params = parse(Some("$select=town,sale_amount&$limit=5&$offset=10&$order=sale_amount%20DESC&town=New%20Haven&$$bom=true&$$app_token=abc")).unwrap();
        assert_eq!(params.request.select_clause, "town,sale_amount");
        assert_eq!(params.request.limit, Some(5));
        assert_eq!(params.request.offset, 10);
        assert_eq!(params.request.order_clause, "sale_amount DESC");
        assert!(params.request.bom);
        assert_eq!(params.app_token.as_deref(), Some("abc"));
        assert_eq!(
            params.request.filters,
            vec![FieldFilter {
                field: "town".into(),
                value: "New Haven".into()
            }]
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        assert!(parse(Some("$offset=9223372036854775808")).is_err());
        let error = parse(Some("$limit=-1")).unwrap_err();
        assert_eq!(
            error.0.details.get("parameter").map(String::as_str),
            Some("$limit")
        );
        let error = parse(Some("$where=a=1&$limit=5&$where=b=2")).unwrap_err();
        assert_eq!(
            error.0.details.get("parameter").map(String::as_str),
            Some("$where")
        );
        assert!(parse(Some("$limit=1&$limit=2")).is_err());
        assert!(
            parse(Some("town=a&town=b")).is_ok(),
            "field filters may repeat (they are ANDed)"
        );
        let error = parse(Some("$selcet=town")).unwrap_err();
        assert_eq!(
            error.0.details.get("parameter").map(String::as_str),
            Some("$selcet")
        );
    }

    #[test]
    fn extensions_choose_the_format() {
        assert_eq!(
            split_extension("abcd-1234.csv").unwrap(),
            ("abcd-1234", Some(RowFormat::Csv))
        );
        assert_eq!(split_extension("abcd-1234").unwrap(), ("abcd-1234", None));
        assert_eq!(
            negotiate(Some("text/csv, application/json;q=0.5")),
            RowFormat::Csv
        );
        assert_eq!(
            negotiate(Some("application/vnd.geo+json")),
            RowFormat::Geojson
        );
        assert_eq!(negotiate(Some("*/*")), RowFormat::Json);
        assert_eq!(negotiate(None), RowFormat::Json);
        assert!(split_extension("abcd-1234.xml").is_err());
    }
}
