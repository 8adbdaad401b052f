//! SoQL's functions and their SQL: text (`upper`, `lower`, `trim`, `length`, `starts_with`,
//! `unaccent`), dates (`date_trunc_*`, `date_extract_*`), conditionals (`case`, `coalesce`,
//! `greatest`, `least`), numbers (`abs`, `round`, `ln`), geography (`within_circle`, `within_box`,
//! `within_polygon`, `distance_in_meters`) and aggregates (`count`, `sum`, `avg`, `min`, `max`).

use crate::error::{ErrorKind, Position, SoqlError};
use crate::typed::{Binds, Sql, Typed, coerce, render, unify};
use crate::types::SoqlType;

/// Mean Earth radius in metres (IUGG).
const EARTH_RADIUS_METERS: f64 = 6_371_008.8;
/// Largest polygon accepted by `within_polygon`, in vertices.
const MAX_POLYGON_VERTICES: usize = 10_000;

/// Whether a function name is an aggregate.
pub fn is_aggregate(name: &str) -> bool {
    matches!(name, "count" | "sum" | "avg" | "min" | "max")
}

fn no_such_function(name: &str, position: Position, detail: &str) -> SoqlError {
    SoqlError::new(
        ErrorKind::NoSuchFunction,
        position,
        format!(
            "no such function: {}{detail}",
            opendata_limits::excerpt(name)
        ),
    )
    .named(name)
}

fn expect_arity(
    name: &str,
    args: &[Typed],
    arity: std::ops::RangeInclusive<usize>,
    position: Position,
) -> Result<(), SoqlError> {
    if arity.contains(&args.len()) {
        return Ok(());
    }
    let expected = if arity.start() == arity.end() {
        format!("{}", arity.start())
    } else {
        format!("{} to {}", arity.start(), arity.end())
    };
    Err(no_such_function(
        name,
        position,
        &format!(" with {} arguments (it takes {expected})", args.len()),
    ))
}

fn arg(binds: &mut Binds, typed: Typed, ty: SoqlType, name: &str) -> Result<String, SoqlError> {
    let position = typed.position;
    let found = typed.ty;
    coerce(binds, typed, ty)
        .map(|typed| render(binds, &typed))
        .map_err(|_| {
            SoqlError::mismatch(
                position,
                format!(
                    "{name} expects a {} here, not a {}",
                    ty.name(),
                    found.name()
                ),
            )
        })
}

fn numeric_arg(
    binds: &mut Binds,
    typed: Typed,
    name: &str,
) -> Result<(String, SoqlType), SoqlError> {
    let ty = match typed.ty {
        SoqlType::Double => SoqlType::Double,
        _ => SoqlType::Number,
    };
    Ok((arg(binds, typed, ty, name)?, ty))
}

fn timestamp_arg(
    binds: &mut Binds,
    typed: Typed,
    name: &str,
) -> Result<(String, SoqlType), SoqlError> {
    let ty = match typed.ty {
        SoqlType::FixedTimestamp => SoqlType::FixedTimestamp,
        _ => SoqlType::FloatingTimestamp,
    };
    Ok((arg(binds, typed, ty, name)?, ty))
}

/// SQL for the point of a point or location value (or a `'POINT (lon lat)'` string).
fn point_arg(binds: &mut Binds, typed: Typed, name: &str) -> Result<String, SoqlError> {
    match typed.ty {
        SoqlType::Location => {
            let sql = render(binds, &typed);
            Ok(format!(
                "point((({sql})->>'longitude')::float8, (({sql})->>'latitude')::float8)"
            ))
        }
        _ => arg(binds, typed, SoqlType::Point, name),
    }
}

/// Great-circle distance in metres between two point expressions.
fn haversine(a: &str, b: &str) -> String {
    format!(
        "(2 * {EARTH_RADIUS_METERS} * asin(sqrt(power(sin(radians((({b})[1] - ({a})[1]) / 2)), 2) + cos(radians(({a})[1])) * cos(radians(({b})[1])) * power(sin(radians((({b})[0] - ({a})[0]) / 2)), 2))))"
    )
}

/// A ring of (x, y) vertices.
type Ring = Vec<(f64, f64)>;
/// A polygon: its outline ring, then its holes.
type Polygon = Vec<Ring>;

/// Polygons of a WKT `POLYGON` or `MULTIPOLYGON`, each as rings of (x, y); the first ring of each
/// polygon is its outline, the others its holes.
fn parse_polygons(text: &str, position: Position) -> Result<Vec<Polygon>, SoqlError> {
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
                .map(|pair| {
                    let mut numbers = pair.split_whitespace().map(str::parse::<f64>);
                    match (numbers.next(), numbers.next(), numbers.next()) {
                        (Some(Ok(x)), Some(Ok(y)), None) if x.is_finite() && y.is_finite() => {
                            Some((x, y))
                        }
                        _ => None,
                    }
                })
                .collect::<Option<Vec<_>>>()
                .filter(|points| points.len() >= 3)
        })
        .collect()
}

