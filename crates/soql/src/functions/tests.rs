//! Tests of the function table: every row's example checks and renders to the SQL the row
//! gives, names are unique, the README lists exactly the table, no function writes an argument
//! more often than it says, bad calls are refused with what is wrong, and PostGIS's functions
//! are refused without it. (The examples' values are checked against PostgreSQL by the
//! `soql_tables` scenario.)

use std::collections::HashSet;

use super::*;
use crate::check::{Checker, Scope};
use crate::error::SoqlError;
use crate::render::{Binds, sql};
use crate::request::{QueryRequest, parse_request};
use crate::typed::{Node, Typed};
use crate::types::Extensions;

/// `soql`, one selected expression, checked over the test schema as `$select` is, for a
/// database with `extensions`.
fn check(soql: &str, extensions: Extensions) -> Result<Typed, SoqlError> {
    let request = QueryRequest {
        select: soql.to_owned(),
        ..QueryRequest::default()
    };
    let query = parse_request(&request).unwrap_or_else(|e| panic!("{soql}: {e}"));
    let [crate::ast::Selection::Expr { expr, .. }] = query.select.as_slice() else {
        panic!("{soql}: one expression expected");
    };
    let schema = crate::fixtures::sales_schema();
    let scope = Scope {
        schema: &schema,
        aliases: &[],
        allows: crate::check::Allows::Windows,
    };
    Checker::new(extensions).expr(expr, &scope)
}

fn checked(soql: &str) -> Typed {
    check(soql, crate::fixtures::POSTGIS).unwrap_or_else(|e| panic!("{soql}: {e}"))
}

