//! A network as a directory of CSV files: reading and writing.

use std::path::Path;

use super::raw::{
    ASSETS, EXPOSURES, FIRMS, HOLDINGS, Locator, RawField, RawNetwork, RawRecord, RawTable,
    RawValue, Schema, TableInfo, format_number,
};
use crate::error::{Diagnostic, Error, Location};
use crate::model::{Extras, Network};

/// Reads `dir/name` into a table; `Ok(None)` when the file does not exist.
fn read_table(
    dir: &Path,
    name: &str,
    schema: &Schema,
    diags: &mut Vec<Diagnostic>,
) -> Result<Option<RawTable>, Error> {
    let path = dir.join(name);
    if path.is_dir() {
        diags.push(Diagnostic::new(
            Location::file(path.display().to_string()),
            format!(
                "expected a file with columns {}, found a directory",
                schema.describe()
            ),
        ));
        return Ok(Some(RawTable::default()));
    }
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::Io { path, source }),
    };
    Ok(Some(parse_table(name, &bytes, schema, diags)))
}

/// Checks the encoding of a whole file: strips a UTF-8 byte-order mark, rejects UTF-16 and
/// invalid UTF-8 with the line where the first bad byte is.
pub(crate) fn check_text<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, Diagnostic> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(Diagnostic::new(
            Location::at(file, 1, Some(1)),
            "the file is UTF-16 encoded: expected UTF-8 (re-save it as UTF-8)",
        ));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = good.len() - good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
        Diagnostic::new(
            Location::at(file, line, Some(column)),
            "invalid UTF-8 byte: expected UTF-8 text (re-save the file as UTF-8)",
        )
    })
}

/// Parses one CSV table. Header problems are reported once; each row's problems with its line
/// and column (the field's position in the record).
pub(crate) fn parse_table(
    file: &str,
    bytes: &[u8],
    schema: &Schema,
    diags: &mut Vec<Diagnostic>,
) -> RawTable {
    let mut table = RawTable {
        info: TableInfo {
            loc: Location::at(file, 1, None),
            ..Default::default()
        },
        records: Vec::new(),
    };
    let text = match check_text(file, bytes) {
        Ok(t) => t,
        Err(d) => {
            diags.push(d);
            return table;
        }
    };
    if text.trim().is_empty() {
        diags.push(Diagnostic::new(
            Location::at(file, 1, None),
            format!("empty file: expected a header row {}", schema.describe()),
        ));
        return table;
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = rdr.records();
    let header: Vec<String> = match records.next() {
        Some(Ok(h)) => h.iter().map(|c| c.trim().to_string()).collect(),
        Some(Err(e)) => {
            diags.push(csv_error(file, &e));
            return table;
        }
        None => return table,
    };
    let mut keep = vec![true; header.len()];
    for (c, name) in header.iter().enumerate() {
        // Control characters (from a binary or mis-encoded file) are shown escaped.
        let shown = name.escape_debug().to_string();
        let loc = Location::at(file, 1, Some(c + 1)).with_field(shown.clone());
        if name.is_empty() {
            diags.push(Diagnostic::new(loc, "empty column name in the header"));
            keep[c] = false;
        } else if !schema.knows(name) {
            diags.push(Diagnostic::new(
                loc,
                format!(
                    "unknown column '{shown}': expected {} (prefix your own columns with x_)",
                    schema.describe()
                ),
            ));
            keep[c] = false;
        } else if header[..c].contains(name) {
            diags.push(Diagnostic::new(loc, format!("duplicate column '{name}'")));
            keep[c] = false;
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
            table.info.missing_reported.insert((*req).to_string());
        }
    }
    table.info.locator = Locator::Csv {
        file: file.to_string(),
        header: header.clone(),
    };
    for rec in records {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                diags.push(csv_error(file, &e));
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line() as usize);
        if rec.len() == 1 && rec[0].trim().is_empty() {
            continue; // blank line
        }
        if rec.len() != header.len() {
            // The column of the first missing or first extra field.
            let column = rec.len().min(header.len()) + 1;
            diags.push(Diagnostic::new(
                Location::at(file, line, Some(column)),
                format!(
                    "expected {} fields as in the header, found {}",
                    header.len(),
                    rec.len()
                ),
            ));
            continue;
        }
        let fields = rec
            .iter()
            .enumerate()
            .filter(|(c, _)| keep[*c])
            .map(|(c, v)| RawField {
                name: header[c].clone(),
                value: if v.trim().is_empty() {
                    RawValue::Null
                } else {
                    RawValue::Text(v.to_string())
                },
            })
            .collect();
        table.records.push(RawRecord { pos: line, fields });
    }
    table
}

fn csv_error(file: &str, e: &csv::Error) -> Diagnostic {
    let line = e.position().map_or(0, |p| p.line() as usize);
    Diagnostic::new(
        Location::at(file, line, None),
        format!("malformed CSV: {e}"),
    )
}

/// Reads a network from a directory of CSV files (`firms.csv`, `exposures.csv`, optional
/// `assets.csv`, `holdings.csv`, `network.json` metadata).
pub(crate) fn read_raw(dir: &Path) -> Result<RawNetwork, Error> {
    let mut diags = Vec::new();
    let mut raw = RawNetwork::default();
    for (name, schema, required) in [
        ("firms.csv", &FIRMS, true),
        ("exposures.csv", &EXPOSURES, true),
        ("assets.csv", &ASSETS, false),
        ("holdings.csv", &HOLDINGS, false),
    ] {
        let table = read_table(dir, name, schema, &mut diags)?;
        if table.is_none() && required {
            diags.push(Diagnostic::new(
                Location::file(dir.join(name).display().to_string()),
                format!(
                    "file not found: a network directory needs {name} with columns {}",
                    schema.describe()
                ),
            ));
        }
        let table = table.unwrap_or_default();
        match name {
            "firms.csv" => raw.firms = table,
            "exposures.csv" => raw.exposures = table,
            "assets.csv" => raw.assets = table,
            _ => raw.holdings = table,
        }
    }
    let meta_path = dir.join("network.json");
    if meta_path.exists() {
        let bytes = std::fs::read(&meta_path).map_err(|source| Error::Io {
            path: meta_path.clone(),
            source,
        })?;
        match super::json::parse_meta_file("network.json", &bytes) {
            Ok(m) => raw.meta = m,
            Err(mut d) => diags.append(&mut d),
        }
    }
    if diags.is_empty() {
        Ok(raw)
    } else {
        Err(Error::Input(diags.into()))
    }
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
