//! Threshold cascade: Furfine (2003) sequential defaults.
//!
//! Furfine, C. (2003), "Interbank Exposures: Quantifying the Risk of Contagion", Journal of
//! Money, Credit and Banking 35(1): 111–128.
//!
//! # Model
//! Firm `i` has a buffer `E_i` and exposures at risk `A_ij` to its debtors (see
//! [`super::cascade`]). It accumulates a loss `L_i`, starting from the loss of the shocks.
//! Round 0: firms that fail outright, and firms whose initial loss reaches their buffer,
//! default. Round `k ≥ 1`: every creditor `i` of a firm `j` that defaulted in round `k − 1`
//! loses `(1 − R) · A_ij` (R = [`Settings::recovery`], default 0); a firm defaults in round
//! `k` when `L_i ≥ E_i`. The cascade stops when a round adds no default.
//!
//! # Conventions
//! - Tie rule: a loss exactly equal to the buffer is a default (`≥`, not `>`). A loss within
//!   `tolerance × max(1, |E_i|)` of the buffer counts as equal, so that rounding never
//!   decides a default.
//! - Initial loss: `default` shock → the whole buffer; `equity_shock` of fraction `f` →
//!   `f · E_i`; `asset_loss` and `price` shocks → the fall in value of the firm's assets
//!   outside the network. The total is floored at 0.
//! - Only unsecured exposure is lost: the collateral cover at current prices stays with the
//!   creditor. Equity stakes count as exposures: a stake in a defaulted firm is lost in the
//!   same way (with the same recovery).
//! - Reported losses are `min(L_i, max(0, E_i))`: never more than the buffer. `distress` is
//!   that loss over the buffer (1 in default).
//! - Firms without a buffer are in default from round 0 and pass on losses only when a
//!   `default` shock names them (see [`super::cascade`]).
//!
//! # Cost
//! Event-driven: a round touches only the creditors of the firms that defaulted in the
//! previous one, so a cascade costs `O(Σ outdeg)` over its defaults — `O(n + m)` at most —
//! and a reused [`Workspace`] resets only what the previous run touched.

use super::buffers::{
    BufferOutcome, Impact, LossNetwork, NO_ROUND, Touched, scale_contributions, shock_losses,
};
use super::{Cause, Contribution, Round};
use crate::model::{Csr, Network};
use crate::scenario::Marks;
use crate::settings::Settings;

/// Losses a default transmits, ready to propagate on.
#[derive(Debug, Clone)]
pub struct Transmission {
    losses: LossNetwork,
    /// By debtor: row `j` lists `(i, (1 − R) · A_ij)`.
    lost: Csr,
    /// Loss at which each firm defaults: `E_i − tolerance · max(1, |E_i|)`.
    trigger: Vec<f64>,
}

impl Transmission {
    /// Builds the transmitted losses of `net` at the prices in `marks` under `settings`
    /// (recovery, tolerance). `O(n + m)`.
    pub fn build(net: &Network, marks: &Marks, settings: &Settings) -> Self {
        Self::from_losses(LossNetwork::build(net, marks), settings)
    }

    /// From buffers and exposures at risk.
    pub fn from_losses(losses: LossNetwork, settings: &Settings) -> Self {
        let lgd = 1.0 - settings.recovery;
        // Firms without a buffer are in default already: losses on them change nothing.
        let lost = losses
            .at_risk
            .filter_map(|i, _, a| {
                let x = lgd * a;
                (losses.buffer[i] > 0.0 && x > 0.0).then_some(x)
            })
            .transpose(losses.n());
        let trigger = losses
            .buffer
            .iter()
            .map(|&e| e - settings.tolerance * e.abs().max(1.0))
            .collect();
        Self {
            losses,
            lost,
            trigger,
        }
    }

    /// Buffers, exposures at risk and weights.
    pub fn losses(&self) -> &LossNetwork {
        &self.losses
    }

    /// Number of firms.
    pub fn n(&self) -> usize {
        self.losses.n()
    }

    /// Distress of a firm with accumulated loss `l`: `min(1, l / E)`, 1 in default.
    fn distress(&self, i: usize, l: f64, defaulted: bool) -> f64 {
        let e = self.losses.buffer[i];
        if defaulted || e <= 0.0 {
            1.0
        } else {
            (l / e).clamp(0.0, 1.0)
        }
    }
}

/// What a run reports besides the per-firm state kept in the [`Workspace`].
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Rounds 1, 2, … (empty unless recording was asked for).
    pub rounds: Vec<Round>,
    /// Rounds performed.
    pub iterations: usize,
    /// False when the round cap was hit.
    pub converged: bool,
}

/// Reusable per-firm state of threshold cascades on one [`Transmission`].
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Accumulated loss `L`.
    loss: Vec<f64>,
    /// Loss right after the shock.
    loss1: Vec<f64>,
    /// Whether the firm passes on losses when in default (false for firms in default before
    /// the shock).
    transmits: Vec<bool>,
    flags: Vec<u8>,
    round: Vec<u32>,
    touched: Touched,
    frontier: Vec<u32>,
    next: Vec<u32>,
}

