//! End-to-end tests of the command line: every subcommand through the real binary, the JSON
//! output contract, shock flags, output files and exit codes. Expected numbers are derived by
//! hand from the inputs (the derivation is next to each assertion).

use std::path::Path;

use serde_json::Value;

use crate::util::{cli, close, temp_network};

/// Runs `contagion ARGS…`, expects success, returns standard output.
fn ok(args: &[&str]) -> String {
    let out = cli().args(args).output().expect("run contagion");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{args:?} failed ({:?}):\n{stderr}",
        out.status.code()
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs `contagion ARGS…`, expects exit code 2 without a panic, returns standard error.
fn usage_error(args: &[&str]) -> String {
    let out = cli().args(args).output().expect("run contagion");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
    assert_eq!(out.status.code(), Some(2), "{args:?}:\n{stderr}");
    stderr
}

/// `simulate ARGS… --format json`, parsed.
fn simulate_json(args: &[&str]) -> Value {
    let mut all = vec!["simulate"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let text = ok(&all);
    no_non_finite(&text);
    serde_json::from_str(&text).expect("simulate --format json writes one JSON object")
}

/// JSON must not carry NaN or infinities in any spelling.
#[track_caller]
fn no_non_finite(text: &str) {
    for bad in ["NaN", "nan", "Infinity", "inf"] {
        let hit = text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| word == bad);
        assert!(!hit, "{bad} in JSON output:\n{text}");
    }
}

/// The entry of firm `id` in a result's `firms` array.
fn firm<'a>(result: &'a Value, id: &str) -> &'a Value {
    result["firms"]
        .as_array()
        .expect("firms array")
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("firm {id} in {result}"))
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is a number in {v}"))
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Two firms and one token: A (a fund) holds 2 FTT at price 10 and owes B 15; A has no cash.
/// Unshocked, A's assets are 2 × 10 = 20 ≥ 15: everybody pays in full.
fn token_network() -> tempfile::TempDir {
    temp_network(&[
        (
            "firms.csv",
            "id,name,kind,cash,other_assets,external_liabilities\n\
             A,Fund A,fund,0,0,0\n\
             B,Bank B,bank,1,0,0\n",
        ),
        (
            "exposures.csv",
            "creditor,debtor,kind,amount\nB,A,loan,15\n",
        ),
        ("assets.csv", "id,name,price\nFTT,FTX Token,10\n"),
        ("holdings.csv", "firm,asset,units\nA,FTT,2\n"),
    ])
}

// ---------------------------------------------------------------------------------------------
// validate

#[test]
fn validate_summarises_a_network() {
    let out = ok(&["validate", "graphs/textbook-3"]);
    for id in ["A", "B", "C"] {
        assert!(out.contains(id), "firm {id} listed:\n{out}");
    }
}

#[test]
fn validate_json_balance_sheets() {
    let out = ok(&["validate", "graphs/textbook-3", "--format", "json"]);
    no_non_finite(&out);
    let v: Value = serde_json::from_str(&out).expect("JSON summary");
    assert_eq!(v["firms"], 3);
    assert_eq!(v["exposures"], 2);
    // Exposures: A owes B 10, B owes C 10 → 20 in total.
    close("total exposure", num(&v, "total_exposure"), 20.0, 1e-12);
    // Equity = cash + claims − debts: A 4 − 10 = −6, B 1 + 10 − 10 = 1, C 1 + 10 = 11.
    let sheets = v["balance_sheets"].as_array().expect("balance sheets");
    let equity: Vec<(String, f64)> = sheets
        .iter()
        .map(|b| (b["id"].as_str().unwrap().to_string(), num(b, "equity")))
        .collect();
    assert_eq!(
        equity,
        vec![
            ("A".to_string(), -6.0),
            ("B".to_string(), 1.0),
            ("C".to_string(), 11.0)
        ]
    );
}

#[test]
fn validate_writes_the_output_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("summary.json");
    let stdout = ok(&[
        "validate",
        "graphs/textbook-3",
        "--format",
        "json",
        "-o",
        path_str(&out),
    ]);
    assert!(stdout.is_empty(), "result goes to the file, not stdout");
    let text = std::fs::read_to_string(&out).expect("output written");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(v["firms"], 3);
}

