//! A Monitor stream page (lens `data` or v1 `resultData`): never a panic; every record one
//! JSON line with the added fields, one record per event; with `change_keys` the same count.
#![no_main]

use docusign_collector::sources::monitor::parse_page;
use docusign_collector_fuzz::check_record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let plain = parse_page(body, "c0", "acme", false, 1_700_000_000);
    let snake = parse_page(body, "c0", "acme", true, 1_700_000_000);
    assert_eq!(plain.is_ok(), snake.is_ok());
    if let (Ok(plain), Ok(snake)) = (plain, snake) {
        assert_eq!(plain.records.len(), snake.records.len());
        assert_eq!(plain.bad_timestamps, snake.bad_timestamps);
        for (p, s) in plain.records.iter().zip(&snake.records) {
            check_record(&p.json, "customerevent", "acme");
            check_record(&s.json, "customerevent", "acme");
            assert_eq!(p.time, s.time);
        }
    }
});
