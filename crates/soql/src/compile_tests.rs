//! Tests of the compiler: SQL shape, binds, types, names, and errors with their parameter.

use opendata_datastore::schema::Schema;

use super::*;
use crate::error::ErrorKind;
use crate::fixtures::request;

fn schema() -> Schema {
    crate::fixtures::sales_schema()
}

fn compiled(pairs: &[(&str, &str)]) -> CompiledQuery {
    compile(
        &request(pairs),
        &schema(),
        "t",
        Target::Json,
        crate::fixtures::POSTGIS,
    )
    .unwrap_or_else(|e| panic!("{pairs:?}: {e:?}"))
}

fn error(pairs: &[(&str, &str)]) -> SoqlError {
    compile(
        &request(pairs),
        &schema(),
        "t",
        Target::Json,
        crate::fixtures::POSTGIS,
    )
    .unwrap_err()
}

#[test]
fn plain_requests_compile_to_bound_sql() {
    let query = compiled(&[
        ("$select", "town, sale_amount"),
        ("$order", "sale_amount DESC"),
        ("$limit", "5"),
        ("$offset", "10"),
        ("town", "Hartford"),
    ]);
    assert_eq!(
        query.sql,
        r#"SELECT ("town")::text AS "c0", trim_scale("sale_amount")::text AS "c1" FROM data."t" WHERE ("town" = $1::text) ORDER BY "sale_amount" DESC NULLS FIRST LIMIT $2::bigint OFFSET $3::bigint"#
    );
    assert_eq!(query.binds, vec!["Hartford", "5", "10"]);
    assert_eq!(query.columns[1].soql_type, "number");
}

#[test]
fn the_default_limit_is_exactly_1000_and_every_column_is_selected() {
    let query = compiled(&[]);
    assert_eq!(query.binds.last().unwrap(), "1000");
    assert_eq!(query.columns.len(), 8);
}

