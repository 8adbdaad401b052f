//! Socrata's JSON rows as the CSV ingestion reads: an array of objects keyed by field name
//! becomes a header (every key any row has: each row's in name order, new ones after) and one line
//! per row (ingestion matches columns by name, so the order does not matter).
//! Values are written as ingestion's coercion reads them: strings as they are, numbers and
//! booleans as text, `null` (or a missing key) empty, a GeoJSON point as its JSON, a location
//! object as `address (latitude, longitude)`, a url object as `url (description)`. `:deleted`
//! passes through as a column of its own.

use serde_json::{Map, Value};

/// Why a body is not rows.
#[derive(Debug, PartialEq, Eq)]
pub struct NotRows(pub String);

/// The CSV of `body`, a JSON array of objects, and how many rows it has.
pub fn json_rows_to_csv(body: &[u8]) -> Result<(Vec<u8>, usize), NotRows> {
    let rows: Vec<Value> = serde_json::from_slice(body).map_err(|error| {
        NotRows(format!(
            "the body is not a JSON array of rows ({error}); send [{{\"field\": value, ...}}, ...] \
             or CSV with Content-Type: text/csv"
        ))
    })?;
    let mut objects = Vec::with_capacity(rows.len());
    for (index, row) in rows.into_iter().enumerate() {
        match row {
            Value::Object(object) => objects.push(object),
            other => {
                return Err(NotRows(format!(
                    "row {} is not an object of field names and values but {}",
                    index + 1,
                    kind(&other)
                )));
            }
        }
    }
    let mut columns: Vec<String> = Vec::new();
    for object in &objects {
        for key in object.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    let written = writer.write_record(&columns).and_then(|()| {
        for object in &objects {
            writer.write_record(columns.iter().map(|column| cell(object, column)))?;
        }
        writer.flush().map_err(csv::Error::from)
    });
    written.map_err(|error| NotRows(format!("the rows cannot be written as CSV: {error}")))?;
    let csv = writer
        .into_inner()
        .map_err(|error| NotRows(format!("the rows cannot be written as CSV: {error}")))?;
    Ok((csv, objects.len()))
}

/// The cell of `column` in `row`.
fn cell(row: &Map<String, Value>, column: &str) -> String {
    match row.get(column) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Bool(flag)) => flag.to_string(),
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::Object(object)) => object_cell(object),
        Some(other) => other.to_string(),
    }
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

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(body: &str) -> String {
        String::from_utf8(json_rows_to_csv(body.as_bytes()).unwrap().0).unwrap()
    }

    #[test]
    fn rows_become_a_header_of_every_key_and_one_line_each() {
        assert_eq!(
            csv(r#"[{"town": "Avon", "amount": 1.5}, {"town": "Bristol", ":deleted": true}]"#),
            "amount,town,:deleted\n1.5,Avon,\n,Bristol,true\n"
        );
        assert_eq!(json_rows_to_csv(b"[]").unwrap().1, 0, "no rows");
        assert_eq!(
            csv(r#"[{"note": "a, \"quoted\"\nline", "n": null}]"#),
            "n,note\n,\"a, \"\"quoted\"\"\nline\"\n"
        );
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
    fn what_is_not_rows_is_named() {
        for (body, says) in [
            ("{\"town\": \"Avon\"}", "not a JSON array"),
            ("[{\"town\": \"Avon\"}, 3]", "row 2 is not an object"),
            ("[{\"town\": ", "not a JSON array"),
        ] {
            let NotRows(message) = json_rows_to_csv(body.as_bytes()).unwrap_err();
            assert!(message.contains(says), "{body}: {message}");
        }
    }
}
