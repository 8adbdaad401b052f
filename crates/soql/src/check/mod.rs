//! Type checking, the first pass: an expression becomes a [`Typed`] tree. Names resolve against
//! the schema (or the select list's aliases), literals are read as the type they meet, and every
//! operator and call is checked for the types it meets; calls against their row of
//! [`functions`](crate::functions::functions). Recursion follows the tree, whose depth the parser
//! bounds; the nodes checked are counted, aliases each time they are used, against [`SOQL_NODES`].
//!
//! The checker walks expressions here; calls and fields are checked in [`calls`], windows in
//! [`windows`], and the implicit conversions between types in [`conversions`].

mod calls;
mod conversions;
mod windows;

use calls::field_call;
pub(crate) use conversions::{binary, cast, coerce, operand_as, unify};

use opendata_datastore::schema::Schema;
use opendata_datastore::table::{CREATED_AT_COLUMN, ID_COLUMN, UPDATED_AT_COLUMN, quote_ident};
use opendata_limits::SOQL_NODES;

use crate::ast::{Expr, Literal, UnaryOp};
use crate::error::{ErrorKind, Position, SoqlError};
use crate::typed::{Node, Typed};
use crate::types::{Extensions, SoqlType};

/// What names resolve to while checking one clause.
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub(crate) schema: &'a Schema,
    /// Select outputs by name (for `$order` and `$having`).
    pub(crate) aliases: &'a [(String, Expr)],
    /// What the clause may compute beyond values of a row.
    pub(crate) allows: Allows,
}

/// What a clause may compute beyond values of a row, each including the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Allows {
    /// Values of one row only (`$where`, `$group`).
    Values,
    /// Aggregates too (`$having`).
    Aggregates,
    /// Window functions too (`$select`, `$order`).
    Windows,
}

/// The type checker of one query.
#[derive(Default)]
pub(crate) struct Checker {
    /// What the database can run beyond PostgreSQL itself.
    extensions: Extensions,
    /// Expression nodes checked so far, aliases counted each time they are used.
    nodes: usize,
    /// The weight (see [`Typed::weight`]) of the expressions checked so far.
    weight: usize,
    /// How deep in an expression the checker is (0 between expressions).
    depth: usize,
}

/// `typed`, if rows can be told apart by it (grouped, partitioned or made distinct on it): not a
/// point, PostgreSQL having no equality for points.
pub(crate) fn distinguishable(typed: Typed, what: &str) -> Result<Typed, SoqlError> {
    distinct_by(&typed, what)?;
    Ok(typed)
}

/// Refuses a point where rows are told apart by value (see [`distinguishable`]).
pub(crate) fn distinct_by(typed: &Typed, what: &str) -> Result<(), SoqlError> {
    if typed.ty == SoqlType::Point {
        return Err(SoqlError::mismatch(
            typed.position,
            format!(
                "{what} cannot use point values, which have no equality; use their .latitude \
                 and .longitude"
            ),
        ));
    }
    Ok(())
}

