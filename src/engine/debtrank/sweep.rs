//! Many failure scenarios of linear and non-linear DebtRank at once, by Gauss–Seidel sweeps.
//!
//! Linear and non-linear DebtRank are monotone: stress never falls, and the final state is
//! the least fixed point of `h = min(1, h(1) + Λ p(h))` above `h(1)` whatever the order in
//! which firms update (to within the tolerance; see the module docs of
//! [`super`]). [`super::Batch`] updates every firm from the stress its debtors had at the end
//! of the previous round (Jacobi), which is what the rounds of a report mean. When only the
//! final state matters — `rank` — a sweep through the firms in which each firm passes its
//! rise on at once, so that creditors later in the same sweep already take it, reaches the
//! fixed point in fewer passes over the network (on random networks with average degree 10
//! about 40% fewer edge visits than rounds in index order, whether distress decays or
//! topples everyone; the [`SweepOrder`], which puts most exposures forward, saves another
//! 10–14%).
//!
//! A sweeper works on positions in the sweep order: its per-firm state, the firms it marks
//! and the rows of `Λ` it reads are all by position, and it turns positions back into firms
//! only for its callers. A firm that passes a rise of `p` on adds it, times `Λ_ij`, to its
//! creditors' stresses at once (capped at 1) and marks them; a sweep visits, in that order,
//! every marked firm. A visit takes a stress within the tolerance of 1 as a default, and
//! when the rise since the firm last passed exceeds the lane's threshold (or the firm has just
//! defaulted), passes the rise of `p` on: to creditors visited later in this sweep (those
//! later in the order) or in the next one. (Adding straight to the stress, rather than to a
//! separate inbox taken at the visit, leaves one array fewer for the sweeps to stream
//! through: 10–15% faster on non-linear `rank` over 10⁴ firms.)
//!
//! On a network with a [`super::Tail`] (`ρ(Λ)` safely below 1) — and, for non-linear
//! scenarios, a [`super::DampedTail`] — a firm holds back rises up to its lane's threshold,
//! larger than the tolerance (otherwise the threshold is the tolerance), and a scenario in
//! which no firm holds back more ends with its certified tail added to its figures; when the
//! bound does not hold (defaults widened it, a firm is near default, or, non-linear, stresses
//! are high enough to make `p` much steeper than at 0) the threshold is lowered and the firms
//! holding back more pass their rises on. A quiet lane's state does not move, so its tail can
//! wait for others' and one pass over the firms serves several lanes.
//!
//! Lanes are independent: a firm visited for another lane's sake takes nothing in this lane
//! and its stress does not move, so every lane gives the same bits as a run with that lane
//! alone, whatever the other lanes hold.
//!
//! A [`Sweeper`] streams any number of scenarios through its lanes. A scenario that stops
//! early (the caller's `watch`) passes nothing more on from that moment and frees its lane
//! at the end of the sweep, and the next scenario starts there, at the start of the next
//! sweep: in a network where most failures are cut short, lanes never wait for the slowest
//! scenario of a group. A scenario that converges
//! frees its lane too, but the lane stays empty until every scenario that started in the same
//! sweep has finished: such scenarios end with sweeps that pass small rises on to few firms,
//! and a new scenario among them would make those sweeps visit the whole network. (Counted
//! on generated 10⁴-firm networks: the same work as groups of sixteen where distress decays,
//! 12–34% fewer exposure visits where failures topple most firms.)

use super::{ImpactSum, Lanes, Leverage, SweepOrder, exp_nonpositive, increment_of, snap};
use crate::engine::buffers::{Impact, Touched};
use crate::settings::Settings;

/// Firm flag: every lane in use is at stress 1 (takes nothing more).
const FULL: u8 = 16;
/// Firm flag: has something to take. A sweep visits such firms in order, so a firm
/// marked ahead of the sweep is visited in it, and one marked behind it in the next sweep.
const DIRTY: u8 = 32;
/// `DIRTY` in every byte of a word.
const DIRTY_BYTES: u64 = u64::from_ne_bytes([DIRTY; 8]);

/// `B` lanes of failure scenarios run together by sweeps; reused across calls on the same
/// [`Leverage`] (each call resets only what the last one touched).
///
/// Memory: about `16 B · n` bytes (`24 B · n` non-linear) and a byte of flags per firm;
/// `B ≤ 32`.
#[derive(Debug, Clone)]
pub struct Sweeper<const B: usize> {
    alpha: f64,
    h: Vec<Lanes<B>>,
    /// Stress level last passed on.
    sent: Vec<Lanes<B>>,
    /// `e^{α(sent − 1)}` (non-linear only, empty when `p(h) = h`): `p(sent) = sent · e_sent`
    /// without a second exponential per rise, and `p'(sent) = e_sent (1 + α sent)`.
    e_sent: Vec<Lanes<B>>,
    /// `e^{−α}`, `e_sent` at stress 0.
    e_zero: f64,
    flags: Vec<u8>,
    touched: Touched,
    /// Whether linear scenarios stop early with certified tails ([`super::Tail`]).
    tails: bool,
    /// Each lane's threshold: a firm holds back rises up to it (the tolerance, or more for
    /// a scenario with a tail).
    theta: [f64; B],
    /// Each lane's certified tail (DebtRank, losses), added to its figures.
    tail: [(f64, f64); B],
    /// Scenarios that ended with a certified tail, and thresholds lowered (for tests).
    pub(crate) certified: usize,
    pub(crate) lowered: usize,
}

