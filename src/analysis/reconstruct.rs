//! Reconstruction of a bilateral exposure matrix from marginals: each firm's total
//! interbank assets (what it lent) and liabilities (what it borrowed).
//!
//! Orientation: `X[i][j]` is what firm `i` lent to firm `j` (row = lender = creditor,
//! column = borrower = debtor). Row sums are the assets `a`, column sums the liabilities `l`;
//! the diagonal is zero (no firm lends to itself).
//!
//! - [`max_entropy`]: the matrix closest in relative entropy to the prior `a_i l_j` (Upper &
//!   Worms 2004), found by iterative proportional fitting (RAS). With a rank-one prior the
//!   solution keeps the form `X[i][j] = u_i v_j` off the diagonal and off the known entries,
//!   so each iteration costs `O(n + k)` for `n` firms and `k` known entries, not `O(n²)`.
//! - [`min_density`]: a sparse matrix with as few links as a greedy matching of the largest
//!   remaining assets with the largest remaining liabilities gives, in the spirit of Anand,
//!   Craig & von Peter (2015); seeded restarts break ties differently and keep the sparsest.
//!   Margins are matched exactly (up to rounding).
//!
//! Both respect known entries: they are kept as given and only the rest is estimated.

use crate::error::Error;

/// A known bilateral exposure: `lender` lent `amount` to `borrower` (indices).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Known {
    /// Lender (creditor) index.
    pub lender: usize,
    /// Borrower (debtor) index.
    pub borrower: usize,
    /// Amount lent, ≥ 0.
    pub amount: f64,
}

/// A reconstructed matrix as a list of links `(lender, borrower, amount)` plus diagnostics.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconstruction {
    /// Links with positive amount (known entries included), in row-major order.
    pub links: Vec<(usize, usize, f64)>,
    /// Iterations (RAS sweeps, or restarts for minimum density).
    pub iterations: usize,
    /// Whether the margins were matched to the tolerance.
    pub converged: bool,
    /// Largest absolute difference between a row sum and its asset total.
    pub row_residual: f64,
    /// Largest absolute difference between a column sum and its liability total.
    pub col_residual: f64,
}

/// Checks marginals: finite, non-negative, equal totals (to a relative `1e-9`), the zero
/// diagonal feasible (`a_i + l_i ≤ total` for every firm), and known entries within them.
/// Returns the residual margins after removing the known entries.
fn residual_margins(
    assets: &[f64],
    liabilities: &[f64],
    known: &[Known],
) -> Result<(Vec<f64>, Vec<f64>), Error> {
    let n = assets.len();
    if liabilities.len() != n {
        return Err(Error::Invalid(
            "assets and liabilities must have one entry per firm".into(),
        ));
    }
    if n < 2 {
        return Err(Error::Invalid(
            "reconstruction needs at least two firms".into(),
        ));
    }
    for (i, (&a, &l)) in assets.iter().zip(liabilities).enumerate() {
        if !(a.is_finite() && l.is_finite() && a >= 0.0 && l >= 0.0) {
            return Err(Error::Invalid(format!(
                "firm {i}: interbank assets and liabilities must be finite and non-negative"
            )));
        }
    }
    let ta: f64 = assets.iter().sum();
    let tl: f64 = liabilities.iter().sum();
    if (ta - tl).abs() > 1e-9 * ta.max(tl).max(1.0) {
        return Err(Error::Invalid(format!(
            "total interbank assets ({ta}) differ from total interbank liabilities ({tl}): every \
             loan is an asset of its lender and a liability of its borrower, so the totals must \
             be equal; rescale one side or add the missing counterparties"
        )));
    }
    for i in 0..n {
        if assets[i] + liabilities[i] > ta * (1.0 + 1e-12) + 1e-12
            && assets[i] > 0.0
            && liabilities[i] > 0.0
        {
            return Err(Error::Invalid(format!(
                "firm {i} lends {} and borrows {} out of a total of {ta}: with no self-lending it \
                 would have to lend to and borrow from itself",
                assets[i], liabilities[i]
            )));
        }
    }
    let mut ra = assets.to_vec();
    let mut rl = liabilities.to_vec();
    for k in known {
        if k.lender >= n || k.borrower >= n || k.lender == k.borrower {
            return Err(Error::Invalid(format!(
                "known exposure {} → {}: indices must be distinct firms",
                k.lender, k.borrower
            )));
        }
        if !(k.amount.is_finite() && k.amount >= 0.0) {
            return Err(Error::Invalid(
                "known exposures must be finite and non-negative".into(),
            ));
        }
        ra[k.lender] -= k.amount;
        rl[k.borrower] -= k.amount;
    }
    for i in 0..n {
        let slack = 1e-9 * assets[i].max(liabilities[i]).max(1.0);
        if ra[i] < -slack || rl[i] < -slack {
            return Err(Error::Invalid(format!(
                "firm {i}: known exposures exceed its interbank assets or liabilities"
            )));
        }
        ra[i] = ra[i].max(0.0);
        rl[i] = rl[i].max(0.0);
    }
    Ok((ra, rl))
}

