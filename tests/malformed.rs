//! Malformed inputs, run through the real binary: every one must be rejected with exit code 2,
//! a message that names the file, the line (and column where there is one) and the problem,
//! and never a panic.

use std::path::Path;

use crate::util::{cli, temp_network, temp_network_bytes};

const FIRMS: &str = "id,name,kind,cash,other_assets,external_liabilities\n\
                     A,Bank A,bank,4,0,0\n\
                     B,Bank B,bank,1,0,0\n\
                     C,Bank C,bank,1,0,0\n";
const EXPOSURES: &str = "creditor,debtor,kind,amount\nB,A,loan,10\nC,B,loan,10\n";
const ASSETS: &str = "id,name,price\nFTT,FTX Token,2\n";

/// Runs `contagion ARGS…`, expects exit code 2 without a panic, returns standard error.
fn rejected_with(args: &[&str]) -> String {
    let out = cli().args(args).output().expect("run contagion");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "panic on {args:?}:\n{stderr}");
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit code of {args:?}; stderr:\n{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing on standard output for a rejected input"
    );
    stderr
}

/// `contagion validate PATH`, expected to be rejected.
fn rejected(path: &Path) -> String {
    rejected_with(&["validate", path.to_str().expect("UTF-8 temp path")])
}

/// A CSV directory from `(file, text)` pairs, validated and expected to be rejected.
fn rejected_dir(files: &[(&str, &str)]) -> String {
    let dir = temp_network(files);
    rejected(dir.path())
}

/// A JSON document, validated and expected to be rejected.
fn rejected_json(text: &str) -> String {
    let dir = temp_network(&[("net.json", text)]);
    rejected(&dir.path().join("net.json"))
}

/// Asserts that `stderr` contains every one of `parts`.
#[track_caller]
fn says(stderr: &str, parts: &[&str]) {
    for p in parts {
        assert!(stderr.contains(p), "expected {p:?} in:\n{stderr}");
    }
}

/// Firms plus one exposures file with the given rows under the standard header.
fn with_exposures(rows: &str) -> String {
    rejected_dir(&[
        ("firms.csv", FIRMS),
        (
            "exposures.csv",
            &format!("creditor,debtor,kind,amount\n{rows}"),
        ),
    ])
}

/// Firms, assets and one secured exposure row.
fn with_secured(row: &str, assets: Option<&str>) -> String {
    let exposures =
        format!("creditor,debtor,kind,amount,collateral_asset,collateral_units,haircut\n{row}");
    let mut files = vec![("firms.csv", FIRMS), ("exposures.csv", exposures.as_str())];
    if let Some(a) = assets {
        files.push(("assets.csv", a));
    }
    rejected_dir(&files)
}

// ---------------------------------------------------------------------------------------------
// CSV directories: references and values.

#[test]
fn unknown_firm_in_exposures() {
    let e = with_exposures("B,A,loan,10\nC,Z,loan,10\n");
    says(&e, &["exposures.csv, line 3, column 2", "unknown firm 'Z'"]);
}

#[test]
fn duplicate_firm_id() {
    let e = rejected_dir(&[
        ("firms.csv", &format!("{FIRMS}A,Again,bank,1,0,0\n")),
        ("exposures.csv", EXPOSURES),
    ]);
    says(
        &e,
        &[
            "firms.csv, line 5, column 1",
            "duplicate firm id 'A'",
            "first defined at firms.csv, line 2",
        ],
    );
}

#[test]
fn self_exposure() {
    let e = with_exposures("B,B,loan,10\n");
    says(
        &e,
        &["exposures.csv, line 2, column 2", "self-exposure", "'B'"],
    );
}

#[test]
fn negative_amount() {
    let e = with_exposures("B,A,loan,-10\n");
    says(
        &e,
        &[
            "exposures.csv, line 2, column 4 (amount)",
            "expected a non-negative amount, found -10",
        ],
    );
}

#[test]
fn nan_amount() {
    let e = with_exposures("B,A,loan,NaN\n");
    says(
        &e,
        &[
            "exposures.csv, line 2, column 4",
            "expected a finite number, found 'NaN'",
        ],
    );
}