pub(crate) fn unknown_column(name: &str, position: Position) -> SoqlError {
    SoqlError::new(
        ErrorKind::NoSuchColumn,
        position,
        format!("no such column: {}", opendata_limits::excerpt(name)),
    )
    .named(name)
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

fn boxed(typed: Typed) -> Box<Typed> {
    Box::new(typed)
}

impl Checker {
    /// A checker for a database that can run what `extensions` says.
    pub(crate) fn new(extensions: Extensions) -> Checker {
        Checker {
            extensions,
            ..Checker::default()
        }
    }

    fn column(
        &self,
        name: &str,
        position: Position,
        scope: &Scope<'_>,
    ) -> Result<Typed, SoqlError> {
        let column = |identifier: &str, ty| {
            Ok(Typed::new(
                Node::Column(quote_ident(identifier)),
                ty,
                position,
            ))
        };
        match name {
            ID_COLUMN => column(ID_COLUMN, SoqlType::RowId),
            CREATED_AT_COLUMN | UPDATED_AT_COLUMN => column(name, SoqlType::FixedTimestamp),
            _ => match scope.schema.column(name) {
                Some(found) => column(&found.field_name, SoqlType::of_column(found.column_type)),
                None => Err(unknown_column(name, position)),
            },
        }
    }

    /// Checks `expr` in `scope`. Its SQL, with every expression checked before, must hold at
    /// most [`SOQL_NODES`] parts, a value counted each time the SQL repeats it: functions whose
    /// SQL repeats an argument, nested, would otherwise grow it geometrically.
    pub(crate) fn expr(&mut self, expr: &Expr, scope: &Scope<'_>) -> Result<Typed, SoqlError> {
        self.depth += 1;
        let checked = self.node(expr, scope);
        self.depth -= 1;
        let typed = checked?;
        let weight = self.weight.saturating_add(typed.weight);
        if weight > SOQL_NODES.get() {
            return Err(SoqlError::over_limit(
                SOQL_NODES,
                typed.position,
                format!(
                    "the query's SQL would have more than {} parts, counting a value each time \
                     a function repeats it",
                    SOQL_NODES.value
                ),
            ));
        }
        if self.depth == 0 {
            self.weight = weight;
        }
        Ok(typed)
    }

    fn node(&mut self, expr: &Expr, scope: &Scope<'_>) -> Result<Typed, SoqlError> {
        let position = expr.position();
        self.nodes += 1;
        if self.nodes > SOQL_NODES.get() {
            return Err(SoqlError::over_limit(
                SOQL_NODES,
                position,
                format!(
                    "the query has more than {} parts, counting an alias each time it is used",
                    SOQL_NODES.value
                ),
            ));
        }
        match expr {
            Expr::Column { name, .. } => {
                match scope.aliases.iter().find(|(alias, _)| alias == name) {
                    Some((_, aliased))
                        if scope.schema.column(name).is_none()
                            || !matches!(aliased, Expr::Column { name: n, .. } if n == name) =>
                    {
                        let aliased = aliased.clone();
                        let inner = Scope {
                            aliases: &[],
                            ..*scope
                        };
                        self.expr(&aliased, &inner)
                    }
                    _ => self.column(name, position, scope),
                }
            }
            Expr::Literal { value, .. } => match value {
                Literal::Text(text) => Ok(Typed::new(
                    Node::TextLiteral(text.clone()),
                    SoqlType::Text,
                    position,
                )),
                Literal::Number(number) => coerce(
                    Typed::new(Node::TextLiteral(number.clone()), SoqlType::Text, position),
                    SoqlType::Number,
                ),
                Literal::Boolean(value) => Ok(Typed::new(
                    Node::Param {
                        value: value.to_string(),
                        sql_type: "boolean",
                    },
                    SoqlType::Boolean,
                    position,
                )),
                Literal::Null => Ok(Typed::new(Node::Null, SoqlType::Null, position)),
            },
            Expr::Unary { op, expr, .. } => {
                let operand = self.expr(expr, scope)?;
                match op {
                    UnaryOp::Not => {
                        let operand = operand_as(operand, SoqlType::Boolean, "NOT")?;
                        Ok(Typed::new(
                            Node::Not(boxed(operand)),
                            SoqlType::Boolean,
                            position,
                        ))
                    }
                    UnaryOp::Minus | UnaryOp::Plus => {
                        let ty = if operand.ty == SoqlType::Double {
                            SoqlType::Double
                        } else {
                            SoqlType::Number
                        };
                        let operand = operand_as(operand, ty, "a sign")?;
                        Ok(Typed::new(
                            Node::Sign {
                                minus: *op == UnaryOp::Minus,
                                operand: boxed(operand),
                            },
                            ty,
                            position,
                        ))
                    }
                }
            }
            Expr::Binary {
                op, left, right, ..
            } => {
                let left = self.expr(left, scope)?;
                let right = self.expr(right, scope)?;
                binary(*op, left, right, position)
            }
            Expr::Call { .. } => self.call(expr, scope),
            Expr::SavedQueryParam { name, .. } => Err(SoqlError::new(
                ErrorKind::NoSuchColumn,
                position,
                format!(
                    "param('{}') reads a parameter of a saved query; this portal saves no \
                     queries, so no parameter has a value",
                    opendata_limits::excerpt(name)
                ),
            )),
            Expr::Cast { expr, to, .. } => {
                let value = self.expr(expr, scope)?;
                let target = SoqlType::parse_cast(to).ok_or_else(|| {
                    SoqlError::mismatch(
                        position,
                        format!("cannot cast to `{}`", opendata_limits::excerpt(to)),
                    )
                })?;
                cast(value, target, position)
            }
            Expr::In {
                expr,
                list,
                negated,
                ..
            } => {
                let mut items = vec![self.expr(expr, scope)?];
                for item in list {
                    items.push(self.expr(item, scope)?);
                }
                let (mut items, _) = unify(items, "IN values")?;
                let value = items.remove(0);
                Ok(Typed::new(
                    Node::In {
                        value: boxed(value),
                        list: items,
                        negated: *negated,
                    },
                    SoqlType::Boolean,
                    position,
                ))
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
                ..
            } => {
                let items = vec![
                    self.expr(expr, scope)?,
                    self.expr(low, scope)?,
                    self.expr(high, scope)?,
                ];
                let (items, ty) = unify(items, "BETWEEN values")?;
                if !ty.is_ordered() {
                    return Err(SoqlError::mismatch(
                        position,
                        format!("{} values have no order", ty.name()),
                    ));
                }
                let [value, low, high] = <[Typed; 3]>::try_from(items)
                    .map_err(|_| SoqlError::mismatch(position, "BETWEEN takes three values"))?;
                Ok(Typed::new(
                    Node::Between {
                        value: boxed(value),
                        low: boxed(low),
                        high: boxed(high),
                        negated: *negated,
                    },
                    SoqlType::Boolean,
                    position,
                ))
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                ..
            } => {
                let value = operand_as(self.expr(expr, scope)?, SoqlType::Text, "LIKE")?;
                let pattern = operand_as(self.expr(pattern, scope)?, SoqlType::Text, "LIKE")?;
                Ok(Typed::new(
                    Node::Like {
                        value: boxed(value),
                        pattern: boxed(pattern),
                        negated: *negated,
                    },
                    SoqlType::Boolean,
                    position,
                ))
            }
            Expr::IsNull { expr, negated, .. } => {
                let value = self.expr(expr, scope)?;
                Ok(Typed::new(
                    Node::IsNull {
                        value: boxed(value),
                        negated: *negated,
                    },
                    SoqlType::Boolean,
                    position,
                ))
            }
            Expr::Field { expr, field, .. } => {
                let value = self.expr(expr, scope)?;
                field_call(value, field, position)
            }
            Expr::Case {
                branches,
                otherwise,
                ..
            } => {
                let mut conditions = Vec::new();
                let mut values = Vec::new();
                for (condition, value) in branches {
                    let condition = self.expr(condition, scope)?;
                    conditions.push(operand_as(condition, SoqlType::Boolean, "CASE WHEN")?);
                    values.push(self.expr(value, scope)?);
                }
                if let Some(otherwise) = otherwise {
                    values.push(self.expr(otherwise, scope)?);
                }
                let (mut values, ty) = unify(values, "CASE values")?;
                let otherwise = otherwise
                    .is_some()
                    .then(|| values.pop())
                    .flatten()
                    .map(boxed);
                Ok(Typed::new(
                    Node::Case {
                        branches: conditions.into_iter().zip(values).collect(),
                        otherwise,
                    },
                    ty,
                    position,
                ))
            }
        }
    }
}
