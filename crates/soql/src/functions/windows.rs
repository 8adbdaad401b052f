//! Window functions: a row's place among the rows of its window, only with `OVER (…)`. (Any
//! aggregate also takes `OVER`: `count(*) OVER (PARTITION BY town)`.)

use super::*;

pub(super) static FUNCTIONS: &[Function] = &[
    Function {
        name: "row_number",
        kind: Kind::Window,
        usage: "row_number() OVER (…)",
        doc: "The row's number in its window, from 1, in the window's order.",
        example: example(
            "row_number() OVER (ORDER BY sale_amount DESC)",
            "(row_number() OVER (ORDER BY \"sale_amount\" DESC NULLS FIRST))::numeric",
            "6",
        ),
        args: fixed(&[]),
        returns: Returns::Is(T::Number),
        sql: Render::Template("row_number()"),
    },
    Function {
        name: "rank",
        kind: Kind::Window,
        usage: "rank() OVER (…)",
        doc: "The row's rank in its window, equal rows sharing one, with gaps after them.",
        example: example(
            "rank() OVER (ORDER BY sold)",
            "(rank() OVER (ORDER BY \"sold\" ASC NULLS LAST))::numeric",
            "3",
        ),
        args: fixed(&[]),
        returns: Returns::Is(T::Number),
        sql: Render::Template("rank()"),
    },
    Function {
        name: "dense_rank",
        kind: Kind::Window,
        usage: "dense_rank() OVER (…)",
        doc: "The row's rank in its window, equal rows sharing one, without gaps.",
        example: example(
            "dense_rank() OVER (ORDER BY sold)",
            "(dense_rank() OVER (ORDER BY \"sold\" ASC NULLS LAST))::numeric",
            "2",
        ),
        args: fixed(&[]),
        returns: Returns::Is(T::Number),
        sql: Render::Template("dense_rank()"),
    },
    Function {
        name: "ntile",
        kind: Kind::Window,
        usage: "ntile(buckets) OVER (…)",
        doc: "Which of so many nearly equal buckets the row falls in, in the window's order.",
        example: example(
            "ntile(2) OVER (ORDER BY sale_amount DESC)",
            "(ntile(($1::numeric)::integer) OVER (ORDER BY \"sale_amount\" DESC NULLS FIRST))::numeric",
            "2",
        ),
        args: fixed(&[P::Number]),
        returns: Returns::Is(T::Number),
        sql: Render::Template("ntile(({0})::integer)"),
    },
    Function {
        name: "first_value",
        kind: Kind::Window,
        usage: "first_value(value) OVER (…)",
        doc: "The value at the first row of the row's frame.",
        example: example(
            "first_value(town) OVER (ORDER BY date_recorded DESC)",
            "(first_value(\"town\") OVER (ORDER BY \"date_recorded\" DESC NULLS FIRST))::text",
            "Énfield",
        ),
        args: fixed(&[P::Any]),
        returns: Returns::First,
        sql: Render::Template("first_value({0})"),
    },
    Function {
        name: "last_value",
        kind: Kind::Window,
        usage: "last_value(value) OVER (…)",
        doc: "The value at the last row of the row's frame (by default the current row's last peer).",
        example: example(
            "last_value(town) OVER (ORDER BY ratio ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)",
            "(last_value(\"town\") OVER (ORDER BY \"ratio\" ASC NULLS LAST ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING))::text",
            "Hartford",
        ),
        args: fixed(&[P::Any]),
        returns: Returns::First,
        sql: Render::Template("last_value({0})"),
    },
    Function {
        name: "lag",
        kind: Kind::Window,
        usage: "lag(value[, rows]) OVER (…)",
        doc: "The value so many rows (1 by default) before the row in its window, or null.",
        example: example(
            "lag(sale_amount) OVER (ORDER BY date_recorded DESC)",
            "(lag(\"sale_amount\", 1) OVER (ORDER BY \"date_recorded\" DESC NULLS FIRST))::numeric",
            "250000",
        ),
        args: Args::Fixed {
            params: &[P::Any, P::Number],
            optional: 1,
        },
        returns: Returns::First,
        sql: Render::With(lag, Copies::Each(1)),
    },
    Function {
        name: "lead",
        kind: Kind::Window,
        usage: "lead(value[, rows]) OVER (…)",
        doc: "The value so many rows (1 by default) after the row in its window, or null.",
        example: example(
            "lead(sale_amount, 2) OVER (ORDER BY date_recorded)",
            "(lead(\"sale_amount\", ($1::numeric)::integer) OVER (ORDER BY \"date_recorded\" ASC NULLS LAST))::numeric",
            "175000.5",
        ),
        args: Args::Fixed {
            params: &[P::Any, P::Number],
            optional: 1,
        },
        returns: Returns::First,
        sql: Render::With(lead, Copies::Each(1)),
    },
];

/// `lag` and `lead` as PostgreSQL's `function`, with the offset 1 when none is given.
fn shifted(binds: &mut Binds, call: &Invocation<'_>, function: &str) -> String {
    let value = sql(binds, &call.args[0]);
    let rows = call.args.get(1).map_or_else(
        || "1".to_owned(),
        |rows| format!("({})::integer", sql(binds, rows)),
    );
    format!("{function}({value}, {rows}){}", call.over)
}

fn lag(binds: &mut Binds, call: &Invocation<'_>) -> String {
    shifted(binds, call, "lag")
}

fn lead(binds: &mut Binds, call: &Invocation<'_>) -> String {
    shifted(binds, call, "lead")
}
