//! The review workflow from a test's side: take a dataset to published in the fewest steps.

use opendata_proto::governance::v1 as governance;
use opendata_proto::governance::v1::ReviewState;

use crate::stack::ReviewClient;

/// Takes `dataset_id` from wherever it is in the workflow to published (nominate, start review,
/// approve, publish), with a CDO's client; returns the published record.
pub async fn review_to_published(
    review: &mut ReviewClient,
    dataset_id: &str,
) -> governance::InventoryRecord {
    let transition = || governance::TransitionRequest {
        dataset_id: dataset_id.to_owned(),
        reason: "test".to_owned(),
    };
    let mut state = review
        .get_inventory_record(governance::GetInventoryRecordRequest {
            dataset_id: dataset_id.to_owned(),
        })
        .await
        .map(|r| r.into_inner().state())
        .unwrap_or(ReviewState::Inventoried);
    loop {
        let record = match state {
            ReviewState::Inventoried | ReviewState::Unspecified => {
                review
                    .nominate(governance::NominateRequest {
                        dataset_id: dataset_id.to_owned(),
                        justification: "needed by the public".to_owned(),
                        accrual_periodicity: "R/P1M".to_owned(),
                    })
                    .await
            }
            ReviewState::Nominated => review.start_review(transition()).await,
            ReviewState::UnderReview => review.approve(transition()).await,
            ReviewState::Approved => review.publish(transition()).await,
            ReviewState::Published => {
                return review
                    .get_inventory_record(governance::GetInventoryRecordRequest {
                        dataset_id: dataset_id.to_owned(),
                    })
                    .await
                    .expect("read the record")
                    .into_inner();
            }
            other => panic!("dataset {dataset_id} is {other:?}; it cannot be published"),
        };
        state = record
            .unwrap_or_else(|status| panic!("review step for {dataset_id}: {status:?}"))
            .into_inner()
            .state();
    }
}
