//! Helpers shared by the scenarios: principals and keys, datasets, pushes, and HTTP reads.

use std::time::Duration;

use bytes::Bytes;
use opendata_platform::error::ApiError;
use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::{Column, ColumnType, Role, Schema};
use opendata_proto::governance::v1 as governance;
use opendata_proto::ingestion::v1 as ingestion;
use opendata_testkit::{TestStack, principal_with_key, wait_until};
use tonic::Status;

/// How long eventual effects (a version becoming current) may take in tests.
pub const EVENTUALLY: Duration = Duration::from_secs(15);

/// Creates an agency (if needed) and a principal with `role` in it; returns the principal's key.
pub async fn key_for(stack: &TestStack, agency: &str, role: Role) -> String {
    let mut admin = stack.clients(Some(&stack.admin_key)).identity;
    principal_with_key(&mut admin, agency, role, governance::KeyKind::ApiKey)
        .await
        .secret
}

/// A column.
pub fn column(display_name: &str, column_type: ColumnType) -> Column {
    Column {
        display_name: display_name.to_owned(),
        r#type: column_type as i32,
        ..Column::default()
    }
}

/// The columns of the real-estate sample (`data/ct_real_estate_sales_sample.csv`), as OPM
/// publishes them.
pub fn real_estate_columns() -> Vec<Column> {
    vec![
        column("Serial Number", ColumnType::Number),
        column("List Year", ColumnType::Number),
        column("Date Recorded", ColumnType::CalendarDate),
        column("Town", ColumnType::Text),
        column("Address", ColumnType::Text),
        column("Assessed Value", ColumnType::Number),
        column("Sale Amount", ColumnType::Number),
        column("Sales Ratio", ColumnType::Number),
        column("Property Type", ColumnType::Text),
        column("Residential Type", ColumnType::Text),
        column("Non Use Code", ColumnType::Text),
        column("Assessor Remarks", ColumnType::Text),
        column("OPM remarks", ColumnType::Text),
        column("Location", ColumnType::Point),
    ]
}

/// The real-estate sample's file.
pub fn real_estate_file() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/ct_real_estate_sales_sample.csv")
}

/// Creates a dataset with a schema; returns its id.
pub async fn create_dataset(
    stack: &TestStack,
    key: &str,
    agency: &str,
    columns: Vec<Column>,
    row_identifier: &str,
) -> String {
    let metadata = catalog::DatasetMetadata {
        title: "Test dataset".to_owned(),
        description: "Rows for a test".to_owned(),
        ..Default::default()
    };
    let schema = Schema {
        columns,
        row_identifier: row_identifier.to_owned(),
    };
    create_described(stack, key, agency, metadata, schema).await
}

/// Creates a dataset with this metadata and schema; returns its id.
pub async fn create_described(
    stack: &TestStack,
    key: &str,
    agency: &str,
    metadata: catalog::DatasetMetadata,
    schema: Schema,
) -> String {
    stack
        .clients(Some(key))
        .catalog
        .create_dataset(catalog::CreateDatasetRequest {
            agency_id: agency.to_owned(),
            metadata: Some(metadata),
            schema: Some(schema),
            id: String::new(),
        })
        .await
        .expect("create dataset")
        .into_inner()
        .id
}

/// A publisher key of `agency` and a published dataset of that agency with `columns`.
pub async fn published_dataset(
    stack: &TestStack,
    agency: &str,
    columns: Vec<Column>,
    row_identifier: &str,
) -> (String, String) {
    let key = key_for(stack, agency, Role::Publisher).await;
    let dataset = create_dataset(stack, &key, agency, columns, row_identifier).await;
    publish(stack, &dataset).await;
    (key, dataset)
}

/// Publishes a dataset through the review workflow (as the CDO) and waits until the public sees it.
pub async fn publish(stack: &TestStack, id: &str) {
    stack.publish(id).await;
}

/// Creates an upload.
pub async fn create_upload(
    stack: &TestStack,
    key: &str,
    dataset: &str,
    mode: ingestion::UploadMode,
    max_rejected: f64,
) -> Result<ingestion::Upload, Status> {
    stack
        .clients(Some(key))
        .ingestion
        .create_upload(ingestion::CreateUploadRequest {
            dataset_id: dataset.to_owned(),
            mode: mode as i32,
            max_rejected_fraction: max_rejected,
            infer_schema: false,
            schema: None,
            data_as_of: None,
            allow_empty: false,
        })
        .await
        .map(|response| response.into_inner())
}

