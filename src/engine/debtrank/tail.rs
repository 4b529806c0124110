//! Certified tails of subcritical linear and non-linear DebtRank cascades.
//!
//! Once a failure scenario's stress has settled down to small rises, the rest of a linear
//! cascade is linear, and what it still adds to the figures of `rank` can be read off
//! vectors computed once per network — so sweeps may stop early, with an error bound. The
//! rest of a non-linear cascade lies between two linear ones ([`DampedTail`]).
//!
//! # The tail
//! Let `M = (I − Λ)⁻¹` (it exists and is non-negative when `ρ(Λ) < 1`), `R = Λ 1` the
//! row sums of `Λ`, and
//! - `y = Mᵀ v` (`v`: the system weights) and `u = Mᵀ E⁺` (`E⁺`: the buffers, floored at 0):
//!   what a unit rise of a firm's stress adds in the end to the system DebtRank, and to the
//!   losses, when every firm can still take stress;
//! - `g = M R = M 1 − 1`: how much a unit rise of every firm's stress raises each firm's stress
//!   in the end (so a vector of pending rises `q ≤ θ R` raises firm `i` by at most `θ g_i`);
//! - `c = Λ² g`.
//!
//! Suppose that, in a scenario, no firm passes anything on because every firm holds back a
//! rise `b_j ≤ θ` (the sweep's threshold for that scenario), and let `D` be the firms at
//! stress 1 (the failed firm `s` and the defaults so far; firms without a buffer take
//! nothing and play no part). Passing the held-back rises on, and everything that follows,
//! raises the other firms by `Δ = M (Λ b − Σ_{d∈D} a_d e_d)`, where `a_d ≥ 0` is what firm
//! `d` absorbs (it takes nothing more). Since `Λ b ≤ θ R`, no firm rises by more than
//! `θ g_i`; if `h_i + θ g_i < 1 − tol` for every firm below 1, nobody else defaults, the
//! cascade stays linear, and the DebtRank it still adds is
//!
//! `vᵀ Δ = Σ_j (y_j − v_j) b_j − Σ_{d∈D} y_d a_d`
//!
//! (`Λᵀ y = y − v`). What each firm of `D` absorbs lies between its part known now,
//! `k_d = (Λ b)_d + Σ_j Λ_dj (Λ b)_j` over its debtors `j` below 1, and `k_d + θ c_d`. The
//! sweeps add `Σ_j (y_j − v_j) b_j − Σ_{d∈D} y_d k_d`: at most `θ Σ_{d∈D} y_d c_d` too much,
//! and exact where no more stress can reach a firm at 1 (on a chain, say); the same holds
//! for the losses with `u` and `E⁺`. A scenario's threshold `θ` is the largest that keeps
//! these widths within the tolerance (absolute for the DebtRank, times the system's buffers
//! for the losses) — the accuracy of a run to the tolerance, which leaves every firm
//! holding back up to `tol` for good. It is set from `s` alone when the scenario starts,
//! and lowered when defaults widen the bound or bring a firm near default.
//!
//! The vectors come from Gauss–Seidel iterations that start at 0 and rise to their limits;
//! they stop when an iteration changes no entry by more than 1e-15 of its value, and the
//! bounds' vectors are then raised by 1e-9 of their value, far more than what is left. When
//! the upper bound on `ρ(Λ)` reaches [`MAX_RADIUS`] (near 1 the iterations would take
//! thousands of passes), the iterations do not settle within [`MAX_SWEEPS`] passes, or `g`
//! exceeds [`MAX_GAIN`] (a tail would need thresholds below the tolerance anyway), there is
//! no tail and the sweeps run to the tolerance.

use super::Leverage;

/// Passes over `Λ` after which the vectors count as not settling.
pub const MAX_SWEEPS: usize = 2000;
/// Largest spectral radius (upper bound) for which tails are built.
pub const MAX_RADIUS: f64 = 0.99;
/// Largest `g` for which tails are used.
pub const MAX_GAIN: f64 = 1e6;
/// Relative margin added to the vectors that bound errors.
const MARGIN: f64 = 1e-9;