#[test]
fn validate_missing_network_is_bad_input() {
    let e = usage_error(&["validate", "graphs/no-such-network"]);
    assert!(e.contains("no-such-network"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// simulate: the JSON contract

#[test]
fn simulate_json_contract_on_textbook_3() {
    let r = simulate_json(&["graphs/textbook-3"]);

    // Every setting is echoed, with its default.
    let model = &r["model"];
    for key in [
        "name",
        "alpha",
        "beta",
        "external",
        "vector",
        "solver",
        "tolerance",
        "max_iterations",
    ] {
        assert!(!model[key].is_null(), "model.{key} in {model}");
    }
    assert_eq!(model["name"], "clearing");
    assert_eq!(model["alpha"], 1.0);
    assert_eq!(model["beta"], 1.0);
    assert_eq!(model["external"], "pari-passu");
    assert_eq!(model["vector"], "greatest");

    assert_eq!(r["converged"], true);
    assert!(r["iterations"].is_u64(), "iterations is an integer");

    // A has 4 and owes 10: insolvent on its own, so it defaults in the first wave and pays 4.
    // B then has 1 + 4 = 5 against 10 owed: it defaults in the second wave and pays 5.
    // C has 1 + 5 = 6 and owes nothing.
    let rounds = r["rounds"].as_array().expect("rounds");
    assert_eq!(rounds.len(), 2, "{rounds:?}");
    assert_eq!(rounds[0]["round"], 1);
    assert_eq!(rounds[0]["defaults"], serde_json::json!(["A"]));
    assert_eq!(rounds[1]["round"], 2);
    assert_eq!(rounds[1]["defaults"], serde_json::json!(["B"]));

    // Every firm, in input order, with every contract field.
    let firms = r["firms"].as_array().expect("firms");
    let ids: Vec<&str> = firms.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["A", "B", "C"]);
    for f in firms {
        for key in [
            "id",
            "defaulted",
            "default_round",
            "cause",
            "equity_before",
            "equity_after",
            "payment",
            "obligations",
            "recovery_rate",
        ] {
            assert!(f.as_object().unwrap().contains_key(key), "{key} in {f}");
        }
    }
    // (id, defaulted, round, payment, obligations, recovery = payment / obligations,
    //  equity before, equity after)
    let want = [
        ("A", true, Some(1), 4.0, 10.0, 0.4, -6.0, 0.0),
        ("B", true, Some(2), 5.0, 10.0, 0.5, 1.0, 0.0),
        ("C", false, None, 0.0, 0.0, 1.0, 11.0, 6.0),
    ];
    for (id, defaulted, round, paid, owed, recovery, before, after) in want {
        let f = firm(&r, id);
        assert_eq!(f["defaulted"], defaulted, "{id}");
        assert_eq!(f["default_round"].as_u64(), round, "{id}");
        assert_eq!(
            f["cause"].is_null(),
            !defaulted,
            "{id}: cause iff defaulted"
        );
        close(&format!("{id} payment"), num(f, "payment"), paid, 1e-9);
        close(
            &format!("{id} obligations"),
            num(f, "obligations"),
            owed,
            1e-9,
        );
        close(
            &format!("{id} recovery"),
            num(f, "recovery_rate"),
            recovery,
            1e-9,
        );
        close(
            &format!("{id} equity before"),
            num(f, "equity_before"),
            before,
            1e-9,
        );
        close(
            &format!("{id} equity after"),
            num(f, "equity_after"),
            after,
            1e-9,
        );
    }
    assert_eq!(r["summary"]["defaults"], 2);
}

#[test]
fn simulate_ring_defaults_travel_round_the_cycle() {
    // ring-4: A owes B 10 (cash 2), B owes C 10 (cash 2), C owes A 5 and D 5 (cash 0.5),
    // D has cash 1 and owes nothing.
    // Greatest clearing vector: C receives p_B and pays p_C = min(10, 0.5 + p_B), split
    // evenly between A and D; A pays p_A = min(10, 2 + p_C / 2); B pays p_B = min(10, 2 + p_A).
    // All three in default: p_A = 2 + (0.5 + p_B)/2, p_B = 2 + p_A
    //   → p_A = 2 + (0.5 + 2 + p_A)/2 → p_A/2 = 3.25 → p_A = 6.5, p_B = 8.5, p_C = 9.
    // Waves: with everyone paying in full, only A is short (2 + 5 < 10); with A paying 7,
    // B is short (2 + 7 < 10); with B paying 9, C is short (0.5 + 9 < 10). At the solution
    // every payment is below the 10 owed, so all three are in default.
    let r = simulate_json(&["graphs/ring-4"]);
    for (id, paid) in [("A", 6.5), ("B", 8.5), ("C", 9.0), ("D", 0.0)] {
        close(
            &format!("{id} payment"),
            num(firm(&r, id), "payment"),
            paid,
            1e-9,
        );
    }
    assert_eq!(firm(&r, "D")["defaulted"], false);
    // D receives half of C's 9: equity 1 + 4.5.
    close(
        "D equity after",
        num(firm(&r, "D"), "equity_after"),
        5.5,
        1e-9,
    );
}

#[test]
fn simulate_default_flag() {
    // B fails outright: its own cash is written off and it passes on what A pays it (4).
    // A still pays 4 (cash 4, owes 10). C ends with 1 + 4 = 5.
    let r = simulate_json(&["graphs/textbook-3", "--default", "B"]);
    let b = firm(&r, "B");
    assert_eq!(b["defaulted"], true);
    assert_eq!(b["default_round"], 0);
    assert!(b["cause"].is_string());
    close("B payment", num(b, "payment"), 4.0, 1e-9);
    close(
        "C equity after",
        num(firm(&r, "C"), "equity_after"),
        5.0,
        1e-9,
    );
    let round0 = r["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["round"] == 0)
        .expect("round 0 listed");
    assert!(round0["defaults"].as_array().unwrap().contains(&"B".into()));
}

#[test]
fn simulate_price_flag_fraction_and_percentage() {
    let net = token_network();
    let dir = path_str(net.path());
    // Clearing alone (no fire sales), so the price is exactly the shocked one.
    // FTT falls 50%: A's 2 units are worth 2 × 5 = 10 < 15 owed → A defaults, pays 10,
    // recovery 10/15. B ends with 1 + 10 = 11.
    let frac = simulate_json(&[dir, "--model", "clearing", "--price", "FTT=-0.5"]);
    let pct = simulate_json(&[dir, "--model", "clearing", "--price", "FTT=-50%"]);
    for r in [&frac, &pct] {
        let a = firm(r, "A");
        assert_eq!(a["defaulted"], true);
        close("A payment", num(a, "payment"), 10.0, 1e-9);
        close("A recovery", num(a, "recovery_rate"), 10.0 / 15.0, 1e-9);
        close(
            "B equity after",
            num(firm(r, "B"), "equity_after"),
            11.0,
            1e-9,
        );
        close(
            "final FTT price",
            r["summary"]["final_prices"]["FTT"].as_f64().expect("price"),
            5.0,
            1e-9,
        );
    }
    assert_eq!(frac["firms"], pct["firms"]);
    // Unshocked: 20 ≥ 15, A pays in full.
    let base = simulate_json(&[dir, "--model", "clearing"]);
    assert_eq!(firm(&base, "A")["defaulted"], false);
    close("A payment", num(firm(&base, "A"), "payment"), 15.0, 1e-9);
}

#[test]
fn simulate_asset_loss_amount_and_percentage() {
    // A loses 2 of its cash 4 (or 50% of its 4 of cash and other assets): A pays 2,
    // B has 1 + 2 = 3 and pays 3, C ends with 1 + 3 = 4.
    let amount = simulate_json(&["graphs/textbook-3", "--asset-loss", "A=2"]);
    let pct = simulate_json(&["graphs/textbook-3", "--asset-loss", "A=50%"]);
    for r in [&amount, &pct] {
        close("A payment", num(firm(r, "A"), "payment"), 2.0, 1e-9);
        close("B payment", num(firm(r, "B"), "payment"), 3.0, 1e-9);
        close(
            "C equity after",
            num(firm(r, "C"), "equity_after"),
            4.0,
            1e-9,
        );
    }
    assert_eq!(amount["firms"], pct["firms"]);
}

#[test]
fn simulate_bad_flag_values_are_usage_errors() {
    for args in [
        &["--price", "FTT"][..],
        &["--price", "FTT=abc"],
        &["--price", "=-0.5"],
        &["--asset-loss", "A=lots"],
        &["--asset-loss", "A=-5"],
        &["--asset-loss", "A=150%"],
        &["--default", "Z"],
        &["--alpha", "0"],
        &["--alpha", "1.5"],
        &["--tolerance", "-1"],
    ] {
        let mut all = vec!["simulate", "graphs/textbook-3"];
        all.extend_from_slice(args);
        let e = usage_error(&all);
        assert!(e.starts_with("error"), "{args:?}: {e}");
    }
}

// ---------------------------------------------------------------------------------------------
// simulate: other formats and output files

#[test]
fn simulate_table() {
    let out = ok(&["simulate", "graphs/textbook-3"]);
    for id in ["A", "B", "C"] {
        assert!(out.contains(id), "firm {id} in the table:\n{out}");
    }
}

#[test]
fn simulate_csv_one_row_per_firm() {
    let out = ok(&["simulate", "graphs/textbook-3", "--format", "csv"]);
    let mut rdr = csv::Reader::from_reader(out.as_bytes());
    let header = rdr.headers().expect("header").clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("column {name} in {header:?}"))
    };
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.expect("row")).collect();
    let ids: Vec<&str> = rows.iter().map(|r| &r[col("id")]).collect();
    assert_eq!(ids, ["A", "B", "C"]);
    // Payments as derived for textbook-3: A 4, B 5, C 0.
    let paid: Vec<f64> = rows
        .iter()
        .map(|r| r[col("payment")].parse().expect("number"))
        .collect();
    assert_eq!(paid, [4.0, 5.0, 0.0]);
    let defaulted: Vec<&str> = rows.iter().map(|r| &r[col("defaulted")]).collect();
    assert_eq!(defaulted, ["true", "true", "false"]);
    for name in [
        "default_round",
        "cause",
        "equity_before",
        "equity_after",
        "obligations",
        "recovery_rate",
    ] {
        col(name);
    }
}

