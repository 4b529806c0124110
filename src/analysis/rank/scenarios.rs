//! The DebtRank scenarios of `rank`: every firm failing alone.
//!
//! Single-hit DebtRank runs its scenarios sixteen at a time in the lanes of a [`HitLanes`]:
//! its answer depends on the order of the rounds (a firm passes its stress on once, when
//! first distressed), so each lane runs round by round as a single `simulate` does, with the
//! same bits, but pushing each distressed firm's stress along its exposures instead of
//! summing whole rows, once per round in which it passes in some lane.
//!
//! Linear and non-linear DebtRank only need each scenario's final state, the least fixed
//! point of `h = min(1, e_s + Λ p(h))` (`e_s`: firm `s` at stress 1). They stream through
//! the lanes of [`Sweeper`]s (Gauss–Seidel sweeps: fewer passes over the network than
//! rounds; a scenario cut short frees its lane for the next at once), and reuse final
//! states. Write `h^s` for the final state of `s`'s failure and `S_r` for the firms in
//! default at the end of `r`'s failure, `r` included. Then
//! - if `j` defaults in `s`'s cascade, `h^s ≥ h^j`: `h^s` is at or above `e_j` and `j`'s map
//!   sends it to no more than itself, so it lies above that map's least fixed point;
//! - if `s ∈ S_r`, `h^s ≤ h^r`, by the same argument the other way.
//!
//! So once some seed `r` — one of up to 2048 evenly spaced firms (a quarter of the firms at
//! most) whose scenarios run first — with `s ∈ S_r` defaults in `s`'s cascade, `h^s = h^r`: the
//! lane stops and the figures of `s` follow from those of `r`. The seeds themselves run in
//! generations of 128, each stopping in the same way at seeds of earlier generations; only the
//! first generation runs in full. In a network where a failure topples most firms, that cuts
//! almost every cascade at the sweep where defaults start to multiply. Whether and where a lane
//! stops depends only on its own firm and the seeds, never on the thread count, the grouping
//! into lanes or the split into blocks.
//!
//! Figures from the sweeps or from a seed equal those of `simulate --default s` to within
//! the convergence tolerance (the same fixed point, approached along another path), not to
//! the last bit; default counts and vulnerabilities are the same.

use std::ops::Range;

use rayon::prelude::*;

use super::{Partial, merge};
/// Scenarios per [`Sweeper`]: sixteen lanes share each visit of an exposure (measured faster
/// than eight or thirty-two on networks of 10⁴ firms, with AVX2 and with AVX-512: thirty-two
/// lanes win on 5000 firms, but on 10⁴ their stresses outgrow a core's second-level cache).
const SWEEP_LANES: usize = 16;
use crate::engine::buffers::Impact;
use crate::engine::debtrank::{HitLanes, Leverage, Sweeper};
use crate::settings::{Settings, Variant};

/// Single-hit scenarios per [`HitLanes`]: a firm is first distressed in a few different
/// rounds over sixteen scenarios, so each exposure is visited a few times per group instead
/// of once per scenario.
const HIT_LANES: usize = 16;
/// Most reference scenarios (at most a quarter of the firms): with `k` seeds spread over the
/// firms, a cascade that topples most of the network meets one after about `n / k` defaults.
const SEEDS: usize = 2048;
/// Seeds per generation: the first generation runs in full, later ones stop at earlier seeds.
const GENERATION: usize = 128;
const NOT_A_SEED: u32 = u32::MAX;

/// The DebtRank scenarios of the firms in `firms`: their impacts in firm order, and how
/// often each firm of the network defaulted in them.
pub(super) fn debtrank(
    lev: &Leverage,
    settings: &Settings,
    firms: Range<usize>,
    tick: &(dyn Fn() + Sync),
) -> (Vec<Impact>, Vec<u32>) {
    let (impacts, counts, _) = debtrank_counted(lev, settings, firms, tick);
    (impacts, counts)
}

