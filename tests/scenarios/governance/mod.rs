//! Governance through the whole stack: the review workflow and its refusals, visibility following
//! governance on every public endpoint, retirement, freshness, the audit log, and the
//! authorization matrix enforced by the RPCs.

mod admin;
mod matrix;
mod oversight;
mod public_datasets;
mod visibility;
mod workflow;

use opendata_proto::catalog::v1 as catalog;
use opendata_proto::common::v1::{Column, ColumnType, Schema};
use opendata_proto::governance::v1 as governance;
use opendata_testkit::{ReviewClient, TestStack};

use crate::support::create_described;

/// A dataset of `agency` with one text column, created with `key`; returns its id.
pub async fn dataset(stack: &TestStack, key: &str, agency: &str, title: &str) -> String {
    let metadata = catalog::DatasetMetadata {
        title: title.to_owned(),
        description: format!("About {title}"),
        keywords: vec!["governance".to_owned()],
        ..Default::default()
    };
    let schema = Schema {
        columns: vec![Column {
            display_name: "Town".to_owned(),
            r#type: ColumnType::Text as i32,
            ..Default::default()
        }],
        row_identifier: String::new(),
    };
    create_described(stack, key, agency, metadata, schema).await
}

/// A review client acting with `key`.
pub fn review(stack: &TestStack, key: &str) -> ReviewClient {
    stack.clients(Some(key)).review
}

/// A transition request.
pub fn step(dataset_id: &str, reason: &str) -> governance::TransitionRequest {
    governance::TransitionRequest {
        dataset_id: dataset_id.to_owned(),
        reason: reason.to_owned(),
    }
}

/// A nomination.
pub fn nomination(dataset_id: &str) -> governance::NominateRequest {
    governance::NominateRequest {
        dataset_id: dataset_id.to_owned(),
        justification: "residents ask for it".to_owned(),
        accrual_periodicity: "monthly".to_owned(),
    }
}

/// A withholding on the ground that publishing would violate the law.
pub fn withholding(dataset_id: &str) -> governance::WithholdRequest {
    governance::WithholdRequest {
        dataset_id: dataset_id.to_owned(),
        ground: governance::WithholdingGround::ViolatesLaw as i32,
        explanation: "Contains taxpayer information protected by CGS 12-15".to_owned(),
        access_level: opendata_proto::common::v1::AccessLevel::NonPublic as i32,
    }
}
