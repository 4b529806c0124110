//! Systemic importance: for every firm, the scenario "this firm alone fails outright", run
//! with one model; what its failure does to the others, and how often each firm fails in the
//! others' scenarios.
//!
//! # Figures (for the scenario of firm `s`)
//! - `debtrank`: `Σ_{i ≠ s} v_i (h_i − h_i^0)`, the weighted distress its failure adds to the
//!   other firms, excluding its own initial shock (as in the literature); `h^0` is the distress
//!   of the unshocked network (1 for firms in default before any shock, else 0) and `v` the
//!   system weights (`weight` column, else shares of total assets). It equals
//!   `summary.debtrank` of `simulate --default s`: exactly for threshold and single-hit
//!   DebtRank, to within the convergence tolerance for linear and non-linear DebtRank, whose
//!   final states are computed by sweeps and reused across scenarios (see [`scenarios`]).
//! - `defaults_caused`: other firms in default that are not in default without a shock.
//! - `losses_caused`: equity the other firms lose (currency units), relative to the unshocked
//!   network; the failing firm's own loss and losses of creditors outside the network are
//!   excluded.
//! - `vulnerability` of firm `i`: in how many of the other firms' scenarios `i` is among the
//!   defaults caused.
//!
//! # Parallelism and determinism
//! Scenarios run in parallel on the current rayon pool, each with a workspace reused across
//! the scenarios a thread runs (DebtRank and threshold: only the part of the network a
//! scenario touches is reset and summed). Each scenario's figures are a pure function of the
//! network and the settings (for DebtRank, of the seeds too, which depend on nothing else),
//! and vulnerabilities are integer counts, so the output is identical whatever the number of
//! threads.

use std::fmt::Write as _;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::engine::buffers::{Impact, LossNetwork, system_weights};
use crate::engine::clearing::{Clearing, clear};
use crate::engine::{debtrank, threshold};
use crate::model::Network;
use crate::report::{NetworkInfo, human_amount};
use crate::scenario::Marks;
use crate::settings::{Model, Settings};

/// One firm's line of the ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankEntry {
    /// Firm id.
    pub id: String,
    /// Weighted distress its failure adds to the other firms (its own shock excluded).
    pub debtrank: f64,
    /// Other firms its failure pushes into default.
    pub defaults_caused: usize,
    /// Equity the other firms lose when it fails (currency units).
    pub losses_caused: f64,
    /// In how many other firms' scenarios this firm defaults.
    pub vulnerability: usize,
}

/// The ranking: every firm, sorted by `debtrank` descending, ties in input order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    /// Network name and currency.
    pub network: NetworkInfo,
    /// Model and every setting used.
    pub model: Settings,
    /// Whether every scenario converged within the iteration cap.
    pub converged: bool,
    /// One entry per firm (fewer after [`Ranking::truncate`]).
    pub firms: Vec<RankEntry>,
}

/// What one accumulator hands back: `(firm, impact)` of the scenarios it ran, and its
/// vulnerability counts.
type Partial = (Vec<(usize, Impact)>, Vec<u32>);

/// Per-thread accumulator: results of the scenarios it ran and its vulnerability counts.
struct Acc<W> {
    ws: W,
    out: Vec<(usize, Impact)>,
    counts: Vec<u32>,
}

/// The scenarios of a block of consecutive firms: their impacts, and how often each firm of
/// the network defaulted in them. Blocks of one network combine into a [`Ranking`] with
/// [`assemble`], whatever process or thread ran them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankPart {
    /// First firm of the block.
    pub start: usize,
    /// Impact of each firm's failure, for firms `start..start + impacts.len()`.
    pub impacts: Vec<Impact>,
    /// For every firm of the network: in how many of the block's scenarios it defaulted.
    pub counts: Vec<u32>,
}

/// Runs every firm's failure alone under `settings` (model, variant, …) and ranks the firms.
/// `progress`, when given, is incremented once per finished scenario (from any thread).
///
/// Cost: `n` scenarios; each costs what the engine spends on the part of the network the
/// failure reaches (DebtRank, threshold) or one full clearing (clearing).
pub fn rank(net: &Network, settings: &Settings, progress: Option<&AtomicUsize>) -> Ranking {
    let part = rank_part(net, settings, 0..net.n_firms(), progress);
    assemble(net, settings, vec![part])
}

/// Splits the firms `0..n` into `parts` blocks of consecutive firms for [`rank_part`], with
/// bounds on multiples of eight. Any split gives the same assembled ranking: no scenario's
/// figures depend on the other scenarios of its block or on those run beside it.
pub fn blocks(n: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.max(1);
    let batches = n.div_ceil(LANES);
    (0..parts)
        .map(|k| {
            let lo = (batches * k / parts * LANES).min(n);
            let hi = (batches * (k + 1) / parts * LANES).min(n);
            lo..hi
        })
        .collect()
}

