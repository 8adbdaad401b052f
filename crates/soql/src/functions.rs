//! SoQL's functions, in one table: [`FUNCTIONS`]. A row gives a function's name, the arguments it
//! takes, what it returns, whether it aggregates, its SQL, a line of documentation and an example
//! with its SQL and its value over the test sample. The type checker ([`crate::check`]), the SQL
//! renderer ([`crate::render`]), the README's function list ([`markdown_table`]) and the function
//! tests all read this table: adding a function is adding a row.

use crate::geometry::{haversine, polygon_literal};
use crate::render::{Binds, sql};
use crate::typed::{Node, Typed};
use crate::types::SoqlType;

/// One SoQL function.
pub struct Function {
    /// Its name, lowercase.
    pub name: &'static str,
    /// Whether it aggregates rows, and whether it takes `*` and `DISTINCT`.
    pub kind: Kind,
    /// How it is called, for people: `round(number[, digits])`.
    pub usage: &'static str,
    /// What it does, one line.
    pub doc: &'static str,
    /// An example over the test sample (see [`Example`]).
    pub example: Example,
    pub(crate) args: Args,
    pub(crate) returns: Returns,
    pub(crate) sql: Render,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Whether a function aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One value per row.
    Scalar,
    /// One value per group.
    Aggregate,
    /// An aggregate that also takes `*` and `DISTINCT` (`count(*)`, `count(distinct x)`).
    Counting,
}

/// A call of a function, its SQL against the compiler's test schema, and its value: over the
/// sample's first row for a scalar function, over all its rows for an aggregate.
pub struct Example {
    /// The call, as written in `$select`.
    pub soql: &'static str,
    /// Its SQL.
    pub sql: &'static str,
    /// Its value as the JSON answer writes it (strings unquoted).
    pub value: &'static str,
}

/// The arguments a function takes.
pub(crate) enum Args {
    /// Exactly these, except that the last `optional` may be left out.
    Fixed {
        params: &'static [Param],
        optional: usize,
    },
    /// One or more values of one type, brought together as `case` values are; `ordered` when the
    /// type must have an order.
    Same { ordered: bool },
    /// Condition, value pairs.
    Pairs,
}

/// What one argument must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Param {
    Text,
    Number,
    Double,
    Boolean,
    /// A number or a double, kept as it is.
    Numeric,
    /// A floating or fixed timestamp, kept as it is.
    Timestamp,
    /// A point, or a location's point.
    Point,
    /// A value of any type that has an order.
    Ordered,
    /// A value of any type.
    Any,
    /// A WKT `POLYGON` or `MULTIPOLYGON` string literal.
    Polygon,
}

/// What a function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Returns {
    /// Always this type.
    Is(SoqlType),
    /// The type of the first argument (text for a bare `null`).
    First,
    /// The type its values were brought to ([`Args::Same`], [`Args::Pairs`]).
    Shared,
}