/// The vectors of the tail, by position in the sweep order (see the module docs).
#[derive(Debug, Clone)]
pub struct Tail {
    /// `y = Mᵀ v`.
    pub(super) debtrank: Vec<f64>,
    /// `u = Mᵀ E⁺`.
    pub(super) losses: Vec<f64>,
    /// `v` and `E⁺` (what a firm's own rise adds at once).
    pub(super) weight: Vec<f64>,
    pub(super) buffer: Vec<f64>,
    /// `c = Λ² g`, raised by the margin.
    pub(super) second: Vec<f64>,
    /// `g = M R`, raised by the margin.
    pub(super) gain: Vec<f64>,
    /// Largest entry of `g = M R`, raised by the margin.
    pub(super) max_gain: f64,
    /// Total of the buffers `E⁺` (the scale of the losses' tolerance).
    pub(super) total_buffer: f64,
}

impl Tail {
    /// The tail vectors of `lev`, or `None` when the iterations do not settle (see the
    /// module docs). `O(m)` per pass.
    pub fn build(lev: &Leverage) -> Option<Self> {
        // Near or above 1 the iterations would take thousands of passes, or diverge.
        let rho = lev.spectral_radius();
        if !rho.converged || rho.upper >= MAX_RADIUS {
            return None;
        }
        let order = lev.sweep_order();
        let n = lev.n();
        let ln = lev.losses();
        let weight: Vec<f64> = (0..n).map(|p| ln.weight[order.firm[p] as usize]).collect();
        let buffer: Vec<f64> = (0..n)
            .map(|p| ln.buffer[order.firm[p] as usize].max(0.0))
            .collect();
        // `Λ` by creditor, in positions: `Λ x` sums row `p` of this.
        let by_creditor = order.rows.transpose(n);
        let row_sums: Vec<f64> = (0..n).map(|p| by_creditor.row(p).1.iter().sum()).collect();
        // `g` first: it bounds the others (`Σ y = vᵀ (1 + g)`), and tells when to give up.
        let gain = solve(
            n,
            |g, p| by_creditor.row_dot(p, g) + row_sums[p],
            false,
            MAX_GAIN,
        )?;
        let debtrank = solve(
            n,
            |y, p| order.rows.row_dot(p, y) + weight[p],
            true,
            f64::MAX,
        )?;
        let losses = solve(
            n,
            |y, p| order.rows.row_dot(p, y) + buffer[p],
            true,
            f64::MAX,
        )?;
        let once: Vec<f64> = (0..n).map(|p| by_creditor.row_dot(p, &gain)).collect();
        let second: Vec<f64> = (0..n)
            .map(|p| by_creditor.row_dot(p, &once) * (1.0 + MARGIN))
            .collect();
        let max_gain = gain.iter().copied().fold(0.0, f64::max) * (1.0 + MARGIN);
        Some(Self {
            debtrank,
            losses,
            total_buffer: buffer.iter().sum(),
            weight,
            buffer,
            second,
            gain: gain.iter().map(|g| g * (1.0 + MARGIN)).collect(),
            max_gain,
        })
    }

    /// The error allowed to a certified tail, for the DebtRank and for the losses: the
    /// tolerance, and the tolerance times the system's buffers — what a run to the tolerance
    /// may leave out, since every firm may hold back up to the tolerance for good.
    pub(super) fn tolerances(&self, tol: f64) -> (f64, f64) {
        (tol, tol * self.total_buffer)
    }

    /// The largest threshold that keeps a certified tail within [`Tail::tolerances`] for a
    /// scenario whose firms at stress 1 have `wide` = `(Σ y_d c_d, Σ u_d c_d)`, with a small
    /// margin; at most a hundredth of `1 / (1 + max g)`, so that firms far from default stay
    /// so; the tolerance itself when no larger threshold would help.
    pub(super) fn threshold(&self, wide: (f64, f64), tol: f64) -> f64 {
        let (eps_dr, eps_loss) = self.tolerances(tol);
        let most = |eps: f64, wide: f64| {
            if wide > 0.0 {
                0.999 * eps / wide
            } else {
                f64::INFINITY
            }
        };
        let theta = most(eps_dr, wide.0)
            .min(most(eps_loss, wide.1))
            .min(0.01 / (1.0 + self.max_gain));
        if theta < 2.0 * tol { tol } else { theta }
    }
}

