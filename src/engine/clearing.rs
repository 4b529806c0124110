//! Eisenberg–Noe clearing with Rogers–Veraart default costs.
//!
//! # Model
//! Each firm `i` owes `p̄_i` in total to a pool of creditors (its unsecured interbank debt,
//! plus its external liabilities `b_i` when they rank pari passu) and holds external assets
//! `e_i` (cash, other assets, holdings at current prices, the surplus of its pledged
//! collateral, collateral-backed receipts, equity stakes at their current value). With
//! relative liabilities `Π_ij = L_ij / p̄_i` (row = debtor, column = creditor), payments are
//! the greatest fixed point of
//!
//! ```text
//! p_i = p̄_i                                    if e_i − s_i + Σ_j Π_ji p_j ≥ p̄_i   (solvent)
//!     = clamp(α e_i − s_i + β Σ_j Π_ji p_j, 0, p̄_i)    otherwise              (in default)
//! ```
//!
//! where `s_i = b_i` when external liabilities are senior (else 0). With `α = β = 1` this is
//! Eisenberg & Noe (2001); otherwise Rogers & Veraart (2013).
//!
//! # Algorithm
//! The Greatest Clearing Vector Algorithm (Rogers–Veraart Def. 3.6; Eisenberg–Noe's fictitious
//! default algorithm when `α = β = 1`): start with everybody paying in full; find the firms
//! that cannot; solve for their payments assuming exactly those default; repeat until the
//! default set stops growing. The round in which a firm first enters the default set is its
//! `default_round` (the "wave"). Within a round the defaulters' payments are found by a
//! sparse Jacobi iteration (`O(edges)` per sweep, parallel, monotone from above, so it
//! reaches the greatest solution) and, when at most 500 firms are in default (or
//! [`Solver::Exact`]), polished by an exact dense solve. Total cost: `O(rounds × sweeps ×
//! edges)`; rounds are few in practice.
//!
//! # Secured exposures and equity stakes
//! A secured creditor is paid first from its collateral: it receives `min(amount, units ×
//! price × (1 − haircut))` whatever happens to the debtor; only the shortfall joins the
//! pro-rata pool. The debtor keeps the rest of the collateral's market value. An equity stake
//! is junior to all debt: it is worth `book × clamp(E_after / E_before, 0, 1)` of the
//! issuer's equity, found jointly with the payments (stake values only fall, so the joint
//! iteration is monotone).
//!
//! # Shocks
//! A firm that fails outright (a `default` shock) is in default from round 0: its assets
//! outside the network (cash, other assets, unencumbered holdings, the surplus of its pledged
//! collateral) are written off, and it passes on pro rata whatever its own debtors pay it.

use rayon::prelude::*;

use super::linalg::{is_nonsingular_m_matrix, solve_dense};
use super::{Cause, Contribution, PAR_THRESHOLD, Round};
use crate::model::{BalanceSheet, Csr, Network};
use crate::scenario::Marks;
use crate::settings::{Seniority, Settings, Solver, Vector};

/// Largest default set polished by the exact dense solve under [`Solver::Auto`].
pub const EXACT_LIMIT: usize = 500;

/// Sweeps spent finding the active set before the exact solve is tried.
const EXACT_WARMUP: usize = 2000;

/// Pivots of the stakes' exact solve before it gives up (and the stakes settle by one-step
/// revaluations instead); a few suffice in practice.
const MAX_STAKE_PIVOTS: usize = 32;

/// Passes allowed beyond one per firm for equity stakes to settle (their values fall
/// geometrically, so this is never reached on a well-posed network).
const MAX_STAKE_PASSES: usize = 10_000;

/// Outcome of clearing. Vectors are indexed by firm; amounts in the network's currency.
#[derive(Debug, Clone, PartialEq)]
pub struct Clearing {
    /// Total paid by each firm to all its creditors (secured, interbank and external).
    pub payments: Vec<f64>,
    /// Total each firm owed (`p̄` including secured debt and external liabilities).
    pub obligations: Vec<f64>,
    /// Payment to the pro-rata pool (the clearing vector `p*` of the model above).
    pub pool_payments: Vec<f64>,
    /// Pool obligations `p̄`.
    pub pool_obligations: Vec<f64>,
    /// Paid to creditors inside the network (secured and unsecured).
    pub interbank_payments: Vec<f64>,
    /// Received from debtors inside the network (secured and unsecured).
    pub interbank_receipts: Vec<f64>,
    /// Whether each firm is in default (pays less than it owes, or failed outright).
    pub defaulted: Vec<bool>,
    /// Round in which each firm first defaulted.
    pub default_round: Vec<Option<u32>>,
    /// Why each defaulted firm defaulted.
    pub cause: Vec<Option<Cause>>,
    /// Counterparties whose shortfalls pushed each firm over, largest first.
    pub caused_by: Vec<Vec<Contribution>>,
    /// Book equity before the shock (may be negative).
    pub equity_before: Vec<f64>,
    /// Equity after clearing (limited liability: ≥ 0, zero in default).
    pub equity_after: Vec<f64>,
    /// Rounds of the default cascade.
    pub rounds: Vec<Round>,
    /// Whether every iteration converged within the cap.
    pub converged: bool,
    /// Fixed-point sweeps performed (all rounds).
    pub iterations: usize,
    /// Firms whose payments differ between the greatest and least clearing vectors (computed
    /// only without default costs, when the system is not regular or the least is asked for).
    pub differs_from_least: Vec<u32>,
    /// Whether the least vector was computed (and so whether `differs_from_least` is known).
    pub least_checked: bool,
}

