//! The all-in-one `opendata` program: the whole portal in one process ([`stack`]) and the
//! command-line tool agencies and administrators use ([`client`], [`push`], [`demo`]).

pub mod stack;
