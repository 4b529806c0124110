//! Reading and writing networks: a directory of CSV files or one JSON document.
//!
//! Both formats carry the same content and round-trip. Readers report every problem they
//! can find in one pass, each with file, line, column and what was expected
//! ([`crate::error::Diagnostic`]); no input, however malformed, panics.

mod csv_dir;
mod json;
pub(crate) mod raw;

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::model::Network;

pub use csv_dir::to_files as to_csv_files;
pub use json::to_value as to_json_value;
pub(crate) use json::{locate as locate_json, parse_value as parse_json};

/// Loads a network from a CSV directory or a `.json` document.
pub fn load(path: &Path) -> Result<Network, Error> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        let raw = csv_dir::read_raw(path)?;
        let parts = raw::build(raw).map_err(|d| Error::Input(d.into()))?;
        Network::from_parts(parts)
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
    let parts = raw::build(raw).map_err(|mut d| {
        json::locate(&text, &mut d);
        Error::Input(d.into())
    })?;
    Network::from_parts(parts)
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