/// What the clearing runs on: the network's structure with current balances. The optional
/// overrides replace the network's own figures (the combined cascade uses them as loans are
/// paid down, deposits withdrawn, collateral seized and holdings sold).
#[derive(Debug, Clone, Copy)]
pub struct State<'a> {
    /// The network (structure, firms, external liabilities).
    pub net: &'a Network,
    /// Current price of each asset.
    pub prices: &'a [f64],
    /// Current cash of each firm.
    pub cash: &'a [f64],
    /// Current other assets of each firm.
    pub other_assets: &'a [f64],
    /// Units of each holding (indexed like `net.holdings()`); `None`: the network's.
    pub holding_units: Option<&'a [f64]>,
    /// Amount of each exposure (indexed like `net.exposures()`); `None`: the network's.
    pub amounts: Option<&'a [f64]>,
    /// Units of each collateral entry (indexed like `net.collateral()`); `None`: the network's.
    pub collateral_units: Option<&'a [f64]>,
    /// Liabilities added to each firm's external liabilities (deposits frozen at a halted firm
    /// and booked as lost by its depositors); `None`: none.
    pub frozen: Option<&'a [f64]>,
    /// Firms whose own assets outside the network are written off (failed outright).
    pub wiped: &'a [bool],
    /// Firms in default from the start (failed outright, or halted by a liquidity default).
    pub in_default: &'a [bool],
    /// Firms hit directly by a shock (for the attribution of causes).
    pub shocked: &'a [bool],
}

impl<'a> State<'a> {
    /// The state after the shocks in `marks`.
    pub fn from_marks(net: &'a Network, marks: &'a Marks) -> Self {
        Self {
            net,
            prices: &marks.prices,
            cash: &marks.cash,
            other_assets: &marks.other_assets,
            holding_units: None,
            amounts: None,
            collateral_units: None,
            frozen: None,
            wiped: &marks.failed,
            in_default: &marks.failed,
            shocked: &marks.shocked,
        }
    }

    fn amount(&self, k: usize) -> f64 {
        self.amounts
            .map_or(self.net.exposures()[k].amount, |a| a[k])
    }

    fn holding(&self, h: usize) -> f64 {
        self.holding_units
            .map_or(self.net.holdings()[h].units, |u| u[h])
    }

    /// External liabilities of every firm, frozen deposits included.
    fn external_liabilities(&self) -> Vec<f64> {
        self.net
            .firms()
            .iter()
            .enumerate()
            .map(|(i, f)| f.external_liabilities + self.frozen.map_or(0.0, |x| x[i]))
            .collect()
    }

    fn pledged(&self, w: usize) -> f64 {
        self.collateral_units
            .map_or(self.net.collateral()[w].units, |u| u[w])
    }
}

/// The constants of the per-firm rules: Rogers–Veraart default costs and the tolerance.
/// Shared by this engine and the graph-parallel one, so that both apply the same arithmetic.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    /// Fraction of external assets a defaulting firm realises.
    pub alpha: f64,
    /// Fraction of interbank claims a defaulting firm realises.
    pub beta: f64,
    /// Relative tolerance.
    pub tol: f64,
    /// Rank of external liabilities.
    pub external: Seniority,
}

/// What a firm owes: its pool `p̄` and the external debt `s` ranking ahead of the pool.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owes {
    /// `p̄_i`.
    pub pbar: f64,
    /// `s_i`.
    pub senior: f64,
}

impl Owes {
    /// Tolerance scale of the firm, `max(1, p̄ + s)`.
    #[inline]
    pub(crate) fn scale(self) -> f64 {
        1.0f64.max(self.pbar + self.senior)
    }
}

impl Rules {
    /// The rules of `settings`.
    pub(crate) fn of(settings: &Settings) -> Self {
        Self {
            alpha: settings.alpha,
            beta: settings.beta,
            tol: settings.tolerance,
            external: settings.external,
        }
    }

    /// What a firm realises of its external assets and inflow: all of them when solvent,
    /// `α e + β inflow` in default.
    #[inline]
    fn realised(&self, in_default: bool, ext: f64, inflow: f64) -> f64 {
        if in_default {
            self.alpha * ext + self.beta * inflow
        } else {
            ext + inflow
        }
    }

    /// How a firm paying `p` to its pool splits its payments: `(paid to external creditors
    /// outside the pool, pool payment that goes to interbank creditors)`. Pari passu, the
    /// external creditors are in the pool (their share of `p` is not interbank); senior, they
    /// are paid first from what the firm realises, `ext_liab` at most.
    pub(crate) fn split(
        &self,
        o: Owes,
        ext_liab: f64,
        in_default: bool,
        ext: f64,
        inflow: f64,
        p: f64,
    ) -> (f64, f64) {
        match self.external {
            Seniority::PariPassu => {
                let share = if o.pbar > 0.0 {
                    (o.pbar - ext_liab) / o.pbar
                } else {
                    0.0
                };
                (0.0, p * share)
            }
            Seniority::Senior => {
                let realised = self.realised(in_default, ext, inflow);
                (ext_liab.min(realised.max(0.0)), p)
            }
        }
    }

    /// Payment of a firm in default given its external assets and inflow:
    /// `clamp(α e − s + β inflow, 0, p̄)`.
    #[inline]
    pub(crate) fn default_payment(&self, o: Owes, ext: f64, inflow: f64) -> f64 {
        (self.alpha * ext - o.senior + self.beta * inflow).clamp(0.0, o.pbar)
    }

    /// Whether a pool payment `p` pays `p̄` in full (to within the tolerance).
    #[inline]
    pub(crate) fn pays_in_full(&self, o: Owes, p: f64) -> bool {
        p >= o.pbar * (1.0 - self.tol)
    }

    /// What a firm realises less what it owes (`s + p̄`): its equity when positive.
    #[inline]
    pub(crate) fn surplus(&self, o: Owes, in_default: bool, ext: f64, inflow: f64) -> f64 {
        self.realised(in_default, ext, inflow) - o.senior - o.pbar
    }

    /// Equity of a firm given its external assets, what it receives and what it pays: zero
    /// when it pays less than it owes; otherwise what is left (for a firm held in default by
    /// force that still pays in full, net of default costs). A surplus within the tolerance
    /// of zero (rounding residue of the iteration) is zero.
    pub(crate) fn equity(&self, o: Owes, in_default: bool, ext: f64, inflow: f64, p: f64) -> f64 {
        if !self.pays_in_full(o, p) {
            return 0.0;
        }
        let surplus = self.surplus(o, in_default, ext, inflow);
        if surplus <= self.tol * o.scale() {
            0.0
        } else {
            surplus
        }
    }
}

