//! Type checking, the first pass: an expression becomes a [`Typed`] tree. Names resolve against
//! the schema (or the select list's aliases), literals are read as the type they meet, and every
//! operator and call is checked for the types it meets; calls against their row of
//! [`functions`](crate::functions::functions). Recursion follows the tree, whose depth the parser
//! bounds; the nodes checked are counted, aliases each time they are used, against [`SOQL_NODES`].

use opendata_datastore::coerce::coerce_into;
use opendata_datastore::schema::Schema;
use opendata_datastore::table::{CREATED_AT_COLUMN, ID_COLUMN, UPDATED_AT_COLUMN, quote_ident};
use opendata_limits::{SOQL_NODES, SOQL_SHAPE_VERTICES};

use crate::ast::{BinaryOp, Expr, Literal, UnaryOp};
use crate::error::{ErrorKind, Position, SoqlError};
use crate::functions::{Args, Function, Kind, Param, Returns, functions, is_aggregate, lookup};
use crate::geometry::{parse_polygons, parse_shape};
use crate::typed::{Node, Typed};
use crate::types::{Engine, SoqlType};

/// What names resolve to while checking one clause.
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub(crate) schema: &'a Schema,
    /// Select outputs by name (for `$order` and `$having`).
    pub(crate) aliases: &'a [(String, Expr)],
    pub(crate) aggregates_allowed: bool,
}

/// The type checker of one query.
#[derive(Default)]
pub(crate) struct Checker {
    /// What the database can run beyond PostgreSQL itself.
    engine: Engine,
    /// Expression nodes checked so far, aliases counted each time they are used.
    nodes: usize,
    /// The weight (see [`Typed::weight`]) of the expressions checked so far.
    weight: usize,
    /// How deep in an expression the checker is (0 between expressions).
    depth: usize,
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
    /// A checker for a database that can run what `engine` says.
    pub(crate) fn new(engine: Engine) -> Checker {
        Checker {
            engine,
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
            Expr::Call {
                name,
                args,
                distinct,
                star,
                ..
            } => {
                if let Some(function) = lookup(name)
                    && function.needs_postgis()
                    && !self.engine.postgis
                {
                    return Err(SoqlError::new(
                        ErrorKind::NoSuchFunction,
                        position,
                        format!(
                            "{name} needs PostGIS, which this portal's database does not have; \
                             its operators can add it (CREATE EXTENSION postgis)"
                        ),
                    )
                    .named(name));
                }
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
                call(name, args, *distinct, *star, position)
            }
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
                part(value, field, position)
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

fn binary(op: BinaryOp, left: Typed, right: Typed, position: Position) -> Result<Typed, SoqlError> {
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
            let (mut items, ty) = unify(vec![left, right], "arithmetic")?;
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
            let right = items.remove(1);
            node(items.remove(0), right, ty)
        }
    }
}

fn cast(value: Typed, target: SoqlType, position: Position) -> Result<Typed, SoqlError> {
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

/// `value.field`: the call of the function that reads that part of the value's type
/// (`location.latitude` is `location_latitude(location)`), so the function table says which
/// fields each type has.
fn part(value: Typed, field: &str, position: Position) -> Result<Typed, SoqlError> {
    let prefix = match value.ty {
        SoqlType::Point => "point",
        SoqlType::Location => "location",
        SoqlType::Url => "url",
        other => {
            return Err(SoqlError::mismatch(
                position,
                format!("{} values have no fields", other.name()),
            ));
        }
    };
    let name = format!("{prefix}_{field}");
    if lookup(&name).is_none() {
        let fields: Vec<&str> = functions()
            .filter_map(|function| function.name.strip_prefix(prefix)?.strip_prefix('_'))
            .collect();
        return Err(SoqlError::mismatch(
            position,
            format!(
                "{prefix} values have no field `{}`; they have {}",
                opendata_limits::excerpt(field),
                fields.join(", ")
            ),
        ));
    }
    call(&name, vec![value], false, false, position)
}

/// Checks a call of `name` against its row of the function table.
fn call(
    name: &str,
    args: Vec<Typed>,
    distinct: bool,
    star: bool,
    position: Position,
) -> Result<Typed, SoqlError> {
    let function = lookup(name);
    let aggregates = function.is_some_and(|f| matches!(f.kind, Kind::Aggregate | Kind::Counting));
    if let Some(nested) = args.iter().find(|a| a.aggregate).filter(|_| aggregates) {
        return Err(SoqlError::mismatch(
            nested.position,
            "aggregates cannot be nested",
        ));
    }
    let counting = function.is_some_and(|f| f.kind == Kind::Counting);
    if (distinct || star) && !counting {
        return Err(no_such_function(
            name,
            position,
            if star { "(*)" } else { " with DISTINCT" },
        ));
    }
    let Some(function) = function else {
        return Err(no_such_function(name, position, ""));
    };
    let (args, ty) = if star {
        (Vec::new(), SoqlType::Number)
    } else {
        arguments(function, args, position)?
    };
    Ok(Typed::new(
        Node::Call {
            function,
            args,
            distinct,
            star,
        },
        ty,
        position,
    ))
}

/// The arguments of a call, each checked against its parameter, and the call's type.
fn arguments(
    function: &'static Function,
    args: Vec<Typed>,
    position: Position,
) -> Result<(Vec<Typed>, SoqlType), SoqlError> {
    let name = function.name;
    let (args, shared) = match &function.args {
        Args::Fixed { params, optional } => {
            let most = params.len();
            let least = most - optional;
            if !(least..=most).contains(&args.len()) {
                let expected = if least == most {
                    format!("{most}")
                } else {
                    format!("{least} to {most}")
                };
                return Err(no_such_function(
                    name,
                    position,
                    &format!(" with {} arguments (it takes {expected})", args.len()),
                ));
            }
            let args = args
                .into_iter()
                .zip(params.iter())
                .map(|(arg, param)| argument(name, arg, *param))
                .collect::<Result<Vec<_>, _>>()?;
            (args, None)
        }
        Args::Same { ordered } => {
            if args.is_empty() {
                return Err(no_such_function(name, position, " without arguments"));
            }
            let (args, ty) = unify(args, &format!("the arguments of {name}"))?;
            if *ordered && !ty.is_ordered() {
                return Err(SoqlError::mismatch(
                    position,
                    format!("{name} cannot compare {} values", ty.name()),
                ));
            }
            (args, Some(ty))
        }
        Args::Pairs => {
            if args.len() < 2 || !args.len().is_multiple_of(2) {
                return Err(no_such_function(
                    name,
                    position,
                    " with an odd number of arguments (it takes condition, value pairs)",
                ));
            }
            let mut conditions = Vec::new();
            let mut values = Vec::new();
            for (index, arg) in args.into_iter().enumerate() {
                if index % 2 == 0 {
                    conditions.push(argument(name, arg, Param::Boolean)?);
                } else {
                    values.push(arg);
                }
            }
            let (values, ty) = unify(values, "case values")?;
            let pairs = conditions
                .into_iter()
                .zip(values)
                .flat_map(|(condition, value)| [condition, value])
                .collect();
            (pairs, Some(ty))
        }
    };
    let ty = match function.returns {
        Returns::Is(ty) => ty,
        Returns::First => match args.first().map(|arg| arg.ty) {
            Some(SoqlType::Null) | None => SoqlType::Text,
            Some(ty) => ty,
        },
        Returns::Shared => shared.unwrap_or(SoqlType::Null),
    };
    Ok((args, ty))
}

/// The WKT text of a `what` argument of `function`, which must be a string literal.
fn wkt_of<'a>(function: &str, arg: &'a Typed, what: &str) -> Result<&'a str, SoqlError> {
    match &arg.node {
        Node::TextLiteral(wkt) => Ok(wkt),
        _ => Err(SoqlError::mismatch(
            arg.position,
            format!("{function} takes the {what} as a WKT string"),
        )),
    }
}

