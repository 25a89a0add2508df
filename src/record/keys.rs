//! snake_case keys (`change_keys = true`, and the API's camelCase `data`): the only place a
//! record is fully parsed.

/// Re-serialise a JSON object with every key (nested ones too) in snake_case.
/// Returns `None` when `raw` is not valid JSON (the caller keeps the original bytes).
pub fn snake_case_json(raw: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(raw).ok()?;
    serde_json::to_string(&snake_case_value(value)).ok()
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

/// `eventId` → `event_id`, `ipAddressLocation` → `ip_address_location`, `AffectedUserId` →
/// `affected_user_id`, `userID` → `user_id`, `already_snake` unchanged.
pub fn to_snake_case(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::with_capacity(key.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some(p) if p == '_' || p == '-' || p == ' ' => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(|n| n.is_lowercase()),
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
}
