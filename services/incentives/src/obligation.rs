//! Job obligations: what an award's commitments and its latest job review say on a given day.
//! Pure, so the rules are tested without a database.

use chrono::NaiveDate;

use crate::award::AwardFields;
use crate::money::Money;

/// Where a company stands against its job commitments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obligation {
    /// The target date has not come (or none is set) and no review meets the commitment yet.
    Pending,
    /// The latest review counts at least the jobs promised (or nothing was promised).
    Met,
    /// The latest review, made on or after the target date, counts fewer jobs than promised.
    NotMet,
    /// The target date has passed and no review has been made since.
    PastDue,
}

/// The latest job review: when, and how many jobs it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatestReview {
    /// The review date.
    pub on: NaiveDate,
    /// Full-time jobs found.
    pub actual_jobs: i64,
}

/// Where an award stands on a day: its obligation and the flags that follow from it and its
/// values. The API and the portal dataset both read it from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The job obligation.
    pub obligation: Obligation,
    /// A penalty applies, or the commitment was not met.
    pub penalty_flag: bool,
    /// Money was recaptured.
    pub clawback_flag: bool,
}

impl Standing {
    /// The standing on `today` of an award with `fields` whose latest review is `latest`.
    pub fn of(fields: &AwardFields, latest: Option<LatestReview>, today: NaiveDate) -> Standing {
        let obligation = Obligation::on(
            today,
            fields.jobs_promised(),
            fields.jobs_target_date,
            latest,
        );
        let positive = |m: Option<Money>| m.is_some_and(|m| m.cents() > 0);
        Standing {
            obligation,
            penalty_flag: positive(fields.penalty) || obligation == Obligation::NotMet,
            clawback_flag: positive(fields.recapture_amount),
        }
    }
}

impl Obligation {
    /// The status on `today` of a commitment of `promised` jobs (retained + created) due by
    /// `target`, given the latest review.
    pub fn on(
        today: NaiveDate,
        promised: i64,
        target: Option<NaiveDate>,
        latest: Option<LatestReview>,
    ) -> Obligation {
        if promised <= 0 || latest.is_some_and(|r| r.actual_jobs >= promised) {
            return Obligation::Met;
        }
        match target {
            None => Obligation::Pending,
            Some(target) if today <= target => Obligation::Pending,
            Some(target) => match latest {
                Some(review) if review.on >= target => Obligation::NotMet,
                _ => Obligation::PastDue,
            },
        }
    }

    /// The lowercase name the public API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Obligation::Pending => "pending",
            Obligation::Met => "met",
            Obligation::NotMet => "not_met",
            Obligation::PastDue => "past_due",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn review(on: &str, actual_jobs: i64) -> Option<LatestReview> {
        Some(LatestReview {
            on: day(on),
            actual_jobs,
        })
    }

    #[test]
    fn a_commitment_moves_from_pending_to_past_due_to_not_met_or_met() {
        let target = Some(day("2018-12-31"));
        assert_eq!(
            Obligation::on(day("2018-12-31"), 300, target, None),
            Obligation::Pending
        );
        assert_eq!(
            Obligation::on(day("2019-01-01"), 300, target, None),
            Obligation::PastDue
        );
        assert_eq!(
            Obligation::on(day("2019-01-01"), 300, target, review("2018-06-30", 100)),
            Obligation::PastDue,
            "a review before the target date does not settle a shortfall"
        );
        assert_eq!(
            Obligation::on(day("2019-03-01"), 300, target, review("2019-02-01", 299)),
            Obligation::NotMet
        );
        assert_eq!(
            Obligation::on(day("2019-03-01"), 300, target, review("2019-02-01", 300)),
            Obligation::Met
        );
    }

    #[test]
    fn meeting_the_commitment_early_counts() {
        assert_eq!(
            Obligation::on(
                day("2017-01-01"),
                10,
                Some(day("2018-12-31")),
                review("2016-12-01", 12)
            ),
            Obligation::Met
        );
    }

    #[test]
    fn no_promise_is_met_and_no_target_is_pending() {
        assert_eq!(
            Obligation::on(day("2030-01-01"), 0, None, None),
            Obligation::Met
        );
        assert_eq!(
            Obligation::on(day("2030-01-01"), 5, None, review("2029-01-01", 1)),
            Obligation::Pending
        );
    }
}
