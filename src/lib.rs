//! # contagion
//!
//! Map and stress-test the web of obligations between financial firms.
//!
//! The crate builds a weighted exposure network of firms (banks, exchanges, lenders, funds)
//! from loans, deposits, bonds, derivatives, equity stakes and collateral; applies shocks
//! (a firm fails, an asset's price falls, a firm loses assets); and propagates them with the
//! standard models of the systemic-risk literature, reporting which firms default, in which
//! round, why, and with what losses.
//!
//! ## Notation
//! An exposure is a claim of a *creditor* on a *debtor*: the debtor owes the creditor
//! `amount`. In matrix form `L[i][j]` is what firm `i` owes firm `j` (row = debtor, column =
//! creditor). Losses travel from debtor to creditor. Amounts are in one currency per network.
//!
//! ## Data flow
//! load ([`io`]) → validate and build ([`model::Network`]) → shock ([`scenario::Marks`]) →
//! simulate ([`engine`]) → report ([`report::SimulationResult`]).
//!
//! ## Example: three firms, two defaults
//! `A` owes `B` 10 and `B` owes `C` 10; `A` has 4 of external assets, `B` has 1, `C` has 1.
//! `A` can pay only 4, so `B` receives 4 and, with its own 1, pays 5 of the 10 it owes
//! (Eisenberg–Noe clearing).
//!
//! ```
//! use contagion::prelude::*;
//!
//! let firms = ["A", "B", "C"].iter().zip([4.0, 1.0, 1.0]).map(|(id, cash)| Firm {
//!     id: id.to_string(), name: id.to_string(), kind: FirmKind::Bank,
//!     cash, other_assets: 0.0, external_liabilities: 0.0,
//!     capital: None, weight: None, failed_on: None, extra: vec![],
//! }).collect();
//! let exposures = vec![
//!     Exposure { creditor: 1, debtor: 0, kind: ExposureKind::Loan, amount: 10.0 },
//!     Exposure { creditor: 2, debtor: 1, kind: ExposureKind::Loan, amount: 10.0 },
//! ];
//! let net = Network::from_parts(Parts { firms, exposures, ..Default::default() }).unwrap();
//! let marks = Marks::book(&net);
//! let out = clear(&net, &marks, &Settings::default());
//! assert_eq!(out.payments, vec![4.0, 5.0, 0.0]);
//! assert_eq!(out.default_round, vec![Some(1), Some(2), None]);
//! ```

pub mod analysis;
#[cfg(feature = "distributed")]
pub mod distributed;
pub mod engine;
pub mod error;
pub mod io;
pub mod model;
pub mod render;
pub mod report;
pub mod run;
pub mod scenario;
pub mod settings;

/// The types most programs need.
pub mod prelude {
    pub use crate::analysis::rank::{Ranking, rank};
    pub use crate::engine::buffers::BufferOutcome;
    pub use crate::engine::clearing::{Clearing, clear};
    pub use crate::engine::debtrank::debtrank;
    pub use crate::engine::threshold::threshold;
    pub use crate::error::{Error, Result};
    pub use crate::model::{
        Asset, Collateral, Exposure, ExposureKind, Firm, FirmKind, Holding, Network, Parts,
    };
    pub use crate::report::SimulationResult;
    pub use crate::scenario::{Marks, Scenario, Shock};
    pub use crate::settings::{Model, Seniority, Settings, Solver, Variant, Vector};
}
