//! Reading and writing networks: a directory of CSV files or one JSON document.
//!
//! Both formats carry the same content and round-trip. Readers report every problem they
//! can find in one pass, each with file, line, column and what was expected
//! ([`crate::error::Diagnostic`]); no input, however malformed, panics.

mod csv_dir;
mod json;
pub mod overlay;
pub(crate) mod raw;

use std::path::{Path, PathBuf};

use crate::error::{Error, Location};
use crate::model::Network;

pub use csv_dir::to_files as to_csv_files;
pub use json::locate as locate_json;
pub(crate) use json::parse_value as parse_json;
pub use json::to_value as to_json_value;
pub use overlay::{Overlay, parse_overlay, read_overlay};
pub use raw::import::{Imported, Orientation, Shape, import};
pub use raw::marginals::Marginals;

/// Loads a network from a CSV directory or a `.json` document.
pub fn load(path: &Path) -> Result<Network, Error> {
    load_partition(path, &|_, _| true)
}

/// Loads the part of a network one process of a distributed run needs: every firm, asset and
/// holding, and only the exposures for which `keep_debtor(debtor index, number of firms)`
/// holds (firms are read before exposures, so the number is known). Every row of every file
/// is still validated, so errors are reported exactly as by [`load`].
///
/// A CSV directory is read row by row and the exposures left out are never held, so memory
/// falls with the share kept; a JSON document is read whole.
pub fn load_partition(
    path: &Path,
    keep_debtor: &dyn Fn(u32, usize) -> bool,
) -> Result<Network, Error> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        Network::from_parts(csv_dir::load_dir(path, keep_debtor)?)
    } else if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        Err(Error::input(
            Location::file(file_name(path)),
            "expected a network: a directory holding firms.csv and exposures.csv, or a .json \
             document (give the directory, not one of its files)",
        ))
    } else {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        load_json_partition(&file_name(path), &bytes, keep_debtor)
    }
}

/// Parses a network JSON document held in memory; `file` names it in error messages.
pub fn load_json_bytes(file: &str, bytes: &[u8]) -> Result<Network, Error> {
    load_json_partition(file, bytes, &|_, _| true)
}

fn load_json_partition(
    file: &str,
    bytes: &[u8],
    keep_debtor: &dyn Fn(u32, usize) -> bool,
) -> Result<Network, Error> {
    let (raw, text) = json::read_raw(file, bytes)?;
    let parts = raw::build(raw, keep_debtor).map_err(|mut d| {
        json::locate(&text, &mut d);
        Error::Input(d.into())
    })?;
    Network::from_parts(parts)
}

/// The name used for a file in messages and metadata: its file name, without directories.
pub fn display_name(path: &Path) -> String {
    file_name(path)
}

