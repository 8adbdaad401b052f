//! SQL rendering, the second pass: a checked expression ([`Typed`]) becomes PostgreSQL. Every
//! value from a request becomes a bind parameter with an explicit cast; identical values share one
//! parameter, so an expression written twice (in `$select` and `$group`) renders the same SQL.
//! Nothing here can fail: whatever could be wrong was refused by the type checker.

use std::collections::HashMap;

use crate::ast::{BinaryOp, Nulls};
use crate::functions::{Function, Invocation, Kind, Render};
use crate::geometry::polygon_literal;
use crate::typed::{Node, Typed, TypedWindow};
use crate::types::{SoqlType, Target, output_expression};

/// Exponents up to which `^` on numbers is computed exactly.
pub(crate) const EXACT_EXPONENTS: u32 = 16;

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
            } else if *op == BinaryOp::Pow && typed.ty == SoqlType::Number {
                // Exact for small exponents; past them a number's power could hold 131,072
                // digits, so it is a double's (and too large a double is refused).
                format!(
                    "(CASE WHEN abs({right_sql}) <= {EXACT_EXPONENTS} THEN {left_sql} ^ {right_sql} \
                     ELSE (({left_sql})::float8 ^ ({right_sql})::float8)::numeric END)"
                )
            } else {
                format!("({left_sql} {} {right_sql})", op.symbol())
            }
        }
        Node::Call {
            function,
            args,
            distinct,
            star,
            window,
        } => {
            let over = window
                .as_ref()
                .map(|window| over(binds, window))
                .unwrap_or_default();
            let call = call(
                binds,
                function,
                &Invocation {
                    args,
                    distinct: *distinct,
                    star: *star,
                    over: &over,
                },
            );
            if function.kind == Kind::Window {
                // Window functions count in bigint: the value is cast to the node's type.
                format!("({call})::{}", typed.ty.sql_type())
            } else {
                call
            }
        }
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

/// The SQL of a call of `function`. A template's call ends its SQL, so a window follows it.
fn call(binds: &mut Binds, function: &Function, invocation: &Invocation<'_>) -> String {
    match &function.sql {
        Render::Template(template) => {
            let args: Vec<String> = invocation.args.iter().map(|arg| sql(binds, arg)).collect();
            expand(template, &args) + invocation.over
        }
        Render::With(render, _) | Render::PostGis(render) => render(binds, invocation),
    }
}

/// ` OVER (PARTITION BY … ORDER BY … frame)`.
fn over(binds: &mut Binds, window: &TypedWindow) -> String {
    let mut parts = Vec::new();
    if !window.partition.is_empty() {
        let keys: Vec<String> = window.partition.iter().map(|key| sql(binds, key)).collect();
        parts.push(format!("PARTITION BY {}", keys.join(", ")));
    }
    if !window.order.is_empty() {
        let keys: Vec<String> = window
            .order
            .iter()
            .map(|order| {
                let key = sql(binds, &order.key);
                format!("{key} {}", order_direction(order.descending, order.nulls))
            })
            .collect();
        parts.push(format!("ORDER BY {}", keys.join(", ")));
    }
    parts.extend(window.frame.map(|frame| frame.to_string()));
    format!(" OVER ({})", parts.join(" "))
}

/// How an ordering key sorts, in SQL: nulls last going up and first going down, as Socrata
/// orders them, unless said.
pub(crate) fn order_direction(descending: bool, nulls: Option<Nulls>) -> &'static str {
    match (descending, nulls) {
        (false, None | Some(Nulls::Last)) => "ASC NULLS LAST",
        (false, Some(Nulls::First)) => "ASC NULLS FIRST",
        (true, None | Some(Nulls::First)) => "DESC NULLS FIRST",
        (true, Some(Nulls::Last)) => "DESC NULLS LAST",
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
