//! An Admin users page: never a panic; every user becomes one JSON line, with or without
//! eSignature details; the next page is always on the Admin origin.
#![no_main]

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
    for (id, admin) in page.users {
        for es in [None, esignature.clone()] {
            let user = AuditUser {
                id: id.clone(),
                admin: admin.clone(),
                esignature: es,
                modified: Some(1_773_328_640),
            };
            for change_keys in [false, true] {
                check_record(
                    &user.to_record("acme", change_keys, 0).json,
                    "auditusers",
                    "acme",
                );
            }
        }
    }
});
