//! `opendata`: runs the whole portal in one process (`up`) or one service of it (`serve`), pushes files into datasets (`push`),
//! administers agencies, principals, keys and datasets, searches (`search`, `reindex`), and loads
//! the demo data (`demo`).

// A command-line tool: its output is its interface.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use opendata::admin::{self, AgencyCommand, DatasetCommand, KeyCommand, PrincipalCommand};
use opendata::check::{CheckArgs, check};
use opendata::client::{CliError, Connection};
use opendata::demo::{DemoArgs, demo};
use opendata::incentives::{IncentivesCommand, incentives};
use opendata::push::{PushArgs, push};
use opendata::review::{ReviewCommand, review};
use opendata::search::{SearchArgs, reindex, search};
use opendata::serve::{Component, serve, with_metrics};
use opendata::stack::{Stack, StackConfig};
use opendata_platform::config::TelemetryConfig;
use opendata_platform::shutdown::Shutdown;
use tracing::Instrument as _;

/// The opendata portal and its command-line tool.
#[derive(Debug, Parser)]
#[command(name = "opendata", version, about)]
struct Cli {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs every service in one process (edge on http://127.0.0.1:8080 by default).
    Up {
        /// TOML configuration file (also `OPENDATA_CONFIG`); `OPENDATA_*` variables override it.
        #[arg(long, env = "OPENDATA_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Runs one service, as each Kubernetes Deployment does.
    Serve {
        /// The service.
        #[arg(value_enum)]
        component: Component,
        /// TOML configuration file (also `OPENDATA_CONFIG`); `OPENDATA_*` variables override it.
        #[arg(long, env = "OPENDATA_CONFIG")]
        config: Option<PathBuf>,
        /// Only load and check the configuration, then exit (`make chart` checks the chart's).
        #[arg(long)]
        check_config: bool,
    },
    /// The tool's commands, calling the services.
    #[command(flatten)]
    Client(ClientCommand),
}

/// The commands that call the services.
#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Checks a deployment answers: the edge's /readyz and a Discovery query, and each named
    /// service's gRPC health (`helm test` runs it).
    Check(CheckArgs),
    /// Pushes a CSV file into a dataset.
    Push(PushArgs),
    /// Manages agencies.
    #[command(subcommand)]
    Agency(AgencyCommand),
    /// Manages principals.
    #[command(subcommand)]
    Principal(PrincipalCommand),
    /// Manages API keys and app tokens.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manages datasets.
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// The data inventory and its review workflow, freshness and the audit log.
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Searches the published datasets, as the public does.
    Search(SearchArgs),
    /// Rebuilds the search index from the catalog and swaps it in (needs an admin key).
    Reindex,
    /// DECD's incentives database: import, generate, publish (needs a DECD key).
    #[command(subcommand)]
    Incentives(IncentivesCommand),
    /// Loads the Connecticut demo datasets (needs an admin key).
    Demo(DemoArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Up { config } => up(config).await,
        Command::Serve {
            component,
            config,
            check_config: true,
        } => opendata::serve::check_config(component, config.as_deref()),
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
            ClientCommand::Reindex => reindex(connection).await,
            ClientCommand::Incentives(command) => incentives(connection, command).await,
            ClientCommand::Demo(args) => demo(connection, &args).await,
        }
    }
    .instrument(span)
    .await
}

impl ClientCommand {
    /// The command's name, as typed.
    fn name(&self) -> &'static str {
        match self {
            ClientCommand::Check(_) => "check",
            ClientCommand::Push(_) => "push",
            ClientCommand::Agency(_) => "agency",
            ClientCommand::Principal(_) => "principal",
            ClientCommand::Key(_) => "key",
            ClientCommand::Dataset(_) => "dataset",
            ClientCommand::Review(_) => "review",
            ClientCommand::Search(_) => "search",
            ClientCommand::Reindex => "reindex",
            ClientCommand::Incentives(_) => "incentives",
            ClientCommand::Demo(_) => "demo",
        }
    }
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
