//! Serialization of query results into Socrata's formats, row by row into a byte buffer: SODA 2.1
//! JSON (objects keyed by field name, nulls omitted, numbers as strings, doubles as numbers,
//! floating timestamps `2014-10-13T00:00:00.000`, points as GeoJSON, url and location as objects)
//! and CSV (a header row of field names, every non-null cell quoted, null as an empty cell).
//!
//! Queries hand over each value as text already formatted by PostgreSQL; the [`ValueKind`] of the
//! output column says how to write it.

/// How an output column's text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A JSON string.
    String,
    /// A JSON number literal (doubles); non-finite values become strings.
    Number,
    /// `true`/`false`.
    Boolean,
    /// Text that is already JSON (url, location objects).
    Json,
    /// PostgreSQL point text `(x,y)`: GeoJSON in JSON, WKT in CSV.
    Point,
    /// A GeoJSON geometry, already JSON (what PostGIS's `ST_AsGeoJSON` writes).
    Geometry,
}

/// One output column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputColumn {
    /// Output field name.
    pub name: String,
    /// SoQL type for `X-SODA2-Types`.
    pub soql_type: &'static str,
    /// How values are written.
    pub kind: ValueKind,
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// SODA 2.1 JSON.
    Json,
    /// CSV.
    Csv,
    /// GeoJSON: a FeatureCollection whose geometry is the first point or geometry column and
    /// whose properties are the other columns.
    GeoJson,
}

impl Format {
    /// The file extension that names it (`json`, `csv`, `geojson`).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::GeoJson => "geojson",
        }
    }
}

/// Writes rows of one query into a buffer.
pub struct RowSerializer {
    format: Format,
    columns: Vec<OutputColumn>,
    rows: u64,
}

impl RowSerializer {
    /// A serializer for rows with these columns.
    pub fn new(format: Format, columns: Vec<OutputColumn>) -> Self {
        RowSerializer {
            format,
            columns,
            rows: 0,
        }
    }

    /// The output columns.
    pub fn columns(&self) -> &[OutputColumn] {
        &self.columns
    }

    /// Writes what comes before the first row (optionally a UTF-8 byte order mark).
    pub fn begin(&self, bom: bool, out: &mut Vec<u8>) {
        if bom {
            out.extend_from_slice("\u{feff}".as_bytes());
        }
        match self.format {
            Format::Json => out.push(b'['),
            Format::GeoJson => {
                out.extend_from_slice(br#"{"type":"FeatureCollection","features":["#)
            }
            Format::Csv => {
                for (index, column) in self.columns.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    write_csv_cell(&column.name, out);
                }
                out.push(b'\n');
            }
        }
    }

    /// Writes one row; `values[i]` is column `i`'s text or `None` for null.
    pub fn row(&mut self, values: &[Option<&str>], out: &mut Vec<u8>) {
        match self.format {
            Format::Json => self.json_row(values, out),
            Format::Csv => self.csv_row(values, out),
            Format::GeoJson => self.feature(values, out),
        }
        self.rows += 1;
    }

    /// Writes what comes after the last row.
    pub fn end(&self, out: &mut Vec<u8>) {
        match self.format {
            Format::Json => out.extend_from_slice(b"]\n"),
            Format::GeoJson => out.extend_from_slice(
                br#"],"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}}}"#,
            ),
            Format::Csv => {}
        }
    }

    fn json_row(&self, values: &[Option<&str>], out: &mut Vec<u8>) {
        if self.rows > 0 {
            out.extend_from_slice(b"\n,");
        }
        self.json_object(values, None, out);
    }

    /// `{"name":value,...}` of the non-null values, leaving out column `skip`.
    fn json_object(&self, values: &[Option<&str>], skip: Option<usize>, out: &mut Vec<u8>) {
        out.push(b'{');
        let mut first = true;
        for (index, (column, value)) in self.columns.iter().zip(values).enumerate() {
            if Some(index) == skip {
                continue;
            }
            let Some(value) = value else { continue };
            if !first {
                out.push(b',');
            }
            first = false;
            write_json_string(&column.name, out);
            out.push(b':');
            write_json_value(column.kind, value, out);
        }
        out.push(b'}');
    }

