//! The dataset page's table view: which page, in which order, filtered how, read from the page's
//! query string and written back as links and as the plain SoQL query the page shows.
//!
//! - `page` (1–500), `order` (an indexed column) and `dir` (`asc`, `desc`);
//! - filters built from the columns' types: `has.{field}` (text containing the words, any case),
//!   `min.{field}` / `max.{field}` (numbers), `from.{field}` / `to.{field}` (dates, `YYYY-MM-DD`,
//!   both days included), `is.{field}` (`true`, `false` for checkboxes); at most `page_filters`
//!   of them, each value at most `search_text` characters.

use chrono::NaiveDate;
use opendata_limits::{PAGE_FILTERS, SEARCH_TEXT, excerpt};
use opendata_proto::common::v1::{Column, ColumnType};

use super::{page_number, query_string, within_page_query};
use crate::error::SodaError;

/// Rows per table page.
pub const ROWS_PER_PAGE: u64 = 20;
/// Table pages one can go to by links (deeper reading is for the API).
pub const MAX_TABLE_PAGE: u64 = 500;
/// Columns the filter form offers (the first ones that can be filtered).
const FILTER_COLUMNS: usize = 12;

/// How a column can be filtered.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    /// Text containing some words.
    Text,
    /// A number range.
    Number,
    /// A date range.
    Date,
    /// True or false.
    Checkbox,
}

impl FilterKind {
    /// How `column` can be filtered; `None` for points, locations and links.
    pub fn of(column: &Column) -> Option<FilterKind> {
        match column.r#type() {
            ColumnType::Text | ColumnType::Unspecified => Some(FilterKind::Text),
            ColumnType::Number | ColumnType::Double => Some(FilterKind::Number),
            ColumnType::CalendarDate | ColumnType::Date => Some(FilterKind::Date),
            ColumnType::Checkbox => Some(FilterKind::Checkbox),
            ColumnType::Point | ColumnType::Location | ColumnType::Url => None,
        }
    }

    /// The query parameter prefixes of this kind.
    fn prefixes(self) -> &'static [&'static str] {
        match self {
            FilterKind::Text => &["has"],
            FilterKind::Number => &["min", "max"],
            FilterKind::Date => &["from", "to"],
            FilterKind::Checkbox => &["is"],
        }
    }
}

/// A column's field name as SoQL reads it: quoted when it is a SoQL keyword (`from`, `null`), so
/// such a column is a column and not a keyword.
pub fn soql_name(field: &str) -> String {
    if opendata_soql::ast::is_keyword(field) {
        format!("`{field}`")
    } else {
        field.to_owned()
    }
}

/// One filter: a parameter (`min.population`) and its value.
#[derive(Clone)]
pub struct Filter {
    /// `has`, `min`, `max`, `from`, `to` or `is`.
    pub prefix: &'static str,
    /// The column's field name.
    pub field: String,
    /// The value as given (checked).
    pub value: String,
}

impl Filter {
    /// The filter as a SoQL condition. Values are checked before: numbers and dates re-written,
    /// text quoted with its quotes doubled.
    fn soql(&self) -> String {
        let field = &soql_name(&self.field);
        let value = &self.value;
        match self.prefix {
            // The text is matched as written: LIKE's wildcards (and its escape) are escaped.
            "has" => format!(
                "upper({field}) like '%{}%'",
                value
                    .to_uppercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
                    .replace('\'', "''")
            ),
            "min" => format!("{field} >= {value}"),
            "max" => format!("{field} <= {value}"),
            "from" => format!("{field} >= '{value}T00:00:00'"),
            "to" => format!("{field} <= '{value}T23:59:59.999'"),
            _ => format!("{field} = {value}"),
        }
    }
}

/// The table's view.
pub struct TableView {
    /// The page, from 1.
    pub page: u64,
    /// The indexed column it is ordered by.
    pub order: Option<String>,
    /// Whether the order is descending.
    pub descending: bool,
    /// The filters, in the order given.
    pub filters: Vec<Filter>,
    /// The page's other parameters (the chart's and the map's), which links keep.
    pub others: Vec<(String, String)>,
}