/// The stopping rule of the Jacobi sweeps. The iteration contracts geometrically at some rate
/// `ρ < 1`; after a step of size `δ` the remaining error is at most about `δ·ρ/(1 − ρ)`, which
/// is far larger than `δ` when `ρ` is close to 1 (cycles of firms with little outside value).
/// `ρ` is estimated from successive steps (the worst `j`-step rate over the last eight
/// sweeps, since steps on cycles can alternate between firms).
#[derive(Debug, Clone)]
pub(crate) struct Stop {
    history: [f64; 8],
}

impl Default for Stop {
    fn default() -> Self {
        Self {
            history: [f64::INFINITY; 8],
        }
    }
}

impl Stop {
    /// Whether sweep number `sweep` (from 1), whose largest relative change of a payment was
    /// `moved`, ends the iteration: the error bound is below `tol`, or the step is at machine
    /// precision and cannot shrink further.
    pub(crate) fn done(&mut self, sweep: usize, moved: f64, tol: f64) -> bool {
        if moved <= 4.0 * f64::EPSILON {
            return true;
        }
        let rho = self
            .history
            .iter()
            .enumerate()
            .filter(|(_, h)| h.is_finite() && **h > 0.0)
            .map(|(j, h)| (moved / h).powf(1.0 / (j + 1) as f64))
            .fold(0.5f64, f64::max)
            .min(0.999_999);
        if sweep > 2 && moved * rho / (1.0 - rho) <= tol {
            return true;
        }
        self.history.rotate_right(1);
        self.history[0] = moved;
        false
    }
}

/// The clearing problem in solver form (see the module docs for symbols).
struct System {
    n: usize,
    rules: Rules,
    /// `p̄_i`.
    pbar: Vec<f64>,
    /// `s_i`: external liabilities when senior, else 0.
    senior: Vec<f64>,
    /// External assets before equity stakes.
    base_ext: Vec<f64>,
    /// `Π` transposed: row = creditor j, entries (debtor i, Π_ij).
    pi_t: Csr,
    /// Secured amounts paid from collateral, by debtor; received, by creditor.
    secured_paid: Vec<f64>,
    secured_recv: Vec<f64>,
    /// Stakes: (holder, issuer, book value).
    stakes: Vec<(u32, u32, f64)>,
    /// Indices into `stakes` of the stakes each holder holds (holders only).
    held: std::collections::HashMap<u32, Vec<usize>>,
}

impl System {
    fn build(st: &State, s: &Settings) -> Self {
        let net = st.net;
        let n = net.n_firms();
        let mut base_ext: Vec<f64> = (0..n)
            .map(|i| {
                if st.wiped[i] {
                    0.0
                } else {
                    st.cash[i] + st.other_assets[i]
                }
            })
            .collect();
        for (w, h) in net.holdings().iter().enumerate() {
            let i = h.firm as usize;
            if !st.wiped[i] {
                base_ext[i] += st.holding(w) * st.prices[h.asset as usize];
            }
        }
        let mut secured = vec![0.0; net.exposures().len()];
        let mut secured_paid = vec![0.0; n];
        let mut secured_recv = vec![0.0; n];
        for (w, c) in net.collateral().iter().enumerate() {
            let e = net.exposures()[c.exposure as usize];
            let market = st.pledged(w) * st.prices[c.asset as usize];
            let cover = (market * (1.0 - c.haircut)).min(st.amount(c.exposure as usize));
            secured[c.exposure as usize] = cover;
            secured_paid[e.debtor as usize] += cover;
            secured_recv[e.creditor as usize] += cover;
            if !st.wiped[e.debtor as usize] {
                base_ext[e.debtor as usize] += market - cover;
            }
        }
        let mut interbank = vec![0.0; n];
        let mut stakes = Vec::new();
        for (k, e) in net.exposures().iter().enumerate() {
            if e.kind.is_debt() {
                interbank[e.debtor as usize] += st.amount(k) - secured[k];
            } else {
                stakes.push((e.creditor, e.debtor, st.amount(k)));
            }
        }
        let ext_liab = st.external_liabilities();
        let (pbar, senior) = match s.external {
            Seniority::PariPassu => (
                (0..n).map(|i| interbank[i] + ext_liab[i]).collect(),
                vec![0.0; n],
            ),
            Seniority::Senior => (interbank, ext_liab),
        };
        // Πᵀ straight from the exposures (two passes, no list of triplets): row = creditor,
        // entries (debtor, share of the debtor's pool), parallel loans summed.
        let exposures = net.exposures();
        let pi_t = Csr::summed_from(n, n, exposures.len(), |k| {
            let e = exposures[k];
            let unsecured = st.amount(k) - secured[k];
            (e.kind.is_debt() && unsecured > 0.0)
                .then(|| (e.creditor, e.debtor, unsecured / pbar[e.debtor as usize]))
        });
        let mut held: std::collections::HashMap<u32, Vec<usize>> = std::collections::HashMap::new();
        for (k, &(holder, _, _)) in stakes.iter().enumerate() {
            held.entry(holder).or_default().push(k);
        }
        Self {
            n,
            rules: Rules::of(s),
            pi_t,
            pbar,
            senior,
            base_ext,
            secured_paid,
            secured_recv,
            stakes,
            held,
        }
    }

    /// The stakes firm `i` holds (indices into `stakes`).
    fn held_by(&self, i: usize) -> &[usize] {
        self.held.get(&(i as u32)).map_or(&[], Vec::as_slice)
    }

    /// Whether firm `i` pays strictly between nothing and in full.
    fn pays_in_part(&self, i: usize, p: f64) -> bool {
        p > self.rules.tol * self.scale(i) && !self.rules.pays_in_full(self.owes(i), p)
    }

    /// Whether stake `k` moves with its issuer's equity: the issuer has positive book equity
    /// and is solvent or, in default, still pays in full (else the stake is worth nothing).
    fn stake_is_live(
        &self,
        k: usize,
        in_default: &[bool],
        p: &[f64],
        equity_before: &[f64],
    ) -> bool {
        let d = self.stakes[k].1 as usize;
        let in_full = !in_default[d] || self.rules.pays_in_full(self.owes(d), p[d]);
        in_full && equity_before[d] > 0.0
    }

    /// What firm `i` owes.
    #[inline]
    fn owes(&self, i: usize) -> Owes {
        Owes {
            pbar: self.pbar[i],
            senior: self.senior[i],
        }
    }

