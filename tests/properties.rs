//! Property tests of the clearing engine on random networks.
//!
//! Every expectation comes from the model's definition (Eisenberg & Noe 2001; Rogers &
//! Veraart 2013; the conventions of `engine::clearing` for collateral, equity stakes, senior
//! external debt and outright failures), re-implemented here densely and naively in
//! [`Dense`]: no sparse storage, no default-set bookkeeping, no linear solves, only plain
//! fixed-point (Picard) iteration from the top of the lattice.
//!
//! Notation: `e_i` external assets (cash, other assets and holdings at post-shock prices, the
//! surplus of collateral the firm pledged, collateral-backed receipts, stakes at their current
//! value), `p̄_i` the pool obligations (unsecured interbank debt, plus external liabilities
//! `b_i` when they rank pari passu), `s_i = b_i` when external liabilities are senior (else
//! 0), `Π_ij` the share of `p̄_i` owed to `j`. The Rogers–Veraart map is
//!
//! ```text
//! Φ(p)_i = p̄_i                                   if e_i − s_i + Σ_j Π_ji p_j ≥ p̄_i
//!        = clamp(α e_i − s_i + β Σ_j Π_ji p_j, 0, p̄_i)   otherwise
//! ```
//!
//! (a firm that failed outright always takes the second branch, with its own assets written
//! off), and payments are its greatest fixed point. With `α = β = 1` it is the Eisenberg–Noe
//! map `min(p̄, max(0, e − s + Πᵀp))`. Equity after clearing is what the firm realises
//! (`e + Πᵀp`, or `α e + β Πᵀp` in default) less `s + p̄`, if positive: zero for a firm that
//! pays less than it owes. A stake is worth `book × clamp(E_after / E_before, 0, 1)` of the
//! issuer's equity, found jointly with the payments.
//!
//! Cases that once broke a property are pinned down, minimal and hand-derived, at the end of
//! this file; each property names the cases that broke it.

use contagion::prelude::*;
use contagion::scenario::Loss;
use proptest::prelude::*;
use proptest::sample::Index;

use crate::util::firm;

type Check = Result<(), TestCaseError>;

/// Engine tolerance used in every run (the documented default).
const ENGINE_TOL: f64 = 1e-12;

/// Slack allowed when comparing amounts, relative to `max(1, size of the firm)`.
const SLACK: f64 = 1e-9;

// ---------------------------------------------------------------------------------------
// Random networks
// ---------------------------------------------------------------------------------------

/// What a generated network may contain besides firms, loans and holdings.
#[derive(Debug, Clone, Copy)]
struct Features {
    /// Equity stakes between firms.
    stakes: bool,
    /// Loans secured by collateral.
    collateral: bool,
    /// Tiny loans (below 0.01): cycles that leak almost nothing, where plain fixed-point
    /// iteration needs millions of sweeps (too slow for the dense reference).
    tiny: bool,
}

/// Loans and holdings only, no tiny loans.
const PLAIN: Features = Features {
    stakes: false,
    collateral: false,
    tiny: false,
};
/// Everything.
const FULL: Features = Features {
    stakes: true,
    collateral: true,
    tiny: true,
};
/// Everything but tiny loans.
const WELL_CONDITIONED: Features = Features {
    tiny: false,
    ..FULL
};

/// A shock in index form.
#[derive(Debug, Clone, Copy)]
enum Hit {
    Fail(u32),
    Lose(u32, f64),
    LoseFraction(u32, f64),
    Fall(u32, f64),
}

/// A generated network and the shocks applied to it, in index form (so that failures shrink
/// to small readable cases).
#[derive(Debug, Clone)]
struct Spec {
    /// `(cash, other assets, external liabilities)` per firm.
    firms: Vec<(f64, f64, f64)>,
    /// `(debtor, creditor, amount, kind)`.
    loans: Vec<(u32, u32, f64, ExposureKind)>,
    /// `(holder, issuer, book value)`.
    stakes: Vec<(u32, u32, f64)>,
    /// Asset prices.
    prices: Vec<f64>,
    /// `(loan index, asset, units, haircut)`, at most one per loan.
    pledges: Vec<(usize, u32, f64, f64)>,
    /// `(firm, asset, units)`.
    holdings: Vec<(u32, u32, f64)>,
    /// Shocks.
    hits: Vec<Hit>,
}

fn firm_id(i: u32) -> String {
    format!("f{i}")
}

fn asset_id(a: u32) -> String {
    format!("a{a}")
}

fn shock(h: Hit) -> Shock {
    match h {
        Hit::Fail(i) => Shock::Default { firm: firm_id(i) },
        Hit::Lose(i, a) => Shock::AssetLoss {
            firm: firm_id(i),
            loss: Loss::Amount(a),
        },
        Hit::LoseFraction(i, f) => Shock::AssetLoss {
            firm: firm_id(i),
            loss: Loss::Fraction(f),
        },
        Hit::Fall(a, c) => Shock::Price {
            asset: asset_id(a),
            change: c,
        },
    }
}

impl Spec {
    fn n(&self) -> usize {
        self.firms.len()
    }

    /// The same system with the firm table in reverse order (firm `i` becomes `n − 1 − i`);
    /// every other table keeps its order.
    fn reversed(&self) -> Spec {
        let last = self.n() as u32 - 1;
        let r = |i: u32| last - i;
        Spec {
            firms: self.firms.iter().rev().copied().collect(),
            loans: self
                .loans
                .iter()
                .map(|&(d, c, amount, kind)| (r(d), r(c), amount, kind))
                .collect(),
            stakes: self
                .stakes
                .iter()
                .map(|&(holder, issuer, book)| (r(holder), r(issuer), book))
                .collect(),
            prices: self.prices.clone(),
            pledges: self.pledges.clone(),
            holdings: self
                .holdings
                .iter()
                .map(|&(f, a, units)| (r(f), a, units))
                .collect(),
            hits: self
                .hits
                .iter()
                .map(|&h| match h {
                    Hit::Fail(i) => Hit::Fail(r(i)),
                    Hit::Lose(i, a) => Hit::Lose(r(i), a),
                    Hit::LoseFraction(i, f) => Hit::LoseFraction(r(i), f),
                    Hit::Fall(a, c) => Hit::Fall(a, c),
                })
                .collect(),
        }
    }

    fn network(&self) -> Network {
        let firms = self
            .firms
            .iter()
            .enumerate()
            .map(|(i, &(cash, other, ext))| Firm {
                other_assets: other,
                ..firm(&firm_id(i as u32), cash, ext)
            })
            .collect();
        let mut exposures: Vec<Exposure> = self
            .loans
            .iter()
            .map(|&(debtor, creditor, amount, kind)| Exposure {
                creditor,
                debtor,
                kind,
                amount,
            })
            .collect();
        exposures.extend(
            self.stakes
                .iter()
                .map(|&(holder, issuer, amount)| Exposure {
                    creditor: holder,
                    debtor: issuer,
                    kind: ExposureKind::Equity,
                    amount,
                }),
        );
        let collateral = self
            .pledges
            .iter()
            .map(|&(loan, asset, units, haircut)| Collateral {
                exposure: loan as u32,
                asset,
                units,
                haircut,
            })
            .collect();
        let assets = self
            .prices
            .iter()
            .enumerate()
            .map(|(a, &price)| Asset {
                id: asset_id(a as u32),
                name: asset_id(a as u32),
                price,
                depth: None,
                extra: vec![],
            })
            .collect();
        let holdings = self
            .holdings
            .iter()
            .map(|&(firm, asset, units)| Holding { firm, asset, units })
            .collect();
        Network::from_parts(Parts {
            firms,
            exposures,
            collateral,
            assets,
            holdings,
            ..Default::default()
        })
        .expect("generated network is valid")
    }

    fn shocks(&self) -> Vec<Shock> {
        self.hits.iter().copied().map(shock).collect()
    }
}

/// An amount in `[0, hi)`, exactly zero with weight `zeros` against 4.
fn amount_with(zeros: u32, hi: f64) -> impl Strategy<Value = f64> {
    prop_oneof![zeros => Just(0.0), 4 => 0.0..hi]
}

