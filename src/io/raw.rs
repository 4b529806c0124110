//! Format-neutral records and the one place where input rows are validated.
//!
//! The CSV and JSON readers only turn text into records (field names and values, located by
//! their table); a [`Builder`] checks every field and every cross-reference as records arrive
//! and reports all problems at once. Records are validated one at a time, so a reader can hand
//! them over as it reads and keep none of them.

pub(crate) mod import;
pub(crate) mod marginals;

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use crate::error::{Diagnostic, Location};
use crate::model::{
    Asset, Collateral, Exposure, ExposureKind, ExposureLabel, Extras, Firm, FirmKind, Holding,
    Meta, Parts, check_amount, check_haircut, check_price,
};

/// A scalar read from a file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawValue {
    /// Text (every CSV field; JSON strings).
    Text(String),
    /// JSON number.
    Number(f64),
    /// JSON boolean.
    Bool(bool),
    /// JSON null or an empty CSV field.
    Null,
    /// A JSON array or object where a scalar was expected.
    Composite,
}

impl RawValue {
    fn as_ref(&self) -> ValueRef<'_> {
        match self {
            RawValue::Text(s) => ValueRef::Text(s),
            RawValue::Number(x) => ValueRef::Number(*x),
            RawValue::Bool(b) => ValueRef::Bool(*b),
            RawValue::Null => ValueRef::Null,
            RawValue::Composite => ValueRef::Composite,
        }
    }
}

/// A scalar as a reader holds it, borrowed: what [`RawValue`] is, without owning the text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ValueRef<'a> {
    /// Text (every non-empty CSV field; JSON strings).
    Text(&'a str),
    /// JSON number.
    Number(f64),
    /// JSON boolean.
    Bool(bool),
    /// JSON null or an empty CSV field.
    Null,
    /// A JSON array or object where a scalar was expected.
    Composite,
}

/// One row (CSV) or object (JSON): its fields in order, and where it is as its table's
/// [`Locator`] counts.
pub(crate) trait Record {
    /// The CSV line or the index in the JSON array.
    fn pos(&self) -> usize;
    /// Number of fields.
    fn width(&self) -> usize;
    /// Name of field `i`.
    fn name(&self, i: usize) -> &str;
    /// Value of field `i`.
    fn value(&self, i: usize) -> ValueRef<'_>;
}

/// One field of a record held in memory.
#[derive(Debug, Clone)]
pub(crate) struct RawField {
    pub name: String,
    pub value: RawValue,
}

/// One row (CSV) or object (JSON) held in memory.
#[derive(Debug, Clone)]
pub(crate) struct RawRecord {
    /// The CSV line or the index in the JSON array.
    pub pos: usize,
    pub fields: Vec<RawField>,
}

impl Record for RawRecord {
    fn pos(&self) -> usize {
        self.pos
    }

    fn width(&self) -> usize {
        self.fields.len()
    }

    fn name(&self, i: usize) -> &str {
        &self.fields[i].name
    }

    fn value(&self, i: usize) -> ValueRef<'_> {
        self.fields[i].value.as_ref()
    }
}

/// How the records of a table and their fields are located in messages.
#[derive(Debug, Clone)]
pub(crate) enum Locator {
    /// Rows of a CSV file, by line; fields by their column in `header`.
    Csv { file: String, header: Vec<String> },
    /// Items of the JSON array `array` in `file`, by index; fields by their path.
    Json { file: String, array: String },
}

impl Default for Locator {
    fn default() -> Self {
        Locator::Csv {
            file: String::new(),
            header: Vec::new(),
        }
    }
}

impl Locator {
    /// The record at `pos`.
    pub fn record(&self, pos: usize) -> Location {
        match self {
            Locator::Csv { file, .. } => Location::at(file.as_str(), pos, None),
            Locator::Json { file, array } => {
                Location::file(file.as_str()).with_field(format!("{array}[{pos}]"))
            }
        }
    }

