//! The file formats of qornn, by their `format` field, so that a file given in the wrong place
//! (a model where an input file is expected) is named for what it is.

/// `(format field, what the file is, the option that takes it)` for every qornn JSON file.
pub const FORMATS: [(&str, &str, &str); 3] = [
    (crate::model::MODEL_FORMAT, "an integer model", "--model"),
    (crate::sequence::INPUT_FORMAT, "an input file", "--input"),
    ("qornn.checkpoint", "a training checkpoint", "--checkpoint"),
];

/// The `format` field at the top of a JSON document, when it has one.
pub fn format_of(text: &str) -> Option<String> {
    // Only the top-level object's keys are read; the values are skipped without building them.
    #[derive(serde::Deserialize)]
    struct Head {
        format: Option<String>,
    }
    serde_json::from_str::<Head>(text).ok()?.format
}

/// When `text` is another qornn file than the `expected` format, a sentence saying what it is
/// and where it goes (`this is an integer model: give it with --model`).
pub fn wrong_kind(text: &str, expected: &str) -> Option<String> {
    let found = format_of(text)?;
    if found == expected {
        return None;
    }
    FORMATS
        .iter()
        .find(|(f, _, _)| *f == found)
        .map(|(_, what, option)| {
            format!("this is {what} (format \"{found}\"): give it with {option}")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_in_the_wrong_place_are_named() {
        let model = r#"{"format": "qornn.quantized-model", "version": 1, "w": [[1]]}"#;
        let hint = wrong_kind(model, crate::sequence::INPUT_FORMAT).unwrap();
        assert!(
            hint.contains("integer model") && hint.contains("--model"),
            "{hint}"
        );
        assert_eq!(wrong_kind(model, crate::model::MODEL_FORMAT), None);
        assert_eq!(wrong_kind("[1, 2]", crate::model::MODEL_FORMAT), None);
        assert_eq!(
            wrong_kind(r#"{"format": "other"}"#, crate::model::MODEL_FORMAT),
            None
        );
    }
}