/// The fitted maximum-entropy matrix in factored form: `X[i][j] = u_i v_j` off the diagonal
/// and off the known entries, which keep their values. `O(n + k)` memory.
#[derive(Debug, Clone, PartialEq)]
pub struct MaxEntFit {
    /// Row factors.
    pub u: Vec<f64>,
    /// Column factors.
    pub v: Vec<f64>,
    /// Known entries, kept as given.
    pub known: Vec<Known>,
    /// RAS sweeps performed.
    pub iterations: usize,
    /// Whether both margins were matched to the tolerance.
    pub converged: bool,
    /// Largest absolute row-sum residual.
    pub row_residual: f64,
    /// Largest absolute column-sum residual.
    pub col_residual: f64,
}

impl MaxEntFit {
    /// Entry `(i, j)`: what `i` lent to `j`.
    pub fn entry(&self, i: usize, j: usize) -> f64 {
        if i == j {
            return 0.0;
        }
        let fixed: Vec<f64> = self
            .known
            .iter()
            .filter(|k| k.lender == i && k.borrower == j)
            .map(|k| k.amount)
            .collect();
        if fixed.is_empty() {
            self.u[i] * self.v[j]
        } else {
            fixed.iter().sum()
        }
    }

    /// Every positive entry as a link, row-major: `n(n − 1)` of them for a dense fit.
    pub fn materialise(&self) -> Reconstruction {
        let n = self.u.len();
        let mut known_at = std::collections::HashMap::new();
        for k in &self.known {
            *known_at.entry((k.lender, k.borrower)).or_insert(0.0) += k.amount;
        }
        let mut links = Vec::new();
        for i in 0..n {
            for j in 0..n {
                if i == j {
                    continue;
                }
                let x = known_at
                    .get(&(i, j))
                    .copied()
                    .unwrap_or(self.u[i] * self.v[j]);
                if x > 0.0 {
                    links.push((i, j, x));
                }
            }
        }
        Reconstruction {
            links,
            iterations: self.iterations,
            converged: self.converged,
            row_residual: self.row_residual,
            col_residual: self.col_residual,
        }
    }
}

/// Maximum-entropy reconstruction by RAS with a zero diagonal, materialised as links
/// (`n(n − 1)` of them). See [`max_entropy_fit`] for the factored form.
pub fn max_entropy(
    assets: &[f64],
    liabilities: &[f64],
    known: &[Known],
    tol: f64,
    max_iter: usize,
) -> Result<Reconstruction, Error> {
    Ok(max_entropy_fit(assets, liabilities, known, tol, max_iter)?.materialise())
}