    /// Field `name` of the record at `pos`.
    pub fn field(&self, pos: usize, name: &str) -> Location {
        match self {
            Locator::Csv { file, header } => {
                let column = header.iter().position(|h| h == name).map(|c| c + 1);
                Location::at(file.as_str(), pos, column).with_field(name)
            }
            Locator::Json { file, array } => {
                Location::file(file.as_str()).with_field(format!("{array}[{pos}].{name}"))
            }
        }
    }

    /// Where a missing field `name` of the record at `pos` is reported: the record, naming
    /// the field (a JSON record keeps its own path, which is what locates it in the text).
    pub fn missing(&self, pos: usize, name: &str) -> Location {
        match self {
            Locator::Csv { .. } => self.record(pos).with_field(name),
            Locator::Json { .. } => self.record(pos),
        }
    }
}

/// What is known of a table as a whole, shared by its records: how they are located and what
/// the reader already checked.
#[derive(Debug, Clone, Default)]
pub(crate) struct TableInfo {
    /// Required columns the reader already reported missing (CSV header), not to be reported
    /// again on every row.
    pub missing_reported: HashSet<String>,
    /// Whether unknown field names still need checking (JSON objects; CSV checks its header).
    pub check_unknown: bool,
    /// Where the table itself is (file, and the header line or JSON key), for problems of
    /// the table as a whole such as having no rows.
    pub loc: Location,
    /// How its records are located.
    pub locator: Locator,
}

/// The rows of one table held in memory, with what the reader already checked.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawTable {
    pub info: TableInfo,
    pub records: Vec<RawRecord>,
}

/// The schema of a table: required and optional field names.
pub(crate) struct Schema {
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

impl Schema {
    pub fn knows(&self, name: &str) -> bool {
        name.starts_with("x_") || self.required.contains(&name) || self.optional.contains(&name)
    }

    pub fn describe(&self) -> String {
        let mut s = self.required.join(",");
        for o in self.optional {
            s.push_str(&format!("[,{o}]"));
        }
        s
    }
}

pub(crate) const FIRMS: Schema = Schema {
    required: &[
        "id",
        "name",
        "kind",
        "cash",
        "other_assets",
        "external_liabilities",
    ],
    optional: &["capital", "weight", "failed_on"],
};
pub(crate) const EXPOSURES: Schema = Schema {
    required: &["creditor", "debtor", "kind", "amount"],
    optional: &[
        "collateral_asset",
        "collateral_units",
        "haircut",
        "id",
        "source",
    ],
};
pub(crate) const ASSETS: Schema = Schema {
    required: &["id", "name", "price"],
    optional: &["depth"],
};
pub(crate) const HOLDINGS: Schema = Schema {
    required: &["firm", "asset", "units"],
    optional: &[],
};

/// Everything read from a network document held in memory.
#[derive(Debug, Default)]
pub(crate) struct RawNetwork {
    pub meta: Meta,
    pub firms: RawTable,
    pub exposures: RawTable,
    pub assets: RawTable,
    pub holdings: RawTable,
}

/// Accessor over a record that records problems as it reads.
pub(crate) struct Row<'a, R: Record + ?Sized> {
    rec: &'a R,
    table: &'a TableInfo,
    diags: &'a mut Vec<Diagnostic>,
    pub ok: bool,
}

impl<'a, R: Record + ?Sized> Row<'a, R> {
    pub fn new(rec: &'a R, table: &'a TableInfo, diags: &'a mut Vec<Diagnostic>) -> Self {
        Self {
            rec,
            table,
            diags,
            ok: true,
        }
    }

