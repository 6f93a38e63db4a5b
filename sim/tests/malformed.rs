//! Bad model and input files: each gets a typed error naming the field and the problem,
//! never a panic.

use proptest::prelude::*;
use qornn_sim::sequence::parse_inputs;
use qornn_sim::{ModelError, QuantizedModel};
use serde_json::{json, Value};

fn example_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/example-model.json"
    ))
    .unwrap()
}

fn example_value() -> Value {
    serde_json::from_str(&example_text()).unwrap()
}

/// Apply `edit` to the example and return the load error's text.
fn error_after(edit: impl FnOnce(&mut Value)) -> String {
    let mut v = example_value();
    edit(&mut v);
    match QuantizedModel::from_json(&v.to_string()) {
        Ok(_) => panic!("the edited model was accepted"),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(text: &str, words: &[&str]) {
    for w in words {
        assert!(text.contains(w), "error {text:?} does not mention {w:?}");
    }
}

#[test]
fn the_example_is_valid() {
    QuantizedModel::from_json(&example_text()).unwrap();
}

#[test]
fn truncated_and_non_json_files() {
    let text = example_text();
    for cut in [0, 1, 10, text.len() / 2, text.len() - 2] {
        let err = QuantizedModel::from_json(&text[..cut]).unwrap_err();
        assert!(matches!(err, ModelError::Json(_)), "cut at {cut}: {err}");
    }
    assert!(matches!(
        QuantizedModel::from_json("[1, 2]"),
        Err(ModelError::Json(_))
    ));
    assert!(matches!(
        QuantizedModel::from_json("hello"),
        Err(ModelError::Json(_))
    ));
}

#[test]
fn header_errors() {
    assert_mentions(
        &error_after(|v| v["format"] = json!("onnx")),
        &["format", "onnx"],
    );
    assert_mentions(&error_after(|v| v["version"] = json!(2)), &["version", "2"]);
    assert_mentions(
        &error_after(|v| {
            v.as_object_mut().unwrap().remove("version");
        }),
        &["version", "missing"],
    );
}

/// An edit of the example model's JSON.
type Edit = Box<dyn FnOnce(&mut Value)>;

#[test]
fn field_errors_name_the_field() {
    let cases: Vec<(Edit, &[&str])> = vec![
        (
            Box::new(|v| v["w"][1][0] = json!(8)),
            &["w[1][0]", "code 8", "4-bit"],
        ),
        (Box::new(|v| v["w"][0][1] = json!(-9)), &["w[0][1]", "-9"]),
        (
            Box::new(|v| v["u"][1] = json!([1, 2])),
            &["u[1]", "2 entries", "expected 1"],
        ),
        (Box::new(|v| v["w"] = json!([[1, 2]])), &["`w`", "1 rows"]),
        (
            Box::new(|v| v["b"] = json!([1])),
            &["`b`", "1 entries", "shape.hidden"],
        ),
        (Box::new(|v| v["c"] = json!([])), &["`c`", "0 entries"]),
        (Box::new(|v| v["v"][0][0] = json!(100)), &["v[0][0]", "100"]),
        (
            Box::new(|v| v["bits"]["weight"] = json!(9)),
            &["bits.weight", "9 bits", "2–8"],
        ),
        (
            Box::new(|v| v["bits"]["activation"] = json!(3)),
            &["bits.activation", "4–16"],
        ),
        (Box::new(|v| v["bits"]["input"] = json!(0)), &["bits.input"]),
        (
            Box::new(|v| v["bits"]["accumulator"] = json!(60)),
            &["bits.accumulator", "8–48"],
        ),
        (
            Box::new(|v| v["bits"]["accumulator"] = json!(-1)),
            &["bits.accumulator"],
        ),
        (
            Box::new(|v| v["bits"]["accumulator"] = json!(10)),
            &["bits.accumulator", "short by 2 bits"],
        ),
        (
            Box::new(|v| v["requant"]["multiplier"] = json!(0)),
            &["requant.multiplier", "0"],
        ),
        (
            Box::new(|v| v["requant"]["multiplier"] = json!(40000)),
            &["requant.multiplier", "40000"],
        ),
        (
            Box::new(|v| v["requant"]["shift"] = json!(63)),
            &["requant.shift", "63"],
        ),
        (
            Box::new(|v| v["alignment"]["u_shift"] = json!(17)),
            &["alignment.u_shift", "17"],
        ),
        (
            Box::new(|v| v["shape"]["hidden"] = json!(0)),
            &["shape.hidden", "0"],
        ),
        (
            Box::new(|v| v["shape"]["hidden"] = json!(3)),
            &["`w`", "2 rows", "3 × 3"],
        ),
        (
            Box::new(|v| v["activation"] = json!({"kind": "tanh"})),
            &["activation", "tanh"],
        ),
        (
            Box::new(|v| v["activation"] = json!({"kind": "modrelu", "bias": [1]})),
            &["activation.bias", "1 entries"],
        ),
        (
            Box::new(|v| v["activation"] = json!({"kind": "modrelu"})),
            &["activation", "bias"],
        ),
        (Box::new(|v| v["wieght"] = json!(1)), &["wieght"]),
        (
            Box::new(|v| v["w"][0][0] = json!("3")),
            &["w[0][0]", "string"],
        ),
        (Box::new(|v| v["w"][0][0] = json!(1.5)), &["w[0][0]"]),
        (Box::new(|v| v["b"][0] = json!(1e30)), &["b[0]"]),
        (
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("requant");
            }),
            &["requant", "missing"],
        ),
    ];
    for (edit, words) in cases {
        assert_mentions(&error_after(edit), words);
    }
}

