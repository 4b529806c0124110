//! Book balance sheets derived from a network at given prices.

use super::Network;

/// A firm's balance sheet at given prices, with every interbank claim at face value.
///
/// Assets = `cash + other_assets + holdings + pledged_collateral + interbank_claims +
/// equity_stakes`; liabilities = `external_liabilities + interbank_liabilities`;
/// `equity = assets − liabilities` (may be negative: the firm owes more than it holds).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BalanceSheet {
    /// Liquid assets.
    pub cash: f64,
    /// Illiquid assets outside the network.
    pub other_assets: f64,
    /// Unencumbered holdings at market value (`units × price`).
    pub holdings: f64,
    /// Units the firm pledged as collateral, at market value (still its assets).
    pub pledged_collateral: f64,
    /// Debt claims on other firms (all kinds but `equity`), face value.
    pub interbank_claims: f64,
    /// Book value of stakes in other firms' equity.
    pub equity_stakes: f64,
    /// Liabilities to parties outside the network.
    pub external_liabilities: f64,
    /// Debt owed to other firms in the network, face value.
    pub interbank_liabilities: f64,
}

impl BalanceSheet {
    /// Balance sheets of every firm of `network`, with asset `a` priced at `prices[a]`.
    /// `O(n + m)`.
    pub fn all(network: &Network, prices: &[f64]) -> Vec<BalanceSheet> {
        let n = network.n_firms();
        // The sums over exposures go into three arrays of their own rather than into the
        // sheets: random updates then touch 24 bytes per firm instead of a whole sheet, which
        // keeps them in cache on large networks. Each sum runs in the same order as before.
        let (mut claims, mut stakes, mut owed) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        for e in network.exposures() {
            if e.kind.is_debt() {
                claims[e.creditor as usize] += e.amount;
                owed[e.debtor as usize] += e.amount;
            } else {
                stakes[e.creditor as usize] += e.amount;
            }
        }
        let mut bs: Vec<BalanceSheet> = network
            .firms()
            .iter()
            .enumerate()
            .map(|(i, f)| BalanceSheet {
                cash: f.cash,
                other_assets: f.other_assets,
                external_liabilities: f.external_liabilities,
                interbank_claims: claims[i],
                equity_stakes: stakes[i],
                interbank_liabilities: owed[i],
                ..Default::default()
            })
            .collect();
        for h in network.holdings() {
            bs[h.firm as usize].holdings += h.units * prices[h.asset as usize];
        }
        for c in network.collateral() {
            let debtor = network.exposures()[c.exposure as usize].debtor as usize;
            bs[debtor].pledged_collateral += c.units * prices[c.asset as usize];
        }
        bs
    }

    /// Total assets.
    pub fn total_assets(&self) -> f64 {
        self.cash
            + self.other_assets
            + self.holdings
            + self.pledged_collateral
            + self.interbank_claims
            + self.equity_stakes
    }

    /// Total liabilities.
    pub fn total_liabilities(&self) -> f64 {
        self.external_liabilities + self.interbank_liabilities
    }

    /// Book equity: assets minus liabilities (negative when the firm is insolvent on paper).
    pub fn equity(&self) -> f64 {
        self.total_assets() - self.total_liabilities()
    }

    /// Assets outside the interbank network (cash, other assets, holdings, pledged collateral).
    pub fn external_assets(&self) -> f64 {
        self.cash + self.other_assets + self.holdings + self.pledged_collateral
    }
}
