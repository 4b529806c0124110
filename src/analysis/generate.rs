//! Deterministic synthetic exposure networks with balance sheets, for benchmarks, tests and
//! experiments.
//!
//! # What is generated
//! [`generate`] builds a [`Network`] of `firms` banks and `round(firms × avg_degree)` loans
//! (fewer only when the topology cannot hold that many distinct pairs, see
//! [`GenSpec::target_exposures`]). Orientation is the crate's: an [`Exposure`] is a claim of
//! its `creditor` on its `debtor`; the debtor owes the creditor `amount`. `avg_degree` is
//! therefore both the mean number of debtors and the mean number of creditors per firm.
//!
//! * Graph: no self-exposures and no duplicate `(debtor, creditor)` pairs; each firm's
//!   creditors are drawn without replacement. Exposures come out grouped by block of the
//!   topology, then by debtor, then sorted by creditor.
//! * Amounts: independent lognormal draws with median [`GenSpec::exposure_median`] and
//!   log-standard deviation [`GenSpec::exposure_sigma`], in the network's currency unit
//!   (`USD` by default; the scale is arbitrary).
//! * Balance sheets in the style of Gai & Kapadia (2010): with `A_i` the firm's interbank
//!   assets (claims it holds) and `L_i` its interbank liabilities, total assets are
//!   `T_i = max(A_i, L_i, exposure_median) / interbank_share`, so interbank assets are
//!   `interbank_share` (20%) of total assets whenever the firm lends at least as much as it
//!   borrows, and less otherwise. External assets `T_i − A_i` (= 4 × `A_i` in the first
//!   case) are split into `cash` ([`GenSpec::cash_share`]) and `other_assets`; external
//!   liabilities are `(1 − capital_ratio) × T_i − L_i ≥ 0`, so book equity is exactly
//!   `capital_ratio × T_i` (4%) and strictly positive for every firm, isolated ones included.
//!   `capital` and `weight` are left unset (equity is derived).
//!
//! # Reproducibility
//! Everything is drawn from [`Rng`], a small generator written out in this module
//! (xoshiro256** seeded through SplitMix64), so a given [`GenSpec`] yields the same network
//! whatever the thread count and across upgrades of any dependency; only a change to the
//! sampling code here changes the output. The graph (who owes whom) depends on integer
//! arithmetic only and is identical on every platform; amounts also go through the
//! platform's `ln`, `exp`, `sin_cos` and `powf`, which may differ in the last bit between
//! math libraries.
//!
//! # Cost
//! `O(n + m log d)` time for `n` firms, `m` exposures and the largest out-degree `d`
//! (creditors of a debtor are sorted to reject duplicates), single-threaded. Memory beyond
//! the returned network: a few `O(n)` arrays (counts, weights, sampling tables) and one row of
//! scratch; no per-exposure hash map. Firm ids are `f` followed by the zero-padded index
//! (`f0000042` for a network of 10⁶ to 10⁷ firms).

use std::ops::Range;

use crate::model::{Exposure, ExposureKind, Firm, FirmIx, FirmKind, Meta, Network, Parts};

/// Pseudo-random number generator: xoshiro256** (Blackman & Vigna, 2018), seeded by running
/// SplitMix64 over a 64-bit seed.
///
/// Period 2²⁵⁶ − 1, passes the usual statistical test batteries, about one nanosecond per
/// draw. Not cryptographic. Defined here, not taken from a crate, so that a seed means the
/// same numbers forever.
#[derive(Debug, Clone, PartialEq)]
pub struct Rng {
    state: [u64; 4],
    /// Second normal deviate of the last Box–Muller pair, not yet handed out.
    spare: Option<f64>,
}

