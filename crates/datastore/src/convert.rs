//! Conversions between schema types and their protobuf messages, shared by the services.

use opendata_proto::common::v1 as pb;

use crate::schema::{Column, ColumnType, Schema};

/// The protobuf column type.
pub fn column_type_to_proto(column_type: ColumnType) -> pb::ColumnType {
    match column_type {
        ColumnType::Text => pb::ColumnType::Text,
        ColumnType::Number => pb::ColumnType::Number,
        ColumnType::Double => pb::ColumnType::Double,
        ColumnType::Checkbox => pb::ColumnType::Checkbox,
        ColumnType::CalendarDate => pb::ColumnType::CalendarDate,
        ColumnType::Date => pb::ColumnType::Date,
        ColumnType::Point => pb::ColumnType::Point,
        ColumnType::Location => pb::ColumnType::Location,
        ColumnType::Url => pb::ColumnType::Url,
    }
}

/// The column type of a protobuf value; `None` when unspecified or unknown.
pub fn column_type_from_proto(value: i32) -> Option<ColumnType> {
    Some(match pb::ColumnType::try_from(value).ok()? {
        pb::ColumnType::Unspecified => return None,
        pb::ColumnType::Text => ColumnType::Text,
        pb::ColumnType::Number => ColumnType::Number,
        pb::ColumnType::Double => ColumnType::Double,
        pb::ColumnType::Checkbox => ColumnType::Checkbox,
        pb::ColumnType::CalendarDate => ColumnType::CalendarDate,
        pb::ColumnType::Date => ColumnType::Date,
        pb::ColumnType::Point => ColumnType::Point,
        pb::ColumnType::Location => ColumnType::Location,
        pb::ColumnType::Url => ColumnType::Url,
    })
}

/// A schema as protobuf.
pub fn schema_to_proto(schema: &Schema) -> pb::Schema {
    pb::Schema {
        columns: schema
            .columns
            .iter()
            .map(|column| pb::Column {
                field_name: column.field_name.clone(),
                display_name: column.display_name.clone(),
                r#type: column_type_to_proto(column.column_type) as i32,
                description: column.description.clone(),
                position: column.position,
                id: column.id,
                indexed: column.indexed,
            })
            .collect(),
        row_identifier: schema.row_identifier.clone().unwrap_or_default(),
    }
}

/// A schema from protobuf, before normalization; errors name the offending field.
pub fn schema_from_proto(schema: &pb::Schema) -> Result<Schema, crate::schema::SchemaError> {
    let columns = schema
        .columns
        .iter()
        .enumerate()
        .map(|(index, column)| {
            let column_type = column_type_from_proto(column.r#type).ok_or_else(|| crate::schema::SchemaError::new(
                format!("columns[{index}].type"),
                format!(
                    "column `{}` needs a type (text, number, double, checkbox, calendar_date, date, point, location, url)",
                    opendata_limits::excerpt(if column.field_name.is_empty() { &column.display_name } else { &column.field_name })
                ),
            ))?;
            Ok(Column {
                field_name: column.field_name.clone(),
                display_name: column.display_name.clone(),
                column_type,
                description: column.description.clone(),
                position: column.position,
                id: column.id,
                indexed: column.indexed,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Schema {
        columns,
        row_identifier: (!schema.row_identifier.is_empty()).then(|| schema.row_identifier.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_round_trip_through_proto() {
        let schema = Schema {
            columns: ColumnType::ALL
                .iter()
                .enumerate()
                .map(|(index, column_type)| Column {
                    field_name: format!("c{index}"),
                    display_name: format!("C {index}"),
                    column_type: *column_type,
                    description: "d".into(),
                    position: index as u32 + 1,
                    id: index as i64,
                    indexed: index % 2 == 0,
                })
                .collect(),
            row_identifier: Some("c1".into()),
        };
        assert_eq!(
            schema_from_proto(&schema_to_proto(&schema)).unwrap(),
            schema
        );
    }

    #[test]
    fn missing_types_name_the_column() {
        let proto = pb::Schema {
            columns: vec![pb::Column {
                field_name: "town".into(),
                ..Default::default()
            }],
            row_identifier: String::new(),
        };
        let error = schema_from_proto(&proto).unwrap_err();
        assert_eq!(error.field, "columns[0].type");
        assert!(error.message.contains("town"));
    }
}
