//! A network as a directory of CSV files: reading and writing.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::raw::{
    ASSETS, Builder, EXPOSURES, FIRMS, HOLDINGS, Locator, RawField, RawRecord, RawTable, RawValue,
    Record, Schema, TableInfo, ValueRef, format_number,
};
use crate::error::{Diagnostic, Error, Location};
use crate::model::{Extras, Meta, Network, Parts};

/// Checks the encoding of a whole file: strips a UTF-8 byte-order mark, rejects UTF-16 and
/// invalid UTF-8 with the line where the first bad byte is.
pub(crate) fn check_text<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, Diagnostic> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(utf16(file));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = good.len() - good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
        invalid_utf8(file, line, column)
    })
}

fn utf16(file: &str) -> Diagnostic {
    Diagnostic::new(
        Location::at(file, 1, Some(1)),
        "the file is UTF-16 encoded: expected UTF-8 (re-save it as UTF-8)",
    )
}

fn invalid_utf8(file: &str, line: usize, column: usize) -> Diagnostic {
    Diagnostic::new(
        Location::at(file, line, Some(column)),
        "invalid UTF-8 byte: expected UTF-8 text (re-save the file as UTF-8)",
    )
}

/// What is wrong with the encoding of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf16,
    /// First bad byte: 1-based line, and column counted in bytes.
    Invalid {
        line: usize,
        column: usize,
    },
}

/// A reader that passes on only valid UTF-8, as [`check_text`] would accept it, without holding
/// the whole file: it strips a UTF-8 byte-order mark, and stops with an error at a UTF-16 mark
/// or at the first invalid byte, remembering where that byte is. It also tells whether the text
/// was only white space.
struct Utf8Input<R> {
    inner: R,
    buf: Vec<u8>,
    /// Next byte to hand out.
    start: usize,
    /// End of the checked bytes; `checked..end` is the start of a character cut by a read.
    checked: usize,
    end: usize,
    eof: bool,
    started: bool,
    /// Newlines before `checked`, and bytes since the last of them.
    lines: usize,
    column: usize,
    blank: bool,
    problem: Option<Encoding>,
}

impl<R: Read> Utf8Input<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0; 1 << 16],
            start: 0,
            checked: 0,
            end: 0,
            eof: false,
            started: false,
            lines: 0,
            column: 0,
            blank: true,
            problem: None,
        }
    }

    /// The encoding problem that stopped the input, as a diagnostic for `file`.
    fn problem(&self, file: &str) -> Option<Diagnostic> {
        self.problem.map(|p| match p {
            Encoding::Utf16 => utf16(file),
            Encoding::Invalid { line, column } => invalid_utf8(file, line, column),
        })
    }

    fn read_more(&mut self) -> std::io::Result<()> {
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            return Ok(());
        }
    }

    /// Marks `n` more bytes as checked.
    fn advance(&mut self, n: usize) {
        let bytes = &self.buf[self.checked..self.checked + n];
        match bytes.iter().rposition(|&b| b == b'\n') {
            Some(p) => {
                self.lines += bytes.iter().filter(|&&b| b == b'\n').count();
                self.column = n - p - 1;
            }
            None => self.column += n,
        }
        if self.blank {
            self.blank =
                std::str::from_utf8(bytes).is_ok_and(|s| s.chars().all(char::is_whitespace));
        }
        self.checked += n;
    }

    fn stopped(&self) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text")
    }

    /// Checks more bytes; called when every checked byte was handed out.
    fn fill(&mut self) -> std::io::Result<()> {
        if !self.started {
            self.started = true;
            while self.end < 3 && !self.eof {
                self.read_more()?;
            }
            let head = &self.buf[..self.end];
            if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
                self.problem = Some(Encoding::Utf16);
            } else if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.start = 3;
                self.checked = 3;
            }
        }
        loop {
            if self.problem.is_some() {
                return Err(self.stopped());
            }
            let pending = &self.buf[self.checked..self.end];
            let good = match std::str::from_utf8(pending) {
                Ok(_) => pending.len(),
                Err(e) => {
                    let good = e.valid_up_to();
                    // A character cut at the end of what was read so far may still be
                    // completed by the next read.
                    if e.error_len().is_some() || self.eof {
                        self.advance(good);
                        self.problem = Some(Encoding::Invalid {
                            line: self.lines + 1,
                            column: self.column + 1,
                        });
                        return Ok(());
                    }
                    good
                }
            };
            self.advance(good);
            if self.checked > self.start || self.eof {
                return Ok(());
            }
            self.buf.copy_within(self.checked..self.end, 0);
            self.end -= self.checked;
            self.start = 0;
            self.checked = 0;
            self.read_more()?;
        }
    }
}

