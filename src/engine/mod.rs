//! Propagation engines. Each model is one module that reads a [`crate::model::Network`] and
//! the post-shock [`crate::scenario::Marks`] and returns a result; engines never read files
//! and never print.

pub mod buffers;
pub mod cascade;
pub mod clearing;
pub mod debtrank;
mod linalg;
pub mod threshold;

use serde::{Deserialize, Serialize};

/// Why a firm defaulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Hit directly by a shock (failed outright, or lost assets) and insolvent on its own.
    Shock,
    /// Pushed over by losses on claims on (or stakes in) defaulting counterparties.
    CounterpartyDefault,
    /// Pushed over by the distress of counterparties, defaulted or not (DebtRank: a
    /// counterparty's relative equity loss devalues claims on it before it defaults).
    CounterpartyDistress,
    /// Could not meet a margin call on a collateralised loan (liquidity default).
    MarginCall,
    /// Could not pay withdrawing depositors (liquidity default, halted).
    Run,
    /// Insolvent because the market value of its assets fell.
    PriceFall,
    /// Already insolvent before any shock: owes more than it holds at face value.
    InitiallyInsolvent,
}

/// A counterparty that contributed to a firm's default, with the loss it transmitted
/// (currency units).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// Index of the counterparty.
    pub firm: u32,
    /// Loss transmitted to the defaulting firm.
    pub loss: f64,
}

/// One round (wave) of a cascade.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Round {
    /// Round number: 0 for firms that failed outright, then 1, 2, … .
    pub round: u32,
    /// Firms that defaulted for the first time in this round (indices).
    pub defaults: Vec<u32>,
    /// Losses transmitted in this round (currency units; what the model defines as a loss).
    pub losses: f64,
}

/// Number of items from which loops run on the rayon pool; below it they run serially
/// (thread start-up would cost more than the work). Results are identical either way.
pub(crate) const PAR_THRESHOLD: usize = 4096;
