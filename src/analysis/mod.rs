//! Analyses built on the network and the engines.
pub mod validate;
