//! The combined multi-channel cascade: margin calls, runs, fire sales and clearing, round by
//! round, with every default attributed to a channel.
//!
//! # One round
//! 1. **Margin calls.** A secured loan whose cover `units × price × (1 − haircut)` has fallen
//!    below the amount owed is called: the debtor pays the shortfall (the loan is paid down by
//!    it) from cash, then by selling the same fraction of each of its holdings. A call it cannot
//!    meet is a liquidity default: the debtor halts (`margin_call`), and the creditor seizes
//!    the collateral and sells what it needs to cover the loan.
//! 2. **Withdrawals.** A firm facing a run (a `withdrawal` shock, or a contagious run from the
//!    previous round) pays each depositor the demanded fraction of its `deposit` exposure from
//!    cash, then from sales of holdings; if it cannot pay in full it pays pro rata what it
//!    raised and halts (`run`): its depositors' remaining claims are frozen — illiquid, and
//!    recovered only through clearing.
//! 3. **Solvency.** The network is cleared ([`super::clearing`]) in its current state, with
//!    halted firms in default. Each clearing wave of new defaults is one round of the output.
//! 4. **Sales.** Firms newly in default or halted liquidate their holdings (fire sales), all
//!    together: one sale per asset, every seller at the same average price.
//! 5. **Contagious runs.** Depositors run (withdrawing `run_fraction`) on a firm that has lost
//!    at least `run_trigger` of its book equity on counterparties in default.
//! 6. **Prices.** Every sale moves the price at once along `p ← p · exp(−β · sold / depth)`
//!    (no depth: no impact) and raises the integral of the price along that curve; every
//!    holding and every collateral is marked at the new prices (overlapping portfolios).
//!
//! Every step's forced sales — for margin calls, of seized collateral, for withdrawals, in
//! liquidation — are pooled: each asset's units from all the step's sellers are one sale, and
//! every seller gets its average price. So nothing depends on the order of the firm table.
//!
//! The loop stops when a round changes nothing. With margin calls, runs and fire sales all
//! switched off the cascade is exactly one clearing.

use super::clearing::{Clearing, State, clear_state};
use super::{Cause, Round};
use crate::model::{ExposureKind, Network};
use crate::scenario::Marks;
use crate::settings::{FrozenDeposits, Settings};

/// What carried a loss to a firm: a counterparty, an asset, or both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// Counterparty index (a debtor in default, the creditor that called margin, the firm whose
    /// failure started a run).
    pub firm: Option<u32>,
    /// Asset index (collateral or holding that lost value).
    pub asset: Option<u32>,
    /// Amount carried (currency units): loss, unmet call or unpaid withdrawal.
    pub loss: f64,
}

/// Something that happened during the cascade.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Round in which it happened (the round counter at that moment).
    pub round: u32,
    /// What happened.
    pub kind: EventKind,
    /// The firm acting (debtor called, firm paying depositors, seller).
    pub firm: u32,
    /// The counterparty (creditor calling margin), if any.
    pub counterparty: Option<u32>,
    /// The asset involved, if any.
    pub asset: Option<u32>,
    /// Amount demanded, called or sold (currency units).
    pub amount: f64,
    /// Amount actually paid or raised.
    pub paid: f64,
}

/// Kinds of [`Event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A margin call on a secured loan.
    MarginCall,
    /// A creditor seized and sold collateral.
    Seizure,
    /// Depositors withdrew.
    Withdrawal,
    /// A firm in default or halted sold its holdings.
    Liquidation,
}

