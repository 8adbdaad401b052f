//! Geography for SoQL's spatial functions: great-circle distance in SQL, WKT polygons parsed
//! (with their holes) into PostgreSQL polygon literals, and WKT shapes for PostGIS read and
//! written back canonically, so PostGIS never parses a caller's text.

use crate::error::{Position, SoqlError};

/// Mean Earth radius in metres (IUGG).
const EARTH_RADIUS_METERS: f64 = 6_371_008.8;

/// Great-circle distance in metres between two point expressions.
pub(crate) fn haversine(a: &str, b: &str) -> String {
    format!(
        "(2 * {EARTH_RADIUS_METERS} * asin(sqrt(power(sin(radians((({b})[1] - ({a})[1]) / 2)), 2) + cos(radians(({a})[1])) * cos(radians(({b})[1])) * power(sin(radians((({b})[0] - ({a})[0]) / 2)), 2))))"
    )
}

/// A ring of (x, y) vertices.
type Ring = Vec<(f64, f64)>;
/// A polygon: its outline ring, then its holes.
pub(crate) type Polygon = Vec<Ring>;

/// Polygons of a WKT `POLYGON` or `MULTIPOLYGON`, each as rings of (x, y); the first ring of each
/// polygon is its outline, the others its holes.
pub(crate) fn parse_polygons(text: &str, position: Position) -> Result<Vec<Polygon>, SoqlError> {
    let bad = || SoqlError::mismatch(position, "expected a WKT POLYGON or MULTIPOLYGON string");
    let trimmed = text.trim();
    let upper = trimmed.to_ascii_uppercase();
    let body = if let Some(rest) = upper.strip_prefix("MULTIPOLYGON") {
        trimmed[trimmed.len() - rest.len()..].trim()
    } else if let Some(rest) = upper.strip_prefix("POLYGON") {
        let rest = trimmed[trimmed.len() - rest.len()..].trim();
        return Ok(vec![parse_rings(rest).ok_or_else(bad)?]);
    } else {
        return Err(bad());
    };
    let inner = body
        .strip_prefix('(')
        .and_then(|b| b.strip_suffix(')'))
        .ok_or_else(bad)?;
    let mut polygons = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (index, c) in inner.char_indices() {
        match c {
            '(' => {
                if depth == 0 {
                    start = index;
                }
                depth += 1;
            }
            ')' => {
                if depth == 0 {
                    return Err(bad());
                }
                depth -= 1;
                if depth == 0 {
                    polygons.push(parse_rings(&inner[start..=index]).ok_or_else(bad)?);
                }
            }
            _ => {}
        }
    }
    if polygons.is_empty() || depth != 0 {
        return Err(bad());
    }
    Ok(polygons)
}

fn parse_rings(text: &str) -> Option<Polygon> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    inner
        .split(')')
        .map(|ring| {
            ring.trim()
                .trim_start_matches(',')
                .trim()
                .trim_start_matches('(')
        })
        .filter(|ring| !ring.is_empty())
        .map(|ring| {
            ring.split(',')
                .map(longitude_latitude)
                .collect::<Option<Vec<_>>>()
                .filter(|points| points.len() >= 3)
        })
        .collect::<Option<Polygon>>()
        .filter(|rings| !rings.is_empty())
}

