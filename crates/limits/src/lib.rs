//! Every limit the portal enforces, in one table.
//!
//! A public API is only as robust as its smallest unchecked input, so each input has a limit here:
//! a name (which errors carry as their `limit` detail), a value, what it bounds, the setting that
//! changes it (when one does) and what a caller past it gets. The edge and the gRPC services read
//! their limits from these constants, so the two can never disagree; `docs/limits.md` and the
//! README's table are [`markdown_table`] rendered, and a test keeps them identical.
//!
//! This crate has no dependencies: the pure crates (the SoQL compiler) use it as well as the
//! services.

/// One limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The name errors carry in their `limit` detail (`soql_depth`).
    pub name: &'static str,
    /// The largest value allowed; for limits with a setting, its default.
    pub value: u64,
    /// What `value` counts (`levels`, `bytes`, `seconds`).
    pub unit: &'static str,
    /// What the limit bounds.
    pub applies_to: &'static str,
    /// The configuration key that changes it, if one does.
    pub setting: Option<&'static str>,
    /// What a caller past the limit gets.
    pub exceeded: &'static str,
}

impl Limit {
    /// The value as a size.
    pub const fn get(self) -> usize {
        self.value as usize
    }

    /// Why `value` goes past this limit, counted in characters (in bytes when the limit counts
    /// bytes), or holds a NUL character (which PostgreSQL cannot store); `None` when it is fine.
    pub fn text_problem(self, value: &str) -> Option<String> {
        if value.contains('\0') {
            return Some("NUL characters are not allowed".to_owned());
        }
        let length = if self.unit == "bytes" {
            value.len()
        } else {
            value.chars().count()
        };
        (length > self.get()).then(|| {
            format!(
                "{length} {}, more than the {} allowed (limit {})",
                self.unit, self.value, self.name
            )
        })
    }

    /// Why `count` items go past this limit; `None` when they do not.
    pub fn count_problem(self, count: usize) -> Option<String> {
        (count > self.get()).then(|| {
            format!(
                "{count} {}, more than the {} allowed (limit {})",
                self.unit, self.value, self.name
            )
        })
    }
}