/// [`debtrank`], also returning how many scenarios took the figures of another's run.
fn debtrank_counted(
    lev: &Leverage,
    settings: &Settings,
    firms: Range<usize>,
    tick: &(dyn Fn() + Sync),
) -> (Vec<Impact>, Vec<u32>, usize) {
    if settings.variant == Variant::SingleHit {
        let (impacts, counts) = single_hit(lev, settings, firms, tick);
        return (impacts, counts, 0);
    }
    let n = lev.n();
    let seeds = Seeds::run(lev, settings);
    // Firms in no `S_r` cannot stop early: kept together, their lanes do not hold up the
    // others'.
    let mut in_some = vec![false; n];
    for k in 0..seeds.firms.len() {
        for_each_bit(seeds.set(k), |i| in_some[i] = true);
    }
    let mut sources: Vec<usize> = firms
        .clone()
        .filter(|&s| seeds.index[s] == NOT_A_SEED)
        .collect();
    sources.sort_by_key(|&s| (in_some[s], s));
    let chunks: Vec<&[usize]> = sources.chunks(segment(sources.len())).collect();
    let parts: Vec<Part> = deal(chunks.len(), |mine| {
        let mut part = Part::new(lev, settings);
        for c in mine {
            part.run(lev, settings, &seeds, chunks[c]);
            chunks[c].iter().for_each(|_| tick());
        }
        part
    });
    let mut reused = Vec::new();
    let mut partials: Vec<Partial> = parts
        .into_iter()
        .map(|part| {
            reused.extend(part.reused);
            (part.out, part.counts)
        })
        .collect();
    let mut taken = reused.len();
    // The seeds of this block: their own runs (their defaults are counted below).
    let mut own = Vec::new();
    for (k, &r) in seeds.firms.iter().enumerate() {
        if firms.contains(&r) {
            taken += usize::from(seeds.root[k] as usize != k);
            own.push((r, seeds.impacts[k]));
            reused.push((r, k as u32));
            tick();
        }
    }
    partials.push((own, Vec::new()));
    let (impacts, mut counts) = merge(n, firms.start, firms.len(), partials);
    // A scenario that ends in seed `r`'s state pushes `S_r` minus itself into default.
    let mut per_seed = vec![0u32; seeds.firms.len()];
    for &(_, k) in &reused {
        per_seed[k as usize] += 1;
    }
    for (k, &m) in per_seed.iter().enumerate() {
        if m > 0 {
            for_each_bit(seeds.set(k), |i| counts[i] += m);
        }
    }
    for &(s, _) in &reused {
        counts[s] -= 1;
    }
    (impacts, counts, taken)
}

/// How many scenarios a [`Sweeper`] streams through its lanes in one call, out of `total`:
/// enough that its lanes rarely wait for the last ones of a call, few enough that every
/// thread gets several calls. (Which scenarios run together never changes their figures.)
fn segment(total: usize) -> usize {
    (total / (4 * rayon::current_num_threads())).clamp(SWEEP_LANES, 1024)
}

/// Runs `work` on one rayon job per thread (at most one per chunk), job `t` getting the
/// chunk indices `t, t + threads, …`: each job holds its own `O(n)` lanes, allocated once.
/// Lanes are independent, so how chunks are dealt out changes nothing but the balance.
fn deal<W: Send>(
    chunks: usize,
    work: impl Fn(std::iter::StepBy<Range<usize>>) -> W + Sync + Send,
) -> Vec<W> {
    let threads = rayon::current_num_threads().clamp(1, chunks.max(1));
    (0..threads)
        .into_par_iter()
        .map(|t| work((t..chunks).step_by(threads)))
        .collect()
}

/// Runs single-hit scenarios [`HIT_LANES`] at a time in the lanes of [`HitLanes`], one per
/// thread ([`deal`]), dealt out in groups of consecutive firms.
fn single_hit(
    lev: &Leverage,
    settings: &Settings,
    firms: Range<usize>,
    tick: &(dyn Fn() + Sync),
) -> (Vec<Impact>, Vec<u32>) {
    let n = lev.n();
    let sources: Vec<usize> = firms.clone().collect();
    let chunks: Vec<&[usize]> = sources.chunks(HIT_LANES).collect();
    let parts: Vec<Partial> = deal(chunks.len(), |mine| {
        let mut lanes = HitLanes::<HIT_LANES>::new(lev);
        let mut out = Vec::new();
        let mut counts = vec![0u32; n];
        for c in mine {
            let group = chunks[c];
            let impacts = lanes.impacts_of_failures(lev, settings, group, |_, i| counts[i] += 1);
            for (&s, imp) in group.iter().zip(impacts) {
                out.push((s, imp));
                tick();
            }
        }
        (out, counts)
    });
    merge(n, firms.start, firms.len(), parts)
}

