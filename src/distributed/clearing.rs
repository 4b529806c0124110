//! Graph-parallel Eisenberg–Noe / Rogers–Veraart clearing on timely workers.
//!
//! # Partition
//! Firms are cut into `W` blocks of consecutive indices, one per worker; a
//! process holds the blocks of its workers ([`share`]). Every exposure lives with its
//! **debtor's** worker, which therefore knows everything about the firms it owns: what they
//! owe (`p̄`), their collateral, their holdings. A process needs every firm (ids, balance
//! sheets: `O(n)`) but only the exposures of its own debtors (`O(m/P)`): load it with
//! [`crate::io::load_partition`] and [`share`].
//!
//! # What is exchanged
//! Once, at the start: for every pair of workers, the list of creditors the first one's
//! debtors owe (firm ids), with what collateral pays them and the face value of their claims.
//! Then, in every sweep: for every pair of workers, one number per such creditor — the sum of
//! `Π_ij p_i` over the sender's debtors `i` — plus two numbers per worker (largest change of a
//! payment, total shortfall) from which every worker computes the same global figures. A
//! wave of new defaults costs two more exchanges (who defaulted; the shortfalls that pushed
//! them over). Bytes per sweep: `8 ×` (distinct debtor-block/creditor pairs) at most.
//!
//! # Algorithm
//! The Greatest Clearing Vector Algorithm of [`crate::engine::clearing`], sweep for sweep: the
//! default set grows in waves; within a wave the defaulters' payments are found by Jacobi
//! sweeps (monotone from above, so the greatest solution), stopped by the same error bound
//! with a tolerance a hundred times tighter — there is no exact dense polish across
//! machines, so the sweeps go further instead. Waves, causes and counterparties are those of
//! the single-process engine; payments agree with it to about `tolerance × max(1, p̄_i)`.
//!
//! # Not supported (refused with a message)
//! Equity stakes (their value depends on the issuer's equity, which would need one more
//! exchange per sweep) and the least clearing vector. The check that the greatest and least
//! vectors coincide is not made.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::mailbox::Mailbox;
use super::{Cluster, even_blocks, run_workers};
use crate::engine::clearing::{Clearing, Owes, Rules, Stop};
use crate::engine::{Cause, Contribution, Round};
use crate::error::Error;
use crate::model::Network;
use crate::scenario::Marks;
use crate::settings::{Seniority, Settings, Vector};

/// The stopping tolerance of the sweeps relative to the settings' tolerance.
const TIGHTER: f64 = 1e-2;

/// Firms owned by this process: the union of its workers' blocks.
pub fn share(cluster: &Cluster, n: usize) -> Range<usize> {
    let blocks = even_blocks(n, cluster.peers());
    let first = cluster.process * cluster.workers;
    blocks[first].start..blocks[first + cluster.workers - 1].end
}

/// Worker that owns firm `i` given the blocks' starts.
fn owner(starts: &[usize], i: usize) -> usize {
    starts.partition_point(|&s| s <= i) - 1
}

/// Clears the network on the cluster's workers. `net` holds every firm and (at least) every
/// exposure whose debtor is in this process's [`share`]; `marks` are the shocks applied to
/// it ([`Marks::apply`] needs only the firms and assets). Returns `Some` on process 0 and
/// `None` on the others.
pub fn clear(
    cluster: &Cluster,
    net: Arc<Network>,
    marks: Arc<Marks>,
    settings: &Settings,
) -> Result<Option<Clearing>, Error> {
    settings.validate()?;
    if settings.vector == Vector::Least {
        return Err(Error::Invalid(
            "--least is not available with --engine timely: the graph-parallel clearing \
             computes the greatest clearing vector"
                .into(),
        ));
    }
    let s = settings.clone();
    let results = run_workers(cluster, move |worker| {
        let mut part = Part::build(&net, &marks, &s, worker.index(), worker.peers());
        let mut mailbox = Mailbox::<Msg>::new(worker);
        part.run(&net, &marks, &mut mailbox, worker)
    })?;
    let mut out = None;
    for r in results {
        match r {
            Ok(Some(c)) => out = Some(c),
            Ok(None) => {}
            Err(e) => return Err(Error::Invalid(e)),
        }
    }
    Ok(out)
}

