//! A network as one JSON document: reading (with line and column in every error) and writing.
//!
//! Shape: `{"meta": {...}, "firms": [...], "exposures": [...], "assets": [...],
//! "holdings": [...]}`; each item is an object whose keys are the CSV column names.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::raw::{Locator, RawField, RawNetwork, RawRecord, RawTable, RawValue, TableInfo};
use crate::error::{Diagnostic, Error, Location};
use crate::model::{Meta, Network};

/// Friendly path of an object key below `parent` (`firms[3]` + `cash` → `firms[3].cash`).
fn key_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn json_loc(file: &str, path: String) -> Location {
    Location::file(file).with_field(path)
}

fn scalar(v: &Value) -> RawValue {
    match v {
        Value::Null => RawValue::Null,
        Value::Bool(b) => RawValue::Bool(*b),
        Value::Number(n) => n.as_f64().map_or(RawValue::Composite, RawValue::Number),
        Value::String(s) => RawValue::Text(s.clone()),
        Value::Array(_) | Value::Object(_) => RawValue::Composite,
    }
}

fn table(file: &str, name: &str, v: Option<&Value>, diags: &mut Vec<Diagnostic>) -> RawTable {
    let mut t = RawTable {
        info: TableInfo {
            check_unknown: true,
            loc: json_loc(file, name.to_string()),
            locator: Locator::Json {
                file: file.to_string(),
                array: name.to_string(),
            },
            ..Default::default()
        },
        records: Vec::new(),
    };
    let Some(v) = v else { return t };
    let Value::Array(items) = v else {
        diags.push(Diagnostic::new(
            json_loc(file, name.to_string()),
            "expected an array of objects",
        ));
        return t;
    };
    for (i, item) in items.iter().enumerate() {
        let Value::Object(obj) = item else {
            diags.push(Diagnostic::new(
                json_loc(file, format!("{name}[{i}]")),
                "expected an object",
            ));
            continue;
        };
        let fields = obj
            .iter()
            .map(|(k, v)| RawField {
                name: k.clone(),
                value: scalar(v),
            })
            .collect();
        t.records.push(RawRecord { pos: i, fields });
    }
    t
}

fn meta_from(file: &str, parent: &str, v: &Value, diags: &mut Vec<Diagnostic>) -> Meta {
    let mut meta = Meta::default();
    let Value::Object(obj) = v else {
        diags.push(Diagnostic::new(
            json_loc(file, parent.to_string()),
            "expected an object with name, currency, as_of, description, sources",
        ));
        return meta;
    };
    for (k, v) in obj {
        let loc = || json_loc(file, key_path(parent, k));
        let text = |diags: &mut Vec<Diagnostic>| match v {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            _ => {
                diags.push(Diagnostic::new(loc(), "expected text"));
                None
            }
        };
        match k.as_str() {
            "name" => meta.name = text(diags),
            "currency" => meta.currency = text(diags).unwrap_or_else(|| "USD".into()),
            "as_of" => meta.as_of = text(diags),
            "description" => meta.description = text(diags),
            "sources" => match v {
                Value::Array(a) if a.iter().all(Value::is_string) => {
                    meta.sources = a.iter().filter_map(|s| s.as_str().map(String::from)).collect()
                }
                _ => diags.push(Diagnostic::new(loc(), "expected an array of strings")),
            },
            k if k.starts_with("x_") => {}
            _ => diags.push(Diagnostic::new(
                loc(),
                format!("unknown metadata key '{k}': expected name, currency, as_of, description or sources"),
            )),
        }
    }
    meta
}

/// Parses JSON text, turning a syntax error into a located diagnostic.
pub(crate) fn parse_value(file: &str, bytes: &[u8]) -> Result<(String, Value), Diagnostic> {
    let text = super::csv_dir::check_text(file, bytes)?;
    if text.trim().is_empty() {
        return Err(Diagnostic::new(
            Location::at(file, 1, None),
            "empty file: expected a JSON object",
        ));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v) => Ok((text.to_string(), v)),
        // serde_json reports column 0 for the position before a line's first character.
        Err(e) => Err(Diagnostic::new(
            Location::at(file, e.line().max(1), Some(e.column().max(1))),
            format!("malformed JSON: {e}")
                .replace(&format!(" at line {} column {}", e.line(), e.column()), ""),
        )),
    }
}

/// Reads the metadata file of a CSV directory.
pub(crate) fn parse_meta_file(file: &str, bytes: &[u8]) -> Result<Meta, Vec<Diagnostic>> {
    let (text, v) = parse_value(file, bytes).map_err(|d| vec![d])?;
    let mut diags = Vec::new();
    let meta = match &v {
        Value::Object(o) if o.contains_key("meta") => {
            meta_from(file, "meta", &o["meta"], &mut diags)
        }
        _ => meta_from(file, "", &v, &mut diags),
    };
    if diags.is_empty() {
        Ok(meta)
    } else {
        locate(&text, &mut diags);
        Err(diags)
    }
}

