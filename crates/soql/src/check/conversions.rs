//! The implicit conversions between SoQL's types, and the operators and casts that rely on them.

use opendata_datastore::coerce::coerce_into;

use super::*;
use crate::ast::BinaryOp;

/// `typed` as a `ty`, or an error saying what `what` expected.
pub(crate) fn operand_as(typed: Typed, ty: SoqlType, what: &str) -> Result<Typed, SoqlError> {
    let position = typed.position;
    let found = typed.ty;
    coerce(typed, ty).map_err(|_| {
        SoqlError::mismatch(
            position,
            format!("{what} expects a {}, not a {}", ty.name(), found.name()),
        )
    })
}

/// Converts `typed` to `to` where SoQL allows it implicitly: string literals read as the type
/// (`'2020-01-01'` as a timestamp), numbers widen to doubles, `null` takes any type.
pub(crate) fn coerce(typed: Typed, to: SoqlType) -> Result<Typed, SoqlError> {
    if typed.ty == to {
        return Ok(typed);
    }
    let position = typed.position;
    let retyped = |node| Ok(Typed::new(node, to, position));
    match (&typed.node, typed.ty, to) {
        (_, SoqlType::Null, _) => retyped(Node::Null),
        (Node::TextLiteral(text), SoqlType::Text, SoqlType::RowId) => {
            let id = text.strip_prefix("row-").unwrap_or(text);
            id.parse::<i64>().map_err(|_| {
                SoqlError::mismatch(
                    position,
                    format!("'{}' is not a row id", opendata_limits::excerpt(text)),
                )
            })?;
            retyped(Node::Param {
                value: id.to_owned(),
                sql_type: "bigint",
            })
        }
        (Node::TextLiteral(text), SoqlType::Text, _) => {
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
                return retyped(Node::Null);
            }
            retyped(Node::Param {
                value: String::from_utf8(canonical).unwrap_or_default(),
                sql_type: to.sql_type(),
            })
        }
        (_, SoqlType::Number, SoqlType::Double) => retyped(Node::Cast(boxed(typed))),
        _ => Err(SoqlError::mismatch(
            position,
            format!("expected a {} but found a {}", to.name(), typed.ty.name()),
        )),
    }
}

/// Brings values to one type (numbers and doubles meet as doubles, literals and nulls follow
/// the others); returns them and the type. `what` names them in errors.
pub(crate) fn unify(items: Vec<Typed>, what: &str) -> Result<(Vec<Typed>, SoqlType), SoqlError> {
    let mut target = items
        .iter()
        .filter(|t| !t.is_untyped_literal())
        .map(|t| t.ty)
        .next();
    if target.is_none() {
        target = items.iter().map(|t| t.ty).find(|ty| *ty != SoqlType::Null);
    }
    let mut target = target.unwrap_or(SoqlType::Null);
    for item in items.iter().filter(|t| !t.is_untyped_literal()) {
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
    if target == SoqlType::Null {
        return Ok((items, target));
    }
    let items = items
        .into_iter()
        .map(|item| coerce(item, target))
        .collect::<Result<_, _>>()?;
    Ok((items, target))
}

pub(crate) fn binary(
    op: BinaryOp,
    left: Typed,
    right: Typed,
    position: Position,
) -> Result<Typed, SoqlError> {
    let symbol = op.symbol();
    let node = |left: Typed, right: Typed, ty: SoqlType| {
        Ok(Typed::new(
            Node::Binary {
                op,
                left: boxed(left),
                right: boxed(right),
            },
            ty,
            position,
        ))
    };
    match op {
        BinaryOp::And | BinaryOp::Or => {
            let left = operand_as(left, SoqlType::Boolean, symbol)?;
            let right = operand_as(right, SoqlType::Boolean, symbol)?;
            node(left, right, SoqlType::Boolean)
        }
        BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            let (mut items, ty) = unify(vec![left, right], "comparisons")?;
            let equality = matches!(op, BinaryOp::Eq | BinaryOp::Ne);
            if !equality && !ty.is_ordered() {
                return Err(SoqlError::mismatch(
                    position,
                    format!("{} values cannot be compared with {symbol}", ty.name()),
                ));
            }
            if matches!(
                ty,
                SoqlType::Point
                    | SoqlType::Location
                    | SoqlType::Url
                    | SoqlType::MultiPoint
                    | SoqlType::MultiPolygon
            ) {
                return Err(SoqlError::mismatch(
                    position,
                    format!(
                        "{} values cannot be compared; use within_circle or within_box",
                        ty.name()
                    ),
                ));
            }
            let right = items.remove(1);
            node(items.remove(0), right, SoqlType::Boolean)
        }
        BinaryOp::Concat => {
            let left = operand_as(left, SoqlType::Text, "||")?;
            let right = operand_as(right, SoqlType::Text, "||")?;
            node(left, right, SoqlType::Text)
        }
        BinaryOp::Add
        | BinaryOp::Sub
        | BinaryOp::Mul
        | BinaryOp::Div
        | BinaryOp::Mod
        | BinaryOp::Pow => {
            let (items, ty) = unify(vec![left, right], "arithmetic")?;
            // Nulls alone are numbers here, typed so PostgreSQL knows which operator to use.
            let (mut items, ty) = if ty == SoqlType::Null {
                let items = items
                    .into_iter()
                    .map(|item| coerce(item, SoqlType::Number))
                    .collect::<Result<Vec<_>, _>>()?;
                (items, SoqlType::Number)
            } else {
                (items, ty)
            };
            if !ty.is_numeric() {
                return Err(SoqlError::mismatch(
                    position,
                    format!("{symbol} needs numbers, not {} values", ty.name()),
                ));
            }
            let right = items.remove(1);
            node(items.remove(0), right, ty)
        }
    }
}

