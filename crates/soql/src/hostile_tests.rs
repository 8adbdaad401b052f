//! Hostile input: every request either compiles or is refused with a typed error, on a 2 MiB stack
//! (a tokio worker's), whatever its shape: long operator chains, deep nesting, huge lists and
//! literals, NUL characters, and random text in every parameter.

use opendata_limits::{
    SOQL_DEPTH, SOQL_FIELD_FILTERS, SOQL_IN_VALUES, SOQL_NODES, SOQL_SEARCH_TERMS,
    SOQL_SELECTED_COLUMNS, SOQL_TEXT,
};
use proptest::prelude::*;

use crate::fixtures::sales_schema;
use crate::{CompiledQuery, QueryRequest, SoqlError, Target, compile};

/// The stack of a tokio worker thread, where the catalog compiles queries.
const WORKER_STACK_BYTES: usize = 2 * 1024 * 1024;

/// Compiles `request` on a thread with a worker's stack; a stack overflow aborts the test binary.
fn compile_on_worker_stack(request: QueryRequest) -> Result<CompiledQuery, SoqlError> {
    std::thread::Builder::new()
        .stack_size(WORKER_STACK_BYTES)
        .spawn(move || {
            compile(
                &request,
                &sales_schema(),
                "t",
                Target::Json,
                crate::fixtures::POSTGIS,
            )
        })
        .unwrap()
        .join()
        .expect("compiling must not panic")
}

fn where_clause(text: String) -> QueryRequest {
    QueryRequest {
        where_clause: text,
        ..QueryRequest::default()
    }
}

fn refused_for(result: Result<CompiledQuery, SoqlError>, limit: opendata_limits::Limit) -> String {
    let error = result.expect_err("the request must be refused");
    assert_eq!(error.limit, Some(limit.name), "{error:?}");
    error.message
}

#[test]
fn a_chain_of_300_additions_is_refused_not_a_crash() {
    let chain = format!("sale_amount > 1{}", "+1".repeat(300));
    let message = refused_for(compile_on_worker_stack(where_clause(chain)), SOQL_DEPTH);
    let expected = format!("{} levels", SOQL_DEPTH.value);
    assert!(message.contains(&expected), "{message}");
}

#[test]
fn chains_of_every_operator_and_of_casts_are_bounded() {
    for op in ["+", "-", "*", "/", "%", "||"] {
        let chain = format!("sale_amount{}", format!(" {op} 2").repeat(5_000));
        let result = compile_on_worker_stack(QueryRequest {
            select: chain,
            ..QueryRequest::default()
        });
        refused_for(result, SOQL_DEPTH);
    }
    let casts = format!("town{} = 'x'", "::text".repeat(5_000));
    refused_for(compile_on_worker_stack(where_clause(casts)), SOQL_DEPTH);
}

#[test]
fn hundreds_of_alternatives_compile() {
    let towns: Vec<String> = (0..2_000).map(|n| format!("town = 'town {n}'")).collect();
    let compiled = compile_on_worker_stack(where_clause(towns.join(" OR "))).unwrap();
    assert_eq!(
        compiled.binds.len(),
        2_001,
        "one bind per town and the limit"
    );
    let conditions: Vec<String> = (0..2_000).map(|n| format!("sale_amount <> {n}")).collect();
    compile_on_worker_stack(where_clause(conditions.join(" AND "))).unwrap();
}

/// Each way the grammar nests: what opens a level, the innermost expression, what closes it.
const NESTINGS: &[(&str, &str, &str, &str)] = &[
    ("parentheses", "(", "sale_amount", ")"),
    ("signs", "-(", "sale_amount", ")"),
    ("calls", "abs(", "sale_amount", ")"),
    ("right-nested sums", "1 + (", "sale_amount", ")"),
    ("negations", "NOT ", "sold", ""),
    (
        "cases",
        "CASE WHEN sold THEN ",
        "sale_amount",
        " ELSE 0 END",
    ),
    ("comparisons", "sold = (", "sold", ")"),
    (
        "between",
        "CASE WHEN sale_amount BETWEEN (",
        "1",
        ") AND 2 THEN 1 ELSE 0 END",
    ),
];

