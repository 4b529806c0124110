//! Network reconstruction from marginals. Expected values are derived by hand or by a
//! second, naive implementation written here (dense RAS), never from the code's output.

use contagion::analysis::reconstruct::{Known, max_entropy, min_density};
use proptest::prelude::*;

use crate::util::close;

fn margins(links: &[(usize, usize, f64)], n: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut r, mut c) = (vec![0.0; n], vec![0.0; n]);
    for &(i, j, x) in links {
        r[i] += x;
        c[j] += x;
    }
    (r, c)
}

/// Three identical firms each lending and borrowing 1: by symmetry every off-diagonal entry
/// of the maximum-entropy matrix is equal, and a row of two entries sums to 1, so each is ½.
#[test]
fn maxent_symmetric_three() {
    let r = max_entropy(&[1.0; 3], &[1.0; 3], &[], 1e-12, 10_000).unwrap();
    assert!(r.converged);
    assert_eq!(r.links.len(), 6);
    for &(i, j, x) in &r.links {
        assert_ne!(i, j);
        close("entry", x, 0.5, 1e-12);
    }
}

/// Dense RAS, written plainly: scale rows, then columns, of the prior a_i l_j (zero diagonal,
/// known cells fixed) until the margins match.
fn dense_ras(a: &[f64], l: &[f64], known: &[Known]) -> Vec<Vec<f64>> {
    let n = a.len();
    let mut fixed = vec![vec![None; n]; n];
    for k in known {
        fixed[k.lender][k.borrower] = Some(k.amount);
    }
    let mut x: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    if i == j {
                        0.0
                    } else {
                        fixed[i][j].unwrap_or(a[i] * l[j])
                    }
                })
                .collect()
        })
        .collect();
    for _ in 0..200_000 {
        for i in 0..n {
            let free: f64 = (0..n)
                .filter(|&j| fixed[i][j].is_none())
                .map(|j| x[i][j])
                .sum();
            let fix: f64 = (0..n).filter_map(|j| fixed[i][j]).sum();
            if free > 0.0 {
                let f = (a[i] - fix) / free;
                (0..n)
                    .filter(|&j| fixed[i][j].is_none())
                    .for_each(|j| x[i][j] *= f);
            }
        }
        let mut worst = 0.0f64;
        for j in 0..n {
            let free: f64 = (0..n)
                .filter(|&i| fixed[i][j].is_none())
                .map(|i| x[i][j])
                .sum();
            let fix: f64 = (0..n).filter_map(|i| fixed[i][j]).sum();
            if free > 0.0 {
                let f = (l[j] - fix) / free;
                (0..n)
                    .filter(|&i| fixed[i][j].is_none())
                    .for_each(|i| x[i][j] *= f);
            }
        }
        for i in 0..n {
            worst = worst.max((x[i].iter().sum::<f64>() - a[i]).abs());
        }
        if worst < 1e-13 {
            break;
        }
    }
    x
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Margins matched to 1e-9, zero diagonal, known entries kept, and the same matrix as a
    /// plain dense RAS.
    #[test]
    fn maxent_matches_dense_ras(raw in prop::collection::vec((0.1f64..10.0, 0.1f64..10.0), 3..9), fix in 0.05f64..0.5) {
        let n = raw.len();
        let a: Vec<f64> = raw.iter().map(|r| r.0).collect();
        let mut l: Vec<f64> = raw.iter().map(|r| r.1).collect();
        // Equal totals: rescale liabilities.
        let (ta, tl): (f64, f64) = (a.iter().sum(), l.iter().sum());
        l.iter_mut().for_each(|x| *x *= ta / tl);
        // Margins near infeasibility (a firm lending and borrowing almost the whole total)
        // make RAS converge arbitrarily slowly; sample away from that boundary.
        prop_assume!((0..n).all(|i| a[i] + l[i] < 0.7 * ta));
        // A known entry near the unconstrained solution's value keeps the problem feasible
        // (fixing a cell removes it from the free pattern; an arbitrary value may not fit).
        let free = max_entropy(&a, &l, &[], 1e-12, 100_000).unwrap();
        let x01 = free.links.iter().find(|&&(i, j, _)| i == 0 && j == 1).map_or(0.0, |x| x.2);
        let known = vec![Known { lender: 0, borrower: 1, amount: x01 * (1.0 + 0.2 * (fix - 0.25)) }];
        let r = max_entropy(&a, &l, &known, 1e-12, 100_000).unwrap();
        prop_assert!(r.converged);
        let (rows, cols) = margins(&r.links, n);
        for i in 0..n {
            prop_assert!((rows[i] - a[i]).abs() <= 1e-9 * ta);
            prop_assert!((cols[i] - l[i]).abs() <= 1e-9 * ta);
        }
        prop_assert!(r.links.iter().all(|&(i, j, _)| i != j));
        let k = r.links.iter().find(|&&(i, j, _)| i == 0 && j == 1).map_or(0.0, |x| x.2);
        prop_assert!((k - known[0].amount).abs() <= 1e-12 * ta.max(1.0));
        let dense = dense_ras(&a, &l, &known);
        for &(i, j, x) in &r.links {
            prop_assert!((x - dense[i][j]).abs() <= 1e-8 * ta, "({i},{j}): {x} vs {}", dense[i][j]);
        }
    }

    /// Minimum density: margins exact, zero diagonal, and at most lenders + borrowers − 1
    /// links (each link closes a margin; two close at the last one).
    #[test]
    fn min_density_is_sparse_and_exact(raw in prop::collection::vec((0.0f64..10.0, 0.0f64..10.0), 3..12), seed in 0u64..1000) {
        let n = raw.len();
        let a: Vec<f64> = raw.iter().map(|r| r.0).collect();
        let mut l: Vec<f64> = raw.iter().map(|r| r.1).collect();
        let (ta, tl): (f64, f64) = (a.iter().sum(), l.iter().sum());
        prop_assume!(ta > 1.0 && tl > 1.0);
        l.iter_mut().for_each(|x| *x *= ta / tl);
        prop_assume!((0..n).all(|i| a[i] + l[i] <= ta));
        let r = min_density(&a, &l, &[], seed, 4).unwrap();
        let (rows, cols) = margins(&r.links, n);
        for i in 0..n {
            prop_assert!((rows[i] - a[i]).abs() <= 1e-9 * ta);
            prop_assert!((cols[i] - l[i]).abs() <= 1e-9 * ta);
        }
        prop_assert!(r.links.iter().all(|&(i, j, x)| i != j && x > 0.0));
        let lenders = a.iter().filter(|&&x| x > 0.0).count();
        let borrowers = l.iter().filter(|&&x| x > 0.0).count();
        // The zero-diagonal repair may add links; the bound holds with two per repaired firm.
        prop_assert!(r.links.len() <= lenders + borrowers - 1 + 2 * n, "{} links", r.links.len());
    }
}

