//! Aggregates: one value per group of rows.

use super::*;

pub(super) static FUNCTIONS: &[Function] = &[
    Function {
        name: "avg",
        kind: Kind::Aggregate,
        usage: "avg(number)",
        doc: "The mean of the values that are not null.",
        example: example("avg(ratio)", "avg(\"ratio\")", "0.6166666666666667"),
        args: fixed(&[P::Numeric]),
        returns: Returns::First,
        sql: Render::Template("avg({0})"),
    },
    Function {
        name: "count",
        kind: Kind::Counting,
        usage: "count(*), count(value), count(distinct value)",
        doc: "The rows, or the values that are not null (each distinct one once).",
        example: example(
            "count(distinct town)",
            "count(DISTINCT \"town\")::numeric",
            "4",
        ),
        args: fixed(&[P::Any]),
        returns: Returns::Is(T::Number),
        sql: Render::With(count, Copies::Each(1)),
    },
    Function {
        name: "max",
        kind: Kind::Aggregate,
        usage: "max(value)",
        doc: "The largest value (numbers, text, dates, checkboxes).",
        example: example("max(sale_amount)", "max(\"sale_amount\")", "300000"),
        args: fixed(&[P::Ordered]),
        returns: Returns::First,
        sql: Render::Template("max({0})"),
    },
    Function {
        name: "min",
        kind: Kind::Aggregate,
        usage: "min(value)",
        doc: "The smallest value (numbers, text, dates, checkboxes).",
        example: example(
            "min(date_recorded)",
            "min(\"date_recorded\")",
            "2020-01-15T00:00:00.000",
        ),
        args: fixed(&[P::Ordered]),
        returns: Returns::First,
        sql: Render::Template("min({0})"),
    },
    Function {
        name: "sum",
        kind: Kind::Aggregate,
        usage: "sum(number)",
        doc: "The total of the values that are not null.",
        example: example("sum(sale_amount)", "sum(\"sale_amount\")", "1035000.5"),
        args: fixed(&[P::Numeric]),
        returns: Returns::First,
        sql: Render::Template("sum({0})"),
    },
    Function {
        name: "stddev_pop",
        kind: Kind::Aggregate,
        usage: "stddev_pop(number)",
        doc: "The population standard deviation of the values that are not null.",
        example: example(
            "stddev_pop(sale_amount)",
            "stddev_pop(\"sale_amount\")",
            "78620.92861765",
        ),
        args: fixed(&[P::Numeric]),
        returns: Returns::First,
        sql: Render::Template("stddev_pop({0})"),
    },
    Function {
        name: "stddev_samp",
        kind: Kind::Aggregate,
        usage: "stddev_samp(number)",
        doc: "The sample standard deviation of the values that are not null.",
        example: example(
            "stddev_samp(ratio)",
            "stddev_samp(\"ratio\")",
            "0.18073922282301277",
        ),
        args: fixed(&[P::Numeric]),
        returns: Returns::First,
        sql: Render::Template("stddev_samp({0})"),
    },
    Function {
        name: "regr_intercept",
        kind: Kind::Aggregate,
        usage: "regr_intercept(y, x)",
        doc: "The intercept of the least-squares line of y on x, over the rows where both are set.",
        example: example(
            "regr_intercept(sale_amount, ratio)",
            "regr_intercept((\"sale_amount\")::double precision, \"ratio\")",
            "194850.6791044776",
        ),
        args: fixed(&[P::Double, P::Double]),
        returns: Returns::Is(T::Double),
        sql: Render::Template("regr_intercept({0}, {1})"),
    },
    Function {
        name: "regr_r2",
        kind: Kind::Aggregate,
        usage: "regr_r2(y, x)",
        doc: "The square of the correlation of y and x, over the rows where both are set.",
        example: example(
            "regr_r2(sale_amount, ratio)",
            "regr_r2((\"sale_amount\")::double precision, \"ratio\")",
            "0.00025287062487833536",
        ),
        args: fixed(&[P::Double, P::Double]),
        returns: Returns::Is(T::Double),
        sql: Render::Template("regr_r2({0}, {1})"),
    },
    Function {
        name: "regr_slope",
        kind: Kind::Aggregate,
        usage: "regr_slope(y, x)",
        doc: "The slope of the least-squares line of y on x, over the rows where both are set.",
        example: example(
            "regr_slope(sale_amount, ratio)",
            "regr_slope((\"sale_amount\")::double precision, \"ratio\")",
            "-10447.462686567165",
        ),
        args: fixed(&[P::Double, P::Double]),
        returns: Returns::Is(T::Double),
        sql: Render::Template("regr_slope({0}, {1})"),
    },
];

fn count(binds: &mut Binds, call: &Invocation<'_>) -> String {
    if call.star {
        return format!("count(*){}::numeric", call.over);
    }
    let distinct = if call.distinct { "DISTINCT " } else { "" };
    format!(
        "count({distinct}{}){}::numeric",
        sql(binds, &call.args[0]),
        call.over
    )
}
