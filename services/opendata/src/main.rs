//! `opendata`: runs the whole portal in one process (`up`) or one service of it (`serve`), pushes files into datasets (`push`),
//! administers agencies, principals, keys and datasets, searches (`search`, `reindex`), and loads
//! the demo data (`demo`).

// A command-line tool: its output is its interface.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser as _;
use opendata::admin;
use opendata::check::check;
use opendata::cli::{Cli, ClientCommand, Command};
use opendata::client::{CliError, Connection};
use opendata::demo::demo;
use opendata::diff::diff;
use opendata::incentives::incentives;
use opendata::push::push;
use opendata::review::review;
use opendata::search::{reindex, search};
use opendata_platform::config::TelemetryConfig;
use opendata_platform::shutdown::Shutdown;
use opendata_stack::serve::{serve, with_metrics};
use opendata_stack::{Stack, StackConfig};
use tracing::Instrument as _;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Up { config } => up(config).await,
        Command::Serve {
            component,
            config,
            check_config: true,
        } => opendata_stack::serve::check_config(component, config.as_deref()),
        Command::Serve {
            component, config, ..
        } => serve(component, config.as_deref()).await,
        Command::Client(command) => client(&cli.connection, command).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A command of the tool (not a server). With `OTEL_EXPORTER_OTLP_ENDPOINT` set it is traced as
/// `opendata-cli`: the trace it starts runs on through every service its calls reach.
async fn client(connection: &Connection, command: ClientCommand) -> Result<(), CliError> {
    // `check` is a probe: it must answer within the probe's timeout, not wait for a collector.
    let traced = !matches!(command, ClientCommand::Check(_));
    let _telemetry = match std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Some(_) if traced => Some(opendata_platform::telemetry::init(
            "opendata-cli",
            &TelemetryConfig {
                // The tool's output is its interface: spans only, no log lines.
                log_filter: "off".to_owned(),
                ..TelemetryConfig::default()
            },
        )?),
        _ => None,
    };
    let span = tracing::info_span!("opendata", command = command.name());
    async move {
        match command {
            ClientCommand::Check(args) => check(connection, &args).await,
            ClientCommand::Push(args) => push(connection, &args).await.map(|_| ()),
            ClientCommand::Agency(command) => admin::agency(connection, command).await,
            ClientCommand::Principal(command) => admin::principal(connection, command).await,
            ClientCommand::Key(command) => admin::key(connection, command).await,
            ClientCommand::Dataset(command) => admin::dataset(connection, command).await,
            ClientCommand::Review(command) => review(connection, command).await,
            ClientCommand::Search(args) => search(connection, &args).await,
            ClientCommand::Diff(args) => diff(connection, &args).await,
            ClientCommand::Reindex => reindex(connection).await,
            ClientCommand::Incentives(command) => incentives(connection, command).await,
            ClientCommand::Demo(args) => demo(connection, &args).await,
        }
    }
    .instrument(span)
    .await
}

async fn up(config_file: Option<PathBuf>) -> Result<(), CliError> {
    let config: StackConfig = opendata_platform::config::load(config_file.as_deref())?;
    let _telemetry = opendata_platform::telemetry::init("opendata", &config.telemetry)?;
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let metrics_listen = config.metrics_listen;
    let portal = async {
        let stack = Stack::start(config, shutdown.clone()).await?;
        let addresses = &stack.addresses;
        println!("opendata: governance grpc http://{}", addresses.governance);
        println!("opendata: catalog grpc http://{}", addresses.catalog);
        println!("opendata: ingestion grpc http://{}", addresses.ingestion);
        println!("opendata: search grpc http://{}", addresses.search);
        println!("opendata: incentives grpc http://{}", addresses.incentives);
        println!("opendata: edge http://{}", addresses.edge);
        tracing::info!(edge = %addresses.edge, "opendata is up");
        stack.wait().await
    };
    // The metrics listener is bound first: a port taken stops start-up before anything runs.
    with_metrics(metrics_listen, &shutdown, Box::pin(portal)).await
}