/// Messages between workers.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Msg {
    /// Start: the creditors the sender's debtors owe, what their collateral pays each, and
    /// the face value of each one's debt claims; whether the sender holds equity stakes.
    Routes {
        creditors: Vec<u32>,
        secured: Vec<f64>,
        claims: Vec<f64>,
        stakes: bool,
    },
    /// A sweep: `Σ Π_ij p_i` per creditor of the routes, and the sender's largest relative
    /// change of a payment and total shortfall `Σ (p̄_i − p_i)`.
    Pay {
        sums: Vec<f64>,
        moved: f64,
        shortfall: f64,
    },
    /// Firms of the sender that defaulted in this wave (ascending).
    Newly(Vec<u32>),
    /// Shortfalls passed to newly defaulted creditors: (creditor, debtor, loss).
    Blame(Vec<(u32, u32, f64)>),
    /// Results of the sender's firms, for worker 0.
    Block(Box<Block>),
}

/// Per-firm results of one worker's block (firm order).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Block {
    payments: Vec<f64>,
    obligations: Vec<f64>,
    pool_payments: Vec<f64>,
    pool_obligations: Vec<f64>,
    interbank_payments: Vec<f64>,
    interbank_receipts: Vec<f64>,
    defaulted: Vec<bool>,
    default_round: Vec<Option<u32>>,
    cause: Vec<Option<Cause>>,
    caused_by: Vec<Vec<Contribution>>,
    equity_before: Vec<f64>,
    equity_after: Vec<f64>,
}

/// Payments routed to one other worker: its creditors (slots) and this worker's edges.
#[derive(Default)]
struct Route {
    creditors: Vec<u32>,
    secured: Vec<f64>,
    claims: Vec<f64>,
    /// (local debtor, slot, Π_ij) for unsecured debt, by debtor.
    edges: Vec<(u32, u32, f64)>,
    /// Where each local debtor's edges start in `edges` (one more entry than firms).
    offsets: Vec<usize>,
    /// `Σ Π_ij p̄_i` per slot over the debtors not in default: what they pay whatever happens
    /// in the current wave (refreshed when the default set grows).
    fixed: Vec<f64>,
}

impl Route {
    /// The edges of local debtor `k`.
    fn of(&self, k: usize) -> &[(u32, u32, f64)] {
        &self.edges[self.offsets[k]..self.offsets[k + 1]]
    }
}

/// One worker's block of the clearing problem (local firm `k` is firm `lo + k`).
struct Part {
    lo: usize,
    peers: usize,
    index: usize,
    rules: Rules,
    cap: usize,
    pbar: Vec<f64>,
    senior: Vec<f64>,
    ext: Vec<f64>,
    ext_liab: Vec<f64>,
    debt: Vec<f64>,
    secured_paid: Vec<f64>,
    secured_recv: Vec<f64>,
    /// Book equity without the debt claims (added when the routes arrive).
    equity_before: Vec<f64>,
    price_hit: Vec<f64>,
    stakes: bool,
    routes: Vec<Route>,
    /// For each source worker, the local creditor of each of its slots.
    incoming: Vec<Vec<u32>>,
    iterations: usize,
}

