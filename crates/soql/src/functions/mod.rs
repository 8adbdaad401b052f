//! SoQL's functions, in one table ([`functions`]) kept as one file per group. A row gives a
//! function's name, the arguments it takes, what it returns, how it reads rows, its SQL, a line
//! of documentation and an example with its SQL and its value over the test sample. The type checker ([`crate::check`]), the SQL
//! renderer ([`crate::render`]), the README's function list ([`markdown_table`]) and the function
//! tests all read this table: adding a function is adding a row.

use Param as P;
use SoqlType as T;

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

/// How a function reads rows: one at a time, a group at a time, or a window around each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One value per row.
    Scalar,
    /// One value per group.
    Aggregate,
    /// An aggregate that also takes `*` and `DISTINCT` (`count(*)`, `count(distinct x)`).
    Counting,
    /// An aggregate of geometries that also takes one already gathered, which it does not
    /// aggregate again (`convex_hull(location)`, `convex_hull(spatial_union(location))`).
    Gathering,
    /// A function of a row's place in its window, only over one (`row_number() OVER (…)`).
    Window,
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
    /// A location.
    Location,
    /// A url.
    Url,
    /// A value of any type that has an order.
    Ordered,
    /// A value of any type.
    Any,
    /// A WKT `POLYGON` or `MULTIPOLYGON` string literal.
    Polygon,
    /// A point (or a location's point), or a geometry a PostGIS function made.
    Geometry,
    /// A WKT `POINT`, `LINESTRING`, `POLYGON` or `MULTIPOLYGON` string literal, for PostGIS.
    Shape,
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
    /// Written by a function, as [`Render::With`], with PostGIS's functions, writing each
    /// argument once. Only a database with PostGIS runs it; without, the checker refuses the
    /// call.
    PostGis(fn(&mut Binds, &Invocation<'_>) -> String),
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
    /// Whether it aggregates rows (a window function does not: it sees them).
    pub fn aggregates(&self) -> bool {
        matches!(
            self.kind,
            Kind::Aggregate | Kind::Counting | Kind::Gathering
        )
    }

    /// Whether it takes `OVER (…)`: aggregates (but PostGIS's, which gather geometries) and
    /// window functions.
    pub fn takes_over(&self) -> bool {
        matches!(self.kind, Kind::Aggregate | Kind::Counting | Kind::Window)
            && !self.needs_postgis()
    }

    /// Whether it needs PostGIS.
    pub fn needs_postgis(&self) -> bool {
        matches!(self.sql, Render::PostGis(_))
    }

    /// How many times its SQL writes argument `index` of `args`, at most.
    pub(crate) fn copies(&self, args: &[Typed], index: usize) -> usize {
        let copies = match &self.sql {
            Render::Template(template) => {
                template.matches(&format!("{{{index}}}")).count() + template.matches("{*}").count()
            }
            Render::With(_, Copies::Each(copies)) => *copies,
            Render::PostGis(_) => 1,
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
    /// ` OVER (…)` when the call is over a window, written right after the call (before any
    /// cast), else empty.
    pub(crate) over: &'a str,
}

const fn fixed(params: &'static [Param]) -> Args {
    Args::Fixed {
        params,
        optional: 0,
    }
}

const fn example(soql: &'static str, sql: &'static str, value: &'static str) -> Example {
    Example { soql, sql, value }
}

mod aggregates;
mod conditionals;
mod dates;
mod fields;
mod geography;
mod numbers;
mod postgis;
mod text;
mod windows;

/// The functions, one table per group: aggregates, text, dates, conditionals, numbers,
/// geography, geography with PostGIS, the parts of point, location and url values, then
/// window functions. Each is alphabetical but for kinship.
static GROUPS: &[&[Function]] = &[
    aggregates::FUNCTIONS,
    text::FUNCTIONS,
    dates::FUNCTIONS,
    conditionals::FUNCTIONS,
    numbers::FUNCTIONS,
    geography::FUNCTIONS,
    postgis::FUNCTIONS,
    fields::FUNCTIONS,
    windows::FUNCTIONS,
];

/// Every SoQL function, group by group.
pub fn functions() -> impl Iterator<Item = &'static Function> + Clone {
    GROUPS.iter().flat_map(|group| group.iter())
}

/// The function named `name`.
pub fn lookup(name: &str) -> Option<&'static Function> {
    functions().find(|function| function.name == name)
}

/// Whether `name` is an aggregate function.
pub fn is_aggregate(name: &str) -> bool {
    lookup(name).is_some_and(Function::aggregates)
}

/// The README's function list: one row per function, in the table's order, saying which
/// aggregate and which need PostGIS.
pub fn markdown_table() -> String {
    let mut table =
        String::from("| function | returns | what it does | example |\n|---|---|---|---|\n");
    for function in functions() {
        let returns = match function.returns {
            Returns::Is(ty) => ty.name(),
            Returns::First => "its argument's type",
            Returns::Shared => "its values' type",
        };
        let mut notes = Vec::new();
        if function.aggregates() {
            notes.push("aggregate");
        }
        if function.kind == Kind::Window {
            notes.push("window function, with OVER");
        }
        if function.needs_postgis() {
            notes.push("needs PostGIS");
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join(", "))
        };
        table.push_str(&format!(
            "| `{}`{notes} | {returns} | {} | `{}` → `{}` |\n",
            function.usage, function.doc, function.example.soql, function.example.value
        ));
    }
    table
}

#[cfg(test)]
mod tests;
