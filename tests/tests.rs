//! One integration-test binary (links once): modules by concern.

mod cascade_examples;
mod clearing_examples;
mod cli;
mod malformed;
mod properties;
mod rank;
mod util;
