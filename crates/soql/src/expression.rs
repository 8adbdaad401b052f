//! Type checking and SQL of one expression: names resolve against the schema (or the select
//! list's aliases), literals become bind parameters, and every operator and call is checked for
//! the types it meets. Recursion follows the tree, whose depth the parser bounds; the nodes
//! compiled are counted, aliases each time they are used, against [`SOQL_NODES`].

use opendata_datastore::schema::Schema;
use opendata_datastore::table::{CREATED_AT_COLUMN, ID_COLUMN, UPDATED_AT_COLUMN, quote_ident};
use opendata_limits::SOQL_NODES;

use crate::ast::{BinaryOp, Expr, Literal, UnaryOp};
use crate::error::{ErrorKind, Position, SoqlError};
use crate::functions::{call, is_aggregate};
use crate::typed::{Binds, Sql, Typed, coerce, render, unify};
use crate::types::{SoqlType, Target, output_expression};

/// What names resolve to while compiling one clause.
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub(crate) schema: &'a Schema,
    /// Select outputs by name (for `$order` and `$having`).
    pub(crate) aliases: &'a [(String, Expr)],
    pub(crate) aggregates_allowed: bool,
}

#[derive(Default)]
pub(crate) struct Compiler {
    pub(crate) binds: Binds,
    /// Expression nodes compiled so far, aliases counted each time they are used.
    pub(crate) nodes: usize,
}

pub(crate) fn unknown_column(name: &str, position: Position) -> SoqlError {
    SoqlError::new(
        ErrorKind::NoSuchColumn,
        position,
        format!("no such column: {}", opendata_limits::excerpt(name)),
    )
    .named(name)
}

impl Compiler {
    fn column(
        &self,
        name: &str,
        position: Position,
        scope: &Scope<'_>,
    ) -> Result<Typed, SoqlError> {
        let ready = |sql: String, ty| Ok(Typed::ready(sql, ty, false, position));
        match name {
            ID_COLUMN => ready(quote_ident(ID_COLUMN), SoqlType::RowId),
            CREATED_AT_COLUMN | UPDATED_AT_COLUMN => {
                ready(quote_ident(name), SoqlType::FixedTimestamp)
            }
            _ => match scope.schema.column(name) {
                Some(column) => ready(
                    quote_ident(&column.field_name),
                    SoqlType::of_column(column.column_type),
                ),
                None => Err(unknown_column(name, position)),
            },
        }
    }

