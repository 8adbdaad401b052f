//! The `opendata` program: runs the portal through `opendata-stack` (`up`: every service in one
//! process; `serve`: one per process) and is the command-line tool agencies and administrators
//! use ([`push`], [`admin`], [`review`], [`search`], [`incentives`], [`demo`]).

// A command-line tool: its output is its interface.
#![allow(clippy::print_stdout)]

pub mod admin;
pub mod check;
pub mod cli;
pub mod client;
pub mod demo;
pub mod diff;
pub mod incentives;
pub mod push;
pub mod random;
pub mod review;
pub mod schema_file;
pub mod search;