#[test]
fn simulate_output_file_in_each_format() {
    let dir = tempfile::tempdir().expect("temp dir");
    for format in ["table", "json", "csv"] {
        let out = dir.path().join(format!("result.{format}"));
        let stdout = ok(&[
            "simulate",
            "graphs/textbook-3",
            "--format",
            format,
            "-o",
            path_str(&out),
        ]);
        assert!(stdout.is_empty(), "{format}: the result goes to the file");
        let text = std::fs::read_to_string(&out).expect("file written");
        let direct = ok(&["simulate", "graphs/textbook-3", "--format", format]);
        assert_eq!(text, direct, "{format}: file and stdout agree");
    }
    // No temporary files left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn output_never_written_over_an_input() {
    let firms = Path::new(env!("CARGO_MANIFEST_DIR")).join("graphs/textbook-3/firms.csv");
    let before = std::fs::read(&firms).expect("read firms.csv");
    let e = usage_error(&[
        "simulate",
        "graphs/textbook-3",
        "-o",
        "graphs/textbook-3/firms.csv",
    ]);
    assert!(e.contains("refusing to write"), "{e}");
    let e = usage_error(&[
        "validate",
        "graphs/textbook-3",
        "-o",
        "graphs/textbook-3/firms.csv",
    ]);
    assert!(e.contains("refusing to write"), "{e}");
    assert_eq!(
        std::fs::read(&firms).unwrap(),
        before,
        "firms.csv unchanged"
    );

    // A scenario file and a JSON network are inputs too.
    let dir = temp_network(&[("scenario.json", "{\"shocks\": []}")]);
    let scenario = dir.path().join("scenario.json");
    usage_error(&[
        "simulate",
        "graphs/textbook-3",
        "--scenario",
        path_str(&scenario),
        "-o",
        path_str(&scenario),
    ]);
    assert_eq!(
        std::fs::read_to_string(&scenario).unwrap(),
        "{\"shocks\": []}"
    );
    let json = dir.path().join("net.json");
    ok(&["convert", "graphs/textbook-3", "-o", path_str(&json)]);
    let doc = std::fs::read(&json).unwrap();
    usage_error(&["convert", path_str(&json), "-o", path_str(&json)]);
    usage_error(&["simulate", path_str(&json), "-o", path_str(&json)]);
    assert_eq!(std::fs::read(&json).unwrap(), doc, "net.json unchanged");
}