/// What one rayon job of [`debtrank`] accumulates.
struct Part {
    sweeper: Sweeper<SWEEP_LANES>,
    out: Vec<(usize, Impact)>,
    counts: Vec<u32>,
    /// Scenarios whose final state is a seed's: `(firm, seed)`.
    reused: Vec<(usize, u32)>,
}

impl Part {
    fn new(lev: &Leverage, settings: &Settings) -> Self {
        Self {
            sweeper: Sweeper::new(lev, settings),
            out: Vec::new(),
            counts: vec![0u32; lev.n()],
            reused: Vec::new(),
        }
    }

    /// Runs the failures of `chunk`, each watching for a seed whose state it reaches.
    fn run(&mut self, lev: &Leverage, settings: &Settings, seeds: &Seeds, chunk: &[usize]) {
        let mut found = vec![NOT_A_SEED; chunk.len()];
        let watch = |l: usize, j: usize| {
            let s = chunk[l];
            let root = seeds.earlier(j, usize::MAX, s);
            match root.filter(|_| !lev.losses().insolvent(s)) {
                Some(root) => {
                    found[l] = found[l].min(root);
                    true
                }
                None => false,
            }
        };
        let counts = &mut self.counts;
        let imps = self
            .sweeper
            .failures(lev, settings, chunk, watch, |_, i| counts[i] += 1);
        for (l, (&s, imp)) in chunk.iter().zip(imps).enumerate() {
            let imp = imp.unwrap_or_else(|| {
                self.reused.push((s, found[l]));
                seeds.reuse(lev, found[l] as usize, s)
            });
            self.out.push((s, imp));
        }
    }
}

/// One seed's run: its index among the seeds, its figures (`None` when it stopped), the
/// earlier seed whose state it reached, and its set of defaults.
type SeedRun = (usize, Option<Impact>, u32, Vec<u64>);

/// Reference scenarios: the failures of up to [`SEEDS`] evenly spaced solvent firms, with the
/// set of firms in default at the end of each. They run in generations of [`GENERATION`]
/// seeds: a seed's scenario stops, like any other, once a seed of an earlier generation whose
/// set holds it defaults, and takes that seed's final state; the first generation runs in
/// full.
struct Seeds {
    /// Index of each firm among the seeds, [`NOT_A_SEED`] for the others.
    index: Vec<u32>,
    firms: Vec<usize>,
    /// Per seed, the seed whose run computed its final state (itself when it ran in full).
    root: Vec<u32>,
    /// Per seed, its figures (taken from its root's).
    impacts: Vec<Impact>,
    /// Words per bit set.
    words: usize,
    /// Per seed `r`, the bit set of `S_r`.
    sets: Vec<u64>,
}