    /// Tolerance scale of firm `i`.
    #[inline]
    fn scale(&self, i: usize) -> f64 {
        self.owes(i).scale()
    }

    fn inflows(&self, p: &[f64], out: &mut [f64]) {
        if self.n >= PAR_THRESHOLD {
            out.par_iter_mut()
                .enumerate()
                .with_min_len(1024)
                .for_each(|(j, x)| *x = self.claims(j, p));
        } else {
            for (j, x) in out.iter_mut().enumerate() {
                *x = self.claims(j, p);
            }
        }
    }

    /// What firm `j` receives from other firms given payments `p`: its pro-rata share of
    /// their pool payments plus what its collateral pays it. Both are claims on other firms,
    /// realised at `β` when `j` is in default.
    #[inline]
    fn claims(&self, j: usize, p: &[f64]) -> f64 {
        self.pi_t.row_dot(j, p) + self.secured_recv[j]
    }

    /// Exact values of the equity stakes for fixed payments `p` and receipts `inflow`.
    ///
    /// A stake in an issuer `d` that pays in full is worth
    /// `f_k(v) = book · clamp(E_d / E_d(0), 0, 1)`, and `E_d` is affine in the stakes `d`
    /// holds (slope 1, or `α` when `d` is in default), so `f(v) = clamp(c + M v, 0, book)`
    /// with `M ≥ 0`. When `ρ(M) < 1` (checked: `(I − M) x = 1` has a positive solution, i.e.
    /// `I − M` is a nonsingular M-matrix), `f` is a contraction in a weighted norm and has
    /// exactly one fixed point, which is then what the one-step revaluations crawl towards.
    /// It is found by active sets: solve `(I − M) v = c` for the stakes not held at a clamp,
    /// hold those that leave `[0, book]` at the clamp they crossed, free held ones whose image
    /// moved inside, solve again. The answer is taken only if it is a fixed point of `f` and
    /// lies below the current values; otherwise `values` stay as they are. Stakes in issuers
    /// with no book equity, or in default and paying less than in full (worth nothing then),
    /// keep their values. `O(s³)` per solve for the `s` other stakes, at most
    /// `MAX_STAKE_PIVOTS` solves.
    fn solve_stakes(
        &self,
        in_default: &[bool],
        p: &[f64],
        inflow: &[f64],
        equity_before: &[f64],
        values: &mut [f64],
    ) {
        let live: Vec<usize> = (0..self.stakes.len())
            .filter(|&k| self.stake_is_live(k, in_default, p, equity_before))
            .collect();
        // Nothing strictly between the clamps: nothing crawls.
        if !live
            .iter()
            .any(|&k| values[k] > 0.0 && values[k] < self.stakes[k].2)
        {
            return;
        }
        let m = live.len();
        let mut pos = std::collections::HashMap::with_capacity(m);
        for (r, &k) in live.iter().enumerate() {
            pos.insert(k, r);
        }
        // f_r(v) = clamp(c[r] + Σ_col coef[r][col] v[col], 0, book[r]) over the live stakes.
        let mut coef = vec![0.0; m * m];
        let mut c = vec![0.0; m];
        let book: Vec<f64> = live.iter().map(|&k| self.stakes[k].2).collect();
        for (r, &k) in live.iter().enumerate() {
            let d = self.stakes[k].1;
            let di = d as usize;
            let scale = book[r] / equity_before[di];
            // Equity is the issuer's surplus; in default it realises α of its external assets
            // (the stakes it holds among them).
            let slope = if in_default[di] {
                self.rules.alpha
            } else {
                1.0
            };
            let mut held_fixed = 0.0;
            for &j in self.held_by(di) {
                match pos.get(&j) {
                    Some(&col) => coef[r * m + col] += scale * slope,
                    None => held_fixed += values[j],
                }
            }
            let ext = self.base_ext[di] + held_fixed;
            c[r] = scale
                * self
                    .rules
                    .surplus(self.owes(di), in_default[di], ext, inflow[di]);
        }
        let identity_minus = |rows: &[usize], cols: &[usize]| -> Vec<f64> {
            let q = rows.len();
            let mut a = vec![0.0; q * q];
            for (i, &r) in rows.iter().enumerate() {
                for (j, &col) in cols.iter().enumerate() {
                    a[i * q + j] = f64::from(u8::from(r == col)) - coef[r * m + col];
                }
            }
            a
        };
        let all: Vec<usize> = (0..m).collect();
        if !is_nonsingular_m_matrix(identity_minus(&all, &all), m) {
            return;
        }
        // Active sets (a principal pivoting method for this box-constrained linear
        // complementarity problem): a stake is held at 0 or at its book value, or free; the
        // free ones solve the linear system given the held ones; then a free stake that left
        // its range is held at the clamp it crossed and a held stake whose image moved inside
        // the range is freed. Starts from the clamps the current values sit at.
        let image = |r: usize, v: &[f64]| -> f64 {
            c[r] + (0..m).map(|col| coef[r * m + col] * v[col]).sum::<f64>()
        };
        let mut v: Vec<f64> = (0..m).map(|r| values[live[r]]).collect();
        let mut free: Vec<bool> = (0..m).map(|r| v[r] > 0.0 && v[r] < book[r]).collect();
        for _ in 0..MAX_STAKE_PIVOTS {
            let cols: Vec<usize> = (0..m).filter(|&r| free[r]).collect();
            let mut rhs: Vec<f64> = cols
                .iter()
                .map(|&r| {
                    let from_held: f64 = (0..m)
                        .filter(|&col| !free[col])
                        .map(|col| coef[r * m + col] * v[col])
                        .sum();
                    c[r] + from_held
                })
                .collect();
            if solve_dense(&mut identity_minus(&cols, &cols), &mut rhs, cols.len()).is_none() {
                return;
            }
            for (&r, &x) in cols.iter().zip(&rhs) {
                v[r] = if x.is_finite() { x } else { 0.0 };
            }
            let mut pivoted = false;
            for r in 0..m {
                if free[r] && !(v[r] >= 0.0 && v[r] <= book[r]) {
                    free[r] = false;
                    v[r] = v[r].clamp(0.0, book[r]);
                    pivoted = true;
                }
            }
            if !pivoted {
                for r in 0..m {
                    let y = image(r, &v);
                    if !free[r] && ((v[r] == 0.0 && y > 0.0) || (v[r] == book[r] && y < book[r])) {
                        free[r] = true;
                        pivoted = true;
                    }
                }
            }
            if !pivoted {
                break;
            }
        }
        // (Out of pivots: the check below fails unless the last answer happens to be right.)
        let tol = self.rules.tol;
        let settled = (0..m).all(|r| {
            let slack = tol * book[r].max(1.0);
            (image(r, &v).clamp(0.0, book[r]) - v[r]).abs() <= slack
                && v[r] <= values[live[r]] + slack
        });
        if settled {
            for (r, &k) in live.iter().enumerate() {
                values[k] = v[r];
            }
        }
    }

