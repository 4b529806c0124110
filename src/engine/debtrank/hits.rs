//! Single-hit failure scenarios one after another, by pushing stress along exposures.
//!
//! In single-hit DebtRank a firm passes its stress on once, in the round after it is first
//! distressed, so a scenario visits each exposure of the firms it reaches once. A [`Workspace`]
//! instead has every creditor a round reaches sum its whole row of `Λ`, and a creditor whose
//! debtors are distressed in different rounds sums its row once per round; a [`Batch`] runs
//! its lanes in lockstep, so every firm a lane reaches sums its row in every round any lane is
//! active. [`SingleHits`] does one scenario at a time with one pass over the exposures of the
//! firms reached: each distressed firm, taken in increasing index order, adds what it passes
//! on to its creditors' inboxes. Since the rows of `Λ` are in increasing debtor order, every
//! inbox receives its terms in the order of its row, so the sums — and every figure — are the
//! same bits as a [`Workspace`] run.
//!
//! State: `O(n)` per workspace, reset only where the last scenario reached.
//!
//! [`Workspace`]: super::Workspace
//! [`Batch`]: super::Batch

use super::{Leverage, absorb_one, lane_impact, snap};
use crate::engine::buffers::{Impact, TOUCHED, Touched};
use crate::model::Csr;
use crate::settings::Settings;

/// Firm flag: distressed in this scenario (or in default from the start); passes stress on
/// at most once.
const HIT: u8 = 4;

/// Reusable state for single-hit scenarios "firm `s` alone fails" on one [`Leverage`].
///
/// Memory: about `21 n` bytes.
#[derive(Debug, Clone)]
pub struct SingleHits {
    h: Vec<f64>,
    /// What this round's distressed debtors pass on, not yet taken.
    inbox: Vec<f64>,
    flags: Vec<u8>,
    /// Firms distressed in this scenario (the only ones whose state changes).
    touched: Touched,
    /// Creditors reached in this round.
    receiving: Bits,
    /// Firms passing stress on in this round and in the next, as bit sets (visited in
    /// increasing index order), with the span of words in use.
    now: Bits,
    next: Bits,
}

/// A bit set over the firms with the span of words it has set: words are set only together
/// with a widening of the span and cleared only together with its reset, so the set is
/// empty exactly when the span is.
#[derive(Debug, Clone)]
struct Bits {
    words: Vec<u64>,
    lo: usize,
    hi: usize,
}

impl Bits {
    fn new(n: usize) -> Self {
        Self {
            words: vec![0; n.div_ceil(64)],
            lo: usize::MAX,
            hi: 0,
        }
    }

    /// Adds firm `i` when `yes` (without a branch).
    #[inline(always)]
    fn insert_if(&mut self, i: usize, yes: bool) {
        let w = i / 64;
        self.words[w] |= u64::from(yes) << (i % 64);
        // `w` itself, or a span that changes nothing.
        let (lo, hi) = if yes { (w, w + 1) } else { (usize::MAX, 0) };
        self.lo = self.lo.min(lo);
        self.hi = self.hi.max(hi);
    }

    fn is_empty(&self) -> bool {
        self.lo >= self.hi
    }