/// How a call is written in SQL.
pub(crate) enum Render {
    /// A template: `{0}`, `{1}`, … are the arguments' SQL, `{*}` all of them comma-separated.
    Template(&'static str),
    /// Written by a function of the arguments (rendered with [`sql`]) and the call's binds,
    /// which writes each argument at most so many times.
    With(fn(&mut Binds, &Invocation<'_>) -> String, Copies),
}

/// How many times a [`Render::With`] function writes an argument's SQL, at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Copies {
    Each(usize),
    /// The other arguments once for every ring (outline or hole) of the polygon argument, whose
    /// rings are bound once each.
    PerRing,
}

impl Function {
    /// How many times its SQL writes argument `index` of `args`, at most.
    pub(crate) fn copies(&self, args: &[Typed], index: usize) -> usize {
        let copies = match &self.sql {
            Render::Template(template) => {
                template.matches(&format!("{{{index}}}")).count() + template.matches("{*}").count()
            }
            Render::With(_, Copies::Each(copies)) => *copies,
            Render::With(_, Copies::PerRing) => match &args.get(index).map(|arg| &arg.node) {
                Some(Node::Polygons(_)) => 1,
                _ => args
                    .iter()
                    .map(|arg| match &arg.node {
                        Node::Polygons(polygons) => polygons.iter().map(Vec::len).sum(),
                        _ => 0,
                    })
                    .sum(),
            },
        };
        copies.max(1)
    }
}

/// A checked call, as a [`Render::With`] function sees it.
pub(crate) struct Invocation<'a> {
    pub(crate) args: &'a [Typed],
    pub(crate) distinct: bool,
    pub(crate) star: bool,
}

use Param as P;
use SoqlType as T;

const fn fixed(params: &'static [Param]) -> Args {
    Args::Fixed {
        params,
        optional: 0,
    }
}

const fn example(soql: &'static str, sql: &'static str, value: &'static str) -> Example {
    Example { soql, sql, value }
}

/// Every SoQL function, alphabetically within each group: aggregates, text, dates,
/// conditionals, numbers, geography.
pub static FUNCTIONS: &[Function] = &[
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
    Function {
        name: "length",
        kind: Kind::Scalar,
        usage: "length(text)",
        doc: "The number of characters.",
        example: example("length(town)", "length(\"town\")::numeric", "4"),
        args: fixed(&[P::Text]),
        returns: Returns::Is(T::Number),
        sql: Render::Template("length({0})::numeric"),
    },
    Function {
        name: "lower",
        kind: Kind::Scalar,
        usage: "lower(text)",
        doc: "The text in lower case.",
        example: example("lower(town)", "lower(\"town\")", "avon"),
        args: fixed(&[P::Text]),
        returns: Returns::Is(T::Text),
        sql: Render::Template("lower({0})"),
    },
    Function {
        name: "starts_with",
        kind: Kind::Scalar,
        usage: "starts_with(text, prefix)",
        doc: "Whether the text starts with the prefix (case matters).",
        example: example(
            "starts_with(town, 'Av')",
            "starts_with(\"town\", $1::text)",
            "true",
        ),
        args: fixed(&[P::Text, P::Text]),
        returns: Returns::Is(T::Boolean),
        sql: Render::Template("starts_with({0}, {1})"),
    },
    Function {
        name: "trim",
        kind: Kind::Scalar,
        usage: "trim(text)",
        doc: "The text without leading and trailing spaces.",
        example: example("trim('  Avon ')", "btrim($1::text)", "Avon"),
        args: fixed(&[P::Text]),
        returns: Returns::Is(T::Text),
        sql: Render::Template("btrim({0})"),
    },
    Function {
        name: "unaccent",
        kind: Kind::Scalar,
        usage: "unaccent(text)",
        doc: "The text without accents (`Énfield` → `Enfield`).",
        example: example(
            "unaccent('Café')",
            "data.unaccent('data.unaccent'::regdictionary, $1::text)",
            "Cafe",
        ),
        args: fixed(&[P::Text]),
        returns: Returns::Is(T::Text),
        sql: Render::Template("data.unaccent('data.unaccent'::regdictionary, {0})"),
    },
    Function {
        name: "upper",
        kind: Kind::Scalar,
        usage: "upper(text)",
        doc: "The text in upper case.",
        example: example("upper(town)", "upper(\"town\")", "AVON"),
        args: fixed(&[P::Text]),
        returns: Returns::Is(T::Text),
        sql: Render::Template("upper({0})"),
    },
    Function {
        name: "date_extract_d",
        kind: Kind::Scalar,
        usage: "date_extract_d(timestamp)",
        doc: "The day of the month, 1 to 31.",
        example: example(
            "date_extract_d(date_recorded)",
            "extract(day from \"date_recorded\")::numeric",
            "15",
        ),
        args: fixed(&[P::Timestamp]),
        returns: Returns::Is(T::Number),
        sql: Render::Template("extract(day from {0})::numeric"),
    },
    Function {
        name: "date_extract_dow",
        kind: Kind::Scalar,
        usage: "date_extract_dow(timestamp)",
        doc: "The day of the week, 0 (Sunday) to 6.",
        example: example(
            "date_extract_dow(date_recorded)",
            "extract(dow from \"date_recorded\")::numeric",
            "3",
        ),
        args: fixed(&[P::Timestamp]),
        returns: Returns::Is(T::Number),
        sql: Render::Template("extract(dow from {0})::numeric"),
    },
    Function {
        name: "date_extract_hh",
        kind: Kind::Scalar,
        usage: "date_extract_hh(timestamp)",
        doc: "The hour, 0 to 23.",
        example: example(
            "date_extract_hh(date_recorded)",
            "extract(hour from \"date_recorded\")::numeric",
            "0",
        ),
        args: fixed(&[P::Timestamp]),
        returns: Returns::Is(T::Number),
        sql: Render::Template("extract(hour from {0})::numeric"),
    },
    Function {
        name: "date_extract_mm",
        kind: Kind::Scalar,
        usage: "date_extract_mm(timestamp)",
        doc: "The minute, 0 to 59.",
        example: example(
            "date_extract_mm(date_recorded)",
            "extract(minute from \"date_recorded\")::numeric",
            "0",
        ),
        args: fixed(&[P::Timestamp]),
        returns: Returns::Is(T::Number),
        sql: Render::Template("extract(minute from {0})::numeric"),
    },
    Function {
        name: "date_extract_m",
        kind: Kind::Scalar,
        usage: "date_extract_m(timestamp)",
        doc: "The month, 1 to 12.",
        example: example(
            "date_extract_m(date_recorded)",
            "extract(month from \"date_recorded\")::numeric",
            "1",
        ),
        args: fixed(&[P::Timestamp]),
        returns: Returns::Is(T::Number),
        sql: Render::Template("extract(month from {0})::numeric"),
    },
    Function {
        name: "date_extract_ss",
        kind: Kind::Scalar,
        usage: "date_extract_ss(timestamp)",
        doc: "The second, 0 to 59.",
        example: example(
            "date_extract_ss(date_recorded)",
            "floor(extract(second from \"date_recorded\"))::numeric",
            "0",
        ),
        args: fixed(&[P::Timestamp]),
        returns: Returns::Is(T::Number),
        sql: Render::Template("floor(extract(second from {0}))::numeric"),
    },
    Function {
        name: "date_extract_woy",
        kind: Kind::Scalar,
        usage: "date_extract_woy(timestamp)",
        doc: "The ISO week of the year, 1 to 53.",
        example: example(
            "date_extract_woy(date_recorded)",
            "extract(week from \"date_recorded\")::numeric",
            "3",
        ),
        args: fixed(&[P::Timestamp]),
        returns: Returns::Is(T::Number),
        sql: Render::Template("extract(week from {0})::numeric"),
    },
    Function {
        name: "date_extract_y",
        kind: Kind::Scalar,
        usage: "date_extract_y(timestamp)",
        doc: "The year.",
        example: example(
            "date_extract_y(date_recorded)",
            "extract(year from \"date_recorded\")::numeric",
            "2020",
        ),
        args: fixed(&[P::Timestamp]),
        returns: Returns::Is(T::Number),
        sql: Render::Template("extract(year from {0})::numeric"),
    },
    Function {
        name: "date_trunc_y",
        kind: Kind::Scalar,
        usage: "date_trunc_y(timestamp)",
        doc: "The timestamp cut to the start of its year.",
        example: example(
            "date_trunc_y(date_recorded)",
            "date_trunc('year', \"date_recorded\")",
            "2020-01-01T00:00:00.000",
        ),
        args: fixed(&[P::Timestamp]),
        returns: Returns::First,
        sql: Render::Template("date_trunc('year', {0})"),
    },
    Function {
        name: "date_trunc_ym",
        kind: Kind::Scalar,
        usage: "date_trunc_ym(timestamp)",
        doc: "The timestamp cut to the start of its month.",
        example: example(
            "date_trunc_ym(date_recorded)",
            "date_trunc('month', \"date_recorded\")",
            "2020-01-01T00:00:00.000",
        ),
        args: fixed(&[P::Timestamp]),
        returns: Returns::First,
        sql: Render::Template("date_trunc('month', {0})"),
    },
    Function {
        name: "date_trunc_ymd",
        kind: Kind::Scalar,
        usage: "date_trunc_ymd(timestamp)",
        doc: "The timestamp cut to the start of its day.",
        example: example(
            "date_trunc_ymd(date_recorded)",
            "date_trunc('day', \"date_recorded\")",
            "2020-01-15T00:00:00.000",
        ),
        args: fixed(&[P::Timestamp]),
        returns: Returns::First,
        sql: Render::Template("date_trunc('day', {0})"),
    },
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
    Function {
        name: "distance_in_meters",
        kind: Kind::Scalar,
        usage: "distance_in_meters(point, point)",
        doc: "The great-circle distance between two points, in metres.",
        example: example(
            "distance_in_meters(location, 'POINT (-72.86 41.80)')",
            "(2 * 6371008.8 * asin(sqrt(power(sin(radians((($1::point)[1] - (\"location\")[1]) / 2)), 2) + cos(radians((\"location\")[1])) * cos(radians(($1::point)[1])) * power(sin(radians((($1::point)[0] - (\"location\")[0]) / 2)), 2))))",
            "0",
        ),
        args: fixed(&[P::Point, P::Point]),
        returns: Returns::Is(T::Double),
        sql: Render::With(distance_in_meters, Copies::Each(3)),
    },
    Function {
        name: "within_box",
        kind: Kind::Scalar,
        usage: "within_box(point, nw_latitude, nw_longitude, se_latitude, se_longitude)",
        doc: "Whether the point lies in the box.",
        example: example(
            "within_box(location, 42, -73, 41, -72)",
            "((\"location\")[1] BETWEEN ($3::numeric)::double precision AND ($1::numeric)::double precision AND (\"location\")[0] BETWEEN ((-$2::numeric))::double precision AND ((-$4::numeric))::double precision)",
            "true",
        ),
        args: fixed(&[P::Point, P::Double, P::Double, P::Double, P::Double]),
        returns: Returns::Is(T::Boolean),
        sql: Render::Template("(({0})[1] BETWEEN {3} AND {1} AND ({0})[0] BETWEEN {2} AND {4})"),
    },
    Function {
        name: "within_circle",
        kind: Kind::Scalar,
        usage: "within_circle(point, latitude, longitude, metres)",
        doc: "Whether the point lies within so many metres of the centre.",
        example: example(
            "within_circle(location, 41.80, -72.86, 1000)",
            "((2 * 6371008.8 * asin(sqrt(power(sin(radians(((point(((-$2::numeric))::double precision, ($1::numeric)::double precision))[1] - (\"location\")[1]) / 2)), 2) + cos(radians((\"location\")[1])) * cos(radians((point(((-$2::numeric))::double precision, ($1::numeric)::double precision))[1])) * power(sin(radians(((point(((-$2::numeric))::double precision, ($1::numeric)::double precision))[0] - (\"location\")[0]) / 2)), 2)))) <= ($3::numeric)::double precision)",
            "true",
        ),
        args: fixed(&[P::Point, P::Double, P::Double, P::Double]),
        returns: Returns::Is(T::Boolean),
        sql: Render::With(within_circle, Copies::Each(3)),
    },
    Function {
        name: "within_polygon",
        kind: Kind::Scalar,
        usage: "within_polygon(point, 'MULTIPOLYGON (…)')",
        doc: "Whether the point lies in the WKT polygon or multipolygon (holes respected).",
        example: example(
            "within_polygon(location, 'POLYGON ((-73 41, -72 41, -72 42, -73 42, -73 41))')",
            "(((\"location\") <@ $1::polygon))",
            "true",
        ),
        args: fixed(&[P::Point, P::Polygon]),
        returns: Returns::Is(T::Boolean),
        sql: Render::With(within_polygon, Copies::PerRing),
    },
];

/// The function named `name`.
pub fn lookup(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|function| function.name == name)
}

