//! Dense linear solves for the small systems of the exact solvers, and the M-matrix check that
//! tells when their fixed points are unique.

/// Solves `A x = b` in place by Gaussian elimination with partial pivoting. `a` is row-major
/// `n × n`. Returns `None` when `A` is singular (pivot below `1e-13` times the largest entry
/// of its column), leaving `a` and `b` in an unspecified state. `O(n³)` time, no allocation.
pub(crate) fn solve_dense(a: &mut [f64], b: &mut [f64], n: usize) -> Option<()> {
    debug_assert_eq!(a.len(), n * n);
    debug_assert_eq!(b.len(), n);
    let scale = a
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    for col in 0..n {
        let (piv, best) = (col..n)
            .map(|r| (r, a[r * n + col].abs()))
            .fold((col, -1.0), |acc, x| if x.1 > acc.1 { x } else { acc });
        if best <= 1e-13 * scale {
            return None;
        }
        if piv != col {
            for c in 0..n {
                a.swap(piv * n + c, col * n + c);
            }
            b.swap(piv, col);
        }
        let d = a[col * n + col];
        for r in col + 1..n {
            let f = a[r * n + col] / d;
            if f != 0.0 {
                for c in col..n {
                    a[r * n + c] -= f * a[col * n + c];
                }
                b[r] -= f * b[col];
            }
        }
    }
    for r in (0..n).rev() {
        let mut s = b[r];
        for c in r + 1..n {
            s -= a[r * n + c] * b[c];
        }
        b[r] = s / a[r * n + r];
    }
    Some(())
}

/// Whether `I − N` (given as `a`, row-major `n × n`, with `N ≥ 0`) is a nonsingular
/// M-matrix: `(I − N) y = 1` has a positive solution. Then `ρ(N) < 1`, so `x = c + N x` has
/// exactly one solution and iterating it converges there. Consumes `a`.
pub(crate) fn is_nonsingular_m_matrix(mut a: Vec<f64>, n: usize) -> bool {
    let mut ones = vec![1.0; n];
    solve_dense(&mut a, &mut ones, n).is_some() && ones.iter().all(|&y| y.is_finite() && y > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_and_detects_singular() {
        // 2x + y = 5, x + 3y = 10  →  x = 1, y = 3
        let mut a = vec![2.0, 1.0, 1.0, 3.0];
        let mut b = vec![5.0, 10.0];
        solve_dense(&mut a, &mut b, 2).unwrap();
        assert!((b[0] - 1.0).abs() < 1e-15 && (b[1] - 3.0).abs() < 1e-15);
        let mut a = vec![1.0, -1.0, -1.0, 1.0];
        let mut b = vec![0.0, 0.0];
        assert!(solve_dense(&mut a, &mut b, 2).is_none());
    }

    #[test]
    fn m_matrices_are_told_apart() {
        // N = [[0, ½], [½, 0]]: ρ = ½, y = (2, 2).
        assert!(is_nonsingular_m_matrix(vec![1.0, -0.5, -0.5, 1.0], 2));
        // N = [[0, 2], [2, 0]]: ρ = 2, y = (−1, −1).
        assert!(!is_nonsingular_m_matrix(vec![1.0, -2.0, -2.0, 1.0], 2));
        // N = [[0, 1], [1, 0]]: ρ = 1, singular.
        assert!(!is_nonsingular_m_matrix(vec![1.0, -1.0, -1.0, 1.0], 2));
    }
}
