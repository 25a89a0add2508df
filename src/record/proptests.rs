//! Property tests: `change_keys` changes keys and nothing else, the timestamp parser agrees
//! with chrono's RFC 3339 parser, and `_time` is written as chrono writes it.

use super::*;
use proptest::prelude::*;
use serde_json::Value;

/// A JSON document as the generator builds it: scalars are kept as text, so numbers such as
/// `1.50`, `-0`, `1e400` or a 30-digit integer and strings with escapes are written as they
/// would arrive from Docusign, not as `serde_json` would write them.
#[derive(Debug, Clone)]
enum Json {
    Scalar(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_]{0,8}",
        "[a-zA-Z][a-zA-Z0-9]{0,10}",
        "[A-Za-z0-9 _-]{0,8}",
        "[A-Z]{1,3}[a-z]{0,3}[A-Z0-9]{0,3}",
        any::<String>(),
    ]
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        "-?(0|[1-9][0-9]{0,30})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?",
        any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        "[a-zA-Z ]{0,6}".prop_map(|s| format!("\"{s}\\u00e9\\/\\\"\\\\\\n\\ud83d\\ude00\"")),
    ]
}

/// Keys of one object, with no two mapping to the same snake_case name (no collisions).
fn distinct_snake(entries: Entries) -> Entries {
    let mut seen = std::collections::HashSet::new();
    entries
        .into_iter()
        .filter(|(k, _)| seen.insert(to_snake_case(k)))
        .collect()
}

/// Keys of one object, distinct as written (collisions after conversion allowed).
fn distinct(entries: Entries) -> Entries {
    let mut seen = std::collections::HashSet::new();
    entries
        .into_iter()
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect()
}

type Entries = Vec<(String, Json)>;

fn json(objects: fn(Entries) -> Entries) -> impl Strategy<Value = Json> {
    scalar()
        .prop_map(Json::Scalar)
        .prop_recursive(5, 80, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
                prop::collection::vec((key(), inner), 0..6)
                    .prop_map(move |e| Json::Object(objects(e))),
            ]
        })
}

/// Whitespace to put between tokens, used in turn.
fn spacing() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[ \t\r\n]{0,2}", 1..8)
}

/// The document as text; with `snake`, every key converted (the expected `change_keys` output).
fn render(j: &Json, snake: bool, ws: &[String]) -> String {
    fn go(j: &Json, snake: bool, ws: &[String], n: &mut usize, out: &mut String) {
        fn space(ws: &[String], n: &mut usize, out: &mut String) {
            out.push_str(&ws[*n % ws.len()]);
            *n += 1;
        }
        match j {
            Json::Scalar(s) => out.push_str(s),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    space(ws, n, out);
                    go(item, snake, ws, n, out);
                    space(ws, n, out);
                }
                out.push(']');
            }
            Json::Object(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    space(ws, n, out);
                    let k = if snake { to_snake_case(k) } else { k.clone() };
                    out.push_str(&serde_json::to_string(&k).unwrap());
                    space(ws, n, out);
                    out.push(':');
                    space(ws, n, out);
                    go(v, snake, ws, n, out);
                }
                out.push('}');
            }
        }
    }
    let mut out = String::new();
    go(j, snake, ws, &mut 0, &mut out);
    out
}