    /// Value of field `name`, if the record has it.
    fn get(&self, name: &str) -> Option<ValueRef<'a>> {
        let rec: &'a R = self.rec;
        (0..rec.width())
            .find(|&i| rec.name(i) == name)
            .map(|i| rec.value(i))
    }

    fn has(&self, name: &str) -> bool {
        (0..self.rec.width()).any(|i| self.rec.name(i) == name)
    }

    /// Location of field `name` of this record.
    pub fn field_loc(&self, name: &str) -> Location {
        self.table.locator.field(self.rec.pos(), name)
    }

    /// Location of this record.
    pub fn record_loc(&self) -> Location {
        self.table.locator.record(self.rec.pos())
    }

    pub fn fail(&mut self, loc: Location, msg: impl Into<String>) {
        self.diags.push(Diagnostic::new(loc, msg));
        self.ok = false;
    }

    /// A missing required field, reported unless the reader already did.
    fn missing(&mut self, name: &str, what: &str) {
        if !self.table.missing_reported.contains(name) {
            let loc = self.table.locator.missing(self.rec.pos(), name);
            self.fail(
                loc,
                format!("missing required field '{name}': expected {what}"),
            );
        } else {
            self.ok = false;
        }
    }

    /// Trimmed text of a field; `None` when absent or empty.
    pub fn text(&mut self, name: &str) -> Option<Cow<'a, str>> {
        match self.get(name)? {
            ValueRef::Text(s) if s.trim().is_empty() => None,
            ValueRef::Text(s) => Some(Cow::Borrowed(s.trim())),
            ValueRef::Number(x) => Some(Cow::Owned(format_number(x))),
            ValueRef::Null => None,
            ValueRef::Bool(_) | ValueRef::Composite => {
                let loc = self.field_loc(name);
                self.fail(loc, "expected text");
                None
            }
        }
    }

    pub fn required_text(&mut self, name: &str, what: &str) -> Option<Cow<'a, str>> {
        let present = self.has(name);
        let before = self.diags.len();
        let t = self.text(name);
        if t.is_none() && self.diags.len() == before {
            if present {
                let loc = self.field_loc(name);
                self.fail(loc, format!("expected {what}, found an empty value"));
            } else {
                self.missing(name, what);
            }
        }
        t
    }

    /// A number checked by `check`; `None` when absent or empty.
    fn number(
        &mut self,
        name: &str,
        check: fn(f64) -> Result<f64, String>,
    ) -> Option<Result<f64, ()>> {
        let parsed = match self.get(name)? {
            ValueRef::Null => return None,
            ValueRef::Text(s) if s.trim().is_empty() => return None,
            ValueRef::Text(s) => parse_number(s),
            ValueRef::Number(x) => Ok(x),
            ValueRef::Bool(_) | ValueRef::Composite => Err("expected a number".to_string()),
        };
        match parsed.and_then(check) {
            Ok(v) => Some(Ok(v)),
            Err(msg) => {
                let loc = self.field_loc(name);
                self.fail(loc, msg);
                Some(Err(()))
            }
        }
    }

    pub fn required_number(&mut self, name: &str, check: fn(f64) -> Result<f64, String>) -> f64 {
        match self.number(name, check) {
            Some(Ok(v)) => v,
            Some(Err(())) => 0.0,
            None => {
                if self.has(name) {
                    let loc = self.field_loc(name);
                    self.fail(loc, "expected an amount, found an empty value");
                } else {
                    self.missing(name, "an amount");
                }
                0.0
            }
        }
    }

    pub fn optional_number(
        &mut self,
        name: &str,
        check: fn(f64) -> Result<f64, String>,
    ) -> Option<f64> {
        match self.number(name, check) {
            Some(Ok(v)) => Some(v),
            _ => None,
        }
    }

    /// The optional `kind` field of an imported firms table: a firm kind, `bank` when absent
    /// or empty; `None` (with a located error) when it names no kind.
    pub fn kind_or_bank(&mut self) -> Option<FirmKind> {
        match self.text("kind") {
            Some(k) => k
                .parse::<FirmKind>()
                .map_err(|e| {
                    let loc = self.field_loc("kind");
                    self.fail(loc, e)
                })
                .ok(),
            None => Some(FirmKind::Bank),
        }
    }

    /// Records `id` (the text of field `name`) in `seen`; a second occurrence is a located
    /// error naming the first.
    pub fn unique(&mut self, name: &str, id: Option<&str>, seen: &mut HashMap<String, Location>) {
        if let Some(id) = id {
            let loc = self.field_loc(name);
            if let Some(prev) = seen.insert(id.to_string(), loc.clone()) {
                self.fail(loc, format!("duplicate firm id '{id}' (first at {prev})"));
            }
        }
    }

    /// `x_…` fields, as text.
    pub fn extras(&self) -> Extras {
        let rec: &'a R = self.rec;
        (0..rec.width())
            .filter(|&i| rec.name(i).starts_with("x_"))
            .map(|i| {
                let v = match rec.value(i) {
                    ValueRef::Text(s) => s.to_string(),
                    ValueRef::Number(x) => format_number(x),
                    ValueRef::Bool(b) => b.to_string(),
                    ValueRef::Null | ValueRef::Composite => String::new(),
                };
                (rec.name(i).to_string(), v)
            })
            .collect()
    }

    pub fn check_unknown(&mut self, schema: &Schema) {
        if !self.table.check_unknown {
            return;
        }
        let rec: &'a R = self.rec;
        for i in 0..rec.width() {
            let name = rec.name(i);
            if !schema.knows(name) {
                let loc = self.field_loc(name);
                self.fail(
                    loc,
                    format!(
                        "unknown field '{name}': expected {} (prefix your own fields with x_)",
                        schema.describe()
                    ),
                );
            }
        }
    }
}