impl Part {
    fn build(net: &Network, marks: &Marks, s: &Settings, index: usize, peers: usize) -> Self {
        let n = net.n_firms();
        let blocks = even_blocks(n, peers);
        let starts: Vec<usize> = blocks.iter().map(|b| b.start).collect();
        let Range { start: lo, end: hi } = blocks[index].clone();
        let len = hi - lo;
        let firms = &net.firms()[lo..hi];
        let book_prices: Vec<f64> = net.assets().iter().map(|a| a.price).collect();
        let wiped = |k: usize| marks.failed[lo + k];
        let mut ext: Vec<f64> = (0..len)
            .map(|k| {
                if wiped(k) {
                    0.0
                } else {
                    marks.cash[lo + k] + marks.other_assets[lo + k]
                }
            })
            .collect();
        let mut equity_before: Vec<f64> = firms
            .iter()
            .map(|f| f.cash + f.other_assets - f.external_liabilities)
            .collect();
        let mut price_hit = vec![0.0; len];
        for h in net.holdings() {
            let i = h.firm as usize;
            if !(lo..hi).contains(&i) {
                continue;
            }
            let (k, a) = (i - lo, h.asset as usize);
            if !wiped(k) {
                ext[k] += h.units * marks.prices[a];
            }
            equity_before[k] += h.units * book_prices[a];
            price_hit[k] += h.units * (book_prices[a] - marks.prices[a]);
        }
        // Collateral: what each secured exposure's collateral covers.
        let mut cover: HashMap<u32, f64> = HashMap::new();
        for c in net.collateral() {
            let e = net.exposures()[c.exposure as usize];
            let d = e.debtor as usize;
            if !(lo..hi).contains(&d) {
                continue;
            }
            let k = d - lo;
            let a = c.asset as usize;
            let market = c.units * marks.prices[a];
            let covered = (market * (1.0 - c.haircut)).min(e.amount);
            *cover.entry(c.exposure).or_default() += covered;
            if !wiped(k) {
                ext[k] += market - covered;
            }
            equity_before[k] += c.units * book_prices[a];
            price_hit[k] += c.units * (book_prices[a] - marks.prices[a]);
        }
        // Every debt exposure of a local debtor, with what its collateral covers.
        let secured_of = |x: usize| {
            if cover.is_empty() {
                0.0
            } else {
                cover.get(&(x as u32)).copied().unwrap_or(0.0)
            }
        };
        let local_debts = || {
            net.exposures()
                .iter()
                .enumerate()
                .filter(move |(_, e)| (lo..hi).contains(&(e.debtor as usize)) && e.kind.is_debt())
                .map(move |(x, e)| (e.debtor as usize - lo, *e, secured_of(x)))
        };
        let stakes = net
            .exposures()
            .iter()
            .any(|e| (lo..hi).contains(&(e.debtor as usize)) && !e.kind.is_debt());
        let mut debt = vec![0.0; len];
        let mut unsecured_owed = vec![0.0; len];
        let mut secured_paid = vec![0.0; len];
        // Slots: the creditors owed by this block, numbered within their owner's route in
        // ascending order (no sort: a pass over the firms).
        let mut slot_of = vec![u32::MAX; n];
        for (k, e, sec) in local_debts() {
            debt[k] += e.amount;
            unsecured_owed[k] += e.amount - sec;
            secured_paid[k] += sec;
            equity_before[k] -= e.amount;
            slot_of[e.creditor as usize] = 0;
        }
        let ext_liab: Vec<f64> = firms.iter().map(|f| f.external_liabilities).collect();
        let (pbar, senior): (Vec<f64>, Vec<f64>) = match s.external {
            Seniority::PariPassu => (
                (0..len).map(|k| unsecured_owed[k] + ext_liab[k]).collect(),
                vec![0.0; len],
            ),
            Seniority::Senior => (unsecured_owed, ext_liab.clone()),
        };
        let mut routes: Vec<Route> = (0..peers).map(|_| Route::default()).collect();
        for (w, block) in blocks.iter().enumerate() {
            let r = &mut routes[w];
            for c in block.clone() {
                if slot_of[c] != u32::MAX {
                    slot_of[c] = r.creditors.len() as u32;
                    r.creditors.push(c as u32);
                }
            }
            r.secured = vec![0.0; r.creditors.len()];
            r.claims = vec![0.0; r.creditors.len()];
            r.offsets = vec![0; len + 1];
        }
        // Edges by debtor (a counting sort), then filled in exposure order.
        for (k, e, sec) in local_debts() {
            let c = e.creditor as usize;
            let r = &mut routes[owner(&starts, c)];
            let slot = slot_of[c] as usize;
            r.secured[slot] += sec;
            r.claims[slot] += e.amount;
            if e.amount - sec > 0.0 {
                r.offsets[k + 1] += 1;
            }
        }
        let mut next: Vec<Vec<usize>> = Vec::with_capacity(peers);
        for r in &mut routes {
            for k in 0..len {
                r.offsets[k + 1] += r.offsets[k];
            }
            r.edges = vec![(0, 0, 0.0); r.offsets[len]];
            next.push(r.offsets[..len].to_vec());
        }
        for (k, e, sec) in local_debts() {
            let c = e.creditor as usize;
            let unsecured = e.amount - sec;
            if unsecured > 0.0 {
                let w = owner(&starts, c);
                let at = &mut next[w][k];
                routes[w].edges[*at] = (k as u32, slot_of[c], unsecured / pbar[k]);
                *at += 1;
            }
        }
        Self {
            lo,
            peers,
            index,

            rules: Rules::of(s),
            cap: s.max_iterations,
            pbar,
            senior,
            ext,
            ext_liab,
            debt,
            secured_paid,
            secured_recv: vec![0.0; len],
            equity_before,
            price_hit,
            stakes,
            routes,
            incoming: vec![Vec::new(); peers],
            iterations: 0,
        }
    }

