//! Freshness: whether a dataset's data is as recent as its declared update frequency promises.
//!
//! Frequencies are ISO 8601 repeating durations as DCAT-US writes them (`R/P1D`, `R/P1M`,
//! `R/P0.5M`, `R/PT1H`) or `irregular`; the usual words (daily, weekly, monthly, quarterly,
//! annually, as needed, historical) are accepted and stored in that form. A dataset is due when its
//! last data update is older than its period, and stale once the clock passes due date + grace,
//! where the grace is a share of the period (at least a day).

use chrono::{DateTime, Duration, Months, Utc};

/// An update frequency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Periodicity {
    /// No schedule (`irregular`, as needed, historical data).
    Irregular,
    /// Every so many calendar months (years are twelve).
    Months(u32),
    /// Every fixed span (days, weeks, hours, and fractional months or years).
    Every(Duration),
}

/// Where a dataset stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Updated within its period.
    Current,
    /// Past its due date, within the grace.
    Due,
    /// Past due date + grace.
    Stale,
    /// No schedule.
    NotScheduled,
}

impl Status {
    /// The name used in exports and the public freshness dataset.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Current => "current",
            Status::Due => "due",
            Status::Stale => "stale",
            Status::NotScheduled => "not scheduled",
        }
    }
}

const DAY: i64 = 86_400;

fn span(amount: f64, unit_seconds: f64) -> Option<Duration> {
    let seconds = amount * unit_seconds;
    (seconds.is_finite() && (1.0..1e11).contains(&seconds))
        .then(|| Duration::seconds(seconds.round() as i64))
}

impl Periodicity {
    /// Reads a frequency; the error says what forms are accepted.
    pub fn parse(text: &str) -> Result<Periodicity, String> {
        let text = text.trim();
        let normalized = match text.to_ascii_lowercase().as_str() {
            "daily" => "R/P1D".to_owned(),
            "weekly" => "R/P1W".to_owned(),
            "biweekly" => "R/P2W".to_owned(),
            "monthly" => "R/P1M".to_owned(),
            "quarterly" => "R/P3M".to_owned(),
            "semiannually" | "semiannual" => "R/P6M".to_owned(),
            "annually" | "annual" | "yearly" => "R/P1Y".to_owned(),
            "irregular" | "as needed" | "historical" | "never" => "irregular".to_owned(),
            _ => text.to_owned(),
        };
        if normalized == "irregular" {
            return Ok(Periodicity::Irregular);
        }
        let bad = || {
            format!(
                "{text:?} is not an update frequency: use an ISO 8601 repeating duration such as R/P1D, R/P1W, R/P1M, R/P3M, R/P1Y, R/PT1H, or daily, weekly, monthly, quarterly, annually, irregular"
            )
        };
        let rest = normalized.strip_prefix("R/P").ok_or_else(bad)?;
        let (time, rest) = match rest.strip_prefix('T') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let unit = rest.chars().last().ok_or_else(bad)?;
        let amount: f64 = rest[..rest.len() - unit.len_utf8()]
            .parse()
            .map_err(|_| bad())?;
        let whole =
            (amount.fract() == 0.0 && (1.0..=1200.0).contains(&amount)).then_some(amount as u32);
        let period = match (time, unit, whole) {
            (false, 'Y', Some(years)) => Periodicity::Months(years * 12),
            (false, 'M', Some(months)) => Periodicity::Months(months),
            (false, 'Y', None) => {
                Periodicity::Every(span(amount, 365.25 * DAY as f64).ok_or_else(bad)?)
            }
            (false, 'M', None) => {
                Periodicity::Every(span(amount, 30.44 * DAY as f64).ok_or_else(bad)?)
            }
            (false, 'W', _) => Periodicity::Every(span(amount, 7.0 * DAY as f64).ok_or_else(bad)?),
            (false, 'D', _) => Periodicity::Every(span(amount, DAY as f64).ok_or_else(bad)?),
            (true, 'H', _) => Periodicity::Every(span(amount, 3600.0).ok_or_else(bad)?),
            (true, 'M', _) => Periodicity::Every(span(amount, 60.0).ok_or_else(bad)?),
            (true, 'S', _) => Periodicity::Every(span(amount, 1.0).ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        Ok(period)
    }

    /// The canonical spelling of a frequency text (`monthly` is `R/P1M`); errors as [`Periodicity::parse`].
    pub fn normalize(text: &str) -> Result<String, String> {
        match Periodicity::parse(text)? {
            Periodicity::Irregular => Ok("irregular".to_owned()),
            _ if text.trim().starts_with("R/") => Ok(text.trim().to_owned()),
            _ => Ok(match text.trim().to_ascii_lowercase().as_str() {
                "daily" => "R/P1D",
                "weekly" => "R/P1W",
                "biweekly" => "R/P2W",
                "monthly" => "R/P1M",
                "quarterly" => "R/P3M",
                "semiannually" | "semiannual" => "R/P6M",
                _ => "R/P1Y",
            }
            .to_owned()),
        }
    }

    /// When data last updated at `last` is next due; `None` without a schedule.
    pub fn due_after(self, last: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Periodicity::Irregular => None,
            Periodicity::Months(months) => last.checked_add_months(Months::new(months)),
            Periodicity::Every(period) => last.checked_add_signed(period),
        }
    }

    /// The grace after the due date: `percent` of the period, at least one day.
    pub fn grace(self, last: DateTime<Utc>, percent: u32) -> Duration {
        let period = self
            .due_after(last)
            .map_or(Duration::zero(), |due| due - last);
        let percent = i32::try_from(percent).unwrap_or(i32::MAX);
        period
            .checked_mul(percent)
            .map_or(Duration::MAX, |scaled| scaled / 100)
            .max(Duration::days(1))
    }
}

/// Where a dataset stands against its declared update frequency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    pub dataset_id: String,
    /// Owning agency.
    pub agency_id: String,
    /// Declared update frequency, ISO 8601 or `irregular`; empty when never declared.
    pub accrual_periodicity: String,
    /// Last data update the catalog reported.
    pub last_updated_at: Option<DateTime<Utc>>,
    /// When the next update is due (`None` without a schedule).
    pub due_at: Option<DateTime<Utc>>,
    pub status: Status,
}