fn polygon_literal(ring: &[(f64, f64)]) -> String {
    let points: Vec<String> = ring.iter().map(|(x, y)| format!("({x},{y})")).collect();
    format!("({})", points.join(","))
}

/// Compiles a call.
pub fn call(
    binds: &mut Binds,
    name: &str,
    args: Vec<Typed>,
    distinct: bool,
    star: bool,
    position: Position,
) -> Result<Typed, SoqlError> {
    if let Some(nested) = args
        .iter()
        .find(|a| a.aggregate)
        .filter(|_| is_aggregate(name))
    {
        return Err(SoqlError::mismatch(
            nested.position,
            "aggregates cannot be nested",
        ));
    }
    let aggregate = is_aggregate(name) || args.iter().any(|a| a.aggregate);
    if (distinct || star) && name != "count" {
        return Err(no_such_function(
            name,
            position,
            if star { "(*)" } else { " with DISTINCT" },
        ));
    }
    let ready = |sql: String, ty: SoqlType| Ok(Typed::ready(sql, ty, aggregate, position));
    let mut args = args;
    match name {
        "count" => {
            if star {
                return ready("count(*)::numeric".to_owned(), SoqlType::Number);
            }
            expect_arity(name, &args, 1..=1, position)?;
            let value = render(binds, &args[0]);
            let distinct = if distinct { "DISTINCT " } else { "" };
            ready(
                format!("count({distinct}{value})::numeric"),
                SoqlType::Number,
            )
        }
        "sum" | "avg" => {
            expect_arity(name, &args, 1..=1, position)?;
            let (value, ty) = numeric_arg(binds, args.remove(0), name)?;
            ready(format!("{name}({value})"), ty)
        }
        "min" | "max" => {
            expect_arity(name, &args, 1..=1, position)?;
            let value = args.remove(0);
            if !value.ty.is_ordered() {
                return Err(SoqlError::mismatch(
                    value.position,
                    format!("{name} cannot compare {} values", value.ty.name()),
                ));
            }
            let ty = if value.ty == SoqlType::Null {
                SoqlType::Text
            } else {
                value.ty
            };
            let sql = render(binds, &value);
            ready(format!("{name}({sql})"), ty)
        }
        "upper" | "lower" | "trim" | "unaccent" => {
            expect_arity(name, &args, 1..=1, position)?;
            let value = arg(binds, args.remove(0), SoqlType::Text, name)?;
            let sql = match name {
                "trim" => format!("btrim({value})"),
                "unaccent" => format!("data.unaccent('data.unaccent'::regdictionary, {value})"),
                _ => format!("{name}({value})"),
            };
            ready(sql, SoqlType::Text)
        }
        "length" => {
            expect_arity(name, &args, 1..=1, position)?;
            let value = arg(binds, args.remove(0), SoqlType::Text, name)?;
            ready(format!("length({value})::numeric"), SoqlType::Number)
        }
        "starts_with" => {
            expect_arity(name, &args, 2..=2, position)?;
            let prefix = arg(binds, args.remove(1), SoqlType::Text, name)?;
            let value = arg(binds, args.remove(0), SoqlType::Text, name)?;
            ready(format!("starts_with({value}, {prefix})"), SoqlType::Boolean)
        }
        "date_trunc_y" | "date_trunc_ym" | "date_trunc_ymd" => {
            expect_arity(name, &args, 1..=1, position)?;
            let (value, ty) = timestamp_arg(binds, args.remove(0), name)?;
            let unit = match name {
                "date_trunc_y" => "year",
                "date_trunc_ym" => "month",
                _ => "day",
            };
            ready(format!("date_trunc('{unit}', {value})"), ty)
        }
        "date_extract_y" | "date_extract_m" | "date_extract_d" | "date_extract_hh"
        | "date_extract_dow" | "date_extract_woy" => {
            expect_arity(name, &args, 1..=1, position)?;
            let (value, _) = timestamp_arg(binds, args.remove(0), name)?;
            let field = match name {
                "date_extract_y" => "year",
                "date_extract_m" => "month",
                "date_extract_d" => "day",
                "date_extract_hh" => "hour",
                "date_extract_dow" => "dow",
                _ => "week",
            };
            ready(
                format!("extract({field} from {value})::numeric"),
                SoqlType::Number,
            )
        }
        "case" => {
            if args.len() < 2 || !args.len().is_multiple_of(2) {
                return Err(no_such_function(
                    name,
                    position,
                    " with an odd number of arguments (it takes condition, value pairs)",
                ));
            }
            let mut conditions = Vec::new();
            let mut values = Vec::new();
            for (index, typed) in args.into_iter().enumerate() {
                if index % 2 == 0 {
                    conditions.push(arg(binds, typed, SoqlType::Boolean, name)?);
                } else {
                    values.push(typed);
                }
            }
            let (values, ty) = unify(binds, values, "case values")?;
            let branches: Vec<String> = conditions
                .iter()
                .zip(&values)
                .map(|(c, v)| format!(" WHEN {c} THEN {v}"))
                .collect();
            ready(format!("(CASE{} END)", branches.concat()), ty)
        }
        "coalesce" | "greatest" | "least" => {
            if args.is_empty() {
                return Err(no_such_function(name, position, " without arguments"));
            }
            let (values, ty) = unify(binds, args, &format!("the arguments of {name}"))?;
            if name != "coalesce" && !ty.is_ordered() {
                return Err(SoqlError::mismatch(
                    position,
                    format!("{name} cannot compare {} values", ty.name()),
                ));
            }
            ready(format!("{name}({})", values.join(", ")), ty)
        }
        "abs" => {
            expect_arity(name, &args, 1..=1, position)?;
            let (value, ty) = numeric_arg(binds, args.remove(0), name)?;
            ready(format!("abs({value})"), ty)
        }
        "round" => {
            expect_arity(name, &args, 1..=2, position)?;
            let digits = if args.len() == 2 {
                arg(binds, args.remove(1), SoqlType::Number, name)?
            } else {
                "0".to_owned()
            };
            let (value, _) = numeric_arg(binds, args.remove(0), name)?;
            ready(
                format!("round(({value})::numeric, ({digits})::integer)"),
                SoqlType::Number,
            )
        }
        "ln" => {
            expect_arity(name, &args, 1..=1, position)?;
            let (value, _) = numeric_arg(binds, args.remove(0), name)?;
            ready(format!("ln(({value})::numeric)"), SoqlType::Number)
        }
        "distance_in_meters" => {
            expect_arity(name, &args, 2..=2, position)?;
            let b = point_arg(binds, args.remove(1), name)?;
            let a = point_arg(binds, args.remove(0), name)?;
            ready(haversine(&a, &b), SoqlType::Double)
        }
        "within_circle" => {
            expect_arity(name, &args, 4..=4, position)?;
            let radius = arg(binds, args.remove(3), SoqlType::Double, name)?;
            let longitude = arg(binds, args.remove(2), SoqlType::Double, name)?;
            let latitude = arg(binds, args.remove(1), SoqlType::Double, name)?;
            let point = point_arg(binds, args.remove(0), name)?;
            let center = format!("point({longitude}, {latitude})");
            ready(
                format!("({} <= {radius})", haversine(&point, &center)),
                SoqlType::Boolean,
            )
        }
        "within_box" => {
            expect_arity(name, &args, 5..=5, position)?;
            let se_longitude = arg(binds, args.remove(4), SoqlType::Double, name)?;
            let se_latitude = arg(binds, args.remove(3), SoqlType::Double, name)?;
            let nw_longitude = arg(binds, args.remove(2), SoqlType::Double, name)?;
            let nw_latitude = arg(binds, args.remove(1), SoqlType::Double, name)?;
            let point = point_arg(binds, args.remove(0), name)?;
            ready(
                format!(
                    "(({point})[1] BETWEEN {se_latitude} AND {nw_latitude} AND ({point})[0] BETWEEN {nw_longitude} AND {se_longitude})"
                ),
                SoqlType::Boolean,
            )
        }
        "within_polygon" => {
            expect_arity(name, &args, 2..=2, position)?;
            let shape = args.remove(1);
            let Sql::TextLiteral(wkt) = &shape.sql else {
                return Err(SoqlError::mismatch(
                    shape.position,
                    "within_polygon takes the polygon as a WKT string",
                ));
            };
            let polygons = parse_polygons(wkt, shape.position)?;
            let vertices: usize = polygons.iter().flatten().map(Vec::len).sum();
            if vertices > MAX_POLYGON_VERTICES {
                return Err(SoqlError::mismatch(
                    shape.position,
                    format!("the polygon has more than {MAX_POLYGON_VERTICES} vertices"),
                ));
            }
            let point = point_arg(binds, args.remove(0), name)?;
            let tests: Vec<String> = polygons
                .iter()
                .map(|rings| {
                    let mut test = format!(
                        "({point}) <@ {}",
                        binds.bind(polygon_literal(&rings[0]), "polygon")
                    );
                    for hole in &rings[1..] {
                        test.push_str(&format!(
                            " AND NOT ({point}) <@ {}",
                            binds.bind(polygon_literal(hole), "polygon")
                        ));
                    }
                    format!("({test})")
                })
                .collect();
            ready(format!("({})", tests.join(" OR ")), SoqlType::Boolean)
        }
        _ => Err(no_such_function(name, position, "")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            assert!(parse_polygons(bad, Position::default()).is_err(), "{bad}");
        }
    }
}
