//! Differential suite: SoQL queries over the real-estate sample through the public API, each
//! compared with the same question answered by plain SQL written by hand against an independent
//! copy of the file (loaded with `COPY` straight from the CSV, not through ingestion).

use std::collections::BTreeMap;
use std::path::Path;

use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::TestStack;
use sqlx::{Column as _, Row as _};

use crate::support::*;

type Rows = Vec<BTreeMap<String, String>>;

/// (SoQL parameters, hand-written SQL, whether the order of rows matters).
const CASES: &[(&str, &str, bool)] = &[
    (
        "$select=count(*)",
        "SELECT count(*)::text AS count FROM raw.sales",
        false,
    ),
    (
        "$select=count(*)&$where=town='Hartford'",
        "SELECT count(*)::text AS count FROM raw.sales WHERE town = 'Hartford'",
        false,
    ),
    (
        "$select=count(*)&town=Hartford",
        "SELECT count(*)::text AS count FROM raw.sales WHERE town = 'Hartford'",
        false,
    ),
    (
        "$select=count(*)&$where=town != 'Hartford'",
        "SELECT count(*)::text AS count FROM raw.sales WHERE town <> 'Hartford'",
        false,
    ),
    (
        "$select=count(*)&$where=sale_amount > 500000",
        "SELECT count(*)::text AS count FROM raw.sales WHERE sale_amount > 500000",
        false,
    ),
    (
        "$select=count(*)&$where=sale_amount >= 500000 AND sale_amount < 1000000",
        "SELECT count(*)::text AS count FROM raw.sales WHERE sale_amount >= 500000 AND sale_amount < 1000000",
        false,
    ),
    (
        "$select=count(*)&$where=sale_amount between 100000 and 200000",
        "SELECT count(*)::text AS count FROM raw.sales WHERE sale_amount BETWEEN 100000 AND 200000",
        false,
    ),
    (
        "$select=count(*)&$where=sale_amount not between 100000 and 200000",
        "SELECT count(*)::text AS count FROM raw.sales WHERE sale_amount NOT BETWEEN 100000 AND 200000",
        false,
    ),
    (
        "$select=count(*)&$where=town in ('Avon', 'Bristol', 'Canaan')",
        "SELECT count(*)::text AS count FROM raw.sales WHERE town IN ('Avon', 'Bristol', 'Canaan')",
        false,
    ),
    (
        "$select=count(*)&$where=town not in ('Avon', 'Bristol')",
        "SELECT count(*)::text AS count FROM raw.sales WHERE town NOT IN ('Avon', 'Bristol')",
        false,
    ),
    (
        "$select=count(*)&$where=address like '%MAIN ST%'",
        "SELECT count(*)::text AS count FROM raw.sales WHERE address LIKE '%MAIN ST%'",
        false,
    ),
    (
        "$select=count(*)&$where=address not like '%MAIN ST%'",
        "SELECT count(*)::text AS count FROM raw.sales WHERE address NOT LIKE '%MAIN ST%'",
        false,
    ),
    (
        "$select=count(*)&$where=residential_type is null",
        "SELECT count(*)::text AS count FROM raw.sales WHERE residential_type IS NULL",
        false,
    ),
    (
        "$select=count(*)&$where=residential_type is not null",
        "SELECT count(*)::text AS count FROM raw.sales WHERE residential_type IS NOT NULL",
        false,
    ),
    (
        "$select=count(*)&$where=town = 'Avon' or town = 'Bolton'",
        "SELECT count(*)::text AS count FROM raw.sales WHERE town = 'Avon' OR town = 'Bolton'",
        false,
    ),
    (
        "$select=count(*)&$where=not (property_type = 'Residential')",
        "SELECT count(*)::text AS count FROM raw.sales WHERE NOT (property_type = 'Residential')",
        false,
    ),
    (
        "$select=count(*)&$where=date_recorded >= '2021-01-01' and date_recorded < '2022-01-01'",
        "SELECT count(*)::text AS count FROM raw.sales WHERE date_recorded >= '2021-01-01' AND date_recorded < '2022-01-01'",
        false,
    ),
    (
        "$select=count(*)&$where=date_recorded > '06/30/2022'",
        "SELECT count(*)::text AS count FROM raw.sales WHERE date_recorded > '2022-06-30'",
        false,
    ),
    (
        "$select=count(distinct town)",
        "SELECT count(DISTINCT town)::text AS count_town FROM raw.sales",
        false,
    ),
    (
        "$select=sum(sale_amount), avg(sale_amount), min(sale_amount), max(sale_amount)",
        "SELECT trim_scale(sum(sale_amount))::text AS sum_sale_amount, trim_scale(avg(sale_amount))::text AS avg_sale_amount, trim_scale(min(sale_amount))::text AS min_sale_amount, trim_scale(max(sale_amount))::text AS max_sale_amount FROM raw.sales",
        false,
    ),
    (
        "$select=town, count(*)&$group=town",
        "SELECT town, count(*)::text AS count FROM raw.sales GROUP BY town",
        false,
    ),
    (
        "$select=town, sum(sale_amount)&$group=town&$order=town",
        "SELECT town, trim_scale(sum(sale_amount))::text AS sum_sale_amount FROM raw.sales GROUP BY town ORDER BY town",
        true,
    ),
    (
        "$select=town, count(*) AS n&$group=town&$having=n > 100&$order=n DESC, town",
        "SELECT town, count(*)::text AS n FROM raw.sales GROUP BY town HAVING count(*) > 100 ORDER BY count(*) DESC, town",
        true,
    ),
    (
        "$select=property_type, max(sale_amount) AS top&$group=property_type",
        "SELECT property_type, trim_scale(max(sale_amount))::text AS top FROM raw.sales GROUP BY property_type",
        false,
    ),
    (
        "$select=property_type, residential_type, count(*)&$group=property_type, residential_type",
        "SELECT property_type, residential_type, count(*)::text AS count FROM raw.sales GROUP BY property_type, residential_type",
        false,
    ),
    (
        "$select=list_year, avg(sales_ratio) AS ratio&$group=list_year&$order=list_year",
        "SELECT trim_scale(list_year)::text AS list_year, trim_scale(avg(sales_ratio))::text AS ratio FROM raw.sales GROUP BY list_year ORDER BY list_year",
        true,
    ),
    (
        "$select=serial_number, town&$order=sale_amount DESC, serial_number, town&$limit=10",
        "SELECT trim_scale(serial_number)::text AS serial_number, town FROM raw.sales ORDER BY sale_amount DESC NULLS FIRST, serial_number, town LIMIT 10",
        true,
    ),
    (
        "$select=address&$where=town='Hartford'&$order=sale_amount DESC, address&$limit=5&$offset=3",
        "SELECT address FROM raw.sales WHERE town = 'Hartford' ORDER BY sale_amount DESC, address LIMIT 5 OFFSET 3",
        true,
    ),
    (
        "$select=town&$order=town DESC&$limit=1",
        "SELECT town FROM raw.sales ORDER BY town DESC LIMIT 1",
        true,
    ),
    (
        "$select=distinct property_type",
        "SELECT DISTINCT property_type FROM raw.sales",
        false,
    ),
    (
        "$select=distinct town&$order=town&$limit=5",
        "SELECT DISTINCT town FROM raw.sales ORDER BY town LIMIT 5",
        true,
    ),
    (
        "$select=residential_type&$where=residential_type is not null&$group=residential_type&$order=residential_type NULLS FIRST",
        "SELECT residential_type FROM raw.sales WHERE residential_type IS NOT NULL GROUP BY residential_type ORDER BY residential_type",
        true,
    ),
    (
        "$select=upper(town) AS t, count(*)&$group=t",
        "SELECT upper(town) AS t, count(*)::text AS count FROM raw.sales GROUP BY upper(town)",
        false,
    ),
    (
        "$select=count(*)&$where=lower(town) = 'avon'",
        "SELECT count(*)::text AS count FROM raw.sales WHERE lower(town) = 'avon'",
        false,
    ),
    (
        "$select=count(*)&$where=starts_with(address, '1')",
        "SELECT count(*)::text AS count FROM raw.sales WHERE address LIKE '1%'",
        false,
    ),
    (
        "$select=max(length(address)) AS longest",
        "SELECT max(length(address))::text AS longest FROM raw.sales",
        false,
    ),
    (
        "$select=count(*)&$where=trim(address) != address",
        "SELECT count(*)::text AS count FROM raw.sales WHERE btrim(address) <> address",
        false,
    ),
    (
        "$select=date_trunc_y(date_recorded) AS year, count(*)&$group=year",
        "SELECT to_char(date_trunc('year', date_recorded), 'YYYY-MM-DD\"T\"HH24:MI:SS.MS') AS year, count(*)::text AS count FROM raw.sales GROUP BY date_trunc('year', date_recorded)",
        false,
    ),
    (
        "$select=date_trunc_ym(date_recorded) AS month, count(*)&$group=month&$where=date_recorded >= '2022-01-01'",
        "SELECT to_char(date_trunc('month', date_recorded), 'YYYY-MM-DD\"T\"HH24:MI:SS.MS') AS month, count(*)::text AS count FROM raw.sales WHERE date_recorded >= '2022-01-01' GROUP BY 1",
        false,
    ),
    (
        "$select=count(*)&$where=date_trunc_ymd(date_recorded) = '2022-03-01'",
        "SELECT count(*)::text AS count FROM raw.sales WHERE date_recorded::date = '2022-03-01'",
        false,
    ),
    (
        "$select=date_extract_m(date_recorded) AS m, count(*)&$group=m",
        "SELECT extract(month FROM date_recorded)::text AS m, count(*)::text AS count FROM raw.sales GROUP BY 1",
        false,
    ),
    (
        "$select=date_extract_dow(date_recorded) AS dow, count(*)&$group=dow",
        "SELECT extract(dow FROM date_recorded)::text AS dow, count(*)::text AS count FROM raw.sales GROUP BY 1",
        false,
    ),
    (
        "$select=count(*)&$where=date_extract_y(date_recorded) = 2020 and date_extract_d(date_recorded) = 1",
        "SELECT count(*)::text AS count FROM raw.sales WHERE extract(year FROM date_recorded) = 2020 AND extract(day FROM date_recorded) = 1",
        false,
    ),
    (
        "$select=date_extract_woy(date_recorded) AS w, count(*)&$group=w&$where=town='Hartford'",
        "SELECT extract(week FROM date_recorded)::text AS w, count(*)::text AS count FROM raw.sales WHERE town = 'Hartford' GROUP BY 1",
        false,
    ),
    (
        "$select=coalesce(residential_type, 'n/a') AS kind, count(*)&$group=kind",
        "SELECT coalesce(residential_type, 'n/a') AS kind, count(*)::text AS count FROM raw.sales GROUP BY 1",
        false,
    ),
    (
        "$select=case(sale_amount >= 1000000, 'million', sale_amount >= 250000, 'mid', true, 'low') AS band, count(*)&$group=band",
        "SELECT CASE WHEN sale_amount >= 1000000 THEN 'million' WHEN sale_amount >= 250000 THEN 'mid' ELSE 'low' END AS band, count(*)::text AS count FROM raw.sales GROUP BY 1",
        false,
    ),
    (
        "$select=CASE WHEN sales_ratio > 1 THEN 'over' ELSE 'under' END AS side, count(*)&$group=side",
        "SELECT CASE WHEN sales_ratio > 1 THEN 'over' ELSE 'under' END AS side, count(*)::text AS count FROM raw.sales GROUP BY 1",
        false,
    ),
    (
        "$select=max(greatest(assessed_value, sale_amount)) AS g, min(least(assessed_value, sale_amount)) AS l",
        "SELECT trim_scale(max(greatest(assessed_value, sale_amount)))::text AS g, trim_scale(min(least(assessed_value, sale_amount)))::text AS l FROM raw.sales",
        false,
    ),
    (
        "$select=stddev_pop(sale_amount) AS p, stddev_samp(sale_amount) AS s",
        "SELECT trim_scale(stddev_pop(sale_amount))::text AS p, trim_scale(stddev_samp(sale_amount))::text AS s FROM raw.sales",
        false,
    ),
    (
        // Rounded: sums of doubles differ in their last digits with the order rows are read in.
        "$select=round(regr_slope(sale_amount, assessed_value), 6) AS m, round(regr_intercept(sale_amount, assessed_value), 3) AS b, round(regr_r2(sale_amount, assessed_value), 9) AS r2",
        "SELECT trim_scale(round(regr_slope(sale_amount::float8, assessed_value::float8)::numeric, 6))::text AS m, trim_scale(round(regr_intercept(sale_amount::float8, assessed_value::float8)::numeric, 3))::text AS b, trim_scale(round(regr_r2(sale_amount::float8, assessed_value::float8)::numeric, 9))::text AS r2 FROM raw.sales",
        false,
    ),
    (
        "$select=sum(abs(sale_amount - assessed_value)) AS gap",
        "SELECT trim_scale(sum(abs(sale_amount - assessed_value)))::text AS gap FROM raw.sales",
        false,
    ),
    (
        "$select=round(avg(sale_amount), 2) AS mean",
        "SELECT trim_scale(round(avg(sale_amount), 2))::text AS mean FROM raw.sales",
        false,
    ),
    (
        "$select=round(max(ln(sale_amount)), 4) AS l&$where=sale_amount > 0",
        "SELECT trim_scale(round(max(ln(sale_amount)), 4))::text AS l FROM raw.sales WHERE sale_amount > 0",
        false,
    ),
    (
        "$select=sum(sale_amount * 2 - assessed_value / 2) AS x",
        "SELECT trim_scale(sum(sale_amount * 2 - assessed_value / 2))::text AS x FROM raw.sales",
        false,
    ),
    (
        "$select=town || ' / ' || property_type AS label, count(*)&$group=label&$where=town='Avon'",
        "SELECT town || ' / ' || property_type AS label, count(*)::text AS count FROM raw.sales WHERE town = 'Avon' GROUP BY 1",
        false,
    ),
    (
        "$select=count(*)&$where=serial_number::text like '2%'",
        "SELECT count(*)::text AS count FROM raw.sales WHERE trim_scale(serial_number)::text LIKE '2%'",
        false,
    ),
    (
        "$select=count(*)&$where=sale_amount % 1000 = 0",
        "SELECT count(*)::text AS count FROM raw.sales WHERE sale_amount % 1000 = 0",
        false,
    ),
    (
        "$select=count(*)&$q=ROUTE",
        "SELECT count(*)::text AS count FROM raw.sales WHERE to_tsvector('english', concat_ws(' ', town, address, property_type, residential_type, non_use_code, assessor_remarks, opm_remarks)) @@ websearch_to_tsquery('english', 'ROUTE')",
        false,
    ),
    (
        "$query=SELECT town, count(*) AS n WHERE property_type = 'Commercial' GROUP BY town HAVING count(*) >= 5 ORDER BY n DESC, town LIMIT 10",
        "SELECT town, count(*)::text AS n FROM raw.sales WHERE property_type = 'Commercial' GROUP BY town HAVING count(*) >= 5 ORDER BY count(*) DESC, town LIMIT 10",
        true,
    ),
    (
        "$select=count(*)&$where=within_circle(location, 41.7637, -72.6851, 5000)",
        "SELECT count(*)::text AS count FROM raw.sales WHERE lat IS NOT NULL AND 2 * 6371008.8 * asin(sqrt(sin(radians(lat - 41.7637) / 2) ^ 2 + cos(radians(41.7637)) * cos(radians(lat)) * sin(radians(lon + 72.6851) / 2) ^ 2)) <= 5000",
        false,
    ),
    (
        "$select=count(*)&$where=within_box(location, 41.9, -72.8, 41.6, -72.5)",
        "SELECT count(*)::text AS count FROM raw.sales WHERE lat BETWEEN 41.6 AND 41.9 AND lon BETWEEN -72.8 AND -72.5",
        false,
    ),
    (
        "$select=count(*)&$where=intersects(location, 'POLYGON ((-72.8 41.6, -72.5 41.6, -72.5 41.9, -72.8 41.9, -72.8 41.6))')",
        "SELECT count(*)::text AS count FROM raw.sales WHERE lat BETWEEN 41.6 AND 41.9 AND lon BETWEEN -72.8 AND -72.5",
        false,
    ),
    (
        "$select=count(*)&$where=intersects(location, 'POINT (-72.343628962 41.728431984)')",
        "SELECT count(*)::text AS count FROM raw.sales WHERE lon = -72.343628962 AND lat = 41.728431984",
        false,
    ),
    (
        "$select=num_points(spatial_union(location)) AS places",
        "SELECT count(DISTINCT (lon, lat))::text AS places FROM raw.sales WHERE lon IS NOT NULL",
        false,
    ),
    (
        "$select=town, extent(location) AS box&$where=town in ('Avon', 'Hartford', 'Stamford')&$group=town",
        "SELECT town, format('{\"coordinates\":[[[[%s,%s],[%s,%s],[%s,%s],[%s,%s],[%s,%s]]]],\"type\":\"MultiPolygon\"}', \
         min(lon), min(lat), min(lon), max(lat), max(lon), max(lat), max(lon), min(lat), min(lon), min(lat)) AS box \
         FROM raw.sales WHERE town IN ('Avon', 'Hartford', 'Stamford') AND lon IS NOT NULL GROUP BY town",
        false,
    ),
    (
        "$select=num_points(convex_hull(location)) AS corners, num_points(simplify(convex_hull(location), 0.5)) AS fewer",
        "SELECT ST_NPoints(ST_ConvexHull(ST_Collect(ST_MakePoint(lon, lat))))::text AS corners, \
         ST_NPoints(ST_Simplify(ST_ConvexHull(ST_Collect(ST_MakePoint(lon, lat))), 0.5))::text AS fewer FROM raw.sales",
        false,
    ),
    (
        "$select=town, max(location.latitude) AS north, min(location.longitude) AS west&$where=location.latitude > 41.9&$group=town",
        "SELECT town, trim_scale(max(lat)::numeric)::text AS north, trim_scale(min(lon)::numeric)::text AS west FROM raw.sales WHERE lat > 41.9 GROUP BY town",
        false,
    ),
    (
        "$select=sum(sales_ratio ^ 2) AS squares, 2 ^ 3 ^ 2 AS tower",
        "SELECT trim_scale(sum(power(sales_ratio, 2)))::text AS squares, '512' AS tower FROM raw.sales",
        false,
    ),
    (
        "$select=town, trim(address) AS address, rank() OVER (PARTITION BY town ORDER BY sale_amount DESC NULLS LAST) AS r&$where=town in ('Avon', 'Bolton')",
        "SELECT a.town, trim(a.address) AS address, (1 + (SELECT count(*) FROM raw.sales b WHERE b.town = a.town \
         AND (b.sale_amount > a.sale_amount OR (a.sale_amount IS NULL AND b.sale_amount IS NOT NULL))))::text AS r \
         FROM raw.sales a WHERE a.town IN ('Avon', 'Bolton')",
        false,
    ),
    (
        "$query=SELECT DISTINCT ON (town) town, sale_amount WHERE town in ('Avon', 'Bolton', 'Canton') ORDER BY town, sale_amount DESC NULLS LAST",
        "SELECT town, trim_scale(max(sale_amount))::text AS sale_amount FROM raw.sales WHERE town IN ('Avon', 'Bolton', 'Canton') GROUP BY town ORDER BY town",
        true,
    ),
    (
        "$select=serial_number, round(avg(sales_ratio) OVER (ORDER BY sale_amount RANGE BETWEEN 1000 PRECEDING AND 1000 FOLLOWING), 6) AS near&$where=town = 'Avon' AND sale_amount IS NOT NULL",
        "SELECT trim_scale(a.serial_number)::text AS serial_number, trim_scale(round((SELECT avg(b.sales_ratio) FROM raw.sales b \
         WHERE b.town = 'Avon' AND b.sale_amount BETWEEN a.sale_amount - 1000 AND a.sale_amount + 1000), 6))::text AS near \
         FROM raw.sales a WHERE a.town = 'Avon' AND a.sale_amount IS NOT NULL",
        false,
    ),
    (
        "$select=count(*)&$where=location is null",
        "SELECT count(*)::text AS count FROM raw.sales WHERE lat IS NULL",
        false,
    ),
];

