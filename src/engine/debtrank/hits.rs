//! Single-hit failure scenarios in lanes, by pushing stress along exposures.
//!
//! In single-hit DebtRank a firm passes its stress on once, in the round after it is first
//! distressed, so a scenario needs each exposure of the firms it reaches once. A [`Workspace`]
//! instead has every creditor a round reaches sum its whole row of `Λ`, and a creditor whose
//! debtors are distressed in different rounds sums its row once per round; a [`Batch`] runs
//! its lanes in lockstep, so every firm a lane reaches sums its row in every round any lane is
//! active. [`HitLanes`] pushes instead: each firm passing on in some lane, taken in increasing
//! index order, adds what it passes on to its creditors' inboxes, in all lanes at once. Since
//! the rows of `Λ` are in increasing debtor order, every inbox receives its terms in the order
//! of its row, so the sums — and every figure — are the same bits as a [`Workspace`] run.
//!
//! State: `O(B n)` per workspace, reset only where the last scenarios reached.
//!
//! [`Workspace`]: super::Workspace
//! [`Batch`]: super::Batch

use super::{ImpactSum, Lanes, Leverage, absorb_one, snap};
use crate::engine::buffers::{Impact, Touched};
use crate::model::Csr;
use crate::settings::Settings;

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

    /// The words in use, for a loop that takes them with [`Bits::take_word`] (a loop
    /// written out in a caller compiled for a wider instruction set keeps its body there,
    /// where a closure passed to [`Bits::drain`] may be compiled apart).
    fn span(&self) -> std::ops::Range<usize> {
        self.lo..self.hi
    }

    /// Word `w`, cleared; the caller resets the span once it has taken every word.
    #[inline(always)]
    fn take_word(&mut self, w: usize) -> u64 {
        std::mem::take(&mut self.words[w])
    }

    /// Forgets the span once every word of it was taken.
    fn reset_span(&mut self) {
        self.lo = usize::MAX;
        self.hi = 0;
    }
}

/// `B` single-hit failure scenarios "firm `s` alone fails" at once, in lanes that go through
/// the rounds together.
///
/// In a round, every firm that passes its stress on in some lane (it was first distressed
/// there in the round before) is visited once, in increasing index order, and pushes its
/// level in those lanes — zero in the others — along its exposures into its creditors'
/// sixteen-lane inboxes. Since a firm is usually first distressed in only a few different
/// rounds over the lanes (on random networks most firms lie three to five steps from any
/// source), this visits each exposure a few times per group instead of once per scenario.
/// (Measured on a random network of 10⁴ firms with average degree 10: `rank` took about half
/// the time of one scenario at a time.) Every lane adds its terms in the order of the
/// creditor's row (a zero term changes no bit), so every lane gives the same bits as a
/// [`Workspace`](super::Workspace) run of its scenario.
///
/// Memory: about `16 B · n` bytes plus 13 per firm; `B ≤ 32`.
#[derive(Debug, Clone)]
pub struct HitLanes<const B: usize> {
    h: Vec<Lanes<B>>,
    inbox: Vec<Lanes<B>>,
    /// Lanes in which each firm is distressed (all lanes for a firm without a buffer).
    hit: Vec<u32>,
    /// Lanes in which each firm passes its stress on in this round, and in the next.
    now: Vec<u32>,
    next: Vec<u32>,
    flags: Vec<u8>,
    touched: Touched,
    /// Firms with lanes in `now`, in `next`, and creditors reached in this round.
    passing: Bits,
    coming: Bits,
    receiving: Bits,
}

impl<const B: usize> HitLanes<B> {
    /// Every lane.
    const ALL: u32 = if B >= 32 { u32::MAX } else { (1u32 << B) - 1 };

    /// Allocates the lanes for `lev`.
    ///
    /// # Panics
    /// If `B` exceeds 32 (lanes are tracked in 32-bit masks).
    pub fn new(lev: &Leverage) -> Self {
        assert!(B <= 32, "at most 32 lanes");
        let n = lev.n();
        let mut s = Self {
            h: vec![Lanes([0.0; B]); n],
            inbox: vec![Lanes([0.0; B]); n],
            hit: vec![0; n],
            now: vec![0; n],
            next: vec![0; n],
            flags: vec![0; n],
            touched: Touched::new(n),
            passing: Bits::new(n),
            coming: Bits::new(n),
            receiving: Bits::new(n),
        };
        for i in 0..n {
            s.set_baseline(lev, i);
        }
        s
    }

    /// Before any shock: firms without a buffer are at stress 1 and pass nothing on.
    fn set_baseline(&mut self, lev: &Leverage, i: usize) {
        let insolvent = lev.losses().insolvent(i);
        *self.h[i] = [if insolvent { 1.0 } else { 0.0 }; B];
        self.inbox[i] = Lanes([0.0; B]);
        self.hit[i] = if insolvent { Self::ALL } else { 0 };
        self.now[i] = 0;
        self.next[i] = 0;
        self.flags[i] = 0;
    }