impl<R: Read> Read for Utf8Input<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.start == self.checked {
            self.fill()?;
            if self.start == self.checked && self.problem.is_some() {
                return Err(self.stopped());
            }
        }
        let n = (self.checked - self.start).min(out.len());
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}

/// A well-formed row of a CSV file, as a [`Record`]: the fields of the columns kept from the
/// header.
pub(crate) struct CsvRow<'a> {
    line: usize,
    header: &'a [String],
    keep: &'a [usize],
    rec: &'a csv::StringRecord,
}

impl Record for CsvRow<'_> {
    fn pos(&self) -> usize {
        self.line
    }

    fn width(&self) -> usize {
        self.keep.len()
    }

    fn name(&self, i: usize) -> &str {
        &self.header[self.keep[i]]
    }

    fn value(&self, i: usize) -> ValueRef<'_> {
        match self.rec.get(self.keep[i]) {
            Some(v) if !v.trim().is_empty() => ValueRef::Text(v),
            _ => ValueRef::Null,
        }
    }
}

impl CsvRow<'_> {
    fn to_raw(&self) -> RawRecord {
        RawRecord {
            pos: self.line,
            fields: (0..self.width())
                .map(|i| RawField {
                    name: self.name(i).to_string(),
                    value: match self.value(i) {
                        ValueRef::Text(s) => RawValue::Text(s.to_string()),
                        _ => RawValue::Null,
                    },
                })
                .collect(),
        }
    }
}

/// How a CSV file was read.
pub(crate) struct CsvRead {
    /// The table's header and context.
    pub info: TableInfo,
    /// False when the file was rejected as a whole (not UTF-8, empty): the rows handed over
    /// before that was found do not count.
    pub whole: bool,
}

/// Reads one CSV table from `input`, handing each well-formed row to `row` as it is read, with
/// whether the file had no problem so far. Problems of the file itself (encoding, header,
/// field counts) go to `diags`: header problems once, each row's with its line and column (the
/// field's position in the record). Only errors reading `input` are returned as errors.
pub(crate) fn read_csv(
    file: &str,
    input: impl Read,
    schema: &Schema,
    diags: &mut Vec<Diagnostic>,
    mut row: impl FnMut(&TableInfo, &CsvRow<'_>, bool),
) -> std::io::Result<CsvRead> {
    let first = diags.len();
    let mut info = TableInfo {
        loc: Location::at(file, 1, None),
        ..Default::default()
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(Utf8Input::new(input));
    let mut rec = csv::StringRecord::new();
    let mut header: Option<(Vec<String>, Vec<usize>)> = None;
    let rejected = |diags: &mut Vec<Diagnostic>, d: Diagnostic, info: TableInfo| {
        diags.truncate(first);
        diags.push(d);
        CsvRead { info, whole: false }
    };
    loop {
        match rdr.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                if let Some(d) = rdr.get_ref().problem(file) {
                    let info = TableInfo {
                        loc: Location::at(file, 1, None),
                        ..Default::default()
                    };
                    return Ok(rejected(diags, d, info));
                }
                if !e.is_io_error() {
                    diags.push(csv_error(file, &e));
                    if header.is_none() {
                        return Ok(CsvRead { info, whole: true });
                    }
                    continue;
                }
                match e.into_kind() {
                    csv::ErrorKind::Io(e) => return Err(e),
                    _ => break,
                }
            }
        }
        let Some((names, keep)) = &header else {
            let (names, keep) = read_header(file, &rec, schema, &mut info, diags);
            info.locator = Locator::Csv {
                file: file.to_string(),
                header: names.clone(),
            };
            header = Some((names, keep));
            continue;
        };
        let line = rec.position().map_or(0, |p| p.line() as usize);
        if rec.len() == 1 && rec[0].trim().is_empty() {
            continue; // blank line
        }
        if rec.len() != names.len() {
            // The column of the first missing or first extra field.
            let column = rec.len().min(names.len()) + 1;
            diags.push(Diagnostic::new(
                Location::at(file, line, Some(column)),
                format!(
                    "expected {} fields as in the header, found {}",
                    names.len(),
                    rec.len()
                ),
            ));
            continue;
        }
        let clean = diags.len() == first;
        row(
            &info,
            &CsvRow {
                line,
                header: names,
                keep,
                rec: &rec,
            },
            clean,
        );
    }
    if rdr.get_ref().blank {
        let d = Diagnostic::new(
            Location::at(file, 1, None),
            format!("empty file: expected a header row {}", schema.describe()),
        );
        let info = TableInfo {
            loc: Location::at(file, 1, None),
            ..Default::default()
        };
        return Ok(rejected(diags, d, info));
    }
    Ok(CsvRead { info, whole: true })
}