/// Every scalar of a document, and the size of every object, as sorted text: what is left of it
/// when keys are forgotten (and order too).
fn contents(v: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                out.push(format!("object of {}", m.len()));
                m.values().for_each(|v| walk(v, out));
            }
            Value::Array(a) => {
                out.push(format!("array of {}", a.len()));
                a.iter().for_each(|v| walk(v, out));
            }
            scalar => out.push(scalar.to_string()),
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Only keys change: the output is exactly the input with each key converted, every other
    /// byte (values, number spelling, escapes, whitespace) identical.
    #[test]
    fn change_keys_rewrites_keys_and_nothing_else(j in json(distinct_snake), ws in spacing()) {
        let input = render(&j, false, &ws);
        let expected = render(&j, true, &ws);
        let out = snake_case_json(&input);
        prop_assert_eq!(out.as_deref(), Some(expected.as_str()));
        // The same as converting the parsed document (what the API does with `data`).
        if let (Ok(a), Ok(b)) = (serde_json::from_str::<Value>(&input), serde_json::from_str::<Value>(&expected)) {
            prop_assert_eq!(snake_case_value(a), b);
        }
    }

    /// Converting twice is converting once, collisions included; and a collision loses no value.
    #[test]
    fn change_keys_is_idempotent_and_loses_no_field(j in json(distinct), ws in spacing()) {
        let input = render(&j, false, &ws);
        let once = snake_case_json(&input).expect("valid JSON converts");
        let twice = snake_case_json(&once);
        prop_assert_eq!(twice.as_deref(), Some(once.as_str()));
        if let (Ok(a), Ok(b)) = (serde_json::from_str::<Value>(&input), serde_json::from_str::<Value>(&once)) {
            prop_assert_eq!(contents(&a), contents(&b));
        }
    }

    #[test]
    fn snake_case_of_a_key_is_idempotent(k in any::<String>()) {
        let once = to_snake_case(&k);
        prop_assert_eq!(to_snake_case(&once), once);
    }

    #[test]
    fn a_snake_case_key_is_unchanged(k in "[a-z0-9_]{0,20}") {
        prop_assert_eq!(to_snake_case(&k), k.clone());
        let doc = format!("{{{}:1}}", serde_json::to_string(&k).unwrap());
        prop_assert_eq!(snake_case_json(&doc), Some(doc.clone()));
    }

    #[test]
    fn change_keys_never_panics(s in any::<String>()) {
        let _ = snake_case_json(&s);
    }
}

/// chrono's RFC 3339 parser, truncated to seconds: the reference.
fn reference(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp())
}

/// Timestamps near the valid ones: fields in and just out of range, 0–12 fraction digits,
/// `T`/`t`/space, `Z`/`z`/offsets.
fn timestamp() -> impl Strategy<Value = String> {
    (
        (0u32..=9999, 0u32..=13, 0u32..=32),
        (0u32..=25, 0u32..=61, 0u32..=61),
        prop_oneof![Just("T"), Just("t"), Just(" "), Just("_")],
        "(\\.[0-9]{0,12})?",
        prop_oneof![
            Just("Z".to_string()),
            Just("z".to_string()),
            Just(String::new()),
            ("[+-]", 0u32..=25, 0u32..=60).prop_map(|(s, h, m)| format!("{s}{h:02}:{m:02}")),
            ("[+-]", 0u32..=25, 0u32..=60).prop_map(|(s, h, m)| format!("{s}{h:02}{m:02}")),
        ],
    )
        .prop_map(|((y, mo, d), (h, mi, s), sep, frac, zone)| {
            format!("{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{s:02}{frac}{zone}")
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn timestamps_agree_with_the_reference(s in timestamp()) {
        prop_assert_eq!(parse_timestamp(&s), reference(&s), "{}", s);
    }

    /// A valid timestamp with one byte replaced.
    #[test]
    fn damaged_timestamps_agree_with_the_reference(
        s in timestamp(), at in any::<prop::sample::Index>(), c in any::<char>()
    ) {
        let mut chars: Vec<char> = s.chars().collect();
        let i = at.index(chars.len());
        chars[i] = c;
        let s: String = chars.into_iter().collect();
        prop_assert_eq!(parse_timestamp(&s), reference(&s), "{}", s);
    }

    #[test]
    fn garbage_never_panics_and_agrees(s in any::<String>()) {
        prop_assert_eq!(parse_timestamp(&s), reference(&s));
    }
}

/// `_time` as chrono writes it (what `format_time` did before it wrote digits itself).
fn reference_format(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map_or_else(
        || "1970-01-01T00:00:00Z".to_string(),
        |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn format_time_agrees_with_chrono_in_years_0_to_9999(unix in -62_167_219_200i64..253_402_300_800) {
        prop_assert_eq!(format_time(unix), reference_format(unix));
    }

    #[test]
    fn format_time_agrees_with_chrono_anywhere(unix in any::<i64>()) {
        prop_assert_eq!(format_time(unix), reference_format(unix));
    }

    #[test]
    fn format_time_and_parse_timestamp_round_trip(unix in 0i64..253_402_300_800) {
        prop_assert_eq!(parse_timestamp(&format_time(unix)), Some(unix));
    }
}