    compiled_copies! {
        /// The scenarios "firm `sources[l]` alone fails" (stress 1), at most `B` of them: for
        /// each, the figures of [`Workspace::impact_of_failure`](super::Workspace::impact_of_failure), to the last bit.
        /// `on_default(l, i)` is called for every other firm `i` that defaults in scenario `l`,
        /// in firm order for each scenario.
        ///
        /// On x86-64 processors with AVX-512F or AVX2 the rounds run in a copy of this code
        /// compiled for that extension (chosen at run time): the same operations in the same
        /// order, so the same bits.
        ///
        /// # Panics
        /// If there are more than `B` sources.
        pub fn impacts_of_failures => impacts_in, impacts_avx2, impacts_avx512 (
            &mut self,
            lev: &Leverage,
            settings: &Settings,
            sources: &[usize],
            on_default: impl FnMut(usize, usize),
        ) -> Vec<Impact>
    }

    /// The body of [`Self::impacts_of_failures`], inlined into each compiled copy.
    #[inline(always)]
    fn impacts_in(
        &mut self,
        lev: &Leverage,
        settings: &Settings,
        sources: &[usize],
        mut on_default: impl FnMut(usize, usize),
    ) -> Vec<Impact> {
        assert!(sources.len() <= B, "at most {B} scenarios at once");
        let tol = settings.tolerance;
        for k in 0..self.touched.forget() {
            self.set_baseline(lev, self.touched.list[k] as usize);
        }
        // Round 0: each lane's firm fails (one without a buffer fails outright and passes
        // its whole exposure on).
        for (l, &s) in sources.iter().enumerate() {
            self.touched.mark(&mut self.flags, s);
            self.h[s][l] = snap(1.0, tol).max(self.h[s][l]);
            self.hit[s] |= 1 << l;
            let passes = lev.has_creditors(s);
            self.now[s] |= u32::from(passes) << l;
            self.passing.insert_if(s, passes);
        }
        let by_debtor = lev.by_debtor();
        let mut cut = 0u32;
        let mut t = 0usize;
        while !self.passing.is_empty() {
            if t >= settings.max_iterations {
                // Lanes with stress still to pass on did not converge.
                let now = &mut self.now;
                self.passing.drain(|j| cut |= std::mem::take(&mut now[j]));
                break;
            }
            t += 1;
            self.pass(by_debtor);
            self.take(lev, tol);
            std::mem::swap(&mut self.now, &mut self.next);
            std::mem::swap(&mut self.passing, &mut self.coming);
        }
        self.touched.sort(&self.flags);
        let mut sums: [ImpactSum; B] = std::array::from_fn(|_| ImpactSum::default());
        for &i in self.touched.as_slice() {
            let i = i as usize;
            let h0 = if lev.losses().insolvent(i) { 1.0 } else { 0.0 };
            for (l, &s) in sources.iter().enumerate() {
                let hi = self.h[i][l];
                if i != s && sums[l].add(lev, i, hi, h0, hi >= 1.0) {
                    on_default(l, i);
                }
            }
        }
        sums.into_iter()
            .take(sources.len())
            .enumerate()
            .map(|(l, sum)| sum.finish(cut >> l & 1 == 0))
            .collect()
    }

    /// Every firm passing in some lane, in increasing index order, adds its stress level
    /// times its capped impacts to its creditors' inboxes in those lanes (zero in the
    /// others) and marks them as receiving. Empties `passing`.
    #[inline(always)]
    fn pass(&mut self, by_debtor: &Csr) {
        for w in self.passing.span() {
            let mut bits = self.passing.take_word(w);
            while bits != 0 {
                let j = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let m = std::mem::take(&mut self.now[j]);
                let (idx, val) = by_debtor.row(j);
                let (Some(&first), Some(&last)) = (idx.first(), idx.last()) else {
                    continue;
                };
                let hj = &self.h[j];
                let level: [f64; B] =
                    std::array::from_fn(|l| if m >> l & 1 == 1 { hj[l] } else { 0.0 });
                let receiving = &mut self.receiving.words[..];
                for (&i, &lam) in idx.iter().zip(val) {
                    let iu = i as usize;
                    let w = lam.min(1.0);
                    let row = &mut self.inbox[iu];
                    for l in 0..B {
                        row[l] += w * level[l];
                    }
                    receiving[iu / 64] |= 1 << (iu % 64);
                }
                // Rows of `Λ` by debtor are in increasing creditor order.
                self.receiving.lo = self.receiving.lo.min(first as usize / 64);
                self.receiving.hi = self.receiving.hi.max(last as usize / 64 + 1);
            }
        }
        self.passing.reset_span();
    }

