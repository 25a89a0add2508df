//! An eSignature user answer and its `modifiedDate`: never a panic; the record built from any
//! Admin user plus this answer is one JSON line that carries the answer under `esignature`.
#![no_main]

use docusign_collector::sources::admin_users::{
    esignature_modified, parse_esignature_user, parse_modified_date, AuditUser,
};
use docusign_collector_fuzz::check_record;
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

fuzz_target!(|body: &[u8]| {
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = parse_modified_date(text);
    }
    let Ok(user) = parse_esignature_user(body) else {
        return;
    };
    let modified = esignature_modified(&user);
    let admin = RawValue::from_string(r#"{"id":"u1","user_name":"A"}"#.into()).unwrap();
    let record = AuditUser {
        id: "u1".into(),
        admin,
        esignature: Some(user.clone()),
        modified,
    }
    .to_record("acme", false, 5);
    check_record(&record.json, "auditusers", "acme");
    // The answer's bytes under `esignature` (line breaks between tokens become spaces).
    let kept = format!(",\"esignature\":{}", user.get().replace(['\n', '\r'], " "));
    assert!(
        record.json.contains(&kept),
        "{:?} not in {:?}",
        user.get(),
        record.json
    );
    assert_eq!(record.time, modified.unwrap_or(5));
});