/// Checks a header row: names, and which columns to keep (not empty, known, not repeated).
fn read_header(
    file: &str,
    rec: &csv::StringRecord,
    schema: &Schema,
    info: &mut TableInfo,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<String>, Vec<usize>) {
    let header: Vec<String> = rec.iter().map(|c| c.trim().to_string()).collect();
    let mut keep = Vec::new();
    for (c, name) in header.iter().enumerate() {
        // Control characters (from a binary or mis-encoded file) are shown escaped.
        let shown = name.escape_debug().to_string();
        let loc = Location::at(file, 1, Some(c + 1)).with_field(shown.clone());
        if name.is_empty() {
            diags.push(Diagnostic::new(loc, "empty column name in the header"));
        } else if !schema.knows(name) {
            diags.push(Diagnostic::new(
                loc,
                format!(
                    "unknown column '{shown}': expected {} (prefix your own columns with x_)",
                    schema.describe()
                ),
            ));
        } else if header[..c].contains(name) {
            diags.push(Diagnostic::new(loc, format!("duplicate column '{name}'")));
        } else {
            keep.push(c);
        }
    }
    for req in schema.required {
        if !header.iter().any(|h| h == req) {
            diags.push(Diagnostic::new(
                Location::at(file, 1, None).with_field(*req),
                format!(
                    "missing required column '{req}': expected a header with {}",
                    schema.describe()
                ),
            ));
            info.missing_reported.insert((*req).to_string());
        }
    }
    (header, keep)
}

/// Parses one CSV table held in memory into its rows. Header problems are reported once; each
/// row's problems with its line and column (the field's position in the record).
pub(crate) fn parse_table(
    file: &str,
    bytes: &[u8],
    schema: &Schema,
    diags: &mut Vec<Diagnostic>,
) -> RawTable {
    let mut records = Vec::new();
    match read_csv(file, bytes, schema, diags, |_, row, _| {
        records.push(row.to_raw())
    }) {
        Ok(read) => RawTable {
            info: read.info,
            records: if read.whole { records } else { Vec::new() },
        },
        // Reading memory does not fail.
        Err(e) => {
            diags.push(Diagnostic::new(Location::file(file), e.to_string()));
            RawTable::default()
        }
    }
}

fn csv_error(file: &str, e: &csv::Error) -> Diagnostic {
    let line = e.position().map_or(0, |p| p.line() as usize);
    Diagnostic::new(
        Location::at(file, line, None),
        format!("malformed CSV: {e}"),
    )
}

/// One table of a network directory.
struct Source {
    name: &'static str,
    schema: &'static Schema,
    /// The open file; `None` when missing or not a file (already reported).
    file: Option<File>,
    /// Problems of the file itself, reported before any problem of its rows.
    diags: Vec<Diagnostic>,
}

