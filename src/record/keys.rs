//! snake_case keys (`change_keys = true`, and the API's camelCase `data`).
//!
//! Records are rewritten key by key on their bytes: values (numbers as written, escapes,
//! whitespace) are never re-serialised, so `change_keys` changes keys and nothing else.

use std::collections::HashSet;

/// Rewrite a JSON value's keys (nested ones, and those of objects inside arrays, too) to
/// snake_case, copying every other byte unchanged. Returns `None` when `raw` is not valid JSON
/// (or nests deeper than `serde_json` reads): the caller keeps the original bytes.
///
/// A converted key that would collide with another key of the same object (`{"aB":1,"a_b":2}`)
/// keeps its original name, so no field is lost and keys stay unique; keys already in
/// snake_case take precedence, then the first in document order.
pub fn snake_case_json(raw: &str) -> Option<String> {
    serde_json::from_str::<serde::de::IgnoredAny>(raw).ok()?;
    let keys = scan_keys(raw);
    let targets = choose_targets(&keys);
    let mut out = String::with_capacity(raw.len() + raw.len() / 16);
    let mut copied = 0;
    for (key, target) in keys.iter().zip(targets) {
        if let Some(t) = target {
            out.push_str(&raw[copied..key.start]);
            // A string always serialises.
            out.push_str(&serde_json::to_string(&t).unwrap_or_else(|_| "\"\"".into()));
            copied = key.end;
        }
    }
    out.push_str(&raw[copied..]);
    Some(out)
}

/// One object key in the text: its bytes `start..end` (quotes included), its object (numbered
/// in the order objects open) and its decoded name (`None` when it cannot be decoded, e.g. a
/// lone surrogate escape: such a key is left as it is).
struct KeySpan {
    start: usize,
    end: usize,
    object: usize,
    name: Option<String>,
}

/// Every object key of valid JSON `raw`, in document order. Iterative: no recursion, whatever
/// the depth.
fn scan_keys(raw: &str) -> Vec<KeySpan> {
    let b = raw.as_bytes();
    // The open containers: `Some(object number)` for an object, `None` for an array.
    let mut open: Vec<Option<usize>> = Vec::new();
    let mut objects = 0;
    let mut expect_key = false;
    let mut keys = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => {
                open.push(Some(objects));
                objects += 1;
                expect_key = true;
            }
            b'[' => {
                open.push(None);
                expect_key = false;
            }
            b'}' | b']' => {
                open.pop();
                expect_key = false;
            }
            b',' => expect_key = matches!(open.last(), Some(Some(_))),
            b':' => expect_key = false,
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let end = (i + 1).min(b.len());
                if let (true, Some(Some(object))) = (expect_key, open.last()) {
                    let text = raw.get(start..end).unwrap_or_default();
                    keys.push(KeySpan {
                        start,
                        end,
                        object: *object,
                        name: serde_json::from_str::<String>(text).ok(),
                    });
                }
                expect_key = false;
            }
            _ => {}
        }
        i += 1;
    }
    keys
}

/// The new name of each key, `None` where it stays as written.
fn choose_targets(keys: &[KeySpan]) -> Vec<Option<String>> {
    let mut targets: Vec<Option<String>> = keys
        .iter()
        .map(|k| {
            let name = k.name.as_deref()?;
            let snake = to_snake_case(name);
            (snake != name).then_some(snake)
        })
        .collect();
    // Resolve collisions per object that has a key to change.
    let mut by_object: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, k) in keys.iter().enumerate() {
        by_object.entry(k.object).or_default().push(i);
    }
    for members in by_object.values() {
        if members.iter().all(|&i| targets[i].is_none()) {
            continue;
        }
        // Names that stay: keys already snake_case or undecodable, and (below) the kept ones.
        let mut taken: HashSet<String> = members
            .iter()
            .filter(|&&i| targets[i].is_none())
            .filter_map(|&i| keys[i].name.clone())
            .collect();
        for &i in members {
            if let Some(t) = &targets[i] {
                if !taken.insert(t.clone()) {
                    targets[i] = None;
                }
            }
        }
    }
    targets
}

/// Every key of `v` (nested ones, and objects inside arrays, too) in snake_case; values untouched.
pub fn snake_case_value(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (to_snake_case(&k), snake_case_value(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(snake_case_value).collect()),
        other => other,
    }
}

/// An upper-case letter that has a lower-case form. Letters such as `ℂ` or `ϒ` are upper case
/// but have none: they are kept as they are and treated like any other non-letter, otherwise a
/// second conversion would find new word boundaries beside them (`Aℂ` → `aℂ` → `a_ℂ`).
fn is_upper(c: char) -> bool {
    c.is_uppercase() && c.to_lowercase().next() != Some(c)
}

