//! An award as the public reads it, one flat record: its id, its values, then what follows from
//! them and its reviews. One table per part ([`FIELDS`], [`DERIVED`]) names every field in order
//! and reads its value; the JSON object (empty values left out) and the CSV row (empty cells) of
//! `/api/incentives/awards` are both written from them, so they cannot disagree.

use opendata_proto::incentives::v1 as pb;
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::spreadsheet::inert;

/// One value of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    Text(&'a str),
    Int(i64),
    Bool(bool),
    /// No value: left out of JSON, an empty CSV cell.
    Absent,
}

impl Cell<'_> {
    /// The CSV cell: text that would start a spreadsheet formula is kept as text (DECD's staff
    /// write the records; the public opens the download).
    fn csv(self) -> String {
        match self {
            Cell::Text(text) => inert(text),
            Cell::Int(number) => number.to_string(),
            Cell::Bool(flag) => flag.to_string(),
            Cell::Absent => String::new(),
        }
    }
}

impl Serialize for Cell<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Text(text) => serializer.serialize_str(text),
            Cell::Int(number) => serializer.serialize_i64(*number),
            Cell::Bool(flag) => serializer.serialize_bool(*flag),
            Cell::Absent => serializer.serialize_none(),
        }
    }
}

/// Text that may be empty: absent when it is.
fn optional(text: &str) -> Cell<'_> {
    if text.is_empty() {
        Cell::Absent
    } else {
        Cell::Text(text)
    }
}

/// One field of an award's values.
pub struct Field {
    pub name: &'static str,
    value: fn(&pb::AwardFields) -> Cell<'_>,
}

/// An award's values, in the order the public reads them.
pub const FIELDS: &[Field] = &[
    Field {
        name: "fiscal_year",
        value: |f| Cell::Int(i64::from(f.fiscal_year)),
    },
    Field {
        name: "company",
        value: |f| Cell::Text(&f.company),
    },
    Field {
        name: "parent_company",
        value: |f| optional(&f.parent_company),
    },
    Field {
        name: "address",
        value: |f| optional(&f.address),
    },
    Field {
        name: "municipality",
        value: |f| Cell::Text(&f.municipality),
    },
    Field {
        name: "county",
        value: |f| optional(&f.county),
    },
    Field {
        name: "zip_code",
        value: |f| optional(&f.zip_code),
    },
    Field {
        name: "industry",
        value: |f| optional(&f.industry),
    },
    Field {
        name: "naics_code",
        value: |f| optional(&f.naics_code),
    },
    Field {
        name: "minority_or_women_owned",
        value: |f| Cell::Bool(f.minority_or_women_owned),
    },
    Field {
        name: "contract_execution_date",
        value: |f| optional(&f.contract_execution_date),
    },
    Field {
        name: "grant_amount",
        value: |f| Cell::Text(&f.grant_amount),
    },
    Field {
        name: "loan_amount",
        value: |f| Cell::Text(&f.loan_amount),
    },
    Field {
        name: "total_assistance",
        value: |f| Cell::Text(&f.total_assistance),
    },
    Field {
        name: "total_mismatch_reason",
        value: |f| optional(&f.total_mismatch_reason),
    },
    Field {
        name: "total_project_cost",
        value: |f| optional(&f.total_project_cost),
    },
    Field {
        name: "amount_leveraged",
        value: |f| optional(&f.amount_leveraged),
    },
    Field {
        name: "program",
        value: |f| Cell::Text(&f.program_id),
    },
    Field {
        name: "statutory_reference",
        value: |f| optional(&f.statutory_reference),
    },
    Field {
        name: "jobs_to_retain",
        value: |f| Cell::Int(f.jobs_to_retain),
    },
    Field {
        name: "jobs_to_create",
        value: |f| Cell::Int(f.jobs_to_create),
    },
    Field {
        name: "jobs_target_date",
        value: |f| optional(&f.jobs_target_date),
    },
    Field {
        name: "penalty",
        value: |f| optional(&f.penalty),
    },
    Field {
        name: "forgiveness_credit",
        value: |f| optional(&f.forgiveness_credit),
    },
    Field {
        name: "amount_disbursed",
        value: |f| optional(&f.amount_disbursed),
    },
    Field {
        name: "average_wage",
        value: |f| optional(&f.average_wage),
    },
    Field {
        name: "recapture_amount",
        value: |f| optional(&f.recapture_amount),
    },
    Field {
        name: "status",
        value: |f| Cell::Text(&f.status),
    },
    Field {
        name: "project_name",
        value: |f| optional(&f.project_name),
    },
    Field {
        name: "penalty_terms",
        value: |f| optional(&f.penalty_terms),
    },
];

/// A field that follows from an award and its reviews.
pub struct Derived {
    pub name: &'static str,
    value: fn(&pb::Award) -> Cell<'_>,
}

/// What follows from an award and its reviews, after its values.
pub const DERIVED: &[Derived] = &[
    Derived {
        name: "latest_review_date",
        value: |a| latest_review(a).map_or(Cell::Absent, |r| Cell::Text(&r.reviewed_on)),
    },
    Derived {
        name: "actual_jobs",
        value: |a| latest_review(a).map_or(Cell::Absent, |r| Cell::Int(r.actual_jobs)),
    },
    Derived {
        name: "obligation_status",
        value: |a| Cell::Text(obligation_name(a.obligation_status())),
    },
    Derived {
        name: "penalty_flag",
        value: |a| Cell::Bool(a.penalty_flag),
    },
    Derived {
        name: "clawback_flag",
        value: |a| Cell::Bool(a.clawback_flag),
    },
    Derived {
        name: "withdrawn",
        value: |a| Cell::Bool(a.withdrawn),
    },
    Derived {
        name: "revision",
        value: |a| Cell::Int(a.revision),
    },
];

