//! One integration-test binary (links once): modules by concern.

mod clearing_examples;
mod cascade_channels;
mod cli;
mod malformed;
mod properties;
mod util;