#[test]
fn scenario_file_with_flags() {
    // The file fails A outright (its cash 4 written off: it pays 0); the flag takes 50% of
    // C's cash. B then has only its own 1 against 10 owed: pays 1. C: 0.5 + 1 = 1.5.
    let dir = temp_network(&[(
        "scenario.json",
        r#"{"name": "a-fails", "shocks": [{"type": "default", "firm": "A"}],
            "settings": {"external": "senior"}}"#,
    )]);
    let scenario = dir.path().join("scenario.json");
    let r = simulate_json(&[
        "graphs/textbook-3",
        "--scenario",
        path_str(&scenario),
        "--asset-loss",
        "C=50%",
    ]);
    assert_eq!(r["model"]["external"], "senior");
    close("A payment", num(firm(&r, "A"), "payment"), 0.0, 1e-9);
    close("B payment", num(firm(&r, "B"), "payment"), 1.0, 1e-9);
    close(
        "C equity after",
        num(firm(&r, "C"), "equity_after"),
        1.5,
        1e-9,
    );
}

// ---------------------------------------------------------------------------------------------
// convert

/// A network using every optional column: capital, weight, failed_on, collateral, exposure
/// ids and sources, asset depth, holdings, own `x_` columns and metadata.
fn rich_network() -> tempfile::TempDir {
    temp_network(&[
        (
            "firms.csv",
            "id,name,kind,cash,other_assets,external_liabilities,capital,weight,failed_on,x_country\n\
             ftx,FTX,exchange,100.5,20,300,,0.5,2022-11-11,BS\n\
             alameda,Alameda Research,trading_firm,1,2,3,4,,,BS\n\
             \"genesis\",\"Genesis, Global\",lender,0.1,0,0,1e-3,0.25,,US\n",
        ),
        (
            "exposures.csv",
            "creditor,debtor,kind,amount,collateral_asset,collateral_units,haircut,id,source,x_note\n\
             ftx,alameda,loan,8000,FTT,100,0.25,e1,press,\"margin, \"\"cross\"\"\"\n\
             genesis,alameda,loan,2000,,,,e2,,\n\
             alameda,ftx,equity,5,,,,,filing,\n",
        ),
        (
            "assets.csv",
            "id,name,price,depth\nFTT,FTX Token,22.1,1e6\nSOL,Solana,30,\n",
        ),
        (
            "holdings.csv",
            "firm,asset,units\nalameda,FTT,1000\nftx,SOL,0.5\n",
        ),
        (
            "network.json",
            r#"{"name": "rich", "currency": "EUR", "as_of": "2022-11-01", "sources": ["a", "b"]}"#,
        ),
    ])
}