/// One step of SplitMix64: advances `x` and returns a well-mixed 64-bit value. Used to expand
/// a seed into generator state (any seed, including 0, gives a non-zero state).
pub fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator seeded from `seed`; equal seeds give equal streams.
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let state = [
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
        ];
        Self { state, spare: None }
    }

    /// Next 64 uniformly distributed bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let out = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    /// Uniform `f64` in `[0, 1)` with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform `f64` in `(0, 1]` (safe to take the logarithm of).
    #[inline]
    fn uniform_open0(&mut self) -> f64 {
        1.0 - self.uniform()
    }

    /// Uniform integer in `0..n` by multiply-shift (bias below `n / 2⁶⁴`). `n` must be > 0.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Standard normal deviate (Box–Muller; the pair's second value is kept for the next
    /// call).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let r = (-2.0 * self.uniform_open0().ln()).sqrt();
        let (sin, cos) = (std::f64::consts::TAU * self.uniform()).sin_cos();
        self.spare = Some(r * sin);
        r * cos
    }

    /// Exponential deviate with the given `rate` (mean `1 / rate`).
    pub fn exponential(&mut self, rate: f64) -> f64 {
        -self.uniform_open0().ln() / rate
    }

    /// Lognormal deviate `exp(mu + sigma · Z)`: median `exp(mu)`.
    pub fn lognormal(&mut self, mu: f64, sigma: f64) -> f64 {
        (mu + sigma * self.normal()).exp()
    }

    /// Pareto deviate with minimum `x_min` and tail index `alpha`: `P(X > x) = (x_min /
    /// x)^alpha` for `x ≥ x_min` (finite mean only when `alpha > 1`).
    pub fn pareto(&mut self, x_min: f64, alpha: f64) -> f64 {
        x_min * self.uniform_open0().powf(-1.0 / alpha)
    }
}

/// Shape of the exposure graph.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Topology {
    /// Directed Erdős–Rényi `G(n, m)`: `m` distinct ordered pairs drawn uniformly. In- and
    /// out-degrees are close to Poisson with mean `avg_degree`.
    ErdosRenyi,
    /// Chung–Lu style heavy-tailed graph. Each firm gets a size `w ~ Pareto(1, exponent − 1)`;
    /// debtors are drawn proportionally to size, and then their creditors too (large firms
    /// both borrow and lend a lot), so in- and out-degree tails follow `P(k) ∝ k^−exponent`.
    /// Sizes are capped so that no firm expects more than half the others as counterparties.
    ScaleFree {
        /// Degree tail exponent, > 1 (interbank data suggest 2–3).
        exponent: f64,
    },
    /// A densely connected core of the first `round(core_fraction × firms)` firms (indices
    /// `0..k`, at least one firm) and a periphery that deals only with the core (no
    /// periphery–periphery exposures). A share `core_share` of the exposures links two core
    /// firms (as many as fit: at most `k(k − 1)`); the rest link a core firm and a peripheral
    /// one, half with the core firm as creditor. Counterparties are uniform within a block.
    CorePeriphery {
        /// Share of firms in the core, in `(0, 1)`.
        core_fraction: f64,
        /// Share of exposures between two core firms, in `[0, 1]`.
        core_share: f64,
    },
}

/// What to generate. Build one with [`GenSpec::new`] and adjust the public fields.
#[derive(Debug, Clone, PartialEq)]
pub struct GenSpec {
    /// Number of firms (at most `u32::MAX`).
    pub firms: usize,
    /// Mean number of debtors (= of creditors) per firm: exposures = `round(firms ×
    /// avg_degree)`. Finite, ≥ 0.
    pub avg_degree: f64,
    /// Graph shape.
    pub topology: Topology,
    /// Seed of the generator; equal specs give identical networks.
    pub seed: u64,
    /// Median exposure amount, currency units, > 0. Default 1.
    pub exposure_median: f64,
    /// Standard deviation of the logarithm of exposure amounts, ≥ 0. Default 1.
    pub exposure_sigma: f64,
    /// Interbank assets as a share of total assets (for firms that lend at least as much as
    /// they borrow), in `(0, 1)`. Default 0.2.
    pub interbank_share: f64,
    /// Book equity as a share of total assets, in `(0, 1)`, with `interbank_share +
    /// capital_ratio ≤ 1`. Default 0.04.
    pub capital_ratio: f64,
    /// Share of external assets held as cash (the rest is `other_assets`), in `[0, 1]`.
    /// Default 0.1.
    pub cash_share: f64,
}