/// Whether `name` is an aggregate function.
pub fn is_aggregate(name: &str) -> bool {
    lookup(name).is_some_and(|function| function.kind != Kind::Scalar)
}

/// The README's function list: one row per function, aggregates first.
pub fn markdown_table() -> String {
    let mut table =
        String::from("| function | returns | what it does | example |\n|---|---|---|---|\n");
    for function in FUNCTIONS {
        let returns = match function.returns {
            Returns::Is(ty) => ty.name(),
            Returns::First => "its argument's type",
            Returns::Shared => "its values' type",
        };
        let aggregate = if function.kind == Kind::Scalar {
            ""
        } else {
            " (aggregate)"
        };
        table.push_str(&format!(
            "| `{}`{aggregate} | {returns} | {} | `{}` → `{}` |\n",
            function.usage, function.doc, function.example.soql, function.example.value
        ));
    }
    table
}

fn count(binds: &mut Binds, call: &Invocation<'_>) -> String {
    if call.star {
        return "count(*)::numeric".to_owned();
    }
    let distinct = if call.distinct { "DISTINCT " } else { "" };
    format!("count({distinct}{})::numeric", sql(binds, &call.args[0]))
}

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

fn round(binds: &mut Binds, call: &Invocation<'_>) -> String {
    let value = sql(binds, &call.args[0]);
    let digits = call
        .args
        .get(1)
        .map_or_else(|| "0".to_owned(), |digits| sql(binds, digits));
    format!("round(({value})::numeric, ({digits})::integer)")
}

