//! Coercion of messy cell text into typed values, written straight into PostgreSQL's COPY text
//! format. Real files arrive with dates as ISO or `MM/DD/YYYY`, money with `$` and thousands
//! separators, WKT points, empty cells; each type accepts the forms publishers actually use and
//! rejects anything else with a reason, never guessing silently.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use crate::schema::ColumnType;

/// Longest number (in characters) accepted; PostgreSQL's numeric allows far more, but nothing real
/// needs it and it bounds the work per cell.
const MAX_NUMBER_CHARS: usize = 400;
/// Largest decimal exponent accepted in a number.
const MAX_EXPONENT: i32 = 300;

/// Appends the COPY text representation of `raw` as a value of `column_type` to `out`, or says why
/// it does not fit. On error nothing is appended.
pub fn coerce_into(column_type: ColumnType, raw: &str, out: &mut Vec<u8>) -> Result<(), String> {
    if column_type == ColumnType::Text {
        if raw.is_empty() {
            out.extend_from_slice(b"\\N");
            return Ok(());
        }
        if raw.as_bytes().contains(&0) {
            return Err("text contains a NUL character".to_owned());
        }
        write_copy_escaped(raw, out);
        return Ok(());
    }
    let value = raw.trim();
    if value.is_empty() {
        out.extend_from_slice(b"\\N");
        return Ok(());
    }
    if value.contains('\0') {
        return Err("the value contains a NUL character".to_owned());
    }
    match column_type {
        ColumnType::Text => unreachable!("handled above"),
        ColumnType::Number => normalize_number(value, out),
        ColumnType::Double => {
            let start = out.len();
            normalize_number(value, out)?;
            let text = std::str::from_utf8(&out[start..]).unwrap_or_default();
            let has_nonzero_digit = text
                .bytes()
                .take_while(|b| *b != b'e')
                .any(|b| (b'1'..=b'9').contains(&b));
            match text.parse::<f64>() {
                Ok(number) if number.is_finite() && (number != 0.0 || !has_nonzero_digit) => Ok(()),
                _ => {
                    out.truncate(start);
                    Err("number is out of range for a double".to_owned())
                }
            }
        }
        ColumnType::Checkbox => {
            out.push(if parse_checkbox(value)? { b't' } else { b'f' });
            Ok(())
        }
        ColumnType::CalendarDate => {
            let timestamp = parse_timestamp(value)?;
            if timestamp.offset_seconds.is_some() {
                return Err(
                    "has a time zone; a calendar date has none (use a fixed timestamp column)"
                        .to_owned(),
                );
            }
            write_naive(&timestamp.local, out);
            Ok(())
        }
        ColumnType::Date => {
            let timestamp = parse_timestamp(value)?;
            let utc = timestamp.local
                - chrono::Duration::seconds(i64::from(timestamp.offset_seconds.unwrap_or(0)));
            if !(1..=9999).contains(&chrono::Datelike::year(&utc)) {
                return Err("the instant falls outside the years 1 to 9999 in UTC".to_owned());
            }
            write_naive(&utc, out);
            out.extend_from_slice(b"+00");
            Ok(())
        }
        ColumnType::Point => {
            let (longitude, latitude) = parse_point(value)?;
            out.extend_from_slice(format!("({longitude},{latitude})").as_bytes());
            Ok(())
        }
        ColumnType::Location => {
            let json = parse_location(value)?;
            write_copy_escaped(&json, out);
            Ok(())
        }
        ColumnType::Url => {
            let json = parse_url(value)?;
            write_copy_escaped(&json, out);
            Ok(())
        }
    }
}

/// Appends text with COPY's escapes for backslash, tab, newline and carriage return.
pub fn write_copy_escaped(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    if !bytes
        .iter()
        .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
    {
        out.extend_from_slice(bytes);
        return;
    }
    for &byte in bytes {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(byte),
        }
    }
}