/// Reads a network document into raw tables.
pub(crate) fn read_raw(file: &str, bytes: &[u8]) -> Result<(RawNetwork, String), Error> {
    let (text, v) = parse_value(file, bytes).map_err(|d| Error::Input(vec![d].into()))?;
    let mut diags = Vec::new();
    let Value::Object(obj) = &v else {
        return Err(Error::input(
            Location::at(file, 1, Some(1)),
            "expected a JSON object with firms and exposures",
        ));
    };
    for k in obj.keys() {
        if !matches!(
            k.as_str(),
            "meta" | "firms" | "exposures" | "assets" | "holdings"
        ) && !k.starts_with("x_")
        {
            diags.push(Diagnostic::new(
                json_loc(file, k.clone()),
                format!("unknown key '{k}': expected meta, firms, exposures, assets or holdings"),
            ));
        }
    }
    for required in ["firms", "exposures"] {
        if !obj.contains_key(required) {
            diags.push(Diagnostic::new(
                Location::at(file, 1, Some(1)),
                format!("missing key '{required}': expected an array of {required}"),
            ));
        }
    }
    let raw = RawNetwork {
        meta: obj
            .get("meta")
            .map(|m| meta_from(file, "meta", m, &mut diags))
            .unwrap_or_default(),
        firms: table(file, "firms", obj.get("firms"), &mut diags),
        exposures: table(file, "exposures", obj.get("exposures"), &mut diags),
        assets: table(file, "assets", obj.get("assets"), &mut diags),
        holdings: table(file, "holdings", obj.get("holdings"), &mut diags),
    };
    if diags.is_empty() {
        Ok((raw, text))
    } else {
        locate(&text, &mut diags);
        Err(Error::Input(diags.into()))
    }
}

/// Fills in line and column of diagnostics whose field is a JSON path (such as
/// `shocks[2].firm`), by scanning `text`, which must be valid JSON. Only called when
/// something is wrong, so valid inputs never pay for it.
pub fn locate(text: &str, diags: &mut [Diagnostic]) {
    let wanted: Vec<String> = diags
        .iter()
        .filter(|d| d.location.line.is_none())
        .filter_map(|d| d.location.field.clone())
        .collect();
    if wanted.is_empty() {
        return;
    }
    let mut found = HashMap::new();
    let mut sc = Scanner {
        b: text.as_bytes(),
        i: 0,
        line: 1,
        col: 1,
        wanted: &wanted,
        found: &mut found,
    };
    sc.value(String::new());
    for d in diags.iter_mut().filter(|d| d.location.line.is_none()) {
        if let Some(&(l, c)) = d.location.field.as_ref().and_then(|f| found.get(f)) {
            d.location.line = Some(l);
            d.location.column = Some(c);
        }
    }
}

/// Walks valid JSON text, recording where values named by friendly paths start.
struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    line: usize,
    col: usize,
    wanted: &'a [String],
    found: &'a mut HashMap<String, (usize, usize)>,
}

impl Scanner<'_> {
    fn bump(&mut self) {
        if let Some(&c) = self.b.get(self.i) {
            if c == b'\n' {
                self.line += 1;
                self.col = 1;
            } else if c & 0xC0 != 0x80 {
                self.col += 1;
            }
            self.i += 1;
        }
    }

    fn ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.bump();
        }
    }

    fn string(&mut self) -> String {
        let start = self.i + 1;
        self.bump();
        while let Some(&c) = self.b.get(self.i) {
            if c == b'\\' {
                self.bump();
            } else if c == b'"' {
                break;
            }
            self.bump();
        }
        let raw = std::str::from_utf8(&self.b[start.min(self.i)..self.i]).unwrap_or("");
        self.bump();
        serde_json::from_str::<String>(&format!("\"{raw}\"")).unwrap_or_else(|_| raw.to_string())
    }

    fn value(&mut self, path: String) {
        self.ws();
        if self.wanted.contains(&path) {
            self.found.insert(path.clone(), (self.line, self.col));
        }
        match self.b.get(self.i) {
            Some(b'{') => {
                self.bump();
                loop {
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b'"') => {
                            let key = self.string();
                            let p = key_path(&path, &key);
                            self.ws();
                            self.bump(); // ':'
                            self.value(p);
                        }
                        Some(b',') => self.bump(),
                        Some(b'}') | None => {
                            self.bump();
                            return;
                        }
                        _ => self.bump(),
                    }
                }
            }
            Some(b'[') => {
                self.bump();
                let mut k = 0;
                loop {
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b']') | None => {
                            self.bump();
                            return;
                        }
                        Some(b',') => self.bump(),
                        _ => {
                            self.value(format!("{path}[{k}]"));
                            k += 1;
                        }
                    }
                }
            }
            Some(b'"') => {
                self.string();
            }
            _ => {
                while let Some(&c) = self.b.get(self.i) {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.bump();
                }
            }
        }
    }
}