/// The vectors of certified tails of non-linear DebtRank (`p(h) = h e^{α(h−1)}`, `α > 0`),
/// by position in the sweep order; they build on those of the linear [`Tail`].
///
/// `p` is convex with `p(0) = 0`, so its slope rises from `p'(0) = e^{−α}` (`L₀`) at 0 to
/// `1 + α` at 1, and is at most 1 up to a stress `H₁` ([`DampedTail::flat`]). Suppose a
/// scenario is quiet as in [`Tail`]: every firm holds back a rise of stress `b_j ≤ θ`, so
/// a rise of `p`, `q_j = p(h_j) − p(sent_j)`, not yet passed on; firms `D` are at stress 1.
/// If every firm below 1 stays below `H₁` (`h_j + θ g_j ≤ H₁`, checked), then `q ≤ θ`,
/// future rises stay below `θ g`, and the rest of the cascade `Δ` lies between two linear
/// ones:
/// - from below, the one with every slope `L₀`: `Δ ≥ Δ₀ = M₀ (Λ q − Σ_{d∈D} a_d e_d)`,
///   `M₀ = (I − L₀ Λ)⁻¹`, so `vᵀ Δ₀ = Σ_j (Λᵀ y₀)_j q_j − Σ_d y₀_d a_d` with
///   `y₀ = M₀ᵀ v`; what a firm at 1 absorbs, `a_d`, is known to within `θ c_d` as in the
///   linear tail (two steps, the second at slope `L₀`);
/// - from above, the one with the slope of each firm at `h_j + θ g_j`, `D₁ ≤ I`: its
///   excess over `Δ₀` is `(I − Λ D₁)⁻¹ Λ (D₁ − L₀) Δ₀ ≤ M Λ (D₁ − L₀) θ g`, whose
///   DebtRank is at most `θ Σ_j (y_j − v_j) g_j (p'(h_j + θ g_j) − L₀)` — small, because
///   `p'(h) − L₀` is of the order of `h` and all but a few firms are barely stressed.
///
/// The sweeps add the lower estimate, with `q_j` taken as `p'(sent_j) b_j` (below `q_j` by
/// at most `α(2 + α) b_j² / 2`, bounded too), and certify when both widths are within the
/// tolerance; the losses likewise with `u₀ = M₀ᵀ E⁺`. Slopes above `L₀` are bounded
/// without exponentials: `e^{αx} (1 + αx) − 1 ≤ 2αx / (1 − αx)` for `αx < 1/2`, and
/// `p' − L₀ ≤ 1 − L₀` below `H₁`.
#[derive(Debug, Clone)]
pub struct DampedTail {
    /// `α`.
    pub(super) alpha: f64,
    /// `L₀ = p'(0) = e^{−α}`.
    pub(super) slope: f64,
    /// `(Λᵀ y₀, Λᵀ u₀)`: what a unit rise of `p` passed on adds in the end (lower bound).
    pub(super) passed: Vec<(f64, f64)>,
    /// `(y₀, u₀)`: what a unit of stress absorbed by a firm at 1 takes off.
    pub(super) absorbed: Vec<(f64, f64)>,
    /// `((y_j − v_j) g_j, (u_j − E⁺_j) g_j)` of the linear tail, raised by the margin.
    pub(super) spread: Vec<(f64, f64)>,
    /// Sums of `spread` over every firm (for the firms a scenario has not reached).
    pub(super) total_spread: (f64, f64),
    /// Sums of `passed` (for the error of `p'(sent_j) b_j`).
    pub(super) total_passed: (f64, f64),
    /// `H₁`, lowered by the margin: `p'(h) ≤ 1` for `h ≤ H₁`.
    pub(super) flat: f64,
}