/// Normalizes a number: optional sign (or accounting parentheses), optional `$`, thousands
/// separators between digits, optional fraction and exponent, optional trailing `%`.
fn normalize_number(value: &str, out: &mut Vec<u8>) -> Result<(), String> {
    const NOT_A_NUMBER: &str = "not a number";
    if value.len() > MAX_NUMBER_CHARS {
        return Err(format!(
            "number is longer than {MAX_NUMBER_CHARS} characters"
        ));
    }
    let mut text = value;
    let mut negative = false;
    if let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        negative = true;
        text = inner.trim();
    }
    for _ in 0..2 {
        if let Some(rest) = text.strip_prefix('-') {
            if negative {
                return Err(NOT_A_NUMBER.to_owned());
            }
            negative = true;
            text = rest.trim_start();
        } else if let Some(rest) = text.strip_prefix('+') {
            text = rest.trim_start();
        }
        if let Some(rest) = text.strip_prefix('$') {
            text = rest.trim_start();
        }
    }
    text = text.strip_suffix('%').map(str::trim_end).unwrap_or(text);

    let start = out.len();
    if negative {
        out.push(b'-');
    }
    let bytes = text.as_bytes();
    let mut index = 0;
    let mut digits = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'0'..=b'9' => {
                out.push(bytes[index]);
                digits += 1;
            }
            b',' if digits > 0 && bytes.get(index + 1).is_some_and(u8::is_ascii_digit) => {}
            _ => break,
        }
        index += 1;
    }
    if bytes.get(index) == Some(&b'.') {
        out.push(b'.');
        index += 1;
        while let Some(&byte) = bytes.get(index).filter(|b| b.is_ascii_digit()) {
            out.push(byte);
            digits += 1;
            index += 1;
        }
    }
    if digits == 0 {
        out.truncate(start);
        return Err(NOT_A_NUMBER.to_owned());
    }
    if let Some(&(b'e' | b'E')) = bytes.get(index) {
        let exponent_text = &text[index + 1..];
        match exponent_text.parse::<i32>() {
            Ok(exponent) if exponent.abs() <= MAX_EXPONENT => {
                out.push(b'e');
                out.extend_from_slice(exponent.to_string().as_bytes());
                index = bytes.len();
            }
            _ => {
                out.truncate(start);
                return Err(NOT_A_NUMBER.to_owned());
            }
        }
    }
    if index != bytes.len() {
        out.truncate(start);
        return Err(NOT_A_NUMBER.to_owned());
    }
    Ok(())
}

fn parse_checkbox(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" | "on" | "x" | "checked" => Ok(true),
        "false" | "f" | "no" | "n" | "0" | "off" | "unchecked" => Ok(false),
        _ => Err("not a checkbox value: expected true/false, yes/no or 1/0".to_owned()),
    }
}

/// A timestamp as written, with its offset from UTC when it had one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParsedTimestamp {
    /// The date and time as written.
    pub local: NaiveDateTime,
    /// Seconds east of UTC, when the text carried a zone.
    pub offset_seconds: Option<i32>,
}

const DATE_FORMATS: &str = "not a date: expected YYYY-MM-DD or MM/DD/YYYY, optionally with a time";

/// Parses the date forms real files use: ISO 8601 (`2023-01-30`, `2023-01-30T14:05:00.123`,
/// with `Z` or `±HH:MM`), US (`01/30/2023`, `1/30/2023 2:05 PM`) and `2023/01/30`.
pub fn parse_timestamp(value: &str) -> Result<ParsedTimestamp, String> {
    let value = value.trim();
    let (date_part, rest) = match value.find(['T', ' ', 't']) {
        Some(index) => (&value[..index], value[index + 1..].trim()),
        None => (value, ""),
    };
    let date = parse_date(date_part).ok_or_else(|| DATE_FORMATS.to_owned())?;
    if rest.is_empty() {
        return Ok(ParsedTimestamp {
            local: date.and_time(NaiveTime::MIN),
            offset_seconds: None,
        });
    }
    let (time, offset_seconds) = parse_time(rest)?;
    Ok(ParsedTimestamp {
        local: date.and_time(time),
        offset_seconds,
    })
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    let numbers = |separator: char| -> Option<(u32, u32, u32, usize)> {
        let mut parts = text.split(separator);
        let first = parts.next()?;
        let second = parts.next()?;
        let third = parts.next()?;
        if parts.next().is_some()
            || [first, second, third]
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        Some((
            first.parse().ok()?,
            second.parse().ok()?,
            third.parse().ok()?,
            first.len(),
        ))
    };
    let (year, month, day) = if let Some((year, month, day, year_len)) = numbers('-') {
        (year_len == 4).then_some((year, month, day))?
    } else if let Some((first, second, third, first_len)) = numbers('/') {
        if first_len == 4 {
            (first, second, third)
        } else if text.rsplit('/').next().is_some_and(|year| year.len() == 4) {
            (third, first, second)
        } else {
            return None;
        }
    } else {
        return None;
    };
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day).filter(|date| {
        use chrono::Datelike;
        (1..=9999).contains(&date.year())
    })
}

