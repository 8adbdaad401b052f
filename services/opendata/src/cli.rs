//! The command line of `opendata`: the servers (`up`, `serve`) and the tool's commands, as clap
//! parses them (`main.rs` runs them).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::admin::{AgencyCommand, DatasetCommand, KeyCommand, PrincipalCommand};
use crate::check::CheckArgs;
use crate::client::Connection;
use crate::demo::DemoArgs;
use crate::diff::DiffArgs;
use crate::incentives::IncentivesCommand;
use crate::push::PushArgs;
use crate::review::ReviewCommand;
use crate::search::SearchArgs;
use opendata_stack::serve::Component;

/// The opendata portal and its command-line tool.
#[derive(Debug, Parser)]
#[command(name = "opendata", version, about)]
pub struct Cli {
    /// Where the services are and the key to call them with.
    #[command(flatten)]
    pub connection: Connection,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// What `opendata` does: run the servers, or one of the tool's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
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
pub enum ClientCommand {
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
    /// What changed between two kept versions of a dataset: the summary, then the rows.
    Diff(DiffArgs),
    /// Rebuilds the search index from the catalog and swaps it in (needs an admin key).
    Reindex,
    /// DECD's incentives database: import, generate, publish (needs a DECD key).
    #[command(subcommand)]
    Incentives(IncentivesCommand),
    /// Loads the Connecticut demo datasets (needs an admin key).
    Demo(DemoArgs),
}

impl ClientCommand {
    /// The command's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            ClientCommand::Check(_) => "check",
            ClientCommand::Push(_) => "push",
            ClientCommand::Agency(_) => "agency",
            ClientCommand::Principal(_) => "principal",
            ClientCommand::Key(_) => "key",
            ClientCommand::Dataset(_) => "dataset",
            ClientCommand::Review(_) => "review",
            ClientCommand::Search(_) => "search",
            ClientCommand::Diff(_) => "diff",
            ClientCommand::Reindex => "reindex",
            ClientCommand::Incentives(_) => "incentives",
            ClientCommand::Demo(_) => "demo",
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;
    use opendata_platform::config::read_by_services;

    /// The tool's variables, of every command.
    fn variables(command: &clap::Command, found: &mut Vec<String>) {
        for argument in command.get_arguments() {
            if let Some(name) = argument.get_env() {
                found.push(name.to_string_lossy().into_owned());
            }
        }
        for command in command.get_subcommands() {
            variables(command, found);
        }
    }

    /// A variable exported for the tool (as the README suggests) must not stop the services, which
    /// refuse unknown configuration keys.
    #[test]
    fn the_services_ignore_every_variable_of_the_tool() {
        let mut found = Vec::new();
        variables(&super::Cli::command(), &mut found);
        for expected in [
            "OPENDATA_KEY",
            "OPENDATA_SEARCH_URL",
            "OPENDATA_PUBLISHER_KEY",
        ] {
            assert!(found.iter().any(|name| name == expected), "{expected}");
        }
        for name in found {
            assert!(!read_by_services(&name), "the services would read {name}");
        }
        assert!(read_by_services("OPENDATA_DATABASE__URL"));
    }
}