    /// Exact joint solve of the payments and the stake values that rest on each other: a
    /// firm in default paying out of a stake whose issuer's equity rests on that payment.
    /// Alternating the two exact solves (payments for fixed stakes, stakes for fixed
    /// payments) then crawls — each pass moves both by the product of the two slopes, which
    /// can be close to 1 — and would stop at the pass cap.
    ///
    /// The active sets are read off the current values: firms of `set` paying strictly
    /// between 0 and in full, and live stakes (issuer solvent or paying in full, positive
    /// book equity) strictly between 0 and their book value. On those sets payments and
    /// stakes are affine in each other, `x = c + N x` with `N ≥ 0`. The answer is taken only
    /// if `I − N` is a nonsingular M-matrix (`(I − N) y = 1` has a positive solution, so the
    /// fixed point on these sets is unique), the answer keeps every value within its bounds
    /// and it lies below the current values (the iteration descends from above). Then `p`
    /// and `values` take it and true is returned; otherwise nothing changes. Only tried when
    /// some firm paying in part holds a stake with a value in between (else the two solves
    /// do not feed each other). `O((f + s)³)` for `f` payments and `s` stakes.
    fn solve_jointly(
        &self,
        set: &[u32],
        in_default: &[bool],
        p: &mut [f64],
        equity_before: &[f64],
        values: &mut [f64],
    ) -> bool {
        let payers: Vec<usize> = set
            .iter()
            .map(|&i| i as usize)
            .filter(|&i| self.pays_in_part(i, p[i]))
            .collect();
        let live: Vec<usize> = (0..self.stakes.len())
            .filter(|&k| {
                let book = self.stakes[k].2;
                self.stake_is_live(k, in_default, p, equity_before)
                    && values[k] > 0.0
                    && values[k] < book
            })
            .collect();
        let mut payer_row = std::collections::HashMap::with_capacity(payers.len());
        for (r, &i) in payers.iter().enumerate() {
            payer_row.insert(i, r);
        }
        if !live
            .iter()
            .any(|&k| payer_row.contains_key(&(self.stakes[k].0 as usize)))
        {
            return false;
        }
        let (f, m) = (payers.len(), payers.len() + live.len());
        let mut stake_row = std::collections::HashMap::with_capacity(live.len());
        for (r, &k) in live.iter().enumerate() {
            stake_row.insert(k, f + r);
        }
        // Rows `r` of `N` and `c`: a firm's external assets (slope `a_e`) and what it receives
        // (slope `a_i`), with the unknowns among them moved into `N`.
        let mut n_mat = vec![0.0; m * m];
        let mut c = vec![0.0; m];
        let fill = |row: &mut [f64], i: usize, a_e: f64, a_i: f64| -> f64 {
            let mut ext = self.base_ext[i];
            // Stakes held: those in the system as unknowns, the others at their values.
            for &k in self.held_by(i) {
                match stake_row.get(&k) {
                    Some(&col) => row[col] += a_e,
                    None => ext += values[k],
                }
            }
            let mut inflow = self.secured_recv[i];
            let (idx, val) = self.pi_t.row(i);
            for (&d, &pi) in idx.iter().zip(val) {
                match payer_row.get(&(d as usize)) {
                    Some(&col) => row[col] += a_i * pi,
                    None => inflow += pi * p[d as usize],
                }
            }
            a_e * ext + a_i * inflow
        };
        for (r, &j) in payers.iter().enumerate() {
            // p_j = α e_j − s_j + β inflow_j.
            let row = &mut n_mat[r * m..(r + 1) * m];
            c[r] = fill(row, j, self.rules.alpha, self.rules.beta) - self.senior[j];
        }
        for (r, &k) in live.iter().enumerate() {
            // v_k = book / E_d(0) · (realised_d − s_d − p̄_d).
            let (_, d, book) = self.stakes[k];
            let d = d as usize;
            let scale = book / equity_before[d];
            let (a_e, a_i) = if in_default[d] {
                (self.rules.alpha, self.rules.beta)
            } else {
                (1.0, 1.0)
            };
            let row = &mut n_mat[(f + r) * m..(f + r + 1) * m];
            let surplus = fill(row, d, a_e, a_i) - self.senior[d] - self.pbar[d];
            c[f + r] = scale * surplus;
            row.iter_mut().for_each(|x| *x *= scale);
        }
        let identity_minus = || -> Vec<f64> {
            let mut a: Vec<f64> = n_mat.iter().map(|&x| -x).collect();
            for r in 0..m {
                a[r * m + r] += 1.0;
            }
            a
        };
        if !is_nonsingular_m_matrix(identity_minus(), m)
            || solve_dense(&mut identity_minus(), &mut c, m).is_none()
        {
            return false;
        }
        let within = |x: f64, cap: f64, now: f64| {
            let slack = 1e-9 * cap.max(1.0);
            x.is_finite() && x >= -slack && x <= cap + slack && x <= now + slack
        };
        let fits = payers
            .iter()
            .enumerate()
            .all(|(r, &i)| within(c[r], self.pbar[i], p[i]))
            && live
                .iter()
                .enumerate()
                .all(|(r, &k)| within(c[f + r], self.stakes[k].2, values[k]));
        if fits {
            for (r, &i) in payers.iter().enumerate() {
                p[i] = c[r].clamp(0.0, self.pbar[i]);
            }
            for (r, &k) in live.iter().enumerate() {
                values[k] = c[f + r].clamp(0.0, self.stakes[k].2);
            }
        }
        fits
    }