impl Seeds {
    /// Runs the seeds' scenarios. The seeds and their generations depend only on the
    /// network, never on the thread count or on which block of firms is being ranked, so
    /// every block reuses the same states. Memory: `k · n` bits, at most 64 MiB (fewer seeds
    /// on very large networks).
    fn run(lev: &Leverage, settings: &Settings) -> Self {
        let n = lev.n();
        let words = n.div_ceil(64);
        let k = SEEDS.min(n / 4).min((1 << 23) / words.max(1)).max(1);
        let firms: Vec<usize> = (0..k)
            .map(|j| j * n / k)
            .filter(|&i| i < n && !lev.losses().insolvent(i))
            .collect();
        let mut index = vec![NOT_A_SEED; n];
        for (j, &r) in firms.iter().enumerate() {
            index[r] = j as u32;
        }
        let mut seeds = Self {
            index,
            root: (0..firms.len() as u32).collect(),
            impacts: Vec::with_capacity(firms.len()),
            words,
            sets: vec![0; firms.len() * words],
            firms,
        };
        let threads = rayon::current_num_threads().max(1);
        let mut pool: Vec<Sweeper<SWEEP_LANES>> = (0..threads.min(GENERATION))
            .map(|_| Sweeper::new(lev, settings))
            .collect();
        let total = seeds.firms.len();
        for first in (0..total).step_by(GENERATION) {
            let generation = first..(first + GENERATION).min(total);
            let parts = pool.len();
            let seeds_ref = &seeds;
            // Each pool sweeper runs the seeds `first + t, first + t + parts, …`.
            let done: Vec<Vec<SeedRun>> = pool
                .par_iter_mut()
                .enumerate()
                .map(|(t, sweeper)| {
                    let mine: Vec<usize> = generation.clone().skip(t).step_by(parts).collect();
                    let sources: Vec<usize> = mine.iter().map(|&j| seeds_ref.firms[j]).collect();
                    let mut found = vec![NOT_A_SEED; mine.len()];
                    let mut sets = vec![0u64; mine.len() * words];
                    for (l, &r) in sources.iter().enumerate() {
                        sets[l * words + r / 64] |= 1 << (r % 64);
                    }
                    let imps = sweeper.failures(
                        lev,
                        settings,
                        &sources,
                        |l, j| match seeds_ref.earlier(j, first, sources[l]) {
                            Some(root) => {
                                found[l] = found[l].min(root);
                                true
                            }
                            None => false,
                        },
                        |l, i| sets[l * words + i / 64] |= 1 << (i % 64),
                    );
                    mine.iter()
                        .zip(imps)
                        .enumerate()
                        .map(|(l, (&j, imp))| {
                            let set = sets[l * words..(l + 1) * words].to_vec();
                            (j, imp, found[l], set)
                        })
                        .collect()
                })
                .collect();
            let mut done: Vec<_> = done.into_iter().flatten().collect();
            done.sort_unstable_by_key(|d| d.0);
            for (j, imp, found, set) in done {
                match imp {
                    Some(imp) => {
                        seeds.impacts.push(imp);
                        seeds.sets[j * words..(j + 1) * words].copy_from_slice(&set);
                    }
                    None => {
                        let r = found as usize;
                        seeds.root[j] = r as u32;
                        let imp = seeds.reuse(lev, r, seeds.firms[j]);
                        seeds.impacts.push(imp);
                        seeds
                            .sets
                            .copy_within(r * words..(r + 1) * words, j * words);
                    }
                }
            }
        }
        seeds
    }

    /// When firm `j` is a seed before seed number `first` (of an earlier generation; any seed
    /// for `usize::MAX`), its final state is a converged run's (a seed cut short by the round
    /// cap has none to share), and `s` is in its set: the seed whose run computed that state.
    fn earlier(&self, j: usize, first: usize, s: usize) -> Option<u32> {
        let k = self.index[j];
        if k == NOT_A_SEED || k as usize >= first {
            return None;
        }
        let root = self.root[k as usize];
        (self.impacts[root as usize].converged && self.contains(k as usize, s)).then_some(root)
    }

    fn set(&self, k: usize) -> &[u64] {
        &self.sets[k * self.words..(k + 1) * self.words]
    }

    #[inline]
    fn contains(&self, k: usize, i: usize) -> bool {
        self.set(k)[i / 64] >> (i % 64) & 1 == 1
    }

    /// The figures of firm `s`'s failure when its final state is seed `k`'s (`s` solvent and
    /// in `S_r`, `r` the seed whose run computed that state): the same stresses, so the same
    /// sums, except that `r` now counts among the others (stress 1, from 0) and `s` no longer
    /// does (stress 1, from 0).
    fn reuse(&self, lev: &Leverage, k: usize, s: usize) -> Impact {
        let k = self.root[k] as usize;
        let r = self.firms[k];
        let imp = &self.impacts[k];
        let w = &lev.losses().weight;
        let e = &lev.losses().buffer;
        Impact {
            debtrank: imp.debtrank + w[r] - w[s],
            defaults_caused: imp.defaults_caused,
            losses_caused: imp.losses_caused + e[r] - e[s],
            converged: imp.converged,
        }
    }
}