/// Runs the scenarios of the firms in `firms` (a block from [`blocks`], or any range) in
/// parallel on the current rayon pool.
pub fn rank_part(
    net: &Network,
    settings: &Settings,
    firms: Range<usize>,
    progress: Option<&AtomicUsize>,
) -> RankPart {
    let n = net.n_firms();
    let firms = firms.start.min(n)..firms.end.min(n);
    let tick = || {
        if let Some(p) = progress {
            p.fetch_add(1, Ordering::Relaxed);
        }
    };
    let book = Marks::book(net);
    let start = firms.start;
    let (impacts, counts) = match settings.model {
        Model::Debtrank => {
            let lev = debtrank::Leverage::build(net, &book);
            scenarios::debtrank(&lev, settings, firms, &tick)
        }
        Model::Threshold => {
            let tr = threshold::Transmission::from_losses(LossNetwork::build(net, &book), settings);
            run_all(
                n,
                firms,
                || threshold::Workspace::new(&tr),
                |ws, s, on_default| {
                    let imp = ws.impact_of_failure(&tr, settings, s, on_default);
                    tick();
                    imp
                },
            )
        }
        Model::Clearing | Model::Cascade => {
            let weights = system_weights(net).0;
            let run = |marks: &Marks| {
                if settings.model == Model::Cascade {
                    ClearingView::of_cascade(&crate::engine::cascade::cascade(net, marks, settings))
                } else {
                    ClearingView::of(&clear(net, marks, settings))
                }
            };
            let base = run(&book);
            run_all(
                n,
                firms,
                || (),
                |_, s, on_default| {
                    let mut marks = book.clone();
                    marks.failed[s] = true;
                    marks.shocked[s] = true;
                    let view = run(&marks);
                    let imp = view.impact(&base, &weights, s, on_default);
                    tick();
                    imp
                },
            )
        }
    };
    RankPart {
        start,
        impacts,
        counts,
    }
}

/// Combines the blocks of every firm into the ranking: impacts in firm order, vulnerability
/// counts added up (integers, so the order of the additions cannot change them).
///
/// # Panics
/// If the blocks do not cover every firm of `net` exactly once.
pub fn assemble(net: &Network, settings: &Settings, mut parts: Vec<RankPart>) -> Ranking {
    let n = net.n_firms();
    parts.sort_by_key(|p| p.start);
    let mut counts = vec![0u32; n];
    let mut impacts = Vec::with_capacity(n);
    for p in parts {
        assert_eq!(p.start, impacts.len(), "rank blocks must tile the firms");
        impacts.extend(p.impacts);
        for (t, x) in counts.iter_mut().zip(p.counts) {
            *t += x;
        }
    }
    assert_eq!(impacts.len(), n, "rank blocks must cover every firm");
    let converged = impacts.iter().all(|i| i.converged);
    let mut firms: Vec<RankEntry> = impacts
        .iter()
        .enumerate()
        .map(|(s, imp)| RankEntry {
            id: net.firm_id(s).to_string(),
            debtrank: finite(imp.debtrank),
            defaults_caused: imp.defaults_caused,
            losses_caused: finite(imp.losses_caused),
            vulnerability: counts[s] as usize,
        })
        .collect();
    // Stable sort: ties keep input order.
    firms.sort_by(|a, b| b.debtrank.total_cmp(&a.debtrank));
    Ranking {
        network: NetworkInfo {
            name: net.meta().name.clone(),
            currency: net.meta().currency.clone(),
        },
        model: settings.clone(),
        converged,
        firms,
    }
}

/// Runs `scenario(ws, s, on_default)` for every firm `s` of `firms` in parallel, with one
/// workspace per rayon job; returns the impacts in firm order and the vulnerability counts.
fn run_all<W, I, F>(n: usize, firms: Range<usize>, init: I, scenario: F) -> (Vec<Impact>, Vec<u32>)
where
    W: Send,
    I: Fn() -> W + Sync + Send,
    F: Fn(&mut W, usize, &mut dyn FnMut(usize)) -> Impact + Sync + Send,
{
    let start = firms.start;
    let len = firms.len();
    let accs: Vec<Partial> = firms
        .into_par_iter()
        .fold(
            || Acc {
                ws: init(),
                out: Vec::new(),
                counts: vec![0u32; n],
            },
            |mut acc, s| {
                let Acc { ws, out, counts } = &mut acc;
                let imp = scenario(ws, s, &mut |i| counts[i] += 1);
                out.push((s, imp));
                acc
            },
        )
        .map(|acc| (acc.out, acc.counts))
        .collect();
    merge(n, start, len, accs)
}