    fn len(&self) -> usize {
        self.pbar.len()
    }

    /// What local firm `k` owes.
    fn owes(&self, k: usize) -> Owes {
        Owes {
            pbar: self.pbar[k],
            senior: self.senior[k],
        }
    }

    fn scale(&self, k: usize) -> f64 {
        self.owes(k).scale()
    }

    fn default_payment(&self, k: usize, inflow: f64) -> f64 {
        self.rules
            .default_payment(self.owes(k), self.ext[k], inflow)
    }

    /// Equity after clearing, by the single-process engine's rule.
    fn equity_after(&self, k: usize, in_default: bool, inflow: f64, p: f64) -> f64 {
        self.rules
            .equity(self.owes(k), in_default, self.ext[k], inflow, p)
    }

    /// Surplus of firm `k` while solvent, by the single-process engine's rule.
    fn surplus(&self, k: usize, inflow: f64) -> f64 {
        self.rules.surplus(self.owes(k), false, self.ext[k], inflow)
    }

    /// The start: swaps routes; returns whether any worker holds equity stakes.
    fn connect(&mut self, mailbox: &mut Mailbox<Msg>, worker: &mut timely::worker::Worker) -> bool {
        let out: Vec<(usize, Msg)> = self
            .routes
            .iter()
            .enumerate()
            .map(|(d, r)| {
                let msg = Msg::Routes {
                    creditors: r.creditors.clone(),
                    secured: r.secured.clone(),
                    claims: r.claims.clone(),
                    stakes: self.stakes,
                };
                (d, msg)
            })
            .collect();
        let mut any_stakes = false;
        for (src, msg) in mailbox.exchange(worker, out) {
            if let Msg::Routes {
                creditors,
                secured,
                claims,
                stakes,
            } = msg
            {
                any_stakes |= stakes;
                let local: Vec<u32> = creditors.iter().map(|&c| c - self.lo as u32).collect();
                for ((&k, s), c) in local.iter().zip(secured).zip(claims) {
                    self.secured_recv[k as usize] += s;
                    self.equity_before[k as usize] += c;
                }
                self.incoming[src] = local;
            }
        }
        any_stakes
    }

    /// Recomputes what the debtors outside `in_default` pay along each route (they pay
    /// `p̄` in full): called whenever the default set grows.
    fn refresh_fixed(&mut self, in_default: &[bool]) {
        let pbar = &self.pbar;
        for r in &mut self.routes {
            r.fixed = vec![0.0; r.creditors.len()];
            for (k, &d) in in_default.iter().enumerate() {
                if !d {
                    for &(_, slot, pi) in &r.edges[r.offsets[k]..r.offsets[k + 1]] {
                        r.fixed[slot as usize] += pi * pbar[k];
                    }
                }
            }
        }
    }

