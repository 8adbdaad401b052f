//! Numbers.

use super::*;

pub(super) static FUNCTIONS: &[Function] = &[
    Function {
        name: "abs",
        kind: Kind::Scalar,
        usage: "abs(number)",
        doc: "The absolute value.",
        example: example(
            "abs(ratio - 1)",
            "abs((\"ratio\" - ($1::numeric)::double precision))",
            "0.5",
        ),
        args: fixed(&[P::Numeric]),
        returns: Returns::First,
        sql: Render::Template("abs({0})"),
    },
    Function {
        name: "ln",
        kind: Kind::Scalar,
        usage: "ln(number)",
        doc: "The natural logarithm.",
        example: example(
            "ln(sale_amount)",
            "ln((\"sale_amount\")::numeric)",
            "11.512925464970228",
        ),
        args: fixed(&[P::Numeric]),
        returns: Returns::Is(T::Number),
        sql: Render::Template("ln(({0})::numeric)"),
    },
    Function {
        name: "round",
        kind: Kind::Scalar,
        usage: "round(number[, digits])",
        doc: "The number rounded to so many decimal digits (none by default).",
        example: example(
            "round(sale_amount / 3, 2)",
            "round(((\"sale_amount\" / $1::numeric))::numeric, ($2::numeric)::integer)",
            "33333.33",
        ),
        args: Args::Fixed {
            params: &[P::Numeric, P::Number],
            optional: 1,
        },
        returns: Returns::Is(T::Number),
        sql: Render::With(round, Copies::Each(1)),
    },
];

fn round(binds: &mut Binds, call: &Invocation<'_>) -> String {
    let value = sql(binds, &call.args[0]);
    let digits = call
        .args
        .get(1)
        .map_or_else(|| "0".to_owned(), |digits| sql(binds, digits));
    format!("round(({value})::numeric, ({digits})::integer)")
}
