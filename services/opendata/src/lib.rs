//! The all-in-one `opendata` program: the whole portal in one process ([`stack`]), one service per
//! process ([`serve`]), and the command-line tool agencies and administrators use ([`push`],
//! [`admin`], [`search`], [`incentives`], [`demo`]).

// A command-line tool: its output is its interface.
#![allow(clippy::print_stdout)]

pub mod admin;
pub mod check;
pub mod cli;
pub mod client;
pub mod demo;
pub mod incentives;
pub mod push;
pub mod random;
pub mod review;
pub mod schema_file;
pub mod search;
pub mod serve;
pub mod stack;
