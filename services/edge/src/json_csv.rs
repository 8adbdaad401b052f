//! Socrata's JSON rows as the CSV ingestion reads: an array of objects keyed by field name
//! becomes a header (every key any row has) and one line per row (ingestion matches columns by
//! name, so their order does not matter). Values are written as ingestion's coercion reads them:
//! strings as they are, numbers exactly as sent (never through a float), booleans as text, `null`
//! (or a missing key) empty, a GeoJSON point as its JSON, a location object as
//! `address (latitude, longitude)`, a url object as `url (description)`. `:deleted` passes through
//! as a column of its own. The keys and the CSV are bounded, so a small body cannot grow into a
//! large one.

use std::collections::{BTreeMap, HashSet};

use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Why a body is not rows ingestion can take.
#[derive(Debug, PartialEq, Eq)]
pub enum NotRows {
    /// Not a JSON array of objects; what is wrong.
    Malformed(String),
    /// The rows name more distinct fields than the limit.
    TooManyFields(usize),
    /// Written with every field, the rows take more than the limit's bytes.
    TooLarge(usize),
}

/// The CSV of a JSON body.
#[derive(Debug)]
pub struct Converted {
    pub csv: Vec<u8>,
    /// The line of the CSV each row starts on (the header is line 1), to name a row that does
    /// not fit by its place in the array.
    pub row_lines: Vec<u64>,
}

impl Converted {
    /// The 1-based place in the array of the row starting on `line` of the CSV.
    pub fn row_at(&self, line: u64) -> usize {
        self.row_lines.partition_point(|start| *start <= line)
    }
}

/// The CSV of `body`, a JSON array of objects with at most `max_fields` distinct keys, as long as
/// it takes at most `max_bytes`.
pub fn json_rows_to_csv(
    body: &[u8],
    max_fields: usize,
    max_bytes: usize,
) -> Result<Converted, NotRows> {
    let rows: Vec<&RawValue> = serde_json::from_slice(body).map_err(|error| {
        NotRows::Malformed(format!(
            "the body is not a JSON array of rows ({error}); send [{{\"field\": value, ...}}, ...] \
             or CSV with Content-Type: text/csv"
        ))
    })?;
    let mut objects: Vec<BTreeMap<&str, &RawValue>> = Vec::with_capacity(rows.len());
    let mut seen: HashSet<&str> = HashSet::new();
    let mut columns: Vec<&str> = Vec::new();
    for (index, row) in rows.into_iter().enumerate() {
        let object: BTreeMap<&str, &RawValue> = serde_json::from_str(row.get()).map_err(|_| {
            NotRows::Malformed(format!(
                "row {} is not an object of field names and values but `{}`",
                index + 1,
                opendata_limits::excerpt(row.get())
            ))
        })?;
        for key in object.keys() {
            if seen.insert(key) {
                if columns.len() == max_fields {
                    return Err(NotRows::TooManyFields(max_fields));
                }
                columns.push(key);
            }
        }
        objects.push(object);
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut row_lines = Vec::with_capacity(objects.len());
    // The header is line 1; each row starts after the lines written before it.
    let mut lines = 1u64;
    let too_large = || NotRows::TooLarge(max_bytes);
    let write = |writer: &mut csv::Writer<Vec<u8>>, cells: Vec<String>| {
        writer
            .write_record(&cells)
            .and_then(|()| writer.flush().map_err(csv::Error::from))
            .map_err(|error| {
                NotRows::Malformed(format!("the rows cannot be written as CSV: {error}"))
            })
    };
    write(
        &mut writer,
        columns.iter().map(|c| (*c).to_owned()).collect(),
    )?;
    let mut written = writer.get_ref().len();
    for object in &objects {
        row_lines.push(lines + 1);
        let cells = columns
            .iter()
            .map(|column| cell(object.get(column).copied()))
            .collect::<Result<Vec<_>, _>>()?;
        write(&mut writer, cells)?;
        let csv = writer.get_ref();
        if csv.len() > max_bytes {
            return Err(too_large());
        }
        lines += csv[written..].iter().filter(|b| **b == b'\n').count() as u64;
        written = csv.len();
    }
    let csv = writer.into_inner().map_err(|error| {
        NotRows::Malformed(format!("the rows cannot be written as CSV: {error}"))
    })?;
    Ok(Converted { csv, row_lines })
}

/// One cell: a value as ingestion's coercion reads it.
fn cell(value: Option<&RawValue>) -> Result<String, NotRows> {
    let Some(raw) = value else {
        return Ok(String::new());
    };
    let text = raw.get().trim();
    // Numbers keep the digits sent: parsing them would round through a float.
    if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Ok(text.to_owned());
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|error| NotRows::Malformed(format!("a value is not JSON: {error}")))?;
    Ok(match value {
        Value::Null => String::new(),
        Value::String(text) => text,
        Value::Bool(flag) => flag.to_string(),
        Value::Object(object) => object_cell(&object),
        other => other.to_string(),
    })
}

