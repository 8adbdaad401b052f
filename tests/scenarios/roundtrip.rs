//! Push → read: every column type arrives with Socrata's serialization, in JSON and in CSV.

use opendata_proto::common::v1::{ColumnType, Role};
use opendata_proto::ingestion::v1::{UploadMode, UploadState};
use opendata_testkit::TestStack;
use serde_json::json;

use crate::support::*;

const FILE: &str = "\u{feff}Name,Amount,Ratio,Flag,Recorded,Stamp,Where,Place,Site\r\n\
\"Avon, CT\",\"$1,234.50\",0.5992,yes,01/30/2023,2014-10-14T03:00:00-04:00,POINT (-72.343628962 41.728431984),\"83 Main St (41.7, -72.3)\",Socrata (http://www.socrata.com)\r\n\
\"Quote \"\"q\"\"\",-7,1e3,false,2023-02-01T13:45:00,2020-01-01T00:00:00Z,,,https://portal.ct.gov\r\n\
Empty,,,,,,,,\r\n";

fn all_types() -> Vec<opendata_proto::common::v1::Column> {
    vec![
        column("Name", ColumnType::Text),
        column("Amount", ColumnType::Number),
        column("Ratio", ColumnType::Double),
        column("Flag", ColumnType::Checkbox),
        column("Recorded", ColumnType::CalendarDate),
        column("Stamp", ColumnType::Date),
        column("Where", ColumnType::Point),
        column("Place", ColumnType::Location),
        column("Site", ColumnType::Url),
    ]
}

#[tokio::test]
async fn every_column_type_round_trips_in_json_and_csv() {
    let stack = TestStack::start().await;
    let key = key_for(&stack, "opm", Role::Publisher).await;
    let dataset = create_dataset(&stack, &key, "opm", all_types(), "").await;
    let upload = push(&stack, &key, &dataset, UploadMode::Replace, FILE.as_bytes()).await;
    assert_eq!(upload.state(), UploadState::Committed);
    assert_eq!(
        (
            upload.rows_received,
            upload.rows_loaded,
            upload.rows_rejected
        ),
        (3, 3, 0)
    );
    publish(&stack, &dataset).await;
    wait_for_version(&stack, &dataset, 1).await;

    let response = get(&stack, &format!("/resource/{dataset}.json?$order=:id")).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        response.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    assert_eq!(
        response.header("x-soda2-fields"),
        Some(r#"["name","amount","ratio","flag","recorded","stamp","where","place","site"]"#)
    );
    assert_eq!(
        response.header("x-soda2-types"),
        Some(
            r#"["text","number","double","boolean","floating_timestamp","fixed_timestamp","point","location","url"]"#
        )
    );
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    assert!(
        response
            .header("last-modified")
            .is_some_and(|v| v.ends_with(" GMT"))
    );
    assert!(response.header("etag").is_some());
    assert_eq!(
        response.json(),
        json!([
            {
                "name": "Avon, CT",
                "amount": "1234.5",
                "ratio": 0.5992,
                "flag": true,
                "recorded": "2023-01-30T00:00:00.000",
                "stamp": "2014-10-14T07:00:00.000Z",
                "where": {"type": "Point", "coordinates": [-72.343628962, 41.728431984]},
                "place": {
                    "latitude": "41.7",
                    "longitude": "-72.3",
                    "human_address": "{\"address\":\"83 Main St\",\"city\":\"\",\"state\":\"\",\"zip\":\"\"}"
                },
                "site": {"url": "http://www.socrata.com", "description": "Socrata"}
            },
            {
                "name": "Quote \"q\"",
                "amount": "-7",
                "ratio": 1000,
                "flag": false,
                "recorded": "2023-02-01T13:45:00.000",
                "stamp": "2020-01-01T00:00:00.000Z",
                "site": {"url": "https://portal.ct.gov"}
            },
            {"name": "Empty"}
        ])
    );

    let csv = get(&stack, &format!("/resource/{dataset}.csv?$order=:id")).await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        csv.body,
        "\"name\",\"amount\",\"ratio\",\"flag\",\"recorded\",\"stamp\",\"where\",\"place\",\"site\"\n\
\"Avon, CT\",\"1234.5\",\"0.5992\",\"true\",\"2023-01-30T00:00:00.000\",\"2014-10-14T07:00:00.000Z\",\"POINT (-72.343628962 41.728431984)\",\"83 Main St (41.7, -72.3)\",\"http://www.socrata.com (Socrata)\"\n\
\"Quote \"\"q\"\"\",\"-7\",\"1000\",\"false\",\"2023-02-01T13:45:00.000\",\"2020-01-01T00:00:00.000Z\",,,\"https://portal.ct.gov\"\n\
\"Empty\",,,,,,,,\n"
    );
    stack.stop().await;
}
