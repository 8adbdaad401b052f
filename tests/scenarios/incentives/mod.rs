//! DECD's incentives database (Executive Order 38) through the whole stack: recording, correcting
//! and withdrawing awards with their history, the validation rules, DECD-only writes, job
//! obligations over time, the public routes with totals checked against an independent
//! computation, and the award table kept in sync as a portal dataset.

mod dataset;
mod downloads;
mod import;
mod ledger;
mod limits;
mod obligations;
mod pages;
mod public;
mod search;

use opendata_platform::grpc::ClientContext;
use opendata_proto::common::v1::Role;
use opendata_proto::incentives::v1 as pb;
use opendata_proto::incentives::v1::incentives_service_client::IncentivesServiceClient;
use opendata_testkit::TestStack;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::key_for;

/// An incentives client.
pub type Client = IncentivesServiceClient<InterceptedService<Channel, ClientContext>>;

/// DECD's ADO, with the programs the tests use registered.
pub struct Decd {
    /// A client acting with the ADO's key.
    pub client: Client,
}

/// The programs the tests use: (id, name, statute, assistance types).
const PROGRAMS: &[(&str, &str, &str, &[&str])] = &[
    (
        "maa",
        "Manufacturing Assistance Act",
        "CGS Sec. 32-220",
        &["grant", "loan"],
    ),
    (
        "steap",
        "Small Town Economic Assistance Program",
        "CGS Sec. 4-66g",
        &["grant"],
    ),
    (
        "jobs-credit",
        "Job Creation Tax Credit",
        "CGS Sec. 12-217ii",
        &["tax_credit"],
    ),
];

/// DECD's ADO for `stack`, with the test programs registered.
pub async fn decd(stack: &TestStack) -> Decd {
    let key = key_for(stack, "decd", Role::Ado).await;
    let mut client = stack.clients(Some(&key)).incentives;
    for (id, name, statute, types) in PROGRAMS {
        client
            .upsert_program(pb::Program {
                id: (*id).to_owned(),
                name: (*name).to_owned(),
                statutory_reference: (*statute).to_owned(),
                assistance_types: types.iter().map(|t| (*t).to_owned()).collect(),
                administering_agency: "decd".to_owned(),
            })
            .await
            .expect("register a program");
    }
    Decd { client }
}

/// Valid award values: a loan of `loan` dollars and a grant of `grant` under `program`.
pub fn award(
    company: &str,
    municipality: &str,
    fiscal_year: i32,
    grant: i64,
    loan: i64,
    program: &str,
) -> pb::AwardFields {
    pb::AwardFields {
        fiscal_year,
        company: company.to_owned(),
        address: "1 Main Street".to_owned(),
        municipality: municipality.to_owned(),
        county: "Hartford".to_owned(),
        zip_code: "06103".to_owned(),
        industry: "Manufacturing".to_owned(),
        naics_code: "332710".to_owned(),
        contract_execution_date: format!("{}-09-15", fiscal_year - 1),
        grant_amount: grant.to_string(),
        loan_amount: loan.to_string(),
        total_assistance: (grant + loan).to_string(),
        program_id: program.to_owned(),
        jobs_to_retain: 10,
        jobs_to_create: 5,
        jobs_target_date: format!("{}-12-31", fiscal_year + 1),
        status: "Active".to_owned(),
        ..Default::default()
    }
}

/// Records `fields` with `client`.
pub async fn record(client: &mut Client, fields: pb::AwardFields) -> pb::Award {
    client
        .record_award(pb::RecordAwardRequest {
            fields: Some(fields),
        })
        .await
        .expect("record an award")
        .into_inner()
}

/// The fields of the violations of an error status.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    crate::support::api_error(status)
        .violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}