    /// One sweep's exchange: sends `Σ Π p` along the routes with this worker's figures;
    /// returns the inflows of the local firms, the global largest change and total shortfall.
    /// Firms outside `set` pay `p̄` (their part is [`Route::fixed`]); only the edges of the
    /// firms in `set` are summed again.
    fn pay(
        &mut self,
        set: &[usize],
        p: &[f64],
        moved: f64,
        mailbox: &mut Mailbox<Msg>,
        worker: &mut timely::worker::Worker,
    ) -> (Vec<f64>, f64, f64) {
        let shortfall: f64 = set.iter().map(|&k| self.pbar[k] - p[k]).sum();
        let out: Vec<(usize, Msg)> = self
            .routes
            .iter()
            .enumerate()
            .map(|(d, r)| {
                let mut sums = r.fixed.clone();
                for &k in set {
                    for &(_, slot, pi) in r.of(k) {
                        sums[slot as usize] += pi * p[k];
                    }
                }
                (
                    d,
                    Msg::Pay {
                        sums,
                        moved,
                        shortfall,
                    },
                )
            })
            .collect();
        let mut inflow = self.secured_recv.clone();
        let (mut g_moved, mut g_short) = (0.0f64, 0.0);
        for (src, msg) in mailbox.exchange(worker, out) {
            if let Msg::Pay {
                sums,
                moved,
                shortfall,
            } = msg
            {
                for (&k, x) in self.incoming[src].iter().zip(sums) {
                    inflow[k as usize] += x;
                }
                g_moved = g_moved.max(moved);
                g_short += shortfall;
            }
        }
        (inflow, g_moved, g_short)
    }

    /// Jacobi sweeps over the local firms in `set` (every worker sweeps together) until the
    /// global error bound is below the tolerance; the stopping rule of the single-process
    /// engine, with the global largest change. Returns whether it converged and leaves
    /// `inflow` and `shortfall` consistent with `p`.
    #[allow(clippy::too_many_arguments)]
    fn solve(
        &mut self,
        set: &[usize],
        p: &mut [f64],
        inflow: &mut Vec<f64>,
        shortfall: &mut f64,
        mailbox: &mut Mailbox<Msg>,
        worker: &mut timely::worker::Worker,
    ) -> bool {
        let mut stop = Stop::default();
        let budget = self.cap.saturating_sub(self.iterations).max(1);
        for sweep in 1..=budget {
            let mut local = 0.0f64;
            for &k in set {
                let v = self.default_payment(k, inflow[k]);
                local = local.max((p[k] - v).abs() / self.scale(k));
                p[k] = v;
            }
            let (inf, moved, short) = self.pay(set, p, local, mailbox, worker);
            *inflow = inf;
            *shortfall = short;
            self.iterations += 1;
            if stop.done(sweep, moved, self.rules.tol * TIGHTER) {
                return true;
            }
        }
        false
    }

    /// Tells every worker which local firms defaulted in this wave; returns all of them
    /// (ascending: blocks are in firm order).
    fn announce(
        &self,
        newly: &[usize],
        mailbox: &mut Mailbox<Msg>,
        worker: &mut timely::worker::Worker,
    ) -> Vec<u32> {
        let ids: Vec<u32> = newly.iter().map(|&k| (self.lo + k) as u32).collect();
        self.broadcast(ids, mailbox, worker)
    }

    /// Sends `ids` (ascending) to every worker; returns every worker's ids, ascending.
    fn broadcast(
        &self,
        ids: Vec<u32>,
        mailbox: &mut Mailbox<Msg>,
        worker: &mut timely::worker::Worker,
    ) -> Vec<u32> {
        let out = (0..self.peers).map(|d| (d, Msg::Newly(ids.clone())));
        let mut all = Vec::new();
        for (_, msg) in mailbox.exchange(worker, out) {
            if let Msg::Newly(ids) = msg {
                all.extend(ids);
            }
        }
        all
    }