impl GenSpec {
    /// A spec with the default balance-sheet parameters (median exposure 1, log-sd 1,
    /// interbank share 20%, capital ratio 4%, cash 10% of external assets).
    pub fn new(firms: usize, avg_degree: f64, topology: Topology, seed: u64) -> Self {
        Self {
            firms,
            avg_degree,
            topology,
            seed,
            exposure_median: 1.0,
            exposure_sigma: 1.0,
            interbank_share: 0.2,
            capital_ratio: 0.04,
            cash_share: 0.1,
        }
    }

    /// Checks every parameter; the message names the first one out of range.
    pub fn check(&self) -> Result<(), String> {
        let open_unit = |v: f64| v > 0.0 && v < 1.0;
        if self.firms > u32::MAX as usize {
            return Err(format!(
                "firms must be at most {}, found {}",
                u32::MAX,
                self.firms
            ));
        }
        if !(self.avg_degree.is_finite() && self.avg_degree >= 0.0) {
            return Err(format!(
                "avg_degree must be finite and ≥ 0, found {}",
                self.avg_degree
            ));
        }
        match self.topology {
            Topology::ErdosRenyi => {}
            Topology::ScaleFree { exponent } => {
                if !(exponent.is_finite() && exponent > 1.0) {
                    return Err(format!("exponent must be > 1, found {exponent}"));
                }
            }
            Topology::CorePeriphery {
                core_fraction,
                core_share,
            } => {
                if !open_unit(core_fraction) {
                    return Err(format!(
                        "core_fraction must be in (0, 1), found {core_fraction}"
                    ));
                }
                if !(0.0..=1.0).contains(&core_share) {
                    return Err(format!("core_share must be in [0, 1], found {core_share}"));
                }
            }
        }
        if !(self.exposure_median.is_finite() && self.exposure_median > 0.0) {
            return Err(format!(
                "exposure_median must be finite and > 0, found {}",
                self.exposure_median
            ));
        }
        if !(self.exposure_sigma.is_finite() && self.exposure_sigma >= 0.0) {
            return Err(format!(
                "exposure_sigma must be finite and ≥ 0, found {}",
                self.exposure_sigma
            ));
        }
        if !open_unit(self.interbank_share) || !open_unit(self.capital_ratio) {
            return Err(format!(
                "interbank_share and capital_ratio must be in (0, 1), found {} and {}",
                self.interbank_share, self.capital_ratio
            ));
        }
        if self.interbank_share + self.capital_ratio > 1.0 {
            return Err("interbank_share + capital_ratio must be at most 1".into());
        }
        if !(0.0..=1.0).contains(&self.cash_share) {
            return Err(format!(
                "cash_share must be in [0, 1], found {}",
                self.cash_share
            ));
        }
        Ok(())
    }

    /// Number of exposures [`generate`] will produce: `round(firms × avg_degree)`, capped by
    /// the number of distinct ordered pairs the topology allows (`n(n − 1)`; for the
    /// core–periphery shape `k(k − 1) + 2k(n − k)`).
    pub fn target_exposures(&self) -> usize {
        self.blocks().iter().map(|b| b.edges).sum()
    }

    /// Size of the core (core–periphery only; 0 otherwise).
    fn core_size(&self) -> usize {
        match self.topology {
            Topology::CorePeriphery { core_fraction, .. } if self.firms > 0 => {
                ((core_fraction * self.firms as f64).round() as usize).clamp(1, self.firms)
            }
            _ => 0,
        }
    }

