//! An Admin users page: never a panic; every user becomes one JSON line, with or without
//! eSignature details; the next page is always on the Admin origin.
#![no_main]

use docusign_collector::config::AuditRecordShape;
use docusign_collector::record::{EventType, Splicer};
use docusign_collector::sources::admin_users::{next_page, parse_admin_page, AuditUser, NextPage};
use docusign_collector_fuzz::check_record;
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

const URL: &str =
    "https://api-d.docusign.net/management/v2/organizations/o/users?account_id=a&take=250&start=0";

fuzz_target!(|body: &[u8]| {
    let Ok(page) = parse_admin_page(body) else {
        return;
    };
    match next_page(URL, &page) {
        NextPage::Follow(url) => assert!(
            url.starts_with("https://api-d.docusign.net/"),
            "the token would go to {url}"
        ),
        NextPage::Start(start) => assert!(start > 0),
        NextPage::Done => {}
    }
    let esignature =
        RawValue::from_string(r#"{"userSettings":{"modifiedDate":"3/12/2026 3:17:20 PM"}}"#.into())
            .ok();
    let splicers = [false, true].map(|change_keys| Splicer::new(EventType::AuditUsers, "acme", change_keys));
    for (id, admin) in page.users {
        for es in [None, esignature.clone()] {
            let user = AuditUser {
                id: id.clone(),
                admin: admin.clone(),
                esignature: es,
            };
            let time = match user.modified_date() {
                Some(Some(t)) => t,
                _ => 0,
            };
            for splicer in &splicers {
                for shape in [AuditRecordShape::Admin, AuditRecordShape::Esignature] {
                    check_record(&user.to_record(splicer, shape, time).json, "auditusers", "acme");
                }
            }
        }
    }
});