impl Workspace {
    /// Allocates the state for `tr`.
    pub fn new(tr: &Transmission) -> Self {
        let n = tr.n();
        let mut ws = Self {
            loss: vec![0.0; n],
            loss1: vec![0.0; n],
            transmits: vec![true; n],
            flags: vec![0; n],
            round: vec![NO_ROUND; n],
            touched: Touched::new(n),
            frontier: Vec::new(),
            next: Vec::new(),
        };
        for i in 0..n {
            ws.set_baseline(tr, i);
        }
        ws
    }

    fn set_baseline(&mut self, tr: &Transmission, i: usize) {
        let insolvent = tr.losses.insolvent(i);
        self.loss[i] = 0.0;
        self.loss1[i] = 0.0;
        self.transmits[i] = !insolvent;
        self.flags[i] = 0;
        self.round[i] = if insolvent { 0 } else { NO_ROUND };
    }

    fn reset(&mut self, tr: &Transmission) {
        for k in 0..self.touched.forget() {
            self.set_baseline(tr, self.touched.list[k] as usize);
        }
        self.frontier.clear();
        self.next.clear();
    }

    #[inline]
    fn touch(&mut self, i: usize) {
        self.touched.mark(&mut self.flags, i);
    }

    /// Runs a cascade from the initial losses `start` (`(firm, loss, fails outright)`).
    /// Keeps the rounds when `record` is set.
    pub fn run(
        &mut self,
        tr: &Transmission,
        settings: &Settings,
        start: &[(u32, f64, bool)],
        record: bool,
    ) -> Run {
        self.reset(tr);
        for &(i, l, fails) in start {
            let iu = i as usize;
            self.touch(iu);
            if fails {
                self.loss[iu] = tr.losses.buffer[iu].max(0.0);
                self.round[iu] = 0;
                self.transmits[iu] = true;
            } else if self.round[iu] == NO_ROUND {
                self.loss[iu] = self.loss[iu].max(l.max(0.0));
                if self.loss[iu] >= tr.trigger[iu] {
                    self.round[iu] = 0;
                }
            }
            self.loss1[iu] = self.loss[iu];
        }
        for k in 0..self.touched.len {
            let i = self.touched.list[k];
            let iu = i as usize;
            if self.round[iu] == 0 && self.transmits[iu] && !tr.lost.row(iu).0.is_empty() {
                self.frontier.push(i);
            }
        }
        let mut rounds = Vec::new();
        let mut t = 0u32;
        let mut converged = true;
        while !self.frontier.is_empty() {
            if t as usize >= settings.max_iterations {
                converged = false;
                break;
            }
            t += 1;
            let mut losses = 0.0;
            let mut defaults = Vec::new();
            let frontier = std::mem::take(&mut self.frontier);
            for &j in &frontier {
                let (idx, val) = tr.lost.row(j as usize);
                for (&i, &x) in idx.iter().zip(val) {
                    let iu = i as usize;
                    self.touch(iu);
                    let cap = tr.losses.buffer[iu].max(0.0);
                    let before = self.loss[iu].min(cap);
                    self.loss[iu] += x;
                    losses += self.loss[iu].min(cap) - before;
                    if self.round[iu] == NO_ROUND && self.loss[iu] >= tr.trigger[iu] {
                        self.round[iu] = t;
                        if record {
                            defaults.push(i);
                        }
                        // A firm without creditors has no loss to pass on.
                        if !tr.lost.row(iu).0.is_empty() {
                            self.next.push(i);
                        }
                    }
                }
            }
            self.frontier = frontier;
            self.frontier.clear();
            if record {
                defaults.sort_unstable();
                rounds.push(Round {
                    round: t,
                    defaults,
                    losses,
                });
            }
            std::mem::swap(&mut self.frontier, &mut self.next);
        }
        Run {
            rounds,
            iterations: t as usize,
            converged,
        }
    }

    /// Reported loss of firm `i`: `min(L_i, max(0, E_i))`, the whole buffer in default.
    fn reported_loss(&self, tr: &Transmission, i: usize) -> f64 {
        let cap = tr.losses.buffer[i].max(0.0);
        if self.round[i] != NO_ROUND {
            cap
        } else {
            self.loss[i].min(cap)
        }
    }

