//! `change_keys`: never a panic; valid JSON in, valid JSON out with the same values (keys
//! forgotten); converting twice is converting once.
#![no_main]

use docusign_collector::record::snake_case_json;
use docusign_collector_fuzz::values_only;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|s: &str| {
    let Some(out) = snake_case_json(s) else {
        assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(s).is_err(),
            "valid JSON not converted: {s:?}"
        );
        return;
    };
    assert_eq!(
        snake_case_json(&out).as_deref(),
        Some(out.as_str()),
        "not idempotent: {s:?}"
    );
    if let Ok(before) = serde_json::from_str::<Value>(s) {
        let after: Value = serde_json::from_str(&out).expect("output parses where input did");
        // Values are equal after keys are forgotten, unless the input had duplicate keys
        // (a parse keeps the last of them, and they may now sort differently).
        if !has_duplicate_keys(s) {
            assert_eq!(values_only(&before), values_only(&after), "{s:?} → {out:?}");
        }
    }
});

fn has_duplicate_keys(s: &str) -> bool {
    use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
    struct Check(bool);
    impl<'de> Visitor<'de> for &mut Check {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(k) = m.next_key::<String>()? {
                if !seen.insert(k) {
                    self.0 = true;
                }
                m.next_value_seed(&mut *self)?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
            while a.next_element_seed(&mut *self)?.is_some() {}
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }
    impl<'de> serde::de::DeserializeSeed<'de> for &mut Check {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    let mut check = Check(false);
    let mut de = serde_json::Deserializer::from_str(s);
    use serde::de::DeserializeSeed;
    (&mut check).deserialize(&mut de).is_err() || check.0
}