fn parse_time(text: &str) -> Result<(NaiveTime, Option<i32>), String> {
    let bad_time =
        || "not a time: expected HH:MM[:SS[.fff]] with an optional AM/PM or zone".to_owned();
    let mut rest = text.trim();
    let mut meridiem = None;
    for (suffix, is_pm) in [("am", false), ("pm", true), ("a.m.", false), ("p.m.", true)] {
        if rest
            .len()
            .checked_sub(suffix.len())
            .and_then(|start| rest.get(start..))
            .is_some_and(|end| end.eq_ignore_ascii_case(suffix))
        {
            meridiem = Some(is_pm);
            rest = rest[..rest.len() - suffix.len()].trim_end();
            break;
        }
    }
    let mut offset_seconds = None;
    if meridiem.is_none() {
        if let Some(stripped) = rest.strip_suffix(['Z', 'z']) {
            offset_seconds = Some(0);
            rest = stripped.trim_end();
        } else if let Some(index) = rest.rfind(['+', '-']) {
            let zone = &rest[index..];
            offset_seconds = Some(parse_offset(zone).ok_or_else(bad_time)?);
            rest = rest[..index].trim_end();
        }
    }
    let (clock, fraction) = match rest.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (rest, None),
    };
    let mut parts = clock.split(':');
    let hour: u32 = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(bad_time)?;
    let minute: u32 = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(bad_time)?;
    let second: u32 = match parts.next() {
        Some(part) => part.parse().map_err(|_| bad_time())?,
        None => 0,
    };
    if parts.next().is_some() {
        return Err(bad_time());
    }
    let micros = match fraction {
        Some(digits)
            if !digits.is_empty()
                && digits.len() <= 9
                && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            let padded = format!("{digits:0<6}");
            padded[..6].parse::<u32>().map_err(|_| bad_time())?
        }
        Some(_) => return Err(bad_time()),
        None => 0,
    };
    let hour = match meridiem {
        Some(is_pm) if (1..=12).contains(&hour) => hour % 12 + if is_pm { 12 } else { 0 },
        Some(_) => return Err(bad_time()),
        None => hour,
    };
    let time = NaiveTime::from_hms_micro_opt(hour, minute, second, micros).ok_or_else(bad_time)?;
    Ok((time, offset_seconds))
}

fn parse_offset(zone: &str) -> Option<i32> {
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    (hours <= 14 && minutes < 60).then_some(sign * (hours * 3600 + minutes * 60))
}

fn write_naive(timestamp: &NaiveDateTime, out: &mut Vec<u8>) {
    use std::io::Write as _;
    let _ = write!(out, "{}", timestamp.format("%Y-%m-%d %H:%M:%S%.f"));
}