    /// Shortfalls of this worker's debtors passed to the firms in `blamed` (sorted): returns,
    /// for each local firm among them, the contributions received, largest first.
    fn blame(
        &self,
        blamed: &[u32],
        p: &[f64],
        mailbox: &mut Mailbox<Msg>,
        worker: &mut timely::worker::Worker,
    ) -> HashMap<u32, Vec<Contribution>> {
        let mut out: Vec<Vec<(u32, u32, f64)>> = vec![Vec::new(); self.peers];
        for (d, r) in self.routes.iter().enumerate() {
            for &(k, slot, pi) in &r.edges {
                // Only debtors in default have a shortfall.
                let c = r.creditors[slot as usize];
                let k = k as usize;
                let loss = pi * (self.pbar[k] - p[k]);
                if loss > 0.0 && blamed.binary_search(&c).is_ok() {
                    out[d].push((c, (self.lo + k) as u32, loss));
                }
            }
        }
        let msgs = out.into_iter().enumerate().map(|(d, v)| (d, Msg::Blame(v)));
        let mut got: HashMap<u32, Vec<Contribution>> = HashMap::new();
        for (_, msg) in mailbox.exchange(worker, msgs) {
            if let Msg::Blame(v) = msg {
                for (c, firm, loss) in v {
                    let list = got.entry(c).or_default();
                    match list.iter_mut().find(|x| x.firm == firm) {
                        Some(x) => x.loss += loss,
                        None => list.push(Contribution { firm, loss }),
                    }
                }
            }
        }
        for list in got.values_mut() {
            list.sort_by(|a, b| b.loss.total_cmp(&a.loss).then(a.firm.cmp(&b.firm)));
        }
        got
    }