impl<const B: usize> Sweeper<B> {
    /// Allocates the lanes for `lev`, for the variant (linear or non-linear) in `settings`.
    ///
    /// # Panics
    /// If `B` exceeds 32 (lanes are tracked in 32-bit masks).
    pub fn new(lev: &Leverage, settings: &Settings) -> Self {
        assert!(B <= 32, "at most 32 lanes");
        let n = lev.n();
        let alpha = super::alpha_of(settings);
        let mut s = Self {
            alpha,
            h: vec![Lanes([0.0; B]); n],
            sent: vec![Lanes([0.0; B]); n],
            e_sent: if alpha == 0.0 {
                Vec::new()
            } else {
                vec![Lanes([0.0; B]); n]
            },
            e_zero: super::exp_nonpositive(-alpha),
            flags: vec![0; n],
            touched: Touched::new(n),
            tails: lev.tail().is_some() && (alpha == 0.0 || lev.damped_tail(alpha).is_some()),
            theta: [settings.tolerance; B],
            tail: [(0.0, 0.0); B],
            certified: 0,
            lowered: 0,
        };
        for i in 0..n {
            s.set_baseline(lev, i);
        }
        s
    }

    /// Before any shock: firms without a buffer are at stress 1, have passed it on, and take
    /// nothing. (`i` is a position in the sweep order.)
    fn set_baseline(&mut self, lev: &Leverage, i: usize) {
        let insolvent = lev.losses().insolvent(lev.sweep_order().firm[i] as usize);
        let h0 = if insolvent { 1.0 } else { 0.0 };
        self.h[i] = Lanes([h0; B]);
        self.sent[i] = Lanes([h0; B]);
        let e0 = if insolvent { 1.0 } else { self.e_zero };
        if let Some(e) = self.e_sent.get_mut(i) {
            *e = Lanes([e0; B]);
        }
        self.flags[i] = if insolvent { FULL } else { 0 };
    }

    /// Records firm `i` among those whose state may differ from the unshocked one.
    #[inline(always)]
    fn touch(&mut self, i: usize) {
        self.touched.mark(&mut self.flags, i);
    }

    /// Records the firms marked but not yet visited (their stress may have risen). A firm is
    /// recorded when it is visited, so that passing stress along an exposure costs no
    /// bookkeeping.
    fn touch_marked(&mut self) {
        let mut from = 0;
        while let Some(p) = self.next_dirty(from) {
            from = p + 1;
            self.touch(p);
        }
    }

    /// Turns certified tails off: every scenario runs to the tolerance (for tests).
    #[cfg(test)]
    fn without_tails(mut self) -> Self {
        self.tails = false;
        self
    }

    compiled_copies! {
        /// Runs the scenarios "firm `sources[k]` alone fails" (stress 1), any number of them,
        /// `B` at a time: a scenario takes a free lane at the end of a sweep, and frees it when it
        /// has converged, stopped or reached the sweep cap, so no lane waits for the others.
        /// `watch(k, i)` is called for every firm `i ≠ sources[k]` that defaults in scenario `k`;
        /// a scenario for which it returned true stops at once (it passes nothing more on and
        /// `watch` is not called for it again, so which calls are made depends only on the
        /// scenario) and gives `None`. The others give their impacts, and
        /// `on_default(k, i)` for every other firm `i` in default at the end, in the sweep order.
        ///
        /// A lane's state changes only through its own scenario, and every scenario starts from
        /// the unshocked state at the start of a sweep, so each gives the same bits whatever runs
        /// beside it and whenever it starts.
        ///
        /// On x86-64 processors with AVX-512F or AVX2 the sweeps run in a copy of this code
        /// compiled for that extension (chosen at run time): the same operations in the same
        /// order, so the same bits, with fewer instructions per exposure (about a third fewer
        /// with AVX2; with AVX-512 one instruction covers eight lanes).
        pub fn failures => failures_in, failures_avx2, failures_avx512 (
            &mut self,
            lev: &Leverage,
            settings: &Settings,
            sources: &[usize],
            watch: impl FnMut(usize, usize) -> bool,
            on_default: impl FnMut(usize, usize),
        ) -> Vec<Option<Impact>>
    }

