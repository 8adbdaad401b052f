//! The authorization matrix as the RPCs enforce it: `docs/authorization.md` is read, and for each
//! action and role one real call is made, expecting what the table says. An agency role acting for
//! another agency is refused wherever the table says "own agency".

use std::collections::HashMap;

use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::Role;
use opendata_proto::governance::v1 as governance;
use opendata_proto::governance::v1::ReviewState;
use opendata_proto::incentives::v1::RecordAwardRequest;
use opendata_proto::ingestion::v1 as ingestion;
use opendata_proto::search::v1::ReindexRequest;
use opendata_testkit::{TestStack, review_to_published, wait_until};

use super::{dataset, nomination, review, step, withholding};
use crate::support::{EVENTUALLY, key_for};

/// The matrix row of DECD's incentives, whose own agency is `decd`.
const INCENTIVES: &str = "record and correct DECD's awards and tax credits";

/// What the table says a role may do for the agency `opm`.
fn documented() -> HashMap<String, HashMap<&'static str, String>> {
    let document = include_str!("../../../docs/authorization.md");
    let roles = ["admin", "cdo", "ado", "publisher", "panel"];
    let mut table = HashMap::new();
    for line in document.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect();
        if cells[0] == "action" || cells.len() != 6 {
            continue;
        }
        let row = roles
            .iter()
            .zip(&cells[1..])
            .map(|(role, cell)| (*role, cell.clone()))
            .collect();
        table.insert(cells[0].clone(), row);
    }
    table
}

/// Whether a call got past authorization.
fn allowed<T>(outcome: Result<T, tonic::Status>) -> bool {
    match outcome {
        Ok(_) => true,
        Err(status) => !matches!(
            status.code(),
            tonic::Code::PermissionDenied | tonic::Code::NotFound | tonic::Code::Unauthenticated
        ),
    }
}

