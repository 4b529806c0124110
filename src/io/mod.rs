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
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        Network::from_parts(csv_dir::load_dir(path, &|_| true)?)
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
        load_json_bytes(&file_name(path), &bytes)
    }
}

/// Parses a network JSON document held in memory; `file` names it in error messages.
pub fn load_json_bytes(file: &str, bytes: &[u8]) -> Result<Network, Error> {
    let (raw, text) = json::read_raw(file, bytes)?;
    let parts = raw::build(raw, &|_| true).map_err(|mut d| {
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
