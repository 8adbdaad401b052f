//! Realistic generated awards for load and demonstration, modelled on DECD's published
//! portfolio: Connecticut towns with their counties, industries with NAICS codes, programs with
//! the kinds of assistance they give, amounts spread over orders of magnitude, job commitments
//! with target dates, and job reviews for targets that have passed (most met, some not).
//! Deterministic: the same seed gives the same awards.

use chrono::{Datelike as _, Duration, NaiveDate};
use opendata_proto::incentives::v1 as pb;

use crate::random::Random;

/// Towns and their counties.
const TOWNS: &[(&str, &str, &str)] = &[
    ("Hartford", "Hartford", "06103"),
    ("New Haven", "New Haven", "06510"),
    ("Bridgeport", "Fairfield", "06604"),
    ("Stamford", "Fairfield", "06901"),
    ("Waterbury", "New Haven", "06702"),
    ("Norwalk", "Fairfield", "06850"),
    ("Danbury", "Fairfield", "06810"),
    ("New Britain", "Hartford", "06051"),
    ("Bristol", "Hartford", "06010"),
    ("Meriden", "New Haven", "06450"),
    ("Milford", "New Haven", "06460"),
    ("West Hartford", "Hartford", "06107"),
    ("East Hartford", "Hartford", "06108"),
    ("Middletown", "Middlesex", "06457"),
    ("Norwich", "New London", "06360"),
    ("New London", "New London", "06320"),
    ("Groton", "New London", "06340"),
    ("Enfield", "Hartford", "06082"),
    ("Windsor", "Hartford", "06095"),
    ("Wallingford", "New Haven", "06492"),
    ("Shelton", "Fairfield", "06484"),
    ("Torrington", "Litchfield", "06790"),
    ("Putnam", "Windham", "06260"),
    ("Windham", "Windham", "06226"),
    ("Vernon", "Tolland", "06066"),
    ("Tolland", "Tolland", "06084"),
    ("Old Saybrook", "Middlesex", "06475"),
    ("Plainville", "Hartford", "06062"),
    ("Naugatuck", "New Haven", "06770"),
    ("Thomaston", "Litchfield", "06787"),
];

/// Industries and NAICS codes.
const INDUSTRIES: &[(&str, &[&str])] = &[
    (
        "Manufacturing",
        &["332710", "336411", "339114", "334419", "325412", "333517"],
    ),
    (
        "Finance and Insurance",
        &["522310", "524113", "523920", "524210"],
    ),
    ("Information", &["512110", "519130", "511210"]),
    ("Professional Services", &["541330", "541511", "541715"]),
    ("Health Care", &["621111", "622110", "621511"]),
    ("Retail Trade", &["441310", "445110", "452210"]),
    ("Transportation and Warehousing", &["484121", "493110"]),
    ("Wholesale Trade", &["423450", "424210"]),
];

const NAMES: &[&str] = &[
    "Precision",
    "Harbor",
    "Quinnipiac",
    "Nutmeg",
    "Charter Oak",
    "Housatonic",
    "Mystic",
    "Naugatuck Valley",
    "Farmington",
    "Connecticut River",
    "Atlantic",
    "Northeast",
    "Summit",
    "Pioneer",
    "Colonial",
    "Eastern",
    "Whitney",
    "Sikorsky Road",
    "Elm City",
    "Bradley",
];
const TRADES: &[&str] = &[
    "Gears",
    "Biotech",
    "Foods",
    "Machining",
    "Aerospace",
    "Logistics",
    "Software",
    "Plastics",
    "Optics",
    "Insurance Services",
    "Media",
    "Medical Devices",
    "Tool and Die",
    "Analytics",
];
const FORMS: &[&str] = &["Inc.", "LLC", "Corporation", "Co.", "LLP"];

/// Programs the generator draws from, with their weights and kinds.
const PROGRAMS: &[(&str, u64, Kind)] = &[
    ("maa", 40, Kind::Business),
    ("small-business-express", 25, Kind::Business),
    ("first-five", 5, Kind::Business),
    ("urban-industrial-sites", 5, Kind::TaxCredit),
    ("job-expansion", 5, Kind::TaxCredit),
    ("film-production", 3, Kind::TaxCredit),
    ("steap", 8, Kind::Project),
    ("urban-act", 5, Kind::Project),
    ("brownfield", 4, Kind::Project),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Business,
    TaxCredit,
    Project,
}

/// Generates `count` awards from `seed`, with fiscal years up to the one of `today`.
pub fn awards(count: usize, seed: u64, today: NaiveDate) -> Vec<pb::NewAward> {
    let mut random = Random(seed);
    let last_year = if today.month() >= 7 {
        today.year() + 1
    } else {
        today.year()
    };
    let total_weight: u64 = PROGRAMS.iter().map(|p| p.1).sum();
    (0..count)
        .map(|n| {
            let mut pick = random.below(total_weight);
            let &(program, _, kind) = PROGRAMS
                .iter()
                .find(|(_, weight, _)| {
                    let found = pick < *weight;
                    pick = pick.saturating_sub(*weight);
                    found
                })
                .unwrap_or(&PROGRAMS[0]);
            award(&mut random, n, program, kind, last_year, today)
        })
        .collect()
}