/// At most the first 80 characters of `text`, for echoing a client's input in an error without
/// sending back megabytes of it.
pub fn excerpt(text: &str) -> String {
    const SHOWN: usize = 80;
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// How a SoQL limit is reported.
const SOQL_EXCEEDED: &str = "400 `query.compiler.malformed`, `limit` named";

/// Bytes of SoQL in one request: every clause and every `?field=value` filter together.
pub const SOQL_TEXT: Limit = Limit {
    name: "soql_text",
    value: 65_536,
    unit: "bytes",
    applies_to: "SoQL of one request (`$select`, `$where`, `$order`, `$group`, `$having`, `$q`, `$query` and field filters together)",
    setting: None,
    exceeded: SOQL_EXCEEDED,
};

/// Depth of one SoQL expression tree.
pub const SOQL_DEPTH: Limit = Limit {
    name: "soql_depth",
    value: 32,
    unit: "levels",
    applies_to: "nesting of one SoQL expression: each parenthesis, call, operand and operator of a chain is one level (a chain of `AND` or of `OR` counts as its logarithm, so long lists of alternatives are fine)",
    setting: None,
    exceeded: SOQL_EXCEEDED,
};

/// Nodes of the SoQL expressions of one request.
pub const SOQL_NODES: Limit = Limit {
    name: "soql_nodes",
    value: 20_000,
    unit: "nodes",
    applies_to: "values, names, operators and calls in the SoQL of one request, an alias counting each time it is used, and in its SQL, a value counting each time a function repeats it (a distance repeats each point three times)",
    setting: None,
    exceeded: SOQL_EXCEEDED,
};

/// Values of one `IN (...)` list.
pub const SOQL_IN_VALUES: Limit = Limit {
    name: "soql_in_values",
    value: 10_000,
    unit: "values",
    applies_to: "values in one `IN (...)` list",
    setting: None,
    exceeded: SOQL_EXCEEDED,
};

/// Vertices of one WKT argument (`within_polygon`'s polygon, `intersects`'s shape).
pub const SOQL_SHAPE_VERTICES: Limit = Limit {
    name: "soql_shape_vertices",
    value: 10_000,
    unit: "vertices",
    applies_to: "vertices of one WKT polygon or shape given to `within_polygon` or `intersects`",
    setting: None,
    exceeded: SOQL_EXCEEDED,
};

/// Columns one query returns.
pub const SOQL_SELECTED_COLUMNS: Limit = Limit {
    name: "soql_selected_columns",
    value: 1_000,
    unit: "columns",
    applies_to: "columns a query returns, after `*` and `:*` are expanded",
    setting: None,
    exceeded: SOQL_EXCEEDED,
};

/// `?field=value` filters of one request.
pub const SOQL_FIELD_FILTERS: Limit = Limit {
    name: "soql_field_filters",
    value: 100,
    unit: "filters",
    applies_to: "`?field=value` filters of one request",
    setting: None,
    exceeded: SOQL_EXCEEDED,
};

/// Words of a full-text row search.
pub const SOQL_SEARCH_TERMS: Limit = Limit {
    name: "soql_search_terms",
    value: 32,
    unit: "words",
    applies_to: "words of a row search (`$q`, `SEARCH`)",
    setting: None,
    exceeded: SOQL_EXCEEDED,
};

/// How a text or list limit is reported.
const FIELD_EXCEEDED: &str = "400 / `INVALID_ARGUMENT` naming the field and the limit";

/// Characters of a name or label.
pub const TEXT_NAME: Limit = Limit {
    name: "text_name",
    value: 200,
    unit: "characters",
    applies_to: "names and labels: agency and principal names, key labels; a dataset's category, publisher, contact name, spatial coverage and attribution, column display names (and so CSV header cells); an award's company, parent company, address, municipality, county, industry, project name and status; program names and agencies; tax credit and tax types; every value of a list filter; the reason a version is purged",
    setting: None,
    exceeded: FIELD_EXCEEDED,
};

/// Characters of a one-line text.
pub const TEXT_LINE: Limit = Limit {
    name: "text_line",
    value: 255,
    unit: "characters",
    applies_to: "one-line texts: a dataset's title and rights statement, a withholding explanation (which becomes the rights)",
    setting: None,
    exceeded: FIELD_EXCEEDED,
};

/// Characters of a reason, note or short document.
pub const TEXT_PARAGRAPH: Limit = Limit {
    name: "text_paragraph",
    value: 4_000,
    unit: "characters",
    applies_to: "reasons and notes: nomination justifications, transition, retirement, correction and withdrawal reasons, job review notes, penalty terms, total mismatch reasons, statutory references, column descriptions",
    setting: None,
    exceeded: FIELD_EXCEEDED,
};

/// Characters of a dataset description.
pub const TEXT_DESCRIPTION: Limit = Limit {
    name: "text_description",
    value: 20_000,
    unit: "characters",
    applies_to: "a dataset's description",
    setting: None,
    exceeded: FIELD_EXCEEDED,
};

/// Bytes of a URL or email address.
pub const TEXT_URL: Limit = Limit {
    name: "text_url",
    value: 2_000,
    unit: "bytes",
    applies_to: "a dataset's license and landing page URLs and contact email",
    setting: None,
    exceeded: FIELD_EXCEEDED,
};

/// Keywords of one dataset.
pub const KEYWORDS: Limit = Limit {
    name: "keywords",
    value: 50,
    unit: "keywords",
    applies_to: "keywords of one dataset, each at most 100 characters",
    setting: None,
    exceeded: FIELD_EXCEEDED,
};

/// Characters of one keyword.
pub const KEYWORD_CHARS: Limit = Limit {
    name: "keyword_chars",
    value: 100,
    unit: "characters",
    applies_to: "one keyword",
    setting: None,
    exceeded: FIELD_EXCEEDED,
};

/// Bytes of one record of a pushed file.
pub const RECORD_BYTES: Limit = Limit {
    name: "record_bytes",
    value: 16 * 1024 * 1024,
    unit: "bytes",
    applies_to: "one record (row) of a pushed CSV file, its cells decoded",
    setting: None,
    exceeded: "400 `malformed_file` naming the line and the limit (an unclosed quote, usually)",
};

/// Columns of one dataset.
pub const COLUMNS: Limit = Limit {
    name: "columns",
    value: 1_000,
    unit: "columns",
    applies_to: "columns of a dataset's schema, and so of a file pushed to it",
    setting: None,
    exceeded: "400 `INVALID_ARGUMENT` / `malformed_file` naming the limit",
};

/// Bytes of a dataset's column documentation.
pub const SCHEMA_BYTES: Limit = Limit {
    name: "schema_bytes",
    value: 131_072,
    unit: "bytes",
    applies_to: "a schema's field names, display names and descriptions together (a data dictionary of 1,000 columns averages 130 bytes a column)",
    setting: None,
    exceeded: FIELD_EXCEEDED,
};

/// Values of a list filter.
pub const FILTER_VALUES: Limit = Limit {
    name: "filter_values",
    value: 100,
    unit: "values",
    applies_to: "values of one list filter: categories, tags, ids, types, facets, award municipalities, programs and fiscal years of a search; municipalities, programs, industries, types, and years of an award search; states of an inventory listing; job reviews sent with one new award",
    setting: None,
    exceeded: FIELD_EXCEEDED,
};

/// What a web page takes and shows.
const PAGE_EXCEEDED: &str = "400 page naming the parameter and the limit";

/// Bytes of a web page's query string.
pub const PAGE_QUERY_BYTES: Limit = Limit {
    name: "page_query_bytes",
    value: 2_048,
    unit: "bytes",
    applies_to: "the query string of a search page (`/browse`), a dataset page (`/d/{id}`, with its filters, chart and map) or the incentives explorer (`/incentives`)",
    setting: None,
    exceeded: PAGE_EXCEEDED,
};

/// Filters one search page takes.
pub const PAGE_FILTERS: Limit = Limit {
    name: "page_filters",
    value: 10,
    unit: "filters",
    applies_to: "agencies, categories and tags of a search page together (at the limit, no more facet links are offered); filters of a dataset page's table",
    setting: None,
    exceeded: PAGE_EXCEEDED,
};

/// Bytes of rows one dataset page shows.
pub const PAGE_TABLE_BYTES: Limit = Limit {
    name: "page_table_bytes",
    value: 2 * 1024 * 1024,
    unit: "bytes",
    applies_to: "the rows of one table page of a dataset page (20 rows, each cell cut at 200 characters)",
    setting: None,
    exceeded: "the page says the rows are too large to show and offers the downloads",
};

/// Groups a dataset page's chart draws.
pub const PAGE_CHART_GROUPS: Limit = Limit {
    name: "page_chart_groups",
    value: 20,
    unit: "groups",
    applies_to: "bars of a dataset page's chart (the largest groups; a chart by month draws the latest 240 months)",
    setting: None,
    exceeded: "the smaller groups are left out; the chart's SoQL link gives them all",
};

/// Points a dataset page's map draws.
pub const PAGE_MAP_POINTS: Limit = Limit {
    name: "page_map_points",
    value: 5_000,
    unit: "points",
    applies_to: "rows drawn as points on a dataset page's map (the map of rows by town has no such cap)",
    setting: None,
    exceeded: "the first rows are drawn and the map says how many",
};

/// Bytes of a form a page posts.
pub const PAGE_FORM_BYTES: Limit = Limit {
    name: "page_form_bytes",
    value: 16_384,
    unit: "bytes",
    applies_to: "the body of a form posted by a staff page (sign-in and every governance action)",
    setting: None,
    exceeded: "413 page naming the limit",
};

/// Withheld datasets governance lists in one inventory summary.
pub const WITHHELD_LISTED: Limit = Limit {
    name: "withheld_listed",
    value: 1_000,
    unit: "datasets",
    applies_to: "withheld datasets named by `SummarizeInventory` and shown on `/transparency` and an agency's page (by agency and title)",
    setting: None,
    exceeded: "the first are listed and the page says how many more `/data.json` holds",
};

/// Seconds a staff web session lasts.
pub const STAFF_SESSION_SECONDS: Limit = Limit {
    name: "staff_session_seconds",
    value: 8 * 3600,
    unit: "seconds",
    applies_to: "a staff web session, from sign-in with an API key (at most a week); revoking the key ends it too",
    setting: Some("governance.session_lifetime_secs"),
    exceeded: "the session ends: the staff pages ask to sign in again",
};

/// Award ids one award search takes: the awards a company search matched.
pub const AWARD_IDS: Limit = Limit {
    name: "award_ids",
    value: 10_000,
    unit: "ids",
    applies_to: "award ids of one award search (the awards the search service matched for a company; a company matching more is looked up in the incentives database instead)",
    setting: None,
    exceeded: FIELD_EXCEEDED,
};

/// Records one call may record.
pub const RECORDS_PER_CALL: Limit = Limit {
    name: "records_per_call",
    value: 5_000,
    unit: "records",
    applies_to: "awards one `RecordAwards` call records, tax credit figures one `RecordTaxCredits` call records",
    setting: None,
    exceeded: FIELD_EXCEEDED,
};

/// Characters of search text.
pub const SEARCH_TEXT: Limit = Limit {
    name: "search_text",
    value: 500,
    unit: "characters",
    applies_to: "words of a catalog search (`q`), an autocompletion prefix, a company search, or one filter of a dataset page's table",
    setting: None,
    exceeded: FIELD_EXCEEDED,
};

/// Bytes of one event on the bus.
pub const EVENT_BYTES: Limit = Limit {
    name: "event_bytes",
    value: 256 * 1024,
    unit: "bytes",
    applies_to: "one event on the bus (its protobuf payload); events carry ids, versions and short facts, so no change produces one this large",
    setting: None,
    exceeded: "never published: set aside in the service's `outbox_dead_letters` with the reason, logged once, reported by `/readyz`; the events behind it flow",
};

/// Requests per minute from one anonymous address at the edge.
pub const PER_MINUTE_PER_ADDRESS: Limit = Limit {
    name: "per_minute_per_address",
    value: 1_000,
    unit: "requests",
    applies_to: "public API and staff requests per minute from one address without an app token (an IPv6 address counts by its /64), and lookups of app tokens governance has not vouched for lately",
    setting: Some("edge.rate_limits.anonymous_per_minute"),
    exceeded: "429 `too_many_requests` with `Retry-After`",
};

/// Requests per minute with one app token at the edge.
pub const PER_MINUTE_PER_TOKEN: Limit = Limit {
    name: "per_minute_per_token",
    value: 20_000,
    unit: "requests",
    applies_to: "public API requests per minute with one app token",
    setting: Some("edge.rate_limits.token_per_minute"),
    exceeded: "429 `too_many_requests` with `Retry-After`",
};

/// Requests in flight from one anonymous address at the edge.
pub const IN_FLIGHT_PER_ADDRESS: Limit = Limit {
    name: "in_flight_per_address",
    value: 4,
    unit: "requests",
    applies_to: "public API requests one address without an app token has in flight at once (a download counts until its last byte)",
    setting: Some("edge.rate_limits.in_flight_per_address"),
    exceeded: "429 `too_many_requests` with `Retry-After`",
};

/// Requests in flight with one app token at the edge.
pub const IN_FLIGHT_PER_TOKEN: Limit = Limit {
    name: "in_flight_per_token",
    value: 8,
    unit: "requests",
    applies_to: "public API requests one app token has in flight at once",
    setting: Some("edge.rate_limits.in_flight_per_token"),
    exceeded: "429 `too_many_requests` with `Retry-After`",
};

/// Row queries one key or app token runs at once in the catalog.
pub const QUERIES_PER_PRINCIPAL: Limit = Limit {
    name: "queries_per_principal",
    value: 8,
    unit: "queries",
    applies_to: "row queries one key or app token runs at once (edge and gRPC alike)",
    setting: Some("catalog.max_concurrent_queries_per_principal"),
    exceeded: "429 / `RESOURCE_EXHAUSTED`",
};

/// What a caller waiting past a query limit gets.
const QUERY_WAIT_EXCEEDED: &str = "waits (all of a query's waits together) up to 5 s, then 503 `service_unavailable` with `Retry-After`";

/// Row queries running at once: the catalog's row-query connections.
pub const QUERY_CONNECTIONS: Limit = Limit {
    name: "query_connections",
    value: 16,
    unit: "queries",
    applies_to: "row queries running at once, all callers together (each has a connection of its own)",
    setting: Some("catalog.max_concurrent_queries"),
    exceeded: QUERY_WAIT_EXCEEDED,
};

/// Row queries the public runs at once, together.
pub const PUBLIC_QUERIES: Limit = Limit {
    name: "public_queries",
    value: 12,
    unit: "queries",
    applies_to: "row queries anonymous callers and app token holders run at once, together: below the 16 connections of `catalog.max_concurrent_queries`, so key holders (agencies, staff) always find one",
    setting: Some("catalog.max_concurrent_public_queries"),
    exceeded: QUERY_WAIT_EXCEEDED,
};

/// Row queries anonymous callers run at once, together.
pub const ANONYMOUS_QUERIES: Limit = Limit {
    name: "anonymous_queries",
    value: 10,
    unit: "queries",
    applies_to: "row queries anonymous callers run at once, together: part of `public_queries`, so app token holders always find one",
    setting: Some("catalog.max_concurrent_anonymous_queries"),
    exceeded: QUERY_WAIT_EXCEEDED,
};

/// Expensive row queries the public runs at once, together.
pub const EXPENSIVE_PUBLIC_QUERIES: Limit = Limit {
    name: "expensive_public_queries",
    value: 2,
    unit: "queries",
    applies_to: "row queries of anonymous callers and app token holders that the planner estimates at `catalog.expensive_query_cost` or more (full scans and aggregates of large tables; a `LIMIT` is costed as what it may scan), run at once, together; public queries run without parallel workers",
    setting: Some("catalog.max_concurrent_expensive_public_queries"),
    exceeded: "waits without holding a connection (all of a query's waits together up to 5 s), then 503 `service_unavailable` with `Retry-After`",
};

/// Statement timeout of anonymous callers.
pub const QUERY_SECONDS_ANONYMOUS: Limit = Limit {
    name: "query_seconds_anonymous",
    value: 60,
    unit: "seconds",
    applies_to: "how long an anonymous row query may run, streaming included",
    setting: Some("catalog.anonymous_query_timeout_secs"),
    exceeded: "504 `query.execution.timeout` naming the limit (a stream already started ends early)",
};

/// Statement timeout of app token holders.
pub const QUERY_SECONDS_TOKEN: Limit = Limit {
    name: "query_seconds_token",
    value: 120,
    unit: "seconds",
    applies_to: "how long an app token holder's row query may run, streaming included",
    setting: Some("catalog.token_query_timeout_secs"),
    exceeded: "504 `query.execution.timeout` naming the limit (a stream already started ends early)",
};

/// Statement timeout of key holders.
pub const QUERY_SECONDS_KEY: Limit = Limit {
    name: "query_seconds_key",
    value: 300,
    unit: "seconds",
    applies_to: "how long a key holder's row query may run, streaming included",
    setting: Some("catalog.query_timeout_secs"),
    exceeded: "504 `query.execution.timeout` naming the limit (a stream already started ends early)",
};

/// Award downloads (`/api/incentives/awards.csv` and `.json`) streaming at once.
pub const AWARD_EXPORTS: Limit = Limit {
    name: "award_exports",
    value: 4,
    unit: "downloads",
    applies_to: "downloads of the whole award table (or a filtered part of it) streaming at once, all callers together; each holds a database snapshot while it streams",
    setting: Some("incentives.max_concurrent_exports"),
    exceeded: "503 `service_unavailable` with `Retry-After`, naming the limit",
};

/// Award downloads one caller streams at once.
pub const AWARD_EXPORTS_PER_CALLER: Limit = Limit {
    name: "award_exports_per_caller",
    value: 1,
    unit: "downloads",
    applies_to: "downloads of the award table one address (without an app token) or one app token streams at once at the edge, so no caller holds every place of `award_exports`",
    setting: None,
    exceeded: "429 `too_many_requests` with `Retry-After`",
};

/// How long one award download may take.
pub const AWARD_EXPORT_SECONDS: Limit = Limit {
    name: "award_export_seconds",
    value: 120,
    unit: "seconds",
    applies_to: "how long one award download may stream, the client's reading included",
    setting: Some("incentives.export_timeout_secs"),
    exceeded: "the download ends early with an error (its snapshot and place are given up at once)",
};

/// Seconds to send a request's headers at the edge (and to leave a keep-alive connection idle).
pub const HEADER_READ_TIMEOUT: Limit = Limit {
    name: "header_read_seconds",
    value: 20,
    unit: "seconds",
    applies_to: "time a client has to send a request's headers at the edge; the same clock closes keep-alive connections left idle",
    setting: Some("edge.connections.header_read_timeout_secs"),
    exceeded: "the connection is closed",
};

/// Connections the edge keeps open at once.
pub const MAX_CONNECTIONS: Limit = Limit {
    name: "connections",
    value: 2_048,
    unit: "connections",
    applies_to: "connections the edge keeps open at once",
    setting: Some("edge.connections.max_connections"),
    exceeded: "new connections wait in the kernel's backlog until one closes",
};

/// Connections from one address at the edge, when it is not behind a proxy.
pub const CONNECTIONS_PER_ADDRESS: Limit = Limit {
    name: "connections_per_address",
    value: 64,
    unit: "connections",
    applies_to: "connections one address (an IPv6 address by its /64) keeps open with the edge when the edge faces clients directly (behind a trusted proxy, the proxy holds the connections)",
    setting: Some("edge.connections.max_connections_per_address"),
    exceeded: "the new connection is closed at once",
};

/// Bytes of a request's line and headers at the edge.
pub const REQUEST_HEAD_BYTES: Limit = Limit {
    name: "request_head_bytes",
    value: 98_304,
    unit: "bytes",
    applies_to: "a request's line and headers together at the edge: once this much has arrived without the head ending, the request is refused (a head that ends in the read crossing the limit is still taken, so a connection holds at most about twice this)",
    setting: None,
    exceeded: "431 from the HTTP layer (without Socrata's error body)",
};

/// Bytes of a request's URI at the edge.
pub const REQUEST_URI_BYTES: Limit = Limit {
    name: "uri_bytes",
    value: 65_534,
    unit: "bytes",
    applies_to: "a request's URI (path and query string) at the edge, fixed by the HTTP layer",
    setting: None,
    exceeded: "414 from the HTTP layer, before any route (so without Socrata's error body)",
};

/// Bytes of one gRPC message.
pub const GRPC_MESSAGE_BYTES: Limit = Limit {
    name: "grpc_message_bytes",
    value: 16 * 1024 * 1024,
    unit: "bytes",
    applies_to: "one gRPC message to catalog, ingestion (an upload chunk), incentives and governance's identity service; governance's other services and search take tonic's 4 MiB",
    setting: None,
    exceeded: "`OUT_OF_RANGE` from gRPC, before the service reads it",
};

/// Calls one gRPC connection carries at once.
pub const GRPC_STREAMS_PER_CONNECTION: Limit = Limit {
    name: "grpc_streams_per_connection",
    value: 1024,
    unit: "calls",
    applies_to: "gRPC calls (HTTP/2 streams) one connection to any service carries at once",
    setting: None,
    exceeded: "further calls on that connection wait for one to finish (HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`); a client that opens more anyway has them refused",
};

/// Connections the metrics listener serves at once.
pub const SCRAPE_CONNECTIONS: Limit = Limit {
    name: "scrape_connections",
    value: 8,
    unit: "connections",
    applies_to: "connections a server's metrics listener (`metrics_listen`) serves at once, each one request (no keep-alive) with 5 s for its head and 30 s in all; scrapes within a second share one rendering",
    setting: None,
    exceeded: "further connections wait to be accepted until one of the eight ends",
};

/// Seconds a response may wait for its client to read before the connection is closed.
pub const WRITE_STALL_SECONDS: Limit = Limit {
    name: "write_stall_seconds",
    value: 30,
    unit: "seconds",
    applies_to: "time a response's bytes may wait for the client to read any of them at the edge (a download that keeps moving, however slowly, is not cut)",
    setting: Some("edge.connections.write_timeout_secs"),
    exceeded: "the connection is closed (a download in progress ends early)",
};

/// Bytes of an API key or app token.
pub const KEY_BYTES: Limit = Limit {
    name: "key_bytes",
    value: 256,
    unit: "bytes",
    applies_to: "an API key or app token a caller sends (issued ones are under 64)",
    setting: None,
    exceeded: "taken as an unknown key: 401 / `UNAUTHENTICATED` (403 for an app token), without asking governance",
};

/// Bytes of one gRPC call's metadata (its HTTP/2 headers).
pub const GRPC_HEADER_BYTES: Limit = Limit {
    name: "grpc_header_bytes",
    value: 16 * 1024,
    unit: "bytes",
    applies_to: "metadata of one gRPC call (keys, trace context: its HTTP/2 header list)",
    setting: None,
    exceeded: "the call is refused by HTTP/2 before any service reads it",
};

/// Bytes of a staff request body.
pub const ADMIN_BODY_BYTES: Limit = Limit {
    name: "admin_body_bytes",
    value: 65_536,
    unit: "bytes",
    applies_to: "the JSON body of a `POST /api/admin/...` request",
    setting: None,
    exceeded: "413 `payload_too_large`",
};

/// Seconds to send a staff request body.
pub const ADMIN_BODY_SECONDS: Limit = Limit {
    name: "admin_body_seconds",
    value: 10,
    unit: "seconds",
    applies_to: "time a client has to send the body of a `POST /api/admin/...` request",
    setting: Some("edge.connections.body_timeout_secs"),
    exceeded: "408 `request_timeout`",
};

/// Bytes of a JSON body of Socrata's write API.
pub const WRITE_JSON_BYTES: Limit = Limit {
    name: "write_json_bytes",
    value: 4 * 1024 * 1024,
    unit: "bytes",
    applies_to: "the JSON body of `POST`/`PUT /resource/{id}.json` (rows are read whole to become CSV; send larger loads as CSV or in batches)",
    setting: None,
    exceeded: "413 `payload_too_large`; nothing is written",
};

/// Bytes of the CSV a JSON write body becomes.
pub const WRITE_JSON_CSV_BYTES: Limit = Limit {
    name: "write_json_csv_bytes",
    value: 16 * 1024 * 1024,
    unit: "bytes",
    applies_to: "the CSV a JSON write body becomes, every row with a cell for every field any row names (at most `columns` + 1 fields), so a small body of rows with different fields cannot grow large",
    setting: None,
    exceeded: "413 `payload_too_large`; nothing is written (send CSV, or rows with the same fields)",
};

/// JSON write bodies converted and sent at once by one edge.
pub const WRITE_JSON_CONVERSIONS: Limit = Limit {
    name: "write_json_conversions",
    value: 2,
    unit: "requests",
    applies_to: "JSON bodies of Socrata's write API one edge converts and sends to ingestion at once (each body is read first, outside this count)",
    setting: None,
    exceeded: "the next waits up to 10 s, then 503 `unavailable`",
};

/// CSV write bodies streamed at once by one edge.
pub const WRITE_CSV_STREAMS: Limit = Limit {
    name: "write_csv_streams",
    value: 2,
    unit: "requests",
    applies_to: "CSV bodies of Socrata's write API one edge streams to ingestion at once (each holds one of ingestion's `max_concurrent_loads` while it arrives, so pushes keep the rest)",
    setting: None,
    exceeded: "the next waits up to 10 s, then 503 `unavailable`",
};

/// Seconds a write body may pause.
pub const WRITE_BODY_IDLE_SECONDS: Limit = Limit {
    name: "write_body_idle_seconds",
    value: 30,
    unit: "seconds",
    applies_to: "time between two pieces of the body of `POST`/`PUT /resource/{id}` (a body that stalls holds a load slot)",
    setting: None,
    exceeded: "408 `request_timeout`; nothing is written",
};

/// Bytes of a CSV body of Socrata's write API.
pub const WRITE_CSV_BYTES: Limit = Limit {
    name: "write_csv_bytes",
    value: 1024 * 1024 * 1024,
    unit: "bytes",
    applies_to: "the CSV body of `POST`/`PUT /resource/{id}` (`Content-Type: text/csv`), streamed to ingestion as it arrives",
    setting: None,
    exceeded: "413 `payload_too_large`; nothing is written",
};

/// Seconds to send a write body.
pub const WRITE_BODY_SECONDS: Limit = Limit {
    name: "write_body_seconds",
    value: 600,
    unit: "seconds",
    applies_to: "time a client has to send the body of `POST`/`PUT /resource/{id}`",
    setting: None,
    exceeded: "408 `request_timeout`; nothing is written",
};

/// Change feeds one catalog serves at once.
pub const VERSION_WATCHES: Limit = Limit {
    name: "version_watches",
    value: 256,
    unit: "streams",
    applies_to: "change feeds (`GET /api/views/{id}/changes`, `WatchVersions`) one catalog replica serves at once; each also counts as one of its caller's requests in flight at the edge, and ends after an hour (a key holder's after five minutes) or at shutdown (clients resume with `Last-Event-ID`)",
    setting: None,
    exceeded: "503 `unavailable` / `UNAVAILABLE`; retry later",
};

/// Days a dataset may keep its replaced versions.
pub const RETENTION_DAYS: Limit = Limit {
    name: "retention_days",
    value: 36_500,
    unit: "days",
    applies_to: "a dataset's retention: days a replaced version stays readable (`SetRetention`, `opendata dataset retention`)",
    setting: None,
    exceeded: "400 / `INVALID_ARGUMENT` naming `keep_days`",
};

/// Newest versions a dataset may keep whatever their age.
pub const RETENTION_VERSIONS: Limit = Limit {
    name: "retention_versions",
    value: 10_000,
    unit: "versions",
    applies_to: "a dataset's retention: newest versions kept whatever their age (at least 1, the current one)",
    setting: None,
    exceeded: "400 / `INVALID_ARGUMENT` naming `keep_versions`",
};

/// Every limit, in the order of the documented table.
pub const ALL: &[Limit] = &[
    SOQL_TEXT,
    SOQL_DEPTH,
    SOQL_NODES,
    SOQL_IN_VALUES,
    SOQL_SHAPE_VERTICES,
    SOQL_SELECTED_COLUMNS,
    SOQL_FIELD_FILTERS,
    SOQL_SEARCH_TERMS,
    HEADER_READ_TIMEOUT,
    MAX_CONNECTIONS,
    CONNECTIONS_PER_ADDRESS,
    REQUEST_HEAD_BYTES,
    REQUEST_URI_BYTES,
    GRPC_MESSAGE_BYTES,
    GRPC_STREAMS_PER_CONNECTION,
    WRITE_STALL_SECONDS,
    SCRAPE_CONNECTIONS,
    KEY_BYTES,
    GRPC_HEADER_BYTES,
    ADMIN_BODY_BYTES,
    ADMIN_BODY_SECONDS,
    TEXT_NAME,
    TEXT_LINE,
    TEXT_PARAGRAPH,
    TEXT_DESCRIPTION,
    TEXT_URL,
    KEYWORDS,
    KEYWORD_CHARS,
    COLUMNS,
    RECORD_BYTES,
    SCHEMA_BYTES,
    RETENTION_DAYS,
    RETENTION_VERSIONS,
    VERSION_WATCHES,
    WRITE_JSON_BYTES,
    WRITE_JSON_CSV_BYTES,
    WRITE_JSON_CONVERSIONS,
    WRITE_CSV_BYTES,
    WRITE_CSV_STREAMS,
    WRITE_BODY_SECONDS,
    WRITE_BODY_IDLE_SECONDS,
    FILTER_VALUES,
    AWARD_IDS,
    RECORDS_PER_CALL,
    SEARCH_TEXT,
    PER_MINUTE_PER_ADDRESS,
    PER_MINUTE_PER_TOKEN,
    IN_FLIGHT_PER_ADDRESS,
    IN_FLIGHT_PER_TOKEN,
    QUERIES_PER_PRINCIPAL,
    QUERY_CONNECTIONS,
    PUBLIC_QUERIES,
    ANONYMOUS_QUERIES,
    EXPENSIVE_PUBLIC_QUERIES,
    QUERY_SECONDS_ANONYMOUS,
    QUERY_SECONDS_TOKEN,
    QUERY_SECONDS_KEY,
    AWARD_EXPORTS,
    AWARD_EXPORTS_PER_CALLER,
    AWARD_EXPORT_SECONDS,
    EVENT_BYTES,
    PAGE_QUERY_BYTES,
    PAGE_FILTERS,
    PAGE_TABLE_BYTES,
    PAGE_CHART_GROUPS,
    PAGE_MAP_POINTS,
    PAGE_FORM_BYTES,
    WITHHELD_LISTED,
    STAFF_SESSION_SECONDS,
];

/// Thousands separated with commas, as the table prints values.
fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The table of every limit, as Markdown (the body of `docs/limits.md`).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| limit | value | applies to | setting | when exceeded |\n|---|---|---|---|---|\n",
    );
    for limit in ALL {
        out.push_str(&format!(
            "| `{}` | {} {} | {} | {} | {} |\n",
            limit.name,
            grouped(limit.value),
            limit.unit,
            limit.applies_to,
            limit
                .setting
                .map_or("–".to_owned(), |key| format!("`{key}`")),
            limit.exceeded
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = ALL.iter().map(|limit| limit.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }

    #[test]
    fn excerpts_cut_long_input() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(100);
        assert_eq!(excerpt(&long).chars().count(), 81);
        assert!(excerpt(&long).ends_with('…'));
    }

    #[test]
    fn problems_name_the_limit() {
        assert_eq!(TEXT_NAME.text_problem("fine"), None);
        let problem = TEXT_NAME.text_problem(&"x".repeat(201)).unwrap();
        assert!(problem.contains("limit text_name"), "{problem}");
        assert!(TEXT_NAME.text_problem("a\0").unwrap().contains("NUL"));
        assert!(
            KEYWORDS
                .count_problem(51)
                .unwrap()
                .contains("limit keywords")
        );
        assert_eq!(KEYWORDS.count_problem(50), None);
    }

    #[test]
    fn values_print_with_thousands_separators() {
        assert_eq!(grouped(7), "7");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(65_536), "65,536");
        assert_eq!(grouped(1_048_576), "1,048,576");
    }

    #[test]
    fn the_documented_tables_are_this_one() {
        let table = markdown_table();
        for (path, document) in [
            ("docs/limits.md", include_str!("../../../docs/limits.md")),
            ("README.md", include_str!("../../../README.md")),
        ] {
            assert!(
                document.contains(&table),
                "{path} is out of date; paste this table into it:\n{table}"
            );
        }
    }
}
