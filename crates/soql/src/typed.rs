//! Typed SQL fragments and the bind parameters behind them. Every value from a request becomes a
//! bind parameter with an explicit cast; identical values share one parameter, so an expression
//! written twice (in `$select` and `$group`) compiles to the same SQL.

use std::collections::HashMap;

use opendata_datastore::coerce::coerce_into;

use crate::error::{Position, SoqlError};
use crate::types::SoqlType;

/// The bind parameters of a query.
#[derive(Debug, Default)]
pub struct Binds {
    values: Vec<String>,
    seen: HashMap<(String, &'static str), usize>,
}

impl Binds {
    /// A placeholder (`$3::numeric`) for a value of a PostgreSQL type.
    pub fn bind(&mut self, value: String, sql_type: &'static str) -> String {
        let next = self.values.len() + 1;
        let index = *self
            .seen
            .entry((value.clone(), sql_type))
            .or_insert_with(|| {
                self.values.push(value);
                next
            });
        format!("${index}::{sql_type}")
    }

    /// The values, in placeholder order.
    pub fn into_values(self) -> Vec<String> {
        self.values
    }
}

/// SQL not yet fixed: a string literal's type depends on what it is compared with.
#[derive(Debug, Clone)]
pub enum Sql {
    /// Finished SQL.
    Ready(String),
    /// A string literal, bound once its type is known.
    TextLiteral(String),
}

/// A compiled expression and its type.
#[derive(Debug, Clone)]
pub struct Typed {
    /// Its SQL.
    pub sql: Sql,
    /// Its type.
    pub ty: SoqlType,
    /// Whether it contains an aggregate.
    pub aggregate: bool,
    /// Where it starts.
    pub position: Position,
}

impl Typed {
    /// A finished fragment.
    pub fn ready(sql: String, ty: SoqlType, aggregate: bool, position: Position) -> Typed {
        Typed {
            sql: Sql::Ready(sql),
            ty,
            aggregate,
            position,
        }
    }