    /// Equity of firm `i` given its external assets, what it receives and what it pays: zero
    /// when it pays less than it owes; otherwise what is left (for a firm held in default by
    /// force that still pays in full, net of default costs).
    fn equity(&self, i: usize, in_default: bool, ext: f64, inflow: f64, p: f64) -> f64 {
        self.rules.equity(self.owes(i), in_default, ext, inflow, p)
    }

    /// Payment of a firm in default given its external assets and inflow.
    #[inline]
    fn default_payment(&self, i: usize, ext: f64, inflow: f64) -> f64 {
        self.rules.default_payment(self.owes(i), ext, inflow)
    }

    /// Jacobi sweeps over the firms in `set` (payments of everyone else fixed) until the
    /// distance to the fixed point is below the tolerance (the error bound of [`Stop`]).
    /// Returns (sweeps, converged).
    fn iterate(&self, set: &[u32], ext: &[f64], p: &mut [f64], cap: usize) -> (usize, bool) {
        let mut next = vec![0.0; set.len()];
        let mut stop = Stop::default();
        for sweep in 1..=cap {
            let eval = |&i: &u32| {
                let i = i as usize;
                self.default_payment(i, ext[i], self.claims(i, p))
            };
            if set.len() >= PAR_THRESHOLD {
                set.par_iter()
                    .with_min_len(512)
                    .map(eval)
                    .collect_into_vec(&mut next);
            } else {
                next.clear();
                next.extend(set.iter().map(eval));
            }
            let mut moved = 0.0f64;
            for (&i, &v) in set.iter().zip(&next) {
                let i = i as usize;
                moved = moved.max((p[i] - v).abs() / self.scale(i));
                p[i] = v;
            }
            if stop.done(sweep, moved, self.rules.tol) {
                return (sweep, true);
            }
        }
        (cap, false)
    }

    /// Exact solve of the payments of the firms in `set` with the active set read off the
    /// iterative answer (firms paying 0 or in full stay there). Keeps `p` unchanged and
    /// returns false when the system is singular or the answer is inconsistent.
    fn polish(&self, set: &[u32], ext: &[f64], p: &mut [f64]) -> bool {
        let free: Vec<u32> = set
            .iter()
            .copied()
            .filter(|&i| self.pays_in_part(i as usize, p[i as usize]))
            .collect();
        let m = free.len();
        if m == 0 {
            return true;
        }
        let mut pos = std::collections::HashMap::with_capacity(m);
        for (r, &i) in free.iter().enumerate() {
            pos.insert(i, r);
        }
        let mut a = vec![0.0; m * m];
        let mut b = vec![0.0; m];
        for (r, &j) in free.iter().enumerate() {
            let j = j as usize;
            a[r * m + r] = 1.0;
            b[r] =
                self.rules.alpha * ext[j] - self.senior[j] + self.rules.beta * self.secured_recv[j];
            let (idx, val) = self.pi_t.row(j);
            for (&i, &pi) in idx.iter().zip(val) {
                match pos.get(&i) {
                    Some(&c) => a[r * m + c] -= self.rules.beta * pi,
                    None => b[r] += self.rules.beta * pi * p[i as usize],
                }
            }
        }
        if solve_dense(&mut a, &mut b, m).is_none() {
            return false;
        }
        let consistent = free.iter().zip(&b).all(|(&i, &v)| {
            let i = i as usize;
            let slack = 1e-9 * self.scale(i);
            v.is_finite() && v >= -slack && v <= self.pbar[i] + slack
        });
        if consistent {
            for (&i, &v) in free.iter().zip(&b) {
                p[i as usize] = v.clamp(0.0, self.pbar[i as usize]);
            }
        }
        consistent
    }
}

/// Clears `net` after the shocks in `marks` under `settings`.
///
/// Deterministic: every parallel loop writes per-firm slots and every sum runs in input
/// order, so the answer is bit-identical whatever the number of threads.
pub fn clear(net: &Network, marks: &Marks, settings: &Settings) -> Clearing {
    clear_state(&State::from_marks(net, marks), settings)
}

