//! Tests of the function table: every row's example checks and renders to the SQL the row
//! gives, names are unique, and the README lists exactly the table. (The examples' values are
//! checked against PostgreSQL by the `soql_functions` scenario.)

use std::collections::HashSet;

use super::*;
use crate::check::{Checker, Scope};
use crate::render::{Binds, sql};
use crate::request::{QueryRequest, parse_request};
use crate::typed::Typed;

fn checked(soql: &str) -> Typed {
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
        aggregates_allowed: true,
    };
    Checker::default()
        .expr(expr, &scope)
        .unwrap_or_else(|e| panic!("{soql}: {e}"))
}

#[test]
fn every_example_renders_to_its_sql() {
    let mut wrong = Vec::new();
    for function in FUNCTIONS {
        let typed = checked(function.example.soql);
        let rendered = sql(&mut Binds::default(), &typed);
        if rendered != function.example.sql {
            wrong.push(format!(
                "{}: {}\n  expected {}\n  rendered {rendered}",
                function.name, function.example.soql, function.example.sql
            ));
        }
        assert_eq!(
            typed.aggregate,
            function.kind != Kind::Scalar,
            "{}",
            function.name
        );
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_example_calls_its_function_and_names_are_unique() {
    let mut names = HashSet::new();
    for function in FUNCTIONS {
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
        assert_eq!(is_aggregate(function.name), function.kind != Kind::Scalar);
    }
    assert!(lookup("frobnicate").is_none());
}

#[test]
fn the_readme_lists_every_function() {
    let table = markdown_table();
    assert_eq!(table.lines().count(), FUNCTIONS.len() + 2);
    assert!(
        include_str!("../../../README.md").contains(&table),
        "README.md is out of date; paste this table into it:\n{table}"
    );
}
