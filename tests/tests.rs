//! One integration-test binary (links once): modules by concern.

mod clearing_examples;
mod cli;
mod malformed;
mod properties;
mod util;
