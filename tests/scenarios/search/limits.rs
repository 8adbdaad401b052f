//! Search text, prefixes and every list of a search have limits: past them, or with a NUL
//! character, the search service refuses with `INVALID_ARGUMENT` naming the field and the limit,
//! and the edge refuses the Discovery API's parameters itself (even with search down) with a 400
//! naming the parameter. The checks come before any engine, so one engine covers them.

use opendata_limits::{FILTER_VALUES, SEARCH_TEXT, TEXT_NAME};
use opendata_platform::error::ErrorCode;
use opendata_proto::search::v1::{SearchRequest, SuggestRequest};
use opendata_testkit::TestStack;

use crate::support::{api_error, assert_edge_refuses, get};

/// Asserts an `INVALID_ARGUMENT` refusal naming `field` and `limit`.
fn assert_refused(status: &tonic::Status, field: &str, limit: Option<&str>) {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let error = api_error(status);
    assert_eq!(error.code, ErrorCode::InvalidArgument);
    assert_eq!(
        error.details.get("field").map(String::as_str),
        Some(field),
        "{}",
        error.message
    );
    assert_eq!(
        error.details.get("limit").map(String::as_str),
        limit,
        "{}",
        error.message
    );
}

#[tokio::test]
async fn searches_past_their_limits_are_refused_naming_the_field_and_the_limit() {
    let stack = TestStack::start().await;
    let mut search = stack.clients(None).search;
    let refused = |request: SearchRequest| {
        let mut search = search.clone();
        async move { search.search(request).await.unwrap_err() }
    };

    let status = refused(SearchRequest {
        query: "q".repeat(SEARCH_TEXT.get() + 1),
        ..Default::default()
    })
    .await;
    assert_refused(&status, "query", Some(SEARCH_TEXT.name));
    let status = refused(SearchRequest {
        query: "real\0estate".into(),
        ..Default::default()
    })
    .await;
    assert_refused(&status, "query", None);
    let status = refused(SearchRequest {
        tags: vec!["tax".into(); FILTER_VALUES.get() + 1],
        ..Default::default()
    })
    .await;
    assert_refused(&status, "tags", Some(FILTER_VALUES.name));
    let status = refused(SearchRequest {
        categories: vec!["c".repeat(TEXT_NAME.get() + 1)],
        ..Default::default()
    })
    .await;
    assert_refused(&status, "categories", Some(TEXT_NAME.name));
    let status = refused(SearchRequest {
        municipalities: vec!["m".repeat(TEXT_NAME.get() + 1)],
        ..Default::default()
    })
    .await;
    assert_refused(&status, "municipalities", Some(TEXT_NAME.name));
    let status = refused(SearchRequest {
        program_ids: vec!["maa".into(); FILTER_VALUES.get() + 1],
        ..Default::default()
    })
    .await;
    assert_refused(&status, "program_ids", Some(FILTER_VALUES.name));
    let status = refused(SearchRequest {
        fiscal_years: vec![2020; FILTER_VALUES.get() + 1],
        ..Default::default()
    })
    .await;
    assert_refused(&status, "fiscal_years", Some(FILTER_VALUES.name));
    let status = refused(SearchRequest {
        agencies: vec!["opm\0".into()],
        ..Default::default()
    })
    .await;
    assert_refused(&status, "agencies", None);
    let status = refused(SearchRequest {
        facets: vec!["tags".into(); FILTER_VALUES.get() + 1],
        ..Default::default()
    })
    .await;
    assert_refused(&status, "facets", Some(FILTER_VALUES.name));

    let status = search
        .suggest(SuggestRequest {
            prefix: "p".repeat(SEARCH_TEXT.get() + 1),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_refused(&status, "prefix", Some(SEARCH_TEXT.name));
    let status = search
        .suggest(SuggestRequest {
            prefix: "real".into(),
            types: vec!["data\0set".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_refused(&status, "types", None);

    // At the limits, the search answers.
    search
        .search(SearchRequest {
            query: "q".repeat(SEARCH_TEXT.get()),
            tags: vec!["tax".into(); FILTER_VALUES.get()],
            ..Default::default()
        })
        .await
        .expect("a search at the limits");
    stack.stop().await;
}

#[tokio::test]
async fn the_edge_refuses_discovery_parameters_past_their_limits_before_calling_search() {
    let mut stack = TestStack::start().await;
    let long_q = "a".repeat(SEARCH_TEXT.get() + 1);
    let long_category = "c".repeat(TEXT_NAME.get() + 1);
    let many_tags = vec!["tags[]=tax"; FILTER_VALUES.get() + 1].join("&");
    let many_ids = vec!["abcd-1234"; FILTER_VALUES.get() + 1].join(",");
    let cases = [
        (
            format!("/api/catalog/v1?q={long_q}"),
            "q",
            Some(SEARCH_TEXT.name),
        ),
        ("/api/catalog/v1?q=real%00estate".to_owned(), "q", None),
        (
            format!("/api/catalog/v1?categories={long_category}"),
            "categories",
            Some(TEXT_NAME.name),
        ),
        (
            format!("/api/catalog/v1?{many_tags}"),
            "tags[]",
            Some(FILTER_VALUES.name),
        ),
        (
            format!("/api/catalog/v1?ids={many_ids}"),
            "ids",
            Some(FILTER_VALUES.name),
        ),
        ("/api/catalog/v1?tags=tax%00".to_owned(), "tags", None),
        ("/api/catalog/v1?only=data%00sets".to_owned(), "only", None),
        (
            format!("/api/catalog/v1/autocomplete?q={long_q}"),
            "q",
            Some(SEARCH_TEXT.name),
        ),
        (
            "/api/catalog/v1/autocomplete?q=real%00".to_owned(),
            "q",
            None,
        ),
    ];
    for (path, parameter, limit) in &cases {
        assert_edge_refuses(&stack, path, parameter, *limit).await;
    }
    let fine = get(&stack, "/api/catalog/v1?q=real+estate&tags=tax").await;
    assert_eq!(fine.status, 200, "{}", fine.body);

    // With search down the edge still refuses them itself: a 400, not a 503.
    stack.stop_search().await;
    for (path, parameter, limit) in &cases {
        assert_edge_refuses(&stack, path, parameter, *limit).await;
    }
    let down = get(&stack, "/api/catalog/v1?q=real+estate").await;
    assert_eq!(down.status, 503, "{}", down.body);
    stack.stop().await;
}
