//! Compressed sparse rows: the engines' hot-loop representation.

use rayon::prelude::*;

/// A sparse matrix in compressed-sparse-row form: row `r` holds the entries
/// `(indices[k], values[k])` for `k` in `offsets[r]..offsets[r + 1]`.
///
/// Built in `O(rows + entries)` by a counting sort; entries of a row keep their input order,
/// so every row-wise sum runs in a fixed order and the result never depends on thread count.
/// Memory: 12 bytes per entry plus 8 per row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Csr {
    offsets: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f64>,
}

impl Csr {
    /// Builds a matrix with `rows` rows from `(row, column, value)` triplets. Duplicate
    /// `(row, column)` pairs are kept as separate entries (sums over a row add them up).
    ///
    /// # Panics
    /// If a row index is `>= rows` (a programming error, never user input).
    pub fn from_triplets(rows: usize, triplets: &[(u32, u32, f64)]) -> Self {
        let mut offsets = vec![0usize; rows + 1];
        for &(r, _, _) in triplets {
            offsets[r as usize + 1] += 1;
        }
        for r in 0..rows {
            offsets[r + 1] += offsets[r];
        }
        let mut fill = offsets.clone();
        let mut indices = vec![0u32; triplets.len()];
        let mut values = vec![0f64; triplets.len()];
        for &(r, c, v) in triplets {
            let at = fill[r as usize];
            indices[at] = c;
            values[at] = v;
            fill[r as usize] += 1;
        }
        Self {
            offsets,
            indices,
            values,
        }
    }

    /// Like [`Csr::from_triplets`], but duplicate `(row, column)` pairs are summed into one
    /// entry (at the position of the pair's first occurrence; sums in input order). `cols`
    /// bounds the column indices. `O(rows + cols + entries)`, no sorting.
    ///
    /// # Panics
    /// If a row index is `>= rows` or a column index `>= cols` (programming errors).
    pub fn from_triplets_summed(rows: usize, cols: usize, triplets: &[(u32, u32, f64)]) -> Self {
        Self::summed_from(rows, cols, triplets.len(), |k| Some(triplets[k]))
    }

    /// [`Csr::from_triplets_summed`] over the entries `entry(0..len)` that are `Some`,
    /// without collecting them first (`entry` is called twice per index).
    pub fn summed_from(
        rows: usize,
        cols: usize,
        len: usize,
        entry: impl Fn(usize) -> Option<(u32, u32, f64)>,
    ) -> Self {
        let mut offsets = vec![0usize; rows + 1];
        for k in 0..len {
            if let Some((r, _, _)) = entry(k) {
                offsets[r as usize + 1] += 1;
            }
        }
        for r in 0..rows {
            offsets[r + 1] += offsets[r];
        }
        let total = offsets[rows];
        let mut fill = offsets.clone();
        let mut indices = vec![0u32; total];
        let mut values = vec![0f64; total];
        for k in 0..len {
            if let Some((r, c, v)) = entry(k) {
                let at = fill[r as usize];
                indices[at] = c;
                values[at] = v;
                fill[r as usize] += 1;
            }
        }
        // Merge duplicates in place, row by row. `slot[c]` = position + 1 of column c's entry
        // in the merged output (only meaningful when it falls in the current row).
        let mut slot = vec![0usize; cols];
        let mut out = 0usize;
        let mut start = 0usize;
        for r in 0..rows {
            let end = offsets[r + 1];
            let row_start = out;
            for k in start..end {
                let (c, v) = (indices[k], values[k]);
                let at = slot[c as usize];
                if at > row_start {
                    values[at - 1] += v;
                } else {
                    indices[out] = c;
                    values[out] = v;
                    out += 1;
                    slot[c as usize] = out;
                }
            }
            start = end;
            offsets[r + 1] = out;
        }
        indices.truncate(out);
        values.truncate(out);
        Self {
            offsets,
            indices,
            values,
        }
    }