#[test]
fn infinite_amount() {
    let e = with_exposures("B,A,loan,inf\n");
    says(
        &e,
        &[
            "exposures.csv, line 2, column 4",
            "expected a finite number, found 'inf'",
        ],
    );
}

#[test]
fn overflowing_amount() {
    let e = with_exposures("B,A,loan,1e999\n");
    says(
        &e,
        &[
            "exposures.csv, line 2, column 4",
            "expected a finite number, found '1e999'",
        ],
    );
}

#[test]
fn negative_cash() {
    let e = rejected_dir(&[
        (
            "firms.csv",
            "id,name,kind,cash,other_assets,external_liabilities\nA,Bank A,bank,-4,0,0\n",
        ),
        ("exposures.csv", "creditor,debtor,kind,amount\n"),
    ]);
    says(
        &e,
        &["firms.csv, line 2, column 4 (cash)", "non-negative amount"],
    );
}

#[test]
fn unknown_exposure_kind() {
    let e = with_exposures("B,A,lone,10\n");
    says(
        &e,
        &[
            "exposures.csv, line 2, column 3 (kind)",
            "unknown exposure kind 'lone'",
            "loan, deposit",
        ],
    );
}

#[test]
fn unknown_firm_kind() {
    let e = rejected_dir(&[
        (
            "firms.csv",
            "id,name,kind,cash,other_assets,external_liabilities\nA,Bank A,banc,4,0,0\n",
        ),
        ("exposures.csv", "creditor,debtor,kind,amount\n"),
    ]);
    says(
        &e,
        &[
            "firms.csv, line 2, column 3 (kind)",
            "unknown firm kind 'banc'",
            "bank, exchange",
        ],
    );
}

#[test]
fn collateral_without_assets_file() {
    let e = with_secured("B,A,loan,10,FTT,5,0.1\n", None);
    says(
        &e,
        &[
            "exposures.csv, line 2, column 5 (collateral_asset)",
            "collateral asset 'FTT' has no price",
        ],
    );
}

#[test]
fn collateral_of_unknown_asset() {
    let e = with_secured("B,A,loan,10,SOL,5,0.1\n", Some(ASSETS));
    says(
        &e,
        &[
            "exposures.csv, line 2, column 5",
            "collateral asset 'SOL' has no price",
        ],
    );
}

#[test]
fn haircut_of_one() {
    let e = with_secured("B,A,loan,10,FTT,5,1\n", Some(ASSETS));
    says(
        &e,
        &[
            "exposures.csv, line 2, column 7 (haircut)",
            "expected a haircut in [0, 1), found 1",
        ],
    );
}

#[test]
fn negative_haircut() {
    let e = with_secured("B,A,loan,10,FTT,5,-0.1\n", Some(ASSETS));
    says(
        &e,
        &[
            "exposures.csv, line 2, column 7 (haircut)",
            "expected a haircut in [0, 1), found -0.1",
        ],
    );
}

#[test]
fn collateral_units_without_asset() {
    let e = with_secured("B,A,loan,10,,5,0.1\n", Some(ASSETS));
    says(
        &e,
        &[
            "exposures.csv, line 2, column 6 (collateral_units)",
            "collateral_units given without collateral_asset",
        ],
    );
}

#[test]
fn collateral_asset_without_units() {
    let e = with_secured("B,A,loan,10,FTT,,0.1\n", Some(ASSETS));
    says(
        &e,
        &[
            "exposures.csv, line 2, column 5",
            "collateral_asset given without collateral_units",
        ],
    );
}

#[test]
fn non_positive_asset_price() {
    let e = rejected_dir(&[
        ("firms.csv", FIRMS),
        ("exposures.csv", EXPOSURES),
        (
            "assets.csv",
            "id,name,price\nFTT,FTX Token,0\nSOL,Solana,-3\n",
        ),
    ]);
    says(
        &e,
        &[
            "assets.csv, line 2, column 3 (price)",
            "assets.csv, line 3, column 3 (price)",
            "positive",
        ],
    );
}

#[test]
fn thousands_separator() {
    let e = with_exposures("B,A,loan,\"1,000\"\n");
    says(
        &e,
        &[
            "exposures.csv, line 2, column 4",
            "malformed number '1,000'",
            "thousands separators",
        ],
    );
}

