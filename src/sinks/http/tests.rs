//! The HTTP sink's bodies.

use super::*;
use crate::config::{HumanDuration, Proxy};
use crate::record::EventType;

fn cfg(format: HttpSinkFormat, max_events: usize, max_bytes: usize) -> HttpSinkConfig {
    HttpSinkConfig {
        name: None,
        url: "http://127.0.0.1:9/ingest".into(),
        format,
        token_file: None,
        headers: Default::default(),
        gzip: false,
        batch_max_events: max_events,
        batch_max_bytes: max_bytes,
        timeout: HumanDuration(Duration::from_secs(5)),
        proxy: Proxy::None,
        insecure: false,
        ca_file: None,
        host: Some("h1".into()),
        dead_letter_path: None,
        retry_initial: HumanDuration(Duration::from_millis(10)),
        retry_max: HumanDuration(Duration::from_millis(100)),
    }
}

fn http_sink(c: &HttpSinkConfig) -> Result<HttpSink, SinkError> {
    HttpSink::new("siem".into(), c)
}

fn batch(n: usize, size: usize) -> Batch {
    Batch {
        integration: "acme".into(),
        event_type: EventType::CustomerEvents,
        records: (0..n)
            .map(|i| Record {
                json: format!("{{\"i\":{i},\"pad\":\"{}\"}}", "x".repeat(size)),
                time: 1_700_000_000 + i as i64,
            })
            .collect(),
    }
}

#[test]
fn batches_respect_event_and_byte_limits() {
    let sink = http_sink(&cfg(HttpSinkFormat::Ndjson, 7, 1024)).unwrap();
    let b = batch(50, 50);
    let bodies = sink.bodies(&b);
    assert_eq!(bodies.iter().map(|(n, _)| n).sum::<usize>(), 50);
    for (n, body) in &bodies {
        assert!(*n <= 7);
        assert!(body.len() <= 1024, "{}", body.len());
        assert_eq!(body.iter().filter(|&&c| c == b'\n').count(), *n);
    }
    // A record larger than the byte limit goes alone, whole.
    let big = batch(3, 5000);
    let bodies = sink.bodies(&big);
    assert_eq!(bodies.len(), 3);
    assert!(bodies.iter().all(|(n, b)| *n == 1 && b.len() > 5000));
}

#[test]
fn json_array_and_splunk_hec_bodies_decode() {
    let b = batch(10, 5);
    let sink = http_sink(&cfg(HttpSinkFormat::JsonArray, 4, 1 << 20)).unwrap();
    for (n, body) in sink.bodies(&b) {
        let v: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
        assert_eq!(v.len(), n);
    }
    let sink = http_sink(&cfg(HttpSinkFormat::SplunkHec, 100, 1 << 20)).unwrap();
    let bodies = sink.bodies(&b);
    assert_eq!(bodies.len(), 1);
    let events: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&bodies[0].1)
        .into_iter::<serde_json::Value>()
        .map(|v| v.unwrap())
        .collect();
    assert_eq!(events.len(), 10);
    assert_eq!(events[3]["time"], 1_700_000_003);
    assert_eq!(events[3]["sourcetype"], "docusign:customer_events");
    assert_eq!(events[3]["source"], "docusign");
    assert_eq!(events[3]["host"], "h1");
    assert_eq!(events[3]["event"]["i"], 3);
}

#[test]
fn a_body_of_given_records_is_what_the_batching_makes() {
    let b = batch(5, 3);
    for format in [
        HttpSinkFormat::Ndjson,
        HttpSinkFormat::JsonArray,
        HttpSinkFormat::SplunkHec,
    ] {
        let sink = http_sink(&cfg(format, 100, 1 << 20)).unwrap();
        let bodies = sink.bodies(&b);
        assert_eq!(bodies.len(), 1);
        assert_eq!(sink.encode(&b.records, &b), bodies[0].1, "{format:?}");
    }
}

#[test]
fn debug_shows_the_name_not_the_url() {
    let mut c = cfg(HttpSinkFormat::Ndjson, 1, 1024);
    c.url = "https://u:pw@siem.example.com/in?sig=s3cr3t".into();
    let s = format!("{:?}", http_sink(&c).unwrap());
    assert!(!s.contains("s3cr3t") && !s.contains("pw"), "{s}");
}
