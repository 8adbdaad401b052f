//! Compiling a SoQL request against a dataset's schema into SQL. Identifiers come only from the
//! schema (quoted), every value is a bind parameter, and every expression is type-checked first.

use std::collections::HashSet;

use opendata_datastore::output::OutputColumn;
use opendata_datastore::schema::{ColumnType, Schema};
use opendata_datastore::table::{
    CREATED_AT_COLUMN, ID_COLUMN, UPDATED_AT_COLUMN, qualified, quote_ident,
};

use opendata_limits::{SOQL_NODES, SOQL_SEARCH_TERMS, SOQL_SELECTED_COLUMNS, SOQL_TEXT};

use crate::ast::{BinaryOp, Expr, Literal, Nulls, OrderItem, Query, Selection, UnaryOp};
use crate::error::{ErrorKind, Position, SoqlError};
use crate::functions::{call, is_aggregate};
use crate::naming::output_name;
use crate::parser::{parse_expr, parse_group, parse_order, parse_query, parse_select};
use crate::typed::{Binds, Sql, Typed, coerce, render, unify};
use crate::types::{SoqlType, Target, output_expression};

/// `$limit` when none is given: clients page on exactly this.
pub const DEFAULT_LIMIT: u64 = 1000;

/// The query parameters as the public sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryRequest {
    /// `$select`.
    pub select: String,
    /// `$where`.
    pub where_clause: String,
    /// `$order`.
    pub order: String,
    /// `$group`.
    pub group: String,
    /// `$having`.
    pub having: String,
    /// `$limit` (default 1000, no maximum).
    pub limit: Option<u64>,
    /// `$offset`.
    pub offset: u64,
    /// `$q`.
    pub search: String,
    /// `$query`.
    pub query: String,
    /// `?field=value` filters, ANDed.
    pub filters: Vec<(String, String)>,
}

/// SQL ready to run, with its binds and output columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledQuery {
    /// The statement; every value is a `$n` placeholder.
    pub sql: String,
    /// Values for `$1`, `$2`, ... (text, cast in the SQL).
    pub binds: Vec<String>,
    /// Output columns, in order.
    pub columns: Vec<OutputColumn>,
}

impl QueryRequest {
    /// The SoQL clauses, each with its parameter's name; `$query` last.
    fn clauses(&self) -> [(&'static str, &String); 7] {
        [
            ("$select", &self.select),
            ("$where", &self.where_clause),
            ("$order", &self.order),
            ("$group", &self.group),
            ("$having", &self.having),
            ("$q", &self.search),
            ("$query", &self.query),
        ]
    }
}

/// Refuses text no clause may hold: NUL characters (which PostgreSQL cannot store in text) and
/// more than [`SOQL_TEXT`] bytes in all.
fn check_text(request: &QueryRequest) -> Result<(), SoqlError> {
    let clauses = request.clauses();
    let filters = request
        .filters
        .iter()
        .flat_map(|(field, value)| [(field.as_str(), field), (field.as_str(), value)]);
    let mut total = 0;
    for (parameter, text) in clauses.into_iter().chain(filters) {
        if let Some(at) = text.find('\0') {
            let column = text[..at].chars().count() + 1;
            return Err(SoqlError::malformed(
                Position {
                    line: 1,
                    column: u32::try_from(column).unwrap_or(u32::MAX),
                },
                "NUL characters are not allowed in a query",
            )
            .in_parameter(parameter));
        }
        total += text.len();
    }
    if total > SOQL_TEXT.get() {
        return Err(SoqlError::over_limit(
            SOQL_TEXT,
            Position::default(),
            format!(
                "the query is {total} bytes long; at most {} are allowed",
                SOQL_TEXT.value
            ),
        ));
    }
    Ok(())
}

/// Reads a request's clauses into one query: `$query` alone, or the separate parameters.
pub fn parse_request(request: &QueryRequest) -> Result<Query, SoqlError> {
    check_text(request)?;
    let clause = |text: &str| !text.trim().is_empty();
    if clause(&request.query) {
        let combined = request
            .clauses()
            .into_iter()
            .find(|(name, text)| *name != "$query" && clause(text))
            .map(|(name, _)| name)
            .or_else(|| (request.limit.is_some() || request.offset > 0).then_some("$limit/$offset"))
            .or_else(|| (!request.filters.is_empty()).then_some("field filters"));
        if let Some(other) = combined {
            return Err(SoqlError::malformed(
                Position::default(),
                format!("$query cannot be combined with {other}"),
            )
            .in_parameter("$query"));
        }
        return parse_query(&request.query).map_err(|e| e.in_parameter("$query"));
    }
    let mut query = Query::default();
    if clause(&request.select) {
        let (distinct, select) =
            parse_select(&request.select).map_err(|e| e.in_parameter("$select"))?;
        query.distinct = distinct;
        query.select = select;
    }
    if clause(&request.where_clause) {
        query.filter =
            Some(parse_expr(&request.where_clause).map_err(|e| e.in_parameter("$where"))?);
    }
    if clause(&request.group) {
        query.group = parse_group(&request.group).map_err(|e| e.in_parameter("$group"))?;
    }
    if clause(&request.having) {
        query.having = Some(parse_expr(&request.having).map_err(|e| e.in_parameter("$having"))?);
    }
    if clause(&request.order) {
        query.order = parse_order(&request.order).map_err(|e| e.in_parameter("$order"))?;
    }
    if clause(&request.search) {
        query.search = Some(request.search.clone());
    }
    query.limit = request.limit;
    query.offset = (request.offset > 0).then_some(request.offset);
    Ok(query)
}

/// One selected output.
struct Output {
    name: String,
    expr: Expr,
    typed: Typed,
}

/// What names resolve to while compiling one clause.
#[derive(Clone, Copy)]
struct Scope<'a> {
    schema: &'a Schema,
    /// Select outputs by name (for `$order` and `$having`).
    aliases: &'a [(String, Expr)],
    aggregates_allowed: bool,
}