    /// The whole clearing on this worker; worker 0 returns the assembled result.
    fn run(
        &mut self,
        net: &Network,
        marks: &Marks,
        mailbox: &mut Mailbox<Msg>,
        worker: &mut timely::worker::Worker,
    ) -> Result<Option<Clearing>, String> {
        if self.connect(mailbox, worker) {
            return Err(
                "the network has equity stakes: --engine timely clears debt only \
                        (use --engine local for networks with equity stakes)"
                    .into(),
            );
        }
        let len = self.len();
        let lo = self.lo;
        let mut p = self.pbar.clone();
        self.refresh_fixed(&vec![false; len]);
        let (full_inflow, _, mut shortfall) = self.pay(&[], &p.clone(), 0.0, mailbox, worker);
        let own_surplus: Vec<f64> = (0..len).map(|k| self.surplus(k, full_inflow[k])).collect();
        let mut inflow = full_inflow;
        let mut in_default: Vec<bool> = (0..len).map(|k| marks.failed[lo + k]).collect();
        let mut default_round: Vec<Option<u32>> =
            in_default.iter().map(|&d| d.then_some(0)).collect();
        let mut cause: Vec<Option<Cause>> = in_default
            .iter()
            .map(|&d| d.then_some(Cause::Shock))
            .collect();
        let mut caused_by: Vec<Vec<Contribution>> = vec![Vec::new(); len];
        let mut set: Vec<usize> = (0..len).filter(|&k| in_default[k]).collect();
        let mut rounds = Vec::new();
        let mut converged = true;
        let mut last_shortfall = 0.0;
        let failed = self.announce(&set, mailbox, worker);
        if !failed.is_empty() {
            self.refresh_fixed(&in_default);
            rounds.push(Round {
                round: 0,
                defaults: failed,
                losses: 0.0,
            });
            converged &= self.solve(&set, &mut p, &mut inflow, &mut shortfall, mailbox, worker);
            if let Some(r) = rounds.last_mut() {
                r.losses = shortfall - last_shortfall;
                last_shortfall = shortfall;
            }
        }
        let mut wave = 0u32;
        loop {
            self.iterations += 1;
            let newly: Vec<usize> = (0..len)
                .filter(|&k| {
                    !in_default[k] && self.surplus(k, inflow[k]) < -self.rules.tol * self.scale(k)
                })
                .collect();
            let all = self.announce(&newly, mailbox, worker);
            if all.is_empty() {
                break;
            }
            wave += 1;
            let mut blamed = Vec::new();
            for &k in &newly {
                in_default[k] = true;
                default_round[k] = Some(wave);
                if own_surplus[k] < -self.rules.tol * self.scale(k) {
                    cause[k] = Some(if marks.shocked[lo + k] {
                        Cause::Shock
                    } else if self.price_hit[k] > 0.0 {
                        Cause::PriceFall
                    } else {
                        Cause::InitiallyInsolvent
                    });
                } else {
                    cause[k] = Some(Cause::CounterpartyDefault);
                    blamed.push((lo + k) as u32);
                }
            }
            let everyone_blamed = self.broadcast(blamed.clone(), mailbox, worker);
            let mut got = self.blame(&everyone_blamed, &p, mailbox, worker);
            for &c in &blamed {
                caused_by[c as usize - lo] = got.remove(&c).unwrap_or_default();
            }
            set.extend_from_slice(&newly);
            set.sort_unstable();
            self.refresh_fixed(&in_default);
            rounds.push(Round {
                round: wave,
                defaults: all,
                losses: 0.0,
            });
            let solved = self.solve(&set, &mut p, &mut inflow, &mut shortfall, mailbox, worker);
            converged &= solved;
            if let Some(r) = rounds.last_mut() {
                r.losses += shortfall - last_shortfall;
            }
            last_shortfall = shortfall;
            if self.iterations >= self.cap && !solved {
                converged = false;
                break;
            }
        }

        // Per-firm results, gathered at worker 0.
        let mut b = Block {
            pool_obligations: self.pbar.clone(),
            interbank_receipts: inflow.clone(),
            defaulted: in_default.clone(),
            default_round,
            cause,
            caused_by,
            equity_before: self.equity_before.clone(),
            ..Default::default()
        };
        for k in 0..len {
            let el = self.ext_liab[k];
            let (ext_paid, pool_interbank) = self.rules.split(
                self.owes(k),
                el,
                in_default[k],
                self.ext[k],
                inflow[k],
                p[k],
            );
            b.obligations.push(self.debt[k] + el);
            b.payments.push(self.secured_paid[k] + p[k] + ext_paid);
            b.interbank_payments
                .push(self.secured_paid[k] + pool_interbank);
            b.equity_after
                .push(self.equity_after(k, in_default[k], inflow[k], p[k]));
        }
        b.pool_payments = p;
        let got = mailbox.exchange(worker, [(0, Msg::Block(Box::new(b)))]);
        if self.index != 0 {
            return Ok(None);
        }
        let n = net.n_firms();
        let mut c = Clearing {
            payments: Vec::with_capacity(n),
            obligations: Vec::with_capacity(n),
            pool_payments: Vec::with_capacity(n),
            pool_obligations: Vec::with_capacity(n),
            interbank_payments: Vec::with_capacity(n),
            interbank_receipts: Vec::with_capacity(n),
            defaulted: Vec::with_capacity(n),
            default_round: Vec::with_capacity(n),
            cause: Vec::with_capacity(n),
            caused_by: Vec::with_capacity(n),
            equity_before: Vec::with_capacity(n),
            equity_after: Vec::with_capacity(n),
            rounds,
            converged,
            iterations: self.iterations,
            differs_from_least: Vec::new(),
            least_checked: false,
        };
        for (_, msg) in got {
            if let Msg::Block(b) = msg {
                let b = *b;
                c.payments.extend(b.payments);
                c.obligations.extend(b.obligations);
                c.pool_payments.extend(b.pool_payments);
                c.pool_obligations.extend(b.pool_obligations);
                c.interbank_payments.extend(b.interbank_payments);
                c.interbank_receipts.extend(b.interbank_receipts);
                c.defaulted.extend(b.defaulted);
                c.default_round.extend(b.default_round);
                c.cause.extend(b.cause);
                c.caused_by.extend(b.caused_by);
                c.equity_before.extend(b.equity_before);
                c.equity_after.extend(b.equity_after);
            }
        }
        Ok(Some(c))
    }
}
