//! The filter of a public award read (a page, a summary, the export), checked: the company words
//! within `SEARCH_TEXT`, every list at most `FILTER_VALUES` values, each within `TEXT_NAME`, award
//! ids at most `AWARD_IDS`, each a UUID, and no NUL character anywhere, so no value PostgreSQL
//! cannot take reaches it and the summaries' cache keys stay small.

use opendata_limits::{AWARD_IDS, FILTER_VALUES, SEARCH_TEXT, TEXT_NAME, excerpt};
use opendata_proto::incentives::v1 as pb;
use uuid::Uuid;

use crate::error::{IncentivesError, Violations};
use crate::store::query::{AssistanceType, Filter};

/// The domain filter of a request, or every field that is wrong.
pub fn filter_of(request: &pb::SearchAwardsRequest) -> Result<Filter, IncentivesError> {
    let mut violations = Violations::default();
    violations.text("company", &request.company, SEARCH_TEXT);
    for (field, values) in [
        ("municipalities", &request.municipalities),
        ("program_ids", &request.program_ids),
        ("industries", &request.industries),
        ("assistance_types", &request.assistance_types),
    ] {
        violations.list(field, values, TEXT_NAME);
    }
    violations.count("fiscal_years", request.fiscal_years.len(), FILTER_VALUES);
    violations.count("ids", request.ids.len(), AWARD_IDS);
    if !violations.is_empty() {
        return Err(IncentivesError::Invalid(violations));
    }
    let mut assistance_types = Vec::new();
    for name in &request.assistance_types {
        match AssistanceType::parse(name) {
            Some(kind) => assistance_types.push(kind),
            None => violations.add(
                "assistance_types",
                format!(
                    "{:?} is not an assistance type: grant, loan or tax_credit",
                    excerpt(name)
                ),
            ),
        }
    }
    // The first id that is not one is enough to name: there may be thousands.
    let mut ids = Vec::with_capacity(request.ids.len());
    for (index, id) in request.ids.iter().enumerate() {
        match Uuid::parse_str(id.trim()) {
            Ok(id) => ids.push(id),
            Err(_) => {
                violations.add(
                    &format!("ids[{index}]"),
                    format!("{:?} is not an award id (a UUID)", excerpt(id)),
                );
                break;
            }
        }
    }
    if !violations.is_empty() {
        return Err(IncentivesError::Invalid(violations));
    }
    let clean = |values: &[String]| -> Vec<String> {
        values
            .iter()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    };
    Ok(Filter {
        company_words: Filter::words_of(&request.company),
        municipalities: clean(&request.municipalities),
        program_ids: clean(&request.program_ids),
        fiscal_years: request.fiscal_years.clone(),
        assistance_types,
        industries: clean(&request.industries),
        ids: (!request.ids.is_empty()).then_some(ids),
    })
}

#[cfg(test)]
mod tests {
    use opendata_platform::error::ApiError;

    use super::*;

    fn refusal(request: pb::SearchAwardsRequest) -> ApiError {
        ApiError::from(filter_of(&request).unwrap_err())
    }

    #[test]
    fn a_filter_within_every_limit_is_read() {
        let filter = filter_of(&pb::SearchAwardsRequest {
            company: "a".repeat(SEARCH_TEXT.get()),
            municipalities: vec![" Hartford ".into(); FILTER_VALUES.get()],
            fiscal_years: vec![2017; FILTER_VALUES.get()],
            assistance_types: vec!["grant".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(filter.municipalities[0], "Hartford");
        assert_eq!(filter.assistance_types, [AssistanceType::Grant]);
        assert!(filter.ids.is_none());
    }

    #[test]
    fn long_company_searches_and_lists_are_refused_naming_the_limit() {
        let error = refusal(pb::SearchAwardsRequest {
            company: "a".repeat(SEARCH_TEXT.get() + 1),
            ..Default::default()
        });
        assert_eq!(error.details["field"], "company");
        assert_eq!(error.details["limit"], SEARCH_TEXT.name);
        let error = refusal(pb::SearchAwardsRequest {
            fiscal_years: vec![2017; FILTER_VALUES.get() + 1],
            ..Default::default()
        });
        assert_eq!(error.details["field"], "fiscal_years");
        assert_eq!(error.details["limit"], FILTER_VALUES.name);
        let error = refusal(pb::SearchAwardsRequest {
            industries: vec!["i".repeat(TEXT_NAME.get() + 1)],
            ..Default::default()
        });
        assert_eq!(error.details["field"], "industries");
        assert_eq!(error.details["limit"], TEXT_NAME.name);
    }

    #[test]
    fn nul_characters_and_bad_ids_are_refused_quoted_short() {
        let error = refusal(pb::SearchAwardsRequest {
            municipalities: vec!["Hart\0ford".into()],
            ..Default::default()
        });
        assert_eq!(error.details["field"], "municipalities");
        assert!(error.message.contains("NUL"), "{}", error.message);
        let error = refusal(pb::SearchAwardsRequest {
            ids: vec!["x".repeat(TEXT_NAME.get())],
            ..Default::default()
        });
        assert_eq!(error.details["field"], "ids[0]");
        assert!(error.message.len() < 150, "{}", error.message);
    }

    #[test]
    fn a_company_search_takes_as_many_ids_as_search_returns() {
        let id = Uuid::nil().to_string();
        let filter = filter_of(&pb::SearchAwardsRequest {
            ids: vec![id.clone(); AWARD_IDS.get()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(filter.ids.map(|ids| ids.len()), Some(AWARD_IDS.get()));
        let error = refusal(pb::SearchAwardsRequest {
            ids: vec![id; AWARD_IDS.get() + 1],
            ..Default::default()
        });
        assert_eq!(error.details["field"], "ids");
        assert_eq!(error.details["limit"], AWARD_IDS.name);
    }
}