/// Parses a number written as text. Rejects NaN, infinities, thousands separators and
/// anything that is not a plain decimal.
pub(crate) fn parse_number(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let plain = !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
    match t.parse::<f64>() {
        Ok(v) if plain && v.is_finite() => Ok(v),
        Ok(_) => Err(format!("expected a finite number, found '{t}'")),
        _ if t.contains(',') => Err(format!(
            "malformed number '{t}': expected a plain decimal such as 1500000.5 (no thousands separators)"
        )),
        _ => Err(format!("malformed number '{t}': expected a decimal number")),
    }
}

/// Shortest text that reads back as the same `f64`.
pub(crate) fn format_number(x: f64) -> String {
    format!("{x}")
}

fn check_any(v: f64) -> Result<f64, String> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err("expected a finite number".into())
    }
}

pub(crate) fn check_date(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && digits(0..4)
        && digits(5..7)
        && digits(8..10);
    let (m, d) = if ok {
        (
            s[5..7].parse::<u32>().unwrap_or(0),
            s[8..10].parse::<u32>().unwrap_or(0),
        )
    } else {
        (0, 0)
    };
    if ok && (1..=12).contains(&m) && (1..=31).contains(&d) {
        Ok(())
    } else {
        Err(format!("expected a date as YYYY-MM-DD, found '{s}'"))
    }
}

/// Parses a word of a closed vocabulary: the exact spelling at once, anything else (case,
/// `-` and spaces) through its `FromStr`.
fn vocabulary<K: FromStr + Copy>(s: &str, all: &[K], spelling: fn(K) -> &'static str) -> Option<K> {
    all.iter()
        .copied()
        .find(|&k| spelling(k) == s)
        .or_else(|| s.parse().ok())
}

/// The kind spelt `k` in the `kind` field of `row`, from the vocabulary `all`; an unknown
/// spelling is reported there (`what`: "firm" or "exposure") with the accepted ones.
fn known_kind<K: FromStr + Copy, R: Record + ?Sized>(
    row: &mut Row<'_, R>,
    k: &str,
    what: &str,
    all: &[K],
    spelling: fn(K) -> &'static str,
    expected: fn() -> String,
) -> Option<K> {
    let kind = vocabulary(k, all, spelling);
    if kind.is_none() {
        let loc = row.field_loc("kind");
        row.fail(
            loc,
            format!("unknown {what} kind '{k}': expected one of {}", expected()),
        );
    }
    kind
}

/// An id as a key of the tables that resolve references: held inline when short, as most ids
/// are, so that looking one up does not follow a pointer to its text. Millions of lookups into
/// a table of millions of ids are bound by such memory accesses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum IdKey {
    Short { len: u8, bytes: [u8; 22] },
    Long(Box<str>),
}

