//! Who may choose which dataset id. Ids are one namespace, so a chosen id that is taken is
//! refused whoever asks; were anyone free to choose any id, that refusal would tell an agency that
//! another agency's private dataset exists. So every chosen id belongs somewhere:
//!
//! - an id whose first part begins with an agency's id (`decd-awrd` for `decd`) is in that
//!   agency's namespace: only that agency's datasets take it, so probing it finds nothing its own
//!   publishers cannot see anyway;
//! - any other id (one kept from a Socrata migration, say) is chosen only by callers who see every
//!   dataset (the CDO, an admin).
//!
//! Random ids stay out of other agencies' namespaces, and governance refuses a new agency whose
//! namespace would hold datasets already (of others, necessarily).

use opendata_datastore::dataset_id::DatasetId;
use opendata_platform::auth::Principal;
use opendata_platform::authz::Action;

use crate::error::CatalogError;

/// The agency whose namespace `id` is in: the longest agency id its first part begins with.
pub fn namespace_of<'a>(id: &DatasetId, agencies: &'a [String]) -> Option<&'a str> {
    let first = id.as_str().split('-').next().unwrap_or_default();
    agencies
        .iter()
        .map(String::as_str)
        .filter(|agency| !agency.is_empty() && first.starts_with(agency))
        .max_by_key(|agency| agency.len())
}

/// Refuses a chosen `id` for a dataset of `agency` that is in another agency's namespace, or in
/// none while `caller` does not see every dataset.
pub fn check_chosen(
    caller: &Principal,
    id: &DatasetId,
    agency: &str,
    agencies: &[String],
) -> Result<(), CatalogError> {
    match namespace_of(id, agencies) {
        Some(owner) if owner == agency => Ok(()),
        Some(owner) => Err(CatalogError::invalid(
            "id",
            format!(
                "{id} is among agency {owner}'s ids (those beginning with `{owner}`); a dataset of {agency} takes an id beginning with `{agency}`, or leave id empty for a random one"
            ),
        )),
        None if caller.may(Action::ReadPrivateDatasets, None) => Ok(()),
        None if agency.len() > 4 || agency.contains('-') => Err(CatalogError::invalid(
            "id",
            format!(
                "agency {agency}'s id cannot begin a dataset id (four letters or digits before the hyphen), so only the CDO or an admin choose its ids; leave id empty for a random one"
            ),
        )),
        None => Err(CatalogError::invalid(
            "id",
            format!(
                "an agency chooses ids beginning with its own id (`{agency}`…-…); only the CDO or an admin choose others; leave id empty for a random one"
            ),
        )),
    }
}

/// A random id in no other agency's namespace.
pub fn random_id(agency: &str, agencies: &[String]) -> DatasetId {
    loop {
        let id = DatasetId::generate();
        if namespace_of(&id, agencies).is_none_or(|owner| owner == agency) {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use opendata_platform::auth::Role;

    use super::*;

    fn agencies() -> Vec<String> {
        ["opm", "decd", "dot", "dota"].map(str::to_owned).to_vec()
    }

    fn principal(role: Role, agency: Option<&str>) -> Principal {
        Principal {
            id: "p".into(),
            name: "p".into(),
            role,
            agency_id: agency.map(str::to_owned),
            app_token: false,
        }
    }

    fn id(text: &str) -> DatasetId {
        DatasetId::parse(text).unwrap()
    }

    #[test]
    fn an_id_belongs_to_the_agency_its_first_part_begins_with() {
        assert_eq!(namespace_of(&id("decd-awrd"), &agencies()), Some("decd"));
        assert_eq!(namespace_of(&id("opm1-2345"), &agencies()), Some("opm"));
        assert_eq!(namespace_of(&id("dota-0001"), &agencies()), Some("dota"));
        assert_eq!(namespace_of(&id("dot1-0001"), &agencies()), Some("dot"));
        assert_eq!(namespace_of(&id("5mzw-sjtu"), &agencies()), None);
    }

    #[test]
    fn agencies_choose_only_in_their_namespace_and_no_one_in_anothers() {
        let decd = principal(Role::Publisher, Some("decd"));
        let cdo = principal(Role::Cdo, None);
        let all = agencies();
        assert!(check_chosen(&decd, &id("decd-awrd"), "decd", &all).is_ok());
        for (caller, chosen) in [
            (&decd, "opm1-2345"),
            (&decd, "5mzw-sjtu"),
            (&cdo, "opm1-2345"),
        ] {
            let refused = check_chosen(caller, &id(chosen), "decd", &all).unwrap_err();
            assert!(matches!(refused, CatalogError::Invalid { ref field, .. } if field == "id"));
        }
        assert!(check_chosen(&cdo, &id("5mzw-sjtu"), "decd", &all).is_ok());
        assert!(check_chosen(&principal(Role::Admin, None), &id("5mzw-sjtu"), "opm", &all).is_ok());
    }

    #[test]
    fn random_ids_stay_out_of_other_agencies_namespaces() {
        let one_letter: Vec<String> = ('a'..='z').map(|c| c.to_string()).collect();
        for _ in 0..50 {
            let random = random_id("q", &one_letter);
            assert!(
                random.as_str().starts_with('q') || random.as_str().starts_with(char::is_numeric)
            );
        }
    }
}
