//! One step of the review workflow, read from named text fields: the JSON body of
//! `POST /api/admin/datasets/{id}/{action}` and the forms of the staff pages take the same fields
//! (`justification`, `accrualPeriodicity`, `reason`, `ground`, `explanation`, `accessLevel`,
//! `successor`) and go through the same call to governance.

use opendata_limits::excerpt;
use opendata_proto::common::v1::AccessLevel;
use opendata_proto::governance::v1 as pb;

use crate::error::SodaError;
use crate::state::GovernanceClients;

/// The steps, by the name in their URL.
pub const ACTIONS: [&str; 7] = [
    "nominate",
    "start-review",
    "approve",
    "publish",
    "reopen",
    "withhold",
    "retire",
];

/// A workflow step with what it needs.
pub enum Step {
    /// An ADO nominates a dataset.
    Nominate(pb::NominateRequest),
    /// The CDO takes a nomination under review.
    StartReview(pb::TransitionRequest),
    /// The CDO approves.
    Approve(pb::TransitionRequest),
    /// The CDO publishes.
    Publish(pb::TransitionRequest),
    /// A withheld dataset goes back to review.
    Reopen(pb::TransitionRequest),
    /// Withheld on a legal ground.
    Withhold(pb::WithholdRequest),
    /// A published dataset is retired.
    Retire(pb::RetireRequest),
}

/// The fields a step takes.
fn fields_of(action: &str) -> &'static [&'static str] {
    match action {
        "nominate" => &["justification", "accrualPeriodicity"],
        "withhold" => &["ground", "explanation", "accessLevel"],
        "retire" => &["reason", "successor"],
        _ => &["reason"],
    }
}

impl Step {
    /// The step `action` of dataset `dataset_id` with `fields` (name, value); `None` when there
    /// is no such step, a 400 naming the field that is unknown or wrong.
    pub fn parse(
        dataset_id: &str,
        action: &str,
        fields: &[(String, String)],
    ) -> Result<Option<Step>, SodaError> {
        if !ACTIONS.contains(&action) {
            return Ok(None);
        }
        let allowed = fields_of(action);
        if let Some((name, _)) = fields
            .iter()
            .find(|(name, _)| !allowed.contains(&name.as_str()))
        {
            return Err(SodaError::bad_parameter(
                name,
                format!(
                    "unknown field {}; {action} takes {}",
                    excerpt(name),
                    allowed.join(", ")
                ),
            ));
        }
        for (index, (name, _)) in fields.iter().enumerate() {
            if fields[..index].iter().any(|(seen, _)| seen == name) {
                return Err(SodaError::bad_parameter(
                    name,
                    format!("{} is given more than once", excerpt(name)),
                ));
            }
        }
        let field = |name: &str| {
            fields
                .iter()
                .find(|(field, _)| field == name)
                .map(|(_, value)| value.clone())
                .unwrap_or_default()
        };
        let transition = || pb::TransitionRequest {
            dataset_id: dataset_id.to_owned(),
            reason: field("reason"),
        };
        let dataset_id = dataset_id.to_owned();
        Ok(Some(match action {
            "nominate" => Step::Nominate(pb::NominateRequest {
                dataset_id,
                justification: field("justification"),
                accrual_periodicity: field("accrualPeriodicity"),
            }),
            "start-review" => Step::StartReview(transition()),
            "approve" => Step::Approve(transition()),
            "publish" => Step::Publish(transition()),
            "reopen" => Step::Reopen(transition()),
            "withhold" => Step::Withhold(pb::WithholdRequest {
                dataset_id,
                ground: ground(&field("ground"))? as i32,
                explanation: field("explanation"),
                access_level: withheld_access(&field("accessLevel"))? as i32,
            }),
            "retire" => Step::Retire(pb::RetireRequest {
                dataset_id,
                reason: field("reason"),
                successor_dataset_id: field("successor"),
            }),
            _ => return Ok(None),
        }))
    }

    /// Asks governance to take the step; the record as it is after it.
    pub async fn apply(
        self,
        governance: &mut GovernanceClients,
    ) -> Result<pb::InventoryRecord, SodaError> {
        let review = &mut governance.review;
        let record = match self {
            Step::Nominate(request) => review.nominate(request).await?,
            Step::StartReview(request) => review.start_review(request).await?,
            Step::Approve(request) => review.approve(request).await?,
            Step::Publish(request) => review.publish(request).await?,
            Step::Reopen(request) => review.reopen(request).await?,
            Step::Withhold(request) => review.withhold(request).await?,
            Step::Retire(request) => review.retire(request).await?,
        };
        Ok(record.into_inner())
    }
}

/// The withholding ground named `name` (`violates_law`, ...); unspecified (which governance
/// refuses, naming the field) when empty.
fn ground(name: &str) -> Result<pb::WithholdingGround, SodaError> {
    if name.is_empty() {
        return Ok(pb::WithholdingGround::Unspecified);
    }
    pb::WithholdingGround::from_str_name(&format!(
        "WITHHOLDING_GROUND_{}",
        name.to_ascii_uppercase()
    ))
    .filter(|ground| *ground != pb::WithholdingGround::Unspecified)
    .ok_or_else(|| {
        SodaError::bad_parameter(
            "ground",
            format!(
                "`{}` is not a ground: use violates_law, endangers_public, hinders_government or undue_burden",
                excerpt(name)
            ),
        )
    })
}

/// The access level of withheld data named `text`: `non-public` (the default) or
/// `restricted public`.
fn withheld_access(text: &str) -> Result<AccessLevel, SodaError> {
    if text.is_empty() {
        return Ok(AccessLevel::NonPublic);
    }
    match AccessLevel::from_dcat_name(text) {
        Some(level @ (AccessLevel::NonPublic | AccessLevel::RestrictedPublic)) => Ok(level),
        _ => Err(SodaError::bad_parameter(
            "accessLevel",
            format!(
                "`{}` is not an access level for withheld data: use non-public or restricted public",
                excerpt(text)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn steps_take_their_fields_and_name_the_wrong_one() {
        let Ok(Some(Step::Withhold(request))) = Step::parse(
            "abcd-1234",
            "withhold",
            &fields(&[
                ("ground", "undue_burden"),
                ("explanation", "x"),
                ("accessLevel", "restricted public"),
            ]),
        ) else {
            panic!("withhold parses");
        };
        assert_eq!(request.ground(), pb::WithholdingGround::UndueBurden);
        assert_eq!(request.access_level(), AccessLevel::RestrictedPublic);
        assert!(matches!(Step::parse("abcd-1234", "delete", &[]), Ok(None)));
        let unknown = Step::parse("abcd-1234", "approve", &fields(&[("ground", "x")]));
        assert!(matches!(unknown, Err(error) if error.0.message.contains("unknown field ground")));
        let twice = Step::parse(
            "abcd-1234",
            "approve",
            &fields(&[("reason", "a"), ("reason", "b")]),
        );
        assert!(matches!(twice, Err(error) if error.0.message.contains("more than once")));
        let ground = Step::parse("abcd-1234", "withhold", &fields(&[("ground", "secret")]));
        assert!(
            matches!(ground, Err(error) if error.0.message.contains("`secret` is not a ground"))
        );
        let access = Step::parse(
            "abcd-1234",
            "withhold",
            &fields(&[("accessLevel", "public")]),
        );
        assert!(matches!(access, Err(error) if error.0.message.contains("not an access level")));
    }
}