/// A WKT `POINT`, `LINESTRING`, `POLYGON` or `MULTIPOLYGON`, written back canonically, and its
/// vertices.
pub(crate) fn parse_shape(text: &str, position: Position) -> Result<(String, usize), SoqlError> {
    let bad = || {
        SoqlError::mismatch(
            position,
            "expected a WKT POINT, LINESTRING, POLYGON or MULTIPOLYGON string",
        )
    };
    let trimmed = text.trim();
    let upper = trimmed.to_ascii_uppercase();
    let coordinates = |body: &str| -> Option<Ring> {
        let inner = body.trim().strip_prefix('(')?.strip_suffix(')')?;
        inner.split(',').map(longitude_latitude).collect()
    };
    let written = |ring: &[(f64, f64)]| {
        let points: Vec<String> = ring.iter().map(|(x, y)| format!("{x} {y}")).collect();
        format!("({})", points.join(", "))
    };
    if let Some(rest) = upper.strip_prefix("POINT") {
        let point = coordinates(&trimmed[trimmed.len() - rest.len()..])
            .filter(|points| points.len() == 1)
            .ok_or_else(bad)?;
        return Ok((format!("POINT {}", written(&point)), 1));
    }
    if let Some(rest) = upper.strip_prefix("LINESTRING") {
        let line = coordinates(&trimmed[trimmed.len() - rest.len()..])
            .filter(|points| points.len() >= 2)
            .ok_or_else(bad)?;
        return Ok((format!("LINESTRING {}", written(&line)), line.len()));
    }
    let polygons = parse_polygons(text, position).map_err(|_| bad())?;
    let mut vertices = 0;
    // PostGIS takes closed rings of four points or more: each is closed here if it is not.
    let polygons: Vec<String> = polygons
        .iter()
        .map(|rings| {
            let rings: Vec<String> = rings
                .iter()
                .map(|ring| {
                    let mut ring = ring.clone();
                    if ring.first() != ring.last() {
                        ring.push(ring[0]);
                    }
                    if ring.len() < 4 {
                        ring.push(ring[0]);
                    }
                    vertices += ring.len();
                    written(&ring)
                })
                .collect();
            format!("({})", rings.join(", "))
        })
        .collect();
    Ok((format!("MULTIPOLYGON ({})", polygons.join(", ")), vertices))
}

/// `longitude latitude` in degrees, within the globe's bounds.
fn longitude_latitude(pair: &str) -> Option<(f64, f64)> {
    let mut numbers = pair.split_whitespace().map(str::parse::<f64>);
    match (numbers.next(), numbers.next(), numbers.next()) {
        (Some(Ok(x)), Some(Ok(y)), None) if x.abs() <= 180.0 && y.abs() <= 90.0 => Some((x, y)),
        _ => None,
    }
}

pub(crate) fn polygon_literal(ring: &[(f64, f64)]) -> String {
    let points: Vec<String> = ring.iter().map(|(x, y)| format!("({x},{y})")).collect();
    format!("({})", points.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_written_back_canonically() {
        let at = Position::default();
        assert_eq!(
            parse_shape(" point( -72.5   41.25 ) ", at).unwrap(),
            ("POINT (-72.5 41.25)".to_owned(), 1)
        );
        assert_eq!(
            parse_shape("LINESTRING (0 0, 1 1, 2 0)", at).unwrap(),
            ("LINESTRING (0 0, 1 1, 2 0)".to_owned(), 3)
        );
        assert_eq!(
            parse_shape("POLYGON ((0 0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2, 1 1))", at).unwrap(),
            (
                "MULTIPOLYGON (((0 0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2, 1 1)))".to_owned(),
                8
            )
        );
        assert_eq!(
            parse_shape("POLYGON ((0 0, 1 0, 1 1))", at).unwrap().0,
            "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))",
            "rings are closed"
        );
        for bad in [
            "POINT (181 0)",
            "POINT (0 1e308)",
            "POINT (1)",
            "POINT (1 2, 3 4)",
            "POINT (1 2); DROP TABLE x",
            "LINESTRING (1 2)",
            "CIRCLE (1 2 3)",
            "POINT (NaN 1)",
            "",
        ] {
            assert!(parse_shape(bad, at).is_err(), "{bad}");
        }
    }

    #[test]
    fn polygons_and_multipolygons_parse_with_holes() {
        let polygons = parse_polygons("MULTIPOLYGON (((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 1)), ((10 10, 11 10, 11 11, 10 10)))", Position::default()).unwrap();
        assert_eq!(polygons.len(), 2);
        assert_eq!(polygons[0].len(), 2, "an outline and a hole");
        assert_eq!(polygons[1][0][1], (11.0, 10.0));
        let single = parse_polygons(
            "POLYGON ((-72.7 41.7, -72.6 41.7, -72.6 41.8, -72.7 41.7))",
            Position::default(),
        )
        .unwrap();
        assert_eq!(single[0][0].len(), 4);
        for bad in [
            "POINT (1 2)",
            "POLYGON ((1 2, 3))",
            "MULTIPOLYGON (((1 2, 3 4, x y)))",
            "POLYGON",
            "POLYGON ()",
            "MULTIPOLYGON (())",
            "MULTIPOLYGON ()",
            "MULTIPOLYGON ((0 0, 1 0, 1 1, 0 0))) ((",
        ] {
            assert!(parse_polygons(bad, Position::default()).is_err(), "{bad}");
        }
    }
}
