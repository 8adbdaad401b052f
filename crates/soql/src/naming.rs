//! Socrata's implicit output names: a column keeps its name, `count(*)` is `count`, a call is its
//! name and its arguments' names joined by underscores (`max(sale_amount)` → `max_sale_amount`),
//! an operation joins its operands with a word (`a + b` → `a_plus_b`).

use crate::ast::{Expr, Literal, UnaryOp};

/// The name an unaliased select expression gets. A column keeps its field name exactly (`_1abc`,
/// `:id`), so rows are keyed the way the schema and `X-SODA2-Fields` name them.
pub fn output_name(expr: &Expr) -> String {
    if let Expr::Column { name, .. } = expr {
        return name.clone();
    }
    let name = raw_name(expr);
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '@' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let mut collapsed = String::with_capacity(cleaned.len());
    for c in cleaned.chars() {
        if c == '_' && collapsed.ends_with('_') {
            continue;
        }
        collapsed.push(c);
    }
    let trimmed = collapsed.trim_matches('_');
    if trimmed.is_empty() {
        "expr".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn raw_name(expr: &Expr) -> String {
    match expr {
        Expr::Column { name, .. } => name.clone(),
        Expr::Literal { value, .. } => match value {
            Literal::Text(text) => text.clone(),
            Literal::Number(number) => number.replace('.', "_"),
            Literal::Boolean(value) => value.to_string(),
            Literal::Null => "null".to_owned(),
        },
        Expr::Call {
            name, star: true, ..
        } => name.clone(),
        Expr::Call { name, args, .. } => {
            let mut parts = vec![name.clone()];
            parts.extend(args.iter().map(raw_name));
            parts.join("_")
        }
        Expr::Unary { op, expr, .. } => match op {
            UnaryOp::Not => format!("not_{}", raw_name(expr)),
            UnaryOp::Minus => format!("minus_{}", raw_name(expr)),
            UnaryOp::Plus => raw_name(expr),
        },
        Expr::Binary {
            op, left, right, ..
        } => format!("{}_{}_{}", raw_name(left), op.word(), raw_name(right)),
        Expr::Cast { expr, to, .. } => format!("{}_{to}", raw_name(expr)),
        Expr::In { expr, .. } => format!("{}_in", raw_name(expr)),
        Expr::Between { expr, .. } => format!("{}_between", raw_name(expr)),
        Expr::Like { expr, .. } => format!("{}_like", raw_name(expr)),
        Expr::IsNull { expr, negated, .. } => format!(
            "{}_is_{}null",
            raw_name(expr),
            if *negated { "not_" } else { "" }
        ),
        Expr::Field { expr, field, .. } => format!("{}_{field}", raw_name(expr)),
        Expr::SavedQueryParam { name, .. } => format!("param_{name}"),
        Expr::Case { .. } => "case".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse_expr;

    fn name(input: &str) -> String {
        output_name(&parse_expr(input).unwrap())
    }

    #[test]
    fn names_follow_socrata() {
        assert_eq!(name("town"), "town");
        assert_eq!(name("count(*)"), "count");
        assert_eq!(name("max(sale_amount)"), "max_sale_amount");
        assert_eq!(name("sum(sale_amount)"), "sum_sale_amount");
        assert_eq!(
            name("date_trunc_y(date_recorded)"),
            "date_trunc_y_date_recorded"
        );
        assert_eq!(name("sale_amount * 2"), "sale_amount_times_2");
        assert_eq!(name("count(distinct town)"), "count_town");
        assert_eq!(name(":id"), ":id");
    }

    #[test]
    fn columns_keep_their_field_name_exactly() {
        // A header `1abc` gives the field `_1abc`; its rows are keyed by that name too.
        assert_eq!(name("_1abc"), "_1abc");
        assert_eq!(name("_1abc + 1"), "1abc_plus_1");
    }
}