#[test]
fn non_numeric_amount() {
    let e = with_exposures("B,A,loan,abc\n");
    says(
        &e,
        &["exposures.csv, line 2, column 4", "malformed number 'abc'"],
    );
}

#[test]
fn empty_required_values_are_all_reported() {
    // Every empty required field on the row, not only the first.
    let e = with_exposures(",,,\n");
    says(
        &e,
        &[
            "exposures.csv, line 2, column 1 (creditor)",
            "exposures.csv, line 2, column 2 (debtor)",
            "exposures.csv, line 2, column 3 (kind)",
            "exposures.csv, line 2, column 4 (amount)",
            "4 problems",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// CSV directories: structure.

#[test]
fn missing_required_column() {
    let e = rejected_dir(&[
        ("firms.csv", FIRMS),
        ("exposures.csv", "creditor,debtor,kind\nB,A,loan\n"),
    ]);
    says(
        &e,
        &["exposures.csv, line 1", "missing required column 'amount'"],
    );
    // Reported once for the header, not again on every row.
    assert_eq!(e.matches("'amount'").count(), 1, "{e}");
}

#[test]
fn unknown_column() {
    let e = rejected_dir(&[
        ("firms.csv", FIRMS),
        (
            "exposures.csv",
            "creditor,debtor,kind,amount,note\nB,A,loan,10,hello\n",
        ),
    ]);
    says(
        &e,
        &[
            "exposures.csv, line 1, column 5",
            "unknown column 'note'",
            "prefix your own columns with x_",
        ],
    );
}

#[test]
fn x_prefixed_column_is_accepted() {
    let dir = temp_network(&[
        ("firms.csv", FIRMS),
        (
            "exposures.csv",
            "creditor,debtor,kind,amount,x_note\nB,A,loan,10,hello\nC,B,loan,10,\n",
        ),
    ]);
    cli().arg("validate").arg(dir.path()).assert().success();
}

#[test]
fn empty_firms_file() {
    let e = rejected_dir(&[("firms.csv", ""), ("exposures.csv", EXPOSURES)]);
    says(
        &e,
        &["firms.csv, line 1", "empty file", "header row id,name"],
    );
}

#[test]
fn header_only_firms_file() {
    let e = rejected_dir(&[
        (
            "firms.csv",
            "id,name,kind,cash,other_assets,external_liabilities\n",
        ),
        ("exposures.csv", "creditor,debtor,kind,amount\n"),
    ]);
    says(&e, &["firms.csv, line 1", "expected at least one firm"]);
}

#[test]
fn missing_exposures_file() {
    let e = rejected_dir(&[("firms.csv", FIRMS)]);
    says(&e, &["exposures.csv", "file not found"]);
}

#[test]
fn directory_where_a_file_belongs() {
    let dir = temp_network(&[("firms.csv", FIRMS)]);
    std::fs::create_dir(dir.path().join("exposures.csv")).expect("mkdir");
    let e = rejected(dir.path());
    says(&e, &["exposures.csv", "found a directory"]);
}

#[test]
fn one_csv_file_instead_of_the_directory() {
    let dir = temp_network(&[("firms.csv", FIRMS), ("exposures.csv", EXPOSURES)]);
    let e = rejected(&dir.path().join("firms.csv"));
    says(&e, &["firms.csv", "give the directory"]);
}

#[test]
fn wrong_field_count() {
    let e = with_exposures("B,A,loan\nC,B,loan,10,extra\n");
    says(
        &e,
        &[
            "exposures.csv, line 2, column 4: expected 4 fields as in the header, found 3",
            "exposures.csv, line 3, column 5: expected 4 fields as in the header, found 5",
        ],
    );
}

#[test]
fn invalid_utf8() {
    let firms = [
        FIRMS.as_bytes(),
        b"D,Bank \xff\xfe D,bank,1,0,0\n".as_slice(),
    ]
    .concat();
    let dir = temp_network_bytes(&[
        ("firms.csv", &firms),
        ("exposures.csv", EXPOSURES.as_bytes()),
    ]);
    let e = rejected(dir.path());
    // Line 5, after "D,Bank " (7 characters): column 8.
    says(
        &e,
        &[
            "firms.csv, line 5, column 8",
            "invalid UTF-8",
            "expected UTF-8",
        ],
    );
}

#[test]
fn utf16_file() {
    let utf16: Vec<u8> = std::iter::once(0xFEFF_u16)
        .chain(FIRMS.encode_utf16())
        .flat_map(u16::to_le_bytes)
        .collect();
    let dir = temp_network_bytes(&[
        ("firms.csv", &utf16),
        ("exposures.csv", EXPOSURES.as_bytes()),
    ]);
    let e = rejected(dir.path());
    says(&e, &["firms.csv, line 1", "UTF-16", "expected UTF-8"]);
}

#[test]
fn utf8_bom_is_accepted() {
    let bom = |s: &str| [b"\xEF\xBB\xBF".as_slice(), s.as_bytes()].concat();
    let dir = temp_network_bytes(&[
        ("firms.csv", &bom(FIRMS)),
        ("exposures.csv", &bom(EXPOSURES)),
    ]);
    let out = cli()
        .args(["validate", "--format", "json"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    // The first column is read as `id`, not as "\u{feff}id".
    assert_eq!(v["firms"], 3);
    assert_eq!(v["exposures"], 2);
}

#[test]
fn bad_failed_on_date() {
    let e = rejected_dir(&[
        (
            "firms.csv",
            "id,name,kind,cash,other_assets,external_liabilities,failed_on\n\
             A,Bank A,bank,4,0,0,2022-11-11\n\
             B,Bank B,bank,1,0,0,11/11/2022\n",
        ),
        ("exposures.csv", "creditor,debtor,kind,amount\n"),
    ]);
    says(
        &e,
        &[
            "firms.csv, line 3, column 7 (failed_on)",
            "expected a date as YYYY-MM-DD, found '11/11/2022'",
        ],
    );
    assert!(!e.contains("line 2"), "the valid date is accepted:\n{e}");
}

#[test]
fn duplicate_holding() {
    let e = rejected_dir(&[
        ("firms.csv", FIRMS),
        ("exposures.csv", EXPOSURES),
        ("assets.csv", ASSETS),
        (
            "holdings.csv",
            "firm,asset,units\nA,FTT,1\nB,FTT,1\nA,FTT,2\n",
        ),
    ]);
    says(
        &e,
        &[
            "holdings.csv, line 4",
            "duplicate holding",
            "first at holdings.csv, line 2",
        ],
    );
}

#[test]
fn holding_of_unknown_asset() {
    let e = rejected_dir(&[
        ("firms.csv", FIRMS),
        ("exposures.csv", EXPOSURES),
        ("assets.csv", ASSETS),
        ("holdings.csv", "firm,asset,units\nA,SOL,1\n"),
    ]);
    says(
        &e,
        &[
            "holdings.csv, line 2, column 2 (asset)",
            "unknown asset 'SOL'",
        ],
    );
}

#[test]
fn holding_without_assets_file() {
    let e = rejected_dir(&[
        ("firms.csv", FIRMS),
        ("exposures.csv", EXPOSURES),
        ("holdings.csv", "firm,asset,units\nA,FTT,1\n"),
    ]);
    says(
        &e,
        &["holdings.csv, line 2, column 2", "unknown asset 'FTT'"],
    );
}

#[test]
fn amounts_too_large_to_add_up() {
    // Each amount is finite, but 1.7e308 + 1.7e308 is not: no model could add them up.
    let e = rejected_dir(&[
        (
            "firms.csv",
            "id,name,kind,cash,other_assets,external_liabilities\n\
             A,Bank A,bank,1,0,0\n\
             B,Bank B,bank,1.7e308,1.7e308,0\n",
        ),
        ("exposures.csv", "creditor,debtor,kind,amount\n"),
    ]);
    says(&e, &["firms.csv, line 3", "amounts too large"]);
    // The market value of a holding: 1e300 units × price 1e10.
    let e = rejected_dir(&[
        ("firms.csv", FIRMS),
        ("exposures.csv", EXPOSURES),
        ("assets.csv", "id,name,price\nFTT,FTX Token,1e10\n"),
        ("holdings.csv", "firm,asset,units\nA,FTT,1\nB,FTT,1e300\n"),
    ]);
    says(&e, &["holdings.csv, line 3", "amounts too large"]);
}

#[test]
fn all_errors_in_one_pass() {
    // Three different bad rows in one file, and a bad row in another: all four reported.
    let e = rejected_dir(&[
        ("firms.csv", &format!("{FIRMS}D,Bank D,bank,lots,0,0\n")),
        (
            "exposures.csv",
            "creditor,debtor,kind,amount\n\
             B,A,loan,10\n\
             C,Z,loan,10\n\
             C,B,lone,10\n\
             A,B,loan,-5\n",
        ),
    ]);
    says(
        &e,
        &[
            "4 problems found",
            "firms.csv, line 5, column 4 (cash): malformed number 'lots'",
            "exposures.csv, line 3, column 2 (debtor): unknown firm 'Z'",
            "exposures.csv, line 4, column 3 (kind): unknown exposure kind 'lone'",
            "exposures.csv, line 5, column 4 (amount): expected a non-negative amount, found -5",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// JSON documents.

const JSON_FIRM: &str = r#"{"id": "A", "name": "Bank A", "kind": "bank", "cash": 4, "other_assets": 0, "external_liabilities": 0}"#;

#[test]
fn json_syntax_error() {
    let e =
        rejected_json("{\n  \"firms\": [\n    {\"id\": \"A\",}\n  ],\n  \"exposures\": []\n}\n");
    // The trailing comma: line 3, `    {"id": "A",}` — the `}` is character 16.
    says(
        &e,
        &[
            "net.json, line 3, column 16",
            "malformed JSON",
            "trailing comma",
        ],
    );
}

#[test]
fn json_truncated() {
    let e = rejected_json("{\n  \"firms\": [\n");
    says(&e, &["net.json, line 3, column 1", "malformed JSON", "EOF"]);
}

#[test]
fn json_firms_not_an_array() {
    let e = rejected_json(&format!(
        "{{\n  \"firms\": {JSON_FIRM},\n  \"exposures\": []\n}}\n"
    ));
    says(
        &e,
        &[
            "net.json, line 2, column 12 (firms)",
            "expected an array of objects",
        ],
    );
}

#[test]
fn json_item_not_an_object() {
    let e = rejected_json(&format!(
        "{{\n  \"firms\": [\n    {JSON_FIRM},\n    \"B\"\n  ],\n  \"exposures\": []\n}}\n"
    ));
    says(
        &e,
        &[
            "net.json, line 4, column 5 (firms[1])",
            "expected an object",
        ],
    );
}

#[test]
fn json_unknown_top_level_key() {
    let e = rejected_json(&format!(
        "{{\n  \"firms\": [{JSON_FIRM}],\n  \"exposures\": [],\n  \"banks\": []\n}}\n"
    ));
    says(
        &e,
        &["net.json, line 4, column 12 (banks)", "unknown key 'banks'"],
    );
}

#[test]
fn json_unknown_item_key() {
    let firm = JSON_FIRM.replace('}', r#", "colour": "red", "x_colour": "blue"}"#);
    let e = rejected_json(&format!(
        "{{\n  \"firms\": [\n    {firm}\n  ],\n  \"exposures\": []\n}}\n"
    ));
    // `    {"id": …, "external_liabilities": 0, "colour": "red"…`: the value "red" starts at
    // column 5 + JSON_FIRM's length − 1 (its closing brace) + len(`, "colour": `) = 12.
    let column = 5 + JSON_FIRM.len() - 1 + 12;
    says(
        &e,
        &[
            &format!("net.json, line 3, column {column} (firms[0].colour)"),
            "unknown field 'colour'",
        ],
    );
    assert!(!e.contains("x_colour"), "x_ keys are accepted:\n{e}");
}

#[test]
fn json_string_where_number_expected() {
    let firm = JSON_FIRM
        .replace("\"cash\": 4", "\"cash\": \"four\"")
        .replace("\"other_assets\": 0", "\"other_assets\": true");
    let e = rejected_json(&format!(
        "{{\n  \"firms\": [\n    {firm}\n  ],\n  \"exposures\": []\n}}\n"
    ));
    // `    {"id": "A", "name": "Bank A", "kind": "bank", "cash": "four", "other_assets": true`:
    // 4 spaces, then `{"id": "A", ` (12), `"name": "Bank A", ` (18), `"kind": "bank", ` (16),
    // `"cash": ` (8): the cash starts at column 4 + 12 + 18 + 16 + 8 + 1 = 59; then
    // `"four", ` (8) and `"other_assets": ` (16): the other assets at 59 + 8 + 16 = 83.
    says(
        &e,
        &[
            "net.json, line 3, column 59 (firms[0].cash): malformed number 'four'",
            "net.json, line 3, column 83 (firms[0].other_assets): expected a number",
        ],
    );
}

#[test]
fn json_numeric_string_is_accepted() {
    // Documented in docs/formats.md: numbers may be JSON numbers or numeric strings.
    let firm = JSON_FIRM.replace("\"cash\": 4", "\"cash\": \"4\"");
    let dir = temp_network(&[(
        "net.json",
        &format!("{{\"firms\": [{firm}], \"exposures\": []}}"),
    )]);
    cli()
        .arg("validate")
        .arg(dir.path().join("net.json"))
        .assert()
        .success();
}

#[test]
fn json_missing_exposures() {
    let e = rejected_json(&format!("{{\n  \"firms\": [{JSON_FIRM}]\n}}\n"));
    says(
        &e,
        &["net.json, line 1, column 1", "missing key 'exposures'"],
    );
}

#[test]
fn json_missing_field_is_located() {
    let e = rejected_json(&format!(
        "{{\n  \"firms\": [{JSON_FIRM}],\n  \"exposures\": [\n    {{\"creditor\": \"A\", \"kind\": \"loan\", \"amount\": 1}}\n  ]\n}}\n"
    ));
    says(
        &e,
        &[
            "net.json, line 4, column 5 (exposures[0])",
            "missing required field 'debtor'",
        ],
    );
}

#[test]
fn json_unknown_firm() {
    let e = rejected_json(&format!(
        "{{\n  \"firms\": [{JSON_FIRM}],\n  \"exposures\": [\n    {{\"creditor\": \"A\", \"debtor\": \"Z\", \"kind\": \"loan\", \"amount\": 1}}\n  ]\n}}\n"
    ));
    // `    {"creditor": "A", "debtor": "Z"`: "Z" starts at column 33.
    says(
        &e,
        &[
            "net.json, line 4, column 33 (exposures[0].debtor)",
            "unknown firm 'Z'",
        ],
    );
}

#[test]
fn json_no_firms() {
    let e = rejected_json("{\n  \"firms\": [],\n  \"exposures\": []\n}\n");
    says(
        &e,
        &[
            "net.json, line 2, column 12 (firms)",
            "expected at least one firm",
        ],
    );
}

#[test]
fn json_non_finite_numbers() {
    // JSON has no NaN; 1e999 overflows.
    let nan = rejected_json(&format!(
        "{{\"firms\": [{}], \"exposures\": []}}",
        JSON_FIRM.replace("\"cash\": 4", "\"cash\": NaN")
    ));
    says(&nan, &["net.json, line 1, column", "malformed JSON"]);
    let big = rejected_json(&format!(
        "{{\"firms\": [{}],\n\"exposures\": []}}",
        JSON_FIRM.replace("\"cash\": 4", "\"cash\": 1e999")
    ));
    says(&big, &["net.json, line 1, column", "number out of range"]);
}

#[test]
fn json_top_level_not_an_object() {
    let e = rejected_json("[1, 2, 3]\n");
    says(
        &e,
        &["net.json, line 1, column 1", "expected a JSON object"],
    );
}

#[test]
fn json_empty_file() {
    let e = rejected_json("  \n");
    says(&e, &["net.json, line 1", "empty file"]);
}

#[test]
fn json_all_errors_in_one_pass() {
    let text = format!(
        "{{\n  \"firms\": [\n    {JSON_FIRM},\n    {}\n  ],\n  \"exposures\": [\n    \
         {{\"creditor\": \"A\", \"debtor\": \"A\", \"kind\": \"loan\", \"amount\": 1}},\n    \
         {{\"creditor\": \"A\", \"debtor\": \"B\", \"kind\": \"swap\", \"amount\": -1}}\n  ]\n}}\n",
        JSON_FIRM
            .replace("\"A\"", "\"B\"")
            .replace("\"bank\"", "\"bnk\"")
    );
    let e = rejected_json(&text);
    // Line 4 is `    {"id": "B", "name": "Bank B", "kind": "bnk", …`: the kind starts at column
    // 4 + 12 + 18 + `"kind": ` (8) + 1 = 43. Line 7 is `    {"creditor": "A", "debtor": "A", …`:
    // the debtor at 4 + `{"creditor": "A", ` (18) + `"debtor": ` (10) + 1 = 33. Line 8 adds
    // `"B", ` (5) and `"kind": ` (8): the kind at 33 + 5 + 8 = 46, then `"swap", ` (8) and
    // `"amount": ` (10): the amount at 46 + 8 + 10 = 64.
    says(
        &e,
        &[
            "4 problems found",
            "net.json, line 4, column 43 (firms[1].kind): unknown firm kind 'bnk'",
            "net.json, line 7, column 33 (exposures[0].debtor): self-exposure",
            "net.json, line 8, column 46 (exposures[1].kind): unknown exposure kind 'swap'",
            "net.json, line 8, column 64 (exposures[1].amount): expected a non-negative amount, found -1",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Scenario files and command-line shocks.

/// `contagion simulate graphs/textbook-3 --scenario FILE ARGS…` with `text` as the file.
fn rejected_scenario(text: &str, args: &[&str]) -> String {
    let dir = temp_network(&[("bad.json", text)]);
    let path = dir.path().join("bad.json");
    let mut all = vec![
        "simulate",
        "graphs/textbook-3",
        "--scenario",
        path.to_str().expect("UTF-8 path"),
    ];
    all.extend_from_slice(args);
    rejected_with(&all)
}

#[test]
fn scenario_unknown_shock_type() {
    let e = rejected_scenario(
        "{\n  \"shocks\": [\n    {\"type\": \"meteor\"}\n  ]\n}\n",
        &[],
    );
    // `    {"type": "meteor"}`: the value starts at column 14.
    says(
        &e,
        &[
            "bad.json, line 3, column 14 (shocks[0].type)",
            "unknown shock type 'meteor'",
        ],
    );
}

#[test]
fn scenario_unknown_firm() {
    let e = rejected_scenario(
        "{\n  \"shocks\": [\n    {\"type\": \"default\", \"firm\": \"A\"},\n    {\"type\": \"default\", \"firm\": \"Z\"}\n  ]\n}\n",
        &[],
    );
    says(
        &e,
        &["bad.json, line 4, column 5 (shocks[1])", "unknown firm 'Z'"],
    );
}

#[test]
fn scenario_bad_fraction_is_located() {
    let e = rejected_scenario(
        "{\"shocks\": [\n  {\"type\": \"asset_loss\", \"firm\": \"A\", \"fraction\": 1.5}\n]}\n",
        &[],
    );
    // `  {"type": "asset_loss", "firm": "A", "fraction": 1.5}`: 2 spaces, then
    // `{"type": "asset_loss", ` (23), `"firm": "A", ` (13), `"fraction": ` (12): 1.5 starts at
    // column 2 + 23 + 13 + 12 + 1 = 51.
    says(
        &e,
        &[
            "bad.json, line 2, column 51 (shocks[0].fraction)",
            "expected a fraction in [0, 1], found 1.5",
        ],
    );
}

#[test]
fn scenario_unknown_setting() {
    let e = rejected_scenario(
        "{\n  \"shocks\": [],\n  \"settings\": {\"alpha\": 1, \"gamma\": 2}\n}\n",
        &[],
    );
    // `  "settings": {"alpha": 1, "gamma": 2}`: 2 spaces, `"settings": {` (13),
    // `"alpha": 1, ` (12), `"gamma": ` (9): 2 starts at column 2 + 13 + 12 + 9 + 1 = 37.
    says(
        &e,
        &[
            "bad.json, line 3, column 37 (settings.gamma)",
            "unknown setting 'gamma'",
        ],
    );
}

#[test]
fn scenario_alpha_out_of_range() {
    let e = rejected_scenario(
        "{\n  \"shocks\": [],\n  \"settings\": {\"alpha\": 1.5}\n}\n",
        &[],
    );
    says(
        &e,
        &["bad.json, line 3", "alpha must be in (0, 1], found 1.5"],
    );
}

#[test]
fn scenario_syntax_error() {
    let e = rejected_scenario("{\n  \"shocks\": [\n", &[]);
    says(&e, &["bad.json, line 3, column 1", "malformed JSON"]);
}

#[test]
fn least_vector_with_default_costs() {
    let e = rejected_with(&["simulate", "graphs/textbook-3", "--least", "--alpha", "0.5"]);
    says(&e, &["least clearing vector", "alpha = beta = 1"]);
}

#[test]
fn unknown_firm_on_the_command_line() {
    let e = rejected_scenario(
        "{\"shocks\": [{\"type\": \"default\", \"firm\": \"A\"}]}",
        &["--default", "Q", "--price", "FTT=-0.5"],
    );
    says(
        &e,
        &[
            "2 problems",
            "command line (--default Q): unknown firm 'Q'",
            "command line (--price FTT=-0.5): unknown asset 'FTT'",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Garbage.

/// Byte strings no loader should choke on.
const GARBAGE: &[&[u8]] = &[
    b"",
    b"\x00\x00\x00\x00",
    b"\xff\xfe\x00",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b"\xef\xbb",
    b"\"",
    b"\"\"\"\n,,,\r\r\n\"",
    b"{",
    b"}{][",
    b"{\"firms\": [{\"id\": {\"id\": [[[[[[]]]]]]}}], \"exposures\": [null, 1, \"x\", true]}",
    b"{\"firms\": [{}], \"exposures\": [{}], \"assets\": [{}], \"holdings\": [{}], \"meta\": 7}",
    b"id,id,id\n1,2,3\n",
    b"id,name,kind,cash,other_assets,external_liabilities\n\xc3\x28,\xe2\x82,bank,1,0,0\n",
    b"\n\n\n\n,\n",
    b"1e999999999999999999999999,-0,NaN,-inf,+infinity,0x10\n",
    b"\xf0\x9f\x92\xa5,\xf0\x9f\x92\xa5\n\xf0\x9f\x92\xa5,\xf0",
];

#[test]
fn garbage_never_panics() {
    for (k, bytes) in GARBAGE.iter().enumerate() {
        // As every file of a CSV directory in turn…
        for victim in ["firms.csv", "exposures.csv", "assets.csv", "holdings.csv"] {
            let mut files: Vec<(&str, &[u8])> = vec![
                ("firms.csv", FIRMS.as_bytes()),
                ("exposures.csv", EXPOSURES.as_bytes()),
                ("assets.csv", ASSETS.as_bytes()),
                ("holdings.csv", b"firm,asset,units\nA,FTT,1\n"),
            ];
            files.retain(|(n, _)| *n != victim);
            files.push((victim, bytes));
            let dir = temp_network_bytes(&files);
            let e = rejected(dir.path());
            assert!(e.contains(victim), "garbage {k} in {victim}: {e}");
        }
        // …as a JSON document, as network metadata and as a scenario.
        let dir = temp_network_bytes(&[("net.json", bytes)]);
        let e = rejected(&dir.path().join("net.json"));
        assert!(e.contains("net.json"), "garbage {k} as JSON: {e}");

        let dir = temp_network_bytes(&[
            ("firms.csv", FIRMS.as_bytes()),
            ("exposures.csv", EXPOSURES.as_bytes()),
            ("network.json", bytes),
        ]);
        let e = rejected(dir.path());
        assert!(e.contains("network.json"), "garbage {k} as metadata: {e}");

        let dir = temp_network_bytes(&[("bad.json", bytes)]);
        let path = dir.path().join("bad.json");
        let e = rejected_with(&[
            "simulate",
            "graphs/textbook-3",
            "--scenario",
            path.to_str().expect("UTF-8 path"),
        ]);
        assert!(e.contains("bad.json"), "garbage {k} as a scenario: {e}");
    }
}

#[test]
fn deeply_nested_json_never_panics() {
    let deep = "[".repeat(100_000);
    let e = rejected_json(&deep);
    says(&e, &["net.json, line 1", "malformed JSON"]);
    let deep_object = format!(
        "{{\"firms\": [{}], \"exposures\": []}}",
        "{\"a\":".repeat(10_000)
    );
    let e = rejected_json(&deep_object);
    says(&e, &["net.json, line 1", "malformed JSON"]);
}
