//! Checks shared by the fuzz targets.

use serde_json::Value;

/// A record as every sink writes it: one line (no line break at all), valid JSON (by the
/// grammar: records carry Docusign's bytes, so a number beyond f64 or a lone surrogate escape
/// that Docusign sent stays), an object that ends with the three added fields, `_time` as
/// `YYYY-MM-DDTHH:MM:SSZ`. (The added fields come last, so a reader that keeps the last of
/// duplicate keys sees them even when the event had its own `_time`.)
pub fn check_record(json: &str, source_log_type: &str, integration: &str) {
    assert!(
        !json.contains(['\n', '\r']),
        "a record spans several lines: {json:?}"
    );
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(json) {
        panic!("a record is not JSON ({e}): {json:?}");
    }
    assert!(json.starts_with('{'), "a record is not an object: {json:?}");
    let tail = format!(
        "\",\"source_log_type\":\"{source_log_type}\",\"_integration\":{}}}",
        serde_json::to_string(integration).unwrap()
    );
    let head = json
        .strip_suffix(&tail)
        .unwrap_or_else(|| panic!("the added fields are not last: {json:?}"));
    let time = head
        .len()
        .checked_sub(20)
        .and_then(|i| head.get(i..))
        .unwrap_or_default();
    let shape = time.bytes().enumerate().all(|(i, c)| match i {
        4 | 7 => c == b'-',
        10 => c == b'T',
        13 | 16 => c == b':',
        19 => c == b'Z',
        _ => c.is_ascii_digit(),
    });
    assert!(
        time.len() == 20 && shape && head[..head.len() - 20].ends_with("\"_time\":\""),
        "_time {time:?} in {json:?}"
    );
}

/// `s` with its keys forgotten: objects become the sorted list of their values. Two documents
/// with the same `values_only` differ in keys at most.
pub fn values_only(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut vals: Vec<Value> = m.values().map(values_only).collect();
            vals.sort_by_key(|v| v.to_string());
            Value::Array(vals)
        }
        Value::Array(a) => Value::Array(a.iter().map(values_only).collect()),
        other => other.clone(),
    }
}
