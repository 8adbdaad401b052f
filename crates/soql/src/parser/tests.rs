//! Tests of the parser: precedence, calls, fields, statements and errors.

use super::*;

fn printed(input: &str) -> String {
    parse_expr(input).unwrap().to_string()
}

#[test]
fn precedence_follows_socrata() {
    assert_eq!(
        printed("a = 1 OR b = 2 AND NOT c"),
        "((a = 1) OR ((b = 2) AND (NOT c)))"
    );
    assert_eq!(printed("a + b * c - d"), "((a + (b * c)) - d)");
    assert_eq!(printed("a * b ^ c ^ d"), "(a * (b ^ (c ^ d)))");
    assert_eq!(printed("-a ^ 2"), "((-a) ^ 2)");
    assert_eq!(printed("-x::number + 1"), "((-(x::number)) + 1)");
    assert_eq!(printed("a || b = 'xy'"), "((a || b) = 'xy')");
    assert_eq!(
        printed("x NOT BETWEEN 1 AND 2 AND y IS NOT NULL"),
        "((x NOT BETWEEN 1 AND 2) AND (y IS NOT NULL))"
    );
    assert_eq!(
        printed("town NOT IN ('A', 'B')"),
        "(town NOT IN ('A', 'B'))"
    );
    assert_eq!(printed("NOT town LIKE 'H%'"), "(NOT (town LIKE 'H%'))");
}

#[test]
fn calls_cases_and_names() {
    assert_eq!(printed("count(*)"), "count(*)");
    assert_eq!(printed("COUNT(DISTINCT town)"), "count(DISTINCT town)");
    assert_eq!(
        printed("case(a > 1, 'x', true, 'y')"),
        "case((a > 1), 'x', true, 'y')"
    );
    assert_eq!(
        printed("CASE WHEN a THEN 1 ELSE 2 END"),
        "CASE WHEN a THEN 1 ELSE 2 END"
    );
    assert_eq!(printed("`sale amount` + :id"), "(`sale amount` + :id)");
    assert_eq!(
        printed("Place.Latitude > `my link`.url"),
        "(Place.latitude > `my link`.url)"
    );
    let error = parse_expr("place. latitude.x").unwrap_err();
    assert!(error.message.contains("`.`"), "{}", error.message);
    assert!(
        parse_expr("place.'x'")
            .unwrap_err()
            .message
            .contains("expected a field name after `.`")
    );
    assert_eq!(printed("\"double\" = 'single'"), "('double' = 'single')");
}

#[test]
fn whole_statements_parse_in_socratas_clause_order() {
    let query = parse_query(
        "SELECT town, sum(sale_amount) AS total WHERE sale_amount > 100 GROUP BY town HAVING total > 5 ORDER BY total DESC NULLS LAST LIMIT 10 OFFSET 5",
    )
    .unwrap();
    assert_eq!(query.select.len(), 2);
    assert_eq!(query.group.len(), 1);
    assert_eq!(query.limit, Some(10));
    assert_eq!(query.offset, Some(5));
    assert_eq!(query.order[0].nulls, Some(Nulls::Last));
    assert_eq!(parse_query(&query.to_string()).unwrap(), query);
}

#[test]
fn errors_say_what_was_expected_and_where() {
    let error = parse_expr("town = ").unwrap_err();
    assert_eq!(error.position, Position { line: 1, column: 8 });
    assert!(
        error.message.contains("expected a value"),
        "{}",
        error.message
    );
    let error = parse_expr("town = 'x' sale_amount").unwrap_err();
    assert!(error.message.contains("`sale_amount`"), "{}", error.message);
    assert!(parse_select("town,").is_err());
    assert!(parse_order("town sideways").is_err());
    assert!(parse_query("SELECT * LIMIT -1").is_err());
    for (twice, clause) in [
        ("SELECT * ORDER BY a ORDER BY b", "ORDER BY is given twice"),
        (
            "SELECT * SEARCH 'x' LIMIT 1 SEARCH 'y'",
            "SEARCH is given twice",
        ),
        ("SELECT * LIMIT 1 OFFSET 2 LIMIT 3", "LIMIT is given twice"),
    ] {
        let error = parse_query(twice).unwrap_err();
        assert!(error.message.contains(clause), "{twice}: {}", error.message);
    }
    assert!(parse_query("SELECT * OFFSET 2 LIMIT 1 SEARCH 'x' ORDER BY a").is_ok());
    let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
    assert!(
        parse_expr(&deep)
            .unwrap_err()
            .message
            .contains("nest deeper")
    );
}