/// Reads and validates a network from a directory of CSV files (`firms.csv`, `exposures.csv`,
/// optional `assets.csv`, `holdings.csv`, `network.json` metadata), keeping only the exposures
/// whose debtor index satisfies `keep_debtor`.
///
/// Rows are validated as they are read and not kept. Problems of the files themselves
/// (missing files, encoding, headers, field counts, metadata) are reported alone, in the order
/// firms, exposures, assets, holdings, metadata; only when there are none are the problems of
/// the rows reported.
pub(crate) fn load_dir(
    dir: &Path,
    keep_debtor: &dyn Fn(u32, usize) -> bool,
) -> Result<Parts, Error> {
    let mut sources = Vec::new();
    for (name, schema, required) in [
        ("firms.csv", &FIRMS, true),
        ("exposures.csv", &EXPOSURES, true),
        ("assets.csv", &ASSETS, false),
        ("holdings.csv", &HOLDINGS, false),
    ] {
        let path = dir.join(name);
        let mut diags = Vec::new();
        let file = if path.is_dir() {
            diags.push(Diagnostic::new(
                Location::file(path.display().to_string()),
                format!(
                    "expected a file with columns {}, found a directory",
                    schema.describe()
                ),
            ));
            None
        } else {
            match File::open(&path) {
                Ok(f) => Some(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if required {
                        diags.push(Diagnostic::new(
                            Location::file(path.display().to_string()),
                            format!(
                                "file not found: a network directory needs {name} with columns {}",
                                schema.describe()
                            ),
                        ));
                    }
                    None
                }
                Err(source) => return Err(Error::Io { path, source }),
            }
        };
        sources.push(Source {
            name,
            schema,
            file,
            diags,
        });
    }

    let mut b = Builder::new(keep_debtor);
    // Firms, assets, exposures, holdings: each table refers only to those before it.
    for k in [0, 2, 1, 3] {
        let others_clean = sources
            .iter()
            .enumerate()
            .all(|(j, s)| j == k || s.diags.is_empty());
        let Source {
            name,
            schema,
            file,
            diags,
        } = &mut sources[k];
        let loc = match file.take() {
            Some(f) => {
                let read = read_csv(name, f, schema, diags, |info, row, clean| {
                    if clean && others_clean {
                        match k {
                            0 => b.firm(info, row),
                            1 => b.exposure(info, row),
                            2 => b.asset(info, row),
                            _ => b.holding(info, row),
                        }
                    }
                })
                .map_err(|source| Error::Io {
                    path: dir.join(*name),
                    source,
                })?;
                read.info.loc
            }
            None => Location::default(),
        };
        if k == 0 {
            b.end_firms(&loc);
        }
    }

    let mut problems: Vec<Diagnostic> = sources.into_iter().flat_map(|s| s.diags).collect();
    let mut meta = Meta::default();
    let meta_path = dir.join("network.json");
    if meta_path.exists() {
        let bytes = std::fs::read(&meta_path).map_err(|source| Error::Io {
            path: meta_path.clone(),
            source,
        })?;
        match super::json::parse_meta_file("network.json", &bytes) {
            Ok(m) => meta = m,
            Err(mut d) => problems.append(&mut d),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems.into()));
    }
    b.finish(meta).map_err(|d| Error::Input(d.into()))
}

/// Union of `x_` column names, in order of first appearance.
fn extra_columns<'a>(extras: impl Iterator<Item = &'a Extras>) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for e in extras {
        for (k, _) in e {
            if !cols.contains(k) {
                cols.push(k.clone());
            }
        }
    }
    cols
}

fn extra_values(cols: &[String], extra: &Extras) -> Vec<String> {
    cols.iter()
        .map(|c| {
            extra
                .iter()
                .find(|(k, _)| k == c)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect()
}

fn opt(x: Option<f64>) -> String {
    x.map(format_number).unwrap_or_default()
}

fn to_csv(rows: Vec<Vec<String>>) -> Result<Vec<u8>, Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r)
            .map_err(|e| Error::Invalid(format!("writing CSV: {e}")))?;
    }
    w.into_inner()
        .map_err(|e| Error::Invalid(format!("writing CSV: {e}")))
}