fn distance_in_meters(binds: &mut Binds, call: &Invocation<'_>) -> String {
    let a = sql(binds, &call.args[0]);
    let b = sql(binds, &call.args[1]);
    haversine(&a, &b)
}

fn within_circle(binds: &mut Binds, call: &Invocation<'_>) -> String {
    let point = sql(binds, &call.args[0]);
    let latitude = sql(binds, &call.args[1]);
    let longitude = sql(binds, &call.args[2]);
    let radius = sql(binds, &call.args[3]);
    let center = format!("point({longitude}, {latitude})");
    format!("({} <= {radius})", haversine(&point, &center))
}

fn within_polygon(binds: &mut Binds, call: &Invocation<'_>) -> String {
    let point = sql(binds, &call.args[0]);
    let Node::Polygons(polygons) = &call.args[1].node else {
        // The checker admits only a parsed polygon here (Param::Polygon).
        return "false".to_owned();
    };
    let tests: Vec<String> = polygons
        .iter()
        .map(|rings| {
            let mut test = format!(
                "({point}) <@ {}",
                binds.bind(polygon_literal(&rings[0]), "polygon")
            );
            for hole in &rings[1..] {
                test.push_str(&format!(
                    " AND NOT ({point}) <@ {}",
                    binds.bind(polygon_literal(hole), "polygon")
                ));
            }
            format!("({test})")
        })
        .collect();
    format!("({})", tests.join(" OR "))
}

#[cfg(test)]
#[path = "function_tests.rs"]
mod tests;
