//! The catalog's domain: datasets with their DCAT-US metadata, publication stage and current
//! version, and the rules their metadata must follow.

use chrono::{DateTime, Utc};
use opendata_datastore::dataset_id::DatasetId;
use opendata_datastore::schema::Schema;
use opendata_limits::{
    KEYWORD_CHARS, KEYWORDS, Limit, TEXT_DESCRIPTION, TEXT_LINE, TEXT_NAME, TEXT_URL, excerpt,
};
use serde::{Deserialize, Serialize};

/// DCAT-US access level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessLevel {
    /// `public`.
    #[default]
    Public,
    /// `restricted public`.
    RestrictedPublic,
    /// `non-public`.
    NonPublic,
}

impl AccessLevel {
    /// The DCAT-US spelling: the protobuf enum's, the one definition of it.
    pub fn dcat(self) -> &'static str {
        crate::convert::access_level_to_proto(self).dcat_name()
    }
}

/// Whether the public sees a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Its agency, the CDO, the panel and admins only.
    Private,
    /// Everyone.
    Published,
}

impl Stage {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Private => "private",
            Stage::Published => "published",
        }
    }

    /// From the stored spelling.
    pub fn parse(text: &str) -> Stage {
        if text == "published" {
            Stage::Published
        } else {
            Stage::Private
        }
    }
}

/// DCAT-US metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metadata {
    pub title: String,
    pub description: String,
    /// Tags, lowercase, unique.
    pub keywords: Vec<String>,
    /// Category (theme).
    pub category: String,
    /// Publishing organisation.
    pub publisher: String,
    pub contact_name: String,
    /// Contact email, without `mailto:`.
    pub contact_email: String,
    /// License URL.
    pub license: String,
    pub access_level: AccessLevel,
    /// Why not public.
    pub rights: String,
    /// Spatial coverage.
    pub spatial: String,
    /// Temporal coverage, ISO 8601 interval.
    pub temporal: String,
    /// Update frequency, ISO 8601 repeating duration or `irregular`.
    pub accrual_periodicity: String,
    /// Landing page URL.
    pub landing_page: String,
    pub attribution: String,
}

/// A metadata value that breaks a rule, with the field named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MetadataError {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
    /// The limit it goes past, when that is what is wrong.
    pub limit: Option<&'static str>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> MetadataError {
    MetadataError {
        field,
        message: message.into(),
        limit: None,
    }
}

/// Refuses `value` in `field` past `limit` (or holding a NUL character).
fn within(field: &'static str, value: &str, limit: Limit) -> Result<(), MetadataError> {
    match limit.text_problem(value) {
        None => Ok(()),
        Some(message) => Err(MetadataError {
            field,
            message,
            // A NUL character is wrong at any length.
            limit: (!value.contains('\0')).then_some(limit.name),
        }),
    }
}

impl Metadata {
    /// Trims and normalizes values, then checks every rule.
    pub fn normalized(mut self) -> Result<Metadata, MetadataError> {
        for value in [
            &mut self.title,
            &mut self.description,
            &mut self.category,
            &mut self.publisher,
            &mut self.contact_name,
            &mut self.contact_email,
            &mut self.license,
            &mut self.rights,
            &mut self.spatial,
            &mut self.temporal,
            &mut self.accrual_periodicity,
            &mut self.landing_page,
            &mut self.attribution,
        ] {
            *value = value.trim().to_owned();
        }
        // Counted as sent, before any work on them.
        if let Some(message) = KEYWORDS.count_problem(self.keywords.len()) {
            return Err(MetadataError {
                field: "metadata.keywords",
                message,
                limit: Some(KEYWORDS.name),
            });
        }
        let mut keywords: Vec<String> = Vec::new();
        for keyword in self.keywords.drain(..) {
            let keyword = keyword.trim().to_lowercase();
            if !keyword.is_empty() && !keywords.contains(&keyword) {
                within("metadata.keywords", &keyword, KEYWORD_CHARS)?;
                keywords.push(keyword);
            }
        }
        self.keywords = keywords;
        for (field, value, limit) in [
            ("metadata.description", &self.description, TEXT_DESCRIPTION),
            ("metadata.category", &self.category, TEXT_NAME),
            ("metadata.publisher", &self.publisher, TEXT_NAME),
            ("metadata.contact_point.name", &self.contact_name, TEXT_NAME),
            (
                "metadata.contact_point.email",
                &self.contact_email,
                TEXT_URL,
            ),
            ("metadata.license", &self.license, TEXT_URL),
            ("metadata.landing_page", &self.landing_page, TEXT_URL),
            ("metadata.spatial", &self.spatial, TEXT_NAME),
            ("metadata.temporal", &self.temporal, TEXT_NAME),
            (
                "metadata.accrual_periodicity",
                &self.accrual_periodicity,
                TEXT_NAME,
            ),
            ("metadata.attribution", &self.attribution, TEXT_NAME),
            ("metadata.title", &self.title, TEXT_LINE),
            ("metadata.rights", &self.rights, TEXT_LINE),
        ] {
            within(field, value, limit)?;
        }

        if self.title.is_empty() {
            return Err(invalid("metadata.title", "a title is required"));
        }
        if self.access_level != AccessLevel::Public && self.rights.is_empty() {
            return Err(invalid(
                "metadata.rights",
                format!(
                    "a {} dataset needs `rights` explaining why",
                    self.access_level.dcat()
                ),
            ));
        }
        for (field, value) in [
            ("metadata.license", &self.license),
            ("metadata.landing_page", &self.landing_page),
        ] {
            if !value.is_empty() && !is_http_url(value) {
                return Err(invalid(
                    field,
                    format!("`{}` is not an http(s) URL", excerpt(value)),
                ));
            }
        }
        if !self.contact_email.is_empty() && !is_email(&self.contact_email) {
            return Err(invalid(
                "metadata.contact_point.email",
                format!("`{}` is not an email address", excerpt(&self.contact_email)),
            ));
        }
        if !self.accrual_periodicity.is_empty() && !is_periodicity(&self.accrual_periodicity) {
            return Err(invalid(
                "metadata.accrual_periodicity",
                "expected an ISO 8601 repeating duration such as R/P1D, R/P1M, R/P1Y, or `irregular`",
            ));
        }
        if !self.temporal.is_empty() && !is_interval(&self.temporal) {
            return Err(invalid(
                "metadata.temporal",
                "expected an ISO 8601 interval such as 2001-01-01/2022-12-31",
            ));
        }
        Ok(self)
    }
}

