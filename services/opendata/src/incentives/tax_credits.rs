//! Reading DRS's tax credit tables: credits claimed (`fnq4-e774` for 2014, `qivg-ffqa` for 2015)
//! and carried forward (`6q3e-u95u` for 2015), each a row per credit type with a count and an
//! amount per tax. The published files repeat their header as a data row, end with footnotes and
//! say `n/a` where a tax does not apply; those rows and cells are skipped and reported.

use std::collections::BTreeMap;
use std::path::Path;

use opendata_proto::incentives::v1 as pb;

use super::import::Lines;
use crate::client::CliError;

/// Whether a table gives amounts claimed or carried forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// Amounts claimed.
    Claimed,
    /// Amounts carried forward.
    CarriedForward,
}

/// DRS's tables in `data/decd/`: file, year, figure.
pub const TAX_CREDIT_FILES: [(&str, i32, Figure); 3] = [
    ("decd/fnq4-e774_top_records.csv", 2014, Figure::Claimed),
    ("decd/qivg-ffqa_top_records.csv", 2015, Figure::Claimed),
    (
        "decd/6q3e-u95u_top_records.csv",
        2015,
        Figure::CarriedForward,
    ),
];

/// The taxes of a table: its name, and the count and amount columns by position after the
/// credit type (count1, corporation tax, count2, insurance, count3, public service).
const TAXES: [(&str, usize, usize); 3] = [
    ("Corporation Business Tax", 1, 2),
    ("Insurance Premiums Taxes", 3, 4),
    ("Public Service Companies", 5, 6),
];

/// Figures by (year, credit type, tax), merged over the tables read.
#[derive(Debug, Default)]
pub struct TaxCredits {
    /// The figures.
    pub figures: BTreeMap<(i32, String, String), pb::TaxCreditFigure>,
    /// What was skipped, and why (`file line 2: a repeated header`).
    pub skipped: Vec<String>,
}

impl TaxCredits {
    /// Adds the figures of one table.
    pub fn read(&mut self, path: &Path, year: i32, figure: Figure) -> Result<(), CliError> {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let headers = reader
            .headers()
            .map_err(|e| format!("{file}: {e}"))?
            .clone();
        // Some exports start with Socrata's `:updated_at` system column.
        let first = headers
            .iter()
            .position(|h| h == "type_of_credit")
            .ok_or_else(|| format!("{file}: no type_of_credit column"))?;
        let mut lines = Lines::default();
        for record in reader.records() {
            let record = record.map_err(|e| format!("{file}: {e}"))?;
            let line = lines.start_of(&record);
            let cell = |offset: usize| record.get(first + offset).unwrap_or_default().trim();
            let credit = cell(0);
            if credit.eq_ignore_ascii_case("type of credit") {
                self.skipped
                    .push(format!("{file} line {line}: a repeated header"));
                continue;
            }
            if credit.is_empty() || credit.starts_with('*') {
                self.skipped.push(format!("{file} line {line}: a footnote"));
                continue;
            }
            for (tax, count_at, amount_at) in TAXES {
                let amount = cell(amount_at);
                if amount.is_empty() || amount.eq_ignore_ascii_case("n/a") {
                    continue;
                }
                let count = match cell(count_at).replace(',', "") {
                    text if text.is_empty() => 0,
                    text => text.parse().map_err(|_| {
                        format!("{file} line {line}: the count of {tax} {text:?} is not a number")
                    })?,
                };
                let entry = self
                    .figures
                    .entry((year, credit.to_owned(), tax.to_owned()))
                    .or_insert_with(|| pb::TaxCreditFigure {
                        year,
                        credit_type: credit.to_owned(),
                        tax_type: tax.to_owned(),
                        ..Default::default()
                    });
                match figure {
                    Figure::Claimed => {
                        entry.claim_count = count;
                        entry.amount_claimed = amount.to_owned();
                    }
                    Figure::CarriedForward => entry.amount_carried_forward = amount.to_owned(),
                }
            }
        }
        Ok(())
    }
}