/// Metadata as a JSON object.
pub(crate) fn meta_to_value(m: &Meta) -> Value {
    let mut o = Map::new();
    if let Some(n) = &m.name {
        o.insert("name".into(), n.clone().into());
    }
    o.insert("currency".into(), m.currency.clone().into());
    if let Some(d) = &m.as_of {
        o.insert("as_of".into(), d.clone().into());
    }
    if let Some(d) = &m.description {
        o.insert("description".into(), d.clone().into());
    }
    if !m.sources.is_empty() {
        o.insert("sources".into(), m.sources.clone().into());
    }
    Value::Object(o)
}

fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn put_extras(o: &mut Map<String, Value>, extra: &[(String, String)]) {
    for (k, v) in extra {
        o.insert(k.clone(), Value::String(v.clone()));
    }
}

/// The whole network as one JSON document; reading it back gives an equal network.
pub fn to_value(net: &Network) -> Value {
    let firms: Vec<Value> = net
        .firms()
        .iter()
        .map(|f| {
            let mut o = Map::new();
            o.insert("id".into(), f.id.clone().into());
            o.insert("name".into(), f.name.clone().into());
            o.insert("kind".into(), f.kind.as_str().into());
            o.insert("cash".into(), num(f.cash));
            o.insert("other_assets".into(), num(f.other_assets));
            o.insert("external_liabilities".into(), num(f.external_liabilities));
            if let Some(c) = f.capital {
                o.insert("capital".into(), num(c));
            }
            if let Some(w) = f.weight {
                o.insert("weight".into(), num(w));
            }
            if let Some(d) = &f.failed_on {
                o.insert("failed_on".into(), d.clone().into());
            }
            put_extras(&mut o, &f.extra);
            Value::Object(o)
        })
        .collect();
    let exposures: Vec<Value> = net
        .exposures()
        .iter()
        .enumerate()
        .map(|(k, e)| {
            let mut o = Map::new();
            o.insert("creditor".into(), net.firm_id(e.creditor as usize).into());
            o.insert("debtor".into(), net.firm_id(e.debtor as usize).into());
            o.insert("kind".into(), e.kind.as_str().into());
            o.insert("amount".into(), num(e.amount));
            if let Some(c) = net.collateral_of(k) {
                o.insert(
                    "collateral_asset".into(),
                    net.assets()[c.asset as usize].id.clone().into(),
                );
                o.insert("collateral_units".into(), num(c.units));
                o.insert("haircut".into(), num(c.haircut));
            }
            if let Some(l) = net.label(k) {
                if let Some(id) = &l.id {
                    o.insert("id".into(), id.clone().into());
                }
                if let Some(s) = &l.source {
                    o.insert("source".into(), s.clone().into());
                }
                put_extras(&mut o, &l.extra);
            }
            Value::Object(o)
        })
        .collect();
    let assets: Vec<Value> = net
        .assets()
        .iter()
        .map(|a| {
            let mut o = Map::new();
            o.insert("id".into(), a.id.clone().into());
            o.insert("name".into(), a.name.clone().into());
            o.insert("price".into(), num(a.price));
            if let Some(d) = a.depth {
                o.insert("depth".into(), num(d));
            }
            put_extras(&mut o, &a.extra);
            Value::Object(o)
        })
        .collect();
    let holdings: Vec<Value> = net
        .holdings()
        .iter()
        .map(|h| {
            serde_json::json!({
                "firm": net.firm_id(h.firm as usize),
                "asset": net.assets()[h.asset as usize].id,
                "units": num(h.units),
            })
        })
        .collect();
    let mut o = Map::new();
    o.insert("meta".into(), meta_to_value(net.meta()));
    o.insert("firms".into(), firms.into());
    o.insert("exposures".into(), exposures.into());
    if !assets.is_empty() {
        o.insert("assets".into(), assets.into());
    }
    if !holdings.is_empty() {
        o.insert("holdings".into(), holdings.into());
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::super::raw::format_number;
    use super::*;

    #[test]
    fn locates_nested_values() {
        let text =
            "{\n  \"firms\": [\n    {\"id\": \"A\"},\n    {\"id\": \"B\", \"cash\": -1}\n  ]\n}";
        let mut d = vec![Diagnostic::new(
            json_loc("n.json", "firms[1].cash".into()),
            "x",
        )];
        locate(text, &mut d);
        assert_eq!(d[0].location.line, Some(4));
        assert_eq!(d[0].location.column, Some(25)); // `    {"id": "B", "cash": -1}`: the value starts at column 25
    }

    #[test]
    fn format_is_shortest_round_trip() {
        assert_eq!(format_number(0.1), "0.1");
        assert_eq!("0.1".parse::<f64>().unwrap(), 0.1);
    }
}