    /// The blocks of (debtors, creditors) pairs and how many exposures each gets.
    fn blocks(&self) -> Vec<Block> {
        let n = self.firms;
        let wanted = (n as f64 * self.avg_degree).round() as usize;
        let all = 0..n as u32;
        match self.topology {
            Topology::ErdosRenyi | Topology::ScaleFree { .. } => {
                let b = Block {
                    debtors: all.clone(),
                    creditors: all,
                    edges: 0,
                };
                vec![Block {
                    edges: wanted.min(b.capacity()),
                    ..b
                }]
            }
            Topology::CorePeriphery { core_share, .. } => {
                let k = self.core_size() as u32;
                let core = 0..k;
                let periphery = k..n as u32;
                let mut blocks = vec![
                    Block {
                        debtors: core.clone(),
                        creditors: core.clone(),
                        edges: 0,
                    },
                    Block {
                        debtors: periphery.clone(),
                        creditors: core.clone(),
                        edges: 0,
                    },
                    Block {
                        debtors: core,
                        creditors: periphery,
                        edges: 0,
                    },
                ];
                let cc = (wanted as f64 * core_share).round() as usize;
                let rest = wanted - cc;
                let targets = [cc, rest - rest / 2, rest / 2];
                let mut left = wanted;
                for (b, t) in blocks.iter_mut().zip(targets) {
                    b.edges = t.min(b.capacity());
                    left -= b.edges;
                }
                // Whatever did not fit where it was meant to goes wherever there is room.
                for b in &mut blocks {
                    let more = left.min(b.capacity() - b.edges);
                    b.edges += more;
                    left -= more;
                }
                blocks
            }
        }
    }
}

/// Debtors × creditors of one part of the topology, and its number of exposures.
#[derive(Debug, Clone)]
struct Block {
    debtors: Range<u32>,
    creditors: Range<u32>,
    edges: usize,
}

impl Block {
    /// Distinct ordered pairs without self-pairs.
    fn capacity(&self) -> usize {
        let overlap = self
            .debtors
            .end
            .min(self.creditors.end)
            .saturating_sub(self.debtors.start.max(self.creditors.start));
        self.debtors.len() * self.creditors.len() - overlap as usize
    }

    /// Most creditors debtor `d` can have in this block.
    fn row_capacity(&self, d: u32) -> u32 {
        self.creditors.len() as u32 - u32::from(self.creditors.contains(&d))
    }
}

/// Walker's alias table (Vose's construction): `O(n)` to build, `O(1)` per weighted draw.
struct Alias {
    prob: Vec<f64>,
    alias: Vec<u32>,
}

impl Alias {
    fn new(weights: &[f64]) -> Self {
        let n = weights.len();
        let total: f64 = weights.iter().sum();
        let mut prob: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let mut small: Vec<u32> = Vec::new();
        let mut large: Vec<u32> = Vec::new();
        for (i, &p) in prob.iter().enumerate() {
            if p < 1.0 {
                small.push(i as u32);
            } else {
                large.push(i as u32);
            }
        }
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            alias[s as usize] = l;
            let rest = prob[l as usize] + prob[s as usize] - 1.0;
            prob[l as usize] = rest;
            if rest < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Leftovers are 1 up to rounding.
        for i in small.into_iter().chain(large) {
            prob[i as usize] = 1.0;
        }
        Self { prob, alias }
    }

    #[inline]
    fn sample(&self, rng: &mut Rng) -> u32 {
        let i = rng.below(self.prob.len() as u64) as usize;
        if rng.uniform() < self.prob[i] {
            i as u32
        } else {
            self.alias[i]
        }
    }
}

/// How counterparties are drawn within a block.
enum Draw<'a> {
    /// Uniformly over the block's range.
    Uniform,
    /// Proportionally to weights given for every firm (blocks spanning all firms only).
    Weighted(&'a Alias),
}

impl Draw<'_> {
    #[inline]
    fn sample(&self, range: &Range<u32>, rng: &mut Rng) -> u32 {
        match self {
            Draw::Uniform => range.start + rng.below(range.len() as u64) as u32,
            Draw::Weighted(a) => range.start + a.sample(rng),
        }
    }
}

