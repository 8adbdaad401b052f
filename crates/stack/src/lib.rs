//! The composition root: configuration → services → shutdown. [`Stack`] runs the whole portal in
//! one process (`opendata up`, and the tests through `opendata-testkit`); [`serve`] runs one
//! component per process, as Kubernetes does (`opendata serve`). The command-line tool builds on
//! this crate; all this crate offers it is the components' names as command-line values.

pub mod serve;
mod stack;

pub use stack::{Listen, Stack, StackConfig, StackError};
