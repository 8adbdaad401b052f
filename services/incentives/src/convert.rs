//! Stored awards, revisions, summaries and registry entries as the wire carries them.

use chrono::NaiveDate;
use opendata_platform::timestamp::to_proto;
use opendata_proto::incentives::v1 as pb;

use crate::money::format_cents;
use crate::obligation::Obligation;
use crate::store::StoredAward;
use crate::store::awards::Revision;
use crate::store::query::SummaryRow;
use crate::store::registry::{Program, TaxCreditFigure};

/// An award with its obligation status as of `today`.
pub fn award_to_proto(award: &StoredAward, today: NaiveDate) -> pb::Award {
    let fields = &award.fields;
    let standing = award.standing(today);
    pb::Award {
        id: award.id.to_string(),
        fields: Some(fields.to_proto()),
        reviews: award
            .reviews
            .iter()
            .map(|r| pb::JobReview {
                reviewed_on: r.reviewed_on.to_string(),
                actual_jobs: r.actual_jobs,
                notes: r.notes.clone(),
            })
            .collect(),
        obligation_status: match standing.obligation {
            Obligation::Pending => pb::ObligationStatus::Pending,
            Obligation::Met => pb::ObligationStatus::Met,
            Obligation::NotMet => pb::ObligationStatus::NotMet,
            Obligation::PastDue => pb::ObligationStatus::PastDue,
        } as i32,
        penalty_flag: standing.penalty_flag,
        clawback_flag: standing.clawback_flag,
        withdrawn: award.withdrawn,
        withdrawn_reason: award.withdrawn_reason.clone(),
        revision: award.revision,
        created_at: Some(to_proto(award.created_at)),
        updated_at: Some(to_proto(award.updated_at)),
    }
}

/// One revision.
pub fn revision_to_proto(revision: &Revision) -> pb::AwardRevision {
    pb::AwardRevision {
        revision: revision.revision,
        fields: Some(revision.fields.0.to_proto()),
        actor_id: revision.actor_id.clone(),
        reason: revision.reason.clone(),
        at: Some(to_proto(revision.at)),
        change: revision.change.clone(),
    }
}

/// One summary group.
pub fn summary_to_proto(row: &SummaryRow) -> pb::SummaryRow {
    pb::SummaryRow {
        keys: row.keys.clone(),
        labels: row.labels.clone(),
        award_count: row.award_count.max(0) as u64,
        grant_total: format_cents(row.grant_cents),
        loan_total: format_cents(row.loan_cents),
        assistance_total: format_cents(row.total_cents),
        jobs_promised: row.jobs_promised,
        jobs_actual: row.jobs_actual,
    }
}

/// One program.
pub fn program_to_proto(program: &Program) -> pb::Program {
    pb::Program {
        id: program.id.clone(),
        name: program.name.clone(),
        statutory_reference: program.statutory_reference.clone(),
        assistance_types: program.assistance_types.clone(),
        administering_agency: program.administering_agency.clone(),
    }
}

/// One tax credit figure.
pub fn tax_credit_to_proto(figure: &TaxCreditFigure) -> pb::TaxCreditFigure {
    pb::TaxCreditFigure {
        year: figure.year,
        credit_type: figure.credit_type.clone(),
        tax_type: figure.tax_type.clone(),
        claim_count: figure.claim_count,
        amount_claimed: format_cents(figure.claimed_cents),
        amount_carried_forward: format_cents(figure.carried_forward_cents),
    }
}
