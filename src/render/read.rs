//! Reading back a result written by `contagion simulate --format json`, to draw it later
//! (`contagion render NETWORK --result FILE`). Only what drawing needs must be present:
//! `firms` (with `id`, `defaulted`, `default_round`); every other field has a neutral
//! default.

use serde_json::{Map, Value};

use crate::engine::Cause;
use crate::error::{Diagnostic, Error, Location};
use crate::report::{
    CausedBy, EventRecord, FirmOutcome, NetworkInfo, PricePoint, RoundOutcome, SimulationResult,
    Summary,
};
use crate::settings::Settings;

fn cause(s: &str) -> Option<Cause> {
    Some(match s {
        "shock" => Cause::Shock,
        "counterparty_default" => Cause::CounterpartyDefault,
        "margin_call" => Cause::MarginCall,
        "run" => Cause::Run,
        "price_fall" => Cause::PriceFall,
        "initially_insolvent" => Cause::InitiallyInsolvent,
        _ => return None,
    })
}

fn event_kind(s: &str) -> &'static str {
    match s {
        "margin_call" => "margin_call",
        "seizure" => "seizure",
        "withdrawal" => "withdrawal",
        "liquidation" => "liquidation",
        _ => "event",
    }
}

/// Parses a result document; `file` names it in messages. Problems are reported together,
/// each with its JSON path (and line and column).
pub fn read_result(file: &str, bytes: &[u8]) -> Result<SimulationResult, Error> {
    let (text, v) = crate::io::parse_json(file, bytes).map_err(|d| Error::Input(vec![d].into()))?;
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let at = |path: &str| Location::file(file).with_field(path.to_string());
    let Value::Object(root) = &v else {
        return Err(Error::input(
            Location::at(file, 1, Some(1)),
            "expected a JSON object written by `contagion simulate --format json`",
        ));
    };
    let empty = Map::new();
    let obj = |k: &str| root.get(k).and_then(Value::as_object).unwrap_or(&empty);
    let f64_of = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_f64);
    let str_of =
        |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(String::from);

    let network = NetworkInfo {
        name: str_of(obj("network"), "name"),
        currency: str_of(obj("network"), "currency").unwrap_or_else(|| "USD".into()),
    };

    let model = match root.get("model").and_then(Value::as_object) {
        Some(m) => {
            let mut m = m.clone();
            if let Some(name) = m.remove("name") {
                m.insert("model".into(), name);
            }
            match Settings::default().merge_json(&Value::Object(m), file) {
                Ok(s) => s,
                Err(e) => {
                    notes.push(format!("the settings recorded in {file} could not all be read ({e}); defaults are shown"));
                    Settings::default()
                }
            }
        }
        None => Settings::default(),
    };

    let scenario = match root.get("scenario").and_then(Value::as_object) {
        Some(s) => {
            let mut doc = Map::new();
            for k in ["name", "description", "shocks", "sweep"] {
                if let Some(x) = s.get(k)
                    && !x.is_null()
                {
                    doc.insert(k.to_string(), x.clone());
                }
            }
            let bytes = serde_json::to_vec(&Value::Object(doc)).unwrap_or_default();
            match crate::scenario::parse_scenario(file, &bytes) {
                Ok(sc) => sc,
                Err(Error::Input(d)) => {
                    diags.extend(d.0.into_iter().map(|mut x| {
                        x.location.line = None;
                        x.location.column = None;
                        x.location.field =
                            Some(format!("scenario.{}", x.location.field.unwrap_or_default()));
                        x
                    }));
                    Default::default()
                }
                Err(e) => return Err(e),
            }
        }
        None => Default::default(),
    };

    let mut firms = Vec::new();
    match root.get("firms").and_then(Value::as_array) {
        Some(items) => {
            for (k, f) in items.iter().enumerate() {
                let path = format!("firms[{k}]");
                let Some(f) = f.as_object() else {
                    diags.push(Diagnostic::new(at(&path), "expected a firm object"));
                    continue;
                };
                let Some(id) = str_of(f, "id") else {
                    diags.push(Diagnostic::new(
                        at(&format!("{path}.id")),
                        "expected the firm's id",
                    ));
                    continue;
                };
                let Some(defaulted) = f.get("defaulted").and_then(Value::as_bool) else {
                    diags.push(Diagnostic::new(
                        at(&format!("{path}.defaulted")),
                        "expected true or false",
                    ));
                    continue;
                };
                let cause = match f.get("cause") {
                    Some(Value::String(s)) => {
                        let c = cause(s);
                        if c.is_none() {
                            notes.push(format!("unknown cause '{s}' for {id} in {file}"));
                        }
                        c
                    }
                    _ => None,
                };
                let caused_by = f
                    .get("caused_by")
                    .and_then(Value::as_array)
                    .map(|v| {
                        v.iter()
                            .filter_map(Value::as_object)
                            .map(|c| CausedBy {
                                firm: str_of(c, "firm"),
                                asset: str_of(c, "asset"),
                                loss: f64_of(c, "loss").unwrap_or(0.0),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                firms.push(FirmOutcome {
                    name: str_of(f, "name").unwrap_or_else(|| id.clone()),
                    kind: str_of(f, "kind").unwrap_or_else(|| "other".into()),
                    id,
                    defaulted,
                    halted: f.get("halted").and_then(Value::as_bool),
                    default_round: f
                        .get("default_round")
                        .and_then(Value::as_u64)
                        .map(|r| r as u32),
                    cause,
                    caused_by,
                    equity_before: f64_of(f, "equity_before").unwrap_or(0.0),
                    equity_after: f64_of(f, "equity_after").unwrap_or(0.0),
                    loss: f64_of(f, "loss").unwrap_or(0.0),
                    distress: f64_of(f, "distress").unwrap_or(if defaulted { 1.0 } else { 0.0 }),
                    payment: f64_of(f, "payment"),
                    obligations: f64_of(f, "obligations"),
                    recovery_rate: f64_of(f, "recovery_rate"),
                });
            }
        }
        None => diags.push(Diagnostic::new(at("firms"), "expected an array of firms")),
    }

    let rounds = root
        .get("rounds")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(Value::as_object)
                .map(|r| RoundOutcome {
                    round: r.get("round").and_then(Value::as_u64).unwrap_or(0) as u32,
                    defaults: r
                        .get("defaults")
                        .and_then(Value::as_array)
                        .map(|d| {
                            d.iter()
                                .filter_map(Value::as_str)
                                .map(String::from)
                                .collect()
                        })
                        .unwrap_or_default(),
                    losses: f64_of(r, "losses").unwrap_or(0.0),
                })
                .collect()
        })
        .unwrap_or_default();

    let s = obj("summary");
    let defaults = firms.iter().filter(|f| f.defaulted).count();
    let summary = Summary {
        firms: s
            .get("firms")
            .and_then(Value::as_u64)
            .map_or(firms.len(), |x| x as usize),
        defaults: s
            .get("defaults")
            .and_then(Value::as_u64)
            .map_or(defaults, |x| x as usize),
        total_losses: f64_of(s, "total_losses").unwrap_or(0.0),
        equity_losses: f64_of(s, "equity_losses").unwrap_or(0.0),
        external_losses: f64_of(s, "external_losses").unwrap_or(0.0),
        payment_shortfall: f64_of(s, "payment_shortfall"),
        debtrank: f64_of(s, "debtrank"),
        initial_stress: f64_of(s, "initial_stress"),
        spectral_radius: f64_of(s, "spectral_radius"),
        final_prices: s
            .get("final_prices")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    };

    let price_path = root
        .get("price_path")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(Value::as_object)
                .map(|p| PricePoint {
                    round: p.get("round").and_then(Value::as_u64).unwrap_or(0) as u32,
                    prices: p
                        .get("prices")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let events = root
        .get("events")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(Value::as_object)
                .map(|e| EventRecord {
                    round: e.get("round").and_then(Value::as_u64).unwrap_or(0) as u32,
                    kind: event_kind(e.get("kind").and_then(Value::as_str).unwrap_or("")),
                    firm: str_of(e, "firm").unwrap_or_default(),
                    counterparty: str_of(e, "counterparty"),
                    asset: str_of(e, "asset"),
                    amount: f64_of(e, "amount").unwrap_or(0.0),
                    paid: f64_of(e, "paid").unwrap_or(0.0),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut all_notes: Vec<String> = root
        .get("notes")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    all_notes.extend(notes);

    if !diags.is_empty() {
        crate::io::locate_json(&text, &mut diags);
        return Err(Error::Input(diags.into()));
    }
    Ok(SimulationResult {
        network,
        model,
        scenario,
        converged: root
            .get("converged")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        iterations: root.get("iterations").and_then(Value::as_u64).unwrap_or(0) as usize,
        rounds,
        firms,
        summary,
        notes: all_notes,
        price_path,
        events,
    })
}