    pub(crate) fn expr(&mut self, expr: &Expr, scope: &Scope<'_>) -> Result<Typed, SoqlError> {
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
            Expr::Literal { value, .. } => Ok(match value {
                Literal::Text(text) => Typed {
                    sql: Sql::TextLiteral(text.clone()),
                    ty: SoqlType::Text,
                    aggregate: false,
                    position,
                },
                Literal::Number(number) => {
                    let literal = Typed {
                        sql: Sql::TextLiteral(number.clone()),
                        ty: SoqlType::Text,
                        aggregate: false,
                        position,
                    };
                    coerce(&mut self.binds, literal, SoqlType::Number)?
                }
                Literal::Boolean(value) => Typed::ready(
                    self.binds.bind(value.to_string(), "boolean"),
                    SoqlType::Boolean,
                    false,
                    position,
                ),
                Literal::Null => Typed::ready("NULL".to_owned(), SoqlType::Null, false, position),
            }),
            Expr::Unary { op, expr, .. } => {
                let operand = self.expr(expr, scope)?;
                let aggregate = operand.aggregate;
                match op {
                    UnaryOp::Not => {
                        let sql = self.operand(operand, SoqlType::Boolean, "NOT")?;
                        Ok(Typed::ready(
                            format!("(NOT {sql})"),
                            SoqlType::Boolean,
                            aggregate,
                            position,
                        ))
                    }
                    UnaryOp::Minus | UnaryOp::Plus => {
                        let ty = if operand.ty == SoqlType::Double {
                            SoqlType::Double
                        } else {
                            SoqlType::Number
                        };
                        let sql = self.operand(operand, ty, "a sign")?;
                        let sign = if *op == UnaryOp::Minus { "-" } else { "+" };
                        Ok(Typed::ready(
                            format!("({sign}{sql})"),
                            ty,
                            aggregate,
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
                self.binary(*op, left, right, position)
            }
            Expr::Call {
                name,
                args,
                distinct,
                star,
                ..
            } => {
                if is_aggregate(name) && !scope.aggregates_allowed {
                    return Err(SoqlError::mismatch(
                        position,
                        format!("{name} is an aggregate, not allowed here (use $having)"),
                    ));
                }
                let args = args
                    .iter()
                    .map(|a| self.expr(a, scope))
                    .collect::<Result<Vec<_>, _>>()?;
                call(&mut self.binds, name, args, *distinct, *star, position)
            }
            Expr::Cast { expr, to, .. } => {
                let value = self.expr(expr, scope)?;
                let target = SoqlType::parse_cast(to).ok_or_else(|| {
                    SoqlError::mismatch(
                        position,
                        format!("cannot cast to `{}`", opendata_limits::excerpt(to)),
                    )
                })?;
                self.cast(value, target, position)
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
                let aggregate = items.iter().any(|i| i.aggregate);
                let (sql, _) = unify(&mut self.binds, items, "IN values")?;
                let not = if *negated { "NOT " } else { "" };
                Ok(Typed::ready(
                    format!("({} {not}IN ({}))", sql[0], sql[1..].join(", ")),
                    SoqlType::Boolean,
                    aggregate,
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
                let aggregate = items.iter().any(|i| i.aggregate);
                let (sql, ty) = unify(&mut self.binds, items, "BETWEEN values")?;
                if !ty.is_ordered() {
                    return Err(SoqlError::mismatch(
                        position,
                        format!("{} values have no order", ty.name()),
                    ));
                }
                let not = if *negated { "NOT " } else { "" };
                Ok(Typed::ready(
                    format!("({} {not}BETWEEN {} AND {})", sql[0], sql[1], sql[2]),
                    SoqlType::Boolean,
                    aggregate,
                    position,
                ))
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                ..
            } => {
                let value = self.expr(expr, scope)?;
                let pattern = self.expr(pattern, scope)?;
                let aggregate = value.aggregate || pattern.aggregate;
                let value = self.operand(value, SoqlType::Text, "LIKE")?;
                let pattern = self.operand(pattern, SoqlType::Text, "LIKE")?;
                let not = if *negated { "NOT " } else { "" };
                Ok(Typed::ready(
                    format!("({value} {not}LIKE {pattern})"),
                    SoqlType::Boolean,
                    aggregate,
                    position,
                ))
            }
            Expr::IsNull { expr, negated, .. } => {
                let value = self.expr(expr, scope)?;
                let aggregate = value.aggregate;
                let sql = render(&mut self.binds, &value);
                let not = if *negated { "NOT " } else { "" };
                Ok(Typed::ready(
                    format!("({sql} IS {not}NULL)"),
                    SoqlType::Boolean,
                    aggregate,
                    position,
                ))
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
                    conditions.push(self.operand(condition, SoqlType::Boolean, "CASE WHEN")?);
                    values.push(self.expr(value, scope)?);
                }
                if let Some(otherwise) = otherwise {
                    values.push(self.expr(otherwise, scope)?);
                }
                let aggregate = values.iter().any(|v| v.aggregate);
                let (values, ty) = unify(&mut self.binds, values, "CASE values")?;
                let mut sql = String::from("(CASE");
                for (condition, value) in conditions.iter().zip(&values) {
                    sql.push_str(&format!(" WHEN {condition} THEN {value}"));
                }
                if otherwise.is_some() {
                    sql.push_str(&format!(" ELSE {}", values[values.len() - 1]));
                }
                sql.push_str(" END)");
                Ok(Typed::ready(sql, ty, aggregate, position))
            }
        }
    }

    /// Renders `typed` as a `ty`, or says what `what` expected.
    pub(crate) fn operand(
        &mut self,
        typed: Typed,
        ty: SoqlType,
        what: &str,
    ) -> Result<String, SoqlError> {
        let position = typed.position;
        let found = typed.ty;
        coerce(&mut self.binds, typed, ty)
            .map(|typed| render(&mut self.binds, &typed))
            .map_err(|_| {
                SoqlError::mismatch(
                    position,
                    format!("{what} expects a {}, not a {}", ty.name(), found.name()),
                )
            })
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        left: Typed,
        right: Typed,
        position: Position,
    ) -> Result<Typed, SoqlError> {
        let aggregate = left.aggregate || right.aggregate;
        let symbol = op.symbol();
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let left = self.operand(left, SoqlType::Boolean, symbol)?;
                let right = self.operand(right, SoqlType::Boolean, symbol)?;
                Ok(Typed::ready(
                    format!("({left} {symbol} {right})"),
                    SoqlType::Boolean,
                    aggregate,
                    position,
                ))
            }
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge => {
                let (sql, ty) = unify(&mut self.binds, vec![left, right], "comparisons")?;
                let equality = matches!(op, BinaryOp::Eq | BinaryOp::Ne);
                if !equality && !ty.is_ordered() {
                    return Err(SoqlError::mismatch(
                        position,
                        format!("{} values cannot be compared with {symbol}", ty.name()),
                    ));
                }
                if matches!(ty, SoqlType::Point | SoqlType::Location | SoqlType::Url) {
                    return Err(SoqlError::mismatch(
                        position,
                        format!(
                            "{} values cannot be compared; use within_circle or within_box",
                            ty.name()
                        ),
                    ));
                }
                Ok(Typed::ready(
                    format!("({} {symbol} {})", sql[0], sql[1]),
                    SoqlType::Boolean,
                    aggregate,
                    position,
                ))
            }
            BinaryOp::Concat => {
                let left = self.operand(left, SoqlType::Text, "||")?;
                let right = self.operand(right, SoqlType::Text, "||")?;
                Ok(Typed::ready(
                    format!("({left} || {right})"),
                    SoqlType::Text,
                    aggregate,
                    position,
                ))
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
                let (sql, ty) = unify(&mut self.binds, vec![left, right], "arithmetic")?;
                let ty = if ty == SoqlType::Null {
                    SoqlType::Number
                } else {
                    ty
                };
                if !ty.is_numeric() {
                    return Err(SoqlError::mismatch(
                        position,
                        format!("{symbol} needs numbers, not {} values", ty.name()),
                    ));
                }
                let sql = if op == BinaryOp::Mod && ty == SoqlType::Double {
                    format!(
                        "(({})::numeric % ({})::numeric)::double precision",
                        sql[0], sql[1]
                    )
                } else {
                    format!("({} {symbol} {})", sql[0], sql[1])
                };
                Ok(Typed::ready(sql, ty, aggregate, position))
            }
        }
    }

    fn cast(
        &mut self,
        value: Typed,
        target: SoqlType,
        position: Position,
    ) -> Result<Typed, SoqlError> {
        let aggregate = value.aggregate;
        if matches!(value.sql, Sql::TextLiteral(_)) && target != SoqlType::Text {
            return coerce(&mut self.binds, value, target);
        }
        if value.ty == target {
            return Ok(value);
        }
        let sql = render(&mut self.binds, &value);
        let cast = match (value.ty, target) {
            (_, SoqlType::Text) => output_expression(&sql, value.ty, Target::Json).0,
            (
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
                format!("({sql})::{}", target.sql_type())
            }
            (from, to) => {
                return Err(SoqlError::mismatch(
                    position,
                    format!("cannot cast a {} to a {}", from.name(), to.name()),
                ));
            }
        };
        Ok(Typed::ready(cast, target, aggregate, position))
    }
}
