//! What the compiler's tests compile against.

use opendata_datastore::schema::{Column, ColumnType, Schema};

use crate::request::QueryRequest;
use crate::types::Extensions;

/// A database with PostGIS, as the tests' server has.
pub const POSTGIS: Extensions = Extensions { postgis: true };

/// A schema shaped like the real-estate sales, with a column of each kind queries use.
pub fn sales_schema() -> Schema {
    Schema {
        columns: vec![
            Column::new("town", "Town", ColumnType::Text),
            Column::new("sale_amount", "Sale Amount", ColumnType::Number),
            Column::new("ratio", "Ratio", ColumnType::Double),
            Column::new("sold", "Sold", ColumnType::Checkbox),
            Column::new("date_recorded", "Date Recorded", ColumnType::CalendarDate),
            Column::new("location", "Location", ColumnType::Point),
            Column::new("place", "Place", ColumnType::Location),
            Column::new("link", "Link", ColumnType::Url),
        ],
        row_identifier: None,
    }
    .normalized()
    .unwrap()
}

/// A request from URL parameters, as the edge reads them (a field name is a field filter).
pub fn request(params: &[(&str, &str)]) -> QueryRequest {
    let mut request = QueryRequest::default();
    for (name, value) in params {
        let value = (*value).to_owned();
        match *name {
            "$select" => request.select = value,
            "$where" => request.where_clause = value,
            "$order" => request.order = value,
            "$group" => request.group = value,
            "$having" => request.having = value,
            "$q" => request.search = value,
            "$query" => request.query = value,
            "$limit" => request.limit = Some(value.parse().expect("a number")),
            "$offset" => request.offset = value.parse().expect("a number"),
            field => request.filters.push((field.to_owned(), value)),
        }
    }
    request
}
