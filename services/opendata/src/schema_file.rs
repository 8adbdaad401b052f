//! Schemas written the way Socrata describes columns (`fieldName`, `name`, `dataTypeName`,
//! `description`), as `opendata dataset create --schema` and the demo manifest take them.

use opendata_datastore::convert::column_type_to_proto;
use opendata_datastore::schema::ColumnType;
use opendata_proto::common::v1::{Column, Schema};
use serde::Deserialize;

/// One column as Socrata describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SocrataColumn {
    /// API field name; derived from `name` when absent.
    #[serde(default)]
    pub field_name: String,
    /// Display name.
    pub name: String,
    /// Socrata type name (`text`, `number`, `money`, `calendar_date`, `point`, ...).
    pub data_type_name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
}

/// A schema as Socrata describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SocrataSchema {
    /// Columns in order.
    pub columns: Vec<SocrataColumn>,
    /// Field name of the row identifier.
    #[serde(default)]
    pub row_identifier: String,
}

impl SocrataSchema {
    /// The protobuf schema; Socrata's `meta_data` columns (system fields) are left out, and an
    /// unknown type is an error naming the column.
    pub fn to_proto(&self) -> Result<Schema, String> {
        let mut columns = Vec::new();
        for column in &self.columns {
            if column.data_type_name == "meta_data" || column.field_name.starts_with(':') {
                continue;
            }
            let column_type = ColumnType::parse(&column.data_type_name).ok_or_else(|| {
                format!(
                    "column `{}` has an unknown type `{}`",
                    column.name, column.data_type_name
                )
            })?;
            columns.push(Column {
                field_name: column.field_name.clone(),
                display_name: column.name.clone(),
                r#type: column_type_to_proto(column_type) as i32,
                description: column.description.clone(),
                ..Column::default()
            });
        }
        Ok(Schema {
            columns,
            row_identifier: self.row_identifier.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_a_number_and_system_fields_are_skipped() {
        let schema: SocrataSchema = serde_json::from_str(
            r#"{"columns": [
                {"fieldName": ":updated_at", "name": "updated", "dataTypeName": "meta_data"},
                {"fieldName": "grant_amount", "name": "Grant Amount", "dataTypeName": "money"}
            ]}"#,
        )
        .unwrap();
        let proto = schema.to_proto().unwrap();
        assert_eq!(proto.columns.len(), 1);
        assert_eq!(
            proto.columns[0].r#type,
            opendata_proto::common::v1::ColumnType::Number as i32
        );
        let bad: SocrataSchema =
            serde_json::from_str(r#"{"columns": [{"name": "Photo", "dataTypeName": "photo"}]}"#)
                .unwrap();
        assert!(bad.to_proto().unwrap_err().contains("Photo"));
    }
}