    /// The body of [`Self::failures`], inlined into each compiled copy.
    #[inline(always)]
    fn failures_in(
        &mut self,
        lev: &Leverage,
        settings: &Settings,
        sources: &[usize],
        mut watch: impl FnMut(usize, usize) -> bool,
        mut on_default: impl FnMut(usize, usize),
    ) -> Vec<Option<Impact>> {
        let tol = settings.tolerance;
        let order = lev.sweep_order();
        for k in 0..self.touched.forget() {
            self.set_baseline(lev, self.touched.list[k] as usize);
        }
        let mut out: Vec<Option<Impact>> = vec![None; sources.len()];
        // Scenario in each lane, sweeps it has run, and whether it stops.
        let mut lane = [usize::MAX; B];
        let mut age = [0usize; B];
        let mut stopping = [false; B];
        let mut next = 0;
        let mut active = 0u32;
        // Free lanes, those freed by a stop, the sweep each scenario started at.
        let mut idle = 0u32;
        let mut stopped = 0u32;
        // Converged scenarios whose figures are not taken yet.
        let mut waiting = 0u32;
        let mut born = [0usize; B];
        let mut sweep = 0usize;
        for l in 0..B.min(sources.len()) {
            self.start(lev, l, sources[l], tol);
            lane[l] = l;
            active |= 1 << l;
            next += 1;
        }
        while active != 0 {
            sweep += 1;
            // One sweep: every firm with something to take, in the sweep order.
            let mut emitted = 0u32;
            let mut from = 0;
            // The lanes still spreading stress: a scenario that stops drops out at once.
            let mut live = active;
            while let Some(p) = self.next_dirty(from) {
                from = p + 1;
                self.flags[p] &= !DIRTY;
                let mut m = self.take(p, tol, live);
                if m != 0 {
                    let i = order.firm[p] as usize;
                    while m != 0 {
                        let l = m.trailing_zeros() as usize;
                        m &= m - 1;
                        let k = lane[l];
                        if i != sources[k] && watch(k, i) {
                            stopping[l] = true;
                            live &= !(1 << l);
                        }
                    }
                }
                emitted |= self.emit(order, p, live);
            }
            // Quiet lanes that hold rises back above the tolerance: certified tails end them,
            // the others go on with a lower threshold. A quiet lane's state no longer moves,
            // so its tail can wait: lanes are certified together, once at least as many are
            // holding as are still passing rises on (each call is a pass over every firm
            // reached).
            let mut holding = 0u32;
            let mut running = 0u32;
            let mut waits = 0u32;
            for l in 0..B {
                let on = active >> l & 1 == 1 && !stopping[l];
                let quiet = emitted >> l & 1 == 0;
                holding |= u32::from(on && quiet && self.theta[l] > tol) << l;
                running |= u32::from(on && !quiet) << l;
            }
            if holding != 0 {
                if holding.count_ones() >= running.count_ones() {
                    emitted |= self.certify(lev, holding, tol);
                } else {
                    // Neither done nor a sweep older: waiting does not count towards the cap.
                    emitted |= holding;
                    waits = holding;
                }
            }
            // Scenarios that stop, converged (passed nothing on in this sweep, so nothing is
            // left to take) or reached the cap free their lanes; new ones take them.
            let mut done = 0u32;
            let mut capped = 0u32;
            for l in 0..B {
                if active >> l & 1 == 1 {
                    age[l] += usize::from(waits >> l & 1 == 0);
                    let quiet = emitted >> l & 1 == 0;
                    let cap = age[l] >= settings.max_iterations;
                    done |= u32::from(stopping[l] || quiet || cap) << l;
                    capped |= u32::from(cap && !quiet && !stopping[l]) << l;
                }
            }
            // Figures of stopped and capped scenarios are taken now (a capped one still has
            // rises to pass on, which visits for other lanes would pass); a converged one's
            // state no longer moves, so its figures wait until its lane is needed, and the
            // lanes of a group that converges over several sweeps are settled in one pass.
            let mut settle = 0u32;
            let pending = self.pending(capped, tol);
            for l in 0..B {
                if done >> l & 1 == 1 {
                    let quick = stopping[l] || capped >> l & 1 == 1;
                    stopped |= u32::from(stopping[l]) << l;
                    settle |= u32::from(quick) << l;
                    waiting |= u32::from(!quick) << l;
                    stopping[l] = false;
                    age[l] = 0;
                }
            }
            active &= !done;
            idle |= done;
            // A lane freed by a stop takes a new scenario at once. One freed by convergence
            // (or the cap) waits until the scenarios that started with its own have finished
            // too: they are then passing on their last small rises to few firms, and a new
            // scenario among them would make those sweeps visit the whole network again.
            let mut refill = 0u32;
            let mut left = sources.len() - next;
            for l in 0..B {
                let cohort = (0..B).any(|m| active >> m & 1 == 1 && born[m] == born[l]);
                let free = idle >> l & 1 == 1 && (stopped >> l & 1 == 1 || !cohort);
                if free && left > 0 {
                    refill |= 1 << l;
                    left -= 1;
                }
            }
            settle |= refill & waiting;
            if active == 0 && refill == 0 {
                settle |= waiting;
            }
            if settle != 0 {
                let figures = settle & !stopped;
                self.settle(
                    lev,
                    settle,
                    figures,
                    pending,
                    &lane,
                    sources,
                    &mut out,
                    &mut on_default,
                );
                waiting &= !settle;
            }
            let mut m = refill;
            while m != 0 {
                let l = m.trailing_zeros() as usize;
                m &= m - 1;
                self.start(lev, l, sources[next], tol);
                lane[l] = next;
                next += 1;
                born[l] = sweep;
            }
            active |= refill;
            idle &= !refill;
            stopped &= !refill;
        }
        out
    }