/// Outcome of the combined cascade. Vectors indexed by firm; amounts in currency units.
#[derive(Debug, Clone, PartialEq)]
pub struct Cascade {
    /// The final clearing of the network in its final state.
    pub clearing: Clearing,
    /// In default (insolvent, halted or failed outright).
    pub defaulted: Vec<bool>,
    /// Halted by a liquidity default (margin call or run).
    pub halted: Vec<bool>,
    /// Round of first default or halt (0 = failed outright).
    pub default_round: Vec<Option<u32>>,
    /// Channel of each default.
    pub cause: Vec<Option<Cause>>,
    /// What carried each default, largest first.
    pub caused_by: Vec<Vec<Link>>,
    /// Rounds, in order.
    pub rounds: Vec<Round>,
    /// Prices at the end of each round in which they were set: (round, price per asset).
    pub price_path: Vec<(u32, Vec<f64>)>,
    /// Total paid by each firm: during the cascade (margin, withdrawals, seized collateral)
    /// plus in the final clearing.
    pub payments: Vec<f64>,
    /// Total each firm owed before the cascade (debt and external liabilities).
    pub obligations: Vec<f64>,
    /// Everything that happened, in order.
    pub events: Vec<Event>,
    /// Deposits frozen at each halted firm and written off by its depositors
    /// (`frozen_deposits: lose`), now owed to a pool outside the network.
    pub frozen: Vec<f64>,
    /// Whether the cascade reached a round that changed nothing (and every clearing converged).
    pub converged: bool,
    /// Cascade rounds run plus clearing sweeps.
    pub iterations: usize,
}

/// Mutable state of the world during the cascade.
struct World<'a> {
    net: &'a Network,
    prices: Vec<f64>,
    cash: Vec<f64>,
    other: Vec<f64>,
    hold: Vec<f64>,
    amounts: Vec<f64>,
    coll: Vec<f64>,
    holdings_of: Vec<Vec<usize>>,
    sold: Vec<f64>,
    paid: Vec<f64>,
    /// Price impact β (0 when fire sales are off).
    impact: f64,
}