fn is_http_url(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://"))
        && value.len() > 8
        && !value.contains(char::is_whitespace)
}

fn is_email(value: &str) -> bool {
    match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// `R/P1D`, `R/P3M`, `R/PT1H`, ... or `irregular`.
fn is_periodicity(value: &str) -> bool {
    if value == "irregular" {
        return true;
    }
    let Some(duration) = value.strip_prefix("R/P") else {
        return false;
    };
    let (date_part, time_part) = match duration.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (duration, None),
    };
    let valid_units = |part: &str, units: &str| -> bool {
        let mut digits = 0;
        let mut last_unit = None;
        for c in part.chars() {
            if c.is_ascii_digit() || (c == '.' && digits > 0) {
                digits += 1;
            } else if let Some(position) = units.find(c) {
                if digits == 0 || last_unit.is_some_and(|last| last >= position) {
                    return false;
                }
                last_unit = Some(position);
                digits = 0;
            } else {
                return false;
            }
        }
        digits == 0
    };
    (!date_part.is_empty() || time_part.is_some_and(|t| !t.is_empty()))
        && valid_units(date_part, "YMWD")
        && time_part.is_none_or(|time| !time.is_empty() && valid_units(time, "HMS"))
}

fn is_interval(value: &str) -> bool {
    let Some((start, end)) = value.split_once('/') else {
        return false;
    };
    let is_date = |text: &str| opendata_datastore::coerce::parse_timestamp(text).is_ok();
    is_date(start) && is_date(end)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub id: DatasetId,
    /// Owning agency.
    pub agency_id: String,
    /// DCAT-US metadata.
    pub metadata: Metadata,
    /// Schema of the current version (or declared).
    pub schema: Schema,
    /// Public or not.
    pub stage: Stage,
    /// Withheld by governance on a legal ground: private, but disclosed in `/data.json`.
    pub withheld: bool,
    /// Revision of the governance record last applied.
    pub governance_revision: i64,
    /// Current version, 0 before the first.
    pub current_version: i64,
    /// Table of the current version.
    pub current_table: Option<String>,
    /// Rows in the current version.
    pub row_count: i64,
    /// Creator.
    pub owner_id: String,
    pub created_at: DateTime<Utc>,
    /// Metadata last changed at.
    pub metadata_updated_at: DateTime<Utc>,
    /// Data last changed at.
    pub data_updated_at: Option<DateTime<Utc>>,
    /// Last published at.
    pub published_at: Option<DateTime<Utc>>,
}

impl Dataset {
    /// When anything about the dataset last changed.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.data_updated_at
            .map_or(self.metadata_updated_at, |data| {
                data.max(self.metadata_updated_at)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> Metadata {
        Metadata {
            title: " Real Estate Sales ".into(),
            keywords: vec![
                "Housing".into(),
                "housing".into(),
                " ".into(),
                "Sales".into(),
            ],
            ..Metadata::default()
        }
    }

    #[test]
    fn metadata_is_trimmed_and_keywords_deduplicated() {
        let normalized = metadata().normalized().unwrap();
        assert_eq!(normalized.title, "Real Estate Sales");
        assert_eq!(normalized.keywords, vec!["housing", "sales"]);
    }

    #[test]
    fn rules_name_the_field() {
        let cases: Vec<(Metadata, &str)> = vec![
            (Metadata::default(), "metadata.title"),
            (
                Metadata {
                    accrual_periodicity: "daily".into(),
                    ..metadata()
                },
                "metadata.accrual_periodicity",
            ),
            (
                Metadata {
                    license: "cc-by".into(),
                    ..metadata()
                },
                "metadata.license",
            ),
            (
                Metadata {
                    contact_email: "nobody".into(),
                    ..metadata()
                },
                "metadata.contact_point.email",
            ),
            (
                Metadata {
                    access_level: AccessLevel::NonPublic,
                    ..metadata()
                },
                "metadata.rights",
            ),
            (
                Metadata {
                    temporal: "2001".into(),
                    ..metadata()
                },
                "metadata.temporal",
            ),
        ];
        for (metadata, field) in cases {
            assert_eq!(metadata.normalized().unwrap_err().field, field);
        }
    }

    #[test]
    fn periodicities_follow_iso_8601() {
        for good in [
            "R/P1D",
            "R/P1W",
            "R/P1M",
            "R/P3M",
            "R/P1Y",
            "R/P6M",
            "R/PT1H",
            "R/P1DT12H",
            "irregular",
        ] {
            assert!(is_periodicity(good), "{good}");
        }
        for bad in ["P1D", "R/P", "R/PD", "R/P1X", "R/P1D1M", "R/PT"] {
            assert!(!is_periodicity(bad), "{bad}");
        }
    }

    #[test]
    fn intervals_need_two_dates() {
        assert!(is_interval("2001-01-01/2022-12-31"));
        assert!(!is_interval("2001-01-01"));
    }
}