#[test]
fn every_example_renders_to_its_sql() {
    let mut wrong = Vec::new();
    for function in functions() {
        let typed = checked(function.example.soql);
        let rendered = sql(&mut Binds::default(), &typed);
        if rendered != function.example.sql {
            wrong.push(format!(
                "{}: {}\n  expected {}\n  rendered {rendered}",
                function.name, function.example.soql, function.example.sql
            ));
        }
        assert_eq!(typed.aggregate, function.aggregates(), "{}", function.name);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_example_calls_its_function_and_names_are_unique() {
    let mut names = HashSet::new();
    for function in functions() {
        assert!(names.insert(function.name), "{} twice", function.name);
        assert!(
            function
                .example
                .soql
                .starts_with(&format!("{}(", function.name)),
            "{}'s example calls something else",
            function.name
        );
        assert!(
            function.usage.starts_with(&format!("{}(", function.name)),
            "{}",
            function.name
        );
        assert_eq!(lookup(function.name).map(|f| f.name), Some(function.name));
        assert_eq!(is_aggregate(function.name), function.aggregates());
    }
    assert!(lookup("frobnicate").is_none());
}

#[test]
fn the_readme_lists_every_function() {
    let table = markdown_table();
    assert_eq!(table.lines().count(), functions().count() + 2);
    assert!(
        include_str!("../../../../README.md").contains(&table),
        "README.md is out of date; paste this table into it:\n{table}"
    );
}

/// Calls whose arguments are all distinct, to count how often the SQL writes each one.
const WRITTEN: &[&str] = &[
    "within_polygon(location, 'POLYGON ((0 0, 9 0, 9 9, 0 0), (1 1, 2 1, 2 2, 1 1))')",
    "within_polygon(location, 'MULTIPOLYGON (((0 0, 9 0, 9 9, 0 0)), ((5 5, 6 5, 6 6, 5 5)))')",
    "within_circle(location, 41.5, -72.5, 1000)",
    "within_box(location, 42, -73, 41, -72)",
    "distance_in_meters(location, 'POINT (-72.86 41.80)')",
    "round(sale_amount, 2)",
    "case(sold, town, false, 'x')",
];

#[test]
fn no_function_writes_an_argument_more_often_than_it_declares() {
    let calls = functions()
        .map(|function| function.example.soql)
        .chain(WRITTEN.iter().copied());
    for soql in calls {
        let typed = checked(soql);
        let Node::Call {
            function,
            args,
            window,
            ..
        } = &typed.node
        else {
            panic!("{soql}: not a call");
        };
        let rendered = sql(&mut Binds::default(), &typed);
        let mut binds = Binds::default();
        let mut parts = 1;
        if let Some(window) = window {
            parts += window.keys().map(|key| key.weight).sum::<usize>();
        }
        for (index, arg) in args.iter().enumerate() {
            let copies = function.copies(args, index);
            parts += copies * arg.weight;
            if let Node::Polygons(_) = arg.node {
                continue;
            }
            let written = rendered.matches(sql(&mut binds, arg).as_str()).count();
            assert!(
                written <= copies,
                "{soql}: argument {index} written {written} times, declared {copies}"
            );
        }
        assert_eq!(typed.weight, parts, "{soql}");
    }
}

#[test]
fn a_multipolygon_of_hundreds_of_parts_compiles() {
    let parts: Vec<String> = (0..300)
        .map(|n| {
            let south = -75.0 + f64::from(n) * 0.5;
            let north = south + 0.25;
            format!("((0 {south}, 1 {south}, 1 {north}, 0 {south}))")
        })
        .collect();
    let request = QueryRequest {
        where_clause: format!(
            "within_polygon(location, 'MULTIPOLYGON ({})')",
            parts.join(", ")
        ),
        ..QueryRequest::default()
    };
    let schema = crate::fixtures::sales_schema();
    let query = crate::compile(
        &request,
        &schema,
        "t",
        crate::Target::Json,
        crate::fixtures::POSTGIS,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        query.binds.len(),
        300 + 1,
        "a bind per polygon, and the limit"
    );
}

/// Calls that must be refused, and what the error says.
const REFUSED: &[(&str, &str)] = &[
    ("upper(town, town)", "it takes 1"),
    ("round(ratio, 1, 2)", "it takes 1 to 2"),
    ("case(sold, 'a', sold)", "condition, value pairs"),
    ("case(town, 'a')", "case expects a boolean here, not a text"),
    ("coalesce()", "without arguments"),
    (
        "greatest(location, location)",
        "greatest cannot compare point values",
    ),
    ("max(location)", "max cannot compare point values"),
    ("sum(count(*))", "aggregates cannot be nested"),
    ("upper(distinct town)", "with DISTINCT"),
    ("sum(*)", "sum(*)"),
    (
        "length(sale_amount)",
        "length expects a text here, not a number",
    ),
    (
        "date_trunc_y(town)",
        "expects a floating_timestamp here, not a text",
    ),
    ("within_polygon(location, town)", "WKT string"),
    ("within_polygon(location, 'POINT (1 2)')", "WKT POLYGON"),
    (
        "distance_in_meters(location, ratio)",
        "expects a point here",
    ),
    ("frobnicate(town)", "no such function: frobnicate"),
    ("town.latitude", "text values have no fields"),
    (
        "place.elevation",
        "location values have no field `elevation`; they have address, city, human_address, latitude, longitude, point, state, zip",
    ),
    (
        "link.latitude",
        "url values have no field `latitude`; they have description, url",
    ),
    (
        "location.url",
        "point values have no field `url`; they have latitude, longitude",
    ),
    (
        "url_url(place)",
        "url_url expects a url here, not a location",
    ),
    (
        "convex_hull(town)",
        "convex_hull expects a point here, not a text",
    ),
    (
        "intersects(location, town)",
        "intersects takes the shape as a WKT string",
    ),
    (
        "intersects(location, 'CIRCLE (1 2 3)')",
        "expected a WKT POINT, LINESTRING, POLYGON or MULTIPOLYGON string",
    ),
    (
        "spatial_union(spatial_union(location))",
        "aggregates cannot be nested",
    ),
    (
        "num_points(place.address)",
        "num_points expects a point here, not a text",
    ),
];

#[test]
fn without_postgis_its_functions_are_refused_by_name_and_the_rest_work() {
    let mut needing = Vec::new();
    for function in functions() {
        let checked = check(function.example.soql, Extensions::default());
        if function.needs_postgis() {
            needing.push(function.name);
            let error = checked.expect_err(function.name);
            assert_eq!(error.name.as_deref(), Some(function.name));
            assert!(
                error
                    .message
                    .contains(&format!("{} needs PostGIS", function.name)),
                "{}",
                error.message
            );
        } else {
            checked.unwrap_or_else(|e| panic!("{}: {e}", function.name));
        }
    }
    assert_eq!(
        needing,
        [
            "convex_hull",
            "extent",
            "spatial_union",
            "intersects",
            "num_points",
            "simplify",
            "simplify_preserve_topology"
        ]
    );
}

#[test]
fn bad_calls_are_refused_with_what_is_wrong() {
    let schema = crate::fixtures::sales_schema();
    for (soql, says) in REFUSED {
        let error = check(soql, crate::fixtures::POSTGIS).expect_err(soql);
        assert!(error.message.contains(says), "{soql}: {}", error.message);
    }
    let vertices = vec!["0 0"; opendata_limits::SOQL_SHAPE_VERTICES.get() + 1].join(",");
    for huge in [
        format!("within_polygon(location, 'POLYGON (({vertices}))')"),
        format!("intersects(location, 'LINESTRING ({vertices})')"),
    ] {
        let request = QueryRequest {
            select: huge,
            ..QueryRequest::default()
        };
        let error = crate::compile(
            &request,
            &schema,
            "t",
            crate::Target::Json,
            crate::fixtures::POSTGIS,
        )
        .unwrap_err();
        assert!(error.message.contains("vertices"), "{}", error.message);
    }
}