impl TableView {
    /// The view a query string asks for, or a 400 naming the parameter that is wrong.
    pub fn parse(query: Option<&str>, columns: &[Column]) -> Result<TableView, SodaError> {
        let mut view = TableView {
            page: 1,
            order: None,
            descending: false,
            filters: Vec::new(),
            others: Vec::new(),
        };
        let query = within_page_query(query)?;
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "page" => view.page = page_number("page", &value, MAX_TABLE_PAGE)?,
                "order" => {
                    if !columns.iter().any(|c| c.indexed && c.field_name == value) {
                        return Err(SodaError::bad_parameter(
                            "order",
                            format!(
                                "the table orders by an indexed column; {:?} is not one",
                                excerpt(&value)
                            ),
                        ));
                    }
                    view.order = Some(value.into_owned());
                }
                "dir" => {
                    view.descending = match value.as_ref() {
                        "asc" => false,
                        "desc" => true,
                        other => {
                            return Err(SodaError::bad_parameter(
                                "dir",
                                format!("dir is asc or desc, not {:?}", excerpt(other)),
                            ));
                        }
                    }
                }
                // The chart's and the map's parameters (see `chart` and `map`, which check their
                // values), kept by links: each once.
                parameter @ ("chart.by" | "chart.value" | "map") => {
                    if view.others.iter().any(|(name, _)| name == parameter) {
                        return Err(SodaError::bad_parameter(
                            parameter,
                            format!("{parameter} is given more than once"),
                        ));
                    }
                    if let Some(problem) = SEARCH_TEXT.text_problem(&value) {
                        return Err(SodaError::bad_parameter(parameter, problem));
                    }
                    if !value.is_empty() {
                        view.others.push((parameter.to_owned(), value.into_owned()));
                    }
                }
                parameter => {
                    // An empty filter box is no filter.
                    if let Some(filter) = filter(parameter, &value, columns)?
                        && !filter.value.is_empty()
                    {
                        if let Some(problem) = PAGE_FILTERS.count_problem(view.filters.len() + 1) {
                            return Err(SodaError::bad_parameter(parameter, problem));
                        }
                        view.filters.push(filter);
                    }
                }
            }
        }
        Ok(view)
    }

    /// The `$where` of this view's filters, if it has any.
    pub fn soql_where(&self) -> Option<String> {
        (!self.filters.is_empty()).then(|| {
            self.filters
                .iter()
                .map(Filter::soql)
                .collect::<Vec<_>>()
                .join(" AND ")
        })
    }

    /// The `$order` of this view (`population DESC`).
    pub fn soql_order(&self) -> Option<String> {
        let order = soql_name(self.order.as_deref()?);
        Some(if self.descending {
            format!("{order} DESC")
        } else {
            order.to_owned()
        })
    }

    /// The SoQL parameters of this view's page of rows.
    pub fn soql(&self) -> String {
        let offset = ((self.page - 1) * ROWS_PER_PAGE).to_string();
        let limit = ROWS_PER_PAGE.to_string();
        let (filter, order) = (self.soql_where(), self.soql_order());
        let mut pairs = Vec::new();
        if let Some(filter) = &filter {
            pairs.push(("$where", filter.as_str()));
        }
        if let Some(order) = &order {
            pairs.push(("$order", order.as_str()));
        }
        pairs.extend([("$limit", limit.as_str()), ("$offset", offset.as_str())]);
        query_string(pairs)
    }

    /// The SoQL parameters counting the rows this view's filters keep.
    pub fn count_soql(&self) -> Option<String> {
        let filter = self.soql_where()?;
        Some(query_string([
            ("$select", "count(*) AS n"),
            ("$where", filter.as_str()),
        ]))
    }

    /// The filters as query parameters (`min.population`, `1000`).
    pub fn filter_params(&self) -> Vec<(String, String)> {
        self.filters
            .iter()
            .map(|filter| {
                (
                    format!("{}.{}", filter.prefix, filter.field),
                    filter.value.clone(),
                )
            })
            .collect()
    }

    /// The parameters a form of the page keeps so as not to lose the view: the filters, the order
    /// and its direction, and the other parameters `keep` accepts by name.
    pub fn kept(&self, keep: impl Fn(&str) -> bool) -> Vec<(String, String)> {
        let mut kept = self.filter_params();
        if let Some(order) = &self.order {
            kept.push(("order".to_owned(), order.clone()));
            if self.descending {
                kept.push(("dir".to_owned(), "desc".to_owned()));
            }
        }
        kept.extend(self.others.iter().filter(|(name, _)| keep(name)).cloned());
        kept
    }

    /// A link to dataset `id`'s page with this view's filters and other parameters, at `page`, in
    /// `order`.
    pub fn link(&self, id: &str, page: u64, order: Option<&str>, descending: bool) -> String {
        let page = page.to_string();
        let filters = self.filter_params();
        let mut pairs: Vec<(&str, &str)> = filters
            .iter()
            .chain(&self.others)
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        if let Some(order) = order {
            pairs.push(("order", order));
            if descending {
                pairs.push(("dir", "desc"));
            }
        }
        if page != "1" {
            pairs.push(("page", page.as_str()));
        }
        if pairs.is_empty() {
            format!("/d/{id}")
        } else {
            format!("/d/{id}?{}", query_string(pairs))
        }
    }

    /// The value this view filters `field` by with `prefix`, for the form.
    pub fn value_of(&self, prefix: &str, field: &str) -> &str {
        self.filters
            .iter()
            .find(|filter| filter.prefix == prefix && filter.field == field)
            .map_or("", |filter| filter.value.as_str())
    }
}

