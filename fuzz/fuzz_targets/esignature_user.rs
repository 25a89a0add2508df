//! An eSignature user answer and its `modifiedDate`: never a panic; the record built from any
//! Admin user plus this answer is one JSON line that carries the answer under `esignature`.
#![no_main]

use docusign_collector::config::AuditRecordShape;
use docusign_collector::record::{EventType, Splicer};
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
    let modified = esignature_modified(&user).flatten();
    let admin = RawValue::from_string(r#"{"id":"u1","user_name":"A"}"#.into()).unwrap();
    let user = AuditUser {
        id: "u1".into(),
        admin,
        esignature: Some(user),
    };
    let splicer = Splicer::new(EventType::AuditUsers, "acme", false);
    let time = modified.unwrap_or(5);
    let record = user.to_record(&splicer, AuditRecordShape::Admin, time);
    check_record(&record.json, "auditusers", "acme");
    let es = user.esignature.as_deref().map(RawValue::get).unwrap_or_default();
    // The answer's bytes under `esignature` (line breaks between tokens become spaces).
    let kept = format!(",\"esignature\":{}", es.replace(['\n', '\r'], " "));
    assert!(record.json.contains(&kept), "{es:?} not in {:?}", record.json);
    assert_eq!(record.time, time);
    // Shaped for eSignature content: the answer at the top level, still one record.
    let record = user.to_record(&splicer, AuditRecordShape::Esignature, time);
    check_record(&record.json, "auditusers", "acme");
});
