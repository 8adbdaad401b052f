//! SoQL's value types and how each is stored, cast and written out.

use opendata_datastore::output::ValueKind;
use opendata_datastore::schema::ColumnType;

/// What the database can run beyond PostgreSQL itself, which decides the functions a query may
/// call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extensions {
    /// PostGIS is installed, and on the search path the query runs with.
    pub postgis: bool,
}

/// The type of a SoQL value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoqlType {
    /// Text.
    Text,
    /// Exact decimal.
    Number,
    /// Double-precision float.
    Double,
    /// True or false.
    Boolean,
    /// Date and time without zone.
    FloatingTimestamp,
    /// An instant.
    FixedTimestamp,
    /// Longitude/latitude.
    Point,
    /// Legacy location (latitude, longitude, address).
    Location,
    /// Link with description.
    Url,
    /// Points, as `spatial_union` gathers them (a PostGIS geometry).
    MultiPoint,
    /// Polygons, as `convex_hull` and `extent` draw them (a PostGIS geometry).
    MultiPolygon,
    /// The row id (`:id`), ordered as a number and written `row-N`.
    RowId,
    /// The type of a bare `null`, compatible with every type.
    Null,
}

impl SoqlType {
    /// The type of a column.
    pub fn of_column(column_type: ColumnType) -> SoqlType {
        match column_type {
            ColumnType::Text => SoqlType::Text,
            ColumnType::Number => SoqlType::Number,
            ColumnType::Double => SoqlType::Double,
            ColumnType::Checkbox => SoqlType::Boolean,
            ColumnType::CalendarDate => SoqlType::FloatingTimestamp,
            ColumnType::Date => SoqlType::FixedTimestamp,
            ColumnType::Point => SoqlType::Point,
            ColumnType::Location => SoqlType::Location,
            ColumnType::Url => SoqlType::Url,
        }
    }

    /// The name `X-SODA2-Types` and error messages use.
    pub fn name(self) -> &'static str {
        match self {
            SoqlType::Text | SoqlType::RowId => "text",
            SoqlType::Number => "number",
            SoqlType::Double => "double",
            SoqlType::Boolean => "boolean",
            SoqlType::FloatingTimestamp => "floating_timestamp",
            SoqlType::FixedTimestamp => "fixed_timestamp",
            SoqlType::Point => "point",
            SoqlType::Location => "location",
            SoqlType::Url => "url",
            SoqlType::MultiPoint => "multipoint",
            SoqlType::MultiPolygon => "multipolygon",
            SoqlType::Null => "null",
        }
    }

    /// The column type whose coercion rules read literals of this type.
    pub fn literal_column_type(self) -> Option<ColumnType> {
        Some(match self {
            SoqlType::Number => ColumnType::Number,
            SoqlType::Double => ColumnType::Double,
            SoqlType::Boolean => ColumnType::Checkbox,
            SoqlType::FloatingTimestamp => ColumnType::CalendarDate,
            SoqlType::FixedTimestamp => ColumnType::Date,
            SoqlType::Point => ColumnType::Point,
            _ => return None,
        })
    }

    /// The PostgreSQL type of a bound value of this type.
    pub fn sql_type(self) -> &'static str {
        match self {
            SoqlType::Text | SoqlType::Null => "text",
            SoqlType::Number => "numeric",
            SoqlType::Double => "double precision",
            SoqlType::Boolean => "boolean",
            SoqlType::FloatingTimestamp => "timestamp",
            SoqlType::FixedTimestamp => "timestamptz",
            SoqlType::Point => "point",
            SoqlType::Location | SoqlType::Url => "jsonb",
            SoqlType::MultiPoint | SoqlType::MultiPolygon => "geometry",
            SoqlType::RowId => "bigint",
        }
    }

    /// Whether values of the type are numbers.
    pub fn is_numeric(self) -> bool {
        matches!(self, SoqlType::Number | SoqlType::Double)
    }

    /// Whether values of the type can be ordered and compared with `<`.
    pub fn is_ordered(self) -> bool {
        matches!(
            self,
            SoqlType::Text
                | SoqlType::Number
                | SoqlType::Double
                | SoqlType::Boolean
                | SoqlType::FloatingTimestamp
                | SoqlType::FixedTimestamp
                | SoqlType::RowId
                | SoqlType::Null
        )
    }

    /// Parses a cast target (`::number`).
    pub fn parse_cast(name: &str) -> Option<SoqlType> {
        Some(match name {
            "text" => SoqlType::Text,
            "number" => SoqlType::Number,
            "double" => SoqlType::Double,
            "boolean" | "checkbox" => SoqlType::Boolean,
            "floating_timestamp" | "calendar_date" => SoqlType::FloatingTimestamp,
            "fixed_timestamp" => SoqlType::FixedTimestamp,
            _ => return None,
        })
    }
}

/// Where output goes; a few types are written differently in CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// JSON (and GeoJSON).
    Json,
    /// CSV.
    Csv,
}

/// The SQL that turns a value of `ty` into the text the serializer writes, and how it is written.
pub fn output_expression(sql: &str, ty: SoqlType, target: Target) -> (String, ValueKind) {
    match ty {
        SoqlType::Text | SoqlType::Null => (format!("({sql})::text"), ValueKind::String),
        SoqlType::Number => (format!("trim_scale({sql})::text"), ValueKind::String),
        SoqlType::Double => (format!("({sql})::text"), ValueKind::Number),
        SoqlType::Boolean => (format!("({sql})::text"), ValueKind::Boolean),
        SoqlType::FloatingTimestamp => (
            format!(r#"to_char({sql}, 'YYYY-MM-DD"T"HH24:MI:SS.MS')"#),
            ValueKind::String,
        ),
        SoqlType::FixedTimestamp => (
            format!(r#"to_char(({sql}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"#),
            ValueKind::String,
        ),
        SoqlType::Point => (format!("({sql})::text"), ValueKind::Point),
        SoqlType::RowId => (format!("'row-' || ({sql})::text"), ValueKind::String),
        // GeoJSON in JSON, well-known text in CSV, as Socrata writes geometries.
        SoqlType::MultiPoint | SoqlType::MultiPolygon => match target {
            Target::Json => (format!("ST_AsGeoJSON({sql})"), ValueKind::Geometry),
            Target::Csv => (format!("ST_AsText({sql})"), ValueKind::String),
        },
        SoqlType::Url => match target {
            Target::Json => (format!("({sql})::text"), ValueKind::Json),
            Target::Csv => (
                format!(
                    "CASE WHEN ({sql}) IS NOT NULL THEN concat_ws(' ', ({sql})->>'url', '(' || (({sql})->>'description') || ')') END"
                ),
                ValueKind::String,
            ),
        },
        SoqlType::Location => match target {
            Target::Json => (format!("({sql})::text"), ValueKind::Json),
            Target::Csv => (
                format!(
                    "CASE WHEN ({sql}) IS NOT NULL THEN concat_ws(' ', (({sql})->>'human_address')::jsonb->>'address', '(' || (({sql})->>'latitude') || ', ' || (({sql})->>'longitude') || ')') END"
                ),
                ValueKind::String,
            ),
        },
    }
}
