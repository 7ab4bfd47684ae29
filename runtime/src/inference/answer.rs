//! Reading a model's answer. Models asked for a JSON object do not always keep to it: some wrap
//! it in a Markdown fence, some add fields of their own. What guests get is always the same
//! shape: `summary` and `severity` (required strings), `cause` and `action` (strings, when the
//! model gave them) and `model` (who answered); anything else is dropped.

use serde_json::{Map, Value};

/// Most of a bad answer quoted in a failure reason.
const QUOTE_BYTES: usize = 200;

/// Keys kept from the model's object; the first ones are required.
const REQUIRED: [&str; 2] = ["summary", "severity"];
const OPTIONAL: [&str; 2] = ["cause", "action"];

/// Turns the message content into the normalised JSON text, or says why it cannot.
pub fn normalise(content: &str, model: &str) -> Result<String, String> {
    let text = unfence(content);
    let object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => object,
        Ok(_) | Err(_) => return Err(format!("answer is not a JSON object: {}", quote(content))),
    };
    let mut out = Map::new();
    for key in REQUIRED {
        match object.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => {
                out.insert(key.into(), Value::String(s.trim().to_string()));
            }
            _ => return Err(format!("answer has no string `{key}`: {}", quote(content))),
        }
    }
    for key in OPTIONAL {
        if let Some(Value::String(s)) = object.get(key)
            && !s.trim().is_empty()
        {
            out.insert(key.into(), Value::String(s.trim().to_string()));
        }
    }
    out.insert("model".into(), Value::String(model.to_string()));
    Ok(Value::Object(out).to_string())
}

/// The inside of a ```` ```json ```` (or bare ```` ``` ````) fence, or the text itself.
fn unfence(content: &str) -> &str {
    let trimmed = content.trim();
    let Some(rest) = trimmed.strip_prefix("```") else {
        return trimmed;
    };
    let Some(body) = rest.trim_end().strip_suffix("```") else {
        return trimmed;
    };
    // The info string (`json`) runs to the end of the fence's first line.
    match body.split_once('\n') {
        Some((info, inner)) if !info.trim_start().starts_with('{') => inner.trim(),
        _ => body.trim(),
    }
}

/// The first [`QUOTE_BYTES`] of `text` (cut at a character boundary), for failure reasons.
pub fn quote(text: &str) -> String {
    if text.len() <= QUOTE_BYTES {
        return text.to_string();
    }
    let mut end = QUOTE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{normalise, quote};

    fn parsed(text: &str) -> Value {
        serde_json::from_str(text).expect("normalised answers are JSON")
    }

    #[test]
    fn keeps_known_keys_and_names_the_model() {
        let content = r#"{"summary":" Disk full ","severity":"high","cause":"logs","action":"rotate","extra":1}"#;
        let out = parsed(&normalise(content, "m1").expect("valid"));
        assert_eq!(
            out,
            json!({"summary": "Disk full", "severity": "high", "cause": "logs", "action": "rotate", "model": "m1"})
        );
        let out = parsed(&normalise(r#"{"summary":"s","severity":"low","cause":3}"#, "m").expect("valid"));
        assert_eq!(out, json!({"summary": "s", "severity": "low", "model": "m"}));
    }

    #[test]
    fn fences_are_unwrapped() {
        for content in [
            "```json\n{\"summary\":\"s\",\"severity\":\"low\"}\n```",
            "  ```\n{\"summary\":\"s\",\"severity\":\"low\"}```  ",
            "```{\"summary\":\"s\",\"severity\":\"low\"}```",
        ] {
            let out = parsed(&normalise(content, "m").unwrap_or_else(|e| panic!("{content:?}: {e}")));
            assert_eq!(out["summary"], "s");
        }
    }

    #[test]
    fn unusable_answers_are_named() {
        let err = normalise("Sure! The disk is full.", "m").expect_err("prose");
        assert_eq!(err, "answer is not a JSON object: Sure! The disk is full.");
        assert!(normalise("[1,2]", "m").expect_err("array").starts_with("answer is not a JSON object"));
        assert!(normalise(r#"{"severity":"low"}"#, "m").expect_err("no summary").contains("no string `summary`"));
        assert!(normalise(r#"{"summary":"s","severity":2}"#, "m").expect_err("bad severity").contains("`severity`"));
        let long = "é".repeat(300);
        let q = quote(&long);
        assert!(q.len() <= 203 && q.ends_with("..."), "{q}");
    }
}
