//! Errors with locations: every problem in an input names the file, the line, the column and
//! what was expected.

use std::fmt;
use std::path::PathBuf;

/// Where a problem is: a file (or a logical table when the data came from memory), and as
/// much of line, column and field as is known. Lines and columns are 1-based; for CSV files
/// the column is the field's position in the record, for JSON the character column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// File name (or table name such as `firms`).
    pub file: String,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// Field (CSV column name or JSON path).
    pub field: Option<String>,
}

impl Location {
    /// A whole file.
    pub fn file(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            ..Default::default()
        }
    }

    /// A position in a file.
    pub fn at(file: impl Into<String>, line: usize, column: Option<usize>) -> Self {
        Self {
            file: file.into(),
            line: Some(line),
            column,
            field: None,
        }
    }

    /// Item `index` of an in-memory table (no file).
    pub fn item(table: &str, index: usize) -> Self {
        Self {
            file: format!("{table}[{index}]"),
            ..Default::default()
        }
    }

    /// The same location, naming a field.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(col) = self.column {
            write!(f, ", column {col}")?;
        }
        if let Some(field) = &self.field {
            write!(f, " ({field})")?;
        }
        Ok(())
    }
}

/// One problem found in an input: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the problem is.
    pub location: Location,
    /// What was expected and what was found.
    pub message: String,
}

impl Diagnostic {
    /// A problem at `location`.
    pub fn new(location: Location, message: impl Into<String>) -> Self {
        Self {
            location,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Every problem found in one pass over an input, in the order found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Number of problems.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there is no problem.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }
}

impl From<Vec<Diagnostic>> for Diagnostics {
    fn from(v: Vec<Diagnostic>) -> Self {
        Self(v)
    }
}

/// How many problems are spelled out in an error message; the rest are counted.
pub const MAX_SHOWN: usize = 50;

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} problem{} found in the input",
            if n == 1 { "" } else { "s" }
        )?;
        for d in self.0.iter().take(MAX_SHOWN) {
            write!(f, "\n  {d}")?;
        }
        if n > MAX_SHOWN {
            write!(f, "\n  … and {} more", n - MAX_SHOWN)?;
        }
        Ok(())
    }
}

/// Errors of the library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input (network, scenario, marginals) is malformed: every problem found, located.
    #[error("{0}")]
    Input(Diagnostics),
    /// A setting or argument is invalid (message names the setting and the accepted values).
    #[error("{0}")]
    Invalid(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The computation could not run to the end (a worker failed, a connection between
    /// processes could not be made).
    #[error("{0}")]
    Failed(String),
}

impl Error {
    /// A single located input problem.
    pub fn input(location: Location, message: impl Into<String>) -> Self {
        Error::Input(vec![Diagnostic::new(location, message)].into())
    }

    /// True for errors caused by bad input or usage (exit code 2), false for runtime
    /// failures (exit code 1).
    pub fn is_bad_input(&self) -> bool {
        match self {
            Error::Input(_) | Error::Invalid(_) => true,
            Error::Failed(_) => false,
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidData
            ),
        }
    }
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