/// An amount in `[0, hi)`, exactly zero one time in five.
fn amount(hi: f64) -> impl Strategy<Value = f64> {
    amount_with(1, hi)
}

/// A loan amount in `[0, 100)`: exactly zero one time in five, or, when `tiny`, zero one
/// time in six and below 0.01 one time in six (tiny exposures make cycles that leak almost
/// nothing).
fn loan_amount(tiny: bool) -> impl Strategy<Value = f64> {
    prop_oneof![
        1 => Just(0.0),
        u32::from(tiny) => 0.0..0.01f64,
        4 => 0.0..100.0f64,
    ]
}

fn debt_kind() -> impl Strategy<Value = ExposureKind> {
    prop_oneof![
        6 => Just(ExposureKind::Loan),
        1 => Just(ExposureKind::Deposit),
        1 => Just(ExposureKind::Bond),
        1 => Just(ExposureKind::CreditLine),
        1 => Just(ExposureKind::Derivative),
    ]
}

fn hit(n: u32, m: u32) -> impl Strategy<Value = Hit> {
    prop_oneof![
        1 => (0..n).prop_map(Hit::Fail),
        2 => (0..n, 0.0..150.0).prop_map(|(i, a)| Hit::Lose(i, a)),
        1 => (0..n, 0.0..=1.0).prop_map(|(i, f)| Hit::LoseFraction(i, f)),
        2 => (0..m, -1.0..=0.0).prop_map(|(a, c)| Hit::Fall(a, c)),
    ]
}

/// How a generated network is laid out.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Layout {
    /// Most firms have assets and liabilities; up to three loans per firm.
    Dense,
    /// Most balance-sheet amounts are zero and at most one firm holds an asset.
    Sparse,
    /// Sparser still, and every loan stays inside a block of two (even `n`) or three (odd
    /// `n`) consecutive firms: closed cycles of firms with no external assets (several
    /// clearing vectors) are common.
    Blocks,
}

/// Creditor of a loan from `debtor`, `off` in `1..n` picking among the candidates.
fn creditor(layout: Layout, n: u32, debtor: u32, off: u32) -> u32 {
    let k = 2 + n % 2;
    let start = debtor / k * k;
    let size = k.min(n - start);
    if layout == Layout::Blocks && size > 1 {
        start + (debtor - start + 1 + off % (size - 1)) % size
    } else {
        (debtor + off) % n
    }
}

/// Networks of 2–12 firms with 1–2 assets, random loans between distinct firms, and
/// (as `feat` allows) equity stakes and secured loans, plus 0–3 shocks. Half are dense, a
/// quarter sparse, a quarter in blocks.
fn spec(feat: Features) -> impl Strategy<Value = Spec> {
    spec_with(feat, [2, 1, 1])
}

/// As [`spec`], with the layouts drawn with weights `[dense, sparse, blocks]`.
fn spec_with(feat: Features, weights: [u32; 3]) -> impl Strategy<Value = Spec> {
    let layout = prop_oneof![
        weights[0] => Just(Layout::Dense),
        weights[1] => Just(Layout::Sparse),
        weights[2] => Just(Layout::Blocks),
    ];
    (2u32..=12, 1u32..=2, layout).prop_flat_map(move |(n, m, layout)| {
        let nn = n as usize;
        let dense = layout == Layout::Dense;
        let z = match layout {
            Layout::Dense => 1,
            Layout::Sparse => 8,
            Layout::Blocks => 20,
        };
        let firms = prop::collection::vec(
            (
                amount_with(z, 60.0),
                amount_with(z, 60.0),
                amount_with(z, 120.0),
            ),
            nn,
        );
        let loans = prop::collection::vec(
            (0..n, 1..n, loan_amount(feat.tiny), debt_kind()),
            match layout {
                Layout::Dense => 0..=3 * nn,
                Layout::Sparse => 0..=nn + 1,
                Layout::Blocks => 0..=2 * nn,
            },
        );
        let stakes = prop::collection::vec(
            (0..n, 1..n, amount(50.0)),
            0..=if feat.stakes { 3 } else { 0 },
        );
        let prices = prop::collection::vec(0.5..20.0f64, m as usize);
        let pledges = prop::collection::vec(
            (
                any::<Index>(),
                0..m,
                0.0..20.0f64,
                prop_oneof![Just(0.0), 0.0..0.9f64],
            ),
            0..=if feat.collateral { 3 } else { 0 },
        );
        let holdings =
            prop::collection::vec((0..n, 0..m, 0.0..10.0f64), 0..=if dense { nn } else { 1 });
        let hits = prop::collection::vec(hit(n, m), 0..=3);
        (firms, loans, stakes, prices, pledges, holdings, hits).prop_map(
            move |(firms, loans, stakes, prices, pledges, holdings, hits)| {
                let loans: Vec<_> = loans
                    .into_iter()
                    .map(|(d, off, a, k)| (d, creditor(layout, n, d, off), a, k))
                    .collect();
                let stakes = stakes
                    .into_iter()
                    .map(|(h, off, a)| (h, (h + off) % n, a))
                    .collect();
                let mut pledged: Vec<(usize, u32, f64, f64)> = Vec::new();
                if !loans.is_empty() {
                    for (ix, a, u, h) in pledges {
                        let k = ix.index(loans.len());
                        if pledged.iter().all(|p| p.0 != k) {
                            pledged.push((k, a, u, h));
                        }
                    }
                }
                Spec {
                    firms,
                    loans,
                    stakes,
                    prices,
                    pledges: pledged,
                    holdings,
                    hits,
                }
            },
        )
    })
}

/// A default-cost parameter: 1 (no cost) a third of the time, else in `(0, 1]`.
fn cost() -> impl Strategy<Value = f64> {
    prop_oneof![1 => Just(1.0), 2 => 0.05..=1.0f64]
}

fn seniority() -> impl Strategy<Value = Seniority> {
    prop_oneof![Just(Seniority::PariPassu), Just(Seniority::Senior)]
}

fn solver() -> impl Strategy<Value = Solver> {
    prop_oneof![
        Just(Solver::Auto),
        Just(Solver::Exact),
        Just(Solver::Iterative)
    ]
}

fn settings_with(alpha: f64, beta: f64, external: Seniority, solver: Solver) -> Settings {
    Settings {
        alpha,
        beta,
        external,
        solver,
        tolerance: ENGINE_TOL,
        ..Settings::default()
    }
}

/// Any settings with the greatest vector.
fn settings() -> impl Strategy<Value = Settings> {
    (cost(), cost(), seniority(), solver()).prop_map(|(a, b, x, s)| settings_with(a, b, x, s))
}

/// Eisenberg–Noe settings (no default costs).
fn en_settings() -> impl Strategy<Value = Settings> {
    (seniority(), solver()).prop_map(|(x, s)| settings_with(1.0, 1.0, x, s))
}

fn run(net: &Network, shocks: &[Shock], s: &Settings) -> (Marks, Clearing) {
    let marks = Marks::apply(net, shocks).expect("generated shocks are valid");
    let out = clear(net, &marks, s);
    (marks, out)
}

// ---------------------------------------------------------------------------------------
// Second implementation: dense, naive
// ---------------------------------------------------------------------------------------

/// The clearing problem in dense form, built from the network and the marks alone.
struct Dense {
    n: usize,
    alpha: f64,
    beta: f64,
    /// Firms that failed outright.
    failed: Vec<bool>,
    /// External assets the firm keeps: cash, other assets, holdings and the surplus of its
    /// pledged collateral at post-shock prices (nothing when it failed outright).
    own: Vec<f64>,
    /// Paid from collateral the firm pledged.
    cover_paid: Vec<f64>,
    /// Received from collateral pledged to the firm.
    cover_recv: Vec<f64>,
    /// `(holder, issuer, book value)`.
    stakes: Vec<(usize, usize, f64)>,
    /// Book equity at the network's own prices, every claim at face value.
    equity_before: Vec<f64>,
    /// Everything owed: debt at face value plus external liabilities.
    obligations: Vec<f64>,
    ext_liab: Vec<f64>,
    pbar: Vec<f64>,
    senior: Vec<f64>,
    /// `Π` row-major: `pi[i * n + j]` is the share of `p̄_i` owed to `j`.
    pi: Vec<f64>,
}