/// Fits the maximum-entropy matrix by RAS with a zero diagonal. Stops when both margins are
/// matched to `tol` relative to the total, or after `max_iter` sweeps. `O((n + k) · sweeps)`
/// time and `O(n + k)` memory.
pub fn max_entropy_fit(
    assets: &[f64],
    liabilities: &[f64],
    known: &[Known],
    tol: f64,
    max_iter: usize,
) -> Result<MaxEntFit, Error> {
    let n = assets.len();
    let (ra, rl) = residual_margins(assets, liabilities, known)?;
    let total: f64 = ra.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    // Known cells are excluded from the free pattern: per row and column, the sum of the
    // other side's factor over excluded cells.
    let mut excl_row: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut excl_col: Vec<Vec<usize>> = vec![Vec::new(); n];
    for k in known {
        excl_row[k.lender].push(k.borrower);
        excl_col[k.borrower].push(k.lender);
    }
    let mut u: Vec<f64> = ra.clone();
    let mut v: Vec<f64> = rl.clone();
    let mut iterations = 0;
    let mut converged = false;
    let (mut row_res, mut col_res) = (f64::INFINITY, f64::INFINITY);
    let free_row =
        |v: &[f64], vs: f64, i: usize| vs - v[i] - excl_row[i].iter().map(|&j| v[j]).sum::<f64>();
    let free_col =
        |u: &[f64], us: f64, j: usize| us - u[j] - excl_col[j].iter().map(|&i| u[i]).sum::<f64>();
    while iterations < max_iter {
        iterations += 1;
        let vs: f64 = v.iter().sum();
        for i in 0..n {
            let free = free_row(&v, vs, i);
            u[i] = if ra[i] > 0.0 && free > 0.0 {
                ra[i] / free
            } else {
                0.0
            };
        }
        let us: f64 = u.iter().sum();
        for j in 0..n {
            let free = free_col(&u, us, j);
            v[j] = if rl[j] > 0.0 && free > 0.0 {
                rl[j] / free
            } else {
                0.0
            };
        }
        let vs: f64 = v.iter().sum();
        let us: f64 = u.iter().sum();
        row_res = (0..n)
            .map(|i| (u[i] * free_row(&v, vs, i) - ra[i]).abs())
            .fold(0.0, f64::max);
        col_res = (0..n)
            .map(|j| (v[j] * free_col(&u, us, j) - rl[j]).abs())
            .fold(0.0, f64::max);
        if row_res.max(col_res) <= tol * total {
            converged = true;
            break;
        }
    }
    Ok(MaxEntFit {
        u,
        v,
        known: known.to_vec(),
        iterations,
        converged,
        row_residual: row_res,
        col_residual: col_res,
    })
}

/// Minimum-density reconstruction: repeatedly links the lender with the largest remaining
/// assets to the borrower with the largest remaining liabilities (never itself), preferring
/// pairs whose remainders are equal (one link then closes both), and fills the smaller of the
/// two. Each link closes at least one margin, so there are at most `lenders + borrowers − 1`
/// links, the minimum for margins without coincident partial sums. `restarts` seeded
/// restarts break ties between near-equal candidates at random; the sparsest result is kept.
/// `O((restarts + 1) · n · links)`.
pub fn min_density(
    assets: &[f64],
    liabilities: &[f64],
    known: &[Known],
    seed: u64,
    restarts: usize,
) -> Result<Reconstruction, Error> {
    let (ra, rl) = residual_margins(assets, liabilities, known)?;
    let total: f64 = ra.iter().sum();
    let eps = 1e-12 * total.max(1.0);
    let mut best: Option<Vec<(usize, usize, f64)>> = None;
    let mut rng = crate::analysis::generate::Rng::new(seed);
    for attempt in 0..=restarts {
        let mut a = ra.clone();
        let mut l = rl.clone();
        let mut links: Vec<(usize, usize, f64)> = Vec::new();
        loop {
            // Candidates: the largest remaining asset holders and liability holders.
            let lender = pick_largest(&a, eps, attempt, &mut rng);
            let Some(i) = lender else { break };
            // An exact match (not the lender itself) closes two margins at once.
            let exact = (0..l.len()).find(|&j| j != i && l[j] > eps && (l[j] - a[i]).abs() <= eps);
            let j = match exact {
                Some(j) => j,
                None => {
                    let mut masked = l.clone();
                    masked[i] = 0.0;
                    match pick_largest(&masked, eps, attempt, &mut rng) {
                        Some(j) => j,
                        None => {
                            // Only firm i still borrows. Other lenders lend to it first; if i
                            // is the only lender too (its remainders are then equal, since
                            // totals agree), reroute part of a link p → q not touching i
                            // through it: p → i and i → q keep every margin.
                            let mut others = a.clone();
                            others[i] = 0.0;
                            if let Some(k) = pick_largest(&others, eps, 0, &mut rng) {
                                let x = a[k].min(l[i]);
                                links.push((k, i, x));
                                a[k] -= x;
                                l[i] -= x;
                                if a[k] <= eps {
                                    a[k] = 0.0;
                                }
                                if l[i] <= eps {
                                    l[i] = 0.0;
                                }
                            } else {
                                reroute(&mut links, i, a[i].min(l[i]), eps)?;
                                a[i] = 0.0;
                                l[i] = 0.0;
                            }
                            continue;
                        }
                    }
                }
            };
            let x = a[i].min(l[j]);
            links.push((i, j, x));
            a[i] -= x;
            l[j] -= x;
            if a[i] <= eps {
                a[i] = 0.0;
            }
            if l[j] <= eps {
                l[j] = 0.0;
            }
        }
        if best.as_ref().is_none_or(|b| links.len() < b.len()) {
            best = Some(links);
        }
    }
    let mut links = best.unwrap_or_default();
    for k in known {
        links.push((k.lender, k.borrower, k.amount));
    }
    // Merge duplicates (a known entry on a pair also chosen by the matching).
    links.sort_by_key(|&(i, j, _)| (i, j));
    let mut merged: Vec<(usize, usize, f64)> = Vec::with_capacity(links.len());
    for (i, j, x) in links {
        match merged.last_mut() {
            Some(last) if last.0 == i && last.1 == j => last.2 += x,
            _ => merged.push((i, j, x)),
        }
    }
    merged.retain(|l| l.2 > 0.0);
    let n = assets.len();
    let mut rows = vec![0.0; n];
    let mut cols = vec![0.0; n];
    for &(i, j, x) in &merged {
        rows[i] += x;
        cols[j] += x;
    }
    let row_residual = (0..n)
        .map(|i| (rows[i] - assets[i]).abs())
        .fold(0.0, f64::max);
    let col_residual = (0..n)
        .map(|j| (cols[j] - liabilities[j]).abs())
        .fold(0.0, f64::max);
    Ok(Reconstruction {
        links: merged,
        iterations: restarts + 1,
        converged: row_residual.max(col_residual) <= 1e-9 * total.max(1.0),
        row_residual,
        col_residual,
    })
}