/// The latest job review (by date; the later listed wins a tie).
pub fn latest_review(award: &pb::Award) -> Option<&pb::JobReview> {
    award.reviews.iter().max_by_key(|r| r.reviewed_on.as_str())
}

/// The public name of an obligation status.
pub fn obligation_name(status: pb::ObligationStatus) -> &'static str {
    match status {
        pb::ObligationStatus::Met => "met",
        pb::ObligationStatus::NotMet => "not_met",
        pb::ObligationStatus::PastDue => "past_due",
        pb::ObligationStatus::Pending | pb::ObligationStatus::Unspecified => "pending",
    }
}

/// An award's values as JSON, empty ones left out.
#[derive(Debug)]
pub struct FieldsJson<'a>(pub &'a pb::AwardFields);

impl Serialize for FieldsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for field in FIELDS {
            let value = (field.value)(self.0);
            if value != Cell::Absent {
                map.serialize_entry(field.name, &value)?;
            }
        }
        map.end()
    }
}

/// An award as one flat record: id, values, derived fields.
#[derive(Debug)]
pub struct AwardRecord<'a> {
    award: &'a pb::Award,
    fields: &'a pb::AwardFields,
}

impl<'a> AwardRecord<'a> {
    /// The record of `award`, whose values are `fields`.
    pub fn of(award: &'a pb::Award, fields: &'a pb::AwardFields) -> AwardRecord<'a> {
        AwardRecord { award, fields }
    }

    /// Every field, in order, with its value.
    fn cells(&self) -> impl Iterator<Item = (&'static str, Cell<'a>)> + '_ {
        let (award, fields) = (self.award, self.fields);
        std::iter::once(("id", Cell::Text(award.id.as_str())))
            .chain(FIELDS.iter().map(move |f| (f.name, (f.value)(fields))))
            .chain(DERIVED.iter().map(move |d| (d.name, (d.value)(award))))
    }

    /// The CSV row, in [`csv_header`] order.
    pub fn csv_row(&self) -> impl Iterator<Item = String> + '_ {
        self.cells().map(|(_, cell)| cell.csv())
    }
}

impl Serialize for AwardRecord<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in self.cells() {
            if value != Cell::Absent {
                map.serialize_entry(name, &value)?;
            }
        }
        map.end()
    }
}

/// The CSV header: every field of a record, in order.
pub fn csv_header() -> impl Iterator<Item = &'static str> {
    std::iter::once("id")
        .chain(FIELDS.iter().map(|f| f.name))
        .chain(DERIVED.iter().map(|d| d.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell_of<'r>(header: &[&str], row: &'r [String], name: &str) -> &'r str {
        &row[header.iter().position(|h| *h == name).unwrap()]
    }

    #[test]
    fn json_leaves_out_empty_values_and_csv_keeps_every_column() {
        let fields = pb::AwardFields {
            fiscal_year: 2020,
            company: "Acme".into(),
            municipality: "Hartford".into(),
            grant_amount: "100.00".into(),
            jobs_to_retain: 3,
            ..Default::default()
        };
        let award = pb::Award {
            id: "a1".into(),
            revision: 2,
            reviews: vec![
                pb::JobReview {
                    reviewed_on: "2021-06-30".into(),
                    actual_jobs: 4,
                    ..Default::default()
                },
                pb::JobReview {
                    reviewed_on: "2020-06-30".into(),
                    actual_jobs: 1,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let record = AwardRecord::of(&award, &fields);
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["fiscal_year"], 2020);
        assert_eq!(json["actual_jobs"], 4, "the latest review counts");
        assert_eq!(json["latest_review_date"], "2021-06-30");
        assert!(json.get("county").is_none(), "{json}");
        assert_eq!(json["minority_or_women_owned"], false);
        let header: Vec<&str> = csv_header().collect();
        assert_eq!(
            header.join(","),
            "id,fiscal_year,company,parent_company,address,municipality,county,zip_code,industry,naics_code,minority_or_women_owned,contract_execution_date,grant_amount,loan_amount,total_assistance,total_mismatch_reason,total_project_cost,amount_leveraged,program,statutory_reference,jobs_to_retain,jobs_to_create,jobs_target_date,penalty,forgiveness_credit,amount_disbursed,average_wage,recapture_amount,status,project_name,penalty_terms,latest_review_date,actual_jobs,obligation_status,penalty_flag,clawback_flag,withdrawn,revision",
            "the download's columns are public: change them knowingly"
        );
        let row: Vec<String> = record.csv_row().collect();
        assert_eq!(header.len(), row.len());
        assert_eq!(header.len(), 1 + FIELDS.len() + DERIVED.len());
        let cell = |name: &str| cell_of(&header, &row, name).to_owned();
        assert_eq!(cell("county"), "");
        assert_eq!(cell("revision"), "2");
        assert_eq!(cell("withdrawn"), "false");
        let planted = pb::AwardFields {
            company: "=HYPERLINK(\"http://evil.example\")".into(),
            ..fields.clone()
        };
        let row: Vec<String> = AwardRecord::of(&award, &planted).csv_row().collect();
        assert_eq!(
            cell_of(&header, &row, "company"),
            "'=HYPERLINK(\"http://evil.example\")"
        );
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert!(keys.iter().all(|key| header.contains(key)), "{keys:?}");
    }
}