async fn load_independent_copy(stack: &TestStack, file: &Path) {
    sqlx::raw_sql(
        "CREATE SCHEMA raw; CREATE TABLE raw.sales (serial_number numeric, list_year numeric, date_recorded timestamp, town text, \
         address text, assessed_value numeric, sale_amount numeric, sales_ratio numeric, property_type text, residential_type text, \
         non_use_code text, assessor_remarks text, opm_remarks text, location text, lon double precision, lat double precision)",
    )
    .execute(&stack.pool)
    .await
    .unwrap();
    let mut connection = stack.pool.acquire().await.unwrap();
    sqlx::raw_sql("SET datestyle TO 'ISO, MDY'")
        .execute(&mut *connection)
        .await
        .unwrap();
    let mut copy = connection
        .copy_in_raw(
            "COPY raw.sales (serial_number, list_year, date_recorded, town, address, assessed_value, sale_amount, sales_ratio, \
             property_type, residential_type, non_use_code, assessor_remarks, opm_remarks, location) FROM STDIN WITH (FORMAT csv, HEADER true)",
        )
        .await
        .unwrap();
    copy.send(std::fs::read(file).unwrap()).await.unwrap();
    copy.finish().await.unwrap();
    sqlx::raw_sql(
        "UPDATE raw.sales SET lon = split_part(trim(both '()' from substring(location from '\\(.*\\)')), ' ', 1)::float8, \
         lat = split_part(trim(both '()' from substring(location from '\\(.*\\)')), ' ', 2)::float8 WHERE location <> ''",
    )
    .execute(&stack.pool)
    .await
    .unwrap();
}

