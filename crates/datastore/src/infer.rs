//! Schema inference over a whole file (never a sample): each column starts with every candidate
//! type and loses those its values do not fit; the most specific survivor wins, text otherwise.

use crate::coerce::coerce_into;
use crate::schema::{Column, ColumnType, Schema, field_names_for_headers};

/// Candidate types in order of preference.
const CANDIDATES: [ColumnType; 6] = [
    ColumnType::Checkbox,
    ColumnType::Number,
    ColumnType::CalendarDate,
    ColumnType::Date,
    ColumnType::Point,
    ColumnType::Url,
];

#[derive(Debug, Clone)]
struct ColumnEvidence {
    header: String,
    alive: [bool; CANDIDATES.len()],
    non_empty: u64,
}

/// Accumulates evidence row by row.
#[derive(Debug, Clone, Default)]
pub struct Inference {
    columns: Vec<ColumnEvidence>,
    scratch: Vec<u8>,
}

impl Inference {
    /// Starts inference for a file with this header.
    pub fn new(header: &[&str]) -> Self {
        Inference {
            columns: header
                .iter()
                .map(|cell| ColumnEvidence {
                    header: cell.trim().to_owned(),
                    alive: [true; CANDIDATES.len()],
                    non_empty: 0,
                })
                .collect(),
            scratch: Vec::new(),
        }
    }

    /// Takes one data row into account.
    pub fn observe<'a>(&mut self, field: impl Fn(usize) -> &'a str) {
        for (index, evidence) in self.columns.iter_mut().enumerate() {
            let value = field(index).trim();
            if value.is_empty() {
                continue;
            }
            evidence.non_empty += 1;
            for (candidate, alive) in CANDIDATES.iter().zip(evidence.alive.iter_mut()) {
                if *alive {
                    *alive = fits(*candidate, value, &mut self.scratch);
                }
            }
        }
    }

    /// The inferred schema: field names derived from the header, display names as written.
    pub fn finish(self) -> Schema {
        let field_names = field_names_for_headers(self.columns.iter().map(|c| c.header.as_str()));
        let columns = self
            .columns
            .into_iter()
            .zip(field_names)
            .enumerate()
            .map(|(index, (evidence, field_name))| {
                let column_type = if evidence.non_empty == 0 {
                    ColumnType::Text
                } else {
                    CANDIDATES
                        .iter()
                        .zip(evidence.alive)
                        .find_map(|(candidate, alive)| alive.then_some(*candidate))
                        .unwrap_or(ColumnType::Text)
                };
                Column {
                    display_name: if evidence.header.is_empty() {
                        field_name.clone()
                    } else {
                        evidence.header
                    },
                    field_name,
                    column_type,
                    description: String::new(),
                    position: index as u32 + 1,
                    id: 0,
                    indexed: false,
                }
            })
            .collect();
        Schema {
            columns,
            row_identifier: None,
        }
    }
}

fn fits(candidate: ColumnType, value: &str, scratch: &mut Vec<u8>) -> bool {
    match candidate {
        // Only words: 0/1 columns are numbers.
        ColumnType::Checkbox => matches!(
            value.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "t" | "f" | "y" | "n"
        ),
        // Codes with leading zeros (ZIP codes, ids) are text, or the zeros would be lost.
        ColumnType::Number if has_significant_leading_zero(value) => false,
        _ => {
            scratch.clear();
            coerce_into(candidate, value, scratch).is_ok()
        }
    }
}

fn has_significant_leading_zero(value: &str) -> bool {
    let digits = value.trim_start_matches(['-', '+', '$']);
    digits.len() > 1 && digits.starts_with('0') && digits.as_bytes()[1].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(header: &[&str], rows: &[&[&str]]) -> Vec<ColumnType> {
        let mut inference = Inference::new(header);
        for row in rows {
            inference.observe(|i| row[i]);
        }
        inference
            .finish()
            .columns
            .iter()
            .map(|c| c.column_type)
            .collect()
    }

    #[test]
    fn types_follow_every_value_of_the_column() {
        let types = infer(
            &[
                "Amount", "Recorded", "Flag", "Zip", "Location", "Name", "Empty", "Site", "At",
            ],
            &[
                &[
                    "$1,000",
                    "01/30/2023",
                    "yes",
                    "06037",
                    "POINT (-72.3 41.7)",
                    "A",
                    "",
                    "https://ct.gov",
                    "2020-01-01T00:00:00Z",
                ],
                &[
                    "2.5",
                    "2023-02-01",
                    "no",
                    "06450",
                    "",
                    "B",
                    "",
                    "",
                    "2020-01-02T05:00:00-05:00",
                ],
            ],
        );
        assert_eq!(
            types,
            vec![
                ColumnType::Number,
                ColumnType::CalendarDate,
                ColumnType::Checkbox,
                ColumnType::Text,
                ColumnType::Point,
                ColumnType::Text,
                ColumnType::Text,
                ColumnType::Url,
                ColumnType::Date,
            ]
        );
    }

    #[test]
    fn one_odd_value_anywhere_makes_the_column_text() {
        let mut rows: Vec<Vec<&str>> = (0..1000).map(|_| vec!["12"]).collect();
        rows.push(vec!["n/a"]);
        let refs: Vec<&[&str]> = rows.iter().map(|r| r.as_slice()).collect();
        assert_eq!(infer(&["Count"], &refs), vec![ColumnType::Text]);
    }

    #[test]
    fn field_names_are_derived_and_unique() {
        let mut inference = Inference::new(&["Sale Amount", "Sale amount"]);
        inference.observe(|_| "1");
        let schema = inference.finish();
        assert_eq!(schema.columns[0].field_name, "sale_amount");
        assert_eq!(schema.columns[1].field_name, "sale_amount_1");
        assert_eq!(schema.columns[1].display_name, "Sale amount");
    }
}