/// The expressions of [`NESTINGS`], nested `depth` times.
fn nestings(depth: usize) -> Vec<(&'static str, String)> {
    NESTINGS
        .iter()
        .map(|(shape, open, inner, close)| {
            (
                *shape,
                format!("{}{inner}{}", open.repeat(depth), close.repeat(depth)),
            )
        })
        .collect()
}

#[test]
fn the_deepest_expressions_allowed_compile_on_a_worker_stack() {
    for depth in 1..=SOQL_DEPTH.get() {
        for (shape, expr) in nestings(depth) {
            // Used twice, through an alias, as deep as the stack ever goes.
            let request = QueryRequest {
                select: format!("{expr} AS deep"),
                order: "deep".to_owned(),
                ..QueryRequest::default()
            };
            // Ordinary nesting compiles; past it, only the depth limit may refuse.
            match compile_on_worker_stack(request) {
                Ok(_) => {}
                Err(error) => assert!(
                    depth > 6 && error.limit == Some(SOQL_DEPTH.name),
                    "{shape} at {depth}: {error:?}"
                ),
            }
        }
    }
}

#[test]
fn expressions_past_the_depth_limit_are_refused_in_every_clause() {
    for (shape, expr) in nestings(SOQL_DEPTH.get() + 1) {
        for clause in ["$select", "$where", "$order", "$group", "$having", "$query"] {
            let mut request = QueryRequest::default();
            match clause {
                "$select" => request.select = expr.clone(),
                "$where" => request.where_clause = expr.clone(),
                "$order" => request.order = expr.clone(),
                "$group" => request.group = expr.clone(),
                "$having" => request.having = expr.clone(),
                _ => request.query = format!("SELECT town WHERE {expr}"),
            }
            let error = compile_on_worker_stack(request).expect_err(shape);
            assert_eq!(error.limit, Some(SOQL_DEPTH.name), "{shape} in {clause}");
            assert_eq!(error.parameter, clause, "{shape}");
        }
    }
}

#[test]
fn an_alias_used_many_times_counts_each_time() {
    let big: Vec<String> = (0..1_000).map(|n| format!("sale_amount <> {n}")).collect();
    let request = QueryRequest {
        select: format!("({}) AS big", big.join(" AND ")),
        order: vec!["big"; 50].join(", "),
        ..QueryRequest::default()
    };
    refused_for(compile_on_worker_stack(request), SOQL_NODES);
}

#[test]
fn sql_that_repeats_its_arguments_cannot_grow_geometrically() {
    // Each level repeats the one below three times (a distance writes each point thrice): 14
    // levels, within the depth limit, would be 3^14 copies of a point.
    let mut point = "location".to_owned();
    for _ in 0..14 {
        point = format!("case(within_circle({point}, 41, -72, 1000), location)");
    }
    let message = refused_for(
        compile_on_worker_stack(where_clause(format!(
            "within_box({point}, 42, -73, 41, -72)"
        ))),
        SOQL_NODES,
    );
    assert!(message.contains("repeats"), "{message}");
    // A few levels compile, to SQL that grows with the copies actually written.
    let mut point = "location".to_owned();
    for _ in 0..3 {
        point = format!("case(within_circle({point}, 41, -72, 1000), location)");
    }
    let query =
        compile_on_worker_stack(where_clause(format!("within_circle({point}, 41, -72, 5)")))
            .expect("three levels compile");
    // Level n holds 3 × level n-1 + 1 copies (1, 4, 13, 40); the condition 3 × 40, `*` one more.
    assert_eq!(query.sql.matches("\"location\"").count(), 3 * 40 + 1);
}

#[test]
fn empty_or_unbalanced_polygons_are_refused_not_a_crash() {
    for polygon in [
        "POLYGON ()",
        "MULTIPOLYGON (())",
        "MULTIPOLYGON ((0 0, 1 0, 1 1, 0 0))) ((",
    ] {
        let error = compile_on_worker_stack(where_clause(format!(
            "within_polygon(location, '{polygon}')"
        )))
        .expect_err(polygon);
        assert!(
            error.message.contains("WKT"),
            "{polygon}: {}",
            error.message
        );
    }
}