#[test]
fn convert_round_trip_is_lossless() {
    for (name, src) in [("textbook", None), ("rich", Some(rich_network()))] {
        let work = tempfile::tempdir().expect("temp dir");
        let input = match &src {
            Some(d) => d.path().to_path_buf(),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("graphs/textbook-3"),
        };
        let json = work.path().join("net.json");
        let csv_dir = work.path().join("back");
        let json2 = work.path().join("again.json");
        ok(&["convert", path_str(&input), "-o", path_str(&json)]);
        ok(&["convert", path_str(&json), "-o", path_str(&csv_dir)]);
        ok(&["convert", path_str(&csv_dir), "-o", path_str(&json2)]);

        let summary = |p: &Path| ok(&["validate", path_str(p), "--format", "json", "--top", "100"]);
        let original = summary(&input);
        assert_eq!(original, summary(&json), "{name}: CSV → JSON");
        assert_eq!(original, summary(&csv_dir), "{name}: JSON → CSV");
        // The documents themselves are identical after a full round trip.
        assert_eq!(
            std::fs::read_to_string(&json).unwrap(),
            std::fs::read_to_string(&json2).unwrap(),
            "{name}: JSON → CSV → JSON"
        );
        // And so are simulation results.
        let sim = |p: &Path| ok(&["simulate", path_str(p), "--format", "json"]);
        assert_eq!(
            sim(&input),
            sim(&csv_dir),
            "{name}: simulation after a round trip"
        );
    }
}