struct World {
    stack: TestStack,
    keys: Vec<(&'static str, String)>,
    other_agency: Vec<(&'static str, String)>,
    publisher: String,
    cdo: String,
    /// An existing principal to issue keys to.
    principal_id: String,
}

impl World {
    /// A dataset of `opm` advanced (by the CDO) to `state`.
    async fn dataset_in(&self, state: ReviewState) -> String {
        let id = dataset(&self.stack, &self.publisher, "opm", "Matrix").await;
        let mut cdo = review(&self.stack, &self.cdo);
        let path: &[ReviewState] = match state {
            ReviewState::Inventoried => &[],
            ReviewState::Nominated => &[ReviewState::Nominated],
            ReviewState::UnderReview => &[ReviewState::Nominated, ReviewState::UnderReview],
            ReviewState::Approved => &[
                ReviewState::Nominated,
                ReviewState::UnderReview,
                ReviewState::Approved,
            ],
            ReviewState::Published => {
                review_to_published(&mut cdo, &id).await;
                &[]
            }
            ReviewState::Withheld => {
                cdo.withhold(withholding(&id)).await.expect("withhold");
                &[]
            }
            other => panic!("not prepared: {other:?}"),
        };
        for target in path {
            match target {
                ReviewState::Nominated => cdo.nominate(nomination(&id)).await,
                ReviewState::UnderReview => cdo.start_review(step(&id, "")).await,
                _ => cdo.approve(step(&id, "")).await,
            }
            .expect("prepare");
        }
        if state == ReviewState::Inventoried {
            wait_until(EVENTUALLY, "the inventory record", || async {
                cdo.clone()
                    .get_inventory_record(governance::GetInventoryRecordRequest {
                        dataset_id: id.clone(),
                    })
                    .await
                    .ok()
            })
            .await;
        }
        id
    }

    /// Performs the action described by `action` with `key`; whether it was authorized.
    async fn attempt(&self, action: &str, key: &str) -> bool {
        let clients = self.stack.clients(Some(key));
        let unique = uuid::Uuid::now_v7().simple().to_string();
        match action {
            "create agencies" => allowed(
                clients
                    .identity
                    .clone()
                    .create_agency(governance::CreateAgencyRequest {
                        id: format!("a{}", &unique[..12]),
                        name: "Matrix Agency".into(),
                    })
                    .await,
            ),
            "create principals and give them a role" => allowed(
                clients
                    .identity
                    .clone()
                    .create_principal(governance::CreatePrincipalRequest {
                        name: "matrix".into(),
                        role: Role::Panel as i32,
                        agency_id: String::new(),
                    })
                    .await,
            ),
            "issue, revoke and list keys and app tokens" => allowed(
                clients
                    .identity
                    .clone()
                    .issue_key(governance::IssueKeyRequest {
                        principal_id: self.principal_id.clone(),
                        label: String::new(),
                        kind: governance::KeyKind::ApiKey as i32,
                    })
                    .await,
            ),
            "list principals" => allowed(
                clients
                    .identity
                    .clone()
                    .list_principals(governance::ListPrincipalsRequest {
                        agency_id: "opm".into(),
                    })
                    .await,
            ),
            "create datasets, change their metadata, push data" => allowed(
                clients
                    .catalog
                    .clone()
                    .create_dataset(catalog::CreateDatasetRequest {
                        agency_id: "opm".into(),
                        metadata: Some(catalog::DatasetMetadata {
                            title: "Matrix".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .await,
            ),
            "read datasets that are not published" => {
                let id = self.dataset_in(ReviewState::Inventoried).await;
                allowed(
                    clients
                        .catalog
                        .clone()
                        .get_dataset(catalog::GetDatasetRequest { id })
                        .await,
                )
            }
            "set version retention and purge versions" => {
                let id = self.dataset_in(ReviewState::Inventoried).await;
                allowed(
                    clients
                        .ingestion
                        .clone()
                        .set_retention(ingestion::SetRetentionRequest {
                            dataset_id: id,
                            keep_days: Some(30),
                            keep_versions: Some(3),
                            use_default: false,
                        })
                        .await,
                )
            }
            "read and export the data inventory" => allowed(
                clients
                    .review
                    .clone()
                    .list_inventory(governance::ListInventoryRequest {
                        agency_id: "opm".into(),
                        states: Vec::new(),
                    })
                    .await,
            ),
            "read freshness and the stale list" => allowed(
                clients
                    .freshness
                    .clone()
                    .list_stale(governance::ListStaleRequest {
                        agency_id: "opm".into(),
                    })
                    .await,
            ),
            "read and export the audit log" => allowed(
                clients
                    .audit
                    .clone()
                    .list_audit_entries(governance::ListAuditEntriesRequest::default())
                    .await,
            ),
            "rebuild the search index" => {
                allowed(clients.search.clone().reindex(ReindexRequest {}).await)
            }
            INCENTIVES => allowed(
                clients
                    .incentives
                    .clone()
                    .record_award(RecordAwardRequest::default())
                    .await,
            ),
            _ => self.attempt_step(action, key).await,
        }
    }

    async fn attempt_step(&self, action: &str, key: &str) -> bool {
        let mut client = review(&self.stack, key);
        let from = match action {
            "nominate datasets for publication" => ReviewState::Inventoried,
            "take nominated datasets under review" => ReviewState::Nominated,
            "approve datasets under review" => ReviewState::UnderReview,
            "publish approved datasets" => ReviewState::Approved,
            "withhold datasets on a legal ground" => ReviewState::Approved,
            "reopen withheld datasets for review" => ReviewState::Withheld,
            "retire published datasets" => ReviewState::Published,
            other => panic!("the matrix test does not know the action {other:?}"),
        };
        let id = self.dataset_in(from).await;
        let outcome = match action {
            "nominate datasets for publication" => client.nominate(nomination(&id)).await,
            "take nominated datasets under review" => client.start_review(step(&id, "")).await,
            "approve datasets under review" => client.approve(step(&id, "")).await,
            "publish approved datasets" => client.publish(step(&id, "")).await,
            "withhold datasets on a legal ground" => client.withhold(withholding(&id)).await,
            "reopen withheld datasets for review" => client.reopen(step(&id, "")).await,
            _ => {
                client
                    .retire(governance::RetireRequest {
                        dataset_id: id,
                        reason: "matrix".into(),
                        successor_dataset_id: String::new(),
                    })
                    .await
            }
        };
        if let Err(status) = &outcome {
            assert!(
                matches!(
                    status.code(),
                    tonic::Code::PermissionDenied | tonic::Code::NotFound
                ),
                "{action}: {status:?}"
            );
        }
        outcome.is_ok()
    }
}

#[tokio::test]
async fn every_rpc_enforces_the_documented_matrix() {
    let stack = TestStack::start().await;
    let mut keys = Vec::new();
    for (name, role) in [
        ("admin", Role::Admin),
        ("cdo", Role::Cdo),
        ("ado", Role::Ado),
        ("publisher", Role::Publisher),
        ("panel", Role::Panel),
    ] {
        keys.push((name, key_for(&stack, "opm", role).await));
    }
    let other_agency = vec![
        ("ado", key_for(&stack, "decd", Role::Ado).await),
        ("publisher", key_for(&stack, "decd", Role::Publisher).await),
    ];
    let principal_id = stack
        .clients(Some(&stack.admin_key))
        .identity
        .create_principal(governance::CreatePrincipalRequest {
            name: "key holder".into(),
            role: Role::Panel as i32,
            agency_id: String::new(),
        })
        .await
        .expect("principal")
        .into_inner()
        .id;
    let world = World {
        principal_id,
        publisher: keys[3].1.clone(),
        cdo: keys[1].1.clone(),
        keys,
        other_agency,
        stack,
    };
    let table = documented();
    assert_eq!(table.len(), 19, "every action of the matrix is documented");
    let mut mismatches = Vec::new();
    for (action, row) in &table {
        // Incentives belong to DECD: there `decd` is the own agency and `opm` the other one.
        let decd_owns = action == INCENTIVES;
        for (role, key) in &world.keys {
            let expected = if decd_owns {
                row[role] == "yes"
            } else {
                row[role] != "–"
            };
            if world.attempt(action, key).await != expected {
                mismatches.push(format!("{role} / {action}: expected allowed = {expected}"));
            }
        }
        for (role, key) in &world.other_agency {
            let expected = if decd_owns {
                row[role] != "–"
            } else {
                row[role] == "yes"
            };
            if world.attempt(action, key).await != expected {
                mismatches.push(format!(
                    "{role} of another agency / {action}: expected allowed = {expected}"
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    world.stack.stop().await;
}