/// Sends a file in chunks of `chunk_size` bytes.
pub async fn send_file(
    stack: &TestStack,
    key: &str,
    upload_id: &str,
    file: &[u8],
    chunk_size: usize,
) -> Result<ingestion::Upload, Status> {
    let chunks: Vec<ingestion::UploadChunk> = file
        .chunks(chunk_size.max(1))
        .enumerate()
        .map(|(index, data)| ingestion::UploadChunk {
            upload_id: if index == 0 {
                upload_id.to_owned()
            } else {
                String::new()
            },
            data: Bytes::copy_from_slice(data),
        })
        .collect();
    let chunks = if chunks.is_empty() {
        vec![ingestion::UploadChunk {
            upload_id: upload_id.to_owned(),
            data: Bytes::new(),
        }]
    } else {
        chunks
    };
    stack
        .clients(Some(key))
        .ingestion
        .upload_chunks(tokio_stream::iter(chunks))
        .await
        .map(|response| response.into_inner())
}

/// Commits an upload.
pub async fn commit(
    stack: &TestStack,
    key: &str,
    upload_id: &str,
) -> Result<ingestion::Upload, Status> {
    stack
        .clients(Some(key))
        .ingestion
        .commit_upload(ingestion::CommitUploadRequest {
            upload_id: upload_id.to_owned(),
        })
        .await
        .map(|response| response.into_inner())
}

/// Creates, sends and commits; returns the committed upload.
pub async fn push(
    stack: &TestStack,
    key: &str,
    dataset: &str,
    mode: ingestion::UploadMode,
    file: &[u8],
) -> ingestion::Upload {
    let upload = create_upload(stack, key, dataset, mode, 0.0)
        .await
        .expect("create upload");
    send_file(stack, key, &upload.id, file, 7)
        .await
        .expect("send file");
    commit(stack, key, &upload.id).await.expect("commit")
}

/// Waits until the catalog serves `version` of a dataset.
pub async fn wait_for_version(stack: &TestStack, dataset: &str, version: i64) {
    let catalog = stack.clients(Some(&stack.admin_key)).catalog;
    wait_until(
        EVENTUALLY,
        &format!("version {version} of {dataset}"),
        || {
            let mut catalog = catalog.clone();
            async move {
                let current = catalog
                    .get_dataset(catalog::GetDatasetRequest {
                        id: dataset.to_owned(),
                    })
                    .await
                    .ok()?
                    .into_inner()
                    .current_version;
                (current >= version).then_some(())
            }
        },
    )
    .await;
}

/// An HTTP response, read whole.
pub struct HttpResponse {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body.
    pub body: String,
}

impl HttpResponse {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", self.body))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `GET` on the edge.
pub async fn get(stack: &TestStack, path_and_query: &str) -> HttpResponse {
    get_with(stack, path_and_query, &[]).await
}

/// `GET` on the edge with request headers.
pub async fn get_with(
    stack: &TestStack,
    path_and_query: &str,
    headers: &[(&str, &str)],
) -> HttpResponse {
    request(
        stack,
        reqwest::Method::GET,
        path_and_query,
        headers,
        Vec::new(),
    )
    .await
}

/// A request to the edge with any method, headers and body.
pub async fn request(
    stack: &TestStack,
    method: reqwest::Method,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> HttpResponse {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path_and_query}", stack.edge_url()))
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("http request");
    HttpResponse {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.expect("http body"),
    }
}

/// A request to the edge with an optional bearer key and JSON body (`POST` when there is a body).
pub async fn send(
    stack: &TestStack,
    path_and_query: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> HttpResponse {
    let client = reqwest::Client::new();
    let url = format!("{}{path_and_query}", stack.edge_url());
    let mut request = match body {
        Some(body) => client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_owned()),
        None => client.get(url),
    };
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let response = request.send().await.expect("http request");
    HttpResponse {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.expect("http body"),
    }
}

/// The registry error behind a gRPC status.
pub fn api_error(status: &Status) -> ApiError {
    ApiError::from_status(status)
}

/// Resolves the DCAT-US schema's references to the copies kept in `data/reference`.
struct LocalSchemas(std::path::PathBuf);

impl jsonschema::Retrieve for LocalSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri
            .as_str()
            .trim_end_matches('#')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        Ok(serde_json::from_str(&std::fs::read_to_string(
            self.0.join(name),
        )?)?)
    }
}

/// A validator for the non-federal DCAT-US 1.1 catalog schema (the repository's copy).
pub fn dcat_validator() -> jsonschema::Validator {
    let schemas = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/reference/dcat-us/non-federal-v1.1");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schemas.join("catalog.json")).unwrap())
            .unwrap();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .with_retriever(LocalSchemas(schemas))
        .build(&schema)
        .expect("the DCAT-US schema compiles")
}

/// Fails listing every DCAT-US error of `catalog`.
pub fn assert_valid_dcat(validator: &jsonschema::Validator, catalog: &serde_json::Value) {
    let errors: Vec<String> = validator
        .iter_errors(catalog)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "data.json has DCAT-US errors: {errors:#?}"
    );
}