/// The filter parameter `parameter` (`min.population`) with `value`, checked against the
/// column's type; a 400 naming the parameter when it is not one or its value is wrong.
fn filter(parameter: &str, value: &str, columns: &[Column]) -> Result<Option<Filter>, SodaError> {
    let unknown = || {
        SodaError::bad_parameter(
            parameter,
            format!(
                "unknown parameter {}; the table takes page, order, dir and filters \
                 (has., min., max., from., to., is. and a column's field name)",
                excerpt(parameter)
            ),
        )
    };
    let (prefix, field) = parameter.split_once('.').ok_or_else(unknown)?;
    let column = columns
        .iter()
        .find(|column| column.field_name == field)
        .ok_or_else(unknown)?;
    let kind = FilterKind::of(column).ok_or_else(|| {
        SodaError::bad_parameter(
            parameter,
            format!("the table does not filter {}", excerpt(field)),
        )
    })?;
    let prefix = *kind
        .prefixes()
        .iter()
        .find(|known| **known == prefix)
        .ok_or_else(|| {
            SodaError::bad_parameter(
                parameter,
                format!(
                    "{} filters by {}",
                    excerpt(field),
                    kind.prefixes().join(" and ")
                ),
            )
        })?;
    let value = value.trim();
    if let Some(problem) = SEARCH_TEXT.text_problem(value) {
        return Err(SodaError::bad_parameter(parameter, problem));
    }
    let wrong = |expected: &str| {
        SodaError::bad_parameter(
            parameter,
            format!("{parameter} is {expected}, not {:?}", excerpt(value)),
        )
    };
    let value = match kind {
        _ if value.is_empty() => String::new(),
        FilterKind::Text => value.to_owned(),
        // Whole numbers stay as written (a double would round long ones); others are re-written.
        FilterKind::Number => match value.parse::<i64>() {
            Ok(whole) => whole.to_string(),
            Err(_) => value
                .parse::<f64>()
                .ok()
                .filter(|number| number.is_finite())
                .ok_or_else(|| wrong("a number"))?
                .to_string(),
        },
        FilterKind::Date => NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map_err(|_| wrong("a date, YYYY-MM-DD"))?
            .format("%Y-%m-%d")
            .to_string(),
        FilterKind::Checkbox => match value {
            "true" | "false" => value.to_owned(),
            _ => return Err(wrong("true or false")),
        },
    };
    Ok(Some(Filter {
        prefix,
        field: column.field_name.clone(),
        value,
    }))
}