impl IdKey {
    fn new(s: &str) -> Self {
        let mut bytes = [0; 22];
        match bytes.get_mut(..s.len()) {
            Some(b) => {
                b.copy_from_slice(s.as_bytes());
                IdKey::Short {
                    len: s.len() as u8,
                    bytes,
                }
            }
            None => IdKey::Long(s.into()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Always whole characters: the text of a `&str`.
            IdKey::Short { len, bytes } => {
                std::str::from_utf8(&bytes[..*len as usize]).unwrap_or("")
            }
            IdKey::Long(s) => s,
        }
    }
}

impl std::hash::Hash for IdKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl std::borrow::Borrow<str> for IdKey {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

/// Validates a network record by record, in the order firms, assets, exposures, holdings
/// (exposures refer to firms and assets, holdings to both): each record is checked as it
/// arrives and only what it becomes in the network is kept.
///
/// Exposures whose debtor `keep_debtor` rejects are validated like every other and then
/// dropped, so that a process of a distributed run holds only its share.
pub(crate) struct Builder<'k> {
    parts: Parts,
    diags: Vec<Diagnostic>,
    keep_debtor: &'k dyn Fn(u32, usize) -> bool,
    firm_ids: HashMap<IdKey, u32>,
    /// Where each firm's record is, to cite the first definition of a repeated id.
    firm_pos: Vec<usize>,
    asset_ids: HashMap<IdKey, u32>,
    /// Exposure ids and where the latest use of each is.
    exposure_ids: HashMap<String, usize>,
    /// Holdings by (firm, asset) and where the latest row of each is.
    holdings_seen: HashMap<(u32, u32), usize>,
    /// Running total of every amount (see [`Builder::add`]).
    total: f64,
    /// Where the running total first stopped being finite.
    overflow: Option<Location>,
    exposure_kinds: String,
}

/// What a firm reference or id is expected to be, in messages.
const FIRM_ID: &str = "a firm id";
/// What an asset reference is expected to be, in messages.
const ASSET_REF: &str = "an asset id";

impl<'k> Builder<'k> {
    /// A builder that keeps the exposures whose debtor index satisfies `keep_debtor`.
    pub fn new(keep_debtor: &'k dyn Fn(u32, usize) -> bool) -> Self {
        Self {
            parts: Parts::default(),
            diags: Vec::new(),
            keep_debtor,
            firm_ids: HashMap::new(),
            firm_pos: Vec::new(),
            asset_ids: HashMap::new(),
            exposure_ids: HashMap::new(),
            holdings_seen: HashMap::new(),
            total: 0.0,
            overflow: None,
            exposure_kinds: format!("one of {}", ExposureKind::expected()),
        }
    }

    /// Adds `|xs|` to the running total of every amount in the network (balance sheets,
    /// exposures, market values of holdings and collateral), remembering where it first stops
    /// being finite. Below that bound no sum or difference of amounts formed by the models can
    /// overflow. Called on valid records only, which when nothing else is wrong are all of
    /// them, in the order firms, exposures, holdings.
    fn add(&mut self, xs: &[f64], loc: impl FnOnce() -> Location) {
        if self.overflow.is_some() {
            return;
        }
        self.total += xs.iter().map(|x| x.abs()).sum::<f64>();
        if !self.total.is_finite() {
            self.overflow = Some(loc());
        }
    }