impl World<'_> {
    /// Price-impact rate `k = β / depth` of asset `a` (0: no impact).
    fn rate(&self, a: usize) -> f64 {
        match self.net.assets()[a].depth {
            Some(depth) if self.impact > 0.0 => self.impact / depth,
            _ => 0.0,
        }
    }

    /// What selling `units` of asset `a` now would raise: the integral of the price along
    /// the impact curve, `p (1 − e^(−k·units)) / k` (`p · units` without impact).
    fn proceeds(&self, a: usize, units: f64) -> f64 {
        let (p, k) = (self.prices[a], self.rate(a));
        if k > 0.0 {
            // `1 − e^(−x)` without cancellation for small sales.
            p * -(-k * units).exp_m1() / k
        } else {
            p * units
        }
    }

    /// Sells `units` of asset `a` along the impact curve: the price falls at once to
    /// `p e^(−k·units)` for every later sale and every holder. Returns the proceeds.
    fn sell(&mut self, a: usize, units: f64) -> f64 {
        let got = self.proceeds(a, units);
        self.prices[a] *= (-self.rate(a) * units).exp();
        self.sold[a] += units;
        got
    }

    /// Average price of a sale of `q[a]` units of each asset `a` now (its price for none).
    fn averages(&self, q: &[f64]) -> Vec<f64> {
        q.iter()
            .enumerate()
            .map(|(a, &units)| {
                if units > 0.0 {
                    self.proceeds(a, units) / units
                } else {
                    self.prices[a]
                }
            })
            .collect()
    }

    /// Sells for every order the same fraction of each of its lots, all orders together:
    /// each asset's units go to market as one sale along the impact curve and every seller
    /// gets that sale's average price, so no order comes first. An order's fraction is the
    /// smallest that raises its `need` given what the others sell (1 when even all of its
    /// lots fall short; `f64::INFINITY` sells everything).
    ///
    /// With `V_o(f)` what all of order `o`'s lots fetch at the average prices of the sales
    /// that the fractions `f` make, the fractions solve `f_o = min(1, need_o / V_o(f))`. The
    /// right side rises with every fraction (more units sold, lower average prices), so
    /// iterating it from zero rises to the least solution; each round costs one average
    /// price per asset and one pass over the lots. Returns, per order, whether it sold
    /// everything, and the units sold and the proceeds of each lot. An order that did not
    /// sell everything raised its need: at the solution exactly, in the returned proceeds to
    /// within rounding (or the round cap).
    fn sell_together(&mut self, orders: &[Order]) -> Vec<(bool, Vec<(f64, f64)>)> {
        let assets = self.prices.len();
        let totals = |f: &[f64]| -> Vec<f64> {
            let mut q = vec![0.0; assets];
            for (o, &fo) in orders.iter().zip(f) {
                for &(a, u) in &o.lots {
                    q[a] += if fo >= 1.0 { u } else { fo * u };
                }
            }
            q
        };
        let mut f = vec![0.0; orders.len()];
        for _ in 0..MAX_POOL_ROUNDS {
            let average = self.averages(&totals(&f));
            let mut settled = true;
            for (o, fo) in orders.iter().zip(f.iter_mut()) {
                let worth: f64 = o.lots.iter().map(|&(a, u)| u * average[a]).sum();
                let next = if o.need.is_infinite() || worth <= o.need {
                    1.0
                } else {
                    o.need / worth
                };
                settled &= (next - *fo).abs() <= 1e-14 * next;
                *fo = next;
            }
            if settled {
                break;
            }
        }
        let q = totals(&f);
        let price = self.averages(&q);
        for (a, &units) in q.iter().enumerate() {
            if units > 0.0 {
                self.sell(a, units);
            }
        }
        orders
            .iter()
            .zip(&f)
            .map(|(o, &fo)| {
                let lots = o
                    .lots
                    .iter()
                    .map(|&(a, u)| {
                        let units = if fo >= 1.0 { u } else { fo * u };
                        (units, units * price[a])
                    })
                    .collect();
                (fo >= 1.0, lots)
            })
            .collect()
    }

    /// Raises `need` for each firm of `needs` at once: cash first, then sales of the same
    /// fraction of each of its holdings, all firms' sales pooled ([`Self::sell_together`]).
    /// Returns what each raised (at most its need).
    fn raise_together(&mut self, needs: &[(usize, f64)]) -> Vec<f64> {
        let mut from_cash = Vec::with_capacity(needs.len());
        let mut orders = Vec::with_capacity(needs.len());
        let mut slots = Vec::with_capacity(needs.len());
        for &(i, need) in needs {
            let c = self.cash[i].min(need);
            self.cash[i] -= c;
            from_cash.push(c);
            let held: Vec<usize> = if need - c > 0.0 {
                self.holdings_of[i]
                    .iter()
                    .copied()
                    .filter(|&h| self.hold[h] > 0.0)
                    .collect()
            } else {
                Vec::new()
            };
            orders.push(Order {
                lots: held
                    .iter()
                    .map(|&h| (self.net.holdings()[h].asset as usize, self.hold[h]))
                    .collect(),
                need: need - c,
            });
            slots.push(held);
        }
        let fills = self.sell_together(&orders);
        needs
            .iter()
            .zip(from_cash)
            .zip(slots.iter().zip(fills))
            .map(|((&(i, need), c), (held, (all, fill)))| {
                let mut got = c;
                for (&h, (units, proceeds)) in held.iter().zip(fill) {
                    self.hold[h] -= units;
                    got += proceeds;
                }
                if all && got < need {
                    return got;
                }
                // Raised its need (any rounding sliver over or under stays in its cash).
                self.cash[i] = (self.cash[i] + got - need).max(0.0);
                need
            })
            .collect()
    }

    fn cover(&self, w: usize) -> f64 {
        let c = &self.net.collateral()[w];
        self.coll[w] * self.prices[c.asset as usize] * (1.0 - c.haircut)
    }
}

/// Lots to sell (asset, units) and the cash they must raise, for [`World::sell_together`].
struct Order {
    lots: Vec<(usize, f64)>,
    need: f64,
}

/// Most rounds of [`World::sell_together`] (each round moves every fraction to what the
/// previous round's prices call for; a handful suffice unless sellers crowd a very thin
/// market).
const MAX_POOL_ROUNDS: usize = 1000;

fn small(x: f64, tol: f64) -> bool {
    x <= tol * x.abs().max(1.0)
}