/// A column's boxes in the filter form.
pub struct FilterField {
    /// The column's name.
    pub name: String,
    /// The column's field name.
    pub field: String,
    /// Its kind.
    pub kind: FilterKind,
}

/// The columns the filter form offers.
pub fn filter_fields(columns: &[Column]) -> Vec<FilterField> {
    columns
        .iter()
        .filter_map(|column| {
            FilterKind::of(column).map(|kind| FilterField {
                name: column.display_name.clone(),
                field: column.field_name.clone(),
                kind,
            })
        })
        .take(FILTER_COLUMNS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<Column> {
        let column = |name: &str, kind: ColumnType, indexed| Column {
            display_name: name.to_owned(),
            field_name: name.to_lowercase(),
            r#type: kind as i32,
            indexed,
            ..Column::default()
        };
        vec![
            column("Town", ColumnType::Text, false),
            column("Population", ColumnType::Number, true),
            column("Counted", ColumnType::CalendarDate, false),
            column("Coastal", ColumnType::Checkbox, false),
            column("Seat", ColumnType::Point, false),
        ]
    }

    #[test]
    fn filters_become_one_where_clause_and_links_keep_them() {
        let query = "has.town=o%27Ne&min.population=1e3&max.population=&from.counted=2020-01-02\
                     &is.coastal=true&order=population&dir=desc&page=2";
        let view = TableView::parse(Some(query), &columns()).expect("a view");
        assert_eq!(
            view.soql_where().as_deref(),
            Some(
                "upper(town) like '%O''NE%' AND population >= 1000 AND \
                 counted >= '2020-01-02T00:00:00' AND coastal = true"
            )
        );
        assert!(
            view.soql()
                .ends_with("&%24order=population+DESC&%24limit=20&%24offset=20")
        );
        let link = view.link("abcd-1234", 3, Some("population"), false);
        assert_eq!(
            link,
            "/d/abcd-1234?has.town=o%27Ne&min.population=1000&from.counted=2020-01-02\
             &is.coastal=true&order=population&page=3"
        );
        assert_eq!(view.value_of("min", "population"), "1000");
        assert!(view.count_soql().is_some());
        let plain = TableView::parse(None, &columns()).expect("a view");
        assert_eq!(plain.soql_where(), None);
        assert_eq!(plain.count_soql(), None);
        assert_eq!(
            filter_fields(&columns()).len(),
            4,
            "points are not filtered"
        );
        // Text is matched as written; keyword-named columns are quoted.
        let literal = TableView::parse(Some("has.town=100%25_a%5Cb"), &columns()).expect("a view");
        assert_eq!(
            literal.soql_where().as_deref(),
            Some(r"upper(town) like '%100\%\_A\\B%'")
        );
        assert_eq!(soql_name("from"), "`from`");
        assert_eq!(soql_name("town"), "town");
    }

    #[test]
    fn wrong_filters_name_the_parameter() {
        for (query, expected) in [
            ("min.population=many", "min.population is a number"),
            ("min.population=inf", "min.population is a number"),
            ("from.counted=2020-13-01", "a date, YYYY-MM-DD"),
            ("is.coastal=yes", "true or false"),
            ("has.population=1", "population filters by min and max"),
            ("has.seat=x", "does not filter seat"),
            ("has.nope=x", "unknown parameter has.nope"),
            ("nope=x", "unknown parameter nope"),
        ] {
            let error = TableView::parse(Some(query), &columns())
                .err()
                .expect(query);
            assert!(
                error.0.message.contains(expected),
                "{query}: {}",
                error.0.message
            );
        }
        let many: Vec<String> = (0..=PAGE_FILTERS.get())
            .map(|n| format!("has.town={n}"))
            .collect();
        let error = TableView::parse(Some(&many.join("&")), &columns())
            .err()
            .expect("too many");
        assert!(
            error.0.message.contains("page_filters"),
            "{}",
            error.0.message
        );
        let long = format!("has.town={}", "x".repeat(SEARCH_TEXT.get() + 1));
        let error = TableView::parse(Some(&long), &columns())
            .err()
            .expect("too long");
        assert!(
            error.0.message.contains("search_text"),
            "{}",
            error.0.message
        );
    }
}