    /// Takes the figures of the scenarios in the lanes of `figures` (a subset of `lanes`)
    /// into `out`, calling `on_default` for their defaults in the sweep order, and puts
    /// every lane of `lanes` back to the unshocked state, in one pass over the touched firms.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &mut self,
        lev: &Leverage,
        lanes: u32,
        figures: u32,
        pending: u32,
        lane: &[usize; B],
        sources: &[usize],
        out: &mut [Option<Impact>],
        on_default: &mut impl FnMut(usize, usize),
    ) {
        self.touch_marked();
        self.touched.sort(&self.flags);
        let mut sums: [ImpactSum; B] = std::array::from_fn(|_| ImpactSum::default());
        let order = lev.sweep_order();
        for t in 0..self.touched.len {
            let p = self.touched.list[t] as usize;
            let i = order.firm[p] as usize;
            let insolvent = lev.losses().insolvent(i);
            let h0 = if insolvent { 1.0 } else { 0.0 };
            let mut m = lanes;
            while m != 0 {
                let l = m.trailing_zeros() as usize;
                m &= m - 1;
                let k = lane[l];
                let hi = self.h[p][l];
                if figures >> l & 1 == 1
                    && i != sources[k]
                    && sums[l].add(lev, i, hi, h0, hi >= 1.0)
                {
                    on_default(k, i);
                }
                self.reset_lane(p, l, h0);
            }
            if !insolvent {
                self.flags[p] &= !FULL;
            }
        }
        let mut m = figures;
        while m != 0 {
            let l = m.trailing_zeros() as usize;
            m &= m - 1;
            let mut sum = std::mem::take(&mut sums[l]);
            sum.debtrank += self.tail[l].0;
            sum.losses += self.tail[l].1;
            out[lane[l]] = Some(sum.finish(pending >> l & 1 == 0));
        }
    }

    /// Lane `l` takes the scenario "firm `s` alone fails": `s` at stress 1 passes on its rise
    /// (marking its creditors for the next sweep).
    fn start(&mut self, lev: &Leverage, l: usize, s: usize, tol: f64) {
        let order = lev.sweep_order();
        let p = order.pos[s] as usize;
        self.touch(p);
        if lev.losses().insolvent(s) {
            // Fails outright: passes on its whole exposure.
            self.sent[p][l] = 0.0;
            if let Some(e) = self.e_sent.get_mut(p) {
                e[l] = self.e_zero;
            }
        }
        self.h[p][l] = 1.0;
        self.flags[p] &= !FULL;
        self.theta[l] = tol;
        self.tail[l] = (0.0, 0.0);
        self.emit(order, p, 1 << l);
        if self.tails
            && let Some(t) = lev.tail()
        {
            let own = t.second[p];
            let theta = t.threshold((t.debtrank[p] * own, t.losses[p] * own), tol);
            // Non-linear tails also need every slope close to `L₀`: on random networks the
            // first bound is about as wide as the absorption's, so start at half.
            let theta = if self.alpha == 0.0 {
                theta
            } else {
                0.5 * theta
            };
            self.theta[l] = if theta < 2.0 * tol { tol } else { theta };
        }
    }

    /// The lanes of `lanes` passed nothing on in this sweep, every firm holding back at most
    /// its lane's threshold. Each either gets its certified tail (see [`super::Tail`] and
    /// [`super::DampedTail`]) and ends, or, when a default could still follow or the bound
    /// is too wide (after other defaults), goes on with a lower threshold: firms holding back
    /// more pass it on in the next sweep. Returns the lanes that go on.
    #[inline(always)]
    fn certify(&mut self, lev: &Leverage, lanes: u32, tol: f64) -> u32 {
        let Some(t) = lev.tail() else {
            return 0;
        };
        let damped = if self.alpha == 0.0 {
            None
        } else {
            match lev.damped_tail(self.alpha) {
                Some(d) => Some(d),
                None => return 0,
            }
        };
        self.touch_marked();
        self.touched.sort(&self.flags);
        let order = lev.sweep_order();
        let ln = lev.losses();
        // Per lane: the highest stress below 1; what the held-back rises add in the end
        // (DebtRank, losses); the firms at stress 1 (`s` and its defaults); and, non-linear,
        // `Σ_j (y_j − v_j) g_j (p'(h_j + θ g_j) − L₀)` over the firms below 1 reached.
        let mut top = [0.0f64; B];
        let (mut held_dr, mut held_loss) = ([0.0f64; B], [0.0f64; B]);
        let (mut spread_dr, mut spread_loss) = ([0.0f64; B], [0.0f64; B]);
        let mut full: Vec<Vec<u32>> = vec![Vec::new(); B];
        for &p in self.touched.as_slice() {
            let p = p as usize;
            let (h, sent) = (&self.h[p], &self.sent[p]);
            // Lane by lane without branches, so that the loops take four or eight at a time.
            let mut at_one = 0u32;
            let mut top_and_full = |l: usize, on: bool, below: bool| {
                let up = on && below && h[l] > top[l];
                top[l] = if up { h[l] } else { top[l] };
                at_one |= u32::from(on && !below) << l;
            };
            if let Some(d) = damped {
                let (e_sent, alpha) = (&self.e_sent[p], d.alpha);
                let ((pd, pl), (sd, sl), gain) = (d.passed[p], d.spread[p], t.gain[p]);
                for l in 0..B {
                    let (on, below) = (lanes >> l & 1 == 1, h[l] < 1.0);
                    top_and_full(l, on, below);
                    let q = e_sent[l] * (1.0 + alpha * sent[l]) * (h[l] - sent[l]);
                    let q = if on { q } else { 0.0 };
                    let x = d.excess_slope(h[l] + self.theta[l] * gain);
                    let x = if on && below { x } else { 0.0 };
                    held_dr[l] += pd * q;
                    held_loss[l] += pl * q;
                    spread_dr[l] += sd * x;
                    spread_loss[l] += sl * x;
                }
            } else {
                let (yd, ud) = (t.debtrank[p] - t.weight[p], t.losses[p] - t.buffer[p]);
                for l in 0..B {
                    let (on, below) = (lanes >> l & 1 == 1, h[l] < 1.0);
                    top_and_full(l, on, below);
                    let b = if on { h[l] - sent[l] } else { 0.0 };
                    held_dr[l] += yd * b;
                    held_loss[l] += ud * b;
                }
            }
            if at_one != 0 && !ln.insolvent(order.firm[p] as usize) {
                let mut m = at_one;
                while m != 0 {
                    full[m.trailing_zeros() as usize].push(p as u32);
                    m &= m - 1;
                }
            }
        }
        let mut go_on = 0u32;
        let mut m = lanes;
        while m != 0 {
            let l = m.trailing_zeros() as usize;
            m &= m - 1;
            let theta = self.theta[l];
            // What the firms at stress 1 absorb for sure, and the width of what they may.
            let (mut known, mut wide) = ((0.0, 0.0), (0.0, 0.0));
            for &f in &full[l] {
                let f = f as usize;
                let a = self.absorbed(lev, damped, l, order.firm[f] as usize);
                let (y, u) = damped.map_or((t.debtrank[f], t.losses[f]), |d| d.absorbed[f]);
                known.0 += y * a;
                known.1 += u * a;
                wide.0 += t.debtrank[f] * t.second[f];
                wide.1 += t.losses[f] * t.second[f];
            }
            let (eps_dr, eps_loss) = t.tolerances(tol);
            let reach = top[l] + theta * t.max_gain;
            let mut safe = reach < 1.0 - tol;
            // Non-linear: slopes at most 1, and how far above `L₀` they may rise.
            let mut excess = (0.0, 0.0);
            if let Some(d) = damped {
                safe &= reach <= d.flat;
                let far = d.excess_slope(theta * t.max_gain);
                let second_order = 0.5 * d.alpha * (2.0 + d.alpha) * theta * theta;
                excess = (
                    theta * (spread_dr[l] + d.total_spread.0 * far)
                        + second_order * d.total_passed.0,
                    theta * (spread_loss[l] + d.total_spread.1 * far)
                        + second_order * d.total_passed.1,
                );
            }
            let narrow = excess.0 <= eps_dr && excess.1 <= eps_loss;
            if safe && narrow && theta * wide.0 <= eps_dr && theta * wide.1 <= eps_loss {
                self.tail[l] = (held_dr[l] - known.0, held_loss[l] - known.1);
                self.certified += 1;
                continue;
            }
            // Lower the threshold: within the bounds with these defaults and stresses, far
            // from the nearest default (and, non-linear, from slopes above 1), and at least
            // halved, so that the lane ends.
            let mut lower = t.threshold(wide, tol).min(0.5 * theta);
            if !narrow {
                let ratio = (eps_dr / excess.0).min(eps_loss / excess.1);
                lower = lower.min(0.5 * theta * ratio);
            }
            if !safe {
                let mut room = 1.0 - tol - top[l];
                if let Some(d) = damped {
                    room = room.min(d.flat - top[l]);
                }
                lower = lower.min(0.5 * room.max(0.0) / t.max_gain.max(1.0));
            }
            let lower = if lower < 2.0 * tol { tol } else { lower };
            self.theta[l] = lower;
            self.lowered += 1;
            go_on |= 1 << l;
            for &p in self.touched.as_slice() {
                let p = p as usize;
                if self.h[p][l] - self.sent[p][l] > lower {
                    self.flags[p] |= DIRTY;
                }
            }
        }
        go_on
    }

    /// The rise of stress held back by the firm at position `p` in lane `l`, as a rise of
    /// `p`: `p'(sent) · (h − sent)`, at most `α(2 + α)(h − sent)² / 2` below the true rise
    /// (`p` is convex).
    #[inline(always)]
    fn held_rise(&self, alpha: f64, p: usize, l: usize) -> f64 {
        let (h, sent) = (self.h[p][l], self.sent[p][l]);
        self.e_sent[p][l] * (1.0 + alpha * sent) * (h - sent)
    }

    /// What firm `f` (at stress 1 in lane `l`) absorbs for sure once the held-back rises
    /// pass on: those of its debtors, and what its debtors below 1 take from theirs and pass
    /// on (at the least slope `L₀` of `p`, non-linear).
    fn absorbed(
        &self,
        lev: &Leverage,
        damped: Option<&super::DampedTail>,
        l: usize,
        f: usize,
    ) -> f64 {
        let order = lev.sweep_order();
        let by_creditor = lev.by_creditor();
        let held = |j: usize| {
            let q = order.pos[j] as usize;
            match damped {
                Some(d) => self.held_rise(d.alpha, q, l),
                None => self.h[q][l] - self.sent[q][l],
            }
        };
        let slope = damped.map_or(1.0, |d| d.slope);
        let (idx, val) = by_creditor.row(f);
        let mut known = 0.0;
        for (&j, &lam) in idx.iter().zip(val) {
            let j = j as usize;
            known += lam * held(j);
            if self.h[order.pos[j] as usize][l] < 1.0 {
                let (jdx, jval) = by_creditor.row(j);
                let pending: f64 = jdx
                    .iter()
                    .zip(jval)
                    .map(|(&k, &x)| x * held(k as usize))
                    .sum();
                known += lam * slope * pending;
            }
        }
        known
    }

    /// Puts lane `l` of firm `i` back to the unshocked state (`h0`: 1 for a firm without a
    /// buffer, else 0).
    #[inline(always)]
    fn reset_lane(&mut self, i: usize, l: usize, h0: f64) {
        self.h[i][l] = h0;
        self.sent[i][l] = h0;
        let e0 = if h0 == 1.0 { 1.0 } else { self.e_zero };
        if let Some(e) = self.e_sent.get_mut(i) {
            e[l] = e0;
        }
    }

    /// The lanes among `lanes` with stress still to take somewhere (bit `l`).
    fn pending(&mut self, lanes: u32, tol: f64) -> u32 {
        let mut pending = 0u32;
        if lanes != 0 {
            self.touch_marked();
            for &i in self.touched.as_slice() {
                for l in 0..B {
                    let i = i as usize;
                    let left = self.h[i][l] - self.sent[i][l] > tol;
                    pending |= u32::from(lanes >> l & 1 == 1 && left) << l;
                }
            }
        }
        pending
    }

    /// The first firm from index `from` on marked `DIRTY`, found eight flags at a time.
    #[inline(always)]
    fn next_dirty(&self, from: usize) -> Option<usize> {
        let flags = self.flags.get(from..)?;
        let mut words = flags.chunks_exact(8);
        let mut at = from;
        for w in words.by_ref() {
            let w = u64::from_le_bytes(w.try_into().expect("eight bytes"));
            let hit = w & DIRTY_BYTES;
            if hit != 0 {
                return Some(at + hit.trailing_zeros() as usize / 8);
            }
            at += 8;
        }
        let rest = words.remainder();
        rest.iter().position(|&f| f & DIRTY != 0).map(|k| at + k)
    }

    /// Firm `i` takes what its debtors passed on since its last visit (already in its
    /// stress, below 1); returns the lanes in which it newly defaulted (bit `l`): at 1 and
    /// not yet passed on. Marks it full when it is at stress 1 in every lane in `active`.
    #[inline(always)]
    fn take(&mut self, i: usize, tol: f64, active: u32) -> u32 {
        self.touch(i);
        let (h, sent) = (&mut self.h[i], &self.sent[i]);
        let mut newly = 0u32;
        let mut full = 0u32;
        for l in 0..B {
            let new = snap(h[l], tol);
            h[l] = new;
            newly |= u32::from(sent[l] < 1.0 && new >= 1.0) << l;
            full |= u32::from(new >= 1.0) << l;
        }
        if full & active == active {
            self.flags[i] |= FULL;
        }
        newly & active
    }

    /// Firm `j` passes on the rise of `p` in every lane of `lanes` (bit `l`) where its stress
    /// rose by more than its lane's threshold since it last did, or where it has defaulted and not
    /// yet passed that on: into its creditors' stresses (capped at 1), which it marks to be
    /// visited. Returns the lanes in which it passed something on.
    #[inline(always)]
    fn emit(&mut self, order: &SweepOrder, j: usize, lanes: u32) -> u32 {
        let (idx, val) = order.rows.row(j);
        if idx.is_empty() {
            return 0;
        }
        let (h, sent) = (&self.h[j], &mut self.sent[j]);
        let mut d = [0.0; B];
        let mut passed = 0u32;
        if let Some(e_sent) = self.e_sent.get_mut(j) {
            // Lanes that pass something on: a rise beyond the threshold, or a default.
            let theta = &self.theta;
            let mut on = 0u32;
            for l in 0..B {
                // Bitwise, not short-circuit: compares on whole vectors, no branches.
                let up = (h[l] - sent[l] > theta[l]) | ((h[l] > sent[l]) & (h[l] >= 1.0));
                on |= u32::from(up) << l;
            }
            on &= lanes;
            if on == 0 {
                return 0;
            }
            // Every lane computes `p` (most lanes of a firm that passes have risen), so the
            // loop has no branch and takes four lanes at a time (eight with AVX-512).
            let alpha = self.alpha;
            for l in 0..B {
                let up = on >> l & 1 == 1;
                let e = exp_nonpositive(alpha * (h[l] - 1.0));
                let ph = h[l] * e; // `p(h)`, as `p_nonlinear` computes it
                let x = (ph - sent[l] * e_sent[l]).max(0.0);
                d[l] = if up { x } else { 0.0 };
                sent[l] = if up { h[l] } else { sent[l] };
                e_sent[l] = if up { e } else { e_sent[l] };
                passed |= u32::from(up && x > 0.0) << l;
            }
        } else {
            let theta = &self.theta;
            for l in 0..B {
                let on = lanes >> l & 1 == 1;
                // A firm in default passes all of it on.
                let th = if h[l] >= 1.0 { 0.0 } else { theta[l] };
                let (x, s) = increment_of(0.0, h[l], sent[l], th);
                let x = if on { x } else { 0.0 };
                sent[l] = if on { s } else { sent[l] };
                d[l] = x;
                passed |= u32::from(x > 0.0) << l;
            }
        }
        if passed == 0 {
            return 0;
        }
        // The stresses as long as the flags, so that one bounds check covers both.
        let flags = &mut self.flags[..];
        let stress = &mut self.h[..flags.len()];
        for (&c, &lam) in idx.iter().zip(val) {
            let cu = c as usize;
            let f = flags[cu];
            if f & FULL != 0 {
                continue;
            }
            flags[cu] = f | DIRTY;
            let row = &mut stress[cu];
            for l in 0..B {
                let x = row[l] + lam * d[l];
                row[l] = if x < 1.0 { x } else { 1.0 };
            }
        }
        passed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::generate::{GenSpec, Topology, generate};
    use crate::scenario::Marks;
    use crate::settings::Variant;

    /// Which compiled copy of the sweeps a test runs.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Copy {
        Portable,
        #[cfg(target_arch = "x86_64")]
        Avx2,
        #[cfg(target_arch = "x86_64")]
        Avx512,
    }

    /// The copies this processor can run.
    fn copies() -> Vec<Copy> {
        #[allow(unused_mut)]
        let mut all = vec![Copy::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                all.push(Copy::Avx2);
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                all.push(Copy::Avx512);
            }
        }
        all
    }

    /// Every compiled copy (portable, AVX2, AVX-512F, as far as the processor has them)
    /// gives the same bits, the same defaults and the same calls, scenarios stopping or
    /// not, with sixteen lanes or thirty-two.
    #[test]
    fn every_compiled_copy_gives_the_same_bits() {
        let copies = copies();
        for (seed, variant) in [(3, Variant::Linear), (4, Variant::Nonlinear)] {
            let net = generate(&GenSpec::new(300, 10.0, Topology::ErdosRenyi, seed));
            let lev = Leverage::build(&net, &Marks::book(&net));
            let settings = Settings {
                variant,
                ..Settings::default()
            };
            let base = same_bits_in_every_copy::<16>(&lev, &settings, &copies);
            let wide = same_bits_in_every_copy::<32>(&lev, &settings, &copies);
            assert_eq!(
                base, wide,
                "seed {seed}: sixteen and thirty-two lanes differ"
            );
            let stops = base.iter().filter(|o| o.is_none()).count();
            assert!(stops > 0, "no lane stopped: the test misses that path");
        }
    }

    /// Runs every firm's failure in `B` lanes with each copy, asserts they agree, and
    /// returns the figures' bits.
    #[allow(clippy::type_complexity)]
    fn same_bits_in_every_copy<const B: usize>(
        lev: &Leverage,
        settings: &Settings,
        copies: &[Copy],
    ) -> Vec<Option<(u64, usize, u64, bool)>> {
        let sources: Vec<usize> = (0..lev.n()).collect();
        let mut first = Vec::new();
        let mut defaults = 0;
        for &copy in copies {
            let mut sw = Sweeper::<B>::new(lev, settings);
            let mut all = Vec::new();
            for chunk in sources.chunks(100) {
                let mut calls = Vec::new();
                let mut found = Vec::new();
                let watch = |l: usize, i: usize| {
                    calls.push((l, i));
                    (chunk[l] + i).is_multiple_of(4) && l.is_multiple_of(3)
                };
                let on_default = |l: usize, i: usize| found.push((l, i));
                #[allow(unsafe_code)]
                let out = match copy {
                    Copy::Portable => sw.failures_in(lev, settings, chunk, watch, on_default),
                    // SAFETY: `copies` lists only the extensions the processor has.
                    #[cfg(target_arch = "x86_64")]
                    Copy::Avx2 => unsafe {
                        sw.failures_avx2(lev, settings, chunk, watch, on_default)
                    },
                    // SAFETY: as above.
                    #[cfg(target_arch = "x86_64")]
                    Copy::Avx512 => unsafe {
                        sw.failures_avx512(lev, settings, chunk, watch, on_default)
                    },
                };
                defaults += found.len();
                let bits: Vec<_> = out
                    .iter()
                    .map(|o| {
                        o.map(|x| {
                            (
                                x.debtrank.to_bits(),
                                x.defaults_caused,
                                x.losses_caused.to_bits(),
                                x.converged,
                            )
                        })
                    })
                    .collect();
                all.push((bits, calls, found));
            }
            if copy == Copy::Portable {
                first = all;
            } else {
                assert_eq!(all, first, "{copy:?} with {B} lanes");
            }
        }
        assert!(defaults > 0, "no default: the test misses that path");
        first.into_iter().flat_map(|(bits, _, _)| bits).collect()
    }

    /// Streamed through sixteen lanes, a scenario gives the bits, defaults and calls of a run
    /// alone in a one-lane sweeper: scenarios that stop, converge or hit the sweep cap free
    /// their lanes at different sweeps, and the same firm can run twice in one call.
    #[test]
    fn streamed_scenarios_equal_runs_alone() {
        let mut spec = GenSpec::new(300, 8.0, Topology::ErdosRenyi, 11);
        spec.capital_ratio = 0.06;
        let net = generate(&spec);
        let lev = Leverage::build(&net, &Marks::book(&net));
        let mut sources: Vec<usize> = (0..net.n_firms()).rev().collect();
        sources.extend([7, 7, 150]);
        let (mut stops, mut converged, mut capped) = (0, 0, 0);
        for (variant, max_iterations, every) in [
            (Variant::Linear, 100_000, 7),
            (Variant::Nonlinear, 100_000, 7),
            (Variant::Linear, 2, usize::MAX),
        ] {
            let settings = Settings {
                variant,
                max_iterations,
                ..Settings::default()
            };
            let stop = |s: usize, i: usize| (s + i).is_multiple_of(every);
            let mut many = Sweeper::<16>::new(&lev, &settings);
            let mut calls = vec![Vec::new(); sources.len()];
            let mut defaults = vec![Vec::new(); sources.len()];
            let out = many.failures(
                &lev,
                &settings,
                &sources,
                |k, i| {
                    calls[k].push(i);
                    stop(sources[k], i)
                },
                |k, i| defaults[k].push(i),
            );
            let mut one = Sweeper::<1>::new(&lev, &settings);
            for (k, &s) in sources.iter().enumerate() {
                let (mut c, mut d) = (Vec::new(), Vec::new());
                let alone = one.failures(
                    &lev,
                    &settings,
                    &[s],
                    |_, i| {
                        c.push(i);
                        stop(s, i)
                    },
                    |_, i| d.push(i),
                );
                let bits = |o: Option<Impact>| {
                    o.map(|x| (x.debtrank.to_bits(), x.losses_caused.to_bits(), x.converged))
                };
                assert_eq!(bits(out[k]), bits(alone[0]), "{variant:?}, firm {s}");
                assert_eq!(out[k], alone[0]);
                calls[k].sort_unstable();
                c.sort_unstable();
                assert_eq!((&calls[k], &defaults[k]), (&c, &d), "{variant:?}, firm {s}");
                match out[k] {
                    None => stops += 1,
                    Some(x) if x.converged => converged += 1,
                    Some(_) => capped += 1,
                }
            }
        }
        assert!(
            stops > 0 && converged > 0 && capped > 0,
            "{stops} {converged} {capped}"
        );
    }

    /// Linear and non-linear scenarios that end with certified tails give the defaults of
    /// runs to a much tighter tolerance without tails, and figures within the bound of the
    /// tails ([`super::super::Tail::tolerances`]): on subcritical networks where a few firms
    /// with thin buffers default, some firms have no buffer, and thresholds must be lowered
    /// after defaults.
    #[test]
    fn certified_tails_are_within_their_bound() {
        use crate::analysis::generate::Rng;
        use crate::model::Network;
        for variant in [Variant::Linear, Variant::Nonlinear] {
            let (mut certified, mut lowered, mut defaults) = (0, 0, 0);
            for seed in 1..4u64 {
                let mut parts =
                    generate(&GenSpec::new(400, 6.0, Topology::ErdosRenyi, seed)).into_parts();
                let mut claims = vec![0.0; parts.firms.len()];
                for e in &parts.exposures {
                    claims[e.creditor as usize] += e.amount;
                }
                let mut rng = Rng::new(seed);
                for (f, &c) in parts.firms.iter_mut().zip(&claims) {
                    let u = rng.uniform();
                    // Row sums of `Λ`: mostly 0.4, some 3 (they default when a big debtor
                    // fails), a few firms without a buffer.
                    f.capital = Some(if u < 0.03 {
                        0.0
                    } else if u < 0.08 {
                        c / 3.0
                    } else {
                        c / 0.4
                    });
                }
                let net = Network::from_parts(parts).expect("valid network");
                let lev = Leverage::build(&net, &Marks::book(&net));
                let settings = Settings {
                    variant,
                    ..Settings::default()
                };
                let t = lev.tail().expect("subcritical network");
                let (eps_dr, eps_loss) = t.tolerances(settings.tolerance);
                let sources: Vec<usize> = (0..lev.n()).collect();
                let run = |sw: &mut Sweeper<16>, settings: &Settings| {
                    let mut found = vec![Vec::new(); sources.len()];
                    let out = sw.failures(
                        &lev,
                        settings,
                        &sources,
                        |_, _| false,
                        |k, i| {
                            found[k].push(i);
                        },
                    );
                    (out, found)
                };
                let mut fast = Sweeper::<16>::new(&lev, &settings);
                assert!(fast.tails, "{variant:?}: no tails");
                let (got, got_defaults) = run(&mut fast, &settings);
                let tight = Settings {
                    tolerance: 1e-15,
                    ..settings.clone()
                };
                let mut slow = Sweeper::<16>::new(&lev, &tight).without_tails();
                let (want, want_defaults) = run(&mut slow, &tight);
                assert_eq!(got_defaults, want_defaults, "{variant:?}, seed {seed}");
                for (s, (g, w)) in got.iter().zip(&want).enumerate() {
                    let (g, w) = (g.expect("no stop"), w.expect("no stop"));
                    assert!(g.converged && w.converged);
                    // The reference leaves out up to 1e-15 per firm.
                    let slack = 1e-15 * 10.0;
                    assert!(
                        (g.debtrank - w.debtrank).abs() <= eps_dr + slack,
                        "{variant:?}, seed {seed}, firm {s}: debtrank {} vs {}",
                        g.debtrank,
                        w.debtrank
                    );
                    assert!(
                        (g.losses_caused - w.losses_caused).abs()
                            <= eps_loss + slack * t.total_buffer,
                        "{variant:?}, seed {seed}, firm {s}: losses {} vs {}",
                        g.losses_caused,
                        w.losses_caused
                    );
                }
                certified += fast.certified;
                lowered += fast.lowered;
                defaults += got_defaults.iter().map(Vec::len).sum::<usize>();
            }
            assert!(
                certified > 500 && lowered > 0 && defaults > 0,
                "{variant:?}: the test misses a path: {certified} certified, {lowered} \
                 lowered, {defaults} defaults"
            );
        }
    }
}
