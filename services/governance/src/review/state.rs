//! The review workflow of Executive Order 39 as a state machine: which action moves a record from
//! which state to which, and the legal grounds for withholding.
//!
//! ```text
//! inventoried ─nominate→ nominated ─start review→ under review ─approve→ approved ─publish→ published ─retire→ retired
//!      └───────────────┴──────────────────────┴─────────────────┴──────────────┴────────────┴─withhold→ withheld ─reopen→ under review
//! ```

use opendata_platform::authz::Action as AuthzAction;

/// Where a dataset is in the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReviewState {
    /// Recorded in the inventory, not nominated.
    Inventoried,
    /// Nominated by its ADO.
    Nominated,
    /// Under review by the CDO.
    UnderReview,
    /// Approved, not yet public.
    Approved,
    /// Public.
    Published,
    /// Withheld on a legal ground.
    Withheld,
    Retired,
}

impl ReviewState {
    /// Every state.
    pub const ALL: [ReviewState; 7] = [
        ReviewState::Inventoried,
        ReviewState::Nominated,
        ReviewState::UnderReview,
        ReviewState::Approved,
        ReviewState::Published,
        ReviewState::Withheld,
        ReviewState::Retired,
    ];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Inventoried => "inventoried",
            ReviewState::Nominated => "nominated",
            ReviewState::UnderReview => "under_review",
            ReviewState::Approved => "approved",
            ReviewState::Published => "published",
            ReviewState::Withheld => "withheld",
            ReviewState::Retired => "retired",
        }
    }

    /// From the stored name.
    pub fn parse(text: &str) -> Option<ReviewState> {
        ReviewState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// The four grounds on which Executive Order 39 allows data to be withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ground {
    /// Publishing would violate state or federal law.
    ViolatesLaw,
    /// Publishing would endanger public health, safety or welfare.
    EndangersPublic,
    /// Publishing would hinder the operation of government.
    HindersGovernment,
    /// Publishing would impose an undue financial, operational or administrative burden.
    UndueBurden,
}

impl Ground {
    pub(crate) const ALL: [Ground; 4] = [
        Ground::ViolatesLaw,
        Ground::EndangersPublic,
        Ground::HindersGovernment,
        Ground::UndueBurden,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Ground::ViolatesLaw => "violates_law",
            Ground::EndangersPublic => "endangers_public",
            Ground::HindersGovernment => "hinders_government",
            Ground::UndueBurden => "undue_burden",
        }
    }

    /// The ground in Executive Order 39's words.
    pub fn description(self) -> &'static str {
        match self {
            Ground::ViolatesLaw => "publishing would violate state or federal law",
            Ground::EndangersPublic => "publishing would endanger public health, safety or welfare",
            Ground::HindersGovernment => "publishing would hinder the operation of government",
            Ground::UndueBurden => {
                "publishing would impose an undue financial, operational or administrative burden"
            }
        }
    }

    /// From the stored name.
    pub fn parse(text: &str) -> Option<Ground> {
        Ground::ALL.into_iter().find(|g| g.as_str() == text)
    }
}

/// A workflow action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The ADO nominates.
    Nominate,
    /// The CDO takes it under review.
    StartReview,
    /// The CDO approves.
    Approve,
    /// The CDO publishes.
    Publish,
    /// Withheld on a legal ground.
    Withhold,
    /// A withheld dataset goes back under review.
    Reopen,
    /// A published dataset is retired.
    Retire,
}

impl Step {
    /// Every step.
    pub const ALL: [Step; 7] = [
        Step::Nominate,
        Step::StartReview,
        Step::Approve,
        Step::Publish,
        Step::Withhold,
        Step::Reopen,
        Step::Retire,
    ];

    /// The step's name (`start_review`), used in audit entries.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Nominate => "nominate",
            Step::StartReview => "start_review",
            Step::Approve => "approve",
            Step::Publish => "publish",
            Step::Withhold => "withhold",
            Step::Reopen => "reopen",
            Step::Retire => "retire",
        }
    }

    /// The authorization the step needs.
    pub fn authz(self) -> AuthzAction {
        match self {
            Step::Nominate => AuthzAction::Nominate,
            Step::StartReview => AuthzAction::StartReview,
            Step::Approve => AuthzAction::Approve,
            Step::Publish => AuthzAction::Publish,
            Step::Withhold => AuthzAction::Withhold,
            Step::Reopen => AuthzAction::Reopen,
            Step::Retire => AuthzAction::Retire,
        }
    }

    /// The state the step leads to from `from`; `None` when the step is not allowed there.
    pub fn target(self, from: ReviewState) -> Option<ReviewState> {
        use ReviewState::*;
        match (self, from) {
            (Step::Nominate, Inventoried) => Some(Nominated),
            (Step::StartReview, Nominated) => Some(UnderReview),
            (Step::Approve, UnderReview) => Some(Approved),
            (Step::Publish, Approved) => Some(Published),
            // A retired dataset still public (its 30 days) can be pulled at once too.
            (
                Step::Withhold,
                Inventoried | Nominated | UnderReview | Approved | Published | Retired,
            ) => Some(Withheld),
            (Step::Reopen, Withheld) => Some(UnderReview),
            (Step::Retire, Published) => Some(Retired),
            _ => None,
        }
    }

    /// The states the step may start from (for error messages).
    pub fn sources(self) -> Vec<ReviewState> {
        ReviewState::ALL
            .into_iter()
            .filter(|state| self.target(*state).is_some())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path_reaches_published_and_retired() {
        let mut state = ReviewState::Inventoried;
        for step in [
            Step::Nominate,
            Step::StartReview,
            Step::Approve,
            Step::Publish,
            Step::Retire,
        ] {
            state = step
                .target(state)
                .unwrap_or_else(|| panic!("{step:?} from {state:?}"));
        }
        assert_eq!(state, ReviewState::Retired);
    }

    #[test]
    fn exactly_the_drawn_transitions_are_legal() {
        let legal: Vec<(Step, ReviewState)> = Step::ALL
            .into_iter()
            .flat_map(|step| ReviewState::ALL.into_iter().map(move |state| (step, state)))
            .filter(|(step, state)| step.target(*state).is_some())
            .collect();
        assert_eq!(legal.len(), 12, "{legal:?}");
        assert_eq!(Step::Publish.target(ReviewState::UnderReview), None);
        assert_eq!(Step::Retire.target(ReviewState::Withheld), None);
        assert_eq!(
            Step::Withhold.target(ReviewState::Retired),
            Some(ReviewState::Withheld)
        );
        assert_eq!(Step::Withhold.target(ReviewState::Withheld), None);
        assert_eq!(
            Step::Reopen.target(ReviewState::Withheld),
            Some(ReviewState::UnderReview)
        );
        assert_eq!(Step::Nominate.sources(), [ReviewState::Inventoried]);
    }

    #[test]
    fn names_round_trip() {
        for state in ReviewState::ALL {
            assert_eq!(ReviewState::parse(state.as_str()), Some(state));
            assert_eq!(ReviewState::from_proto(state.to_proto()), Some(state));
        }
        for ground in Ground::ALL {
            assert_eq!(Ground::parse(ground.as_str()), Some(ground));
            assert_eq!(Ground::from_proto(ground.to_proto()), Some(ground));
        }
    }
}