    /// The creditors reached take their inboxes in every lane, in increasing index order;
    /// the lanes in which one is distressed for the first time are those it passes on in
    /// next round (when it has creditors of its own). Empties `receiving`.
    #[inline(always)]
    fn take(&mut self, lev: &Leverage, tol: f64) {
        for w in self.receiving.span() {
            let mut bits = self.receiving.take_word(w);
            while bits != 0 {
                let iu = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let a = std::mem::replace(&mut self.inbox[iu], Lanes([0.0; B])).0;
                let h = &mut self.h[iu];
                let mut first = 0u32;
                for l in 0..B {
                    let new = absorb_one(h[l], a[l], tol);
                    h[l] = new;
                    first |= u32::from(new > 0.0) << l;
                }
                let first = first & !self.hit[iu];
                if first != 0 {
                    self.hit[iu] |= first;
                    self.touched.mark(&mut self.flags, iu);
                    if lev.has_creditors(iu) {
                        self.next[iu] |= first;
                        self.coming.insert_if(iu, true);
                    }
                }
            }
        }
        self.receiving.reset_span();
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
    /// bit, alone and in lanes of sixteen: on generated networks, on one with firms in
    /// default from the start and capped impacts, and when the round cap cuts cascades short.
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
                let mut alone = HitLanes::<1>::new(&lev);
                let mut singles = Vec::new();
                for s in 0..net.n_firms() {
                    let (mut want, mut got) = (Vec::new(), Vec::new());
                    let a = ws.impact_of_failure(&lev, &settings, s, |i| want.push(i));
                    let b = alone.impacts_of_failures(&lev, &settings, &[s], |_, i| got.push(i))[0];
                    assert_eq!(a, b, "network {k}, cap {max_iterations}, firm {s}");
                    assert_eq!(a.debtrank.to_bits(), b.debtrank.to_bits());
                    assert_eq!(a.losses_caused.to_bits(), b.losses_caused.to_bits());
                    assert_eq!(want, got, "network {k}, firm {s}");
                    defaults += got.len();
                    cut += usize::from(!b.converged);
                    singles.push((b, got));
                }
                // Lanes: groups of sixteen (the last one partial on 300 firms), in an order
                // that puts unrelated firms side by side.
                let mut lanes = HitLanes::<16>::new(&lev);
                let order: Vec<usize> = (0..net.n_firms()).rev().collect();
                for group in order.chunks(16) {
                    let mut got = vec![Vec::new(); group.len()];
                    let out =
                        lanes.impacts_of_failures(&lev, &settings, group, |l, i| got[l].push(i));
                    for (l, &s) in group.iter().enumerate() {
                        let (want, want_defaults) = &singles[s];
                        let what = format!("lanes: network {k}, cap {max_iterations}, firm {s}");
                        assert_eq!(&out[l], want, "{what}");
                        assert_eq!(out[l].debtrank.to_bits(), want.debtrank.to_bits(), "{what}");
                        assert_eq!(
                            out[l].losses_caused.to_bits(),
                            want.losses_caused.to_bits(),
                            "{what}"
                        );
                        assert_eq!(&got[l], want_defaults, "{what}");
                    }
                }
            }
        }
        assert!(defaults > 0, "no default: the test misses that path");
        assert!(cut > 0, "no cascade cut short: the test misses that path");
    }

    /// Every compiled copy of the lanes (portable, AVX2, AVX-512F, as far as the processor
    /// has them) gives the same bits and the same defaults.
    #[test]
    fn every_compiled_copy_gives_the_same_bits() {
        let net = rough(300, 9);
        let lev = Leverage::build(&net, &Marks::book(&net));
        let settings = Settings {
            variant: Variant::SingleHit,
            ..Settings::default()
        };
        type Figures = Vec<(u64, u64, usize, bool, Vec<usize>)>;
        let run = |copy: usize| -> Option<Figures> {
            let mut lanes = HitLanes::<16>::new(&lev);
            let mut all = Vec::new();
            let sources: Vec<usize> = (0..net.n_firms()).collect();
            for group in sources.chunks(16) {
                let mut found = vec![Vec::new(); group.len()];
                let on_default = |l: usize, i: usize| found[l].push(i);
                #[allow(unsafe_code)]
                let out = match copy {
                    0 => lanes.impacts_in(&lev, &settings, group, on_default),
                    // SAFETY: each copy runs only when the processor has its extension.
                    #[cfg(target_arch = "x86_64")]
                    1 if std::arch::is_x86_feature_detected!("avx2") => unsafe {
                        lanes.impacts_avx2(&lev, &settings, group, on_default)
                    },
                    #[cfg(target_arch = "x86_64")]
                    2 if std::arch::is_x86_feature_detected!("avx512f") => unsafe {
                        lanes.impacts_avx512(&lev, &settings, group, on_default)
                    },
                    _ => return None,
                };
                for (x, d) in out.iter().zip(found) {
                    all.push((
                        x.debtrank.to_bits(),
                        x.losses_caused.to_bits(),
                        x.defaults_caused,
                        x.converged,
                        d,
                    ));
                }
            }
            Some(all)
        };
        let portable = run(0).expect("the portable copy always runs");
        assert!(
            portable.iter().any(|x| x.2 > 0),
            "no default: the test misses that path"
        );
        for copy in [1, 2] {
            if let Some(other) = run(copy) {
                assert_eq!(other, portable, "copy {copy}");
            }
        }
    }
}
