//! Compiling a SoQL request against a dataset's schema into SQL, in two passes: every clause is
//! type-checked into a typed tree first ([`crate::clauses`], [`crate::check`]), then rendered
//! ([`crate::render`]) and put together here, with paging, `DISTINCT` and the outputs formatted
//! for the answer. Identifiers come only from the schema (quoted) and every value the caller
//! writes is a bind parameter (see the crate's documentation for the inline numbers).

use opendata_datastore::output::OutputColumn;
use opendata_datastore::schema::Schema;
use opendata_datastore::table::{qualified, quote_ident};

use crate::ast::{Distinct, Expr, OrderItem};
use crate::check::{Allows, Checker, Scope, distinct_by, distinguishable};
use crate::clauses::{
    check_aggregation, condition, group_by, join_field_filters, order_by, search, search_condition,
    select_outputs,
};
use crate::error::{Position, SoqlError};
use crate::render::{Binds, order_direction, sql};
use crate::request::{QueryRequest, parse_request};
use crate::typed::Typed;
use crate::types::{Extensions, Target, output_expression};

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

/// Compiles `request` against `schema` for rows in `table` (in the `data` schema), for a database
/// that runs what `extensions` says.
pub fn compile(
    request: &QueryRequest,
    schema: &Schema,
    table: &str,
    target: Target,
    extensions: Extensions,
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
    join_field_filters(&mut query, request, schema)?;
    let mut checker = Checker::new(extensions);
    let outputs = select_outputs(&query, schema, &mut checker)?;
    if query.distinct == Distinct::All {
        for output in &outputs {
            distinct_by(&output.typed, "DISTINCT").map_err(|e| e.in_parameter("$select"))?;
        }
    }
    let aliases: Vec<(String, Expr)> = outputs
        .iter()
        .map(|o| (o.name.clone(), o.expr.clone()))
        .collect();
    let plain = Scope {
        schema,
        aliases: &[],
        allows: Allows::Values,
    };
    let filter = condition(query.filter.as_ref(), &plain, &mut checker, "$where")?;
    let search = search(&query, request)?;
    let (group_exprs, group) = group_by(&query, schema, &aliases, &mut checker)?;
    let with_aliases = Scope {
        schema,
        aliases: &aliases,
        allows: Allows::Aggregates,
    };
    let having = condition(
        query.having.as_ref(),
        &with_aliases,
        &mut checker,
        "$having",
    )?;
    let ordering = Scope {
        allows: Allows::Windows,
        ..with_aliases
    };
    let order = order_by(&query, &ordering, &mut checker)?;
    let distinct_on = distinct_on(&query.distinct, &with_aliases, &mut checker)?;
    check_aggregation(
        &outputs,
        &group_exprs,
        query.having.as_ref(),
        &order,
        (
            query.distinct.on(),
            distinct_on.iter().any(|key| key.aggregate),
        ),
        &aliases,
    )?;

    // Rendering, in the order the clauses appear in the statement.
    let mut binds = Binds::default();
    let raw: Vec<String> = outputs.iter().map(|o| sql(&mut binds, &o.typed)).collect();
    let filter = filter.map(|typed| sql(&mut binds, &typed));
    let search = search.map(|terms| search_condition(&mut binds, schema, terms));
    let group: Vec<String> = group.iter().map(|typed| sql(&mut binds, typed)).collect();
    let having = having.map(|typed| sql(&mut binds, &typed));
    let order: Vec<(String, &OrderItem)> = order
        .iter()
        .map(|(typed, item)| (sql(&mut binds, typed), item))
        .collect();
    let distinct_on: Vec<String> = distinct_on
        .iter()
        .map(|typed| sql(&mut binds, typed))
        .collect();
    let mut columns = Vec::with_capacity(outputs.len());
    let mut formatted = Vec::with_capacity(outputs.len());
    for (index, output) in outputs.iter().enumerate() {
        let source = if query.distinct == Distinct::All {
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
            .map(|((_, item), sql)| {
                format!("{sql} {}", order_direction(item.descending, item.nulls))
            })
            .collect();
        if keys.is_empty() {
            String::new()
        } else {
            format!(" ORDER BY {}", keys.join(", "))
        }
    };
    let paging = {
        let mut paging = format!(" LIMIT {}", binds.bind(limit.to_string(), "bigint"));
        if let Some(offset) = query.offset.filter(|o| *o > 0) {
            paging.push_str(&format!(
                " OFFSET {}",
                binds.bind(offset.to_string(), "bigint")
            ));
        }
        paging
    };
    let sql = if let Distinct::On(on) = &query.distinct {
        let order_keys: Vec<String> = order.iter().map(|(sql, _)| sql.clone()).collect();
        let ordering = distinct_on_ordering(
            &distinct_on,
            &order_keys,
            order_sql(&order_keys),
            on[0].position(),
        )?;
        format!(
            "SELECT DISTINCT ON ({}) {}{body}{ordering}{paging}",
            distinct_on.join(", "),
            formatted.join(", "),
        )
    } else if query.distinct == Distinct::All {
        // DISTINCT over raw values, ordered by selected outputs, then formatted outside.
        let order_keys: Vec<String> = order
            .iter()
            .map(|(sql, item)| {
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
        let order_keys: Vec<String> = order.iter().map(|(sql, _)| sql.clone()).collect();
        format!(
            "SELECT {}{body}{}{paging}",
            formatted.join(", "),
            order_sql(&order_keys)
        )
    };
    Ok(CompiledQuery {
        sql,
        binds: binds.into_values(),
        columns,
    })
}

/// The `ORDER BY` of a `DISTINCT ON (keys)` query, which answers the first row of each value of
/// the keys in that order: `$order` (`ordered`, its keys `order_keys`), which must begin with
/// the keys, or the keys when there is none.
fn distinct_on_ordering(
    keys: &[String],
    order_keys: &[String],
    ordered: String,
    at: Position,
) -> Result<String, SoqlError> {
    if order_keys.is_empty() {
        let keys: Vec<String> = keys
            .iter()
            .map(|key| format!("{key} ASC NULLS LAST"))
            .collect();
        Ok(format!(" ORDER BY {}", keys.join(", ")))
    } else if order_keys.starts_with(keys) {
        Ok(ordered)
    } else {
        Err(SoqlError::mismatch(
            at,
            "with DISTINCT ON, $order must begin with the DISTINCT ON values, in their order",
        )
        .in_parameter("$order"))
    }
}

/// The values of `DISTINCT ON (…)`, checked: values of rows (or of groups), not constants.
fn distinct_on(
    distinct: &Distinct,
    scope: &Scope<'_>,
    checker: &mut Checker,
) -> Result<Vec<Typed>, SoqlError> {
    let Distinct::On(exprs) = distinct else {
        return Ok(Vec::new());
    };
    exprs
        .iter()
        .map(|expr| {
            if let Expr::Literal { .. } = expr {
                return Err(SoqlError::mismatch(
                    expr.position(),
                    "DISTINCT ON takes values of the rows, not constants",
                ));
            }
            distinguishable(checker.expr(expr, scope)?, "DISTINCT ON")
        })
        .collect::<Result<_, _>>()
        .map_err(|e| e.in_parameter("$select"))
}

#[cfg(test)]
#[path = "compile_tests.rs"]
mod tests;
