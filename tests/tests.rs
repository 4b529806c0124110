//! One integration-test binary (links once): modules by concern.

mod cascade_channels;
mod cascade_examples;
mod cascade_properties;
mod clearing_examples;
mod cli;
#[cfg(feature = "distributed")]
mod distributed;
mod ftx;
mod malformed;
mod properties;
mod rank;
mod reconstruct;
mod render;
mod researcher;
mod util;