pub(crate) fn cast(value: Typed, target: SoqlType, position: Position) -> Result<Typed, SoqlError> {
    if matches!(value.node, Node::TextLiteral(_)) && target != SoqlType::Text {
        return coerce(value, target);
    }
    if value.ty == target {
        return Ok(value);
    }
    match (value.ty, target) {
        (_, SoqlType::Text)
        | (
            SoqlType::Text
            | SoqlType::Number
            | SoqlType::Double
            | SoqlType::Boolean
            | SoqlType::Null,
            SoqlType::Number | SoqlType::Double,
        )
        | (
            SoqlType::Text | SoqlType::Null,
            SoqlType::Boolean | SoqlType::FloatingTimestamp | SoqlType::FixedTimestamp,
        )
        | (SoqlType::FloatingTimestamp, SoqlType::FixedTimestamp)
        | (SoqlType::FixedTimestamp, SoqlType::FloatingTimestamp)
        | (SoqlType::Number | SoqlType::Double, SoqlType::Boolean) => {
            Ok(Typed::new(Node::Cast(boxed(value)), target, position))
        }
        (from, to) => Err(SoqlError::mismatch(
            position,
            format!("cannot cast a {} to a {}", from.name(), to.name()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{Binds, sql};

    fn literal(text: &str) -> Typed {
        Typed::new(
            Node::TextLiteral(text.to_owned()),
            SoqlType::Text,
            Position::default(),
        )
    }

    fn column(name: &str, ty: SoqlType) -> Typed {
        Typed::new(Node::Column(quote_ident(name)), ty, Position::default())
    }

    fn rendered(items: &[Typed]) -> (Vec<String>, Vec<String>) {
        let mut binds = Binds::default();
        let sql = items.iter().map(|item| sql(&mut binds, item)).collect();
        (sql, binds.into_values())
    }

    #[test]
    fn string_literals_take_the_type_they_meet() {
        let (items, ty) = unify(
            vec![
                column("d", SoqlType::FloatingTimestamp),
                literal("01/30/2023"),
            ],
            "comparisons",
        )
        .unwrap();
        assert_eq!(ty, SoqlType::FloatingTimestamp);
        let (sql, binds) = rendered(&items);
        assert_eq!(sql, vec!["\"d\"", "$1::timestamp"]);
        assert_eq!(binds, vec!["2023-01-30 00:00:00"]);
        let (alone, _) = rendered(&[literal("x")]);
        assert_eq!(alone, vec!["$1::text"], "a literal meeting nothing is text");
    }

    #[test]
    fn bad_literals_and_mixed_types_are_mismatches() {
        let number = column("n", SoqlType::Number);
        let error = unify(vec![number.clone(), literal("lots")], "comparisons").unwrap_err();
        assert!(
            error.message.contains("'lots' is not a number"),
            "{}",
            error.message
        );
        let text = column("t", SoqlType::Text);
        assert!(unify(vec![number.clone(), text], "comparisons").is_err());
        let (items, ty) =
            unify(vec![number, column("d", SoqlType::Double)], "comparisons").unwrap();
        assert_eq!(ty, SoqlType::Double);
        assert_eq!(rendered(&items).0[0], "(\"n\")::double precision");
    }

    #[test]
    fn nulls_take_any_type_and_empty_literals_read_as_null() {
        let (items, ty) = unify(
            vec![
                Typed::new(Node::Null, SoqlType::Null, Position::default()),
                column("n", SoqlType::Number),
                literal(""),
            ],
            "coalesce",
        )
        .unwrap();
        assert_eq!(ty, SoqlType::Number);
        assert_eq!(
            rendered(&items).0,
            vec!["NULL::numeric", "\"n\"", "NULL::numeric"]
        );
    }
}
