//! What the buffer-based cascade models ([`super::debtrank`], [`super::threshold`]) share:
//! loss-absorbing buffers, exposures at risk, system weights, the losses of the initial
//! shock, and the outcome type.
//!
//! # Conventions
//! - **Buffer** `E_i`: the firm's `capital` when given, else its book equity
//!   ([`BalanceSheet::equity`]) at the network's own prices, before any shock. A firm whose
//!   buffer is zero or negative cannot absorb a loss: it is reported in default from round 0
//!   (cause `initially_insolvent`), it receives no losses (no division by zero), and — its
//!   failure predating the scenario — it passes on no losses unless a `default` shock names
//!   it.
//! - **Exposure at risk** `A_ij` of creditor `i` to debtor `j`: the sum over every exposure of
//!   `i` on `j`, of any kind, equity stakes included (a stake loses value with its issuer), of
//!   its amount minus its collateral cover at current prices, `min(amount, units × price ×
//!   (1 − haircut))`. Unsecured exposures are at risk in full.
//! - **Initial loss** from `asset_loss` and `price` shocks: the fall in value of the firm's
//!   assets outside the network (cash, other assets, holdings and pledged collateral at
//!   current prices). A price rise is a gain and offsets losses; the combined initial loss is
//!   floored at zero.
//! - **Weights** `v_i` of the system DebtRank: the `weight` column when any firm has one
//!   (firms without count as 0), else each firm's share of total book assets, else equal;
//!   normalised to sum to 1.

use serde::{Deserialize, Serialize};

use crate::engine::{Cause, Contribution, Round};
use crate::model::{BalanceSheet, Csr, Network};
use crate::scenario::Marks;

/// Where the system weights came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightSource {
    /// The `weight` column.
    Column,
    /// Shares of total book assets.
    TotalAssets,
    /// Equal weights (no weights given and no assets anywhere).
    Equal,
}

/// The network as the buffer-based models see it. Vectors are indexed by firm.
#[derive(Debug, Clone)]
pub struct LossNetwork {
    /// Buffer `E_i` in currency units (may be zero or negative: see the module docs).
    pub buffer: Vec<f64>,
    /// Exposures at risk by creditor: row `i` lists `(j, A_ij)` for every debtor `j` of `i`
    /// with a positive exposure at risk (pairs merged, in the order of their first exposure).
    pub at_risk: Csr,
    /// System weights `v_i`, summing to 1 (0 for an empty network).
    pub weight: Vec<f64>,
    /// Where the weights came from.
    pub weight_source: WeightSource,
    /// Firms without a `weight` when others have one (they count as 0).
    pub missing_weights: usize,
}

impl LossNetwork {
    /// Buffers and weights from the book network, exposures at risk at the prices in `marks`.
    /// `O(n + m)`.
    pub fn build(net: &Network, marks: &Marks) -> Self {
        let n = net.n_firms();
        let (book, at_risk) = rayon::join(|| net.balance_sheets(), || at_risk(net, marks));
        let buffer: Vec<f64> = net
            .firms()
            .iter()
            .zip(&book)
            .map(|(f, b)| f.capital.unwrap_or_else(|| b.equity()))
            .collect();
        debug_assert_eq!(buffer.len(), n);
        let (weight, weight_source, missing_weights) = weights(net, &book);
        Self {
            buffer,
            at_risk,
            weight,
            weight_source,
            missing_weights,
        }
    }

    /// Number of firms.
    pub fn n(&self) -> usize {
        self.buffer.len()
    }

    /// Whether firm `i` has no loss-absorbing buffer (in default from the start).
    #[inline]
    pub fn insolvent(&self, i: usize) -> bool {
        self.buffer[i] <= 0.0
    }
}

/// Exposures at risk by creditor (see [`LossNetwork::at_risk`]).
fn at_risk(net: &Network, marks: &Marks) -> Csr {
    let n = net.n_firms();
    let exposures = net.exposures();
    let mut cover = Vec::new();
    if !net.collateral().is_empty() {
        cover = vec![0.0; exposures.len()];
        for c in net.collateral() {
            let e = &exposures[c.exposure as usize];
            let value = c.units * marks.prices[c.asset as usize] * (1.0 - c.haircut);
            cover[c.exposure as usize] = value.min(e.amount);
        }
    }
    Csr::summed_from(n, n, exposures.len(), |k| {
        let e = &exposures[k];
        let a = e.amount - cover.get(k).copied().unwrap_or(0.0);
        (a > 0.0).then_some((e.creditor, e.debtor, a))
    })
}

