//! Who may write what: agency keys write only their own agency's datasets; revoked keys, missing
//! keys and app tokens are refused.

use std::time::Duration;

use opendata_platform::error::ErrorCode;
use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::{ColumnType, Role};
use opendata_proto::governance::v1 as governance;
use opendata_proto::ingestion::v1::UploadMode;
use opendata_testkit::{TestOptions, TestStack, principal_with_key, wait_until};

use crate::support::*;

#[tokio::test]
async fn another_agencys_key_is_denied() {
    let stack = TestStack::start().await;
    let opm = key_for(&stack, "opm", Role::Publisher).await;
    let decd = key_for(&stack, "decd", Role::Publisher).await;
    let dataset = create_dataset(
        &stack,
        &opm,
        "opm",
        vec![column("Town", ColumnType::Text)],
        "",
    )
    .await;

    // While private, the dataset does not exist for another agency.
    let hidden = create_upload(&stack, &decd, &dataset, UploadMode::Replace, 0.0)
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), tonic::Code::NotFound);

    publish(&stack, &dataset).await;
    let denied = create_upload(&stack, &decd, &dataset, UploadMode::Replace, 0.0)
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied, "{denied:?}");
    assert_eq!(api_error(&denied).code, ErrorCode::PermissionDenied);

    let created = stack
        .clients(Some(&decd))
        .catalog
        .create_dataset(catalog::CreateDatasetRequest {
            agency_id: "opm".into(),
            metadata: Some(catalog::DatasetMetadata {
                title: "Not mine".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(created.code(), tonic::Code::PermissionDenied);

    // An upload opened by the owner cannot be committed by another agency either.
    let upload = create_upload(&stack, &opm, &dataset, UploadMode::Replace, 0.0)
        .await
        .unwrap();
    send_file(&stack, &opm, &upload.id, b"Town\nAvon\n", 64)
        .await
        .unwrap();
    let foreign_commit = commit(&stack, &decd, &upload.id).await.unwrap_err();
    assert_eq!(foreign_commit.code(), tonic::Code::NotFound);
    commit(&stack, &opm, &upload.id).await.unwrap();
    stack.stop().await;
}

#[tokio::test]
async fn missing_unknown_and_app_token_credentials_are_refused() {
    let stack = TestStack::start().await;
    let (_opm, dataset) =
        published_dataset(&stack, "opm", vec![column("Town", ColumnType::Text)], "").await;

    let anonymous = stack
        .clients(None)
        .ingestion
        .create_upload(opendata_proto::ingestion::v1::CreateUploadRequest {
            dataset_id: dataset.clone(),
            mode: UploadMode::Replace as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);
    assert!(
        anonymous.message().contains("api key is required"),
        "{}",
        anonymous.message()
    );

    let unknown = create_upload(
        &stack,
        "odk_not_a_real_key",
        &dataset,
        UploadMode::Replace,
        0.0,
    )
    .await
    .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::Unauthenticated);

    let mut admin = stack.clients(Some(&stack.admin_key)).identity;
    let token = principal_with_key(
        &mut admin,
        "opm",
        Role::Publisher,
        governance::KeyKind::AppToken,
    )
    .await
    .secret;
    assert!(token.starts_with("odt_"));
    let as_token = create_upload(&stack, &token, &dataset, UploadMode::Replace, 0.0)
        .await
        .unwrap_err();
    assert_eq!(as_token.code(), tonic::Code::PermissionDenied);
    stack.stop().await;
}

#[tokio::test]
async fn a_revoked_key_stops_working_within_the_cache_ttl() {
    let stack = TestStack::start_with(TestOptions {
        auth_cache_ttl_secs: 1,
        ..TestOptions::default()
    })
    .await;
    let mut admin = stack.clients(Some(&stack.admin_key)).identity;
    let issued = principal_with_key(
        &mut admin,
        "opm",
        Role::Publisher,
        governance::KeyKind::ApiKey,
    )
    .await;
    let key = issued.secret.clone();
    let dataset = create_dataset(
        &stack,
        &key,
        "opm",
        vec![column("Town", ColumnType::Text)],
        "",
    )
    .await;
    create_upload(&stack, &key, &dataset, UploadMode::Replace, 0.0)
        .await
        .unwrap();

    let revoked = admin
        .revoke_key(governance::RevokeKeyRequest {
            key_id: issued.key_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(revoked.revoked_at.is_some());
    // Governance refuses it at once; services that cached it refuse it within the TTL.
    let direct = admin
        .authenticate(governance::AuthenticateRequest { key: key.clone() })
        .await
        .unwrap_err();
    assert_eq!(direct.code(), tonic::Code::Unauthenticated);
    wait_until(
        Duration::from_secs(5),
        "the revoked key to be refused",
        || {
            let stack = &stack;
            let key = &key;
            let dataset = &dataset;
            async move {
                match create_upload(stack, key, dataset, UploadMode::Replace, 0.0).await {
                    Err(status) if status.code() == tonic::Code::Unauthenticated => Some(()),
                    _ => None,
                }
            }
        },
    )
    .await;
    let keys = admin
        .list_keys(governance::ListKeysRequest {
            principal_id: issued.principal_id,
        })
        .await
        .unwrap()
        .into_inner()
        .keys;
    assert_eq!(keys.len(), 1);
    assert!(keys[0].revoked_at.is_some());
    assert!(key.starts_with(&keys[0].prefix));
    stack.stop().await;
}

#[tokio::test]
async fn identity_administration_needs_the_admin_role_and_valid_input() {
    let stack = TestStack::start().await;
    let publisher = key_for(&stack, "opm", Role::Publisher).await;
    let mut as_publisher = stack.clients(Some(&publisher)).identity;
    let denied = as_publisher
        .create_agency(governance::CreateAgencyRequest {
            id: "dmv".into(),
            name: "Motor Vehicles".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);

    let mut admin = stack.clients(Some(&stack.admin_key)).identity;
    let bad_id = admin
        .create_agency(governance::CreateAgencyRequest {
            id: "Bad Id".into(),
            name: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_id.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        api_error(&bad_id).details.get("field").map(String::as_str),
        Some("id")
    );

    let unbound = admin
        .create_principal(governance::CreatePrincipalRequest {
            name: "Floating ADO".into(),
            role: Role::Ado as i32,
            agency_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        api_error(&unbound).details.get("field").map(String::as_str),
        Some("agency_id")
    );

    let unknown_agency = admin
        .create_principal(governance::CreatePrincipalRequest {
            name: "Lost ADO".into(),
            role: Role::Ado as i32,
            agency_id: "nowhere".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown_agency.code(), tonic::Code::NotFound);

    let duplicate = admin
        .create_agency(governance::CreateAgencyRequest {
            id: "opm".into(),
            name: "Again".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), tonic::Code::AlreadyExists);

    let audit: i64 = sqlx::query_scalar("SELECT count(*) FROM governance.audit_log WHERE action IN ('agency.created', 'principal.created', 'key.issued')")
        .fetch_one(&stack.pool)
        .await
        .unwrap();
    assert_eq!(
        audit, 3,
        "one agency, one principal and one key were created"
    );
    stack.stop().await;
}

#[tokio::test]
async fn keys_and_app_tokens_longer_than_any_key_are_unknown_keys() {
    let stack = TestStack::start().await;
    let long = "k".repeat(20 * 1024);

    let response = send(&stack, "/resource/abcd-1234.json", Some(&long), None).await;
    assert_eq!(response.status, 401, "{}", response.body);
    let response = send(&stack, "/api/admin/inventory", Some(&long), None).await;
    assert_eq!(response.status, 401, "{}", response.body);
    let response = get(
        &stack,
        &format!("/resource/abcd-1234.json?$$app_token={}", "t".repeat(1024)),
    )
    .await;
    assert_eq!(response.status, 403, "{}", response.body);

    let mut request = tonic::Request::new(catalog::GetDatasetRequest {
        id: "abcd-1234".to_owned(),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", "k".repeat(1024)).parse().unwrap(),
    );
    let status = stack
        .clients(None)
        .catalog
        .get_dataset(request)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
}