/// Puts the scenarios' impacts in firm order and adds up the vulnerability counts (integers:
/// the order of the additions cannot change them).
fn merge(n: usize, start: usize, len: usize, accs: Vec<Partial>) -> (Vec<Impact>, Vec<u32>) {
    let mut impacts: Vec<Option<Impact>> = vec![None; len];
    let mut counts = vec![0u32; n];
    for (out, c) in accs {
        for (s, imp) in out {
            impacts[s - start] = Some(imp);
        }
        for (t, x) in counts.iter_mut().zip(c) {
            *t += x;
        }
    }
    let impacts = impacts
        .into_iter()
        .map(|x| x.expect("every scenario ran"))
        .collect();
    (impacts, counts)
}

/// Granularity of the work: block bounds are multiples of it, and single-hit scenarios are
/// dealt out to threads this many at a time.
pub(crate) const LANES: usize = 8;

pub mod scenarios;

/// What `rank` reads from a clearing result.
struct ClearingView {
    defaulted: Vec<bool>,
    distress: Vec<f64>,
    equity_after: Vec<f64>,
    converged: bool,
}

impl ClearingView {
    fn of(c: &Clearing) -> Self {
        let distress = (0..c.defaulted.len())
            .map(|i| {
                let before = c.equity_before[i];
                if c.defaulted[i] {
                    1.0
                } else if before > 0.0 {
                    ((before - c.equity_after[i]) / before).clamp(0.0, 1.0)
                } else {
                    0.0
                }
            })
            .collect();
        Self {
            defaulted: c.defaulted.clone(),
            distress,
            equity_after: c.equity_after.clone(),
            converged: c.converged,
        }
    }

    /// The combined cascade's final clearing, with its halts counted as defaults.
    fn of_cascade(k: &crate::engine::cascade::Cascade) -> Self {
        let mut v = Self::of(&k.clearing);
        for (i, &d) in k.defaulted.iter().enumerate() {
            if d {
                v.defaulted[i] = true;
                v.distress[i] = 1.0;
            }
        }
        v.converged &= k.converged;
        v
    }

    fn impact(
        &self,
        base: &ClearingView,
        weights: &[f64],
        s: usize,
        on_default: &mut dyn FnMut(usize),
    ) -> Impact {
        let mut imp = Impact {
            debtrank: 0.0,
            defaults_caused: 0,
            losses_caused: 0.0,
            converged: self.converged,
        };
        for i in 0..self.distress.len() {
            if i == s {
                continue;
            }
            imp.debtrank += weights[i] * (self.distress[i] - base.distress[i]);
            imp.losses_caused += (base.equity_after[i] - self.equity_after[i]).max(0.0);
            if self.defaulted[i] && !base.defaulted[i] {
                imp.defaults_caused += 1;
                on_default(i);
            }
        }
        imp
    }
}

fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

impl Ranking {
    /// Keeps the first `k` firms.
    pub fn truncate(&mut self, k: usize) {
        self.firms.truncate(k);
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        s.push('\n');
        s
    }

    /// One CSV row per firm: `id,debtrank,defaults_caused,losses_caused,vulnerability`.
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record([
            "id",
            "debtrank",
            "defaults_caused",
            "losses_caused",
            "vulnerability",
        ]);
        for f in &self.firms {
            let _ = w.write_record([
                f.id.clone(),
                f.debtrank.to_string(),
                f.defaults_caused.to_string(),
                f.losses_caused.to_string(),
                f.vulnerability.to_string(),
            ]);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// An aligned table for people, with the model in a header line.
    pub fn to_table(&self) -> String {
        let cur = &self.network.currency;
        let mut out = String::new();
        let detail = match self.model.model {
            Model::Debtrank => format!(" ({})", self.model.variant.as_str()),
            Model::Threshold => format!(" (recovery {})", self.model.recovery),
            Model::Clearing | Model::Cascade => String::new(),
        };
        let _ = writeln!(
            out,
            "{}: systemic importance, each firm failing alone, model {}{detail}\n",
            self.network.name.as_deref().unwrap_or("network"),
            self.model.model.as_str(),
        );
        let mut rows = vec![vec![
            "#".to_string(),
            "firm".into(),
            "debtrank".into(),
            "defaults caused".into(),
            format!("losses caused ({cur})"),
            "vulnerability".into(),
        ]];
        for (k, f) in self.firms.iter().enumerate() {
            rows.push(vec![
                (k + 1).to_string(),
                f.id.clone(),
                format!("{:.6}", f.debtrank),
                f.defaults_caused.to_string(),
                human_amount(f.losses_caused),
                f.vulnerability.to_string(),
            ]);
        }
        let width: Vec<usize> = (0..6)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for r in &rows {
            let mut line = String::new();
            for (c, cell) in r.iter().enumerate() {
                let pad = " ".repeat(width[c] - cell.chars().count());
                if c > 0 {
                    line.push_str("  ");
                }
                if c == 1 {
                    line.push_str(cell);
                    line.push_str(&pad);
                } else {
                    line.push_str(&pad);
                    line.push_str(cell);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        if !self.converged {
            let _ = writeln!(
                out,
                "\nWARNING: some scenarios hit the iteration cap ({}) before converging.",
                self.model.max_iterations
            );
        }
        out
    }
}