/// The greatest fixed point found by [`Dense::greatest`].
#[derive(Debug)]
struct Solution {
    p: Vec<f64>,
    defaulted: Vec<bool>,
    equity: Vec<f64>,
    payments: Vec<f64>,
    sweeps: usize,
}

impl Dense {
    fn new(net: &Network, marks: &Marks, s: &Settings) -> Self {
        let n = net.n_firms();
        let firms = net.firms();
        let exposures = net.exposures();
        let book: Vec<f64> = net.assets().iter().map(|a| a.price).collect();
        let failed = marks.failed.clone();
        let mut own = vec![0.0; n];
        let mut equity_before = vec![0.0; n];
        let mut obligations = vec![0.0; n];
        let ext_liab: Vec<f64> = firms.iter().map(|f| f.external_liabilities).collect();
        for i in 0..n {
            if !failed[i] {
                own[i] = marks.cash[i] + marks.other_assets[i];
            }
            equity_before[i] = firms[i].cash + firms[i].other_assets - ext_liab[i];
            obligations[i] = ext_liab[i];
        }
        for h in net.holdings() {
            let i = h.firm as usize;
            if !failed[i] {
                own[i] += h.units * marks.prices[h.asset as usize];
            }
            equity_before[i] += h.units * book[h.asset as usize];
        }
        let mut unsecured = vec![0.0; exposures.len()];
        let mut stakes = Vec::new();
        for (k, e) in exposures.iter().enumerate() {
            let (d, c) = (e.debtor as usize, e.creditor as usize);
            equity_before[c] += e.amount;
            if e.kind == ExposureKind::Equity {
                stakes.push((c, d, e.amount));
            } else {
                equity_before[d] -= e.amount;
                obligations[d] += e.amount;
                unsecured[k] = e.amount;
            }
        }
        let mut cover_paid = vec![0.0; n];
        let mut cover_recv = vec![0.0; n];
        for c in net.collateral() {
            let k = c.exposure as usize;
            let e = exposures[k];
            let (d, cr) = (e.debtor as usize, e.creditor as usize);
            let market = c.units * marks.prices[c.asset as usize];
            let cover = (market * (1.0 - c.haircut)).min(e.amount);
            unsecured[k] -= cover;
            cover_paid[d] += cover;
            cover_recv[cr] += cover;
            if !failed[d] {
                own[d] += market - cover;
            }
            equity_before[d] += c.units * book[c.asset as usize];
        }
        let senior_ext = s.external == Seniority::Senior;
        let mut pbar = vec![0.0; n];
        for (k, e) in exposures.iter().enumerate() {
            pbar[e.debtor as usize] += unsecured[k];
        }
        let senior: Vec<f64> = (0..n)
            .map(|i| if senior_ext { ext_liab[i] } else { 0.0 })
            .collect();
        if !senior_ext {
            for i in 0..n {
                pbar[i] += ext_liab[i];
            }
        }
        let mut pi = vec![0.0; n * n];
        for (k, e) in exposures.iter().enumerate() {
            let d = e.debtor as usize;
            if unsecured[k] > 0.0 {
                pi[d * n + e.creditor as usize] += unsecured[k] / pbar[d];
            }
        }
        Self {
            n,
            alpha: s.alpha,
            beta: s.beta,
            failed,
            own,
            cover_paid,
            cover_recv,
            stakes,
            equity_before,
            obligations,
            ext_liab,
            pbar,
            senior,
            pi,
        }
    }

    /// Size of firm `i` for tolerances, as the engine measures it.
    fn scale(&self, i: usize) -> f64 {
        1.0f64.max(self.pbar[i] + self.senior[i])
    }

    /// Whether the network has equity stakes or secured loans.
    fn plain(&self) -> bool {
        self.stakes.is_empty() && self.cover_paid.iter().all(|&c| c == 0.0)
    }

    /// `Πᵀp`: what each firm receives from the pro-rata pools.
    /// What each firm receives from other firms: its pro-rata share of their pool payments
    /// plus what its collateral pays it — both claims on other firms, realised at `β` in
    /// default.
    fn inflow(&self, p: &[f64]) -> Vec<f64> {
        let n = self.n;
        let mut out = self.cover_recv.clone();
        for i in 0..n {
            for j in 0..n {
                out[j] += self.pi[i * n + j] * p[i];
            }
        }
        out
    }