    /// The transpose, with `cols` rows: row `c` lists `(r, value)` for every entry `(r, c)`,
    /// in increasing `r`. `O(rows + cols + entries)`.
    pub fn transpose(&self, cols: usize) -> Self {
        let mut offsets = vec![0usize; cols + 1];
        for &c in &self.indices {
            offsets[c as usize + 1] += 1;
        }
        for c in 0..cols {
            offsets[c + 1] += offsets[c];
        }
        let mut fill = offsets.clone();
        let mut indices = vec![0u32; self.nnz()];
        let mut values = vec![0f64; self.nnz()];
        for r in 0..self.rows() {
            let (idx, val) = self.row(r);
            for (&c, &v) in idx.iter().zip(val) {
                let at = fill[c as usize];
                indices[at] = r as u32;
                values[at] = v;
                fill[c as usize] += 1;
            }
        }
        Self {
            offsets,
            indices,
            values,
        }
    }

    /// A matrix with the same rows whose entries are `f(row, column, value)`; entries for
    /// which `f` returns `None` are dropped. Order within rows is kept.
    pub fn filter_map(&self, mut f: impl FnMut(usize, u32, f64) -> Option<f64>) -> Self {
        let mut offsets = Vec::with_capacity(self.offsets.len());
        let mut indices = Vec::with_capacity(self.nnz());
        let mut values = Vec::with_capacity(self.nnz());
        offsets.push(0);
        for r in 0..self.rows() {
            let (idx, val) = self.row(r);
            for (&c, &v) in idx.iter().zip(val) {
                if let Some(x) = f(r, c, v) {
                    indices.push(c);
                    values.push(x);
                }
            }
            offsets.push(indices.len());
        }
        Self {
            offsets,
            indices,
            values,
        }
    }