/// Parses a point: WKT `POINT (lon lat)`, Socrata's `(lat, lon)`, or GeoJSON. Returns
/// (longitude, latitude).
pub fn parse_point(value: &str) -> Result<(f64, f64), String> {
    const POINT_FORMATS: &str =
        "not a point: expected POINT (longitude latitude), (latitude, longitude) or GeoJSON";
    let value = value.trim();
    let wkt = value
        .get(..5)
        .filter(|keyword| keyword.eq_ignore_ascii_case("point"))
        .and_then(|_| value.get(5..));
    let (longitude, latitude) = if let Some(wkt) = wkt {
        let inner = wkt
            .trim()
            .strip_prefix('(')
            .and_then(|v| v.strip_suffix(')'))
            .ok_or_else(|| POINT_FORMATS.to_owned())?;
        let mut numbers = inner.split_whitespace();
        let longitude = numbers.next().and_then(|n| n.parse::<f64>().ok());
        let latitude = numbers.next().and_then(|n| n.parse::<f64>().ok());
        match (longitude, latitude, numbers.next()) {
            (Some(longitude), Some(latitude), None) => (longitude, latitude),
            _ => return Err(POINT_FORMATS.to_owned()),
        }
    } else if let Some(inner) = value.strip_prefix('(').and_then(|v| v.strip_suffix(')')) {
        let (latitude, longitude) = inner
            .split_once(',')
            .ok_or_else(|| POINT_FORMATS.to_owned())?;
        match (
            latitude.trim().parse::<f64>(),
            longitude.trim().parse::<f64>(),
        ) {
            (Ok(latitude), Ok(longitude)) => (longitude, latitude),
            _ => return Err(POINT_FORMATS.to_owned()),
        }
    } else if value.starts_with('{') {
        let json: serde_json::Value =
            serde_json::from_str(value).map_err(|_| POINT_FORMATS.to_owned())?;
        let coordinates = json
            .get("coordinates")
            .and_then(|c| c.as_array())
            .filter(|c| c.len() == 2 && json.get("type").and_then(|t| t.as_str()) == Some("Point"))
            .ok_or_else(|| POINT_FORMATS.to_owned())?;
        match (coordinates[0].as_f64(), coordinates[1].as_f64()) {
            (Some(longitude), Some(latitude)) => (longitude, latitude),
            _ => return Err(POINT_FORMATS.to_owned()),
        }
    } else {
        return Err(POINT_FORMATS.to_owned());
    };
    if !(-180.0..=180.0).contains(&longitude) || !(-90.0..=90.0).contains(&latitude) {
        return Err(format!(
            "point out of range: longitude {longitude}, latitude {latitude}"
        ));
    }
    Ok((longitude, latitude))
}

