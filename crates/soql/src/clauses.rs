//! The clauses of a query, each type-checked against the schema: field filters joined to
//! `$where`, the select list with its output names, `$where`, `$q`, `$group`, `$having` and
//! `$order`, and the rule that with aggregation every value selected, tested in `$having`,
//! ordered by or made distinct on is grouped outside aggregates.
//! [`crate::compile`] renders their SQL and puts it together.

use std::collections::HashSet;

use opendata_datastore::schema::{ColumnType, Schema};
use opendata_datastore::table::{CREATED_AT_COLUMN, ID_COLUMN, UPDATED_AT_COLUMN, quote_ident};
use opendata_limits::{SOQL_FIELD_FILTERS, SOQL_SEARCH_TERMS, SOQL_SELECTED_COLUMNS, excerpt};

use crate::ast::{BinaryOp, Expr, Literal, OrderItem, Query, Selection, Span};
use crate::check::{Allows, Checker, Scope, distinguishable, operand_as, unknown_column};
use crate::error::{Position, SoqlError};
use crate::functions::is_aggregate;
use crate::naming::output_name;
use crate::parser::balanced;
use crate::render::Binds;
use crate::request::QueryRequest;
use crate::typed::Typed;
use crate::types::SoqlType;

/// One selected output.
pub(crate) struct Output {
    /// Its name in the answer.
    pub(crate) name: String,
    /// What was selected.
    pub(crate) expr: Expr,
    /// What it is, checked.
    pub(crate) typed: Typed,
}

/// What a grouped query may read outside aggregates: its group expressions (as printed), and
/// select aliases standing for expressions (in `$having` and `$order`).
struct Grouping<'a> {
    grouped: HashSet<String>,
    aliases: &'a [(String, Expr)],
}