/// System weights `v_i` (sum 1) from the `weight` column or book total assets (see the module
/// docs), where they came from, and how many firms lack a weight when others have one.
pub fn system_weights(net: &Network) -> (Vec<f64>, WeightSource, usize) {
    weights(net, &net.balance_sheets())
}

fn weights(net: &Network, book: &[BalanceSheet]) -> (Vec<f64>, WeightSource, usize) {
    let n = net.n_firms();
    let equal = || (vec![1.0 / n.max(1) as f64; n], WeightSource::Equal, 0);
    if net.firms().iter().any(|f| f.weight.is_some()) {
        let w: Vec<f64> = net
            .firms()
            .iter()
            .map(|f| f.weight.unwrap_or(0.0))
            .collect();
        let total: f64 = w.iter().sum();
        let missing = net.firms().iter().filter(|f| f.weight.is_none()).count();
        if total > 0.0 {
            return (
                w.iter().map(|x| x / total).collect(),
                WeightSource::Column,
                missing,
            );
        }
    }
    let assets: Vec<f64> = book.iter().map(BalanceSheet::total_assets).collect();
    let total: f64 = assets.iter().sum();
    if total > 0.0 {
        (
            assets.iter().map(|a| a / total).collect(),
            WeightSource::TotalAssets,
            0,
        )
    } else {
        equal()
    }
}

/// Loss of each firm's assets outside the network from `asset_loss` and `price` shocks
/// (negative for a gain), in currency units: cash, other assets, holdings and pledged
/// collateral, book value minus value in `marks`. `O(n + holdings + collateral)`.
pub fn shock_losses(net: &Network, marks: &Marks) -> Vec<f64> {
    let mut loss: Vec<f64> = net
        .firms()
        .iter()
        .enumerate()
        .map(|(i, f)| (f.cash - marks.cash[i]) + (f.other_assets - marks.other_assets[i]))
        .collect();
    for h in net.holdings() {
        let a = h.asset as usize;
        loss[h.firm as usize] += h.units * (net.assets()[a].price - marks.prices[a]);
    }
    for c in net.collateral() {
        let a = c.asset as usize;
        let d = net.exposures()[c.exposure as usize].debtor as usize;
        loss[d] += c.units * (net.assets()[a].price - marks.prices[a]);
    }
    loss
}

/// Result of a buffer-based cascade. Vectors are indexed by firm; amounts in currency units.
#[derive(Debug, Clone, PartialEq)]
pub struct BufferOutcome {
    /// Buffer `E_i` (capital, else book equity; may be ≤ 0).
    pub buffer: Vec<f64>,
    /// Stress right after the shocks, `h_i(1)` in `[0, 1]` (1 for firms in default).
    pub initial_distress: Vec<f64>,
    /// Final stress `h_i` in `[0, 1]`: relative equity loss (1 = default).
    pub distress: Vec<f64>,
    /// Equity lost, `max(0, E_i) · h_i`: never more than the buffer.
    pub loss: Vec<f64>,
    /// Whether each firm is in default (stress reached 1).
    pub defaulted: Vec<bool>,
    /// Round in which each firm defaulted (0: at the shock or before it).
    pub default_round: Vec<Option<u32>>,
    /// Why each defaulted firm defaulted.
    pub cause: Vec<Option<Cause>>,
    /// For firms pushed over by contagion: the counterparties that transmitted losses, with
    /// each one's share of the equity the firm lost through contagion, largest first.
    pub caused_by: Vec<Vec<Contribution>>,
    /// Rounds: 0 is the shock (losses = equity it destroyed), then one per propagation step.
    pub rounds: Vec<Round>,
    /// False when the round cap was hit before the cascade stopped.
    pub converged: bool,
    /// Propagation rounds performed.
    pub iterations: usize,
    /// System weights `v_i` (sum 1).
    pub weight: Vec<f64>,
    /// Where the weights came from.
    pub weight_source: WeightSource,
    /// Firms without a weight when others have one (counted as 0).
    pub missing_weights: usize,
    /// System DebtRank: `Σ v_i (h_i − h_i(1))`, the weighted stress added by propagation
    /// (the initial shock excluded).
    pub debtrank: f64,
    /// Weighted stress of the initial shock, `Σ v_i h_i(1)`.
    pub initial_debtrank: f64,
    /// Spectral radius of the leverage matrix (DebtRank only).
    pub spectral_radius: Option<SpectralRadius>,
}

