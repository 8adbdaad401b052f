//! Money as DECD and DRS report it: dollars with at most two decimals, kept as whole cents so sums
//! are exact. Parsing accepts what their published tables contain (`6000000`, `21,982,279`,
//! `$16,000`, `153950.5`); formatting always gives two decimals (`6000000.00`).

use std::fmt;

use opendata_limits::excerpt;
use serde::{Deserialize, Serialize};

/// An amount of money in cents, never negative (stored as its cents).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(i64);

/// Why a text is not an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// A minus sign.
    #[error("must not be negative")]
    Negative,
    /// More than two decimals.
    #[error("has more than two decimals")]
    TooPrecise,
    /// Not a number at all (the text, cut short when long).
    #[error("is not an amount of money: {0:?}")]
    NotANumber(String),
    /// Larger than any award (a trillion dollars).
    #[error("is implausibly large")]
    TooLarge,
}

/// Largest amount accepted: a trillion dollars, in cents.
const MAX_CENTS: i64 = 1_000_000_000_000 * 100;

impl Money {
    /// Zero dollars.
    pub const ZERO: Money = Money(0);

    /// An amount from whole cents.
    pub fn from_cents(cents: i64) -> Option<Money> {
        (0..=MAX_CENTS).contains(&cents).then_some(Money(cents))
    }

    /// The amount in cents.
    pub fn cents(self) -> i64 {
        self.0
    }

    /// The sum, or `None` past the largest amount.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        Money::from_cents(self.0.checked_add(other.0)?)
    }

    /// Parses a dollar amount; `None` for an empty text.
    pub fn parse(text: &str) -> Result<Option<Money>, MoneyError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        if trimmed.starts_with('-') {
            return Err(MoneyError::Negative);
        }
        let digits: String = trimmed
            .strip_prefix('$')
            .unwrap_or(trimmed)
            .chars()
            .filter(|c| *c != ',')
            .collect();
        let not_a_number = || MoneyError::NotANumber(excerpt(trimmed));
        let (whole, fraction) = match digits.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (digits.as_str(), ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction)
        {
            return Err(not_a_number());
        }
        if fraction.len() > 2 {
            if fraction[2..].bytes().all(|b| b == b'0') {
                return Money::parse(&format!("{whole}.{}", &fraction[..2]));
            }
            return Err(MoneyError::TooPrecise);
        }
        if whole.len() > 15 {
            return Err(MoneyError::TooLarge);
        }
        let dollars: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| not_a_number())?
        };
        let cents: i64 = match fraction.len() {
            0 => 0,
            1 => fraction.parse::<i64>().map_err(|_| not_a_number())? * 10,
            _ => fraction.parse().map_err(|_| not_a_number())?,
        };
        dollars
            .checked_mul(100)
            .and_then(|c| c.checked_add(cents))
            .and_then(Money::from_cents)
            .map(Some)
            .ok_or(MoneyError::TooLarge)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// Formats a sum of cents (which may exceed one award's bound) as dollars with two decimals.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}{}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<i64>, MoneyError> {
        Money::parse(text).map(|m| m.map(Money::cents))
    }

    #[test]
    fn published_formats_parse_to_cents() {
        assert_eq!(parse("6000000"), Ok(Some(600_000_000)));
        assert_eq!(parse("21,982,279"), Ok(Some(2_198_227_900)));
        assert_eq!(parse("$16,000"), Ok(Some(1_600_000)));
        assert_eq!(parse("153950.5"), Ok(Some(15_395_050)));
        assert_eq!(parse("0.0"), Ok(Some(0)));
        assert_eq!(parse("12.340"), Ok(Some(1234)));
        assert_eq!(parse(".5"), Ok(Some(50)));
        assert_eq!(parse("  "), Ok(None));
    }

    #[test]
    fn bad_amounts_say_why() {
        assert_eq!(parse("-5"), Err(MoneyError::Negative));
        assert_eq!(parse("1.234"), Err(MoneyError::TooPrecise));
        assert_eq!(parse("n/a"), Err(MoneyError::NotANumber("n/a".into())));
        assert_eq!(parse("1.2.3"), Err(MoneyError::NotANumber("1.2.3".into())));
        assert_eq!(parse("."), Err(MoneyError::NotANumber(".".into())));
        assert_eq!(parse("9999999999999999"), Err(MoneyError::TooLarge));
    }

    #[test]
    fn amounts_print_with_two_decimals() {
        assert_eq!(
            Money::from_cents(600_000_000).unwrap().to_string(),
            "6000000.00"
        );
        assert_eq!(Money::from_cents(5).unwrap().to_string(), "0.05");
        assert_eq!(format_cents(-1234), "-12.34");
        assert!(Money::from_cents(-1).is_none());
    }
}