impl Grouping<'_> {
    /// The first column `expr` reads outside an aggregate and outside every grouped expression.
    /// An aggregate over a window reads each (grouped) row, as its window's keys do.
    fn ungrouped(&self, expr: &Expr) -> Option<(String, Position)> {
        if self.grouped.contains(&expr.to_string()) {
            return None;
        }
        match expr {
            Expr::Column { name, span } => match self.aliases.iter().find(|(a, _)| a == name) {
                Some((_, aliased)) if !matches!(aliased, Expr::Column { name: n, .. } if n == name) => {
                    self.ungrouped(aliased)
                }
                _ => Some((name.clone(), span.0)),
            },
            Expr::Call {
                name, window: None, ..
            } if is_aggregate(name) => None,
            _ => expr
                .children()
                .into_iter()
                .find_map(|child| self.ungrouped(child)),
        }
    }

    /// Checks that `expr`, in `clause`, reads only grouped values outside aggregates.
    fn check(&self, expr: &Expr, clause: &str) -> Result<(), SoqlError> {
        match self.ungrouped(expr) {
            Some((name, position)) => Err(SoqlError::mismatch(
                position,
                format!("{name} must be in $group or inside an aggregate such as count or sum"),
            )
            .in_parameter(clause)),
            None => Ok(()),
        }
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

/// ANDs the field filters (`?town=Avon`), equalities, to `query`'s `$where`, as one balanced
/// chain so that many filters never make a deep tree.
pub(crate) fn join_field_filters(
    query: &mut Query,
    request: &QueryRequest,
    schema: &Schema,
) -> Result<(), SoqlError> {
    if let Some(problem) = SOQL_FIELD_FILTERS.count_problem(request.filters.len()) {
        return Err(SoqlError::over_limit(
            SOQL_FIELD_FILTERS,
            Position::default(),
            format!("{problem} field filters"),
        )
        .in_parameter("field filters"));
    }
    let mut conjuncts: Vec<(Span, Expr)> = query
        .filter
        .take()
        .map(|filter| (Span::default(), filter))
        .into_iter()
        .collect();
    for (field, value) in &request.filters {
        if field != ID_COLUMN
            && field != CREATED_AT_COLUMN
            && field != UPDATED_AT_COLUMN
            && schema.column(field).is_none()
        {
            return Err(unknown_column(field, Position::default()).in_parameter(&excerpt(field)));
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
        conjuncts.push((Span::default(), equality));
    }
    query.filter = (!conjuncts.is_empty()).then(|| balanced(conjuncts, BinaryOp::And));
    Ok(())
}

/// The select list (`*` when there is none), each output named, duplicates suffixed.
pub(crate) fn select_outputs(
    query: &Query,
    schema: &Schema,
    checker: &mut Checker,
) -> Result<Vec<Output>, SoqlError> {
    let plain = Scope {
        schema,
        aliases: &[],
        allows: Allows::Windows,
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
        let typed = checker
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
    Ok(outputs)
}

/// A boolean condition of `parameter` (`$where`, `$having`), if the query has one.
pub(crate) fn condition(
    expr: Option<&Expr>,
    scope: &Scope<'_>,
    checker: &mut Checker,
    parameter: &str,
) -> Result<Option<Typed>, SoqlError> {
    let Some(expr) = expr else {
        return Ok(None);
    };
    let typed = checker
        .expr(expr, scope)
        .map_err(|e| e.in_parameter(parameter))?;
    operand_as(typed, SoqlType::Boolean, parameter)
        .map(Some)
        .map_err(|e| e.in_parameter(parameter))
}

/// The words of `$q` (or the search of a `$query`), if the query has one: at most
/// [`SOQL_SEARCH_TERMS`], each one a full-text match over every row.
pub(crate) fn search<'q>(
    query: &'q Query,
    request: &QueryRequest,
) -> Result<Option<&'q str>, SoqlError> {
    let Some(terms) = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    let parameter = if request.query.trim().is_empty() {
        "$q"
    } else {
        "$query"
    };
    // Words as the full-text parser sees them: punctuation separates them too.
    let words = terms
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .count();
    if words > SOQL_SEARCH_TERMS.get() {
        return Err(SoqlError::over_limit(
            SOQL_SEARCH_TERMS,
            Position::default(),
            format!(
                "the search has {words} words; at most {} are allowed",
                SOQL_SEARCH_TERMS.value
            ),
        )
        .in_parameter(parameter));
    }
    Ok(Some(terms))
}

/// `$group`: its expressions (select aliases resolved: `date_trunc_ym(d) AS month ...
/// $group=month`), as written and checked.
pub(crate) fn group_by(
    query: &Query,
    schema: &Schema,
    aliases: &[(String, Expr)],
    checker: &mut Checker,
) -> Result<(Vec<Expr>, Vec<Typed>), SoqlError> {
    let exprs: Vec<Expr> = query
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
    let scope = Scope {
        schema,
        aliases: &[],
        allows: Allows::Values,
    };
    let typed = exprs
        .iter()
        .map(|g| {
            checker
                .expr(g, &scope)
                .and_then(|typed| distinguishable(typed, "$group"))
        })
        .collect::<Result<_, _>>()
        .map_err(|e| e.in_parameter("$group"))?;
    Ok((exprs, typed))
}

/// One key of `$order`: checked, and as written.
pub(crate) type OrderKey = (Typed, OrderItem);

/// `$order`: each key of a type that has an order.
pub(crate) fn order_by(
    query: &Query,
    scope: &Scope<'_>,
    checker: &mut Checker,
) -> Result<Vec<OrderKey>, SoqlError> {
    let mut order = Vec::with_capacity(query.order.len());
    for item in &query.order {
        let typed = checker
            .expr(&item.expr, scope)
            .map_err(|e| e.in_parameter("$order"))?;
        if !typed.ty.is_ordered() {
            return Err(SoqlError::mismatch(
                typed.position,
                format!("{} values have no order", typed.ty.name()),
            )
            .in_parameter("$order"));
        }
        order.push((typed, item.clone()));
    }
    Ok(order)
}

/// With aggregation, every value selected, ordered by, made distinct on or tested in `$having`
/// outside an aggregate must be grouped. `$having`, or an aggregate in `DISTINCT ON`
/// (`distinct_on_aggregates`), makes the query aggregate as much as its outputs do.
pub(crate) fn check_aggregation(
    outputs: &[Output],
    group: &[Expr],
    having: Option<&Expr>,
    order: &[OrderKey],
    (distinct_on, distinct_on_aggregates): (&[Expr], bool),
    aliases: &[(String, Expr)],
) -> Result<(), SoqlError> {
    let aggregated = !group.is_empty()
        || having.is_some()
        || distinct_on_aggregates
        || outputs.iter().any(|o| o.typed.aggregate)
        || order.iter().any(|(typed, _)| typed.aggregate);
    if !aggregated {
        return Ok(());
    }
    let grouped: HashSet<String> = group.iter().map(ToString::to_string).collect();
    // The select list reads no aliases; the clauses after it do.
    let in_select = Grouping {
        grouped: grouped.clone(),
        aliases: &[],
    };
    let after_select = Grouping { grouped, aliases };
    for output in outputs {
        in_select.check(&output.expr, "$select")?;
    }
    if let Some(having) = having {
        after_select.check(having, "$having")?;
    }
    for (_, item) in order {
        after_select.check(&item.expr, "$order")?;
    }
    for expr in distinct_on {
        after_select.check(expr, "$select")?;
    }
    Ok(())
}

/// The SQL of a search: the words must all appear in the row's text columns (English
/// stemming).
pub(crate) fn search_condition(binds: &mut Binds, schema: &Schema, terms: &str) -> String {
    let text_columns: Vec<String> = schema
        .columns
        .iter()
        .filter(|c| c.column_type == ColumnType::Text)
        .map(|c| format!("coalesce({}, '')", quote_ident(&c.field_name)))
        .collect();
    if text_columns.is_empty() {
        return "false".to_owned();
    }
    format!(
        "(to_tsvector('english', {}) @@ websearch_to_tsquery('english', {}))",
        text_columns.join(" || ' ' || "),
        binds.bind(terms.to_owned(), "text")
    )
}