/// A location or url object as coercion reads them; anything else (a GeoJSON point) as JSON.
fn object_cell(object: &Map<String, Value>) -> String {
    let text = |key: &str| match object.get(key) {
        Some(Value::String(text)) => Some(text.clone()),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    };
    if let (Some(latitude), Some(longitude)) = (text("latitude"), text("longitude")) {
        // Socrata's human_address is itself a JSON string.
        let address = text("human_address")
            .and_then(|human| serde_json::from_str::<Map<String, Value>>(&human).ok())
            .and_then(|human| {
                human
                    .get("address")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        return format!("{address} ({latitude}, {longitude})")
            .trim()
            .to_owned();
    }
    if let Some(url) = text("url") {
        return match text("description").filter(|d| !d.is_empty()) {
            Some(description) => format!("{url} ({description})"),
            None => url,
        };
    }
    Value::Object(object.clone()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(body: &str) -> Converted {
        json_rows_to_csv(body.as_bytes(), 100, 1 << 20).unwrap()
    }

    fn csv(body: &str) -> String {
        String::from_utf8(convert(body).csv).unwrap()
    }

    #[test]
    fn rows_become_a_header_of_every_key_and_one_line_each() {
        assert_eq!(
            csv(r#"[{"town": "Avon", "amount": 1.5}, {"town": "Bristol", ":deleted": true}]"#),
            "amount,town,:deleted\n1.5,Avon,\n,Bristol,true\n"
        );
        assert!(convert("[]").row_lines.is_empty(), "no rows");
        assert_eq!(
            csv(r#"[{"note": "a, \"quoted\"\nline", "n": null}]"#),
            "n,note\n,\"a, \"\"quoted\"\"\nline\"\n"
        );
    }

    #[test]
    fn numbers_keep_every_digit_sent() {
        assert_eq!(
            csv(r#"[{"n": 12345678901234567890123.000000000000000001}, {"n": -0.10}]"#),
            "n\n12345678901234567890123.000000000000000001\n-0.10\n"
        );
    }

    #[test]
    fn rows_are_found_by_the_line_they_start_on() {
        let converted = convert(r#"[{"a": "x"}, {"a": "two\nlines"}, {"a": "y"}]"#);
        assert_eq!(converted.row_lines, [2, 3, 5]);
        assert_eq!(converted.row_at(2), 1);
        assert_eq!(converted.row_at(3), 2);
        assert_eq!(converted.row_at(5), 3);
    }

    #[test]
    fn socrata_objects_become_what_coercion_reads() {
        assert_eq!(
            csv(r#"[{"place": {"type": "Point", "coordinates": [-72.5, 41.7]}}]"#),
            "place\n\"{\"\"coordinates\"\":[-72.5,41.7],\"\"type\"\":\"\"Point\"\"}\"\n"
        );
        assert_eq!(
            csv(
                r#"[{"at": {"latitude": "41.7", "longitude": "-72.5", "human_address": "{\"address\": \"1 Main St\"}"}}]"#
            ),
            "at\n\"1 Main St (41.7, -72.5)\"\n"
        );
        assert_eq!(
            csv(r#"[{"link": {"url": "https://ct.gov", "description": "CT"}}]"#),
            "link\nhttps://ct.gov (CT)\n"
        );
    }

    #[test]
    fn what_is_not_rows_or_too_wide_or_too_large_is_named() {
        for (body, says) in [
            ("{\"town\": \"Avon\"}", "not a JSON array"),
            ("[{\"town\": \"Avon\"}, 3]", "row 2 is not an object"),
            ("[{\"town\": ", "not a JSON array"),
        ] {
            let Err(NotRows::Malformed(message)) = json_rows_to_csv(body.as_bytes(), 10, 1000)
            else {
                panic!("{body}");
            };
            assert!(message.contains(says), "{body}: {message}");
        }
        // Each row its own field: refused at the limit, before any CSV is written.
        let wide = format!(
            "[{}]",
            (0..20)
                .map(|i| format!("{{\"f{i}\": 1}}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(
            json_rows_to_csv(wide.as_bytes(), 10, 1 << 20).unwrap_err(),
            NotRows::TooManyFields(10)
        );
        assert_eq!(
            json_rows_to_csv(wide.as_bytes(), 20, 100).unwrap_err(),
            NotRows::TooLarge(100)
        );
    }
}