/// Renders a network as the files of a CSV directory: `(file name, contents)` pairs.
/// Optional columns appear only when some row uses them; reading the files back gives an
/// equal network.
pub fn to_files(net: &Network) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut out = Vec::new();
    let firms = net.firms();
    let has_capital = firms.iter().any(|f| f.capital.is_some());
    let has_weight = firms.iter().any(|f| f.weight.is_some());
    let has_failed = firms.iter().any(|f| f.failed_on.is_some());
    let xcols = extra_columns(firms.iter().map(|f| &f.extra));
    let mut header: Vec<String> = FIRMS.required.iter().map(|s| s.to_string()).collect();
    for (on, name) in [
        (has_capital, "capital"),
        (has_weight, "weight"),
        (has_failed, "failed_on"),
    ] {
        if on {
            header.push(name.to_string());
        }
    }
    header.extend(xcols.iter().cloned());
    let mut rows = vec![header];
    for f in firms {
        let mut r = vec![
            f.id.clone(),
            f.name.clone(),
            f.kind.to_string(),
            format_number(f.cash),
            format_number(f.other_assets),
            format_number(f.external_liabilities),
        ];
        if has_capital {
            r.push(opt(f.capital));
        }
        if has_weight {
            r.push(opt(f.weight));
        }
        if has_failed {
            r.push(f.failed_on.clone().unwrap_or_default());
        }
        r.extend(extra_values(&xcols, &f.extra));
        rows.push(r);
    }
    out.push(("firms.csv".to_string(), to_csv(rows)?));

    let has_coll = !net.collateral().is_empty();
    let has_id = (0..net.exposures().len()).any(|k| net.label(k).is_some_and(|l| l.id.is_some()));
    let has_source =
        (0..net.exposures().len()).any(|k| net.label(k).is_some_and(|l| l.source.is_some()));
    let xcols =
        extra_columns((0..net.exposures().len()).filter_map(|k| net.label(k).map(|l| &l.extra)));
    let mut header: Vec<String> = EXPOSURES.required.iter().map(|s| s.to_string()).collect();
    if has_coll {
        header.extend(["collateral_asset", "collateral_units", "haircut"].map(String::from));
    }
    if has_id {
        header.push("id".into());
    }
    if has_source {
        header.push("source".into());
    }
    header.extend(xcols.iter().cloned());
    let mut rows = vec![header];
    for (k, e) in net.exposures().iter().enumerate() {
        let mut r = vec![
            net.firm_id(e.creditor as usize).to_string(),
            net.firm_id(e.debtor as usize).to_string(),
            e.kind.to_string(),
            format_number(e.amount),
        ];
        if has_coll {
            match net.collateral_of(k) {
                Some(c) => r.extend([
                    net.assets()[c.asset as usize].id.clone(),
                    format_number(c.units),
                    format_number(c.haircut),
                ]),
                None => r.extend([String::new(), String::new(), String::new()]),
            }
        }
        let label = net.label(k);
        if has_id {
            r.push(label.and_then(|l| l.id.clone()).unwrap_or_default());
        }
        if has_source {
            r.push(label.and_then(|l| l.source.clone()).unwrap_or_default());
        }
        if let Some(l) = label {
            r.extend(extra_values(&xcols, &l.extra));
        } else {
            r.extend(xcols.iter().map(|_| String::new()));
        }
        rows.push(r);
    }
    out.push(("exposures.csv".to_string(), to_csv(rows)?));

    if !net.assets().is_empty() {
        let has_depth = net.assets().iter().any(|a| a.depth.is_some());
        let xcols = extra_columns(net.assets().iter().map(|a| &a.extra));
        let mut header: Vec<String> = ASSETS.required.iter().map(|s| s.to_string()).collect();
        if has_depth {
            header.push("depth".into());
        }
        header.extend(xcols.iter().cloned());
        let mut rows = vec![header];
        for a in net.assets() {
            let mut r = vec![a.id.clone(), a.name.clone(), format_number(a.price)];
            if has_depth {
                r.push(opt(a.depth));
            }
            r.extend(extra_values(&xcols, &a.extra));
            rows.push(r);
        }
        out.push(("assets.csv".to_string(), to_csv(rows)?));
    }
    if !net.holdings().is_empty() {
        let mut rows = vec![HOLDINGS.required.iter().map(|s| s.to_string()).collect()];
        for h in net.holdings() {
            rows.push(vec![
                net.firm_id(h.firm as usize).to_string(),
                net.assets()[h.asset as usize].id.clone(),
                format_number(h.units),
            ]);
        }
        out.push(("holdings.csv".to_string(), to_csv(rows)?));
    }
    let meta = super::json::meta_to_value(net.meta());
    let mut meta_bytes = serde_json::to_vec_pretty(&meta)
        .map_err(|e| Error::Invalid(format!("writing metadata: {e}")))?;
    meta_bytes.push(b'\n');
    out.push(("network.json".to_string(), meta_bytes));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out one byte per read, so that every character is cut by some read.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), out.first_mut()) {
                (Some((&b, rest)), Some(o)) => {
                    *o = b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    /// The text passed on by a [`Utf8Input`], whether it was blank, or the problem it found.
    fn through(input: impl Read) -> Result<(Vec<u8>, bool), Option<Diagnostic>> {
        let mut r = Utf8Input::new(input);
        let mut out = Vec::new();
        match r.read_to_end(&mut out) {
            Ok(_) => Ok((out, r.blank)),
            Err(_) => Err(r.problem("f.csv")),
        }
    }

    fn samples() -> Vec<Vec<u8>> {
        let mut s: Vec<Vec<u8>> = [
            &b""[..],
            b"a,b\n1,2\n",
            b"\xEF\xBB\xBFid,name\n",
            b"\xEF\xBB",
            b"\xEF\xBB\xBF",
            b"\xFF\xFEi\0d\0",
            b"\xFE\xFF\0i\0d",
            b"\xFF",
            "id\n\u{e9}t\u{e9},\u{20ac}\u{1F600}\n".as_bytes(),
            b"ab\ncd\xFFef\n",
            b"ab\n\xC3\xA9\xE2\x82",
            b"ab\n\xC3(",
            b"\xF0\x9F\x98",
            " \n\t\r\n".as_bytes(),
            " \u{2003}\n".as_bytes(),
            "  x ".as_bytes(),
        ]
        .iter()
        .map(|b| b.to_vec())
        .collect();
        // Longer than the reader's buffer: characters cut at its end, a bad byte beyond it.
        let long: Vec<u8> = "\u{e9}t\u{e9},\u{20ac}\n".repeat(20_000).into_bytes();
        s.push(long.clone());
        for at in [65_535, 65_536, 65_537, 100_001] {
            let mut bad = long.clone();
            bad.insert(at, 0xFF);
            s.push(bad);
        }
        let mut cut = vec![b'a'; 65_535];
        cut.extend_from_slice("\u{20ac}\n".as_bytes());
        s.push(cut);
        s
    }

    #[test]
    fn streamed_encoding_checks_agree_with_whole_file_ones() {
        for s in samples() {
            let whole = check_text("f.csv", &s)
                .map(|t| (t.as_bytes().to_vec(), t.trim().is_empty()))
                .map_err(Some);
            assert_eq!(through(s.as_slice()), whole, "{s:?}");
            assert_eq!(through(Trickle(&s)), whole, "{s:?} read a byte at a time");
        }
    }

    #[test]
    fn streamed_table_reads_as_the_whole_text() {
        let text = "\u{FEFF}id,name,kind,cash,other_assets,external_liabilities,x_note\n\
                    A,\"Bank, A\",bank,4,0,0,\u{e9}\n\
                    \n\
                    B,Bank B,bank,1\n\
                    C,\"Line\nbreak\",bank,1,0,0,\n";
        let mut whole = Vec::new();
        let table = parse_table("firms.csv", text.as_bytes(), &FIRMS, &mut whole);
        let mut streamed = Vec::new();
        let mut rows = Vec::new();
        let read = read_csv(
            "firms.csv",
            Trickle(text.as_bytes()),
            &FIRMS,
            &mut streamed,
            |_, row, _| rows.push(row.to_raw()),
        )
        .expect("memory");
        assert!(read.whole);
        assert_eq!(streamed, whole);
        assert_eq!(whole.len(), 1, "{whole:?}"); // line 4 has too few fields
        assert_eq!(format!("{rows:?}"), format!("{:?}", table.records));
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].pos, 5);
    }
}