/// Dollars spread log-uniformly from 10^`low` to 10^`high`, rounded to hundreds.
fn dollars(random: &mut Random, low: u32, high: u32) -> i64 {
    let exponent =
        f64::from(low) + (random.below(10_000) as f64 / 10_000.0) * f64::from(high - low);
    ((10f64.powf(exponent) / 100.0).round() * 100.0) as i64
}

fn award(
    random: &mut Random,
    n: usize,
    program: &str,
    kind: Kind,
    last_year: i32,
    today: NaiveDate,
) -> pb::NewAward {
    let &(town, county, zip) = random.pick(TOWNS);
    let &(industry, codes) = random.pick(INDUSTRIES);
    let fiscal_year = last_year - random.below(20) as i32;
    let contract = NaiveDate::from_ymd_opt(fiscal_year - 1, 7, 1).unwrap_or(today)
        + Duration::days(random.below(365) as i64);
    let contract = contract.min(today);
    let company = format!(
        "{} {} {}",
        random.pick(NAMES),
        random.pick(TRADES),
        random.pick(FORMS)
    );
    let (grant, loan) = match (kind, random.below(3)) {
        (Kind::Business, 0) => (dollars(random, 4, 6), 0),
        (Kind::Business, 1) => (0, dollars(random, 5, 7)),
        (Kind::Business, _) => (dollars(random, 4, 6), dollars(random, 5, 7)),
        (Kind::TaxCredit, _) => (0, 0),
        (Kind::Project, _) => (dollars(random, 4, 6), 0),
    };
    let credit = if kind == Kind::TaxCredit {
        dollars(random, 4, 7)
    } else {
        0
    };
    let (retain, create) = match kind {
        Kind::Project => (0, 0),
        _ => (random.below(300) as i64, 1 + random.below(150) as i64),
    };
    let target = contract + Duration::days(365 * (2 + random.below(4) as i64));
    let mut reviews = Vec::new();
    if retain + create > 0 && target <= today {
        // Most companies meet their commitments; some fall short.
        let promised = retain + create;
        let found = match random.below(10) {
            0..=6 => promised + random.below(40) as i64,
            _ => promised * (50 + random.below(45) as i64) / 100,
        };
        reviews.push(pb::JobReview {
            reviewed_on: (target + Duration::days(random.below(120) as i64))
                .min(today)
                .to_string(),
            actual_jobs: found,
            notes: "annual compliance review".to_owned(),
        });
    }
    let project = kind == Kind::Project;
    let fields = pb::AwardFields {
        fiscal_year,
        company: if project {
            format!("{town}, Town of")
        } else {
            company
        },
        parent_company: if !project && random.below(5) == 0 {
            format!("{} Holdings", random.pick(NAMES))
        } else {
            String::new()
        },
        address: format!("{} {} Street", 1 + random.below(900), random.pick(NAMES)),
        municipality: town.to_owned(),
        county: county.to_owned(),
        zip_code: zip.to_owned(),
        industry: if project {
            "Community Development".to_owned()
        } else {
            industry.to_owned()
        },
        naics_code: if project {
            String::new()
        } else {
            (*random.pick(codes)).to_owned()
        },
        minority_or_women_owned: random.below(8) == 0,
        contract_execution_date: contract.to_string(),
        grant_amount: grant.to_string(),
        loan_amount: loan.to_string(),
        total_assistance: (grant + loan + credit).to_string(),
        total_mismatch_reason: if credit > 0 {
            format!("tax credits of ${credit} reserved")
        } else {
            String::new()
        },
        total_project_cost: ((grant + loan + credit) * (2 + random.below(4) as i64)).to_string(),
        amount_leveraged: ((grant + loan + credit) * (1 + random.below(3) as i64)).to_string(),
        program_id: program.to_owned(),
        jobs_to_retain: retain,
        jobs_to_create: create,
        jobs_target_date: if retain + create > 0 {
            target.to_string()
        } else {
            String::new()
        },
        amount_disbursed: ((grant + loan) * (50 + random.below(51) as i64) / 100).to_string(),
        average_wage: if project {
            String::new()
        } else {
            (40_000 + 100 * random.below(900) as i64).to_string()
        },
        status: if n.is_multiple_of(7) {
            "Closed"
        } else {
            "Active"
        }
        .to_owned(),
        project_name: if project {
            format!("{town} downtown improvements")
        } else {
            String::new()
        },
        ..Default::default()
    };
    pb::NewAward {
        fields: Some(fields),
        reviews,
    }
}