/// Draws the exposures of `block` and appends them to `out`, grouped by debtor and sorted by
/// creditor within a debtor, with lognormal amounts.
fn fill_block(
    block: &Block,
    draw: &Draw,
    rng: &mut Rng,
    amount: &mut impl FnMut(&mut Rng) -> f64,
    out: &mut Vec<Exposure>,
) {
    if block.edges == 0 {
        return;
    }
    // Out-degrees: each exposure picks its debtor; a full debtor is drawn again (after many
    // misses uniformly, then by scanning, so a nearly full block still terminates).
    let d0 = block.debtors.start;
    let mut degree = vec![0u32; block.debtors.len()];
    for _ in 0..block.edges {
        let mut misses = 0usize;
        loop {
            let d = if misses < 64 {
                draw.sample(&block.debtors, rng)
            } else {
                Draw::Uniform.sample(&block.debtors, rng)
            };
            if degree[(d - d0) as usize] < block.row_capacity(d) {
                degree[(d - d0) as usize] += 1;
                break;
            }
            misses += 1;
            if misses > 64 + 4 * degree.len() {
                let start = rng.below(degree.len() as u64) as usize;
                let free = (0..degree.len())
                    .map(|o| (start + o) % degree.len())
                    .find(|&r| degree[r] < block.row_capacity(d0 + r as u32))
                    .expect("a block never gets more exposures than it can hold");
                degree[free] += 1;
                break;
            }
        }
    }
    // Creditors of each debtor, without replacement: draw, sort, drop repeats, draw again.
    let mut row: Vec<u32> = Vec::new();
    for (r, &k) in degree.iter().enumerate() {
        if k == 0 {
            continue;
        }
        let d = d0 + r as u32;
        let k = k as usize;
        row.clear();
        let mut rounds = 0;
        while row.len() < k {
            let sampler = if rounds < 16 { draw } else { &Draw::Uniform };
            let missing = k - row.len();
            let mut added = 0;
            while added < missing {
                let c = sampler.sample(&block.creditors, rng);
                if c != d {
                    row.push(c);
                    added += 1;
                }
            }
            row.sort_unstable();
            row.dedup();
            rounds += 1;
        }
        for &c in &row {
            out.push(Exposure {
                creditor: c,
                debtor: d,
                kind: ExposureKind::Loan,
                amount: amount(rng),
            });
        }
    }
}

/// Firm sizes for the scale-free topology: Pareto with tail index `exponent − 1`, capped so
/// that the expected degree `m · w / Σw` stays below `(n − 1) / 2`.
fn sizes(n: usize, m: usize, exponent: f64, rng: &mut Rng) -> Vec<f64> {
    let mut w: Vec<f64> = (0..n).map(|_| rng.pareto(1.0, exponent - 1.0)).collect();
    if m > 0 && n > 1 {
        let mut cap = f64::INFINITY;
        for _ in 0..4 {
            let total: f64 = w.iter().map(|&x| x.min(cap)).sum();
            cap = total * (n - 1) as f64 / (2.0 * m as f64);
        }
        w.iter_mut().for_each(|x| *x = x.min(cap));
    }
    w
}

/// Generates the network described by `spec`. See the module documentation for the model,
/// orientation, units and cost.
///
/// # Panics
/// If `spec` fails [`GenSpec::check`].
pub fn generate(spec: &GenSpec) -> Network {
    if let Err(msg) = spec.check() {
        panic!("invalid generator spec: {msg}");
    }
    let n = spec.firms;
    let blocks = spec.blocks();
    let m: usize = blocks.iter().map(|b| b.edges).sum();
    let mut rng = Rng::new(spec.seed);
    let alias = match spec.topology {
        Topology::ScaleFree { exponent } => Some(Alias::new(&sizes(n, m, exponent, &mut rng))),
        _ => None,
    };
    let draw = match &alias {
        Some(a) => Draw::Weighted(a),
        None => Draw::Uniform,
    };
    let mu = spec.exposure_median.ln();
    let sigma = spec.exposure_sigma;
    let mut amount = |rng: &mut Rng| rng.lognormal(mu, sigma);
    let mut exposures = Vec::with_capacity(m);
    for b in &blocks {
        fill_block(b, &draw, &mut rng, &mut amount, &mut exposures);
    }
    drop(alias);

    let mut claims = vec![0.0f64; n];
    let mut debts = vec![0.0f64; n];
    for e in &exposures {
        claims[e.creditor as usize] += e.amount;
        debts[e.debtor as usize] += e.amount;
    }
    let width = (n.saturating_sub(1)).to_string().len();
    let firms: Vec<Firm> = (0..n)
        .map(|i| {
            let (a, l) = (claims[i], debts[i]);
            let total = a.max(l).max(spec.exposure_median) / spec.interbank_share;
            let external = total - a;
            let cash = spec.cash_share * external;
            let id = format!("f{i:0width$}");
            Firm {
                name: id.clone(),
                id,
                kind: FirmKind::Bank,
                cash,
                other_assets: external - cash,
                external_liabilities: ((1.0 - spec.capital_ratio) * total - l).max(0.0),
                capital: None,
                weight: None,
                failed_on: None,
                extra: Vec::new(),
            }
        })
        .collect();
    drop((claims, debts));
    let shape = match spec.topology {
        Topology::ErdosRenyi => "Erdős–Rényi".to_string(),
        Topology::ScaleFree { exponent } => format!("scale-free (exponent {exponent})"),
        Topology::CorePeriphery {
            core_fraction,
            core_share,
        } => format!("core–periphery (core {core_fraction}, core share {core_share})"),
    };
    let meta = Meta {
        name: Some(format!("synthetic-{n}")),
        description: Some(format!(
            "Synthetic {shape} network: {n} firms, {m} exposures, seed {}",
            spec.seed
        )),
        ..Meta::default()
    };
    Network::from_parts(Parts {
        meta,
        firms,
        exposures,
        ..Parts::default()
    })
    .expect("generated parts satisfy every network invariant")
}

