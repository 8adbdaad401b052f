//! What the compiler's tests compile against.

use opendata_datastore::schema::{Column, ColumnType, Schema};

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
        ],
        row_identifier: None,
    }
    .normalized()
    .unwrap()
}