    /// Validates one firm. Every record becomes a firm (a placeholder when invalid), so that
    /// firm indices are record indices and references still resolve.
    pub fn firm(&mut self, table: &TableInfo, rec: &(impl Record + ?Sized)) {
        let mut row = Row::new(rec, table, &mut self.diags);
        row.check_unknown(&FIRMS);
        let id = row.required_text("id", FIRM_ID);
        let name = row.text("name");
        if name.is_none() && !row.has("name") {
            row.missing("name", "a firm name");
        }
        let kind = match row.text("kind") {
            Some(k) => known_kind(
                &mut row,
                &k,
                "firm",
                FirmKind::ALL,
                FirmKind::as_str,
                FirmKind::expected,
            ),
            None if !row.has("kind") => {
                row.missing("kind", &format!("one of {}", FirmKind::expected()));
                None
            }
            None => Some(FirmKind::Other),
        };
        let cash = row.required_number("cash", check_amount);
        let other_assets = row.required_number("other_assets", check_amount);
        let external_liabilities = row.required_number("external_liabilities", check_amount);
        let capital = row.optional_number("capital", check_any);
        let weight = row.optional_number("weight", check_amount);
        let failed_on = row.text("failed_on").and_then(|d| match check_date(&d) {
            Ok(()) => Some(d.into_owned()),
            Err(e) => {
                let loc = row.field_loc("failed_on");
                row.fail(loc, e);
                None
            }
        });
        let extra = row.extras();
        if let Some(id) = &id {
            let ix = self.parts.firms.len() as u32;
            match self.firm_ids.entry(IdKey::new(id)) {
                Entry::Occupied(prev) => {
                    let first = table.locator.record(self.firm_pos[*prev.get() as usize]);
                    let loc = row.field_loc("id");
                    row.fail(
                        loc,
                        format!("duplicate firm id '{id}' (first defined at {first})"),
                    );
                }
                Entry::Vacant(v) => {
                    v.insert(ix);
                }
            }
        }
        self.firm_pos.push(rec.pos());
        if let (true, Some(id), Some(kind)) = (row.ok, id, kind) {
            let id = id.into_owned();
            let name = name.map_or_else(|| id.clone(), Cow::into_owned);
            let firm = Firm {
                id,
                name,
                kind,
                cash,
                other_assets,
                external_liabilities,
                capital,
                weight,
                failed_on,
                extra,
            };
            let xs = [
                firm.cash,
                firm.other_assets,
                firm.external_liabilities,
                firm.capital.unwrap_or(0.0),
            ];
            self.add(&xs, || table.locator.record(rec.pos()));
            self.parts.firms.push(firm);
        } else {
            self.parts.firms.push(placeholder_firm());
        }
    }

    /// After the last firm: a network needs at least one. `loc` is where the firms table is.
    pub fn end_firms(&mut self, loc: &Location) {
        if self.parts.firms.is_empty() && self.diags.is_empty() {
            let loc = if loc.file.is_empty() {
                Location::file("firms")
            } else {
                loc.clone()
            };
            self.diags
                .push(Diagnostic::new(loc, "no firms: expected at least one firm"));
        }
    }

    /// Validates one asset. Every record becomes an asset, so that asset indices are record
    /// indices.
    pub fn asset(&mut self, table: &TableInfo, rec: &(impl Record + ?Sized)) {
        let mut row = Row::new(rec, table, &mut self.diags);
        row.check_unknown(&ASSETS);
        let id = row.required_text("id", "an asset id");
        let name = row.text("name");
        let price = row.required_number("price", check_price);
        let depth = row.optional_number("depth", |d| {
            check_price(d)
                .map_err(|_| format!("expected a positive market depth in units, found {d}"))
        });
        let extra = row.extras();
        if let Some(id) = &id {
            let ix = self.parts.assets.len() as u32;
            match self.asset_ids.entry(IdKey::new(id)) {
                Entry::Occupied(_) => {
                    let loc = row.field_loc("id");
                    row.fail(loc, format!("duplicate asset id '{id}'"));
                }
                Entry::Vacant(v) => {
                    v.insert(ix);
                }
            }
        }
        let id = id.map(Cow::into_owned).unwrap_or_default();
        self.parts.assets.push(Asset {
            name: name.map_or_else(|| id.clone(), Cow::into_owned),
            id,
            price: if price > 0.0 { price } else { 1.0 },
            depth,
            extra,
        });
    }

