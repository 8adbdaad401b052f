//! SQL rendering, the second pass: a checked expression ([`Typed`]) becomes PostgreSQL. Every
//! value from a request becomes a bind parameter with an explicit cast; identical values share one
//! parameter, so an expression written twice (in `$select` and `$group`) renders the same SQL.
//! Nothing here can fail: whatever could be wrong was refused by the type checker.

use std::collections::HashMap;

use crate::ast::BinaryOp;
use crate::functions::{Invocation, Render};
use crate::geometry::polygon_literal;
use crate::typed::{Node, Typed};
use crate::types::{SoqlType, Target, output_expression};

/// The bind parameters of a query.
#[derive(Debug, Default)]
pub(crate) struct Binds {
    values: Vec<String>,
    seen: HashMap<(String, &'static str), usize>,
}

impl Binds {
    /// A placeholder (`$3::numeric`) for a value of a PostgreSQL type.
    pub(crate) fn bind(&mut self, value: String, sql_type: &'static str) -> String {
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
    pub(crate) fn into_values(self) -> Vec<String> {
        self.values
    }
}

/// The SQL of `typed`, its values bound in `binds`.
pub(crate) fn sql(binds: &mut Binds, typed: &Typed) -> String {
    let not = |negated: bool| if negated { "NOT " } else { "" };
    match &typed.node {
        Node::Column(identifier) => identifier.clone(),
        Node::TextLiteral(text) => binds.bind(text.clone(), "text"),
        Node::Param { value, sql_type } => binds.bind(value.clone(), sql_type),
        Node::Null if typed.ty == SoqlType::Null => "NULL".to_owned(),
        Node::Null => format!("NULL::{}", typed.ty.sql_type()),
        Node::LocationPoint(location) => {
            let location = sql(binds, location);
            format!(
                "point((({location})->>'longitude')::float8, (({location})->>'latitude')::float8)"
            )
        }
        // Only within_polygon takes polygons, and it binds their rings itself.
        Node::Polygons(polygons) => {
            let outlines: Vec<String> = polygons
                .iter()
                .map(|rings| binds.bind(polygon_literal(&rings[0]), "polygon"))
                .collect();
            format!("ARRAY[{}]", outlines.join(", "))
        }
        Node::Not(operand) => format!("(NOT {})", sql(binds, operand)),
        Node::Sign { minus, operand } => {
            let sign = if *minus { "-" } else { "+" };
            format!("({sign}{})", sql(binds, operand))
        }
        Node::Binary { op, left, right } => {
            let left_sql = sql(binds, left);
            let right_sql = sql(binds, right);
            if *op == BinaryOp::Mod && typed.ty == SoqlType::Double {
                format!("(({left_sql})::numeric % ({right_sql})::numeric)::double precision")
            } else {
                format!("({left_sql} {} {right_sql})", op.symbol())
            }
        }
        Node::Call {
            function,
            args,
            distinct,
            star,
        } => match &function.sql {
            Render::Template(template) => {
                let args: Vec<String> = args.iter().map(|arg| sql(binds, arg)).collect();
                expand(template, &args)
            }
            Render::With(render, _) | Render::PostGis(render) => render(
                binds,
                &Invocation {
                    args,
                    distinct: *distinct,
                    star: *star,
                },
            ),
        },
        Node::Cast(operand) => {
            let operand_sql = sql(binds, operand);
            if typed.ty == SoqlType::Text {
                output_expression(&operand_sql, operand.ty, Target::Json).0
            } else if typed.ty == SoqlType::Boolean && operand.ty.is_numeric() {
                // PostgreSQL casts no number to boolean: any but zero is true.
                format!("(({operand_sql}) <> 0)")
            } else {
                format!("({operand_sql})::{}", typed.ty.sql_type())
            }
        }
        Node::In {
            value,
            list,
            negated,
        } => {
            let value = sql(binds, value);
            let list: Vec<String> = list.iter().map(|item| sql(binds, item)).collect();
            format!("({value} {}IN ({}))", not(*negated), list.join(", "))
        }
        Node::Between {
            value,
            low,
            high,
            negated,
        } => {
            let value = sql(binds, value);
            let low = sql(binds, low);
            let high = sql(binds, high);
            format!("({value} {}BETWEEN {low} AND {high})", not(*negated))
        }
        Node::Like {
            value,
            pattern,
            negated,
        } => {
            let value = sql(binds, value);
            let pattern = sql(binds, pattern);
            format!("({value} {}LIKE {pattern})", not(*negated))
        }
        Node::IsNull { value, negated } => {
            format!("({} IS {}NULL)", sql(binds, value), not(*negated))
        }
        Node::Case {
            branches,
            otherwise,
        } => {
            let mut out = String::from("(CASE");
            for (condition, value) in branches {
                let condition = sql(binds, condition);
                let value = sql(binds, value);
                out.push_str(&format!(" WHEN {condition} THEN {value}"));
            }
            if let Some(otherwise) = otherwise {
                out.push_str(&format!(" ELSE {}", sql(binds, otherwise)));
            }
            out.push_str(" END)");
            out
        }
    }
}

/// Fills a [`Render::Template`]: `{n}` is the n-th argument, `{*}` all of them. One pass, so
/// an argument's SQL is never read as a template.
fn expand(template: &str, args: &[String]) -> String {
    let mut out =
        String::with_capacity(template.len() + args.iter().map(String::len).sum::<usize>());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        match &after[..close] {
            "*" => out.push_str(&args.join(", ")),
            index => match index.parse::<usize>().ok().and_then(|i| args.get(i)) {
                Some(arg) => out.push_str(arg),
                None => out.push_str(&rest[open..open + close + 2]),
            },
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn templates_fill_in_one_pass() {
        let args = ["\"a\"".to_owned(), "{0}".to_owned()];
        assert_eq!(expand("f({0}, {1})", &args), "f(\"a\", {0})");
        assert_eq!(expand("g({*})", &args), "g(\"a\", {0})");
        assert_eq!(expand("h({2}) {", &args), "h({2}) {");
    }
}