/// Parses a location (a point with an optional human address before it) into Socrata's JSON.
fn parse_location(value: &str) -> Result<String, String> {
    let (address, point_text) = match value.rfind('(') {
        Some(index) if !value[..index].trim().is_empty() && value.ends_with(')') => {
            (value[..index].trim(), &value[index..])
        }
        _ => ("", value),
    };
    let (longitude, latitude) = parse_point(point_text)?;
    let mut json = format!(r#"{{"latitude":"{latitude}","longitude":"{longitude}""#);
    if !address.is_empty() {
        let human = serde_json::json!({"address": address.replace('\n', ", "), "city": "", "state": "", "zip": ""});
        json.push_str(&format!(
            r#","human_address":{}"#,
            json_string(&human.to_string())
        ));
    }
    json.push('}');
    Ok(json)
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Parses a URL, optionally with a description: `https://x`, `Description (https://x)` or
/// `https://x (Description)`.
fn parse_url(value: &str) -> Result<String, String> {
    let is_url = |text: &str| {
        let lower = text.to_ascii_lowercase();
        ["http://", "https://", "ftp://", "mailto:"]
            .iter()
            .any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len())
            && !text.contains(char::is_whitespace)
    };
    let (url, description) = if is_url(value) {
        (value, None)
    } else if let Some((head, tail)) = value.strip_suffix(')').and_then(|v| v.rsplit_once('(')) {
        let (head, tail) = (head.trim(), tail.trim());
        if is_url(tail) {
            (tail, Some(head))
        } else if is_url(head) {
            (head, Some(tail))
        } else {
            return Err(
                "not a url: expected http(s)://..., optionally with a description".to_owned(),
            );
        }
    } else {
        return Err("not a url: expected http(s)://..., optionally with a description".to_owned());
    };
    Ok(match description.filter(|d| !d.is_empty()) {
        Some(description) => format!(
            r#"{{"url":{},"description":{}}}"#,
            json_string(url),
            json_string(description)
        ),
        None => format!(r#"{{"url":{}}}"#, json_string(url)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coerce(column_type: ColumnType, raw: &str) -> Result<String, String> {
        let mut out = b"prefix|".to_vec();
        let result = coerce_into(column_type, raw, &mut out);
        let text = String::from_utf8(out).unwrap();
        match result {
            Ok(()) => Ok(text["prefix|".len()..].to_owned()),
            Err(reason) => {
                assert_eq!(text, "prefix|", "nothing is written on error");
                Err(reason)
            }
        }
    }

    #[test]
    fn numbers_accept_money_separators_and_percent() {
        assert_eq!(
            coerce(ColumnType::Number, "232000.00").unwrap(),
            "232000.00"
        );
        assert_eq!(
            coerce(ColumnType::Number, "$1,234,567.89").unwrap(),
            "1234567.89"
        );
        assert_eq!(coerce(ColumnType::Number, " -$16,000 ").unwrap(), "-16000");
        assert_eq!(coerce(ColumnType::Number, "$-5").unwrap(), "-5");
        assert_eq!(
            coerce(ColumnType::Number, "(1,200.50)").unwrap(),
            "-1200.50"
        );
        assert_eq!(coerce(ColumnType::Number, "66%").unwrap(), "66");
        assert_eq!(coerce(ColumnType::Number, ".5").unwrap(), ".5");
        assert_eq!(coerce(ColumnType::Number, "1.5E3").unwrap(), "1.5e3");
        assert_eq!(coerce(ColumnType::Number, "").unwrap(), "\\N");
        assert_eq!(coerce(ColumnType::Number, "   ").unwrap(), "\\N");
    }

    #[test]
    fn numbers_reject_what_is_not_a_number() {
        for bad in [
            "n/a", "12abc", "1,2,", ",5", "--5", "1e9999", "$", "1.2.3", "NaN", "1 000",
        ] {
            assert_eq!(
                coerce(ColumnType::Number, bad),
                Err("not a number".to_owned()),
                "{bad}"
            );
        }
    }

    #[test]
    fn doubles_must_be_finite() {
        assert_eq!(coerce(ColumnType::Double, "0.5992").unwrap(), "0.5992");
        assert!(coerce(ColumnType::Double, "1e300").is_ok());
        assert_eq!(
            coerce(ColumnType::Double, &format!("1{}", "0".repeat(320))),
            Err("number is out of range for a double".to_owned())
        );
    }

    #[test]
    fn values_postgresql_would_refuse_are_rejected_here() {
        assert!(coerce(ColumnType::Url, "http://x/\u{0}").is_err());
        assert!(coerce(ColumnType::Location, "A\u{0} (1, 2)").is_err());
        assert_eq!(
            coerce(ColumnType::Double, "0.000000000000000000000001e-300"),
            Err("number is out of range for a double".to_owned())
        );
        assert_eq!(coerce(ColumnType::Double, "0.000").unwrap(), "0.000");
        assert!(
            coerce(ColumnType::Date, "0001-01-01T00:00:00+05:00")
                .unwrap_err()
                .contains("years 1 to 9999")
        );
        assert!(coerce(ColumnType::Date, "9999-12-31T23:00:00-05:00").is_err());
    }

    #[test]
    fn checkboxes_accept_common_spellings() {
        assert_eq!(coerce(ColumnType::Checkbox, "TRUE").unwrap(), "t");
        assert_eq!(coerce(ColumnType::Checkbox, "no").unwrap(), "f");
        assert_eq!(coerce(ColumnType::Checkbox, "0").unwrap(), "f");
        assert!(coerce(ColumnType::Checkbox, "maybe").is_err());
    }

    #[test]
    fn calendar_dates_accept_iso_and_us_forms() {
        let cases = [
            ("01/30/2023", "2023-01-30 00:00:00"),
            ("1/5/2023", "2023-01-05 00:00:00"),
            ("2023-01-30", "2023-01-30 00:00:00"),
            ("2003-10-06T00:00:00", "2003-10-06 00:00:00"),
            ("2014-10-13T14:05:09.123", "2014-10-13 14:05:09.123"),
            ("2023/01/30 14:05", "2023-01-30 14:05:00"),
            ("01/30/2023 2:05 PM", "2023-01-30 14:05:00"),
            ("01/30/2023 12:00:00 AM", "2023-01-30 00:00:00"),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                coerce(ColumnType::CalendarDate, raw).unwrap(),
                expected,
                "{raw}"
            );
        }
    }

    #[test]
    fn calendar_dates_reject_impossible_or_ambiguous_dates() {
        for bad in [
            "02/30/2023",
            "2023-13-01",
            "1/5/23",
            "yesterday",
            "2023-01-30T25:00",
            "13:00 PM",
        ] {
            assert!(coerce(ColumnType::CalendarDate, bad).is_err(), "{bad}");
        }
        assert!(
            coerce(ColumnType::CalendarDate, "2014-10-14T07:00:00Z")
                .unwrap_err()
                .contains("time zone")
        );
    }

    #[test]
    fn fixed_timestamps_are_converted_to_utc() {
        assert_eq!(
            coerce(ColumnType::Date, "2014-10-14T07:00:00.000Z").unwrap(),
            "2014-10-14 07:00:00+00"
        );
        assert_eq!(
            coerce(ColumnType::Date, "2014-10-14T03:00:00-04:00").unwrap(),
            "2014-10-14 07:00:00+00"
        );
        assert_eq!(
            coerce(ColumnType::Date, "2014-10-14 12:30:00+0530").unwrap(),
            "2014-10-14 07:00:00+00"
        );
        assert_eq!(
            coerce(ColumnType::Date, "10/14/2014").unwrap(),
            "2014-10-14 00:00:00+00"
        );
    }

    #[test]
    fn multibyte_text_never_splits_a_character() {
        // Both used to slice strings at byte offsets inside a character, and panicked.
        assert!(parse_point("aꟕ®").is_err());
        assert!(parse_point("poinꟕ(1 2)").is_err());
        assert!(parse_timestamp("2023-01-30 12:00 ꟕ").is_err());
        assert!(parse_timestamp("2023-01-30 1:05 ®m").is_err());
    }

    #[test]
    fn points_accept_wkt_socrata_and_geojson() {
        assert_eq!(
            coerce(ColumnType::Point, "POINT (-72.343628962 41.728431984)").unwrap(),
            "(-72.343628962,41.728431984)"
        );
        assert_eq!(
            coerce(ColumnType::Point, "point(-72.5 41)").unwrap(),
            "(-72.5,41)"
        );
        assert_eq!(
            coerce(ColumnType::Point, "(41.5, -72.25)").unwrap(),
            "(-72.25,41.5)"
        );
        assert_eq!(
            coerce(
                ColumnType::Point,
                r#"{"type":"Point","coordinates":[-72.1,41.2]}"#
            )
            .unwrap(),
            "(-72.1,41.2)"
        );
        assert!(
            coerce(ColumnType::Point, "POINT (-200 41)")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(coerce(ColumnType::Point, "POINT (1)").is_err());
        assert!(coerce(ColumnType::Point, "Hartford").is_err());
    }

    #[test]
    fn locations_keep_the_address() {
        let json = coerce(
            ColumnType::Location,
            "83 South King Street (47.59, -122.33)",
        )
        .unwrap()
        .replace("\\\\", "\\");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["latitude"], "47.59");
        assert_eq!(value["longitude"], "-122.33");
        assert!(
            value["human_address"]
                .as_str()
                .unwrap()
                .contains("83 South King Street")
        );
    }

    #[test]
    fn urls_take_an_optional_description() {
        assert_eq!(
            coerce(ColumnType::Url, "http://www.socrata.com").unwrap(),
            r#"{"url":"http://www.socrata.com"}"#
        );
        assert_eq!(
            coerce(ColumnType::Url, "Socrata (http://www.socrata.com)").unwrap(),
            r#"{"url":"http://www.socrata.com","description":"Socrata"}"#
        );
        assert_eq!(
            coerce(ColumnType::Url, "http://www.socrata.com (Socrata)").unwrap(),
            r#"{"url":"http://www.socrata.com","description":"Socrata"}"#
        );
        assert!(coerce(ColumnType::Url, "www.socrata.com").is_err());
    }

    #[test]
    fn text_is_escaped_for_copy_and_empty_is_null() {
        assert_eq!(
            coerce(ColumnType::Text, "a\tb\\c\nd").unwrap(),
            "a\\tb\\\\c\\nd"
        );
        assert_eq!(coerce(ColumnType::Text, "").unwrap(), "\\N");
        assert_eq!(coerce(ColumnType::Text, "  ").unwrap(), "  ");
        assert!(coerce(ColumnType::Text, "a\0b").is_err());
    }
}