/// Runs the combined cascade on `net` after the shocks in `marks`.
pub fn cascade(net: &Network, marks: &Marks, settings: &Settings) -> Cascade {
    let n = net.n_firms();
    let tol = settings.tolerance.max(1e-12);
    let mut holdings_of = vec![Vec::new(); n];
    for (h, hold) in net.holdings().iter().enumerate() {
        holdings_of[hold.firm as usize].push(h);
    }
    let mut deposits_of: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (k, e) in net.exposures().iter().enumerate() {
        if e.kind == ExposureKind::Deposit {
            deposits_of[e.debtor as usize].push(k);
        }
    }
    let mut w = World {
        net,
        prices: marks.prices.clone(),
        cash: marks.cash.clone(),
        other: marks.other_assets.clone(),
        hold: net.holdings().iter().map(|h| h.units).collect(),
        amounts: net.exposures().iter().map(|e| e.amount).collect(),
        coll: net.collateral().iter().map(|c| c.units).collect(),
        holdings_of,
        sold: vec![0.0; net.assets().len()],
        paid: vec![0.0; n],
        impact: if settings.fire_sales {
            settings.price_impact
        } else {
            0.0
        },
    };
    // Firms failed outright have their own assets written off: nothing of theirs is sold.
    for (h, hold) in net.holdings().iter().enumerate() {
        if marks.failed[hold.firm as usize] {
            w.hold[h] = 0.0;
        }
    }
    let mut obligations: Vec<f64> = net.firms().iter().map(|f| f.external_liabilities).collect();
    for e in net.exposures().iter().filter(|e| e.kind.is_debt()) {
        obligations[e.debtor as usize] += e.amount;
    }
    let equity_before: Vec<f64> = net.balance_sheets().iter().map(|b| b.equity()).collect();

    let mut in_default = marks.failed.clone();
    let mut halted = vec![false; n];
    let mut default_round: Vec<Option<u32>> = in_default.iter().map(|&d| d.then_some(0)).collect();
    let mut cause: Vec<Option<Cause>> = in_default
        .iter()
        .map(|&d| d.then_some(Cause::Shock))
        .collect();
    let mut caused_by: Vec<Vec<Link>> = vec![Vec::new(); n];
    let mut rounds = Vec::new();
    let failed_now: Vec<u32> = (0..n as u32).filter(|&i| in_default[i as usize]).collect();
    if !failed_now.is_empty() {
        rounds.push(Round {
            round: 0,
            defaults: failed_now,
            losses: 0.0,
        });
    }
    let mut pending: Vec<f64> = if settings.runs {
        marks.withdrawal.clone()
    } else {
        vec![0.0; n]
    };
    let mut run_source: Vec<Option<u32>> = vec![None; n];
    let mut frozen = vec![0.0; n];
    let mut ran = vec![false; n];
    let mut events = Vec::new();
    let mut price_path = vec![(0u32, w.prices.clone())];
    let mut g = 0u32;
    let mut iterations = 0usize;
    let mut converged = false;
    let mut clearing_ok = true;
    let mut last: Option<Clearing> = None;

    for _ in 0..settings.max_rounds {
        iterations += 1;
        w.sold.iter_mut().for_each(|s| *s = 0.0);
        let mut changed = false;
        let mut halts: Vec<u32> = Vec::new();
        let mut halt_losses = 0.0;
        let round_now = g + 1;

        // 1. Margin calls, all at once: every call is fixed at the round's opening prices,
        // each debtor raises what it can for all its calls together (paid pro rata when
        // short), and only then do creditors seize the collateral of debtors that failed —
        // so no debtor meets a call with the proceeds of a seizure made in the same round,
        // and the order of the rows does not matter.
        if settings.margin_calls {
            let calls: Vec<(usize, f64)> = net
                .collateral()
                .iter()
                .enumerate()
                .filter_map(|(wi, c)| {
                    let k = c.exposure as usize;
                    let d = net.exposures()[k].debtor as usize;
                    if in_default[d] || w.coll[wi] <= 0.0 || small(w.amounts[k], tol) {
                        return None;
                    }
                    let call = w.amounts[k] - w.cover(wi);
                    (!small(call, tol) && call > tol * w.amounts[k]).then_some((wi, call))
                })
                .collect();
            let mut owed_by = vec![0.0; n];
            for &(wi, call) in &calls {
                owed_by[net.exposures()[net.collateral()[wi].exposure as usize].debtor as usize] +=
                    call;
            }
            let mut share = vec![1.0; n];
            let needs: Vec<(usize, f64)> = (0..n)
                .filter(|&d| owed_by[d] > 0.0)
                .map(|d| (d, owed_by[d]))
                .collect();
            for (&(d, owed), got) in needs.iter().zip(w.raise_together(&needs)) {
                share[d] = got / owed;
            }
            for &(wi, call) in &calls {
                let c = net.collateral()[wi];
                let k = c.exposure as usize;
                let e = net.exposures()[k];
                let (d, cr, a) = (e.debtor as usize, e.creditor as usize, c.asset as usize);
                let met = call * share[d];
                w.amounts[k] -= met;
                w.cash[cr] += met;
                w.paid[d] += met;
                changed = true;
                events.push(Event {
                    round: round_now,
                    kind: EventKind::MarginCall,
                    firm: d as u32,
                    counterparty: Some(cr as u32),
                    asset: Some(a as u32),
                    amount: call,
                    paid: met,
                });
                if share[d] < 1.0 - 1e-12 {
                    if !halted[d] {
                        in_default[d] = true;
                        halted[d] = true;
                        cause[d] = Some(Cause::MarginCall);
                        halts.push(d as u32);
                    }
                    caused_by[d].push(Link {
                        firm: Some(cr as u32),
                        asset: Some(a as u32),
                        loss: call - met,
                    });
                    halt_losses += call - met;
                }
            }
            // Creditors of debtors that failed a call seize the collateral and sell what
            // covers the loan, all of them together.
            let seized: Vec<usize> = calls
                .iter()
                .map(|&(wi, _)| wi)
                .filter(|&wi| {
                    let d = net.exposures()[net.collateral()[wi].exposure as usize].debtor;
                    share[d as usize] < 1.0 - 1e-12
                })
                .collect();
            let orders: Vec<Order> = seized
                .iter()
                .map(|&wi| {
                    let c = net.collateral()[wi];
                    Order {
                        lots: vec![(c.asset as usize, w.coll[wi])],
                        need: w.amounts[c.exposure as usize],
                    }
                })
                .collect();
            let fills = w.sell_together(&orders);
            for (&wi, fill) in seized.iter().zip(fills) {
                let c = net.collateral()[wi];
                let k = c.exposure as usize;
                let e = net.exposures()[k];
                let (d, cr, a) = (e.debtor as usize, e.creditor as usize, c.asset as usize);
                let (all, lots) = fill;
                let (units, sold_for) = lots[0];
                // What covers the loan goes to the creditor (the loan itself unless the
                // collateral fell short; any rounding sliver over it stays with the debtor).
                let proceeds = if all {
                    sold_for.min(w.amounts[k])
                } else {
                    w.amounts[k]
                };
                w.cash[d] += (sold_for - proceeds).max(0.0);
                w.coll[wi] -= units;
                w.amounts[k] -= proceeds;
                w.cash[cr] += proceeds;
                w.paid[d] += proceeds;
                events.push(Event {
                    round: round_now,
                    kind: EventKind::Seizure,
                    firm: cr as u32,
                    counterparty: Some(d as u32),
                    asset: Some(a as u32),
                    amount: units,
                    paid: proceeds,
                });
            }
        }

        // 2. Withdrawals.
        // Every firm run on raises its demand at once, the sales pooled.
        if settings.runs {
            let mut runs: Vec<(usize, f64, f64)> = Vec::new();
            for f in 0..n {
                let phi = std::mem::take(&mut pending[f]);
                if phi <= 0.0 || in_default[f] {
                    continue;
                }
                let demand: f64 = deposits_of[f].iter().map(|&k| phi * w.amounts[k]).sum();
                if demand > 0.0 {
                    runs.push((f, phi, demand));
                }
            }
            let needs: Vec<(usize, f64)> = runs.iter().map(|&(f, _, d)| (f, d)).collect();
            let raised = w.raise_together(&needs);
            for (&(f, phi, demand), got) in runs.iter().zip(raised) {
                for &k in &deposits_of[f] {
                    let pay = phi * w.amounts[k] * got / demand;
                    w.amounts[k] -= pay;
                    w.cash[net.exposures()[k].creditor as usize] += pay;
                }
                w.paid[f] += got;
                changed = true;
                events.push(Event {
                    round: round_now,
                    kind: EventKind::Withdrawal,
                    firm: f as u32,
                    counterparty: run_source[f],
                    asset: None,
                    amount: demand,
                    paid: got,
                });
                if got < demand * (1.0 - 1e-12) {
                    in_default[f] = true;
                    halted[f] = true;
                    cause[f] = Some(Cause::Run);
                    caused_by[f].push(Link {
                        firm: run_source[f],
                        asset: None,
                        loss: demand - got,
                    });
                    halts.push(f as u32);
                    halt_losses += demand - got;
                    if settings.frozen_deposits == FrozenDeposits::Lose {
                        // Depositors write the frozen claims off; the halted firm still owes
                        // them, now to a pool outside the network.
                        for &k in &deposits_of[f] {
                            frozen[f] += std::mem::take(&mut w.amounts[k]);
                        }
                    }
                }
            }
        }
        if !halts.is_empty() {
            g += 1;
            for &i in &halts {
                default_round[i as usize] = Some(g);
            }
            rounds.push(Round {
                round: g,
                defaults: halts.clone(),
                losses: halt_losses,
            });
        }

        // 3. Solvency: clear the network in its current state.
        let st = State {
            net,
            prices: &w.prices,
            cash: &w.cash,
            other_assets: &w.other,
            holding_units: Some(&w.hold),
            amounts: Some(&w.amounts),
            collateral_units: Some(&w.coll),
            frozen: Some(&frozen),
            wiped: &marks.failed,
            in_default: &in_default,
            shocked: &marks.shocked,
        };
        let c = clear_state(&st, settings);
        iterations += c.iterations;
        clearing_ok &= c.converged;
        let mut newly: Vec<u32> = halts.clone();
        for r in c.rounds.iter().filter(|r| r.round >= 1) {
            g += 1;
            for &i in &r.defaults {
                let i = i as usize;
                in_default[i] = true;
                default_round[i] = Some(g);
                cause[i] = c.cause[i];
                caused_by[i] = c.caused_by[i]
                    .iter()
                    .map(|k| Link {
                        firm: Some(k.firm),
                        asset: None,
                        loss: k.loss,
                    })
                    .collect();
                if cause[i] == Some(Cause::PriceFall) {
                    caused_by[i] = price_links(net, &w, i);
                }
                newly.push(i as u32);
            }
            rounds.push(Round {
                round: g,
                defaults: r.defaults.clone(),
                losses: r.losses,
            });
        }

        // 4. Firms newly in default or halted liquidate their holdings. They sell together:
        // each asset's units go to market in one sale along the impact curve and every seller
        // gets the same average price, so the order of the firms' rows does not matter.
        if settings.fire_sales {
            let mut sellers = Vec::new();
            let mut orders = Vec::new();
            for &i in &newly {
                let i = i as usize;
                let mut lots = Vec::new();
                for h in w.holdings_of[i].clone() {
                    let units = std::mem::take(&mut w.hold[h]);
                    if units > 0.0 {
                        lots.push((net.holdings()[h].asset as usize, units));
                    }
                }
                if !lots.is_empty() {
                    sellers.push(i);
                    orders.push(Order {
                        lots,
                        need: f64::INFINITY,
                    });
                }
            }
            let fills = w.sell_together(&orders);
            let mut sales = Vec::new();
            for ((&i, o), (_, fill)) in sellers.iter().zip(&orders).zip(fills) {
                for (&(a, _), (units, got)) in o.lots.iter().zip(fill) {
                    w.cash[i] += got;
                    changed |= got > 0.0;
                    sales.push(Event {
                        round: default_round[i].unwrap_or(g),
                        kind: EventKind::Liquidation,
                        firm: i as u32,
                        counterparty: None,
                        asset: Some(a as u32),
                        amount: units,
                        paid: got,
                    });
                }
            }
            // Listed seller by seller, as the firms' other events are.
            sales.sort_by_key(|e| (e.firm, e.asset));
            events.append(&mut sales);
        }

        // 5. Contagious runs on firms that lost enough on failed counterparties.
        if settings.runs && settings.contagious_runs {
            let mut loss = vec![0.0; n];
            let mut worst: Vec<Option<(u32, f64)>> = vec![None; n];
            for (k, e) in net.exposures().iter().enumerate() {
                let x = e.debtor as usize;
                if !e.kind.is_debt() || !in_default[x] {
                    continue;
                }
                let rec = if c.pool_obligations[x] > 0.0 {
                    c.pool_payments[x] / c.pool_obligations[x]
                } else {
                    1.0
                };
                let secured = net
                    .collateral_index(k)
                    .map_or(0.0, |wi| w.cover(wi).min(w.amounts[k]));
                let l = (w.amounts[k] - secured).max(0.0) * (1.0 - rec);
                let y = e.creditor as usize;
                loss[y] += l;
                if l > worst[y].map_or(0.0, |(_, v)| v) {
                    worst[y] = Some((x as u32, l));
                }
            }
            for y in 0..n {
                if ran[y] || in_default[y] || deposits_of[y].is_empty() || loss[y] <= 0.0 {
                    continue;
                }
                if loss[y] >= settings.run_trigger * equity_before[y].max(0.0) {
                    ran[y] = true;
                    pending[y] = pending[y].max(settings.run_fraction);
                    run_source[y] = worst[y].map(|(x, _)| x);
                    changed |= settings.run_fraction > 0.0;
                }
            }
        }

        // 6. Prices moved with every sale (along the impact curve); record where they are.
        if w.sold.iter().any(|&u| u > 0.0) && price_path.last().map(|p| &p.1) != Some(&w.prices) {
            price_path.push((g, w.prices.clone()));
            changed = true;
        }
        let quiet = !changed && newly.is_empty();
        last = Some(c);
        if quiet {
            converged = true;
            break;
        }
    }
    let clearing = last.unwrap_or_else(|| {
        let st = State::from_marks(net, marks);
        clear_state(&st, settings)
    });
    for by in &mut caused_by {
        by.sort_by(|a, b| b.loss.total_cmp(&a.loss));
    }
    let payments = (0..n).map(|i| w.paid[i] + clearing.payments[i]).collect();
    if price_path.last().map(|p| &p.1) != Some(&w.prices) {
        price_path.push((g, w.prices.clone()));
    }
    Cascade {
        defaulted: (0..n)
            .map(|i| in_default[i] || clearing.defaulted[i])
            .collect(),
        halted,
        default_round,
        cause,
        caused_by,
        rounds,
        price_path,
        payments,
        obligations,
        events,
        frozen,
        converged: converged && clearing_ok,
        iterations,
        clearing,
    }
}

/// Assets whose price fall hit firm `i` (holdings and pledged collateral), with the loss.
fn price_links(net: &Network, w: &World, i: usize) -> Vec<Link> {
    let mut loss = vec![0.0; net.assets().len()];
    for (h, hold) in net.holdings().iter().enumerate() {
        if hold.firm as usize == i {
            let a = hold.asset as usize;
            loss[a] += hold.units.max(w.hold[h]) * (net.assets()[a].price - w.prices[a]);
        }
    }
    for (wi, c) in net.collateral().iter().enumerate() {
        if net.exposures()[c.exposure as usize].debtor as usize == i {
            let a = c.asset as usize;
            loss[a] += c.units.max(w.coll[wi]) * (net.assets()[a].price - w.prices[a]);
        }
    }
    loss.iter()
        .enumerate()
        .filter(|(_, l)| **l > 0.0)
        .map(|(a, &l)| Link {
            firm: None,
            asset: Some(a as u32),
            loss: l,
        })
        .collect()
}
