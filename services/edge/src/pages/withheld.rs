//! What is withheld, as the pages show it: governance's public summary of an agency's inventory
//! (or every agency's) names each withheld dataset with its Executive Order 39 ground, the written
//! explanation, its access level and since when. `/transparency` lists them all, an agency's page
//! its own.

use opendata_proto::governance::v1 as pb;

use super::labels::ground_label;
use super::{PageError, agency_name, long_date};
use crate::state::EdgeState;

/// One withheld dataset.
pub struct Withheld {
    pub(super) title: String,
    pub(super) agency: String,
    pub(super) ground: &'static str,
    pub(super) access: &'static str,
    pub(super) why: String,
    /// When it was withheld, as residents read a date.
    pub(super) since: Option<String>,
}

/// The withheld datasets of an inventory summary.
pub struct WithheldList {
    /// Those the summary names, by agency and title.
    pub(super) entries: Vec<Withheld>,
    /// How many more it counts (past limit `withheld_listed`).
    pub(super) more: usize,
}

impl WithheldList {
    /// The list of `summary`, agencies named from `agencies`.
    pub fn of(summary: &pb::InventorySummary, agencies: &[(String, String)]) -> WithheldList {
        let counted: i64 = summary.grounds.iter().map(|ground| ground.count).sum();
        let entries: Vec<Withheld> = summary
            .withheld
            .iter()
            .map(|entry| Withheld {
                title: entry.title.clone(),
                agency: agency_name(agencies, &entry.agency_id),
                ground: ground_label(entry.ground()),
                // As the catalog discloses it.
                access: entry.access_level().as_withheld().dcat_name(),
                why: entry.explanation.clone(),
                since: entry
                    .withheld_at
                    .as_ref()
                    .map(|withheld_at| long_date(Some(withheld_at))),
            })
            .collect();
        WithheldList {
            more: usize::try_from(counted)
                .unwrap_or_default()
                .saturating_sub(entries.len()),
            entries,
        }
    }

    /// How many datasets are withheld.
    pub fn total(&self) -> usize {
        self.entries.len() + self.more
    }
}

/// Governance's public summary of one agency's inventory (every agency's for `""`).
pub async fn inventory_summary(
    state: &EdgeState,
    agency_id: &str,
) -> Result<pb::InventorySummary, PageError> {
    Ok(state
        .public_review()
        .summarize_inventory(pb::SummarizeInventoryRequest {
            agency_id: agency_id.to_owned(),
        })
        .await
        .map_err(|status| PageError::from_api(state, status.into()))?
        .into_inner())
}

#[cfg(test)]
mod tests {
    use super::WithheldList;
    use opendata_proto::common::v1::AccessLevel;
    use opendata_proto::governance::v1 as pb;

    #[test]
    fn the_list_names_grounds_and_dates_and_counts_the_rest() {
        let entry = |title: &str, access: AccessLevel| pb::WithheldDataset {
            dataset_id: "abcd-1234".to_owned(),
            agency_id: "opm".to_owned(),
            title: title.to_owned(),
            ground: pb::WithholdingGround::ViolatesLaw as i32,
            explanation: "Taxpayer information".to_owned(),
            access_level: access as i32,
            withheld_at: Some(prost_types::Timestamp {
                seconds: 1_772_582_400,
                nanos: 0,
            }),
        };
        let mut undated = entry("Wells", AccessLevel::Unspecified);
        undated.withheld_at = None;
        let summary = pb::InventorySummary {
            grounds: vec![pb::GroundCount {
                ground: pb::WithholdingGround::ViolatesLaw as i32,
                count: 3,
            }],
            withheld: vec![entry("Returns", AccessLevel::RestrictedPublic), undated],
            ..Default::default()
        };
        let agencies = [("opm".to_owned(), "Policy and Management".to_owned())];
        let list = WithheldList::of(&summary, &agencies);
        assert_eq!((list.entries.len(), list.more, list.total()), (2, 1, 3));
        let returns = &list.entries[0];
        assert_eq!(returns.agency, "Policy and Management");
        assert_eq!(
            returns.ground,
            "Publishing would violate state or federal law"
        );
        assert_eq!(returns.access, "restricted public");
        assert_eq!(returns.since.as_deref(), Some("March 4, 2026"));
        let wells = &list.entries[1];
        assert_eq!(wells.access, "non-public", "never shown as public");
        assert_eq!(wells.since, None);
    }
}