    fn feature(&self, values: &[Option<&str>], out: &mut Vec<u8>) {
        if self.rows > 0 {
            out.extend_from_slice(b"\n,");
        }
        let geometry = self
            .columns
            .iter()
            .position(|c| matches!(c.kind, ValueKind::Point | ValueKind::Geometry));
        out.extend_from_slice(br#"{"type":"Feature","geometry":"#);
        match geometry.and_then(|index| Some((self.columns[index].kind, values[index]?))) {
            Some((kind, shape)) => write_json_value(kind, shape, out),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(br#","properties":"#);
        self.json_object(values, geometry, out);
        out.push(b'}');
    }

    fn csv_row(&self, values: &[Option<&str>], out: &mut Vec<u8>) {
        for (index, (column, value)) in self.columns.iter().zip(values).enumerate() {
            if index > 0 {
                out.push(b',');
            }
            let Some(value) = value else { continue };
            match column.kind {
                ValueKind::Point => match parse_pg_point(value) {
                    Some((x, y)) => write_csv_cell(&format!("POINT ({x} {y})"), out),
                    None => write_csv_cell(value, out),
                },
                _ => write_csv_cell(value, out),
            }
        }
        out.push(b'\n');
    }
}

fn write_json_value(kind: ValueKind, value: &str, out: &mut Vec<u8>) {
    match kind {
        ValueKind::String => write_json_string(value, out),
        ValueKind::Number => {
            if value.parse::<f64>().is_ok_and(f64::is_finite) {
                out.extend_from_slice(value.as_bytes());
            } else {
                write_json_string(value, out);
            }
        }
        ValueKind::Boolean => out.extend_from_slice(if value == "true" || value == "t" {
            b"true"
        } else {
            b"false"
        }),
        ValueKind::Json | ValueKind::Geometry => out.extend_from_slice(value.as_bytes()),
        ValueKind::Point => match parse_pg_point(value) {
            Some((x, y)) => {
                out.extend_from_slice(br#"{"type":"Point","coordinates":["#);
                out.extend_from_slice(x.as_bytes());
                out.push(b',');
                out.extend_from_slice(y.as_bytes());
                out.extend_from_slice(b"]}");
            }
            None => write_json_string(value, out),
        },
    }
}

/// Splits PostgreSQL's point text `(x,y)` into its coordinates.
fn parse_pg_point(value: &str) -> Option<(&str, &str)> {
    let inner = value.strip_prefix('(')?.strip_suffix(')')?;
    inner.split_once(',')
}

/// Writes a JSON string literal.
pub fn write_json_string(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut run_start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[run_start..index]);
                out.extend_from_slice(format!("\\u{byte:04x}").as_bytes());
                run_start = index + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[run_start..index]);
        out.extend_from_slice(escape);
        run_start = index + 1;
    }
    out.extend_from_slice(&bytes[run_start..]);
    out.push(b'"');
}

/// Writes a quoted CSV cell.
fn write_csv_cell(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    if text.contains('"') {
        out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
    } else {
        out.extend_from_slice(text.as_bytes());
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, soql_type: &'static str, kind: ValueKind) -> OutputColumn {
        OutputColumn {
            name: name.into(),
            soql_type,
            kind,
        }
    }

    fn columns() -> Vec<OutputColumn> {
        vec![
            column("town", "text", ValueKind::String),
            column("amount", "number", ValueKind::Number),
            column("flag", "boolean", ValueKind::Boolean),
            column("location", "point", ValueKind::Point),
            column("site", "url", ValueKind::Json),
        ]
    }

    #[test]
    fn json_rows_follow_soda() {
        let mut serializer = RowSerializer::new(Format::Json, columns());
        let mut out = Vec::new();
        serializer.begin(false, &mut out);
        serializer.row(
            &[
                Some("New \"Haven\""),
                Some("0.5"),
                Some("true"),
                Some("(-72.5,41.25)"),
                Some(r#"{"url": "http://x"}"#),
            ],
            &mut out,
        );
        serializer.row(&[Some("Avon"), None, Some("false"), None, None], &mut out);
        serializer.end(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[{\"town\":\"New \\\"Haven\\\"\",\"amount\":0.5,\"flag\":true,\"location\":{\"type\":\"Point\",\"coordinates\":[-72.5,41.25]},\"site\":{\"url\": \"http://x\"}}\n,{\"town\":\"Avon\",\"flag\":false}]\n"
        );
    }

    #[test]
    fn csv_quotes_every_non_null_cell() {
        let mut serializer = RowSerializer::new(Format::Csv, columns());
        let mut out = Vec::new();
        serializer.begin(true, &mut out);
        serializer.row(
            &[
                Some("a \"b\""),
                None,
                Some("true"),
                Some("(-72.5,41.25)"),
                None,
            ],
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\u{feff}\"town\",\"amount\",\"flag\",\"location\",\"site\"\n\"a \"\"b\"\"\",,\"true\",\"POINT (-72.5 41.25)\",\n"
        );
    }

    #[test]
    fn geojson_features_take_the_first_point_as_geometry() {
        let mut serializer = RowSerializer::new(Format::GeoJson, columns());
        let mut out = Vec::new();
        serializer.begin(false, &mut out);
        serializer.row(
            &[Some("Avon"), Some("1"), None, Some("(-72.5,41.25)"), None],
            &mut out,
        );
        serializer.row(&[Some("Nowhere"), None, None, None, None], &mut out);
        serializer.end(&mut out);
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["type"], "FeatureCollection");
        assert_eq!(value["features"][0]["geometry"]["coordinates"][0], -72.5);
        assert_eq!(
            value["features"][0]["properties"],
            serde_json::json!({"town": "Avon", "amount": 1})
        );
        assert_eq!(value["features"][1]["geometry"], serde_json::Value::Null);
    }

    #[test]
    fn geojson_features_take_a_postgis_geometry_as_is() {
        let columns = vec![
            column("town", "text", ValueKind::String),
            column("hull", "multipolygon", ValueKind::Geometry),
        ];
        let hull = r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]]]}"#;
        for (format, geometry) in [
            (Format::GeoJson, "/features/0/geometry"),
            (Format::Json, "/0/hull"),
        ] {
            let mut serializer = RowSerializer::new(format, columns.clone());
            let mut out = Vec::new();
            serializer.begin(false, &mut out);
            serializer.row(&[Some("Avon"), Some(hull)], &mut out);
            serializer.end(&mut out);
            let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(
                value.pointer(geometry).unwrap()["type"],
                "MultiPolygon",
                "{format:?}"
            );
        }
    }

    #[test]
    fn empty_results_are_valid_json() {
        let serializer = RowSerializer::new(Format::Json, columns());
        let mut out = Vec::new();
        serializer.begin(false, &mut out);
        serializer.end(&mut out);
        assert_eq!(out, b"[]\n");
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut out = Vec::new();
        write_json_string("a\u{1}b\tc", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "\"a\\u0001b\\tc\"");
    }
}