#[test]
fn string_literals_are_read_as_the_column_type() {
    let query = compiled(&[(
        "$where",
        "date_recorded >= '01/30/2023' AND sale_amount > '$1,000' AND sold",
    )]);
    assert!(
        query.sql.contains(r#"("date_recorded" >= $1::timestamp)"#),
        "{}",
        query.sql
    );
    assert!(
        query.sql.contains(r#"("sale_amount" > $2::numeric)"#),
        "{}",
        query.sql
    );
    assert_eq!(&query.binds[..2], &["2023-01-30 00:00:00", "1000"]);
    let mismatch = error(&[("$where", "sale_amount > 'lots'")]);
    assert_eq!(mismatch.kind, ErrorKind::TypeMismatch);
    assert_eq!(mismatch.parameter, "$where");
}

#[test]
fn aggregates_get_socratas_names_and_grouping_is_checked() {
    let query = compiled(&[
        (
            "$select",
            "town, sum(sale_amount), count(*), max(sale_amount)",
        ),
        ("$group", "town"),
        ("$order", "count DESC"),
    ]);
    let names: Vec<&str> = query.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["town", "sum_sale_amount", "count", "max_sale_amount"]
    );
    assert!(query.sql.contains("GROUP BY \"town\""), "{}", query.sql);
    assert!(
        query.sql.contains("ORDER BY count(*)::numeric DESC"),
        "{}",
        query.sql
    );
    let ungrouped = error(&[("$select", "town, count(*)")]);
    assert_eq!(ungrouped.parameter, "$select");
    assert!(
        ungrouped.message.contains("town must be in $group"),
        "{}",
        ungrouped.message
    );
    let in_where = error(&[("$where", "count(*) > 1")]);
    assert!(
        in_where.message.contains("aggregate"),
        "{}",
        in_where.message
    );
}

#[test]
fn expressions_in_select_and_group_share_binds() {
    let query = compiled(&[
        (
            "$select",
            "date_trunc_y(date_recorded) AS year, sale_amount * 2, count(*)",
        ),
        ("$group", "year, sale_amount * 2"),
    ]);
    assert_eq!(
        query.binds.iter().filter(|b| *b == "2").count(),
        1,
        "{:?}",
        query.binds
    );
    assert!(
        query.sql.contains(
            "GROUP BY date_trunc('year', \"date_recorded\"), (\"sale_amount\" * $1::numeric)"
        ),
        "{}",
        query.sql
    );
}

#[test]
fn having_and_order_resolve_aliases() {
    let query = compiled(&[
        ("$select", "town, count(*) AS sales"),
        ("$group", "town"),
        ("$having", "sales > 10"),
        ("$order", "sales DESC, town"),
    ]);
    assert!(
        query
            .sql
            .contains("HAVING (count(*)::numeric > $1::numeric)"),
        "{}",
        query.sql
    );
    assert!(
        query
            .sql
            .contains("ORDER BY count(*)::numeric DESC NULLS FIRST, \"town\" ASC NULLS LAST"),
        "{}",
        query.sql
    );
}

#[test]
fn whole_statements_and_distinct() {
    let query = compiled(&[(
        "$query",
        "SELECT DISTINCT town WHERE sale_amount > 100 ORDER BY town LIMIT 3",
    )]);
    assert!(
        query.sql.starts_with(
            r#"SELECT ("r0")::text AS "c0" FROM (SELECT DISTINCT "town" AS "r0" FROM data."t""#
        ),
        "{}",
        query.sql
    );
    assert!(
        query.sql.contains(r#"ORDER BY "r0" ASC NULLS LAST LIMIT"#),
        "{}",
        query.sql
    );
    let combined = error(&[("$query", "SELECT town"), ("$where", "true")]);
    assert!(
        combined.message.contains("cannot be combined"),
        "{}",
        combined.message
    );
}

#[test]
fn functions_compile_and_unknown_ones_are_named() {
    let query = compiled(&[(
        "$select",
        "upper(town), starts_with(town, 'Hart'), date_extract_y(date_recorded), coalesce(ratio, 0), round(sale_amount, 2), case(sold, 'yes', true, 'no')",
    )]);
    let types: Vec<&str> = query.columns.iter().map(|c| c.soql_type).collect();
    assert_eq!(
        types,
        vec!["text", "boolean", "number", "double", "number", "text"]
    );
    let unknown = error(&[("$select", "frobnicate(town)")]);
    assert_eq!(unknown.kind, ErrorKind::NoSuchFunction);
    assert_eq!(unknown.name.as_deref(), Some("frobnicate"));
    let arity = error(&[("$select", "upper(town, town)")]);
    assert!(arity.message.contains("it takes 1"), "{}", arity.message);
}

#[test]
fn geography_functions_bind_their_arguments() {
    let query = compiled(&[(
        "$where",
        "within_circle(location, 41.76, -72.68, 5000) AND within_box(location, 42, -73, 41, -72)",
    )]);
    assert!(query.sql.contains("asin(sqrt("), "{}", query.sql);
    assert!(query.binds.contains(&"41.76".to_owned()));
    let polygon = compiled(&[(
        "$where",
        "within_polygon(location, 'POLYGON ((-73 41, -72 41, -72 42, -73 41))')",
    )]);
    assert!(polygon.sql.contains("<@ $1::polygon"), "{}", polygon.sql);
    assert_eq!(polygon.binds[0], "((-73,41),(-72,41),(-72,42),(-73,41))");
    let distance = compiled(&[(
        "$select",
        "distance_in_meters(location, 'POINT (-72.68 41.76)')",
    )]);
    assert_eq!(distance.columns[0].soql_type, "double");
    assert!(distance.binds.contains(&"(-72.68,41.76)".to_owned()));
}

#[test]
fn unknown_columns_are_named_with_their_parameter_and_position() {
    let unknown = error(&[("$where", "town = 'x' AND price > 1")]);
    assert_eq!(unknown.kind, ErrorKind::NoSuchColumn);
    assert_eq!(unknown.name.as_deref(), Some("price"));
    assert_eq!(
        unknown.position,
        Position {
            line: 1,
            column: 16
        }
    );
    let filter = error(&[("price", "1")]);
    assert_eq!(filter.parameter, "price");
}

#[test]
fn injection_attempts_are_inert_or_refused() {
    let hostile = [
        ("$select", "town; DROP TABLE x"),
        ("$select", "town\"; DROP TABLE x; --"),
        ("$where", "town = 'x'; DROP TABLE x"),
        ("$order", "town; DELETE FROM x"),
        ("$group", "town) UNION SELECT * FROM pg_user --"),
        ("$select", "`town\"; DROP TABLE x; --`"),
    ];
    for (parameter, value) in hostile {
        assert!(
            compile(
                &request(&[(parameter, value)]),
                &schema(),
                "t",
                Target::Json,
                crate::fixtures::POSTGIS
            )
            .is_err(),
            "{parameter}={value}"
        );
    }
    for (parameter, value) in [
        ("$where", "town = 'x'' OR ''1''=''1'"),
        ("$q", "'; DROP TABLE x; --"),
        ("town", "x' OR '1'='1"),
    ] {
        let query = compiled(&[(parameter, value)]);
        assert!(
            !query.sql.contains("DROP") && !query.sql.contains("'1'='1'"),
            "{}",
            query.sql
        );
        assert!(
            query.binds.iter().any(|b| b.contains('\'')),
            "{:?}",
            query.binds
        );
    }
}

#[test]
fn types_are_checked() {
    for (parameter, value) in [
        ("$where", "town + 1 > 2"),
        ("$where", "sale_amount"),
        ("$where", "location = 'POINT (1 2)'"),
        ("$where", "upper(sale_amount) = 'X'"),
        ("$select", "sum(town)"),
        ("$order", "location"),
        ("$where", "town LIKE 5"),
        ("$select", "town::point"),
    ] {
        let error = error(&[(parameter, value)]);
        assert_eq!(
            error.kind,
            ErrorKind::TypeMismatch,
            "{parameter}={value}: {error:?}"
        );
    }
}

#[test]
fn windows_only_where_socrata_allows_them() {
    for (pairs, says, parameter) in [
        (
            &[("$where", "row_number() OVER () > 1")][..],
            "allowed only in $select and $order",
            "$where",
        ),
        (
            &[
                ("$select", "town, count(*)"),
                ("$group", "town"),
                ("$having", "rank() OVER () = 1"),
            ][..],
            "allowed only in $select and $order",
            "$having",
        ),
        (
            &[("$select", "sum(row_number() OVER ())")][..],
            "not inside aggregates or other windows",
            "$select",
        ),
        (
            &[("$select", "row_number()")][..],
            "row_number is a window function: it needs OVER",
            "$select",
        ),
        (
            &[("$select", "upper(town) OVER ()")][..],
            "upper cannot take OVER",
            "$select",
        ),
        (
            &[("$select", "count(distinct town) OVER ()")][..],
            "both DISTINCT and OVER",
            "$select",
        ),
        (
            &[(
                "$select",
                "avg(ratio) OVER (ORDER BY town RANGE 5 PRECEDING)",
            )][..],
            "RANGE with an offset needs the window ordered by exactly one number",
            "$select",
        ),
        (
            &[("$select", "rank() OVER (GROUPS 1 PRECEDING)")][..],
            "GROUPS needs the window ordered",
            "$select",
        ),
        (
            &[("$select", "rank() OVER (ORDER BY location)")][..],
            "point values have no order",
            "$select",
        ),
        (
            &[("$select", "rank() OVER (ROWS 1 FOLLOWING)")][..],
            "must not end before it starts",
            "$select",
        ),
        (
            &[
                ("$select", "town, count(*) OVER (PARTITION BY sale_amount)"),
                ("$group", "town"),
            ][..],
            "sale_amount must be in $group",
            "$select",
        ),
    ] {
        let error = error(pairs);
        assert!(error.message.contains(says), "{pairs:?}: {}", error.message);
        assert_eq!(error.parameter, parameter, "{pairs:?}");
    }
    // Over grouped rows, a window may read the groups' aggregates.
    let query = compiled(&[
        ("$select", "town, sum(count(*)) OVER () AS all_rows"),
        ("$group", "town"),
        ("$order", "rank() OVER (ORDER BY count(*) DESC)"),
    ]);
    assert!(
        query
            .sql
            .contains("trim_scale(sum(count(*)::numeric) OVER ())::text"),
        "{}",
        query.sql
    );
    assert!(
        query.sql.contains(
            "ORDER BY (rank() OVER (ORDER BY count(*)::numeric DESC NULLS FIRST))::numeric ASC"
        ),
        "{}",
        query.sql
    );
}

#[test]
fn distinct_on_keeps_the_first_row_of_each_value_in_orders_order() {
    let query = compiled(&[(
        "$query",
        "SELECT DISTINCT ON (town) town, sale_amount ORDER BY town, sale_amount DESC",
    )]);
    assert_eq!(
        query.sql,
        r#"SELECT DISTINCT ON ("town") ("town")::text AS "c0", trim_scale("sale_amount")::text AS "c1" FROM data."t" ORDER BY "town" ASC NULLS LAST, "sale_amount" DESC NULLS FIRST LIMIT $1::bigint"#
    );
    let unordered = compiled(&[("$select", "DISTINCT ON (town, sold) town, sale_amount")]);
    assert!(
        unordered
            .sql
            .contains(r#"ORDER BY "town" ASC NULLS LAST, "sold" ASC NULLS LAST LIMIT"#),
        "{}",
        unordered.sql
    );
    for (pairs, says) in [
        (
            &[
                ("$select", "DISTINCT ON (town) town"),
                ("$order", "sale_amount"),
            ][..],
            "$order must begin with the DISTINCT ON values",
        ),
        (
            &[("$select", "DISTINCT ON ('x') town")][..],
            "not constants",
        ),
        (
            &[
                ("$select", "DISTINCT ON (sale_amount) town, count(*)"),
                ("$group", "town"),
            ][..],
            "sale_amount must be in $group",
        ),
    ] {
        let error = error(pairs);
        assert!(error.message.contains(says), "{pairs:?}: {}", error.message);
    }
}

#[test]
fn every_selected_value_is_grouped_even_beside_an_aggregate() {
    let error = error(&[
        ("$select", "town, sale_amount + count(*) AS x"),
        ("$group", "town"),
    ]);
    assert!(
        error.message.contains("sale_amount must be in $group"),
        "{}",
        error.message
    );
    assert_eq!(error.parameter, "$select");
}

#[test]
fn params_of_saved_queries_have_no_value_here() {
    let error = error(&[("$where", "sale_amount > param(@abcd-1234, 'floor')")]);
    assert_eq!(error.kind, ErrorKind::NoSuchColumn);
    assert!(
        error
            .message
            .contains("param('floor') reads a parameter of a saved query"),
        "{}",
        error.message
    );
    assert_eq!(error.parameter, "$where");
}

#[test]
fn what_postgresql_would_refuse_is_refused_here_first() {
    for (pairs, says) in [
        (
            &[(
                "$select",
                "town, spatial_union(location) OVER (PARTITION BY town)",
            )][..],
            "spatial_union cannot take OVER",
        ),
        (
            &[("$select", "convex_hull(case(count(*) > 1, location))")][..],
            "convex_hull takes the rows' points, or one geometry an aggregate gathered",
        ),
        (
            &[("$select", "DISTINCT ON (max(sale_amount)) town")][..],
            "town must be in $group",
        ),
        (
            &[("$select", "count(*) OVER (PARTITION BY location)")][..],
            "PARTITION BY cannot use point values",
        ),
        (
            &[("$select", "DISTINCT ON (location) town")][..],
            "DISTINCT ON cannot use point values",
        ),
        (
            &[("$select", "location, count(*)"), ("$group", "location")][..],
            "$group cannot use point values",
        ),
        (
            &[("$select", "DISTINCT location")][..],
            "DISTINCT cannot use point values",
        ),
    ] {
        let error = error(pairs);
        assert!(error.message.contains(says), "{pairs:?}: {}", error.message);
    }
    // A bare null is text where a function takes any type.
    let query = compiled(&[("$select", "first_value(null) OVER (), max(null)")]);
    assert!(
        query.sql.contains("first_value(NULL::text) OVER ()")
            && query.sql.contains("max(NULL::text)"),
        "{}",
        query.sql
    );
}

#[test]
fn grouping_is_checked_through_expressions_aliases_and_having() {
    for pairs in [
        &[
            ("$select", "upper(town) || count(*)::text AS x"),
            ("$group", "upper(town)"),
        ][..],
        &[
            ("$select", "town, count(*) AS n"),
            ("$group", "town"),
            ("$order", "-n"),
        ][..],
        &[
            (
                "$select",
                "date_trunc_ym(date_recorded) AS m, sum(count(*)) OVER (ORDER BY date_trunc_ym(date_recorded)) AS running",
            ),
            ("$group", "m"),
        ][..],
        &[
            ("$select", "town, count(*) AS n"),
            ("$group", "town"),
            ("$having", "n > 1 AND town != 'x'"),
        ][..],
    ] {
        compiled(pairs);
    }
    let error = error(&[
        ("$select", "town, count(*)"),
        ("$group", "town"),
        ("$having", "sale_amount > 5"),
    ]);
    assert!(
        error.message.contains("sale_amount must be in $group"),
        "{}",
        error.message
    );
    assert_eq!(error.parameter, "$having");
}

#[test]
fn nulls_in_arithmetic_are_typed_and_powers_are_weighed_as_written() {
    let query = compiled(&[("$select", "null + null AS n")]);
    assert!(
        query.sql.contains("(NULL::numeric + NULL::numeric)"),
        "{}",
        query.sql
    );
    // `^` on numbers writes its exponent three times: twelve nested powers would be half a
    // million copies.
    let error = error(&[("$select", &vec!["2"; 13].join(" ^ "))]);
    assert!(error.message.contains("parts"), "{}", error.message);
}