/// Moves `amount` through firm `i` by splitting links `p → q` (with `p, q ≠ i`), largest
/// first, into `p → q`, `p → i` and `i → q`.
fn reroute(
    links: &mut Vec<(usize, usize, f64)>,
    i: usize,
    mut amount: f64,
    eps: f64,
) -> Result<(), Error> {
    while amount > eps {
        let Some(k) = (0..links.len())
            .filter(|&k| links[k].0 != i && links[k].1 != i && links[k].2 > eps)
            .max_by(|&x, &y| links[x].2.total_cmp(&links[y].2))
        else {
            return Err(Error::Invalid(format!(
                "firm {i} would have to lend to itself: the margins cannot be matched with a zero diagonal"
            )));
        };
        let (p, q, x) = links[k];
        let y = x.min(amount);
        links[k].2 -= y;
        links.push((p, i, y));
        links.push((i, q, y));
        amount -= y;
    }
    Ok(())
}

/// Index of the largest entry above `eps`; on later attempts, a random one among those within
/// 10% of the largest.
fn pick_largest(
    x: &[f64],
    eps: f64,
    attempt: usize,
    rng: &mut crate::analysis::generate::Rng,
) -> Option<usize> {
    let (imax, &max) = x
        .iter()
        .enumerate()
        .filter(|(_, v)| **v > eps)
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))?;
    if attempt == 0 {
        return Some(imax);
    }
    let near: Vec<usize> = (0..x.len())
        .filter(|&i| x[i] > eps && x[i] >= 0.9 * max)
        .collect();
    Some(near[rng.below(near.len() as u64) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unequal_totals_and_self_lending() {
        assert!(max_entropy(&[1.0, 2.0], &[2.0, 2.0], &[], 1e-12, 100).is_err());
        // Firm 0 lends 3 and borrows 2 of a total of 4: the others borrow only 2, so it would
        // have to lend 1 to itself (a_0 + l_0 = 5 > 4).
        assert!(max_entropy(&[3.0, 1.0], &[2.0, 2.0], &[], 1e-12, 100).is_err());
    }
}
