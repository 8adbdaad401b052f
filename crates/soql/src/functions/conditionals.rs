//! Conditionals and comparisons of several values.

use super::*;

pub(super) static FUNCTIONS: &[Function] = &[
    Function {
        name: "case",
        kind: Kind::Scalar,
        usage: "case(condition, value, …)",
        doc: "The value of the first condition that holds, else null (also `CASE WHEN … END`).",
        example: example(
            "case(sold, 'yes', true, 'no')",
            "(CASE WHEN \"sold\" THEN $1::text WHEN $2::boolean THEN $3::text END)",
            "yes",
        ),
        args: Args::Pairs,
        returns: Returns::Shared,
        sql: Render::With(case, Copies::Each(1)),
    },
    Function {
        name: "coalesce",
        kind: Kind::Scalar,
        usage: "coalesce(value, …)",
        doc: "The first value that is not null.",
        example: example(
            "coalesce(ratio, 0)",
            "coalesce(\"ratio\", ($1::numeric)::double precision)",
            "0.5",
        ),
        args: Args::Same { ordered: false },
        returns: Returns::Shared,
        sql: Render::Template("coalesce({*})"),
    },
    Function {
        name: "greatest",
        kind: Kind::Scalar,
        usage: "greatest(value, …)",
        doc: "The largest of the values, nulls left out.",
        example: example(
            "greatest(sale_amount, 200000)",
            "greatest(\"sale_amount\", $1::numeric)",
            "200000",
        ),
        args: Args::Same { ordered: true },
        returns: Returns::Shared,
        sql: Render::Template("greatest({*})"),
    },
    Function {
        name: "least",
        kind: Kind::Scalar,
        usage: "least(value, …)",
        doc: "The smallest of the values, nulls left out.",
        example: example(
            "least(sale_amount, 200000)",
            "least(\"sale_amount\", $1::numeric)",
            "100000",
        ),
        args: Args::Same { ordered: true },
        returns: Returns::Shared,
        sql: Render::Template("least({*})"),
    },
];

fn case(binds: &mut Binds, call: &Invocation<'_>) -> String {
    let mut out = String::from("(CASE");
    for pair in call.args.chunks(2) {
        let condition = sql(binds, &pair[0]);
        let value = sql(binds, &pair[1]);
        out.push_str(&format!(" WHEN {condition} THEN {value}"));
    }
    out.push_str(" END)");
    out
}