impl DampedTail {
    /// The vectors for `p` with `alpha > 0` on `lev` with the linear tail `t`, or `None`
    /// when the iterations do not settle. `O(m)` per pass; the passes shrink by `L₀ ρ(Λ)`.
    pub fn build(lev: &Leverage, t: &Tail, alpha: f64) -> Option<Self> {
        debug_assert!(alpha > 0.0 && alpha.is_finite());
        let order = lev.sweep_order();
        let n = lev.n();
        let slope = slope_of(alpha, 0.0);
        let y0 = solve(
            n,
            |y, p| slope * order.rows.row_dot(p, y) + t.weight[p],
            true,
            f64::MAX,
        )?;
        let u0 = solve(
            n,
            |y, p| slope * order.rows.row_dot(p, y) + t.buffer[p],
            true,
            f64::MAX,
        )?;
        let passed: Vec<(f64, f64)> = (0..n)
            .map(|p| (order.rows.row_dot(p, &y0), order.rows.row_dot(p, &u0)))
            .collect();
        let spread: Vec<(f64, f64)> = (0..n)
            .map(|p| {
                let g = t.gain[p];
                (
                    (t.debtrank[p] - t.weight[p]).max(0.0) * g,
                    (t.losses[p] - t.buffer[p]).max(0.0) * g,
                )
            })
            .collect();
        let sum = |x: &[(f64, f64)]| x.iter().fold((0.0, 0.0), |(a, b), &(c, d)| (a + c, b + d));
        // `p'` rises from `L₀ < 1` to `1 + α`: bisect for where it crosses 1.
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if slope_of(alpha, mid) <= 1.0 {
                lo = mid
            } else {
                hi = mid
            }
        }
        Some(Self {
            alpha,
            slope,
            total_spread: sum(&spread),
            total_passed: sum(&passed),
            passed,
            absorbed: y0.into_iter().zip(u0).collect(),
            spread,
            flat: lo - 1e-9,
        })
    }

    /// An upper bound on `p'(x) − L₀` for `0 ≤ x ≤ H₁`, without an exponential or a
    /// division (see the type's docs); any value for larger `x`.
    #[inline(always)]
    pub(super) fn excess_slope(&self, x: f64) -> f64 {
        let y = self.alpha * x;
        let near = self.slope * y * (2.0 + 2.9 * y);
        let most = 1.0 - self.slope;
        (if y <= 0.5 && near < most { near } else { most }) * (1.0 + MARGIN)
    }
}

/// `p'(h) = e^{α(h−1)} (1 + αh)` for `0 ≤ h ≤ 1`.
fn slope_of(alpha: f64, h: f64) -> f64 {
    (alpha * (h - 1.0)).exp() * (1.0 + alpha * h)
}