    /// Whether it is a bare `null`.
    pub fn is_null(&self) -> bool {
        self.ty == SoqlType::Null
    }
}

/// Finishes a fragment: a pending string literal becomes a text parameter.
pub fn render(binds: &mut Binds, typed: &Typed) -> String {
    match &typed.sql {
        Sql::Ready(sql) => sql.clone(),
        Sql::TextLiteral(text) => binds.bind(text.clone(), "text"),
    }
}

/// Converts a fragment to `to` where SoQL allows it implicitly: string literals read as the type
/// (`'2020-01-01'` as a timestamp), numbers widen to doubles, `null` takes any type.
pub fn coerce(binds: &mut Binds, typed: Typed, to: SoqlType) -> Result<Typed, SoqlError> {
    if typed.ty == to {
        return Ok(typed);
    }
    let position = typed.position;
    let aggregate = typed.aggregate;
    match (&typed.sql, typed.ty, to) {
        (_, SoqlType::Null, _) => Ok(Typed::ready(
            format!("NULL::{}", to.sql_type()),
            to,
            aggregate,
            position,
        )),
        (Sql::TextLiteral(text), SoqlType::Text, SoqlType::RowId) => {
            let id = text.strip_prefix("row-").unwrap_or(text);
            id.parse::<i64>().map_err(|_| {
                SoqlError::mismatch(
                    position,
                    format!("'{}' is not a row id", opendata_limits::excerpt(text)),
                )
            })?;
            Ok(Typed::ready(
                binds.bind(id.to_owned(), "bigint"),
                to,
                aggregate,
                position,
            ))
        }
        (Sql::TextLiteral(text), SoqlType::Text, _) => {
            let column_type = to.literal_column_type().ok_or_else(|| {
                SoqlError::mismatch(
                    position,
                    format!("a string cannot be used as a {}", to.name()),
                )
            })?;
            let mut canonical = Vec::new();
            coerce_into(column_type, text, &mut canonical).map_err(|reason| {
                SoqlError::mismatch(
                    position,
                    format!(
                        "'{}' is not a {}: {reason}",
                        opendata_limits::excerpt(text),
                        to.name()
                    ),
                )
            })?;
            if canonical == b"\\N" {
                return Ok(Typed::ready(
                    format!("NULL::{}", to.sql_type()),
                    to,
                    aggregate,
                    position,
                ));
            }
            let canonical = String::from_utf8(canonical).unwrap_or_default();
            Ok(Typed::ready(
                binds.bind(canonical, to.sql_type()),
                to,
                aggregate,
                position,
            ))
        }
        (Sql::Ready(sql), SoqlType::Number, SoqlType::Double) => Ok(Typed::ready(
            format!("({sql})::double precision"),
            to,
            aggregate,
            position,
        )),
        _ => Err(SoqlError::mismatch(
            position,
            format!("expected a {} but found a {}", to.name(), typed.ty.name()),
        )),
    }
}

/// Brings fragments to one type (numbers and doubles meet as doubles, literals and nulls follow
/// the others); returns their SQL and the type. `what` names them in errors.
pub fn unify(
    binds: &mut Binds,
    items: Vec<Typed>,
    what: &str,
) -> Result<(Vec<String>, SoqlType), SoqlError> {
    let is_literal = |typed: &Typed| matches!(typed.sql, Sql::TextLiteral(_)) || typed.is_null();
    let mut target = items.iter().filter(|t| !is_literal(t)).map(|t| t.ty).next();
    if target.is_none() {
        target = items.iter().map(|t| t.ty).find(|ty| *ty != SoqlType::Null);
    }
    let mut target = target.unwrap_or(SoqlType::Null);
    for item in items.iter().filter(|t| !is_literal(t)) {
        if item.ty == target {
            continue;
        }
        if item.ty.is_numeric() && target.is_numeric() {
            target = SoqlType::Double;
        } else {
            return Err(SoqlError::mismatch(
                item.position,
                format!("{what} mix a {} and a {}", target.name(), item.ty.name()),
            ));
        }
    }
    let mut sql = Vec::with_capacity(items.len());
    for item in items {
        let item = if target == SoqlType::Null {
            item
        } else {
            coerce(binds, item, target)?
        };
        sql.push(render(binds, &item));
    }
    Ok((sql, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(text: &str) -> Typed {
        Typed {
            sql: Sql::TextLiteral(text.to_owned()),
            ty: SoqlType::Text,
            aggregate: false,
            position: Position::default(),
        }
    }

    #[test]
    fn identical_values_share_a_parameter() {
        let mut binds = Binds::default();
        assert_eq!(binds.bind("1".into(), "numeric"), "$1::numeric");
        assert_eq!(binds.bind("2".into(), "numeric"), "$2::numeric");
        assert_eq!(binds.bind("1".into(), "numeric"), "$1::numeric");
        assert_eq!(binds.bind("1".into(), "text"), "$3::text");
        assert_eq!(binds.into_values(), vec!["1", "2", "1"]);
    }

    #[test]
    fn string_literals_take_the_type_they_meet() {
        let mut binds = Binds::default();
        let column = Typed::ready(
            "\"d\"".into(),
            SoqlType::FloatingTimestamp,
            false,
            Position::default(),
        );
        let (sql, ty) = unify(
            &mut binds,
            vec![column, literal("01/30/2023")],
            "comparisons",
        )
        .unwrap();
        assert_eq!(ty, SoqlType::FloatingTimestamp);
        assert_eq!(sql, vec!["\"d\"", "$1::timestamp"]);
        assert_eq!(binds.into_values(), vec!["2023-01-30 00:00:00"]);
    }

    #[test]
    fn bad_literals_and_mixed_types_are_mismatches() {
        let mut binds = Binds::default();
        let number = Typed::ready("\"n\"".into(), SoqlType::Number, false, Position::default());
        let error = unify(
            &mut binds,
            vec![number.clone(), literal("lots")],
            "comparisons",
        )
        .unwrap_err();
        assert!(
            error.message.contains("'lots' is not a number"),
            "{}",
            error.message
        );
        let text = Typed::ready("\"t\"".into(), SoqlType::Text, false, Position::default());
        assert!(unify(&mut binds, vec![number.clone(), text], "comparisons").is_err());
        let double = Typed::ready("\"d\"".into(), SoqlType::Double, false, Position::default());
        let (sql, ty) = unify(&mut binds, vec![number, double], "comparisons").unwrap();
        assert_eq!(ty, SoqlType::Double);
        assert_eq!(sql[0], "(\"n\")::double precision");
    }
}