    /// Calls `f` on every member, in increasing order, emptying the set.
    #[inline(always)]
    fn drain(&mut self, mut f: impl FnMut(usize)) {
        for w in self.lo..self.hi {
            let mut bits = std::mem::take(&mut self.words[w]);
            while bits != 0 {
                f(w * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
        self.lo = usize::MAX;
        self.hi = 0;
    }

    /// Empties the set.
    fn clear(&mut self) {
        if self.lo < self.hi {
            self.words[self.lo..self.hi].fill(0);
        }
        self.lo = usize::MAX;
        self.hi = 0;
    }
}

impl SingleHits {
    /// Allocates the state for `lev`.
    pub fn new(lev: &Leverage) -> Self {
        let n = lev.n();
        let mut s = Self {
            h: vec![0.0; n],
            inbox: vec![0.0; n],
            flags: vec![0; n],
            touched: Touched::new(n),
            receiving: Bits::new(n),
            now: Bits::new(n),
            next: Bits::new(n),
        };
        for i in 0..n {
            s.set_baseline(lev, i);
        }
        s
    }

    /// Before any shock: firms without a buffer are at stress 1 and pass nothing on.
    fn set_baseline(&mut self, lev: &Leverage, i: usize) {
        let insolvent = lev.losses().insolvent(i);
        self.h[i] = if insolvent { 1.0 } else { 0.0 };
        self.inbox[i] = 0.0;
        self.flags[i] = if insolvent { HIT } else { 0 };
    }

    /// The scenario "firm `s` alone fails" (stress 1): the DebtRank, defaults and losses it
    /// causes among the other firms, the same bits as
    /// [`Workspace::impact_of_failure`](super::Workspace::impact_of_failure). `on_default(i)`
    /// is called for every other firm `i` that defaults, in firm order.
    pub fn impact_of_failure(
        &mut self,
        lev: &Leverage,
        settings: &Settings,
        s: usize,
        on_default: impl FnMut(usize),
    ) -> Impact {
        let tol = settings.tolerance;
        for k in 0..self.touched.forget() {
            self.set_baseline(lev, self.touched.list[k] as usize);
        }
        self.now.clear();
        self.next.clear();
        self.receiving.clear();
        // Round 0: `s` fails (a firm without a buffer fails outright and passes its whole
        // exposure on).
        self.touched.mark(&mut self.flags, s);
        self.flags[s] |= HIT;
        self.h[s] = snap(1.0, tol).max(self.h[s]);
        self.now.insert_if(s, lev.has_creditors(s));
        let by_debtor = lev.by_debtor();
        let mut converged = true;
        let mut t = 0usize;
        while !self.now.is_empty() {
            if t >= settings.max_iterations {
                converged = false;
                break;
            }
            t += 1;
            self.pass(by_debtor);
            self.take(lev, tol);
            std::mem::swap(&mut self.now, &mut self.next);
        }
        self.touched.sort(&self.flags);
        lane_impact(
            lev,
            self.touched.as_slice(),
            s,
            |i| self.h[i],
            converged,
            on_default,
        )
    }

    /// Every distressed firm, in increasing index order, adds its stress level times its
    /// capped impacts to its creditors' inboxes and marks them as receiving (also those at
    /// stress 1, for whom it changes nothing: no branch depends on the data, and no step
    /// waits for a load of the step before). Empties `now`.
    #[inline(always)]
    fn pass(&mut self, by_debtor: &Csr) {
        let (h, inbox, receiving) = (&self.h, &mut self.inbox, &mut self.receiving);
        self.now.drain(|j| {
            let level = h[j];
            let (idx, val) = by_debtor.row(j);
            let (Some(&first), Some(&last)) = (idx.first(), idx.last()) else {
                return;
            };
            for (&i, &lam) in idx.iter().zip(val) {
                let iu = i as usize;
                inbox[iu] += lam.min(1.0) * level;
                receiving.words[iu / 64] |= 1 << (iu % 64);
            }
            // Rows of `Λ` by debtor are in increasing creditor order.
            receiving.lo = receiving.lo.min(first as usize / 64);
            receiving.hi = receiving.hi.max(last as usize / 64 + 1);
        });
    }

    /// The creditors reached take their inboxes, in increasing index order; those distressed
    /// for the first time join `next` (when they have creditors of their own). Empties
    /// `receiving`.
    #[inline(always)]
    fn take(&mut self, lev: &Leverage, tol: f64) {
        let mut count = self.touched.len;
        let (h, inbox, flags, touched, next) = (
            &mut self.h,
            &mut self.inbox,
            &mut self.flags,
            &mut self.touched.list,
            &mut self.next,
        );
        self.receiving.drain(|iu| {
            let a = std::mem::replace(&mut inbox[iu], 0.0);
            let new = absorb_one(h[iu], a, tol);
            h[iu] = new;
            let f = flags[iu];
            let first = (f & HIT == 0) & (new > 0.0);
            flags[iu] = f | (u8::from(first) * (HIT | TOUCHED));
            touched[count] = iu as u32;
            count += usize::from(first);
            next.insert_if(iu, first & lev.has_creditors(iu));
        });
        self.touched.len = count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::generate::{GenSpec, Topology, generate};
    use crate::engine::debtrank::Workspace;
    use crate::model::{Exposure, Network};
    use crate::scenario::Marks;
    use crate::settings::Variant;

    /// A generated network with thin buffers (entries of `Λ` above 1), some firms without a
    /// buffer, and its exposures reversed (unsorted rows), some of them twice.
    fn rough(n: usize, seed: u64) -> Network {
        let mut spec = GenSpec::new(n, 4.0, Topology::ErdosRenyi, seed);
        spec.capital_ratio = 0.01;
        let mut parts = generate(&spec).into_parts();
        for (i, f) in parts.firms.iter_mut().enumerate() {
            match i % 10 {
                0 => f.capital = Some(0.0),
                1 => f.capital = Some(-1.0),
                _ => {}
            }
        }
        parts.exposures.reverse();
        let again: Vec<Exposure> = parts.exposures[..n].to_vec();
        parts.exposures.extend(again);
        parts.labels.clear();
        Network::from_parts(parts).expect("valid network")
    }

    /// Every firm's failure gives the figures and defaults of a [`Workspace`] run, to the last
    /// bit: on generated networks, on one with firms in default from the start and capped
    /// impacts, and when the round cap cuts cascades short.
    #[test]
    fn scenarios_equal_workspace_runs_bit_for_bit() {
        let mut er = GenSpec::new(400, 8.0, Topology::ErdosRenyi, 5);
        er.capital_ratio = 0.02;
        let sf = GenSpec::new(400, 8.0, Topology::ScaleFree { exponent: 2.2 }, 6);
        let nets = [generate(&er), generate(&sf), rough(300, 7), rough(300, 8)];
        let (mut defaults, mut cut) = (0, 0);
        for (k, net) in nets.iter().enumerate() {
            let lev = Leverage::build(net, &Marks::book(net));
            for max_iterations in [1000, 3] {
                let settings = Settings {
                    variant: Variant::SingleHit,
                    max_iterations,
                    ..Settings::default()
                };
                let mut ws = Workspace::new(&lev, &settings);
                let mut hits = SingleHits::new(&lev);
                for s in 0..net.n_firms() {
                    let (mut want, mut got) = (Vec::new(), Vec::new());
                    let a = ws.impact_of_failure(&lev, &settings, s, |i| want.push(i));
                    let b = hits.impact_of_failure(&lev, &settings, s, |i| got.push(i));
                    assert_eq!(a, b, "network {k}, cap {max_iterations}, firm {s}");
                    assert_eq!(a.debtrank.to_bits(), b.debtrank.to_bits());
                    assert_eq!(a.losses_caused.to_bits(), b.losses_caused.to_bits());
                    assert_eq!(want, got, "network {k}, firm {s}");
                    defaults += got.len();
                    cut += usize::from(!b.converged);
                }
            }
        }
        assert!(defaults > 0, "no default: the test misses that path");
        assert!(cut > 0, "no cascade cut short: the test misses that path");
    }
}