/// Refuses a WKT argument of more than [`SOQL_SHAPE_VERTICES`].
fn within_vertex_limit(vertices: usize, position: Position) -> Result<(), SoqlError> {
    if vertices > SOQL_SHAPE_VERTICES.get() {
        return Err(SoqlError::over_limit(
            SOQL_SHAPE_VERTICES,
            position,
            format!(
                "the shape has {vertices} vertices; at most {} are allowed",
                SOQL_SHAPE_VERTICES.value
            ),
        ));
    }
    Ok(())
}

/// One argument of `function`, checked against what the parameter takes.
fn argument(function: &str, arg: Typed, param: Param) -> Result<Typed, SoqlError> {
    let position = arg.position;
    let exactly = |arg: Typed, ty: SoqlType| {
        let found = arg.ty;
        coerce(arg, ty).map_err(|_| {
            SoqlError::mismatch(
                position,
                format!(
                    "{function} expects a {} here, not a {}",
                    ty.name(),
                    found.name()
                ),
            )
        })
    };
    match param {
        Param::Text => exactly(arg, SoqlType::Text),
        Param::Number => exactly(arg, SoqlType::Number),
        Param::Double => exactly(arg, SoqlType::Double),
        Param::Boolean => exactly(arg, SoqlType::Boolean),
        Param::Numeric => {
            let ty = if arg.ty == SoqlType::Double {
                SoqlType::Double
            } else {
                SoqlType::Number
            };
            exactly(arg, ty)
        }
        Param::Timestamp => {
            let ty = if arg.ty == SoqlType::FixedTimestamp {
                SoqlType::FixedTimestamp
            } else {
                SoqlType::FloatingTimestamp
            };
            exactly(arg, ty)
        }
        Param::Point if arg.ty == SoqlType::Location => Ok(Typed::new(
            Node::LocationPoint(boxed(arg)),
            SoqlType::Point,
            position,
        )),
        Param::Point => exactly(arg, SoqlType::Point),
        Param::Location => exactly(arg, SoqlType::Location),
        Param::Geometry => match arg.ty {
            SoqlType::Location => Ok(Typed::new(
                Node::LocationPoint(boxed(arg)),
                SoqlType::Point,
                position,
            )),
            SoqlType::Point | SoqlType::MultiPoint | SoqlType::MultiPolygon => Ok(arg),
            _ => exactly(arg, SoqlType::Point),
        },
        Param::Shape => {
            let (canonical, vertices) = parse_shape(wkt_of(function, &arg, "shape")?, position)?;
            within_vertex_limit(vertices, position)?;
            Ok(Typed::new(
                Node::Param {
                    value: canonical,
                    sql_type: "text",
                },
                SoqlType::Text,
                position,
            ))
        }
        Param::Url => exactly(arg, SoqlType::Url),
        Param::Ordered if !arg.ty.is_ordered() => Err(SoqlError::mismatch(
            position,
            format!("{function} cannot compare {} values", arg.ty.name()),
        )),
        Param::Ordered | Param::Any => Ok(arg),
        Param::Polygon => {
            let polygons = parse_polygons(wkt_of(function, &arg, "polygon")?, position)?;
            within_vertex_limit(polygons.iter().flatten().map(Vec::len).sum(), position)?;
            Ok(Typed::new(
                Node::Polygons(polygons),
                SoqlType::Text,
                position,
            ))
        }
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