/// Calls `f(i)` for every bit `i` set in `set`, in increasing order.
fn for_each_bit(set: &[u64], mut f: impl FnMut(usize)) {
    for (w, &word) in set.iter().enumerate() {
        let mut x = word;
        while x != 0 {
            f(w * 64 + x.trailing_zeros() as usize);
            x &= x - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::generate::{GenSpec, Topology, generate};
    use crate::analysis::rank::LANES;
    use crate::engine::debtrank::{Batch, Workspace};
    use crate::scenario::Marks;

    fn leverage(firms: usize, capital_ratio: f64) -> Leverage {
        let mut spec = GenSpec::new(firms, 6.0, Topology::ErdosRenyi, 9);
        spec.capital_ratio = capital_ratio;
        let net = generate(&spec);
        Leverage::build(&net, &Marks::book(&net))
    }

    /// Most scenarios of a network where failures topple most firms take a seed's figures,
    /// and those equal a full single run to within the tolerance; default counts exactly.
    #[test]
    fn seeds_are_reused_and_agree_with_single_runs() {
        let lev = leverage(1500, 0.04);
        let settings = Settings::default();
        let (impacts, counts, taken) = debtrank_counted(&lev, &settings, 0..1500, &|| ());
        assert!(taken > 700, "only {taken} scenarios reused another's state");
        let mut ws = Workspace::new(&lev, &settings);
        let mut want = vec![0u32; 1500];
        for s in 0..1500 {
            let single = ws.impact_of_failure(&lev, &settings, s, |i| want[i] += 1);
            let got = &impacts[s];
            assert_eq!(got.defaults_caused, single.defaults_caused, "firm {s}");
            assert!((got.debtrank - single.debtrank).abs() < 1e-10, "firm {s}");
            let tol = 1e-9 * single.losses_caused.max(1.0);
            assert!(
                (got.losses_caused - single.losses_caused).abs() < tol,
                "firm {s}"
            );
        }
        assert_eq!(counts, want);
    }

    /// Every lane of a [`Batch`] (what the library offers for running scenarios in lanes)
    /// gives the figures and defaults of a single run, to the last bit.
    #[test]
    fn batch_lanes_equal_single_runs_bit_for_bit() {
        let lev = leverage(300, 0.04);
        let variants = [Variant::Linear, Variant::Nonlinear, Variant::SingleHit];
        for variant in variants {
            let settings = Settings {
                variant,
                nl_alpha: 2.0,
                ..Settings::default()
            };
            let mut batch = Batch::<LANES>::new(&lev, &settings);
            let mut ws = Workspace::new(&lev, &settings);
            let firms: Vec<usize> = (0..300).collect();
            for chunk in firms.chunks(LANES).step_by(4) {
                let mut got = Vec::new();
                let imps =
                    batch.impacts_of_failures(&lev, &settings, chunk, |l, i| got.push((l, i)));
                let mut want = Vec::new();
                for (l, &s) in chunk.iter().enumerate() {
                    let single = ws.impact_of_failure(&lev, &settings, s, |i| want.push((l, i)));
                    assert_eq!(imps[l], single, "{variant:?} firm {s}");
                }
                got.sort_unstable();
                want.sort_unstable();
                assert!(!want.is_empty(), "{variant:?}: failures topple others here");
                assert_eq!(got, want, "{variant:?}");
            }
        }
    }

    /// A lane's figures do not depend on the other lanes of its sweeper.
    #[test]
    fn lanes_are_independent() {
        let lev = leverage(300, 0.1);
        let settings = Settings::default();
        let mut many = Sweeper::<SWEEP_LANES>::new(&lev, &settings);
        let mut one = Sweeper::<1>::new(&lev, &settings);
        let chunks: [&[usize]; 3] = [
            &[3, 40, 41, 99, 150, 151, 200, 299, 5, 6, 7, 8, 9, 10, 11, 12],
            &[7, 3, 12, 13, 14, 15, 16, 17],
            &[250],
        ];
        for chunk in chunks {
            let all = many.failures(&lev, &settings, chunk, |_, _| false, |_, _| ());
            for (l, &s) in chunk.iter().enumerate() {
                let alone = one.failures(&lev, &settings, &[s], |_, _| false, |_, _| ());
                assert_eq!(all[l], alone[0], "firm {s}");
            }
        }
    }
}