    /// Validates one exposure; keeps it when valid and its debtor is kept.
    pub fn exposure(&mut self, table: &TableInfo, rec: &(impl Record + ?Sized)) {
        let mut row = Row::new(rec, table, &mut self.diags);
        row.check_unknown(&EXPOSURES);
        let creditor = resolve(&mut row, "creditor", &self.firm_ids, "firm", FIRM_ID);
        let debtor = resolve(&mut row, "debtor", &self.firm_ids, "firm", FIRM_ID);
        if let (Some(c), Some(d)) = (creditor, debtor)
            && c == d
            && let Some(id) = row.text("debtor")
        {
            let loc = row.field_loc("debtor");
            row.fail(
                loc,
                format!("self-exposure: firm '{id}' is both creditor and debtor"),
            );
        }
        let kind = row
            .required_text("kind", &self.exposure_kinds)
            .and_then(|k| {
                known_kind(
                    &mut row,
                    &k,
                    "exposure",
                    ExposureKind::ALL,
                    ExposureKind::as_str,
                    ExposureKind::expected,
                )
            });
        let amount = row.required_number("amount", check_amount);
        let asset = row.text("collateral_asset");
        // `Some(Err)`: present but bad, already reported.
        let units = row.number("collateral_units", check_amount);
        let haircut = row.optional_number("haircut", check_haircut);
        let collateral = match (asset, units) {
            (_, Some(Err(()))) => None,
            (Some(a), Some(Ok(units))) => match self.asset_ids.get(a.as_ref()) {
                Some(&asset) => Some(Collateral {
                    exposure: self.parts.exposures.len() as u32,
                    asset,
                    units,
                    haircut: haircut.unwrap_or(0.0),
                }),
                None => {
                    let loc = row.field_loc("collateral_asset");
                    row.fail(
                        loc,
                        format!(
                            "collateral asset '{a}' has no price: expected an id from assets.csv"
                        ),
                    );
                    None
                }
            },
            (Some(_), None) => {
                let loc = row.field_loc("collateral_asset");
                row.fail(loc, "collateral_asset given without collateral_units: expected the number of units pledged");
                None
            }
            (None, Some(Ok(_))) => {
                let loc = row.field_loc("collateral_units");
                row.fail(loc, "collateral_units given without collateral_asset: expected the id of the pledged asset");
                None
            }
            (None, None) => {
                if haircut.is_some_and(|h| h > 0.0) {
                    let loc = row.field_loc("haircut");
                    row.fail(loc, "haircut given without collateral: expected collateral_asset and collateral_units");
                }
                None
            }
        };
        if kind == Some(ExposureKind::Equity) && collateral.is_some() {
            let loc = row.record_loc();
            row.fail(loc, "an equity stake cannot be secured by collateral");
        }
        let id = row.text("id").map(|i| {
            if let Some(prev) = self.exposure_ids.insert(i.to_string(), rec.pos()) {
                let first = table.locator.field(prev, "id");
                let loc = row.field_loc("id");
                row.fail(
                    loc,
                    format!("duplicate exposure id '{i}' (first used at {first})"),
                );
            }
            i.into_owned()
        });
        let source = row.text("source").map(Cow::into_owned);
        let extra = row.extras();
        if let (true, Some(creditor), Some(debtor), Some(kind)) = (row.ok, creditor, debtor, kind) {
            let mut pledged = 0.0;
            if let Some(c) = &collateral {
                pledged += c.units * self.parts.assets[c.asset as usize].price;
            }
            self.add(&[amount, pledged], || table.locator.record(rec.pos()));
            if !(self.keep_debtor)(debtor, self.parts.firms.len()) {
                return;
            }
            let label = ExposureLabel { id, source, extra };
            let k = self.parts.exposures.len();
            self.parts.collateral.extend(collateral);
            self.parts.exposures.push(Exposure {
                creditor,
                debtor,
                kind,
                amount,
            });
            // Labels are either none or one per exposure: kept from the first that says
            // something, with empty ones for the exposures before it.
            if !self.parts.labels.is_empty() || !label.is_empty() {
                self.parts.labels.resize_with(k, ExposureLabel::default);
                self.parts.labels.push(label);
            }
        }
    }