/// The fixed point of `x_p = f(x, p)` (a monotone map with a non-negative matrix part), by
/// Gauss–Seidel passes from 0, downwards through the positions when `down` (sums over rows
/// by debtor, whose entries mostly lie later in the order) or upwards; `None` when an entry
/// exceeds `cap` or the passes do not settle (see the module docs).
fn solve(n: usize, f: impl Fn(&[f64], usize) -> f64, down: bool, cap: f64) -> Option<Vec<f64>> {
    let mut x = vec![0.0; n];
    for _ in 0..MAX_SWEEPS {
        let mut moved = false;
        for k in 0..n {
            let p = if down { n - 1 - k } else { k };
            let new = f(&x, p);
            if new.is_nan() || new > cap {
                return None; // diverging, or not a number
            }
            moved |= new - x[p] > 1e-15 * new;
            x[p] = new;
        }
        if !moved {
            return Some(x);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::generate::{GenSpec, Rng, Topology, generate};
    use crate::model::Network;
    use crate::scenario::Marks;

    /// `(I − Λ)⁻¹` by Gauss–Jordan elimination with partial pivoting on the dense matrix.
    fn dense_inverse(lam: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let n = lam.len();
        let mut a: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                let mut row: Vec<f64> = (0..n)
                    .map(|j| f64::from(u8::from(i == j)) - lam[i][j])
                    .collect();
                row.extend((0..n).map(|j| f64::from(u8::from(i == j))));
                row
            })
            .collect();
        for c in 0..n {
            let pivot = (c..n)
                .max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs()))
                .expect("rows left");
            a.swap(c, pivot);
            let d = a[c][c];
            a[c].iter_mut().for_each(|x| *x /= d);
            for r in 0..n {
                if r != c {
                    let f = a[r][c];
                    let (src, dst) = if r < c {
                        let (lo, hi) = a.split_at_mut(c);
                        (&hi[0], &mut lo[r])
                    } else {
                        let (lo, hi) = a.split_at_mut(r);
                        (&lo[c], &mut hi[0])
                    };
                    for (x, &y) in dst.iter_mut().zip(src.iter()) {
                        *x -= f * y;
                    }
                }
            }
        }
        a.into_iter().map(|row| row[n..].to_vec()).collect()
    }

    /// The vectors equal those computed from the dense inverse `M = (I − Λ)⁻¹`: `y = Mᵀ v`,
    /// `u = Mᵀ E⁺`, `c = Λ² M Λ 1`, the largest entry of `M Λ 1`, on random networks with
    /// firms of every leverage (and some without a buffer). The bounds' vectors are raised
    /// by 1e-9 of their value: within 1e-8, and never below.
    #[test]
    fn vectors_match_the_dense_inverse() {
        for seed in 1..6u64 {
            let mut parts =
                generate(&GenSpec::new(40, 4.0, Topology::ErdosRenyi, seed)).into_parts();
            let mut rng = Rng::new(seed);
            for f in &mut parts.firms {
                f.capital = Some(if rng.uniform() < 0.1 {
                    0.0
                } else {
                    5.0 + 20.0 * rng.uniform()
                });
            }
            let net = Network::from_parts(parts).expect("valid network");
            let lev = Leverage::build(&net, &Marks::book(&net));
            let n = lev.n();
            let mut lam = vec![vec![0.0; n]; n];
            for (i, row) in lam.iter_mut().enumerate() {
                let (idx, val) = lev.by_creditor().row(i);
                for (&j, &x) in idx.iter().zip(val) {
                    row[j as usize] += x;
                }
            }
            let m = dense_inverse(&lam);
            let Some(t) = lev.tail() else {
                panic!("seed {seed}: no tail (ρ = {:?})", lev.spectral_radius());
            };
            let ln = lev.losses();
            let r: Vec<f64> = lam.iter().map(|row| row.iter().sum()).collect();
            let g: Vec<f64> = (0..n)
                .map(|i| (0..n).map(|k| m[i][k] * r[k]).sum())
                .collect();
            let lg: Vec<f64> = (0..n)
                .map(|i| (0..n).map(|k| lam[i][k] * g[k]).sum())
                .collect();
            let order = lev.sweep_order();
            let close = |a: f64, b: f64, what: &str| {
                assert!(
                    (a - b).abs() <= 1e-8 * b.abs().max(1e-3),
                    "seed {seed} {what}: {a} vs {b}"
                );
            };
            for p in 0..n {
                let i = order.firm[p] as usize;
                let y: f64 = (0..n).map(|k| m[k][i] * ln.weight[k]).sum();
                let u: f64 = (0..n).map(|k| m[k][i] * ln.buffer[k].max(0.0)).sum();
                let c: f64 = (0..n).map(|k| lam[i][k] * lg[k]).sum();
                close(t.debtrank[p], y, "y");
                close(t.losses[p], u, "u");
                close(t.second[p], c, "c");
                assert!(
                    t.second[p] >= c,
                    "seed {seed}: c is a bound and must not fall short"
                );
            }
            let gmax = g.iter().copied().fold(0.0, f64::max);
            close(t.max_gain, gmax, "max g");
            assert!(t.max_gain >= gmax);
        }
    }

    /// The non-linear vectors equal those from the dense inverse `M₀ = (I − e^{−α} Λ)⁻¹`:
    /// `Λᵀ y₀` and `y₀ = M₀ᵀ v` (and the same with `E⁺`), `(y − v) g` from the linear ones;
    /// and `p'` is at most 1 up to `H₁` and above 1 just past it.
    #[test]
    fn damped_vectors_match_the_dense_inverse() {
        for (seed, alpha) in [(1u64, 1.0f64), (2, 0.3), (3, 4.0)] {
            let mut parts =
                generate(&GenSpec::new(40, 4.0, Topology::ErdosRenyi, seed)).into_parts();
            let mut rng = Rng::new(seed);
            for f in &mut parts.firms {
                f.capital = Some(5.0 + 20.0 * rng.uniform());
            }
            let net = Network::from_parts(parts).expect("valid network");
            let lev = Leverage::build(&net, &Marks::book(&net));
            let n = lev.n();
            let l0 = (-alpha).exp();
            let mut lam = vec![vec![0.0; n]; n];
            for (i, row) in lam.iter_mut().enumerate() {
                let (idx, val) = lev.by_creditor().row(i);
                for (&j, &x) in idx.iter().zip(val) {
                    row[j as usize] += x;
                }
            }
            let scaled: Vec<Vec<f64>> = lam
                .iter()
                .map(|row| row.iter().map(|x| l0 * x).collect())
                .collect();
            let m0 = dense_inverse(&scaled);
            let t = lev.tail().expect("subcritical network");
            let d = lev.damped_tail(alpha).expect("damped tail");
            assert!(
                lev.damped_tail(alpha + 1.0).is_none(),
                "built for one α only"
            );
            let ln = lev.losses();
            let order = lev.sweep_order();
            let close = |a: f64, b: f64, what: &str| {
                assert!(
                    (a - b).abs() <= 1e-10 * b.abs().max(1e-3),
                    "seed {seed} {what}: {a} vs {b}"
                );
            };
            let y0: Vec<f64> = (0..n)
                .map(|i| (0..n).map(|k| m0[k][i] * ln.weight[k]).sum())
                .collect();
            let u0: Vec<f64> = (0..n)
                .map(|i| (0..n).map(|k| m0[k][i] * ln.buffer[k].max(0.0)).sum())
                .collect();
            for p in 0..n {
                let i = order.firm[p] as usize;
                let ly: f64 = (0..n).map(|k| lam[k][i] * y0[k]).sum();
                let lu: f64 = (0..n).map(|k| lam[k][i] * u0[k]).sum();
                close(d.absorbed[p].0, y0[i], "y0");
                close(d.absorbed[p].1, u0[i], "u0");
                close(d.passed[p].0, ly, "Λᵀ y0");
                close(d.passed[p].1, lu, "Λᵀ u0");
                let g = t.gain[p];
                close(
                    d.spread[p].0,
                    (t.debtrank[p] - t.weight[p]) * g,
                    "(y − v) g",
                );
                close(d.spread[p].1, (t.losses[p] - t.buffer[p]) * g, "(u − E) g");
            }
            let slope = |h: f64| (alpha * (h - 1.0)).exp() * (1.0 + alpha * h);
            assert!(
                slope(d.flat) <= 1.0 && slope(d.flat + 1e-6) > 1.0,
                "α = {alpha}"
            );
            // The bound on `p' − L₀` holds wherever it is used.
            for k in 0..=1000 {
                let x = d.flat * f64::from(k) / 1000.0;
                assert!(d.excess_slope(x) >= slope(x) - l0, "α = {alpha}, x = {x}");
            }
        }
    }

    /// No tail where distress does not die out: a two-cycle with `ρ(Λ) = √(1.2 · 1.0) > 1`.
    #[test]
    fn no_tail_at_or_above_one() {
        use crate::model::{Exposure, ExposureKind, Firm, FirmKind, Parts};
        let firm = |id: &str, capital: f64| Firm {
            id: id.into(),
            name: id.into(),
            kind: FirmKind::Bank,
            cash: 0.0,
            other_assets: 100.0,
            external_liabilities: 0.0,
            capital: Some(capital),
            weight: None,
            failed_on: None,
            extra: vec![],
        };
        let loan = |creditor: u32, debtor: u32, amount: f64| Exposure {
            creditor,
            debtor,
            kind: ExposureKind::Loan,
            amount,
        };
        for (a, b, some) in [(12.0, 10.0, false), (9.0, 10.0, true)] {
            let net = Network::from_parts(Parts {
                firms: vec![firm("A", 10.0), firm("B", 10.0)],
                exposures: vec![loan(0, 1, a), loan(1, 0, b)],
                ..Default::default()
            })
            .expect("valid network");
            let lev = Leverage::build(&net, &Marks::book(&net));
            assert_eq!(lev.tail().is_some(), some, "loans {a} and {b}");
        }
    }
}