#[test]
fn loading_a_missing_file_names_it() {
    let err = QuantizedModel::load(std::path::Path::new("/nonexistent/model.json")).unwrap_err();
    assert_mentions(&err.to_string(), &["/nonexistent/model.json"]);
}

#[test]
fn input_file_errors() {
    let model = QuantizedModel::from_json(&example_text()).unwrap();
    let err = |s: &str| parse_inputs(s, &model).unwrap_err().to_string();
    assert_mentions(
        &err(r#"{"format":"qornn.input","version":1,"sequences":[[[1],[2,3]]]}"#),
        &["sequences[0][1]", "2 inputs", "takes 1"],
    );
    assert_mentions(
        &err(r#"{"format":"qornn.input","version":1,"sequences":[[[1]],[[8]]]}"#),
        &["sequences[1][0][0]", "code 8", "4-bit"],
    );
    assert_mentions(
        &err(r#"{"format":"qornn.input","version":1,"sequences":[[]]}"#),
        &["sequences[0]", "at least one step"],
    );
    assert_mentions(
        &err(r#"{"format":"qornn.input","version":2,"sequences":[]}"#),
        &["version 2"],
    );
    assert_mentions(
        &err(r#"{"format":"qornn.input","version":1,"sequences":[[[1]"#),
        &["not a valid input file"],
    );
    let ok = parse_inputs(
        r#"{"format":"qornn.input","version":1,"sequences":[[[-8],[7]]]}"#,
        &model,
    )
    .unwrap();
    assert_eq!(ok[0].as_flat(), &[-8, 7]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Random corruptions of a valid file: an error or a valid model, never a panic, and
    /// whatever loads still passes validation.
    #[test]
    fn corrupted_files_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let mut bytes = example_text().into_bytes();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(model) = QuantizedModel::from_json(&text) {
            prop_assert!(model.validate().is_ok());
        }
    }
}

#[test]
fn relu_refuses_fields_it_does_not_have() {
    // serde's tagged enums would take these beside a unit variant; the contract does not.
    let err = error_after(|v| v["activation"] = json!({"kind": "relu", "bias": [1, 2]}));
    assert_mentions(&err, &["activation", "`relu` takes no `bias`"]);
    let err = error_after(|v| v["activation"] = json!({"kind": "relu", "bias": "anything"}));
    assert_mentions(&err, &["activation.bias"]);
    let err = error_after(|v| v["activation"] = json!({"kind": "relu", "gain": 2}));
    assert_mentions(&err, &["activation", "unknown field `gain`"]);
    let err = error_after(|v| v["activation"] = json!({"kind": "modrelu"}));
    assert_mentions(&err, &["activation", "bias"]);
    let err = error_after(|v| v["activation"] = json!({"kind": "tanh"}));
    assert_mentions(&err, &["activation", "tanh"]);
}

#[test]
fn duplicate_keys_are_refused_not_resolved_by_the_last() {
    let text = example_text();
    // Duplicate a nested key: the requantiser's shift, with another value first.
    let dup = text.replacen("\"shift\":", "\"shift\": 3, \"shift\":", 1);
    assert_ne!(dup, text, "the example has a requant shift");
    let err = QuantizedModel::from_json(&dup).unwrap_err().to_string();
    assert_mentions(&err, &["duplicate field `shift`"]);
}