/// `count = round(fraction × n)` distinct firm indices chosen uniformly from `0..n`, in
/// increasing order (selection sampling, `O(n)`). Handy for seeded random shocks.
///
/// # Panics
/// If `fraction` is not in `[0, 1]`.
pub fn random_firms(n: usize, fraction: f64, seed: u64) -> Vec<FirmIx> {
    assert!(
        (0.0..=1.0).contains(&fraction),
        "fraction must be in [0, 1], found {fraction}"
    );
    let want = (fraction * n as f64).round() as usize;
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(want);
    for i in 0..n {
        let left = (n - i) as u64;
        if (rng.below(left) as usize) < want - out.len() {
            out.push(i as FirmIx);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn degrees(net: &Network) -> (Vec<u32>, Vec<u32>) {
        let mut out_deg = vec![0u32; net.n_firms()];
        let mut in_deg = vec![0u32; net.n_firms()];
        for e in net.exposures() {
            out_deg[e.debtor as usize] += 1;
            in_deg[e.creditor as usize] += 1;
        }
        (out_deg, in_deg)
    }

    fn assert_simple(net: &Network) {
        let mut pairs: Vec<(u32, u32)> = net
            .exposures()
            .iter()
            .map(|e| (e.debtor, e.creditor))
            .collect();
        assert!(pairs.iter().all(|(d, c)| d != c), "self-exposure");
        let m = pairs.len();
        pairs.sort_unstable();
        pairs.dedup();
        assert_eq!(pairs.len(), m, "duplicate (debtor, creditor) pair");
    }

    #[test]
    fn generator_is_reproducible_and_documented_values_hold() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(Rng::new(8).next_u64(), xs[0]);
        // SplitMix64 from 0: first output of the reference description.
        assert_eq!(splitmix64(&mut 0), 0xE220_A839_7B1D_CDAF);
        let mut r = Rng::new(1);
        let k = 200_000;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let u: Vec<f64> = (0..k).map(|_| r.uniform()).collect();
        assert!(u.iter().all(|x| (0.0..1.0).contains(x)));
        assert!((mean(&u) - 0.5).abs() < 0.005);
        let z: Vec<f64> = (0..k).map(|_| r.normal()).collect();
        let var = mean(&z.iter().map(|x| x * x).collect::<Vec<_>>());
        assert!(mean(&z).abs() < 0.01 && (var - 1.0).abs() < 0.02);
        let e: Vec<f64> = (0..k).map(|_| r.exponential(2.0)).collect();
        assert!((mean(&e) - 0.5).abs() < 0.01);
        let p: Vec<f64> = (0..k).map(|_| r.pareto(1.0, 3.0)).collect();
        assert!(p.iter().all(|&x| x >= 1.0) && (mean(&p) - 1.5).abs() < 0.05);
        let mut l: Vec<f64> = (0..k).map(|_| r.lognormal(2.0f64.ln(), 0.5)).collect();
        l.sort_by(f64::total_cmp);
        assert!((l[k / 2] - 2.0).abs() < 0.02);
        assert!((0..k).map(|_| r.below(10)).all(|x| x < 10));
    }

    /// Pinned outputs: these change only when the sampling code does, never with a
    /// dependency upgrade.
    #[test]
    fn streams_and_networks_are_pinned() {
        let mut r = Rng::new(0);
        let v: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(
            v,
            [
                0x99ec_5f36_cb75_f2b4,
                0xbf6e_1f78_4956_452a,
                0x1a5f_849d_4933_e6e0
            ]
        );
        let net = generate(&GenSpec::new(50, 3.0, Topology::ErdosRenyi, 1));
        let e = net.exposures();
        assert_eq!((e[0].debtor, e[0].creditor), (0, 14));
        assert_eq!((e[149].debtor, e[149].creditor), (49, 44));
        // Amounts go through the platform's math library: equal up to rounding.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
        assert!(close(e[0].amount, 1.8118033322484395));
        assert!(close(e[149].amount, 0.2813227194486182));
        assert!(close(e.iter().map(|e| e.amount).sum(), 225.20213577148374));
        let f = &net.firms()[7];
        assert!(close(f.cash, 1.4145452756264751));
        assert!(close(f.other_assets, 12.730907480638276));
        assert!(close(f.external_liabilities, 11.268692599075512));
    }

    #[test]
    fn sizes_are_exact() {
        for topology in [
            Topology::ErdosRenyi,
            Topology::ScaleFree { exponent: 2.5 },
            Topology::CorePeriphery {
                core_fraction: 0.1,
                core_share: 0.5,
            },
        ] {
            let spec = GenSpec::new(2_000, 7.5, topology, 3);
            let net = generate(&spec);
            assert_eq!(net.n_firms(), 2_000);
            assert_eq!(net.exposures().len(), 15_000, "{topology:?}");
            assert_eq!(spec.target_exposures(), 15_000);
            assert_simple(&net);
        }
        // More exposures than pairs: capped at n(n − 1), the complete graph.
        let full = generate(&GenSpec::new(5, 10.0, Topology::ErdosRenyi, 1));
        assert_eq!(full.exposures().len(), 20);
        assert_simple(&full);
        let empty = generate(&GenSpec::new(0, 3.0, Topology::ErdosRenyi, 1));
        assert_eq!((empty.n_firms(), empty.exposures().len()), (0, 0));
        let lone = generate(&GenSpec::new(
            1,
            3.0,
            Topology::ScaleFree { exponent: 2.0 },
            1,
        ));
        assert_eq!((lone.n_firms(), lone.exposures().len()), (1, 0));
    }

    #[test]
    fn erdos_renyi_degrees_are_poisson_like() {
        let n = 10_000;
        let net = generate(&GenSpec::new(n, 10.0, Topology::ErdosRenyi, 42));
        let (out_deg, in_deg) = degrees(&net);
        for deg in [&out_deg, &in_deg] {
            let mean = deg.iter().map(|&d| d as f64).sum::<f64>() / n as f64;
            let var = deg.iter().map(|&d| (d as f64 - mean).powi(2)).sum::<f64>() / n as f64;
            assert!((mean - 10.0).abs() < 0.3, "mean degree {mean}");
            assert!(
                (var / mean - 1.0).abs() < 0.1,
                "variance {var} vs mean {mean}"
            );
            assert!(*deg.iter().max().unwrap() < 40);
        }
    }

    #[test]
    fn scale_free_tails_are_heavier() {
        let n = 10_000;
        let er = generate(&GenSpec::new(n, 10.0, Topology::ErdosRenyi, 5));
        let sf = generate(&GenSpec::new(
            n,
            10.0,
            Topology::ScaleFree { exponent: 2.5 },
            5,
        ));
        let (er_out, er_in) = degrees(&er);
        let (sf_out, sf_in) = degrees(&sf);
        let max = |v: &[u32]| *v.iter().max().unwrap();
        assert!(
            max(&sf_out) > 10 * max(&er_out),
            "{} vs {}",
            max(&sf_out),
            max(&er_out)
        );
        assert!(
            max(&sf_in) > 10 * max(&er_in),
            "{} vs {}",
            max(&sf_in),
            max(&er_in)
        );
        // And no firm deals with more than every other firm.
        assert!(max(&sf_out) < n as u32 && max(&sf_in) < n as u32);
    }

    #[test]
    fn core_periphery_has_no_periphery_links() {
        let spec = GenSpec::new(
            1_000,
            6.0,
            Topology::CorePeriphery {
                core_fraction: 0.05,
                core_share: 0.3,
            },
            9,
        );
        let net = generate(&spec);
        let core = 50;
        let within = net
            .exposures()
            .iter()
            .filter(|e| e.debtor < core && e.creditor < core)
            .count();
        assert_eq!(within, 1_800);
        assert!(
            net.exposures()
                .iter()
                .all(|e| e.debtor < core || e.creditor < core)
        );
        // A core share that does not fit is capped at the complete core.
        let dense = GenSpec {
            topology: Topology::CorePeriphery {
                core_fraction: 0.01,
                core_share: 1.0,
            },
            ..spec
        };
        let net = generate(&dense);
        assert_eq!(net.exposures().len(), 6_000);
        let within = net
            .exposures()
            .iter()
            .filter(|e| e.debtor < 10 && e.creditor < 10)
            .count();
        assert_eq!(within, 90);
        assert_simple(&net);
    }

    #[test]
    fn same_seed_same_network() {
        for topology in [Topology::ErdosRenyi, Topology::ScaleFree { exponent: 2.2 }] {
            let spec = GenSpec::new(3_000, 5.0, topology, 11);
            let a = generate(&spec);
            let b = generate(&spec);
            assert_eq!(a.parts().firms, b.parts().firms);
            assert_eq!(a.exposures(), b.exposures());
            let c = generate(&GenSpec { seed: 12, ..spec });
            assert_ne!(a.exposures(), c.exposures());
        }
    }

    #[test]
    fn balance_sheets_follow_the_ratios() {
        for topology in [
            Topology::ErdosRenyi,
            Topology::ScaleFree { exponent: 2.5 },
            Topology::CorePeriphery {
                core_fraction: 0.1,
                core_share: 0.4,
            },
        ] {
            let net = generate(&GenSpec::new(5_000, 4.0, topology, 21));
            for (i, b) in net.balance_sheets().iter().enumerate() {
                let total = b.total_assets();
                assert!(b.equity() > 0.0, "firm {i} has equity {}", b.equity());
                assert!((b.equity() / total - 0.04).abs() < 1e-9);
                assert!(b.interbank_claims <= 0.2 * total * (1.0 + 1e-12));
                assert!(b.interbank_liabilities <= 0.2 * total * (1.0 + 1e-12));
                if b.interbank_claims >= b.interbank_liabilities && b.interbank_claims > 1.0 {
                    assert!((b.interbank_claims / total - 0.2).abs() < 1e-9);
                }
                assert!(b.external_liabilities >= 0.0);
                assert!((b.cash / b.external_assets() - 0.1).abs() < 1e-9);
            }
            assert_eq!(net.firm_id(3).len(), 5);
            assert_eq!(net.firm_ix("f0003"), Some(3));
        }
    }

    #[test]
    fn random_firms_picks_exact_count() {
        let a = random_firms(10_000, 0.03, 4);
        assert_eq!(a.len(), 300);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a, random_firms(10_000, 0.03, 4));
        assert_ne!(a, random_firms(10_000, 0.03, 5));
        assert_eq!(random_firms(10, 1.0, 0), (0..10).collect::<Vec<_>>());
        assert!(random_firms(10, 0.0, 0).is_empty());
    }

    #[test]
    fn invalid_specs_are_rejected() {
        let ok = GenSpec::new(10, 2.0, Topology::ErdosRenyi, 0);
        assert!(ok.check().is_ok());
        for bad in [
            GenSpec {
                avg_degree: f64::NAN,
                ..ok.clone()
            },
            GenSpec {
                topology: Topology::ScaleFree { exponent: 1.0 },
                ..ok.clone()
            },
            GenSpec {
                capital_ratio: 0.9,
                ..ok.clone()
            },
            GenSpec {
                exposure_median: 0.0,
                ..ok.clone()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
