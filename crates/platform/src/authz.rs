//! The one authorization matrix: which role may do what, and where (everywhere, or only for its own
//! agency). Every service asks [`Principal::authorize`] before acting; `docs/authorization.md` is
//! this table rendered ([`matrix_markdown`]), and a test keeps the two identical.
//!
//! App tokens identify an application and carry no rights: they are refused everything here.

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ErrorCode};

/// Something a caller may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Create agencies.
    ManageAgencies,
    /// Create principals and give them their role.
    ManagePrincipals,
    /// Issue, revoke and list keys and app tokens.
    ManageKeys,
    /// List principals.
    ReadPrincipals,
    /// Create datasets, change their metadata and schema, push data.
    WriteDatasets,
    /// Read datasets (metadata and rows) that are not published.
    ReadPrivateDatasets,
    /// Set how long replaced versions are kept, and purge a version.
    ManageVersions,
    /// Nominate a dataset for publication.
    Nominate,
    /// Take a nominated dataset under review.
    StartReview,
    /// Approve a dataset under review.
    Approve,
    /// Publish an approved dataset.
    Publish,
    /// Withhold a dataset on a legal ground.
    Withhold,
    /// Reopen a withheld dataset for review.
    Reopen,
    /// Retire a published dataset.
    Retire,
    /// Read inventory records and their history, export the inventory.
    ReadInventory,
    /// Read freshness and the stale list.
    ReadFreshness,
    /// Read and export the audit log.
    ReadAudit,
    /// Rebuild the search index.
    Reindex,
    /// Record, correct and withdraw economic assistance awards, programs and tax credit figures.
    /// They belong to DECD's agency, so only DECD's own roles reach them.
    WriteIncentives,
}

/// Where a role may perform an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// For every agency.
    Everywhere,
    /// Only for the agency the role is bound to.
    OwnAgency,
    /// Not at all.
    Nowhere,
}

/// Every role, in the matrix's column order.
pub const ROLES: [Role; 5] = [
    Role::Admin,
    Role::Cdo,
    Role::Ado,
    Role::Publisher,
    Role::Panel,
];

impl Action {
    /// Every action, in the matrix's row order.
    pub const ALL: [Action; 19] = [
        Action::ManageAgencies,
        Action::ManagePrincipals,
        Action::ManageKeys,
        Action::ReadPrincipals,
        Action::WriteDatasets,
        Action::ReadPrivateDatasets,
        Action::ManageVersions,
        Action::Nominate,
        Action::StartReview,
        Action::Approve,
        Action::Publish,
        Action::Withhold,
        Action::Reopen,
        Action::Retire,
        Action::ReadInventory,
        Action::ReadFreshness,
        Action::ReadAudit,
        Action::Reindex,
        Action::WriteIncentives,
    ];

    /// What the action is, in words ("publish datasets").
    pub fn description(self) -> &'static str {
        match self {
            Action::ManageAgencies => "create agencies",
            Action::ManagePrincipals => "create principals and give them a role",
            Action::ManageKeys => "issue, revoke and list keys and app tokens",
            Action::ReadPrincipals => "list principals",
            Action::WriteDatasets => "create datasets, change their metadata, push data",
            Action::ReadPrivateDatasets => "read datasets that are not published",
            Action::ManageVersions => "set version retention and purge versions",
            Action::Nominate => "nominate datasets for publication",
            Action::StartReview => "take nominated datasets under review",
            Action::Approve => "approve datasets under review",
            Action::Publish => "publish approved datasets",
            Action::Withhold => "withhold datasets on a legal ground",
            Action::Reopen => "reopen withheld datasets for review",
            Action::Retire => "retire published datasets",
            Action::ReadInventory => "read and export the data inventory",
            Action::ReadFreshness => "read freshness and the stale list",
            Action::ReadAudit => "read and export the audit log",
            Action::Reindex => "rebuild the search index",
            Action::WriteIncentives => "record and correct DECD's awards and tax credits",
        }
    }

    /// Where `role` may perform this action: the matrix.
    pub fn reach(self, role: Role) -> Reach {
        use Reach::{Everywhere as All, Nowhere as No, OwnAgency as Own};
        use Role::{Admin, Ado, Cdo, Panel, Publisher};
        match (self, role) {
            (Action::ManageAgencies | Action::ManagePrincipals | Action::ManageKeys, Admin) => All,
            (Action::ManageAgencies | Action::ManagePrincipals | Action::ManageKeys, _) => No,
            (Action::ReadPrincipals, Admin | Cdo | Panel) => All,
            (Action::ReadPrincipals, Ado) => Own,
            (Action::ReadPrincipals, Publisher) => No,
            (Action::WriteDatasets, Admin | Cdo) => All,
            (Action::WriteDatasets, Ado | Publisher) => Own,
            (Action::WriteDatasets, Panel) => No,
            (Action::ManageVersions, Cdo) => All,
            (Action::ManageVersions, Ado) => Own,
            (Action::ManageVersions, Admin | Publisher | Panel) => No,
            (
                Action::ReadPrivateDatasets | Action::ReadInventory | Action::ReadFreshness,
                Admin | Cdo | Panel,
            ) => All,
            (
                Action::ReadPrivateDatasets | Action::ReadInventory | Action::ReadFreshness,
                Ado | Publisher,
            ) => Own,
            (Action::Nominate | Action::Withhold | Action::Reopen | Action::Retire, Cdo) => All,
            (Action::Nominate | Action::Withhold | Action::Reopen | Action::Retire, Ado) => Own,
            (
                Action::Nominate | Action::Withhold | Action::Reopen | Action::Retire,
                Admin | Publisher | Panel,
            ) => No,
            (Action::StartReview | Action::Approve | Action::Publish, Cdo) => All,
            (Action::StartReview | Action::Approve | Action::Publish, _) => No,
            (Action::ReadAudit, Cdo | Panel) => All,
            (Action::ReadAudit, _) => No,
            (Action::Reindex, Admin) => All,
            (Action::Reindex, _) => No,
            (Action::WriteIncentives, Ado | Publisher) => Own,
            (Action::WriteIncentives, Admin | Cdo | Panel) => No,
        }
    }
}