/// One lender, two borrowers: the only matrix is 0 → 1: 1, 0 → 2: 2 — two links.
#[test]
fn min_density_one_lender() {
    let r = min_density(&[3.0, 0.0, 0.0], &[0.0, 1.0, 2.0], &[], 1, 0).unwrap();
    assert_eq!(r.links, vec![(0, 1, 1.0), (0, 2, 2.0)]);
}

/// Equal remainders pair up: a = (5, 3, 0, 0), l = (0, 0, 3, 5). Matching 0 → 3 (5) and
/// 1 → 2 (3) closes both margins of each pair: 2 links, below lenders + borrowers − 1 = 3.
#[test]
fn min_density_pairs_equal_margins() {
    let r = min_density(&[5.0, 3.0, 0.0, 0.0], &[0.0, 0.0, 3.0, 5.0], &[], 7, 3).unwrap();
    assert_eq!(r.links, vec![(0, 3, 5.0), (1, 2, 3.0)]);
}

/// The zero diagonal forces a detour: a = (2, 1, 0), l = (0, 1, 2). Firm 1 lends 1 and
/// borrows 1; it can lend only to firm 2 (firm 0 borrows nothing), so 1 → 2: 1; firm 2 then
/// needs 1 more, from 0; firm 0's other 1 goes to firm 1: 0 → 1: 1, 0 → 2: 1, 1 → 2: 1.
/// That matrix is the only one, so it has the minimum number of links, 3.
#[test]
fn min_density_zero_diagonal_detour() {
    let r = min_density(&[2.0, 1.0, 0.0], &[0.0, 1.0, 2.0], &[], 3, 0).unwrap();
    let mut links = r.links.clone();
    links
        .iter_mut()
        .for_each(|l| l.2 = (l.2 * 1e9).round() / 1e9);
    assert_eq!(links, vec![(0, 1, 1.0), (0, 2, 1.0), (1, 2, 1.0)]);
    assert!(r.converged);
}

/// Unequal totals and a firm that would have to lend to itself are refused with a reason.
#[test]
fn infeasible_margins_are_refused() {
    let e = max_entropy(&[1.0, 1.0], &[1.0, 2.0], &[], 1e-12, 10)
        .unwrap_err()
        .to_string();
    assert!(e.contains("differ"), "{e}");
    let e = min_density(&[4.0, 0.0], &[1.0, 3.0], &[], 1, 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("itself"), "{e}");
}