    /// Value of each stake given the issuers' equity: book × clamp(after / before, 0, 1).
    fn stake_values(&self, equity: &[f64]) -> Vec<f64> {
        self.stakes
            .iter()
            .map(|&(_, issuer, book)| {
                let before = self.equity_before[issuer];
                if before > 0.0 {
                    book * (equity[issuer] / before).clamp(0.0, 1.0)
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// `e`: external assets, including stakes at `values`.
    fn ext(&self, values: &[f64]) -> Vec<f64> {
        let mut e: Vec<f64> = self.own.clone();
        for (&(holder, _, _), v) in self.stakes.iter().zip(values) {
            e[holder] += v;
        }
        e
    }

    /// Surplus of firm `i` if it paid in full.
    fn surplus(&self, i: usize, ext: &[f64], inflow: &[f64]) -> f64 {
        ext[i] + inflow[i] - self.senior[i] - self.pbar[i]
    }

    /// Whether firm `i` is solvent (the engine's tolerance band included).
    fn solvent(&self, i: usize, ext: &[f64], inflow: &[f64]) -> bool {
        !self.failed[i] && self.surplus(i, ext, inflow) >= -ENGINE_TOL * self.scale(i)
    }

    /// Pool payment of a firm in default.
    fn in_default(&self, i: usize, ext: &[f64], inflow: &[f64]) -> f64 {
        (self.alpha * ext[i] - self.senior[i] + self.beta * inflow[i]).clamp(0.0, self.pbar[i])
    }

    /// What is left for shareholders: the realised value of the firm's assets (net of
    /// default costs when it is in default) less everything it owes, if positive. Zero for
    /// a firm that pays less than it owes; a firm that failed outright but can still pay in
    /// full keeps the residual.
    fn equity(&self, i: usize, solvent: bool, ext: &[f64], inflow: &[f64]) -> f64 {
        let realised = if solvent {
            ext[i] + inflow[i]
        } else {
            self.alpha * ext[i] + self.beta * inflow[i]
        };
        (realised - self.senior[i] - self.pbar[i]).max(0.0)
    }

    /// Total payments (collateral, pool and senior external creditors) of each firm.
    fn payments(&self, p: &[f64], ext: &[f64], inflow: &[f64], defaulted: &[bool]) -> Vec<f64> {
        (0..self.n)
            .map(|i| {
                let to_senior = if self.senior[i] > 0.0 {
                    let realised = if defaulted[i] {
                        self.alpha * ext[i] + self.beta * inflow[i]
                    } else {
                        ext[i] + inflow[i]
                    };
                    self.ext_liab[i].min(realised.max(0.0))
                } else {
                    0.0
                };
                self.cover_paid[i] + p[i] + to_senior
            })
            .collect()
    }

    /// Greatest fixed point of the joint map on payments and stake values, by plain Picard
    /// iteration from the top (`p = p̄`, stakes at book value): both only fall, and the
    /// limit of a decreasing sequence of a monotone map that is continuous from above is
    /// its greatest fixed point. Stops when no payment moves by more than `1e-14` of the
    /// firm's size.
    fn greatest(&self) -> Solution {
        let n = self.n;
        let mut p = self.pbar.clone();
        let mut values: Vec<f64> = self.stakes.iter().map(|s| s.2).collect();
        let mut sweeps = 0;
        loop {
            sweeps += 1;
            let ext = self.ext(&values);
            let inflow = self.inflow(&p);
            let mut next = vec![0.0; n];
            let mut equity = vec![0.0; n];
            for i in 0..n {
                let solvent = self.solvent(i, &ext, &inflow);
                next[i] = if solvent {
                    self.pbar[i]
                } else {
                    self.in_default(i, &ext, &inflow)
                };
                equity[i] = self.equity(i, solvent, &ext, &inflow);
            }
            // A stake keeps its value unless it moves by more than the tolerance. Without
            // this band, rounding noise at a fixed point where stakes amplify each other
            // (a gain above 1 between cross-held firms) would grow into a spurious cascade.
            let next_values: Vec<f64> = self
                .stake_values(&equity)
                .into_iter()
                .zip(&values)
                .zip(&self.stakes)
                .map(|((new, &old), s)| {
                    if (new - old).abs() > ENGINE_TOL * 1.0f64.max(s.2) {
                        new
                    } else {
                        old
                    }
                })
                .collect();
            let moved_p = (0..n)
                .map(|i| (next[i] - p[i]).abs() / self.scale(i))
                .fold(0.0, f64::max);
            let moved_v = values
                .iter()
                .zip(&next_values)
                .zip(&self.stakes)
                .map(|((a, b), s)| (a - b).abs() / 1.0f64.max(s.2))
                .fold(0.0, f64::max);
            p = next;
            values = next_values;
            if moved_p.max(moved_v) <= 1e-14 || sweeps >= 2_000_000 {
                let ext = self.ext(&values);
                let inflow = self.inflow(&p);
                let defaulted: Vec<bool> =
                    (0..n).map(|i| !self.solvent(i, &ext, &inflow)).collect();
                let equity = (0..n)
                    .map(|i| self.equity(i, !defaulted[i], &ext, &inflow))
                    .collect();
                let payments = self.payments(&p, &ext, &inflow, &defaulted);
                return Solution {
                    p,
                    defaulted,
                    equity,
                    payments,
                    sweeps,
                };
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------

fn near(what: &str, i: usize, got: f64, want: f64, tol: f64) -> Check {
    prop_assert!(
        (got - want).abs() <= tol,
        "{what} of firm {i}: got {got}, want {want} (tolerance {tol})"
    );
    Ok(())
}

/// Slack for firm `i` in the engine's output (its total obligations as the size).
/// Whether a result is one the equations must hold for: a converged one. The plain iterative
/// solver may stop at its sweep cap on a nearly closed cycle (a loop that leaks 1e-4 of its
/// flow per sweep needs about 200,000 sweeps to reach 1e-9) and reports `converged: false`;
/// bounds for such results are property 1's, which also demands convergence of the exact
/// solvers on its own cases. (The other solvers converged on every case of seeds 1–260 once
/// payments and stakes that rest on each other were solved together; see
/// `a_defaulter_paying_from_a_stake_in_its_creditor_settles`. They are still only skipped
/// here, not failed, as a guard against a rare case no seed has shown.)
fn settled(out: &Clearing) -> bool {
    out.converged
}

fn slack(out: &Clearing, i: usize) -> f64 {
    SLACK * 1.0f64.max(out.obligations[i])
}

fn default_set(flags: &[bool]) -> Vec<usize> {
    (0..flags.len()).filter(|&i| flags[i]).collect()
}

/// Checks the output against the model's equations, given the default flags it reports:
/// solvent firms pay their pool in full and keep a non-negative surplus, firms in default
/// pay `clamp(α e − s + β Πᵀp, 0, p̄)` and have no surplus, stakes are valued from the
/// reported equity, equity and total payments follow, and nobody pays more than it has.
fn check_equations(d: &Dense, out: &Clearing) -> Check {
    let p = &out.pool_payments;
    let values = d.stake_values(&out.equity_after);
    let ext = d.ext(&values);
    let inflow = d.inflow(p);
    let payments = d.payments(p, &ext, &inflow, &out.defaulted);
    for i in 0..d.n {
        let tol = SLACK * d.scale(i);
        near(
            "pool obligation",
            i,
            out.pool_obligations[i],
            d.pbar[i],
            tol,
        )?;
        near("obligations", i, out.obligations[i], d.obligations[i], tol)?;
        near(
            "equity before",
            i,
            out.equity_before[i],
            d.equity_before[i],
            SLACK * 1.0f64.max(d.obligations[i] + d.equity_before[i].abs()),
        )?;
        let surplus = d.surplus(i, &ext, &inflow);
        if out.defaulted[i] {
            let want = d.in_default(i, &ext, &inflow);
            near("pool payment in default", i, p[i], want, tol)?;
            prop_assert!(
                d.failed[i] || surplus < tol,
                "firm {i} in default has surplus {surplus}"
            );
            prop_assert!(
                p[i] >= d.pbar[i] - tol || out.equity_after[i] == 0.0,
                "firm {i} pays {} of {} and keeps {}",
                p[i],
                d.pbar[i],
                out.equity_after[i]
            );
        } else {
            prop_assert!(
                !d.failed[i],
                "firm {i} failed outright but is not in default"
            );
            near("pool payment of a solvent firm", i, p[i], d.pbar[i], tol)?;
            prop_assert!(surplus >= -tol, "solvent firm {i} has surplus {surplus}");
        }
        let equity = d.equity(i, !out.defaulted[i], &ext, &inflow);
        near("equity after", i, out.equity_after[i], equity, tol)?;
        near(
            "interbank receipts",
            i,
            out.interbank_receipts[i],
            inflow[i],
            tol,
        )?;
        near("payments", i, out.payments[i], payments[i], slack(out, i))?;
        let resources = d.cover_paid[i] + ext[i] + inflow[i];
        prop_assert!(
            out.payments[i] <= resources + slack(out, i),
            "firm {i} pays {} but has only {resources}",
            out.payments[i]
        );
    }
    Ok(())
}

/// The default-round bookkeeping agrees with the default flags.
fn check_rounds(out: &Clearing) -> Check {
    let n = out.defaulted.len();
    for i in 0..n {
        prop_assert_eq!(
            out.defaulted[i],
            out.default_round[i].is_some(),
            "firm {}",
            i
        );
    }
    let mut listed = vec![false; n];
    for r in &out.rounds {
        for &i in &r.defaults {
            prop_assert!(!listed[i as usize], "firm {} listed in two rounds", i);
            listed[i as usize] = true;
            prop_assert_eq!(out.default_round[i as usize], Some(r.round));
        }
    }
    prop_assert_eq!(listed, out.defaulted.clone());
    Ok(())
}

// ---------------------------------------------------------------------------------------
// A large network for the thread-count test
// ---------------------------------------------------------------------------------------

/// A 64-bit linear congruential generator (Knuth's MMIX constants): deterministic data
/// without a random-number crate.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        self.next() as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..k`.
    fn below(&mut self, k: usize) -> usize {
        (self.unit() * k as f64) as usize
    }
}

/// `n` firms, each owing 3 others; most are thinly capitalised, so that a few outright
/// failures and a price fall push most of the system into default. A few secured loans and
/// equity stakes exercise every part of the engine.
fn large(n: usize) -> (Network, Vec<Shock>) {
    let mut rng = Lcg(0x5eed_2022_1108);
    let firms = (0..n)
        .map(|i| Firm {
            other_assets: 20.0 * rng.unit(),
            ..firm(
                &firm_id(i as u32),
                30.0 * rng.unit(),
                40.0 + 60.0 * rng.unit(),
            )
        })
        .collect();
    let mut exposures = Vec::with_capacity(3 * n + n / 50);
    for d in 0..n {
        for _ in 0..3 {
            let c = (d + 1 + rng.below(n - 1)) % n;
            exposures.push(Exposure {
                creditor: c as u32,
                debtor: d as u32,
                kind: ExposureKind::Loan,
                amount: 1.0 + 29.0 * rng.unit(),
            });
        }
    }
    let collateral = (0..n / 50)
        .map(|k| Collateral {
            exposure: (k * 150) as u32,
            asset: 0,
            units: 5.0 * rng.unit(),
            haircut: 0.2,
        })
        .collect();
    for _ in 0..n / 50 {
        let holder = rng.below(n);
        let issuer = (holder + 1 + rng.below(n - 1)) % n;
        exposures.push(Exposure {
            creditor: holder as u32,
            debtor: issuer as u32,
            kind: ExposureKind::Equity,
            amount: 10.0 * rng.unit(),
        });
    }
    let holdings = (0..n / 10)
        .map(|_| Holding {
            firm: rng.below(n) as u32,
            asset: 0,
            units: 10.0 * rng.unit(),
        })
        .collect();
    let assets = vec![Asset {
        id: asset_id(0),
        name: asset_id(0),
        price: 2.0,
        depth: None,
        extra: vec![],
    }];
    let net = Network::from_parts(Parts {
        firms,
        exposures,
        collateral,
        assets,
        holdings,
        ..Default::default()
    })
    .expect("valid network");
    let mut shocks: Vec<Shock> = (0..10).map(|k| shock(Hit::Fail(k * 97))).collect();
    shocks.push(shock(Hit::Fall(0, -0.8)));
    (net, shocks)
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

/// `cases` random cases per property; no regression files are written (the minimal cases
/// found so far are plain tests at the end of this file), and shrinking a failure stops
/// after 5 s so that a failing run stays short.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_time: 5_000,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// The order of the firm table does not matter: with it reversed, every firm defaults or
    /// not in the same wave, pays the same and keeps the same equity (converged results, any
    /// default costs, seniority and solver).
    #[test]
    fn firm_order_does_not_matter(spec in spec(FULL), s in settings()) {
        let (net, rev) = (spec.network(), spec.reversed().network());
        let a = run(&net, &spec.shocks(), &s).1;
        let b = run(&rev, &spec.reversed().shocks(), &s).1;
        if !(settled(&a) && settled(&b)) {
            return Ok(());
        }
        let n = spec.n();
        for i in 0..n {
            let j = n - 1 - i;
            prop_assert_eq!(a.defaulted[i], b.defaulted[j], "firm {}", i);
            prop_assert_eq!(a.default_round[i], b.default_round[j], "firm {}", i);
            for (what, x, y) in [
                ("payment", a.payments[i], b.payments[j]),
                ("equity", a.equity_after[i], b.equity_after[j]),
            ] {
                prop_assert!((x - y).abs() <= 1e-9 * a.obligations[i].max(1.0), "firm {} {}: {} or {}", i, what, x, y);
            }
        }
    }

    /// Property 1. Every firm pays between nothing and what it owes, in total and to the
    /// pro-rata pool, whatever the default costs, seniority and solver; everything is
    /// finite, the engine converges (whenever an exact solve is available, i.e. not with the
    /// iterative solver alone) and the round bookkeeping is consistent.
    ///
    /// Once broken on nearly closed cycles: see
    /// `cycle_that_leaks_almost_nothing_clears_exactly` and the cross-holding cases.
    #[test]
    fn payments_within_zero_and_obligations(spec in spec(FULL), s in settings()) {
        let net = spec.network();
        let (_, out) = run(&net, &spec.shocks(), &s);
        if s.solver != Solver::Iterative {
            prop_assert!(out.converged, "not converged after {} sweeps", out.iterations);
        }
        for i in 0..spec.n() {
            let tol = slack(&out, i);
            let p = out.payments[i];
            prop_assert!(p.is_finite() && out.equity_after[i].is_finite());
            prop_assert!(p >= 0.0, "firm {} pays {}", i, p);
            prop_assert!(
                p <= out.obligations[i] + tol,
                "firm {} pays {} of {}", i, p, out.obligations[i]
            );
            let q = out.pool_payments[i];
            prop_assert!(
                q >= 0.0 && q <= out.pool_obligations[i] + tol,
                "pool: firm {} pays {} of {}", i, q, out.pool_obligations[i]
            );
            let ib = out.interbank_payments[i];
            prop_assert!(ib >= 0.0 && ib <= p + tol, "firm {} pays {} inside of {}", i, ib, p);
            prop_assert!(out.equity_after[i] >= 0.0);
        }
        check_rounds(&out)?;
    }

    /// Property 2. Absolute priority and limited liability under Eisenberg–Noe (α = β = 1):
    /// the reported pool payments are a fixed point of `Φ(p) = min(p̄, max(0, e − s + Πᵀp))`
    /// recomputed densely from the network; every firm either pays in full or pays out
    /// everything it has (`payment = min(obligations, resources)`, equity 0); what it has
    /// is what it pays plus what it keeps.
    ///
    /// Demanded of converged results only (see [`settled`]).
    ///
    /// Once broken when a firm held a stake in a firm that failed outright: see
    /// `stake_in_a_failed_issuer_follows_its_reported_equity`.
    #[test]
    fn absolute_priority_and_limited_liability(spec in spec(FULL), s in en_settings()) {
        let net = spec.network();
        let (marks, out) = run(&net, &spec.shocks(), &s);
        if !settled(&out) {
            return Ok(());
        }
        let d = Dense::new(&net, &marks, &s);
        let p = &out.pool_payments;
        let ext = d.ext(&d.stake_values(&out.equity_after));
        let inflow = d.inflow(p);
        for i in 0..spec.n() {
            let tol = slack(&out, i);
            let phi = (ext[i] - d.senior[i] + inflow[i]).max(0.0).min(d.pbar[i]);
            near("p − Φ(p)", i, p[i], phi, SLACK * d.scale(i))?;
            if d.plain() && s.external == Seniority::PariPassu {
                let want = d.pbar[i].min(ext[i] + inflow[i]);
                near("pool payment", i, p[i], want, SLACK * d.scale(i))?;
            }
            let resources = d.cover_paid[i] + ext[i] + inflow[i];
            let (paid, owed, kept) = (out.payments[i], out.obligations[i], out.equity_after[i]);
            near("payment", i, paid, owed.min(resources), tol)?;
            prop_assert!(
                paid >= owed - tol || kept == 0.0,
                "firm {} pays {} of {} and keeps {}", i, paid, owed, kept
            );
            near(
                "resources − payment − equity",
                i,
                resources - out.payments[i] - out.equity_after[i],
                0.0,
                tol,
            )?;
        }
        check_equations(&d, &out)?;
    }

    /// Property 2, with default costs: the output satisfies the Rogers–Veraart equations
    /// for the default set it reports (solvent firms pay in full; firms in default pay
    /// `clamp(α e − s + β Πᵀp, 0, p̄)` and really are short), and nobody pays more than it
    /// has.
    ///
    /// Once broken when a firm held a stake in a firm that failed outright: see
    /// `stake_in_a_failed_issuer_follows_its_reported_equity`.
    #[test]
    fn default_cost_equations_hold(spec in spec(FULL), s in settings()) {
        let net = spec.network();
        let (marks, out) = run(&net, &spec.shocks(), &s);
        if !settled(&out) {
            return Ok(());
        }
        check_equations(&Dense::new(&net, &marks, &s), &out)?;
    }

    /// Property 3. Conservation: what firms pay to creditors inside the network is what
    /// firms inside the network receive.
    #[test]
    fn interbank_payments_are_received(spec in spec(FULL), s in settings()) {
        let net = spec.network();
        let (_, out) = run(&net, &spec.shocks(), &s);
        let paid: f64 = out.interbank_payments.iter().sum();
        let received: f64 = out.interbank_receipts.iter().sum();
        prop_assert!(
            (paid - received).abs() <= 1e-9 * 1.0f64.max(paid.abs()),
            "paid {} but received {}", paid, received
        );
    }

    /// Property 4a. A bigger asset loss (and any further shocks on top) never raises a
    /// payment or an equity and never removes a default (of results that [`settled`]).
    ///
    /// Once broken when the further shocks included a price fall of collateral received by
    /// a firm in default with α < β: see
    /// `price_fall_on_collateral_received_by_a_defaulter_is_monotone`.
    #[test]
    fn monotone_in_asset_loss(
        spec in spec(FULL),
        s in settings(),
        who in any::<Index>(),
        loss in 0.0..100.0f64,
        more in amount(100.0),
        extra in prop::collection::vec((any::<Index>(), 0u8..3, 0.0..=1.0f64), 0..=2),
    ) {
        let net = spec.network();
        let n = spec.n();
        let f = who.index(n) as u32;
        let mut small = spec.hits.clone();
        small.push(Hit::Lose(f, loss));
        let mut big = spec.hits.clone();
        big.push(Hit::Lose(f, loss + more));
        for (ix, kind, x) in extra {
            let i = ix.index(n) as u32;
            big.push(match kind {
                0 => Hit::Fail(i),
                1 => Hit::LoseFraction(i, x),
                _ => Hit::Fall(ix.index(spec.prices.len()) as u32, -x),
            });
        }
        let small = run(&net, &small.into_iter().map(shock).collect::<Vec<_>>(), &s).1;
        let big = run(&net, &big.into_iter().map(shock).collect::<Vec<_>>(), &s).1;
        if !(settled(&small) && settled(&big)) {
            return Ok(());
        }
        check_dominated(&big, &small)?;
    }

    /// Property 4b. A larger price fall never raises a payment or an equity and never
    /// removes a default (secured creditors lose cover, pledgers and holders lose value; of
    /// results that [`settled`]).
    ///
    /// Once broken when a firm in default received collateral and α < β: see
    /// `price_fall_on_collateral_received_by_a_defaulter_is_monotone`.
    #[test]
    fn monotone_in_price_fall(
        spec in spec(FULL),
        s in settings(),
        asset in any::<Index>(),
        fall in -1.0..=0.0f64,
        more in 0.0..=1.0f64,
    ) {
        let net = spec.network();
        let a = asset.index(spec.prices.len()) as u32;
        let mut small = spec.hits.clone();
        small.push(Hit::Fall(a, fall));
        let mut big = spec.hits.clone();
        big.push(Hit::Fall(a, (fall - more).max(-1.0)));
        let small = run(&net, &small.into_iter().map(shock).collect::<Vec<_>>(), &s).1;
        let big = run(&net, &big.into_iter().map(shock).collect::<Vec<_>>(), &s).1;
        if !(settled(&small) && settled(&big)) {
            return Ok(());
        }
        check_dominated(&big, &small)?;
    }

    /// Property 6. The exact and the iterative solvers agree: payments to
    /// `1e-9 · max(1, p̄)`, the same default set, the same rounds.
    #[test]
    fn exact_and_iterative_solvers_agree(spec in spec(FULL), s in settings()) {
        let net = spec.network();
        let with = |solver| Settings { solver, ..s.clone() };
        let exact = run(&net, &spec.shocks(), &with(Solver::Exact)).1;
        let iter = run(&net, &spec.shocks(), &with(Solver::Iterative)).1;
        prop_assert!(exact.converged);
        // Sweeps alone may run out of budget on nearly closed cycles; that is reported.
        if !iter.converged {
            return Ok(());
        }
        for i in 0..spec.n() {
            let tol = SLACK * 1.0f64.max(exact.pool_obligations[i]);
            near("payment", i, iter.payments[i], exact.payments[i], tol)?;
            near("pool payment", i, iter.pool_payments[i], exact.pool_payments[i], tol)?;
        }
        prop_assert_eq!(&iter.defaulted, &exact.defaulted);
        prop_assert_eq!(&iter.default_round, &exact.default_round);
        let rounds = |c: &Clearing| {
            c.rounds.iter().map(|r| (r.round, r.defaults.clone())).collect::<Vec<_>>()
        };
        prop_assert_eq!(rounds(&iter), rounds(&exact));
    }

    /// Property 7. Without default costs the least clearing vector is below the greatest,
    /// firm by firm; both are fixed points; equity is the same under both (Eisenberg & Noe
    /// 2001, Theorem 1); firms in default under the greatest are in default under the least;
    /// and the firms reported as differing are those whose payments differ. Networks are
    /// mostly laid out in blocks, where several clearing vectors are common.
    #[test]
    fn least_below_greatest(
        spec in spec_with(WELL_CONDITIONED, [1, 1, 6]),
        s in en_settings(),
    ) {
        let net = spec.network();
        let (marks, greatest) = run(&net, &spec.shocks(), &s);
        let least_settings = Settings { vector: Vector::Least, ..s.clone() };
        let (_, least) = run(&net, &spec.shocks(), &least_settings);
        prop_assert!(least.least_checked);
        prop_assert!(greatest.converged);
        // Known limit (about 1 case in 6000): a cycle whose only outside value is a near-zero
        // stake has its least vector at a cap that the upward iteration reaches only after
        // ~1/ε sweeps and that the exact solve cannot see (the cycle's system is singular).
        // The engine then reports `converged: false` rather than a wrong vector; such cases
        // are set aside here.
        prop_assume!(least.converged);
        let d = Dense::new(&net, &marks, &s);
        let ext = d.ext(&d.stake_values(&least.equity_after));
        let inflow = d.inflow(&least.pool_payments);
        for i in 0..spec.n() {
            let tol = SLACK * d.scale(i);
            let (q, p) = (least.pool_payments[i], greatest.pool_payments[i]);
            prop_assert!(q <= p + tol, "firm {}: least {} above greatest {}", i, q, p);
            prop_assert!(least.payments[i] <= greatest.payments[i] + slack(&greatest, i));
            let phi = (ext[i] - d.senior[i] + inflow[i]).max(0.0).min(d.pbar[i]);
            near("least: q − Φ(q)", i, q, phi, tol)?;
            let (kept_least, kept) = (least.equity_after[i], greatest.equity_after[i]);
            near("equity under least vs greatest", i, kept_least, kept, tol)?;
            prop_assert!(
                !greatest.defaulted[i] || least.defaulted[i],
                "firm {} in default only under the greatest", i
            );
            let listed = least.differs_from_least.contains(&(i as u32));
            if (p - q).abs() > 1e-7 * d.scale(i) {
                prop_assert!(listed, "firm {} differs ({} vs {}) but is not listed", i, p, q);
            }
            if listed {
                prop_assert!(
                    (p - q).abs() > 1e-11 * d.scale(i),
                    "firm {} listed but does not differ", i
                );
            }
        }
    }

    /// Property 8. Against a second implementation: for pari-passu Eisenberg–Noe without
    /// collateral or stakes, plain Picard iteration `p ← min(p̄, max(0, e + Πᵀp))` from
    /// `p̄` gives the greatest clearing vector; the engine agrees to `1e-8` (when it
    /// [`settled`]).
    #[test]
    fn matches_picard_iteration(spec in spec(PLAIN), solver in solver()) {
        let s = settings_with(1.0, 1.0, Seniority::PariPassu, solver);
        let net = spec.network();
        let (marks, out) = run(&net, &spec.shocks(), &s);
        if !settled(&out) {
            return Ok(());
        }
        let d = Dense::new(&net, &marks, &s);
        prop_assert!(d.plain());
        let n = spec.n();
        let mut p = d.pbar.clone();
        let e: Vec<f64> = (0..n).map(|i| d.own[i]).collect();
        for _ in 0..2_000_000 {
            let inflow = d.inflow(&p);
            let next: Vec<f64> = (0..n)
                .map(|i| d.pbar[i].min((e[i] + inflow[i]).max(0.0)))
                .collect();
            let moved = (0..n)
                .map(|i| (next[i] - p[i]).abs() / d.scale(i))
                .fold(0.0, f64::max);
            p = next;
            if moved <= 1e-14 {
                break;
            }
        }
        for i in 0..n {
            let tol = 1e-8 * 1.0f64.max(d.pbar[i]);
            near("pool payment", i, out.pool_payments[i], p[i], tol)?;
            near("payment", i, out.payments[i], p[i], tol)?;
            if p[i] < d.pbar[i] - tol {
                prop_assert!(
                    out.defaulted[i],
                    "firm {} pays {} of {} but is not in default", i, p[i], d.pbar[i]
                );
            }
        }
    }

    /// Property 8, every feature: for any default costs, seniority, collateral and stakes,
    /// the joint Picard iteration of [`Dense::greatest`] and the engine agree on payments,
    /// default set and equity (when the engine [`settled`]).
    ///
    /// Once broken when a firm held a stake in a firm that failed outright: see
    /// `stake_in_a_failed_issuer_follows_its_reported_equity`.
    #[test]
    fn matches_dense_picard_with_every_feature(
        spec in spec(WELL_CONDITIONED),
        s in settings(),
    ) {
        let net = spec.network();
        let (marks, out) = run(&net, &spec.shocks(), &s);
        if !settled(&out) {
            return Ok(());
        }
        let d = Dense::new(&net, &marks, &s);
        let want = d.greatest();
        prop_assert!(want.sweeps < 2_000_000, "reference did not converge");
        for i in 0..spec.n() {
            let tol = 1e-8 * d.scale(i);
            near("pool payment", i, out.pool_payments[i], want.p[i], tol)?;
            let paid_tol = 1e-8 * 1.0f64.max(d.obligations[i]);
            near("payment", i, out.payments[i], want.payments[i], paid_tol)?;
            near("equity after", i, out.equity_after[i], want.equity[i], tol)?;
        }
        prop_assert_eq!(default_set(&out.defaulted), default_set(&want.defaulted));
    }

    /// Property 9. Default costs never help: with `α' ≤ α` and `β' ≤ β` every firm pays at
    /// most what it pays under `(α, β)` (in particular under Eisenberg–Noe, α = β = 1),
    /// keeps at most the same equity, and every default under `(α, β)` remains (of results
    /// that [`settled`]).
    #[test]
    fn default_costs_never_help(
        spec in spec(FULL),
        alpha in cost(),
        beta in cost(),
        shrink_a in 0.05..=1.0f64,
        shrink_b in 0.05..=1.0f64,
        x in seniority(),
        solver in solver(),
    ) {
        let net = spec.network();
        let light_settings = settings_with(alpha, beta, x, solver);
        let heavy_settings = settings_with(alpha * shrink_a, beta * shrink_b, x, solver);
        let light = run(&net, &spec.shocks(), &light_settings).1;
        let heavy = run(&net, &spec.shocks(), &heavy_settings).1;
        if !(settled(&light) && settled(&heavy)) {
            return Ok(());
        }
        check_dominated(&heavy, &light)?;
    }
}

/// `low` is the outcome of a harsher world than `high`: no payment or equity above, and
/// every default of `high` present.
fn check_dominated(low: &Clearing, high: &Clearing) -> Check {
    for i in 0..low.payments.len() {
        let tol = slack(high, i).max(slack(low, i));
        prop_assert!(
            low.payments[i] <= high.payments[i] + tol,
            "firm {i} pays {} in the harsher case, {} in the milder",
            low.payments[i],
            high.payments[i]
        );
        prop_assert!(
            low.equity_after[i] <= high.equity_after[i] + tol,
            "firm {i} keeps {} in the harsher case, {} in the milder",
            low.equity_after[i],
            high.equity_after[i]
        );
        prop_assert!(
            !high.defaulted[i] || low.defaulted[i],
            "firm {i} defaults in the milder case only"
        );
    }
    Ok(())
}

/// Property 5. The engine's parallel loops (above 4096 firms) write per-firm slots and sum
/// in input order, so the whole result is bit-identical on 1, 2 and 4 threads.
#[test]
fn identical_whatever_the_thread_count() {
    let n = 6000;
    let (net, shocks) = large(n);
    let marks = Marks::apply(&net, &shocks).expect("valid shocks");
    let cases = [
        settings_with(1.0, 1.0, Seniority::PariPassu, Solver::Auto),
        settings_with(0.6, 0.9, Seniority::Senior, Solver::Auto),
        Settings {
            vector: Vector::Least,
            ..settings_with(1.0, 1.0, Seniority::Senior, Solver::Iterative)
        },
    ];
    for s in &cases {
        let on = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool")
                .install(|| clear(&net, &marks, s))
        };
        let one = on(1);
        let defaults = one.defaulted.iter().filter(|&&d| d).count();
        assert!(
            defaults >= 4096,
            "only {defaults} defaults: the parallel solve would not run ({s:?})"
        );
        assert!(one.converged, "{s:?}");
        assert!(one.rounds.len() >= 2, "{s:?}");
        for threads in [2, 4] {
            assert!(
                on(threads) == one,
                "{threads} threads differ from 1 ({s:?})"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Minimal cases found by the properties above, derived by hand
// ---------------------------------------------------------------------------------------

/// A small network: firms `(cash, other assets, external liabilities)`, loans `(debtor,
/// creditor, amount)`, plus `pledges` and `stakes` as in [`Spec`].
fn small(
    firms: &[(f64, f64, f64)],
    loans: &[(u32, u32, f64)],
    pledges: &[(usize, u32, f64, f64)],
    stakes: &[(u32, u32, f64)],
    prices: &[f64],
) -> Spec {
    Spec {
        firms: firms.to_vec(),
        loans: loans
            .iter()
            .map(|&(d, c, a)| (d, c, a, ExposureKind::Loan))
            .collect(),
        stakes: stakes.to_vec(),
        prices: prices.to_vec(),
        pledges: pledges.to_vec(),
        holdings: vec![],
        hits: vec![],
    }
}

/// Property 4 on three firms, with default costs α = 0.5, β = 1 (pari passu).
///
/// A (no assets) owes C 100. B (cash 30) owes A 30, secured by 10 units of an asset priced
/// 1 (no haircut). C owes 26 outside the network and has nothing else.
///
/// Before any shock: A's cover is 10; B owes 20 more to the pool and is solvent (cash 30 ≥
/// 20), so it pays A in full: A receives 30 of the 30 it is owed, owes 100, and is in
/// default. After a 50% fall of the asset: cover 5, B owes 25 to the pool, is still solvent
/// (30 ≥ 25) and again pays A all 30. A receives exactly the same amount from B in both
/// worlds, only split differently between collateral and pool, so A cannot pay more after
/// the fall, and C (which receives everything A pays) cannot leave default.
///
/// Broke an earlier engine, which applied α to collateral received (counted among
/// external assets) and β to pool receipts, so A realised 0.5·10 + 20 = 25 before the fall
/// and 0.5·5 + 25 = 27.5 after it; C goes from default (25 < 26) to solvent (27.5 ≥ 26).
/// Treating collateral received like the rest of the claim it secures (β) makes A realise
/// 30 in both worlds.
#[test]
fn price_fall_on_collateral_received_by_a_defaulter_is_monotone() {
    let spec = small(
        &[(0.0, 0.0, 0.0), (30.0, 0.0, 0.0), (0.0, 0.0, 26.0)],
        &[(0, 2, 100.0), (1, 0, 30.0)],
        &[(1, 0, 10.0, 0.0)],
        &[],
        &[1.0],
    );
    let net = spec.network();
    let s = settings_with(0.5, 1.0, Seniority::PariPassu, Solver::Auto);
    let before = run(&net, &[], &s).1;
    let after = run(&net, &[shock(Hit::Fall(0, -0.5))], &s).1;
    assert!(before.defaulted[0] && after.defaulted[0]);
    assert!(!before.defaulted[1] && !after.defaulted[1]);
    assert!(
        after.payments[0] <= before.payments[0] + SLACK,
        "A pays {} after the fall, {} before",
        after.payments[0],
        before.payments[0]
    );
    assert!(
        !before.defaulted[2] || after.defaulted[2],
        "C defaults before the fall but not after it"
    );
}

/// Stakes are valued from the issuer's reported equity (`book × clamp(after / before, 0,
/// 1)`), whatever the reason the issuer is in default.
///
/// A (cash 50) owes B 5 and holds a stake of book value 10 in B; B has nothing but its claim
/// on A. B fails outright. Book equity: B 5 (its claim), A 50 + 10 − 5 = 55. A is solvent
/// and pays B its 5; B owes nothing, so it pays in full and keeps what it received. A's
/// equity after is 45 plus its stake, `10 × clamp(E_B / 5, 0, 1)`.
///
/// Broke an earlier engine, which reported B's equity after as 5 (the residual of a firm
/// that failed outright but can pay in full) while valuing the stake in B at 0 (B is in
/// default), so A's equity was 45 where B's own figure said 55. Either B's equity must be
/// 0 or A's stake worth 10.
#[test]
fn stake_in_a_failed_issuer_follows_its_reported_equity() {
    let spec = small(
        &[(50.0, 0.0, 0.0), (0.0, 0.0, 0.0)],
        &[(0, 1, 5.0)],
        &[],
        &[(0, 1, 10.0)],
        &[1.0],
    );
    let net = spec.network();
    let s = settings_with(1.0, 1.0, Seniority::PariPassu, Solver::Auto);
    let out = run(&net, &[shock(Hit::Fail(1))], &s).1;
    crate::util::close("B's equity before", out.equity_before[1], 5.0, SLACK);
    crate::util::close("A's payment", out.payments[0], 5.0, SLACK);
    let stake = 10.0 * (out.equity_after[1] / 5.0).clamp(0.0, 1.0);
    crate::util::close(
        "A's equity after (45 plus its stake in B)",
        out.equity_after[0],
        45.0 + stake,
        SLACK,
    );
}

/// Property 1 (and limited liability) on a cycle that leaks almost nothing.
///
/// A and B have no assets; A owes B 60 and C 0.001; B owes A 30. C has cash 1 and owes 1.0004
/// outside the network. A can never receive more than 30, so it defaults; then B receives at
/// most `60/60.001` of what A pays while A receives only what B pays, so `p_A = p_B` and
/// `p_B = (60/60.001)·p_A`: the only solution is `p_A = p_B = 0`. C then receives nothing,
/// has 1 < 1.0004, and defaults, paying the 1 it has. The exact solve gives this at once.
///
/// Broke an earlier engine: fixed-point sweeps on the {A, B} cycle contract by
/// `60/60.001` per two sweeps and used up the whole budget (100 000 sweeps) before the exact
/// polish; the cascade then stopped without checking C again. C was reported solvent, paying
/// 1.0004 with 1 of resources, and `converged` was false although the payments of A and B
/// were exact.
#[test]
fn cycle_that_leaks_almost_nothing_clears_exactly() {
    let spec = small(
        &[(0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (1.0, 0.0, 1.0004)],
        &[(0, 1, 60.0), (1, 0, 30.0), (0, 2, 0.001)],
        &[],
        &[],
        &[1.0],
    );
    let net = spec.network();
    for solver in [Solver::Auto, Solver::Exact] {
        let s = settings_with(1.0, 1.0, Seniority::PariPassu, solver);
        let out = run(&net, &[], &s).1;
        assert!(
            out.payments[0] <= 1e-9 && out.payments[1] <= 1e-9,
            "{solver:?}"
        );
        assert!(
            out.defaulted[2],
            "{solver:?}: C receives nothing but is solvent"
        );
        crate::util::close("C's payment", out.payments[2], 1.0, SLACK);
        assert!(out.converged, "{solver:?}");
    }
}

/// Cross-holdings that leak almost nothing settle exactly.
///
/// A holds a stake in B (book 10) and lent D 0.001; B holds a stake in A (book 20) and owes
/// 0.0005 outside the network. Book equities: A 10.001, B 19.9995. D fails outright, so A
/// loses its 0.001. With `r` the fraction of book equity left, `r_A = 10 r_B / 10.001` and
/// `r_B = (20 r_A − 0.0005) / 19.9995`: a straight line through these crosses `r = 0` before
/// any solution, so both stakes end worthless, B (nothing against 0.0005) defaults and A
/// (owing nothing) keeps equity 0. One revaluation after another would need about 37,000
/// passes (each pair of passes multiplies `r_A + 1/3` by 0.999925) and stops at its cap
/// unconverged; the stakes' exact solve clamps both at 0.
#[test]
fn cross_holdings_that_leak_almost_nothing_settle_exactly() {
    let spec = Spec {
        hits: vec![Hit::Fail(2)],
        ..small(
            &[(0.0, 0.0, 0.0), (0.0, 0.0, 0.0005), (0.0, 0.0, 0.0)],
            &[(2, 0, 0.001)],
            &[],
            &[(0, 1, 10.0), (1, 0, 20.0)],
            &[1.0],
        )
    };
    let net = spec.network();
    for solver in [Solver::Auto, Solver::Exact, Solver::Iterative] {
        let s = settings_with(1.0, 1.0, Seniority::PariPassu, solver);
        let out = run(&net, &spec.shocks(), &s).1;
        assert!(out.converged, "{solver:?}: {} iterations", out.iterations);
        assert_eq!(out.defaulted, vec![false, true, true], "{solver:?}");
        assert_eq!(out.equity_after[..2], [0.0, 0.0], "{solver:?}");
        assert!(out.payments[1] <= 1e-12, "{solver:?}");
    }
}

/// As above, but one stake keeps some value: the exact solve must free a stake it first held
/// at 0.
///
/// X holds a stake in Y (book 10) and lent D 0.0004 and E 0.0002 (E has the cash to repay);
/// Y holds a stake in X (book 30) and owes Z 0.001. Book equities: X 10.0006, Y 29.999. D fails
/// outright. With `v` the stake values, `v_XY = 10 (v_YX − 0.001) / 29.999` and
/// `v_YX = 30 (v_XY + 0.0002) / 10.0006`; the line solving both has `v_XY < 0`, so X's stake
/// is worthless, Y's stake in X is worth `30 · 0.0002 / 10.0006`, Y (that against 0.001)
/// defaults and pays it all to Z, and X keeps its 0.0002 from E. One
/// revaluation after another would take some 150,000 passes (each pair lowers `v_XY` by
/// about 0.00013).
#[test]
fn cross_holdings_settle_with_one_stake_worthless() {
    let spec = Spec {
        hits: vec![Hit::Fail(2)],
        ..small(
            &[
                (0.0, 0.0, 0.0),
                (0.0, 0.0, 0.0),
                (0.0, 0.0, 0.0),
                (0.0002, 0.0, 0.0),
                (0.0, 0.0, 0.0),
            ],
            &[(2, 0, 0.0004), (3, 0, 0.0002), (1, 4, 0.001)],
            &[],
            &[(0, 1, 10.0), (1, 0, 30.0)],
            &[1.0],
        )
    };
    let net = spec.network();
    let y_has = 30.0 * 0.0002 / 10.0006;
    for solver in [Solver::Auto, Solver::Exact, Solver::Iterative] {
        let s = settings_with(1.0, 1.0, Seniority::PariPassu, solver);
        let out = run(&net, &spec.shocks(), &s).1;
        assert!(out.converged, "{solver:?}: {} iterations", out.iterations);
        assert_eq!(
            out.defaulted,
            vec![false, true, true, false, false],
            "{solver:?}"
        );
        crate::util::close("Y pays Z", out.payments[1], y_has, 1e-12);
        crate::util::close("X's equity", out.equity_after[0], 0.0002, 1e-12);
        assert_eq!(out.equity_after[1], 0.0, "{solver:?}");
    }
}

/// A firm in default paying out of its stake in its own creditor: payments and stake values
/// rest on each other and are solved together.
///
/// A owes B 7 and has other assets `x`; B owes A 24 and holds a stake in A (book `b`). A's
/// book equity is `x + 24 − 7 = x + 17`; B has `7 + b < 24` and defaults. It pays A what it
/// has, `p = 7 + v`, with `v = b (x + p − 7) / (x + 17)` the stake's value, so
/// `v = b x / (x + 17 − b)`, and A keeps `x + v`.
/// - `x = 0.01, b = 16.999`: `v = 0.16999 / 0.011` = 15.454, B pays 22.454.
/// - `x = 0, b = 16.99`: `v = 0`, B pays 7 and A keeps nothing.
///
/// Each pass of the separate solves moves `v` by the factor `b / (x + 17)` (0.99935 and
/// 0.99941): some 45,000 passes to settle, beyond the pass cap, so the run used to end
/// unconverged even with the exact solver.
#[test]
fn a_defaulter_paying_from_a_stake_in_its_creditor_settles() {
    for (x, b) in [(0.01, 16.999), (0.0, 16.99)] {
        let spec = small(
            &[(0.0, x, 0.0), (0.0, 0.0, 0.0)],
            &[(0, 1, 7.0), (1, 0, 24.0)],
            &[],
            &[(1, 0, b)],
            &[1.0],
        );
        let net = spec.network();
        let v = b * x / (x + 17.0 - b);
        for solver in [Solver::Auto, Solver::Exact, Solver::Iterative] {
            let s = settings_with(1.0, 1.0, Seniority::PariPassu, solver);
            let out = run(&net, &spec.shocks(), &s).1;
            assert!(out.converged, "{solver:?}: {} iterations", out.iterations);
            assert_eq!(out.defaulted, vec![false, true], "{solver:?}");
            crate::util::close("B pays A", out.payments[1], 7.0 + v, 1e-9);
            crate::util::close("A keeps", out.equity_after[0], x + v, 1e-9);
            assert_eq!(out.payments[0], 7.0, "{solver:?}");
        }
    }
}