struct Compiler {
    binds: Binds,
    /// Expression nodes compiled so far, aliases counted each time they are used.
    nodes: usize,
}

fn unknown_column(name: &str, position: Position) -> SoqlError {
    SoqlError::new(
        ErrorKind::NoSuchColumn,
        position,
        format!("no such column: {name}"),
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

    fn expr(&mut self, expr: &Expr, scope: &Scope<'_>) -> Result<Typed, SoqlError> {
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
                    SoqlError::mismatch(position, format!("cannot cast to `{to}`"))
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
    fn operand(&mut self, typed: Typed, ty: SoqlType, what: &str) -> Result<String, SoqlError> {
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

/// Column references outside aggregate calls.
fn bare_columns(expr: &Expr, found: &mut Vec<(String, Position)>) {
    match expr {
        Expr::Column { name, span } => found.push((name.clone(), span.0)),
        Expr::Literal { .. } => {}
        Expr::Call { name, .. } if is_aggregate(name) => {}
        Expr::Call { args, .. } => args.iter().for_each(|a| bare_columns(a, found)),
        Expr::Unary { expr, .. } | Expr::Cast { expr, .. } | Expr::IsNull { expr, .. } => {
            bare_columns(expr, found)
        }
        Expr::Binary { left, right, .. } => {
            bare_columns(left, found);
            bare_columns(right, found);
        }
        Expr::In { expr, list, .. } => {
            bare_columns(expr, found);
            list.iter().for_each(|a| bare_columns(a, found));
        }
        Expr::Between {
            expr, low, high, ..
        } => [expr, low, high]
            .iter()
            .for_each(|e| bare_columns(e, found)),
        Expr::Like { expr, pattern, .. } => {
            bare_columns(expr, found);
            bare_columns(pattern, found);
        }
        Expr::Case {
            branches,
            otherwise,
            ..
        } => {
            for (condition, value) in branches {
                bare_columns(condition, found);
                bare_columns(value, found);
            }
            if let Some(otherwise) = otherwise {
                bare_columns(otherwise, found);
            }
        }
    }
}

/// Checks that `expr` is grouped: it is a group expression, or every column outside aggregates in
/// it is one. `grouped` holds the group expressions as printed.
fn check_grouped(expr: &Expr, grouped: &HashSet<String>, clause: &str) -> Result<(), SoqlError> {
    if grouped.contains(&expr.to_string()) {
        return Ok(());
    }
    let mut columns = Vec::new();
    bare_columns(expr, &mut columns);
    match columns.into_iter().find(|(name, _)| {
        !grouped.contains(
            &Expr::Column {
                name: name.clone(),
                span: Default::default(),
            }
            .to_string(),
        )
    }) {
        Some((name, position)) => Err(SoqlError::mismatch(
            position,
            format!("{name} must be in $group or inside an aggregate such as count or sum"),
        )
        .in_parameter(clause)),
        None => Ok(()),
    }
}

fn system_columns() -> Vec<Expr> {
    [ID_COLUMN, CREATED_AT_COLUMN, UPDATED_AT_COLUMN]
        .iter()
        .map(|name| Expr::Column {
            name: (*name).to_owned(),
            span: Default::default(),
        })
        .collect()
}

/// Compiles `request` against `schema` for rows in `table` (in the `data` schema).
pub fn compile(
    request: &QueryRequest,
    schema: &Schema,
    table: &str,
    target: Target,
) -> Result<CompiledQuery, SoqlError> {
    let mut query = parse_request(request)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    for value in [Some(limit), query.offset].into_iter().flatten() {
        if i64::try_from(value).is_err() {
            return Err(
                SoqlError::malformed(Position::default(), format!("{value} is too large"))
                    .in_parameter("$limit"),
            );
        }
    }
    let mut compiler = Compiler {
        binds: Binds::default(),
        nodes: 0,
    };

    // Field filters are equalities ANDed to $where.
    for (field, value) in &request.filters {
        if field != ID_COLUMN
            && field != CREATED_AT_COLUMN
            && field != UPDATED_AT_COLUMN
            && schema.column(field).is_none()
        {
            return Err(unknown_column(field, Position::default()).in_parameter(field));
        }
        let equality = Expr::Binary {
            op: BinaryOp::Eq,
            left: Box::new(Expr::Column {
                name: field.clone(),
                span: Default::default(),
            }),
            right: Box::new(Expr::Literal {
                value: Literal::Text(value.clone()),
                span: Default::default(),
            }),
            span: Default::default(),
        };
        query.filter = Some(match query.filter.take() {
            Some(filter) => Expr::Binary {
                op: BinaryOp::And,
                left: Box::new(filter),
                right: Box::new(equality),
                span: Default::default(),
            },
            None => equality,
        });
    }

    // The select list.
    let plain = Scope {
        schema,
        aliases: &[],
        aggregates_allowed: true,
    };
    let mut items: Vec<(Expr, Option<String>)> = Vec::new();
    let selections = if query.select.is_empty() {
        vec![Selection::Star]
    } else {
        query.select.clone()
    };
    for selection in selections {
        match selection {
            Selection::Star => items.extend(schema.columns.iter().map(|c| {
                (
                    Expr::Column {
                        name: c.field_name.clone(),
                        span: Default::default(),
                    },
                    None,
                )
            })),
            Selection::SystemStar => items.extend(system_columns().into_iter().map(|e| (e, None))),
            Selection::Expr { expr, alias } => items.push((expr, alias)),
        }
    }
    if items.len() > SOQL_SELECTED_COLUMNS.get() {
        return Err(SoqlError::over_limit(
            SOQL_SELECTED_COLUMNS,
            Position::default(),
            format!(
                "the query selects {} columns; at most {} are allowed",
                items.len(),
                SOQL_SELECTED_COLUMNS.value
            ),
        )
        .in_parameter("$select"));
    }
    let mut outputs: Vec<Output> = Vec::with_capacity(items.len());
    let mut names = HashSet::new();
    for (expr, alias) in items {
        let typed = compiler
            .expr(&expr, &plain)
            .map_err(|e| e.in_parameter("$select"))?;
        let base = alias.unwrap_or_else(|| output_name(&expr));
        let mut name = base.clone();
        let mut suffix = 1;
        while !names.insert(name.clone()) {
            name = format!("{base}_{suffix}");
            suffix += 1;
        }
        outputs.push(Output { name, expr, typed });
    }
    let aliases: Vec<(String, Expr)> = outputs
        .iter()
        .map(|o| (o.name.clone(), o.expr.clone()))
        .collect();

    let filter = match &query.filter {
        Some(filter) => {
            let scope = Scope {
                schema,
                aliases: &[],
                aggregates_allowed: false,
            };
            let typed = compiler
                .expr(filter, &scope)
                .map_err(|e| e.in_parameter("$where"))?;
            Some(
                compiler
                    .operand(typed, SoqlType::Boolean, "$where")
                    .map_err(|e| e.in_parameter("$where"))?,
            )
        }
        None => None,
    };
    let search = match query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(terms) => {
            let parameter = if request.query.trim().is_empty() {
                "$q"
            } else {
                "$query"
            };
            Some(
                search_condition(&mut compiler.binds, schema, terms)
                    .map_err(|e| e.in_parameter(parameter))?,
            )
        }
        None => None,
    };
    // `$group` may name select aliases (`date_trunc_ym(d) AS month ... $group=month`).
    let group_exprs: Vec<Expr> = query
        .group
        .iter()
        .map(|expr| match expr {
            Expr::Column { name, .. } if schema.column(name).is_none() => aliases
                .iter()
                .find(|(alias, _)| alias == name)
                .map_or_else(|| expr.clone(), |(_, aliased)| aliased.clone()),
            _ => expr.clone(),
        })
        .collect();
    let group_scope = Scope {
        schema,
        aliases: &[],
        aggregates_allowed: false,
    };
    let group: Vec<String> = group_exprs
        .iter()
        .map(|g| {
            compiler
                .expr(g, &group_scope)
                .map(|t| render(&mut compiler.binds, &t))
        })
        .collect::<Result<_, _>>()
        .map_err(|e| e.in_parameter("$group"))?;
    let with_aliases = Scope {
        schema,
        aliases: &aliases,
        aggregates_allowed: true,
    };
    let having = match &query.having {
        Some(having) => {
            let typed = compiler
                .expr(having, &with_aliases)
                .map_err(|e| e.in_parameter("$having"))?;
            Some(
                compiler
                    .operand(typed, SoqlType::Boolean, "$having")
                    .map_err(|e| e.in_parameter("$having"))?,
            )
        }
        None => None,
    };
    let mut order = Vec::with_capacity(query.order.len());
    for item in &query.order {
        let typed = compiler
            .expr(&item.expr, &with_aliases)
            .map_err(|e| e.in_parameter("$order"))?;
        if !typed.ty.is_ordered() {
            return Err(SoqlError::mismatch(
                typed.position,
                format!("{} values have no order", typed.ty.name()),
            )
            .in_parameter("$order"));
        }
        order.push((
            render(&mut compiler.binds, &typed),
            typed.aggregate,
            item.clone(),
        ));
    }

    let aggregated = !group.is_empty()
        || having.is_some()
        || outputs.iter().any(|o| o.typed.aggregate)
        || order.iter().any(|(_, aggregate, _)| *aggregate);
    if aggregated {
        let grouped: HashSet<String> = group_exprs.iter().map(ToString::to_string).collect();
        for output in outputs.iter().filter(|o| !o.typed.aggregate) {
            check_grouped(&output.expr, &grouped, "$select")?;
        }
        for (_, aggregate, item) in &order {
            if !aggregate {
                let resolved = aliases
                    .iter()
                    .find(
                        |(name, _)| matches!(&item.expr, Expr::Column { name: n, .. } if n == name),
                    )
                    .map_or(&item.expr, |(_, expr)| expr);
                check_grouped(resolved, &grouped, "$order")?;
            }
        }
    }

    let raw: Vec<String> = outputs
        .iter()
        .map(|o| render(&mut compiler.binds, &o.typed))
        .collect();
    let mut columns = Vec::with_capacity(outputs.len());
    let mut formatted = Vec::with_capacity(outputs.len());
    for (index, output) in outputs.iter().enumerate() {
        let source = if query.distinct {
            quote_ident(&format!("r{index}"))
        } else {
            raw[index].clone()
        };
        let (sql, kind) = output_expression(&source, output.typed.ty, target);
        formatted.push(format!("{sql} AS {}", quote_ident(&format!("c{index}"))));
        columns.push(OutputColumn {
            name: output.name.clone(),
            soql_type: output.typed.ty.name(),
            kind,
        });
    }

    let mut conditions: Vec<String> = filter.into_iter().collect();
    conditions.extend(search);
    let mut body = format!(" FROM {}", qualified(table));
    if !conditions.is_empty() {
        body.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
    }
    if !group.is_empty() {
        body.push_str(&format!(" GROUP BY {}", group.join(", ")));
    }
    if let Some(having) = having {
        body.push_str(&format!(" HAVING {having}"));
    }
    let order_sql = |expressions: &[String]| -> String {
        let keys: Vec<String> = order
            .iter()
            .zip(expressions)
            .map(|((_, _, item), sql)| format!("{sql} {}", order_direction(item)))
            .collect();
        if keys.is_empty() {
            String::new()
        } else {
            format!(" ORDER BY {}", keys.join(", "))
        }
    };
    let paging = {
        let mut paging = format!(
            " LIMIT {}",
            compiler.binds.bind(limit.to_string(), "bigint")
        );
        if let Some(offset) = query.offset.filter(|o| *o > 0) {
            paging.push_str(&format!(
                " OFFSET {}",
                compiler.binds.bind(offset.to_string(), "bigint")
            ));
        }
        paging
    };
    let sql = if query.distinct {
        // DISTINCT over raw values, ordered by selected outputs, then formatted outside.
        let order_keys: Vec<String> = order
            .iter()
            .map(|(sql, _, item)| {
                raw.iter()
                    .position(|r| r == sql)
                    .map(|index| quote_ident(&format!("r{index}")))
                    .ok_or_else(|| {
                        SoqlError::mismatch(
                            item.expr.position(),
                            "with DISTINCT, $order may only use selected values",
                        )
                        .in_parameter("$order")
                    })
            })
            .collect::<Result<_, _>>()?;
        let inner: Vec<String> = raw
            .iter()
            .enumerate()
            .map(|(i, r)| format!("{r} AS {}", quote_ident(&format!("r{i}"))))
            .collect();
        format!(
            "SELECT {} FROM (SELECT DISTINCT {}{body}{}{paging}) AS q",
            formatted.join(", "),
            inner.join(", "),
            order_sql(&order_keys)
        )
    } else {
        let order_keys: Vec<String> = order.iter().map(|(sql, _, _)| sql.clone()).collect();
        format!(
            "SELECT {}{body}{}{paging}",
            formatted.join(", "),
            order_sql(&order_keys)
        )
    };
    Ok(CompiledQuery {
        sql,
        binds: compiler.binds.into_values(),
        columns,
    })
}

fn order_direction(item: &OrderItem) -> &'static str {
    match (item.descending, item.nulls) {
        (false, None | Some(Nulls::Last)) => "ASC NULLS LAST",
        (false, Some(Nulls::First)) => "ASC NULLS FIRST",
        (true, None | Some(Nulls::First)) => "DESC NULLS FIRST",
        (true, Some(Nulls::Last)) => "DESC NULLS LAST",
    }
}

/// `$q`: the words must all appear in the row's text columns (English stemming). At most
/// [`SOQL_SEARCH_TERMS`] words: each one is a full-text match over every row.
fn search_condition(binds: &mut Binds, schema: &Schema, terms: &str) -> Result<String, SoqlError> {
    let words = terms.split_whitespace().count();
    if words > SOQL_SEARCH_TERMS.get() {
        return Err(SoqlError::over_limit(
            SOQL_SEARCH_TERMS,
            Position::default(),
            format!(
                "the search has {words} words; at most {} are allowed",
                SOQL_SEARCH_TERMS.value
            ),
        ));
    }
    let text_columns: Vec<String> = schema
        .columns
        .iter()
        .filter(|c| c.column_type == ColumnType::Text)
        .map(|c| format!("coalesce({}, '')", quote_ident(&c.field_name)))
        .collect();
    if text_columns.is_empty() {
        return Ok("false".to_owned());
    }
    Ok(format!(
        "(to_tsvector('english', {}) @@ websearch_to_tsquery('english', {}))",
        text_columns.join(" || ' ' || "),
        binds.bind(terms.to_owned(), "text")
    ))
}

#[cfg(test)]
#[path = "compile_tests.rs"]
mod tests;