impl Principal {
    /// Whether the caller may perform `action` on something of `agency` (`None`: not tied to one
    /// agency, which an agency-bound reach never covers).
    pub fn may(&self, action: Action, agency: Option<&str>) -> bool {
        if self.app_token {
            return false;
        }
        match action.reach(self.role) {
            Reach::Everywhere => true,
            Reach::OwnAgency => agency.is_some() && self.agency_id.as_deref() == agency,
            Reach::Nowhere => false,
        }
    }

    /// Refuses with `PERMISSION_DENIED`, saying what and for which agency, unless [`Principal::may`].
    pub fn authorize(&self, action: Action, agency: Option<&str>) -> Result<(), ApiError> {
        if self.may(action, agency) {
            return Ok(());
        }
        let who = if self.app_token {
            "an app token".to_owned()
        } else {
            format!("role {}", self.role.as_str())
        };
        let message = match (action.reach(self.role), agency) {
            (Reach::OwnAgency, Some(agency)) if !self.app_token => format!(
                "{who} may {} only for its own agency, not {agency}",
                action.description()
            ),
            _ => format!("{who} may not {}", action.description()),
        };
        Err(ApiError::new(ErrorCode::PermissionDenied, message))
    }
}

/// The matrix as a Markdown table (the body of `docs/authorization.md`).
pub fn matrix_markdown() -> String {
    let mut out = String::from("| action |");
    for role in ROLES {
        out.push_str(&format!(" {} |", role.as_str()));
    }
    out.push_str("\n|---|");
    for _ in ROLES {
        out.push_str("---|");
    }
    out.push('\n');
    for action in Action::ALL {
        out.push_str(&format!("| {} |", action.description()));
        for role in ROLES {
            let cell = match action.reach(role) {
                Reach::Everywhere => "yes",
                Reach::OwnAgency => "own agency",
                Reach::Nowhere => "–",
            };
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, agency: Option<&str>) -> Principal {
        Principal {
            id: "p".into(),
            name: "p".into(),
            role,
            agency_id: agency.map(str::to_owned),
            app_token: false,
        }
    }

    #[test]
    fn agency_roles_act_only_for_their_agency() {
        let ado = principal(Role::Ado, Some("opm"));
        assert!(ado.may(Action::Nominate, Some("opm")));
        assert!(!ado.may(Action::Nominate, Some("decd")));
        assert!(!ado.may(Action::Nominate, None));
        let error = ado.authorize(Action::Retire, Some("decd")).unwrap_err();
        assert_eq!(error.code, ErrorCode::PermissionDenied);
        assert!(
            error.message.contains("only for its own agency"),
            "{}",
            error.message
        );
        assert!(!ado.may(Action::Publish, Some("opm")));
    }

    #[test]
    fn app_tokens_may_do_nothing() {
        let mut token = principal(Role::Cdo, None);
        token.app_token = true;
        for action in Action::ALL {
            assert!(!token.may(action, Some("opm")), "{action:?}");
        }
    }

    #[test]
    fn publishing_decisions_belong_to_the_cdo() {
        for role in ROLES {
            let expected = role == Role::Cdo;
            for action in [Action::StartReview, Action::Approve, Action::Publish] {
                assert_eq!(
                    principal(role, Some("opm")).may(action, Some("opm")),
                    expected,
                    "{role:?} {action:?}"
                );
            }
        }
    }

    #[test]
    fn the_documented_matrix_is_this_one() {
        let document = include_str!("../../../docs/authorization.md");
        assert!(
            document.contains(&matrix_markdown()),
            "docs/authorization.md is out of date; paste this table into it:\n{}",
            matrix_markdown()
        );
    }
}