fn text_of(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

async fn through_the_api(stack: &TestStack, dataset: &str, query: &str) -> Rows {
    let encoded = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => format!(
                "{name}={}",
                value
                    .replace('%', "%25")
                    .replace(' ', "%20")
                    .replace('\'', "%27")
                    .replace('+', "%2B")
                    .replace('|', "%7C")
            ),
            None => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    let limit = if query.starts_with("$query=") || query.contains("$limit=") {
        ""
    } else {
        "&$limit=100000"
    };
    let response = get(stack, &format!("/resource/{dataset}.json?{encoded}{limit}")).await;
    assert_eq!(response.status, 200, "{query}: {}", response.body);
    response
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), text_of(v)))
                .collect()
        })
        .collect()
}

async fn by_hand(stack: &TestStack, sql: &str) -> Rows {
    let rows = sqlx::query(sql)
        .fetch_all(&stack.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.iter()
        .map(|row| {
            row.columns()
                .iter()
                .enumerate()
                .filter_map(|(index, column)| {
                    let value: Option<String> =
                        row.try_get(index).unwrap_or_else(|e| panic!("{sql}: {e}"));
                    value.map(|v| (column.name().to_owned(), v))
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn soql_answers_match_plain_sql_over_an_independent_copy() {
    assert!(CASES.len() >= 50, "{} cases", CASES.len());
    let file = real_estate_file();
    let stack = TestStack::start().await;
    let (key, dataset) = published_dataset(&stack, "opm", real_estate_columns(), "").await;
    let loaded = push(
        &stack,
        &key,
        &dataset,
        UploadMode::Replace,
        &std::fs::read(&file).unwrap(),
    )
    .await;
    assert_eq!(
        loaded.rows_loaded, 9999,
        "the comparison needs every row loaded"
    );
    wait_for_version(&stack, &dataset, 1).await;
    load_independent_copy(&stack, &file).await;

    let mut failures = Vec::new();
    for (query, sql, ordered) in CASES {
        let mut ours = through_the_api(&stack, &dataset, query).await;
        let mut theirs = by_hand(&stack, sql).await;
        if !ordered {
            ours.sort();
            theirs.sort();
        }
        if ours != theirs {
            let preview = |rows: &Rows| format!("{} rows, first {:?}", rows.len(), rows.first());
            failures.push(format!(
                "{query}\n  api:  {}\n  hand: {}",
                preview(&ours),
                preview(&theirs)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
    stack.stop().await;
}
