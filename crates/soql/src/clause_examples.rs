//! SoQL's clauses and operators by example: each row a request, the SQL it compiles to against
//! the compiler's test schema (table `t`), and the rows it answers over the test sample (the
//! sample the function examples use; see [`crate::functions::Example`]). A unit test checks the
//! SQL and the `soql_tables` scenario the rows, against PostgreSQL through the public API.

/// One request and what it gives.
pub struct ClauseExample {
    /// What it shows.
    pub shows: &'static str,
    /// The request's parameters, as given in the URL.
    pub params: &'static [(&'static str, &'static str)],
    /// Its SQL.
    pub sql: &'static str,
    /// Its rows, as the JSON answer writes them.
    pub rows: &'static str,
}

/// The examples, one or more per clause and operator.
pub static CLAUSE_EXAMPLES: &[ClauseExample] = &[
    ClauseExample {
        shows: "$select of columns, $order, $limit",
        params: &[
            ("$select", "town, sale_amount"),
            ("$order", ":id"),
            ("$limit", "2"),
        ],
        sql: r#"SELECT ("town")::text AS "c0", trim_scale("sale_amount")::text AS "c1" FROM data."t" ORDER BY ":id" ASC NULLS LAST LIMIT $1::bigint"#,
        rows: r#"[{"town":"Avon","sale_amount":"100000"},{"town":"Avon","sale_amount":"250000"}]"#,
    },
    ClauseExample {
        shows: "$select of expressions with aliases",
        params: &[
            ("$select", "town AS place, sale_amount * 2 AS doubled"),
            ("$order", ":id"),
            ("$limit", "1"),
        ],
        sql: r#"SELECT ("town")::text AS "c0", trim_scale(("sale_amount" * $1::numeric))::text AS "c1" FROM data."t" ORDER BY ":id" ASC NULLS LAST LIMIT $2::bigint"#,
        rows: r#"[{"place":"Avon","doubled":"200000"}]"#,
    },
    ClauseExample {
        shows: "$where with a comparison",
        params: &[
            ("$select", "town, sale_amount"),
            ("$where", "sale_amount > 200000"),
            ("$order", "sale_amount"),
        ],
        sql: r#"SELECT ("town")::text AS "c0", trim_scale("sale_amount")::text AS "c1" FROM data."t" WHERE ("sale_amount" > $1::numeric) ORDER BY "sale_amount" ASC NULLS LAST LIMIT $2::bigint"#,
        rows: r#"[{"town":"Avon","sale_amount":"250000"},{"town":"Hartford","sale_amount":"300000"}]"#,
    },
    ClauseExample {
        shows: "a field filter (?town=Bristol), joined to $where",
        params: &[("$select", "town, sale_amount"), ("town", "Bristol")],
        sql: r#"SELECT ("town")::text AS "c0", trim_scale("sale_amount")::text AS "c1" FROM data."t" WHERE ("town" = $1::text) LIMIT $2::bigint"#,
        rows: r#"[{"town":"Bristol","sale_amount":"175000.5"}]"#,
    },
    ClauseExample {
        shows: "$order descending puts nulls first, as Socrata does",
        params: &[
            ("$select", "sale_amount"),
            ("$order", "sale_amount DESC"),
            ("$limit", "2"),
        ],
        sql: r#"SELECT trim_scale("sale_amount")::text AS "c0" FROM data."t" ORDER BY "sale_amount" DESC NULLS FIRST LIMIT $1::bigint"#,
        rows: r#"[{},{"sale_amount":"300000"}]"#,
    },
    ClauseExample {
        shows: "$group with count(*), nulls last",
        params: &[
            ("$select", "sold, count(*)"),
            ("$group", "sold"),
            ("$order", "sold"),
        ],
        sql: r#"SELECT ("sold")::text AS "c0", trim_scale(count(*)::numeric)::text AS "c1" FROM data."t" GROUP BY "sold" ORDER BY "sold" ASC NULLS LAST LIMIT $1::bigint"#,
        rows: r#"[{"sold":false,"count":"2"},{"sold":true,"count":"4"},{"count":"1"}]"#,
    },
    ClauseExample {
        shows: "$having over an aggregate",
        params: &[
            ("$select", "town, sum(sale_amount)"),
            ("$group", "town"),
            ("$having", "sum(sale_amount) > 200000"),
            ("$order", "town"),
        ],
        sql: r#"SELECT ("town")::text AS "c0", trim_scale(sum("sale_amount"))::text AS "c1" FROM data."t" GROUP BY "town" HAVING (sum("sale_amount") > $1::numeric) ORDER BY "town" ASC NULLS LAST LIMIT $2::bigint"#,
        rows: r#"[{"town":"Avon","sum_sale_amount":"350000"},{"town":"Hartford","sum_sale_amount":"390000"}]"#,
    },
    ClauseExample {
        shows: "$offset",
        params: &[
            ("$select", "town"),
            ("$order", ":id"),
            ("$limit", "2"),
            ("$offset", "1"),
        ],
        sql: r#"SELECT ("town")::text AS "c0" FROM data."t" ORDER BY ":id" ASC NULLS LAST LIMIT $1::bigint OFFSET $2::bigint"#,
        rows: r#"[{"town":"Avon"},{"town":"Bristol"}]"#,
    },
    ClauseExample {
        shows: "$q, full-text over the text columns",
        params: &[("$select", "town"), ("$q", "bristol")],
        sql: r#"SELECT ("town")::text AS "c0" FROM data."t" WHERE (to_tsvector('english', coalesce("town", '')) @@ websearch_to_tsquery('english', $1::text)) LIMIT $2::bigint"#,
        rows: r#"[{"town":"Bristol"}]"#,
    },
    ClauseExample {
        shows: "$query, a whole statement",
        params: &[(
            "$query",
            "SELECT town, sale_amount WHERE sale_amount < 100000 ORDER BY sale_amount",
        )],
        sql: r#"SELECT ("town")::text AS "c0", trim_scale("sale_amount")::text AS "c1" FROM data."t" WHERE ("sale_amount" < $1::numeric) ORDER BY "sale_amount" ASC NULLS LAST LIMIT $2::bigint"#,
        rows: r#"[{"town":"Hartford","sale_amount":"90000"}]"#,
    },
    ClauseExample {
        shows: "DISTINCT",
        params: &[
            ("$select", "DISTINCT town"),
            ("$where", "town != 'Énfield'"),
            ("$order", "town"),
        ],
        sql: r#"SELECT ("r0")::text AS "c0" FROM (SELECT DISTINCT "town" AS "r0" FROM data."t" WHERE ("town" != $1::text) ORDER BY "r0" ASC NULLS LAST LIMIT $2::bigint) AS q"#,
        rows: r#"[{"town":"Avon"},{"town":"Bristol"},{"town":"Hartford"}]"#,
    },
    ClauseExample {
        shows: "IN",
        params: &[
            ("$select", "town"),
            ("$where", "town IN ('Bristol', 'Énfield')"),
            ("$order", ":id"),
        ],
        sql: r#"SELECT ("town")::text AS "c0" FROM data."t" WHERE ("town" IN ($1::text, $2::text)) ORDER BY ":id" ASC NULLS LAST LIMIT $3::bigint"#,
        rows: r#"[{"town":"Bristol"},{"town":"Énfield"}]"#,
    },
    ClauseExample {
        shows: "BETWEEN, with strings read as dates",
        params: &[
            ("$select", "sale_amount"),
            (
                "$where",
                "date_recorded BETWEEN '2021-01-01' AND '2021-12-31'",
            ),
            ("$order", ":id"),
        ],
        sql: r#"SELECT trim_scale("sale_amount")::text AS "c0" FROM data."t" WHERE ("date_recorded" BETWEEN $1::timestamp AND $2::timestamp) ORDER BY ":id" ASC NULLS LAST LIMIT $3::bigint"#,
        rows: r#"[{"sale_amount":"250000"},{"sale_amount":"175000.5"}]"#,
    },
    ClauseExample {
        shows: "LIKE and IS NOT NULL",
        params: &[
            ("$select", "sale_amount"),
            ("$where", "town LIKE 'Hart%' AND sale_amount IS NOT NULL"),
            ("$order", "sale_amount"),
        ],
        sql: r#"SELECT trim_scale("sale_amount")::text AS "c0" FROM data."t" WHERE (("town" LIKE $1::text) AND ("sale_amount" IS NOT NULL)) ORDER BY "sale_amount" ASC NULLS LAST LIMIT $2::bigint"#,
        rows: r#"[{"sale_amount":"90000"},{"sale_amount":"300000"}]"#,
    },
    ClauseExample {
        shows: "IS NULL",
        params: &[("$select", "town"), ("$where", "ratio IS NULL")],
        sql: r#"SELECT ("town")::text AS "c0" FROM data."t" WHERE ("ratio" IS NULL) LIMIT $1::bigint"#,
        rows: r#"[{"town":"Hartford"}]"#,
    },
    ClauseExample {
        shows: "CASE WHEN … ELSE … END",
        params: &[
            (
                "$select",
                "CASE WHEN sale_amount >= 200000 THEN 'high' ELSE 'low' END AS band",
            ),
            ("$order", ":id"),
            ("$limit", "2"),
        ],
        sql: r#"SELECT ((CASE WHEN ("sale_amount" >= $1::numeric) THEN $2::text ELSE $3::text END))::text AS "c0" FROM data."t" ORDER BY ":id" ASC NULLS LAST LIMIT $4::bigint"#,
        rows: r#"[{"band":"low"},{"band":"high"}]"#,
    },
    ClauseExample {
        shows: "casts",
        params: &[
            (
                "$select",
                "sale_amount::text AS amount, '2'::number + 1 AS three",
            ),
            ("$order", ":id"),
            ("$limit", "1"),
        ],
        sql: r#"SELECT (trim_scale("sale_amount")::text)::text AS "c0", trim_scale(($1::numeric + $2::numeric))::text AS "c1" FROM data."t" ORDER BY ":id" ASC NULLS LAST LIMIT $3::bigint"#,
        rows: r#"[{"amount":"100000","three":"3"}]"#,
    },
    ClauseExample {
        shows: "|| and % (on doubles)",
        params: &[
            ("$select", "town || '!' AS shout, ratio % 0.3 AS rest"),
            ("$order", ":id"),
            ("$limit", "1"),
        ],
        sql: r#"SELECT (("town" || $1::text))::text AS "c0", ((("ratio")::numeric % (($2::numeric)::double precision)::numeric)::double precision)::text AS "c1" FROM data."t" ORDER BY ":id" ASC NULLS LAST LIMIT $3::bigint"#,
        rows: r#"[{"shout":"Avon!","rest":0.2}]"#,
    },
    ClauseExample {
        shows: "a checkbox as a condition, AND, NOT",
        params: &[
            ("$select", "town"),
            ("$where", "sold AND NOT ratio > 0.55"),
            ("$order", ":id"),
        ],
        sql: r#"SELECT ("town")::text AS "c0" FROM data."t" WHERE ("sold" AND (NOT ("ratio" > ($1::numeric)::double precision))) ORDER BY ":id" ASC NULLS LAST LIMIT $2::bigint"#,
        rows: r#"[{"town":"Avon"},{"town":"Énfield"}]"#,
    },
    ClauseExample {
        shows: "OR, <=, =, subtraction and division",
        params: &[
            ("$select", "town, sale_amount / 1000 AS thousands"),
            ("$where", "sale_amount - 90000 <= 10000 OR ratio = 0.9"),
            ("$order", ":id"),
        ],
        sql: r#"SELECT ("town")::text AS "c0", trim_scale(("sale_amount" / $1::numeric))::text AS "c1" FROM data."t" WHERE ((("sale_amount" - $2::numeric) <= $3::numeric) OR ("ratio" = ($4::numeric)::double precision)) ORDER BY ":id" ASC NULLS LAST LIMIT $5::bigint"#,
        rows: r#"[{"town":"Avon","thousands":"100"},{"town":"Hartford","thousands":"90"},{"town":"Hartford"}]"#,
    },
    ClauseExample {
        shows: "NOT IN, NOT BETWEEN, NOT LIKE and <>",
        params: &[
            ("$select", "town, sale_amount"),
            (
                "$where",
                "town NOT IN ('Avon', 'Bristol') AND sale_amount NOT BETWEEN 100000 AND 200000 AND town NOT LIKE 'É%' AND town <> 'x'",
            ),
            ("$order", ":id"),
        ],
        sql: r#"SELECT ("town")::text AS "c0", trim_scale("sale_amount")::text AS "c1" FROM data."t" WHERE ((("town" NOT IN ($1::text, $2::text)) AND ("sale_amount" NOT BETWEEN $3::numeric AND $4::numeric)) AND (("town" NOT LIKE $5::text) AND ("town" != $6::text))) ORDER BY ":id" ASC NULLS LAST LIMIT $7::bigint"#,
        rows: r#"[{"town":"Hartford","sale_amount":"300000"},{"town":"Hartford","sale_amount":"90000"}]"#,
    },
    ClauseExample {
        shows: "$order with NULLS FIRST and a second key",
        params: &[
            ("$select", "ratio"),
            ("$order", "ratio ASC NULLS FIRST, :id"),
            ("$limit", "2"),
        ],
        sql: r#"SELECT ("ratio")::text AS "c0" FROM data."t" ORDER BY "ratio" ASC NULLS FIRST, ":id" ASC NULLS LAST LIMIT $1::bigint"#,
        rows: r#"[{},{"ratio":0.4}]"#,
    },
    ClauseExample {
        shows: "every column when there is no $select",
        params: &[("$order", ":id"), ("$limit", "1")],
        sql: r#"SELECT ("town")::text AS "c0", trim_scale("sale_amount")::text AS "c1", ("ratio")::text AS "c2", ("sold")::text AS "c3", to_char("date_recorded", 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS "c4", ("location")::text AS "c5", ("place")::text AS "c6", ("link")::text AS "c7" FROM data."t" ORDER BY ":id" ASC NULLS LAST LIMIT $1::bigint"#,
        rows: r#"[{"town":"Avon","sale_amount":"100000","ratio":0.5,"sold":true,"date_recorded":"2020-01-15T00:00:00.000","location":{"type":"Point","coordinates":[-72.86,41.8]},"place":{"latitude":"41.8","longitude":"-72.86","human_address":"{\"address\":\"60 West Main Street\",\"city\":\"\",\"state\":\"\",\"zip\":\"\"}"},"link":{"url":"https://www.avonct.gov/","description":"Town of Avon"}}]"#,
    },
    ClauseExample {
        shows: "$group by a select alias, unary minus",
        params: &[
            (
                "$select",
                "date_trunc_y(date_recorded) AS year, -sum(sale_amount) AS negative",
            ),
            ("$group", "year"),
            ("$order", "year"),
            ("$limit", "2"),
        ],
        sql: r#"SELECT to_char(date_trunc('year', "date_recorded"), 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS "c0", trim_scale((-sum("sale_amount")))::text AS "c1" FROM data."t" GROUP BY date_trunc('year', "date_recorded") ORDER BY date_trunc('year', "date_recorded") ASC NULLS LAST LIMIT $1::bigint"#,
        rows: r#"[{"year":"2020-01-01T00:00:00.000","negative":"-100000"},{"year":"2021-01-01T00:00:00.000","negative":"-425000.5"}]"#,
    },
    ClauseExample {
        shows: "SEARCH in a $query",
        params: &[("$query", "SELECT town SEARCH 'bristol'")],
        sql: r#"SELECT ("town")::text AS "c0" FROM data."t" WHERE (to_tsvector('english', coalesce("town", '')) @@ websearch_to_tsquery('english', $1::text)) LIMIT $2::bigint"#,
        rows: r#"[{"town":"Bristol"}]"#,
    },
    ClauseExample {
        shows: "casts to boolean and to a timestamp",
        params: &[
            (
                "$select",
                "sale_amount::boolean AS has_amount, '2024-02-03'::floating_timestamp AS day, 'true'::boolean AS yes",
            ),
            ("$order", ":id"),
            ("$limit", "1"),
        ],
        sql: r#"SELECT ((("sale_amount") <> 0))::text AS "c0", to_char($1::timestamp, 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS "c1", ($2::boolean)::text AS "c2" FROM data."t" ORDER BY ":id" ASC NULLS LAST LIMIT $3::bigint"#,
        rows: r#"[{"has_amount":true,"day":"2024-02-03T00:00:00.000","yes":true}]"#,
    },
    ClauseExample {
        shows: "unary plus, casts to double and to number",
        params: &[
            (
                "$select",
                "+sale_amount AS same, sale_amount::double AS d, '7'::number AS seven",
            ),
            ("$order", ":id"),
            ("$limit", "1"),
        ],
        sql: r#"SELECT trim_scale((+"sale_amount"))::text AS "c0", (("sale_amount")::double precision)::text AS "c1", trim_scale($1::numeric)::text AS "c2" FROM data."t" ORDER BY ":id" ASC NULLS LAST LIMIT $2::bigint"#,
        rows: r#"[{"same":"100000","d":100000,"seven":"7"}]"#,
    },
    ClauseExample {
        shows: "^, right to left, on numbers and doubles",
        params: &[
            (
                "$select",
                "sale_amount ^ 2 AS squared, 2 ^ 3 ^ 2 AS tower, ratio ^ 0.5 AS root",
            ),
            ("$order", ":id"),
            ("$limit", "1"),
        ],
        sql: r#"SELECT trim_scale((CASE WHEN abs($1::numeric) <= 16 THEN "sale_amount" ^ $1::numeric ELSE (("sale_amount")::float8 ^ ($1::numeric)::float8)::numeric END))::text AS "c0", trim_scale((CASE WHEN abs((CASE WHEN abs($1::numeric) <= 16 THEN $2::numeric ^ $1::numeric ELSE (($2::numeric)::float8 ^ ($1::numeric)::float8)::numeric END)) <= 16 THEN $1::numeric ^ (CASE WHEN abs($1::numeric) <= 16 THEN $2::numeric ^ $1::numeric ELSE (($2::numeric)::float8 ^ ($1::numeric)::float8)::numeric END) ELSE (($1::numeric)::float8 ^ ((CASE WHEN abs($1::numeric) <= 16 THEN $2::numeric ^ $1::numeric ELSE (($2::numeric)::float8 ^ ($1::numeric)::float8)::numeric END))::float8)::numeric END))::text AS "c1", (("ratio" ^ ($3::numeric)::double precision))::text AS "c2" FROM data."t" ORDER BY ":id" ASC NULLS LAST LIMIT $4::bigint"#,
        rows: r#"[{"squared":"10000000000","tower":"512","root":0.7071067811865476}]"#,
    },
    ClauseExample {
        shows: "geometry with PostGIS: intersects in $where, gathered hulls and boxes per group",
        params: &[
            (
                "$select",
                "town, count(*) AS n, convex_hull(spatial_union(location)) AS hull, simplify_preserve_topology(extent(location), 0.01) AS box",
            ),
            (
                "$where",
                "intersects(location, 'POLYGON ((-73 41.5, -72.6 41.5, -72.6 41.9, -73 41.9, -73 41.5))')",
            ),
            ("$group", "town"),
            ("$order", "town"),
        ],
        sql: r#"SELECT ("town")::text AS "c0", trim_scale(count(*)::numeric)::text AS "c1", ST_AsGeoJSON(ST_Multi(ST_ConvexHull(ST_Multi(ST_Union(ST_SetSRID(("location")::geometry, 4326)))))) AS "c2", ST_AsGeoJSON(ST_Multi(ST_SimplifyPreserveTopology(ST_Multi(ST_Envelope(ST_Collect(ST_SetSRID(("location")::geometry, 4326)))), ($1::numeric)::double precision))) AS "c3" FROM data."t" WHERE ST_Intersects(ST_SetSRID(("location")::geometry, 4326), ST_MakeValid(ST_GeomFromText($2::text, 4326))) GROUP BY "town" ORDER BY "town" ASC NULLS LAST LIMIT $3::bigint"#,
        rows: r#"[{"town":"Avon","n":"2","hull":{"type":"MultiLineString","coordinates":[[[-72.87,41.79],[-72.86,41.8]]]},"box":{"type":"MultiPolygon","coordinates":[[[[-72.87,41.79],[-72.87,41.8],[-72.86,41.8],[-72.86,41.79],[-72.87,41.79]]]]}},{"town":"Bristol","n":"1","hull":{"type":"MultiPoint","coordinates":[[-72.95,41.67]]},"box":{"type":"MultiPoint","coordinates":[[-72.95,41.67]]}},{"town":"Hartford","n":"2","hull":{"type":"MultiLineString","coordinates":[[[-72.68,41.76],[-72.67,41.77]]]},"box":{"type":"MultiPolygon","coordinates":[[[[-72.68,41.76],[-72.68,41.77],[-72.67,41.77],[-72.67,41.76],[-72.68,41.76]]]]}}]"#,
    },
    ClauseExample {
        shows: "windows: an aggregate per partition, a running sum in a frame, $order by a window function",
        params: &[
            (
                "$select",
                "town, sale_amount, count(*) OVER (PARTITION BY town) AS in_town, sum(sale_amount) OVER (ORDER BY date_recorded ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS pair",
            ),
            ("$where", "town = 'Avon'"),
            ("$order", "row_number() OVER (ORDER BY sale_amount DESC)"),
        ],
        sql: r#"SELECT ("town")::text AS "c0", trim_scale("sale_amount")::text AS "c1", trim_scale(count(*) OVER (PARTITION BY "town")::numeric)::text AS "c2", trim_scale(sum("sale_amount") OVER (ORDER BY "date_recorded" ASC NULLS LAST ROWS BETWEEN 1 PRECEDING AND CURRENT ROW))::text AS "c3" FROM data."t" WHERE ("town" = $1::text) ORDER BY (row_number() OVER (ORDER BY "sale_amount" DESC NULLS FIRST))::numeric ASC NULLS LAST LIMIT $2::bigint"#,
        rows: r#"[{"town":"Avon","sale_amount":"250000","in_town":"2","pair":"350000"},{"town":"Avon","sale_amount":"100000","in_town":"2","pair":"100000"}]"#,
    },
    ClauseExample {
        shows: "DISTINCT ON: the first row of each town in $order's order",
        params: &[(
            "$query",
            "SELECT DISTINCT ON (town) town, sale_amount WHERE town IN ('Avon', 'Bristol', 'Hartford') ORDER BY town, sale_amount DESC NULLS LAST",
        )],
        sql: r#"SELECT DISTINCT ON ("town") ("town")::text AS "c0", trim_scale("sale_amount")::text AS "c1" FROM data."t" WHERE ("town" IN ($1::text, $2::text, $3::text)) ORDER BY "town" ASC NULLS LAST, "sale_amount" DESC NULLS LAST LIMIT $4::bigint"#,
        rows: r#"[{"town":"Avon","sale_amount":"250000"},{"town":"Bristol","sale_amount":"175000.5"},{"town":"Hartford","sale_amount":"300000"}]"#,
    },
    ClauseExample {
        shows: "fields of location and url values in $select, $where, $group and $order",
        params: &[
            ("$select", "place.latitude AS lat, link.url, count(*) AS n"),
            (
                "$where",
                "place.longitude < -72 OR link.description IS NOT NULL",
            ),
            ("$group", "place.latitude, link.url"),
            ("$order", "lat DESC"),
        ],
        sql: r#"SELECT trim_scale((("place")->>'latitude')::numeric)::text AS "c0", ((("link")->>'url'))::text AS "c1", trim_scale(count(*)::numeric)::text AS "c2" FROM data."t" WHERE (((("place")->>'longitude')::numeric < (-$1::numeric)) OR ((("link")->>'description') IS NOT NULL)) GROUP BY (("place")->>'latitude')::numeric, (("link")->>'url') ORDER BY (("place")->>'latitude')::numeric DESC NULLS FIRST LIMIT $2::bigint"#,
        rows: r#"[{"lat":"41.8","link_url":"https://www.avonct.gov/","n":"1"},{"lat":"41.79","link_url":"https://www.avonct.gov/assessor","n":"1"}]"#,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::compile;
    use crate::fixtures::request;
    use crate::types::Target;

    #[test]
    fn every_example_compiles_to_its_sql() {
        let schema = crate::fixtures::sales_schema();
        let mut wrong = Vec::new();
        for example in CLAUSE_EXAMPLES {
            let compiled = compile(
                &request(example.params),
                &schema,
                "t",
                Target::Json,
                crate::fixtures::POSTGIS,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", example.shows));
            if compiled.sql != example.sql {
                wrong.push(format!(
                    "{}:\n  expected {}\n  compiled {}",
                    example.shows, example.sql, compiled.sql
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn the_examples_cover_every_operator_and_clause() {
        let schema = crate::fixtures::sales_schema();
        let all: String = CLAUSE_EXAMPLES
            .iter()
            .map(|example| {
                compile(
                    &request(example.params),
                    &schema,
                    "t",
                    Target::Json,
                    crate::fixtures::POSTGIS,
                )
                .unwrap_or_else(|e| panic!("{}: {e}", example.shows))
                .sql
            })
            .collect();
        let operators: Vec<String> = crate::ast::BinaryOp::ALL
            .iter()
            .map(|op| format!(" {} ", op.symbol()))
            .collect();
        let forms = [
            "(NOT ",
            "(-",
            " IN (",
            " NOT IN (",
            " BETWEEN ",
            " NOT BETWEEN ",
            " LIKE ",
            " NOT LIKE ",
            " IS NULL",
            " IS NOT NULL",
            "(CASE WHEN",
            "::boolean",
            "::timestamp",
            "NULLS FIRST",
            "NULLS LAST",
            "DISTINCT",
            "GROUP BY",
            "HAVING",
            "OFFSET",
            "to_tsvector",
        ];
        for needed in operators.iter().map(String::as_str).chain(forms) {
            assert!(all.contains(needed), "no example compiles to {needed:?}");
        }
    }
}
