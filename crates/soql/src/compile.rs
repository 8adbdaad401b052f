//! Compiling a SoQL request against a dataset's schema into SQL. Identifiers come only from the
//! schema (quoted), every value is a bind parameter, and every expression is type-checked first.

use std::collections::HashSet;

use opendata_datastore::output::OutputColumn;
use opendata_datastore::schema::{ColumnType, Schema};
use opendata_datastore::table::{
    CREATED_AT_COLUMN, ID_COLUMN, UPDATED_AT_COLUMN, qualified, quote_ident,
};

use opendata_limits::{SOQL_FIELD_FILTERS, SOQL_SEARCH_TERMS, SOQL_SELECTED_COLUMNS, excerpt};

use crate::ast::{BinaryOp, Expr, Literal, Nulls, OrderItem, Selection, Span};
use crate::error::{Position, SoqlError};
use crate::expression::{Compiler, Scope, unknown_column};
use crate::functions::is_aggregate;
use crate::naming::output_name;
use crate::parser::balanced;
use crate::request::{QueryRequest, parse_request};
use crate::typed::{Binds, Typed, render};
use crate::types::{SoqlType, Target, output_expression};

/// `$limit` when none is given: clients page on exactly this.
pub const DEFAULT_LIMIT: u64 = 1000;

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

/// One selected output.
struct Output {
    name: String,
    expr: Expr,
    typed: Typed,
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

    // Field filters are equalities ANDed to $where, as one balanced chain so that many filters
    // never make a deep tree.
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