#[test]
fn windows_parse_with_partitions_orders_and_frames() {
    for (input, printed_as) in [
        (
            "count(*) over (partition by town)",
            "count(*) OVER (PARTITION BY town)",
        ),
        (
            "row_number() OVER (PARTITION BY a, b ORDER BY m DESC NULLS LAST)",
            "row_number() OVER (PARTITION BY a, b ORDER BY m DESC NULLS LAST)",
        ),
        (
            "avg(x) over (order by m range 123 preceding)",
            "avg(x) OVER (ORDER BY m ASC RANGE 123 PRECEDING)",
        ),
        (
            "sum(x) OVER (ORDER BY m ROWS BETWEEN UNBOUNDED PRECEDING AND 2 FOLLOWING EXCLUDE CURRENT ROW)",
            "sum(x) OVER (ORDER BY m ASC ROWS BETWEEN UNBOUNDED PRECEDING AND 2 FOLLOWING EXCLUDE CURRENT ROW)",
        ),
        ("rank() OVER ()", "rank() OVER ()"),
    ] {
        assert_eq!(printed(input), printed_as, "{input}");
        let reparsed = parse_expr(printed_as).unwrap();
        assert_eq!(reparsed, parse_expr(input).unwrap(), "{input}");
    }
    for (bad, says) in [
        (
            "rank() OVER (ROWS 1 FOLLOWING)",
            "must not end before it starts",
        ),
        ("rank() OVER (ROWS BETWEEN 1 PRECEDING)", "`AND`"),
        ("rank() OVER (ROWS UNBOUNDED)", "`PRECEDING` or `FOLLOWING`"),
        (
            "rank() OVER (ROWS -1 PRECEDING)",
            "`UNBOUNDED`, `CURRENT ROW` or a whole number",
        ),
        ("rank() OVER (ROWS 1.5 PRECEDING)", "whole number"),
        (
            "rank() OVER (ROWS CURRENT ROW EXCLUDE EVERYTHING)",
            "`TIES`",
        ),
        ("rank() OVER (ORDER BY m", "`)`"),
    ] {
        let error = parse_expr(bad).unwrap_err();
        assert!(error.message.contains(says), "{bad}: {}", error.message);
    }
    // `over` not followed by a window is a name, as before.
    assert!(parse_select("count(*), over").is_ok());
}

#[test]
fn distinct_on_parses_before_the_select_list() {
    let (distinct, select) = parse_select("DISTINCT ON (town, date_trunc_y(d)) town, d").unwrap();
    assert_eq!(distinct.on().len(), 2);
    assert_eq!(select.len(), 2);
    let (distinct, _) = parse_select("DISTINCT on").unwrap();
    assert_eq!(distinct, Distinct::All, "a column named `on`");
    let query = parse_query("SELECT DISTINCT ON (town) town ORDER BY town").unwrap();
    assert_eq!(parse_query(&query.to_string()).unwrap(), query);
    assert!(parse_select("DISTINCT ON () town").is_err());
}

#[test]
fn params_of_saved_queries_parse_as_socrata_writes_them() {
    assert_eq!(
        printed("param(@aaaa-aaaa, 'min') + param(\"x\")"),
        "(param(@aaaa-aaaa, 'min') + param('x'))"
    );
    for bad in ["param(@aaaa-aaaa)", "param(min)", "param(@v, 'a', 'b')"] {
        assert!(parse_expr(bad).is_err(), "{bad}");
    }
}