/// `eventId` → `event_id`, `ipAddressLocation` → `ip_address_location`, `AffectedUserId` →
/// `affected_user_id`, `userID` → `user_id`, `already_snake` unchanged. Idempotent.
pub fn to_snake_case(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::with_capacity(key.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if is_upper(c) {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some(p) if p == '_' || p == '-' || p == ' ' => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if is_upper(p) => next.is_some_and(|n| n.is_lowercase()),
                Some(_) => false,
            };
            if boundary {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else if c == '-' || c == ' ' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_rules() {
        for (a, b) in [
            ("eventId", "event_id"),
            ("AffectedUserId", "affected_user_id"),
            ("userID", "user_id"),
            ("IPAddress", "ip_address"),
            ("already_snake", "already_snake"),
            ("x", "x"),
            ("base64Data2", "base64_data2"),
        ] {
            assert_eq!(to_snake_case(a), b, "{a}");
        }
    }

    #[test]
    fn nested_objects_and_arrays_are_converted_values_are_not() {
        let v = serde_json::json!({"outerKey": [{"innerKey": "valueKeep"}, 1], "aB": {"cD": null}});
        assert_eq!(
            snake_case_value(v),
            serde_json::json!({"outer_key": [{"inner_key": "valueKeep"}, 1], "a_b": {"c_d": null}})
        );
    }

    // Found by the property tests: upper-case letters without a lower-case form made a second
    // conversion add boundaries.
    #[test]
    fn letters_without_a_lower_case_form_convert_once() {
        for k in ["A\u{2102}", "\u{3f9}\u{1d468}\u{11f12}", "X\u{3d2}b"] {
            let once = to_snake_case(k);
            assert_eq!(to_snake_case(&once), once, "{k}");
        }
        assert_eq!(to_snake_case("A\u{2102}"), "a\u{2102}");
    }

    // Found by the property tests: values were re-serialised (`1.50` → `1.5`, `\u00e9` → `é`,
    // large numbers drifting on each conversion) and a number out of f64's range left every key
    // unconverted.
    #[test]
    fn values_whitespace_and_escapes_are_kept_byte_for_byte() {
        let raw = "{ \"eventId\" : 1.50,\n\"Big\":2000000000000103300000e-3,\"s\":\"\\u00e9\\/\",\"Huge\":0.1E310,\"l\":[{\"inKey\":-0}]}";
        let want = "{ \"event_id\" : 1.50,\n\"big\":2000000000000103300000e-3,\"s\":\"\\u00e9\\/\",\"huge\":0.1E310,\"l\":[{\"in_key\":-0}]}";
        assert_eq!(snake_case_json(raw).as_deref(), Some(want));
        assert_eq!(snake_case_json(want).as_deref(), Some(want));
        // A key written with escapes is decoded, converted and written plainly.
        assert_eq!(
            snake_case_json(r#"{"\u0041b":1}"#).as_deref(),
            Some(r#"{"ab":1}"#)
        );
        assert_eq!(snake_case_json("[1,2]").as_deref(), Some("[1,2]"));
        assert_eq!(snake_case_json("{\"a\":1"), None);
    }

    #[test]
    fn a_conversion_that_would_collide_keeps_the_original_key() {
        for (raw, want) in [
            (r#"{"aB":1,"a_b":2}"#, r#"{"aB":1,"a_b":2}"#),
            (r#"{"a_b":2,"aB":1}"#, r#"{"a_b":2,"aB":1}"#),
            (r#"{"aB":1,"a-b":2,"cD":3}"#, r#"{"a_b":1,"a-b":2,"c_d":3}"#),
            (
                r#"{"x":{"aB":1},"aB":{"aB":2}}"#,
                r#"{"x":{"a_b":1},"a_b":{"a_b":2}}"#,
            ),
        ] {
            assert_eq!(snake_case_json(raw).as_deref(), Some(want), "{raw}");
        }
    }

    #[test]
    fn deep_documents_convert_without_recursion() {
        let deep = format!("{}{{\"aB\":1}}{}", "[".repeat(100_000), "]".repeat(100_000));
        let want = format!(
            "{}{{\"a_b\":1}}{}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(snake_case_json(&deep) == Some(want), "100,000 levels deep");
        let deep_obj = format!("{}1{}", "{\"aB\":".repeat(1000), "}".repeat(1000));
        let want = format!("{}1{}", "{\"a_b\":".repeat(1000), "}".repeat(1000));
        assert!(snake_case_json(&deep_obj) == Some(want));
    }
}
