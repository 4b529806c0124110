//! Analyses built on the network and the engines.
pub mod backtest;
pub mod generate;
pub mod rank;
pub mod reconstruct;
pub mod stress;
pub mod validate;