    /// Sorts the entries of every row by column index (rows with repeated columns keep those
    /// entries in their current relative order). Sums over a sorted row then run in column
    /// order, the order in which a pass over the columns in increasing index reaches them.
    /// `O(entries)` when the rows are already sorted; rows are sorted in parallel blocks.
    pub fn sort_rows(&mut self) {
        const BLOCK: usize = 1 << 14;
        let offsets = &self.offsets;
        let rows = self.rows();
        let (mut idx, mut val) = (&mut self.indices[..], &mut self.values[..]);
        let mut blocks = Vec::new();
        let mut r = 0;
        while r < rows {
            let first = r;
            while r < rows && offsets[r + 1] - offsets[first] <= BLOCK {
                r += 1;
            }
            r = r.max(first + 1);
            let len = offsets[r] - offsets[first];
            let (i, i_rest) = std::mem::take(&mut idx).split_at_mut(len);
            let (v, v_rest) = std::mem::take(&mut val).split_at_mut(len);
            (idx, val) = (i_rest, v_rest);
            blocks.push((first..r, i, v));
        }
        blocks.into_par_iter().for_each(|(block, idx, val)| {
            let base = offsets[block.start];
            let mut scratch: Vec<(u32, f64)> = Vec::new();
            for r in block {
                let span = offsets[r] - base..offsets[r + 1] - base;
                sort_row(&mut idx[span.clone()], &mut val[span], &mut scratch);
            }
        });
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Where each row starts in [`Csr::indices`]: row `r` is `offsets()[r]..offsets()[r + 1]`
    /// (`rows() + 1` entries).
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// Column index of every stored entry, row after row.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Column indices and values of row `r`.
    #[inline]
    pub fn row(&self, r: usize) -> (&[u32], &[f64]) {
        let span = self.offsets[r]..self.offsets[r + 1];
        (&self.indices[span.clone()], &self.values[span])
    }

    /// `Σ_k values[k] · x[indices[k]]` over row `r`.
    #[inline(always)]
    pub fn row_dot(&self, r: usize, x: &[f64]) -> f64 {
        let (idx, val) = self.row(r);
        idx.iter().zip(val).map(|(&c, &v)| v * x[c as usize]).sum()
    }
}

/// Sorts one row's entries by column, stably: in place by insertion when short, through
/// `scratch` when long.
fn sort_row(idx: &mut [u32], val: &mut [f64], scratch: &mut Vec<(u32, f64)>) {
    if idx.is_sorted() {
        return;
    }
    if idx.len() <= 32 {
        for k in 1..idx.len() {
            let (c, v) = (idx[k], val[k]);
            let mut at = k;
            while at > 0 && idx[at - 1] > c {
                idx[at] = idx[at - 1];
                val[at] = val[at - 1];
                at -= 1;
            }
            idx[at] = c;
            val[at] = v;
        }
        return;
    }
    scratch.clear();
    scratch.extend(idx.iter().copied().zip(val.iter().copied()));
    scratch.sort_by_key(|&(c, _)| c);
    for (k, &(c, v)) in scratch.iter().enumerate() {
        idx[k] = c;
        val[k] = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_sort_keeps_rows_and_order() {
        let m = Csr::from_triplets(3, &[(2, 0, 1.0), (0, 1, 2.0), (2, 1, 3.0), (0, 2, 4.0)]);
        assert_eq!(m.rows(), 3);
        assert_eq!(m.nnz(), 4);
        assert_eq!(m.row(0), (&[1u32, 2][..], &[2.0, 4.0][..]));
        assert_eq!(m.row(1), (&[][..], &[][..]));
        assert_eq!(m.row(2), (&[0u32, 1][..], &[1.0, 3.0][..]));
        assert_eq!(m.row_dot(2, &[10.0, 100.0, 0.0]), 310.0);
    }

    #[test]
    fn sorting_rows_orders_columns_and_keeps_values_with_them() {
        let mut m = Csr::from_triplets(
            3,
            &[
                (0, 4, 1.0),
                (0, 1, 2.0),
                (2, 3, 3.0),
                (0, 2, 4.0),
                (0, 1, 5.0),
            ],
        );
        m.sort_rows();
        assert_eq!(m.row(0), (&[1u32, 1, 2, 4][..], &[2.0, 5.0, 4.0, 1.0][..]));
        assert_eq!(m.row(1), (&[][..], &[][..]));
        assert_eq!(m.row(2), (&[3u32][..], &[3.0][..]));
        // A long row (sorted another way) with a repeated column.
        let mut t: Vec<(u32, u32, f64)> = (0..40).map(|c| (1, 39 - c, f64::from(c))).collect();
        t.push((1, 7, -1.0));
        let mut m = Csr::from_triplets(2, &t);
        m.sort_rows();
        let (idx, val) = m.row(1);
        assert!(idx.is_sorted() && idx.len() == 41);
        assert_eq!((idx[7], val[7]), (7, 32.0));
        assert_eq!((idx[8], val[8]), (7, -1.0));
        assert_eq!((idx[40], val[40]), (39, 0.0));
    }

    #[test]
    fn summing_duplicates_keeps_first_position() {
        let m = Csr::from_triplets_summed(
            2,
            3,
            &[
                (0, 2, 1.0),
                (1, 2, 5.0),
                (0, 1, 2.0),
                (0, 2, 4.0),
                (1, 0, 1.0),
            ],
        );
        assert_eq!(m.row(0), (&[2u32, 1][..], &[5.0, 2.0][..]));
        assert_eq!(m.row(1), (&[2u32, 0][..], &[5.0, 1.0][..]));
        let t = m.transpose(3);
        assert_eq!(t.row(0), (&[1u32][..], &[1.0][..]));
        assert_eq!(t.row(1), (&[0u32][..], &[2.0][..]));
        assert_eq!(t.row(2), (&[0u32, 1][..], &[5.0, 5.0][..]));
        let f = m.filter_map(|r, c, v| (c != 1).then_some(v * r as f64));
        assert_eq!(f.row(0), (&[2u32][..], &[0.0][..]));
        assert_eq!(f.row(1), (&[2u32, 0][..], &[5.0, 1.0][..]));
    }
}