#[test]
fn convert_keeps_values_exactly() {
    let src = rich_network();
    let work = tempfile::tempdir().expect("temp dir");
    let json = work.path().join("net.json");
    ok(&["convert", path_str(src.path()), "-o", path_str(&json)]);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["meta"]["currency"], "EUR");
    assert_eq!(doc["firms"][2]["name"], "Genesis, Global");
    assert_eq!(doc["firms"][2]["capital"], 0.001);
    assert_eq!(doc["firms"][0]["x_country"], "BS");
    assert_eq!(doc["firms"][0]["failed_on"], "2022-11-11");
    assert_eq!(doc["exposures"][0]["collateral_asset"], "FTT");
    assert_eq!(doc["exposures"][0]["haircut"], 0.25);
    assert_eq!(doc["exposures"][0]["x_note"], "margin, \"cross\"");
    assert_eq!(doc["assets"][0]["price"], 22.1);
    assert_eq!(doc["holdings"][1]["units"], 0.5);
}

#[test]
fn convert_refuses_to_overwrite_its_input_directory() {
    let src = rich_network();
    let before = std::fs::read(src.path().join("firms.csv")).unwrap();
    usage_error(&["convert", path_str(src.path()), "-o", path_str(src.path())]);
    assert_eq!(std::fs::read(src.path().join("firms.csv")).unwrap(), before);
}

// ---------------------------------------------------------------------------------------------
// Help, usage errors, exit codes

/// Subcommands listed by `contagion --help`.
fn subcommands() -> Vec<String> {
    let help = ok(&["--help"]);
    let list = help
        .split("Commands:")
        .nth(1)
        .expect("a Commands section")
        .split("\n\n")
        .next()
        .unwrap();
    list.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(String::from)
        .collect()
}

#[test]
fn help_on_every_subcommand_has_an_example() {
    let subs = subcommands();
    for expected in ["validate", "simulate", "convert"] {
        assert!(subs.iter().any(|s| s == expected), "{expected} in {subs:?}");
    }
    for sub in &subs {
        let help = ok(&[sub.as_str(), "--help"]);
        assert!(help.contains("Usage: contagion"), "{sub}:\n{help}");
        assert!(
            help.contains("Example"),
            "{sub} --help has an example:\n{help}"
        );
        assert!(
            help.contains(&format!("contagion {sub} ")),
            "{sub}'s example runs {sub}:\n{help}"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["validate"],
        &["simulate"],
        &["simulate", "graphs/textbook-3", "--format", "xml"],
        &["simulate", "graphs/textbook-3", "--no-such-flag"],
        &["simulate", "graphs/textbook-3", "--alpha", "half"],
        &["convert", "graphs/textbook-3"],
    ] {
        usage_error(args);
    }
}

#[test]
fn version_and_help_exit_0() {
    ok(&["--version"]);
    ok(&["--help"]);
    ok(&["help", "simulate"]);
}

#[test]
fn json_outputs_never_contain_non_finite_numbers() {
    let net = token_network();
    let dir = path_str(net.path());
    // A firm with nothing at all (zero equity, zero obligations) and total wipe-outs are the
    // cases where a ratio could divide by zero.
    let empty = temp_network(&[
        (
            "firms.csv",
            "id,name,kind,cash,other_assets,external_liabilities\nZ,Zero,other,0,0,0\nY,Owes,bank,0,0,7\n",
        ),
        (
            "exposures.csv",
            "creditor,debtor,kind,amount\nZ,Y,deposit,3\n",
        ),
    ]);
    let empty = path_str(empty.path());
    for args in [
        &["graphs/textbook-3"][..],
        &["graphs/ring-4", "--default", "A", "--default", "C"],
        &[dir, "--price", "FTT=-100%"],
        &[dir, "--price", "FTT=-0.999999"],
        &[
            "graphs/textbook-3",
            "--asset-loss",
            "A=100%",
            "--asset-loss",
            "C=1e9",
        ],
        &[
            "graphs/textbook-3",
            "--alpha",
            "0.5",
            "--beta",
            "0.5",
            "--external",
            "senior",
        ],
        &[empty],
        &[empty, "--default", "Y", "--default", "Z"],
    ] {
        simulate_json(args); // asserts no NaN / Infinity and valid JSON
        no_non_finite(&ok(&["validate", args[0], "--format", "json"]));
    }
}

/// Without the `distributed` feature, `--engine timely` says what is missing.
#[cfg(not(feature = "distributed"))]
#[test]
fn timely_engine_needs_the_distributed_build() {
    cli()
        .arg("rank")
        .arg(crate::util::graph("ring-4"))
        .args(["--engine", "timely"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--features distributed"));
}