/// Asserts the edge's 400 in Socrata's shape, naming `parameter` and `limit`.
pub async fn assert_edge_refuses(
    stack: &TestStack,
    path: &str,
    parameter: &str,
    limit: Option<&str>,
) {
    let response = get(stack, path).await;
    assert_eq!(response.status, 400, "{path}: {}", response.body);
    let body = response.json();
    assert_eq!(body["error"], true);
    assert_eq!(body["code"], "invalid_request");
    assert_eq!(body["data"]["parameter"], parameter, "{path}");
    assert_eq!(
        body["data"]["limit"].as_str(),
        limit,
        "{path}: {}",
        response.body
    );
}

/// A dataset of `opm` titled `title` with one text column, Town, created by a new publisher and
/// published by a new CDO, through `clients` (acting with the key given); returns the publisher's
/// key and the dataset's id.
pub async fn published_towns(
    clients: impl Fn(Option<&str>) -> opendata_testkit::Clients,
    admin_key: &str,
    title: &str,
) -> (String, String) {
    let mut identity = clients(Some(admin_key)).identity;
    let publisher = principal_with_key(
        &mut identity,
        "opm",
        Role::Publisher,
        governance::KeyKind::ApiKey,
    )
    .await
    .secret;
    let dataset = clients(Some(&publisher))
        .catalog
        .create_dataset(catalog::CreateDatasetRequest {
            agency_id: "opm".into(),
            metadata: Some(catalog::DatasetMetadata {
                title: title.to_owned(),
                ..Default::default()
            }),
            schema: Some(Schema {
                columns: vec![column("Town", ColumnType::Text)],
                row_identifier: String::new(),
            }),
            id: String::new(),
        })
        .await
        .expect("create the dataset")
        .into_inner()
        .id;
    let cdo =
        principal_with_key(&mut identity, "cdo", Role::Cdo, governance::KeyKind::ApiKey).await;
    opendata_testkit::review_to_published(&mut clients(Some(&cdo.secret)).review, &dataset).await;
    (publisher, dataset)
}

/// A connection to the stack's event bus, as a second search replica would open it.
pub async fn search_bus(stack: &TestStack) -> opendata_platform::events::EventBus {
    opendata_platform::events::EventBus::connect(
        &opendata_platform::config::NatsConfig {
            url: opendata_testkit::nats_url(),
            prefix: stack.prefix.clone(),
            ..Default::default()
        },
        "opendata-search",
    )
    .await
    .expect("connect to NATS")
}

/// Takes a published dataset out of public view (withheld on a legal ground) and waits until the
/// public no longer sees it.
pub async fn unpublish(stack: &TestStack, id: &str) {
    stack
        .clients(Some(&stack.cdo_key().await))
        .review
        .withhold(governance::WithholdRequest {
            dataset_id: id.to_owned(),
            ground: governance::WithholdingGround::HindersGovernment as i32,
            explanation: "under revision".to_owned(),
            access_level: opendata_proto::common::v1::AccessLevel::NonPublic as i32,
        })
        .await
        .expect("withhold");
    stack.wait_public(id, false).await;
}

/// A published dataset of towns and amounts, keyed by town.
pub async fn amounts_by_town(stack: &TestStack) -> (String, String) {
    published_dataset(
        stack,
        "opm",
        vec![
            column("Town", ColumnType::Text),
            column("Amount", ColumnType::Number),
        ],
        "town",
    )
    .await
}

/// A file of `Town,Amount` rows.
pub fn amounts_file(rows: &str) -> Vec<u8> {
    format!("Town,Amount\n{rows}").into_bytes()
}

/// Rows of a dataset's generation table `generation` (the version that started it), as
/// (town, amount, from version, to version).
pub async fn generation_rows(
    stack: &TestStack,
    dataset: &str,
    generation: i64,
) -> Vec<(String, String, i64, Option<i64>)> {
    let table = format!("ds_{}_g{generation}", dataset.replace('-', "_"));
    sqlx::query_as(&format!(
        "SELECT town, amount::text, \":from_version\", \":to_version\" FROM data.\"{table}\" \
         ORDER BY town, \":from_version\""
    ))
    .fetch_all(&stack.pool)
    .await
    .unwrap()
}

/// A row of a generation as [`generation_rows`] lists it.
pub fn generation_row(
    town: &str,
    amount: &str,
    from: i64,
    to: Option<i64>,
) -> (String, String, i64, Option<i64>) {
    (town.to_owned(), amount.to_owned(), from, to)
}

/// Pushes `Town,Amount` files in order, each with its mode (see [`amounts_file`]).
pub async fn push_amounts(
    stack: &TestStack,
    key: &str,
    dataset: &str,
    pushes: &[(ingestion::UploadMode, &str)],
) {
    for (mode, rows) in pushes {
        push(stack, key, dataset, *mode, &amounts_file(rows)).await;
    }
}

/// A stack that keeps every version (a year after it is replaced, and the newest ten).
pub async fn keeping_versions() -> TestStack {
    TestStack::start_with(opendata_testkit::TestOptions {
        retention_days: 365,
        retention_versions: 10,
        ..Default::default()
    })
    .await
}
