//! The parse-and-splice path alone, for instruction counts: `splice PAGES` parses PAGES copies of
//! one 2,000-event Monitor page (seven-digit fractions, as Docusign writes them) into records.
//! `scripts/callgrind-splice` runs it under `valgrind --tool=callgrind` at two page counts and
//! prints the instructions per event (the difference, so start-up is not counted).

use docusign_collector::sources::monitor::parse_page;

fn page(events: usize) -> String {
    let mut body =
        String::from(r#"{"endCursor":"aa_638553500560000000_638553500560000000_0","data":["#);
    for i in 0..events {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            r#"{{"timestamp":"2024-03-03T09:10:{:02}.0512813Z","eventId":"a8010d32-0000-4000-8000-{i:012}","site":"DEMO","accountId":"8949bd2a-1c3e-4b5d-8f6a-7b8c9d0e1f02","organizationId":"3b5c9a1e-7d24-4f6b-9a0e-5c1d2e3f4a01","userId":"9cfb472b-0000-4000-8000-000000000001","integratorKey":"","userAgent":"Mozilla/5.0","ipAddress":"162.248.186.11","ipAddressLocation":{{"latitude":47.6,"longitude":-122.33,"country":"US","state":"WA","city":"Seattle"}},"object":"Account","action":"UserAdded","property":"","field":"","result":"","source":"API","data":{{"AffectedUserId":"7c2e9a41-0000-4000-8000-000000000002","PermissionProfileId":"14414475"}}}}"#,
            i % 60
        ));
    }
    body.push_str("]}");
    body
}

fn main() {
    let pages: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let body = page(2000);
    let mut records = 0usize;
    let mut bytes = 0usize;
    for _ in 0..pages {
        match parse_page(body.as_bytes(), "c0", "acme", false, 0) {
            Ok(p) => {
                records += p.records.len();
                bytes += p.records.iter().map(|r| r.json.len()).sum::<usize>();
            }
            Err(e) => {
                eprintln!("parse failed: {e}");
                std::process::exit(1);
            }
        }
    }
    println!("{records} records, {bytes} bytes");
}