/// Spectral radius `ρ(Λ)` of the leverage matrix, with the Collatz–Wielandt bounds that the
/// power iteration proved: `lower ≤ ρ(Λ) ≤ upper`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpectralRadius {
    /// Estimate: midpoint of the bounds (exact 0 when `Λ` has no cycle).
    pub value: f64,
    /// Proven lower bound.
    pub lower: f64,
    /// Proven upper bound.
    pub upper: f64,
    /// Power-iteration sweeps.
    pub sweeps: usize,
    /// Whether the bounds met the relative tolerance within the sweep cap.
    pub converged: bool,
}

/// What one firm's failure alone does to the others: the figures of `rank`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Impact {
    /// `Σ_{i ≠ s} v_i (h_i − h_i(1))`: weighted stress added to the other firms.
    pub debtrank: f64,
    /// Other firms in default that were not in default before the shock.
    pub defaults_caused: usize,
    /// Equity the other firms lose (currency units).
    pub losses_caused: f64,
    /// Whether the cascade stopped within the round cap.
    pub converged: bool,
}

/// Splits `raw` contributions (currency) so that they add up to at most `budget`: scaled
/// down pro rata when they exceed it; sorted largest first (ties by firm index).
pub(crate) fn scale_contributions(mut raw: Vec<Contribution>, budget: f64) -> Vec<Contribution> {
    raw.retain(|c| c.loss > 0.0);
    let total: f64 = raw.iter().map(|c| c.loss).sum();
    if total > budget && total > 0.0 {
        let k = budget.max(0.0) / total;
        for c in &mut raw {
            c.loss *= k;
        }
    }
    raw.sort_by(|a, b| b.loss.total_cmp(&a.loss).then(a.firm.cmp(&b.firm)));
    raw
}

/// Marker of "no round" in per-firm round arrays.
pub(crate) const NO_ROUND: u32 = u32::MAX;

/// Bit flags of the per-firm scratch state of the workspaces.
pub(crate) const TOUCHED: u8 = 1;
/// In this round's list of receivers.
pub(crate) const RECEIVING: u8 = 2;

/// The firms a run has changed, so that the next run resets only those: the first `len`
/// entries of `list`, a buffer of `n + 1` entries. A hot loop writes the entry at `len`
/// unconditionally and advances `len` only for a firm touched for the first time: no
/// branch, and no reallocation whose call would make the loop keep its values in memory.
#[derive(Debug, Clone)]
pub(crate) struct Touched {
    pub(crate) list: Vec<u32>,
    pub(crate) len: usize,
}

impl Touched {
    /// Room for all `n` firms.
    pub(crate) fn new(n: usize) -> Self {
        Self {
            list: vec![0; n + 1],
            len: 0,
        }
    }

    /// The firms touched.
    pub(crate) fn as_slice(&self) -> &[u32] {
        &self.list[..self.len]
    }

    /// Forgets every firm and returns how many there were: `list[..count]` still holds them
    /// until the next [`Touched::note`], so that a workspace can reset them in place with
    /// `for k in 0..touched.forget() { reset(touched.list[k]) }`.
    pub(crate) fn forget(&mut self) -> usize {
        std::mem::take(&mut self.len)
    }

    /// Records firm `i` unless its flag byte has [`TOUCHED`], and sets that flag.
    #[inline(always)]
    pub(crate) fn mark(&mut self, flags: &mut [u8], i: usize) {
        self.note(i, flags[i]);
        flags[i] |= TOUCHED;
    }

    /// Records firm `i`, whose flags are `f`, unless `f` has [`TOUCHED`] (the caller sets
    /// the flag).
    #[inline(always)]
    pub(crate) fn note(&mut self, i: usize, f: u8) {
        self.list[self.len] = i as u32;
        self.len += usize::from(f & TOUCHED == 0);
    }

    /// Puts the firms in index order: by a scan of the flags (where exactly the firms
    /// recorded have [`TOUCHED`]) when they are many.
    pub(crate) fn sort(&mut self, flags: &[u8]) {
        if self.len * 16 < flags.len() {
            self.list[..self.len].sort_unstable();
        } else {
            let mut count = 0;
            for (i, &f) in flags.iter().enumerate() {
                self.list[count] = i as u32;
                count += usize::from(f & TOUCHED != 0);
            }
            debug_assert_eq!(count, self.len);
        }
    }
}