    /// The scenario "firm `s` alone fails": DebtRank, defaults and losses it causes among the
    /// other firms; `on_default` is called for every other firm it pushes into default, in
    /// firm order.
    pub fn impact_of_failure(
        &mut self,
        tr: &Transmission,
        settings: &Settings,
        s: usize,
        mut on_default: impl FnMut(usize),
    ) -> Impact {
        let run = self.run(tr, settings, &[(s as u32, 0.0, true)], false);
        self.touched.sort(&self.flags);
        let w = &tr.losses.weight;
        let mut debtrank = 0.0;
        let mut losses = 0.0;
        let mut defaults = 0;
        for &i in self.touched.as_slice() {
            let i = i as usize;
            if i == s {
                continue;
            }
            let d = self.round[i] != NO_ROUND;
            let d0 = tr.distress(i, self.loss1[i], false);
            debtrank += w[i] * (tr.distress(i, self.loss[i], d) - d0);
            losses += self.reported_loss(tr, i) - self.loss1[i].min(tr.losses.buffer[i].max(0.0));
            if d {
                defaults += 1;
                on_default(i);
            }
        }
        Impact {
            debtrank,
            defaults_caused: defaults,
            losses_caused: losses,
            converged: run.converged,
        }
    }
}

/// Initial losses of the firms the shocks in `marks` hit: `(firm, loss, fails outright)`.
/// Firms without a buffer are listed only when they fail outright.
pub fn initial_losses(losses: &LossNetwork, net: &Network, marks: &Marks) -> Vec<(u32, f64, bool)> {
    let loss = shock_losses(net, marks);
    (0..losses.n())
        .filter_map(|i| {
            if marks.failed[i] {
                Some((i as u32, 0.0, true))
            } else if losses.insolvent(i) {
                None
            } else {
                let l = (marks.equity_shock[i] * losses.buffer[i] + loss[i]).max(0.0);
                (l > 0.0).then_some((i as u32, l, false))
            }
        })
        .collect()
}

/// Runs the threshold cascade on `net` after the shocks in `marks` under `settings`. See the
/// module docs. Deterministic.
pub fn threshold(net: &Network, marks: &Marks, settings: &Settings) -> BufferOutcome {
    let tr = Transmission::build(net, marks, settings);
    let start = initial_losses(&tr.losses, net, marks);
    let mut ws = Workspace::new(&tr);
    let run = ws.run(&tr, settings, &start, true);
    let n = tr.n();
    let ln = &tr.losses;
    let default_round: Vec<Option<u32>> = ws
        .round
        .iter()
        .map(|&r| (r != NO_ROUND).then_some(r))
        .collect();
    let defaulted: Vec<bool> = default_round.iter().map(Option::is_some).collect();
    let initial_distress: Vec<f64> = (0..n)
        .map(|i| tr.distress(i, ws.loss1[i], default_round[i] == Some(0)))
        .collect();
    let distress: Vec<f64> = (0..n)
        .map(|i| tr.distress(i, ws.loss[i], defaulted[i]))
        .collect();
    let loss: Vec<f64> = (0..n).map(|i| ws.reported_loss(&tr, i)).collect();
    ws.touched.sort(&ws.flags);
    let debtrank: f64 = ws
        .touched
        .as_slice()
        .iter()
        .map(|&i| {
            let i = i as usize;
            ln.weight[i] * (distress[i] - initial_distress[i])
        })
        .sum();
    let initial_debtrank: f64 = (0..n).map(|i| ln.weight[i] * initial_distress[i]).sum();

    let by_creditor = tr.lost.transpose(n);
    let mut cause = vec![None; n];
    let mut caused_by = vec![Vec::new(); n];
    for i in 0..n {
        match default_round[i] {
            None => {}
            Some(0) => {
                cause[i] = Some(if ln.insolvent(i) && !marks.failed[i] {
                    Cause::InitiallyInsolvent
                } else {
                    Cause::Shock
                });
            }
            Some(r) => {
                cause[i] = Some(Cause::CounterpartyDefault);
                let (idx, lost) = by_creditor.row(i);
                let raw = idx
                    .iter()
                    .zip(lost)
                    .filter(|(j, _)| {
                        let j = **j as usize;
                        ws.transmits[j] && ws.round[j] < r
                    })
                    .map(|(&j, &x)| Contribution { firm: j, loss: x })
                    .collect();
                let cap = ln.buffer[i].max(0.0);
                caused_by[i] = scale_contributions(raw, cap - ws.loss1[i].min(cap));
            }
        }
    }
    let mut rounds = Vec::with_capacity(run.rounds.len() + 1);
    let first: Vec<u32> = (0..n as u32)
        .filter(|&i| default_round[i as usize] == Some(0))
        .collect();
    let first_loss: f64 = (0..n).map(|i| ws.loss1[i].min(ln.buffer[i].max(0.0))).sum();
    if !first.is_empty() || first_loss > 0.0 {
        rounds.push(Round {
            round: 0,
            defaults: first,
            losses: first_loss,
        });
    }
    rounds.extend(run.rounds);
    BufferOutcome {
        buffer: ln.buffer.clone(),
        initial_distress,
        distress,
        loss,
        defaulted,
        default_round,
        cause,
        caused_by,
        rounds,
        converged: run.converged,
        iterations: run.iterations,
        weight: ln.weight.clone(),
        weight_source: ln.weight_source,
        missing_weights: ln.missing_weights,
        debtrank,
        initial_debtrank,
        spectral_radius: None,
    }
}