#[test]
fn lists_columns_searches_and_text_are_bounded() {
    let values: Vec<String> = (0..=SOQL_IN_VALUES.get()).map(|n| n.to_string()).collect();
    let many_values = format!("sale_amount IN ({})", values.join(","));
    refused_for(
        compile_on_worker_stack(where_clause(many_values)),
        SOQL_IN_VALUES,
    );

    let stars = vec!["*"; SOQL_SELECTED_COLUMNS.get() / 5 + 1].join(",");
    let error = compile_on_worker_stack(QueryRequest {
        select: stars,
        ..QueryRequest::default()
    })
    .unwrap_err();
    assert_eq!(error.limit, Some(SOQL_SELECTED_COLUMNS.name));
    assert_eq!(error.parameter, "$select");

    let words = vec!["word"; SOQL_SEARCH_TERMS.get() + 1].join(" ");
    let error = compile_on_worker_stack(QueryRequest {
        search: words,
        ..QueryRequest::default()
    })
    .unwrap_err();
    assert_eq!(error.limit, Some(SOQL_SEARCH_TERMS.name));
    assert_eq!(error.parameter, "$q");

    let filters = |count: usize| QueryRequest {
        filters: (0..count)
            .map(|n| ("town".to_owned(), format!("Town {n}")))
            .collect(),
        ..QueryRequest::default()
    };
    compile_on_worker_stack(filters(SOQL_FIELD_FILTERS.get())).unwrap();
    refused_for(
        compile_on_worker_stack(filters(SOQL_FIELD_FILTERS.get() + 1)),
        SOQL_FIELD_FILTERS,
    );

    let long = format!("town = '{}'", "x".repeat(SOQL_TEXT.get()));
    refused_for(compile_on_worker_stack(where_clause(long)), SOQL_TEXT);
}

#[test]
fn nul_characters_are_refused_with_their_parameter() {
    let cases = [
        ("$where", where_clause("town = 'a\0b'".to_owned())),
        (
            "$q",
            QueryRequest {
                search: "a\0".to_owned(),
                ..QueryRequest::default()
            },
        ),
        (
            "town",
            QueryRequest {
                filters: vec![("town".to_owned(), "\0".to_owned())],
                ..QueryRequest::default()
            },
        ),
        (
            "$query",
            QueryRequest {
                query: "SELECT town WHERE town = '\0'".to_owned(),
                ..QueryRequest::default()
            },
        ),
    ];
    for (parameter, request) in cases {
        let error = compile_on_worker_stack(request).unwrap_err();
        assert_eq!(error.parameter, parameter);
        assert!(error.message.contains("NUL"), "{}", error.message);
    }
}

/// Pieces hostile queries are made of.
const PIECES: &[&str] = &[
    "(",
    ")",
    "(",
    "+1",
    "-",
    "::text",
    "::number",
    " OR town='a'",
    " AND sold",
    "NOT ",
    "abs(",
    "sale_amount",
    "town",
    "'x'",
    "1",
    ",",
    " IN (",
    " BETWEEN 1 AND ",
    " IS NULL",
    "CASE WHEN ",
    " THEN ",
    " ELSE ",
    " END",
    "count(*)",
    " = ",
    "||",
    "\0",
    "\u{fffd}",
    "`",
    "'",
    ";",
];

fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(PIECES.to_vec()), 0..400)
            .prop_map(|pieces| pieces.concat()),
        (prop::sample::select(PIECES.to_vec()), 1usize..3_000)
            .prop_map(|(piece, times)| piece.repeat(times)),
        "\\PC{0,200}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn hostile_text_in_any_parameter_compiles_or_is_refused(
        text in hostile_text(),
        parameter in 0usize..9,
    ) {
        let mut request = QueryRequest::default();
        match parameter {
            0 => request.select = text,
            1 => request.where_clause = text,
            2 => request.order = text,
            3 => request.group = text,
            4 => request.having = text,
            5 => request.search = text,
            6 => request.query = text,
            7 => request.filters.push(("town".to_owned(), text)),
            _ => request.filters.push((text, "x".to_owned())),
        }
        // Either outcome is fine; a panic or a stack overflow fails the test.
        let _ = compile_on_worker_stack(request);
    }
}