/// Freshness of one dataset at `now`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assessment {
    /// When the next update is due (`None` without a schedule).
    pub due_at: Option<DateTime<Utc>>,
    /// When it turns stale without an update.
    pub stale_at: Option<DateTime<Utc>>,
    /// Status at `now`.
    pub status: Status,
}

/// Assesses data last updated at `last`, on `periodicity`, at `now`, with a grace of
/// `grace_percent` of the period.
pub fn assess(
    periodicity: Periodicity,
    last: DateTime<Utc>,
    now: DateTime<Utc>,
    grace_percent: u32,
) -> Assessment {
    let Some(due) = periodicity.due_after(last) else {
        return Assessment {
            due_at: None,
            stale_at: None,
            status: Status::NotScheduled,
        };
    };
    let stale_at = due
        .checked_add_signed(periodicity.grace(last, grace_percent))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let status = if now < due {
        Status::Current
    } else if now <= stale_at {
        Status::Due
    } else {
        Status::Stale
    };
    Assessment {
        due_at: Some(due),
        stale_at: Some(stale_at),
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    #[test]
    fn frequencies_parse_in_iso_and_in_words() {
        assert_eq!(Periodicity::parse("R/P1M"), Ok(Periodicity::Months(1)));
        assert_eq!(Periodicity::parse("quarterly"), Ok(Periodicity::Months(3)));
        assert_eq!(Periodicity::parse("R/P1Y"), Ok(Periodicity::Months(12)));
        assert_eq!(
            Periodicity::parse("R/P1D"),
            Ok(Periodicity::Every(Duration::days(1)))
        );
        assert_eq!(
            Periodicity::parse("R/P2W"),
            Ok(Periodicity::Every(Duration::days(14)))
        );
        assert_eq!(
            Periodicity::parse("R/PT1H"),
            Ok(Periodicity::Every(Duration::hours(1)))
        );
        assert_eq!(
            Periodicity::parse("R/P0.5M"),
            Ok(Periodicity::Every(Duration::seconds(1_315_008)))
        );
        assert_eq!(Periodicity::parse("as needed"), Ok(Periodicity::Irregular));
        assert_eq!(Periodicity::normalize("Monthly").as_deref(), Ok("R/P1M"));
        assert_eq!(
            Periodicity::normalize("historical").as_deref(),
            Ok("irregular")
        );
        for bad in ["", "P1M", "R/P", "R/P1X", "R/P-1D", "R/PT1D", "sometimes"] {
            let error = Periodicity::parse(bad).unwrap_err();
            assert!(error.contains("R/P1D"), "{bad}: {error}");
        }
    }

    #[test]
    fn months_follow_the_calendar() {
        let due = Periodicity::Months(1).due_after(at(2026, 1, 31)).unwrap();
        assert_eq!(due, at(2026, 2, 28));
    }

    #[test]
    fn a_dataset_turns_stale_exactly_after_due_plus_grace() {
        let monthly = Periodicity::Months(1);
        let last = at(2026, 3, 1);
        // Due 1 April; grace 25% of 31 days = 7 days 18 hours.
        let stale_at = at(2026, 4, 8) + Duration::hours(18);
        assert_eq!(
            assess(monthly, last, at(2026, 3, 31), 25).status,
            Status::Current
        );
        assert_eq!(
            assess(monthly, last, at(2026, 4, 1), 25).status,
            Status::Due
        );
        let edge = assess(monthly, last, stale_at, 25);
        assert_eq!(edge.stale_at, Some(stale_at));
        assert_eq!(
            edge.status,
            Status::Due,
            "at due + grace it is not stale yet"
        );
        let after = assess(monthly, last, stale_at + Duration::seconds(1), 25);
        assert_eq!(after.status, Status::Stale);
        assert_eq!(
            assess(Periodicity::Irregular, last, at(2030, 1, 1), 25).status,
            Status::NotScheduled
        );
    }

    #[test]
    fn short_periods_get_at_least_a_day_of_grace() {
        let hourly = Periodicity::Every(Duration::hours(1));
        assert_eq!(hourly.grace(at(2026, 1, 1), 25), Duration::days(1));
    }
}