/// The name used for a file in messages: its file name, without the directories.
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Saves a network: as one JSON document when `path` ends in `.json`, else as a CSV directory
/// (created if needed). Every file is written atomically.
pub fn save(net: &Network, path: &Path) -> Result<(), Error> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        let mut bytes = serde_json::to_vec_pretty(&json::to_value(net))
            .map_err(|e| Error::Invalid(format!("writing JSON: {e}")))?;
        bytes.push(b'\n');
        write_atomic(path, &bytes)
    } else {
        std::fs::create_dir_all(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        for (name, bytes) in csv_dir::to_files(net)? {
            write_atomic(&path.join(name), &bytes)?;
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` atomically: to a temporary file in the same directory, then a
/// rename, so a reader never sees a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(".{}.tmp-{}", file_name(path), std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// Reads a CSV file as a table of `schema`, all problems located.
fn read_csv_table(path: &Path, schema: &raw::Schema) -> Result<raw::RawTable, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut diags = Vec::new();
    let table = csv_dir::parse_table(&file_name(path), &bytes, schema, &mut diags);
    if diags.is_empty() {
        Ok(table)
    } else {
        Err(Error::Input(diags.into()))
    }
}

/// Reads a marginals table: `id,interbank_assets,interbank_liabilities` and optional
/// `name,kind,cash,other_assets,external_liabilities,capital` columns. Interbank assets are
/// what a firm lent to others in the network, liabilities what it borrowed.
pub fn load_marginals(path: &Path) -> Result<Marginals, Error> {
    let table = read_csv_table(path, &raw::marginals::MARGINALS)?;
    raw::marginals::build_marginals(&table).map_err(|d| Error::Input(d.into()))
}

/// Reads known bilateral exposures `lender,borrower,amount` (firm ids from `marginals`) as
/// `(lender index, borrower index, amount)`.
pub fn load_known(path: &Path, marginals: &Marginals) -> Result<Vec<(usize, usize, f64)>, Error> {
    let table = read_csv_table(path, &raw::marginals::KNOWN)?;
    raw::marginals::build_known(&table, &marginals.firms).map_err(|d| Error::Input(d.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRMS: &str = "id,name,kind,cash,other_assets,external_liabilities\n\
                         A,Bank A,bank,4,10,3\n\
                         B,Bank B,bank,1,5,2\n\
                         C,Fund C,fund,1,0,0\n\
                         D,Exchange D,exchange,2,1,0\n";
    const ASSETS: &str = "id,name,price\nFTT,FTX Token,2\n";
    const EXPOSURES: &str = "creditor,debtor,kind,amount,collateral_asset,collateral_units,haircut,id\n\
         B,A,loan,10,FTT,3,0.1,e1\n\
         C,B,loan,5,,,,e2\n\
         A,C,deposit,2,FTT,1,0,\n\
         D,B,bond,4,FTT,2,0.5,e4\n\
         B,C,loan,1,,,,e5\n\
         C,D,loan,3,,,,\n";
    const HOLDINGS: &str = "firm,asset,units\nA,FTT,10\nD,FTT,1\n";

    fn network_dir(exposures: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temporary directory");
        for (name, text) in [
            ("firms.csv", FIRMS),
            ("assets.csv", ASSETS),
            ("exposures.csv", exposures),
            ("holdings.csv", HOLDINGS),
        ] {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        dir
    }

    /// `part` holds every firm, asset and holding of `full`, and exactly its exposures of
    /// even debtors, in order, with their collateral and labels.
    fn is_even_part(part: &Network, full: &Network) {
        assert_eq!(part.firms(), full.firms());
        assert_eq!(part.assets(), full.assets());
        assert_eq!(part.holdings(), full.holdings());
        assert_eq!(part.meta(), full.meta());
        let kept: Vec<usize> = (0..full.exposures().len())
            .filter(|&k| full.exposures()[k].debtor.is_multiple_of(2))
            .collect();
        assert!(!kept.is_empty() && kept.len() < full.exposures().len());
        assert_eq!(part.exposures().len(), kept.len());
        for (j, &k) in kept.iter().enumerate() {
            assert_eq!(part.exposures()[j], full.exposures()[k]);
            assert_eq!(part.label(j), full.label(k));
            let strip =
                |c: Option<&crate::model::Collateral>| c.map(|c| (c.asset, c.units, c.haircut));
            assert_eq!(strip(part.collateral_of(j)), strip(full.collateral_of(k)));
            if let Some(c) = part.collateral_of(j) {
                assert_eq!(c.exposure as usize, j);
            }
        }
        assert_eq!(
            part.collateral().len(),
            kept.iter()
                .filter(|&&k| full.collateral_of(k).is_some())
                .count()
        );
    }

    #[test]
    fn partition_keeps_every_firm_and_the_exposures_of_chosen_debtors() {
        let dir = network_dir(EXPOSURES);
        let full = load(dir.path()).expect("valid network");
        assert_eq!(full.exposures().len(), 6);
        let part = load_partition(dir.path(), &|d, _| d % 2 == 0).expect("valid network");
        is_even_part(&part, &full);

        let json = dir.path().join("net.json");
        save(&full, &json).expect("save JSON");
        let full_json = load(&json).expect("valid document");
        let part_json = load_partition(&json, &|d, _| d % 2 == 0).expect("valid document");
        is_even_part(&part_json, &full_json);
    }

    #[test]
    fn partition_reports_problems_of_exposures_it_leaves_out() {
        // Exposures 2 and 5 have odd debtors (B, D): left out, yet still checked.
        let bad = EXPOSURES
            .replace("C,B,loan,5,", "C,B,loan,-5,")
            .replace("C,D,loan,3,", "C,Z,loan,3,");
        let dir = network_dir(&bad);
        let full = load(dir.path()).expect_err("invalid network").to_string();
        let part = load_partition(dir.path(), &|d, _| d % 2 == 0)
            .expect_err("invalid network")
            .to_string();
        assert_eq!(part, full);
        assert!(
            full.contains("exposures.csv, line 3, column 4 (amount)"),
            "{full}"
        );
        assert!(
            full.contains("exposures.csv, line 7, column 2 (debtor)"),
            "{full}"
        );
    }
}