    /// Validates one holding.
    pub fn holding(&mut self, table: &TableInfo, rec: &(impl Record + ?Sized)) {
        let mut row = Row::new(rec, table, &mut self.diags);
        row.check_unknown(&HOLDINGS);
        let firm = resolve(&mut row, "firm", &self.firm_ids, "firm", FIRM_ID);
        let asset = resolve(&mut row, "asset", &self.asset_ids, "asset", ASSET_REF);
        let units = row.required_number("units", check_amount);
        if let (true, Some(firm), Some(asset)) = (row.ok, firm, asset) {
            if let Some(prev) = self.holdings_seen.insert((firm, asset), rec.pos()) {
                let first = table.locator.record(prev);
                let loc = row.record_loc();
                row.fail(loc, format!("duplicate holding of the same asset by the same firm (first at {first}): combine the units into one row"));
            } else {
                let value = units * self.parts.assets[asset as usize].price;
                self.add(&[value], || table.locator.record(rec.pos()));
                self.parts.holdings.push(Holding { firm, asset, units });
            }
        }
    }

    /// The parts, or every problem found.
    pub fn finish(mut self, meta: Meta) -> Result<Parts, Vec<Diagnostic>> {
        if self.diags.is_empty()
            && let Some(loc) = self.overflow
        {
            self.diags.push(Diagnostic::new(
                loc,
                "amounts too large: the total of the network's amounts exceeds the largest \
                 representable number (about 1.8e308) at this row; express amounts in a larger \
                 unit (thousands, millions)",
            ));
        }
        if !self.diags.is_empty() {
            return Err(self.diags);
        }
        let mut parts = self.parts;
        parts.meta = meta;
        if !parts.labels.is_empty() {
            parts
                .labels
                .resize_with(parts.exposures.len(), ExposureLabel::default);
        }
        Ok(parts)
    }
}

/// The index of the row named by field `name` in a table of `what`s, or a located error.
fn resolve<R: Record + ?Sized>(
    row: &mut Row<'_, R>,
    name: &str,
    ids: &HashMap<IdKey, u32>,
    what: &str,
    expected: &str,
) -> Option<u32> {
    let id = row.required_text(name, expected)?;
    match ids.get(id.as_ref()) {
        Some(&ix) => Some(ix),
        None => {
            let loc = row.field_loc(name);
            row.fail(
                loc,
                format!("unknown {what} '{id}': no such id in the {what}s table"),
            );
            None
        }
    }
}

/// Validates every record and cross-reference of a network held in memory, keeping only the
/// exposures whose debtor index satisfies `keep_debtor`; returns the parts or all problems
/// found.
pub(crate) fn build(
    raw: RawNetwork,
    keep_debtor: &dyn Fn(u32, usize) -> bool,
) -> Result<Parts, Vec<Diagnostic>> {
    let mut b = Builder::new(keep_debtor);
    for rec in &raw.firms.records {
        b.firm(&raw.firms.info, rec);
    }
    b.end_firms(&raw.firms.info.loc);
    for rec in &raw.assets.records {
        b.asset(&raw.assets.info, rec);
    }
    for rec in &raw.exposures.records {
        b.exposure(&raw.exposures.info, rec);
    }
    for rec in &raw.holdings.records {
        b.holding(&raw.holdings.info, rec);
    }
    b.finish(raw.meta)
}

fn placeholder_firm() -> Firm {
    Firm {
        id: String::new(),
        name: String::new(),
        kind: FirmKind::Other,
        cash: 0.0,
        other_assets: 0.0,
        external_liabilities: 0.0,
        capital: None,
        weight: None,
        failed_on: None,
        extra: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number(" 12.5 "), Ok(12.5));
        assert_eq!(parse_number("1e9"), Ok(1e9));
        assert!(parse_number("NaN").is_err());
        assert!(parse_number("inf").is_err());
        assert!(parse_number("1,000").unwrap_err().contains("thousands"));
        assert!(parse_number("abc").is_err());
        assert!(parse_number("1e999").unwrap_err().contains("finite"));
    }

    #[test]
    fn dates() {
        assert!(check_date("2022-11-11").is_ok());
        assert!(check_date("2022-13-01").is_err());
        assert!(check_date("11/11/2022").is_err());
    }
}
