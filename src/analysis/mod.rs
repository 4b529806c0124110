//! Analyses built on the network and the engines.
pub mod rank;
pub mod validate;