/// Clears the network in the state `st` (see [`State`]) under `settings`.
pub fn clear_state(st: &State, settings: &Settings) -> Clearing {
    let net = st.net;
    let n = net.n_firms();
    let sys = System::build(st, settings);
    let equity_before: Vec<f64> = net
        .balance_sheets()
        .iter()
        .map(BalanceSheet::equity)
        .collect();

    let mut stake_value: Vec<f64> = sys.stakes.iter().map(|s| s.2).collect();
    let mut ext = sys.base_ext.clone();
    let add_stakes = |ext: &mut Vec<f64>, values: &[f64]| {
        ext.copy_from_slice(&sys.base_ext);
        for (s, v) in sys.stakes.iter().zip(values) {
            ext[s.0 as usize] += v;
        }
    };
    add_stakes(&mut ext, &stake_value);
    // Value a firm would have if every counterparty paid in full and stakes kept book value:
    // separates own insolvency from contagion.
    let full_inflow: Vec<f64> = {
        let mut v = vec![0.0; n];
        sys.inflows(&sys.pbar, &mut v);
        v
    };
    let own_surplus: Vec<f64> = (0..n)
        .map(|i| {
            sys.rules
                .surplus(sys.owes(i), false, ext[i], full_inflow[i])
        })
        .collect();

    let mut p = sys.pbar.clone();
    let mut inflow = vec![0.0; n];
    let mut in_default: Vec<bool> = st.in_default.to_vec();
    let mut default_round: Vec<Option<u32>> = in_default.iter().map(|&d| d.then_some(0)).collect();
    let mut cause: Vec<Option<Cause>> = in_default
        .iter()
        .map(|&d| d.then_some(Cause::Shock))
        .collect();
    let mut caused_by: Vec<Vec<Contribution>> = vec![Vec::new(); n];
    let mut set: Vec<u32> = (0..n as u32).filter(|&i| in_default[i as usize]).collect();
    let mut rounds = Vec::new();
    let mut iterations = 0usize;
    let mut converged = true;
    let mut wave = 0u32;
    let shortfall = |p: &[f64]| -> f64 { (0..n).map(|i| sys.pbar[i] - p[i]).sum() };
    let mut last_shortfall = 0.0;
    if !set.is_empty() {
        rounds.push(Round {
            round: 0,
            defaults: set.clone(),
            losses: 0.0,
        });
    }
    let price_hit = price_losses(st);
    let cap = settings.max_iterations;

    // When the exact solve applies, a first batch of sweeps only has to find the active set
    // (who pays nothing, who pays in full); more sweeps are spent only if the exact answer is
    // inconsistent with it. Slowly leaking cycles then cannot use up the budget first.
    let solve = |set: &[u32], ext: &[f64], p: &mut [f64], iterations: &mut usize| -> bool {
        let exact = match settings.solver {
            Solver::Iterative => false,
            Solver::Exact => true,
            Solver::Auto => set.len() <= EXACT_LIMIT,
        };
        let budget = cap.saturating_sub(*iterations).max(1);
        if exact {
            let (sweeps, ok) = sys.iterate(set, ext, p, budget.min(EXACT_WARMUP));
            *iterations += sweeps;
            let snapshot = p.to_vec();
            if sys.polish(set, ext, p) {
                return true;
            }
            p.copy_from_slice(&snapshot);
            if ok {
                return true;
            }
        }
        let budget = cap.saturating_sub(*iterations).max(1);
        let (sweeps, ok) = sys.iterate(set, ext, p, budget);
        *iterations += sweeps;
        ok || (exact && sys.polish(set, ext, p))
    };

    if !set.is_empty() {
        converged &= solve(&set, &ext, &mut p, &mut iterations);
        if let Some(r) = rounds.last_mut() {
            let s = shortfall(&p);
            r.losses = s - last_shortfall;
            last_shortfall = s;
        }
    }
    let mut passes = 0usize;
    let (mut joint_next, mut joint_wait) = (0usize, 0usize);
    loop {
        iterations += 1;
        passes += 1;
        // Revalue stakes from the issuers' current equity.
        sys.inflows(&p, &mut inflow);
        let mut stakes_moved = false;
        for (k, &(_, issuer, book_value)) in sys.stakes.iter().enumerate() {
            let d = issuer as usize;
            let eq_after = sys.equity(d, in_default[d], ext[d], inflow[d], p[d]);
            let ratio = if equity_before[d] > 0.0 {
                (eq_after / equity_before[d]).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let v = book_value * ratio;
            if (stake_value[k] - v).abs() > sys.rules.tol * 1.0f64.max(book_value) {
                stakes_moved = true;
                stake_value[k] = v;
            }
        }
        if stakes_moved {
            // Cross-holdings can make these one-step revaluations crawl (two firms holding
            // stakes in each other with little outside value); solve the stakes' fixed point
            // exactly for the current payments when it is small enough.
            if sys.stakes.len() <= EXACT_LIMIT {
                sys.solve_stakes(&in_default, &p, &inflow, &equity_before, &mut stake_value);
                // Payments resting on those stakes, and stakes on those payments, crawl
                // together unless solved together. A joint solve that found nothing to do
                // or no answer is retried after twice as many passes each time, so a large
                // system it cannot settle does not pay a dense solve on every pass.
                if set.len() <= EXACT_LIMIT && passes >= joint_next {
                    let solved = sys.solve_jointly(
                        &set,
                        &in_default,
                        &mut p,
                        &equity_before,
                        &mut stake_value,
                    );
                    if !solved {
                        joint_wait = (2 * joint_wait).max(1);
                        joint_next = passes + joint_wait;
                    }
                }
            }
            add_stakes(&mut ext, &stake_value);
        }
        let newly: Vec<u32> = (0..n as u32)
            .filter(|&i| {
                let i = i as usize;
                !in_default[i]
                    && sys.rules.surplus(sys.owes(i), false, ext[i], inflow[i])
                        < -sys.rules.tol * sys.scale(i)
            })
            .collect();
        if newly.is_empty() && !stakes_moved {
            break;
        }
        if !newly.is_empty() {
            wave += 1;
            for &i in &newly {
                let i = i as usize;
                in_default[i] = true;
                default_round[i] = Some(wave);
                if own_surplus[i] < -sys.rules.tol * sys.scale(i) {
                    cause[i] = Some(if st.shocked[i] {
                        Cause::Shock
                    } else if price_hit[i] > 0.0 {
                        Cause::PriceFall
                    } else {
                        Cause::InitiallyInsolvent
                    });
                } else {
                    cause[i] = Some(Cause::CounterpartyDefault);
                    caused_by[i] = contributions(&sys, i, &p, &stake_value);
                }
            }
            set.extend_from_slice(&newly);
            set.sort_unstable();
            rounds.push(Round {
                round: wave,
                defaults: newly,
                losses: 0.0,
            });
        }
        let solved = solve(&set, &ext, &mut p, &mut iterations);
        converged &= solved;
        let s = shortfall(&p);
        if let Some(r) = rounds.last_mut().filter(|r| r.round == wave && wave > 0) {
            r.losses += s - last_shortfall;
        }
        last_shortfall = s;
        // Out of budget with an unsolved round, or stakes still moving after far more passes
        // than any cascade needs: stop and say so.
        if (iterations >= cap && !solved) || passes > n + MAX_STAKE_PASSES {
            converged = false;
            break;
        }
    }
    sys.inflows(&p, &mut inflow);

    // Least clearing vector: only without default costs; computed when asked for or when the
    // system is not regular (a set of firms with no external assets anywhere downstream).
    let mut differs_from_least = Vec::new();
    let mut least_checked = false;
    if settings.alpha == 1.0 && settings.beta == 1.0 {
        let want = settings.vector == Vector::Least;
        let leaks: Vec<bool> = match settings.external {
            Seniority::PariPassu => st.external_liabilities().iter().map(|&b| b > 0.0).collect(),
            Seniority::Senior => vec![false; n],
        };
        let regular = is_regular(&sys, &ext, &leaks);
        if want && regular {
            // Eisenberg & Noe, Theorem 2: a regular system has one clearing vector.
            least_checked = true;
        } else if want || !regular {
            least_checked = true;
            // Iterating the (α = β = 1) map from zero rises to the least fixed point; the
            // same error-bounded Jacobi sweeps and exact polish as above apply.
            let mut q = vec![0.0; n];
            let everyone: Vec<u32> = (0..n as u32).collect();
            let budget = cap.saturating_sub(iterations).max(1);
            let (sweeps, mut ok) = sys.iterate(&everyone, &ext, &mut q, budget);
            iterations += sweeps;
            let exact = match settings.solver {
                Solver::Iterative => false,
                Solver::Exact => true,
                Solver::Auto => n <= EXACT_LIMIT,
            };
            ok |= exact && sys.polish(&everyone, &ext, &mut q);
            if want {
                converged &= ok;
            } else if !ok {
                // The check could not finish: the greatest vector stands, and nothing is
                // claimed about uniqueness.
                least_checked = false;
            }
            if ok || want {
                differs_from_least = (0..n as u32)
                    .filter(|&i| {
                        (p[i as usize] - q[i as usize]).abs() > 1e-9 * sys.scale(i as usize)
                    })
                    .collect();
            }
            if want {
                let last = rounds.iter().map(|r| r.round).max().unwrap_or(0);
                let mut extra = Vec::new();
                for i in 0..n {
                    if !in_default[i] && q[i] < sys.pbar[i] - sys.rules.tol * sys.scale(i) {
                        in_default[i] = true;
                        default_round[i] = Some(last + 1);
                        cause[i] = Some(Cause::CounterpartyDefault);
                        extra.push(i as u32);
                    }
                }
                p = q;
                sys.inflows(&p, &mut inflow);
                if !extra.is_empty() {
                    rounds.push(Round {
                        round: last + 1,
                        defaults: extra,
                        losses: shortfall(&p) - last_shortfall,
                    });
                }
            }
        }
    }

    // Per-firm results.
    let ext_liab = st.external_liabilities();
    let mut obligations = vec![0.0; n];
    for (k, e) in net.exposures().iter().enumerate() {
        if e.kind.is_debt() {
            obligations[e.debtor as usize] += st.amount(k);
        }
    }
    let mut payments = vec![0.0; n];
    let mut interbank_payments = vec![0.0; n];
    let mut equity_after = vec![0.0; n];
    for i in 0..n {
        obligations[i] += ext_liab[i];
        let (ext_paid, pool_interbank) = sys.rules.split(
            sys.owes(i),
            ext_liab[i],
            in_default[i],
            ext[i],
            inflow[i],
            p[i],
        );
        payments[i] = sys.secured_paid[i] + p[i] + ext_paid;
        interbank_payments[i] = sys.secured_paid[i] + pool_interbank;
        equity_after[i] = sys.equity(i, in_default[i], ext[i], inflow[i], p[i]);
    }
    let interbank_receipts: Vec<f64> = inflow.clone();
    Clearing {
        payments,
        obligations,
        pool_payments: p,
        pool_obligations: sys.pbar.clone(),
        interbank_payments,
        interbank_receipts,
        defaulted: in_default,
        default_round,
        cause,
        caused_by,
        equity_before,
        equity_after,
        rounds,
        converged,
        iterations,
        differs_from_least,
        least_checked,
    }
}

/// Loss in market value of each firm's holdings and pledged collateral from price shocks.
fn price_losses(st: &State) -> Vec<f64> {
    let net = st.net;
    let mut loss = vec![0.0; net.n_firms()];
    for (w, h) in net.holdings().iter().enumerate() {
        let a = &net.assets()[h.asset as usize];
        loss[h.firm as usize] += st.holding(w) * (a.price - st.prices[h.asset as usize]);
    }
    for (w, c) in net.collateral().iter().enumerate() {
        let a = &net.assets()[c.asset as usize];
        let d = net.exposures()[c.exposure as usize].debtor as usize;
        loss[d] += st.pledged(w) * (a.price - st.prices[c.asset as usize]);
    }
    loss
}

/// Shortfalls received by firm `j` from each debtor, and stake losses, largest first.
fn contributions(sys: &System, j: usize, p: &[f64], stake_value: &[f64]) -> Vec<Contribution> {
    let mut out: Vec<Contribution> = Vec::new();
    let mut add = |firm: u32, loss: f64| {
        if loss > 0.0 {
            match out.iter_mut().find(|c| c.firm == firm) {
                Some(c) => c.loss += loss,
                None => out.push(Contribution { firm, loss }),
            }
        }
    };
    let (idx, val) = sys.pi_t.row(j);
    for (&i, &pi) in idx.iter().zip(val) {
        add(i, pi * (sys.pbar[i as usize] - p[i as usize]));
    }
    for (k, &(holder, issuer, book)) in sys.stakes.iter().enumerate() {
        if holder as usize == j {
            add(issuer, book - stake_value[k]);
        }
    }
    out.sort_by(|a, b| b.loss.total_cmp(&a.loss).then(a.firm.cmp(&b.firm)));
    out
}

/// Eisenberg–Noe regularity: every firm that owes anything can reach, along its obligations,
/// a firm with positive net external assets. Then the clearing vector is unique.
///
/// A firm whose pool also pays creditors outside the network (external liabilities pari
/// passu) counts as a start too: value leaks out through it, so a closed group of firms
/// without outside assets that reaches it can only clear at zero — one solution.
fn is_regular(sys: &System, ext: &[f64], external_pari_passu: &[bool]) -> bool {
    let n = sys.n;
    let mut seen: Vec<bool> = (0..n)
        .map(|i| ext[i] + sys.secured_recv[i] - sys.senior[i] > 0.0 || external_pari_passu[i])
        .collect();
    if (0..n).all(|i| seen[i] || sys.pbar[i] <= 0.0) {
        return true;
    }
    let mut stack: Vec<u32> = (0..n as u32).filter(|&i| seen[i as usize]).collect();
    // Row j of Π transposed lists the debtors of j: the reverse obligation edges.
    while let Some(j) = stack.pop() {
        for &i in sys.pi_t.row(j as usize).0 {
            if !seen[i as usize] {
                seen[i as usize] = true;
                stack.push(i);
            }
        }
    }
    (0..n).all(|i| seen[i] || sys.pbar[i] <= 0.0)
}
