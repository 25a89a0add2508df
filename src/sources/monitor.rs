//! Customer events from the Monitor API stream.
//!
//! Lens: `GET {monitor}/api/v2.0/datasets/monitor/stream?cursor=&limit=` → `{"endCursor","data":[…]}`.
//! V1:   `GET {monitor}/v1/organizations/{organization_id}/stream?cursor=&limit=` → `{"endCursor","resultData":[…]}`.
//!
//! A page is split into raw event slices (`RawValue`); only `timestamp` is read from each, and
//! the record is the event's bytes with the added fields spliced in.

use super::{Checkpoint, Source, SourcePage};
use crate::config::{IntegrationConfig, MonitorApi};
use crate::docusign::client::{ApiClient, ApiError, BodyError};
use crate::docusign::Api;
use crate::record::{self, EventType, Record};
use crate::telemetry::events::BadTimestamps;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// One page, ready for the sinks.
#[derive(Debug)]
pub struct MonitorPage {
    /// The cursor sent for this page.
    pub cursor: String,
    pub end_cursor: String,
    pub records: Vec<Record>,
    /// Events whose `timestamp` was missing or unreadable (collection time used).
    pub bad_timestamps: usize,
}

impl MonitorPage {
    /// The stream is caught up when Docusign answers with the cursor it was sent. An empty page
    /// counts too: its (possibly advanced) cursor is saved and the next cycle goes on from it, so
    /// a stream whose cursor moves with the clock cannot keep one cycle polling forever.
    pub fn caught_up(&self) -> bool {
        self.end_cursor == self.cursor || self.records.is_empty()
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "endCursor", borrow)]
    end_cursor: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<Vec<&'a RawValue>>,
    #[serde(rename = "resultData", borrow, default)]
    result_data: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
}

/// The Monitor stream's position: Docusign's `endCursor` (opaque), or an ISO 8601 time before
/// the first page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorCursor(pub String);

impl Checkpoint for MonitorCursor {
    fn encode(&self) -> String {
        self.0.clone()
    }
    fn decode(text: &str) -> Option<Self> {
        Some(MonitorCursor(text.to_string()))
    }
    fn describe(&self) -> String {
        format!("cursor {}", self.0)
    }
}

/// One cycle's read of the Monitor stream: pages from a cursor until caught up.
pub struct MonitorStream {
    source: MonitorSource,
    cursor: String,
    limit: u32,
    done: bool,
}

impl Source for MonitorStream {
    type Checkpoint = MonitorCursor;

    async fn next_page(&mut self) -> Result<Option<SourcePage<MonitorCursor>>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let page = self.source.fetch_page(&self.cursor, self.limit).await?;
        self.done = page.caught_up();
        let moved = page.end_cursor != page.cursor;
        self.cursor.clone_from(&page.end_cursor);
        Ok(Some(SourcePage {
            records: page.records,
            checkpoint: moved.then_some(MonitorCursor(page.end_cursor)),
        }))
    }
}

/// Reads the Monitor stream for one integration.
#[derive(Clone)]
pub struct MonitorSource {
    client: ApiClient,
    base: String,
    integration: String,
    api: MonitorApi,
    organization_id: Option<String>,
    change_keys: bool,
}

impl MonitorSource {
    pub fn new(client: ApiClient, cfg: &IntegrationConfig) -> Self {
        MonitorSource {
            client,
            base: cfg.endpoints().monitor,
            integration: cfg.name.clone(),
            api: cfg.customer_events.api,
            organization_id: cfg.organization_id.clone(),
            change_keys: cfg.change_keys,
        }
    }

    /// A cycle's read from `saved` (the committed cursor), else from `start` (an ISO 8601 time),
    /// `limit` events per page.
    pub fn stream(&self, saved: Option<MonitorCursor>, start: String, limit: u32) -> MonitorStream {
        MonitorStream {
            source: self.clone(),
            cursor: saved.map(|c| c.0).unwrap_or(start),
            limit,
            done: false,
        }
    }

    /// The page URL for `cursor` (the organization id percent-encoded into its path segment).
    pub fn url(&self, cursor: &str, limit: u32) -> String {
        let org = self.organization_id.as_deref().unwrap_or_default();
        let segments = match self.api {
            MonitorApi::Lens => vec!["api", "v2.0", "datasets", "monitor", "stream"],
            MonitorApi::V1 => vec!["v1", "organizations", org, "stream"],
        };
        let mut url = match crate::support::untrusted::path_url(&self.base, &segments) {
            Ok(u) => u,
            // Not a URL (the client refuses it by name): configuration validation keeps this
            // from happening.
            Err(_) => return format!("{}/{}", self.base, segments.join("/")),
        };
        url.query_pairs_mut()
            .append_pair("cursor", cursor)
            .append_pair("limit", &limit.to_string());
        url.to_string()
    }

    /// Fetch the page after `cursor` (an `endCursor`, an ISO 8601 time, or empty).
    pub async fn fetch_page(&self, cursor: &str, limit: u32) -> Result<MonitorPage, ApiError> {
        let url = self.url(cursor, limit);
        let page = self
            .client
            .get(Api::Monitor, &url, false, |body| self.parse(body, cursor))
            .await?;
        page.ok_or_else(|| ApiError::Malformed {
            integration: self.integration.clone(),
            api: Api::Monitor,
            message: "stream answered 404".into(),
        })
    }

    /// Parse a page body into records. Errors describe what is wrong with the body.
    pub fn parse(&self, body: &[u8], cursor: &str) -> Result<MonitorPage, BodyError> {
        parse_page(
            body,
            cursor,
            &self.integration,
            self.change_keys,
            crate::support::clock::now_unix(),
        )
    }
}

/// An event's `timestamp`. Docusign writes it as the first field, so that case is read straight
/// from the bytes (no second pass over the event); any other layout goes through serde.
fn timestamp_of(ev: &RawValue) -> Option<Cow<'_, str>> {
    if let Some(rest) = ev.get().strip_prefix(r#"{"timestamp":""#) {
        if let Some(end) = rest.find('"') {
            let t = &rest[..end];
            if !t.contains('\\') {
                return Some(Cow::Borrowed(t));
            }
        }
    }
    serde_json::from_str::<Peek>(ev.get()).ok()?.timestamp
}

/// Parse a Monitor page (lens or v1 shape).
pub fn parse_page(
    body: &[u8],
    cursor: &str,
    integration: &str,
    change_keys: bool,
    now: i64,
) -> Result<MonitorPage, BodyError> {
    let env: Envelope = serde_json::from_slice(body)
        .map_err(|e| BodyError::json("not a Monitor stream page", &e))?;
    let end_cursor = env
        .end_cursor
        .ok_or_else(|| BodyError::invalid("the page has no endCursor"))?
        .into_owned();
    let events = env.data.or(env.result_data).unwrap_or_default();
    let mut records = Vec::with_capacity(events.len());
    let splicer = record::Splicer::new(EventType::CustomerEvents, integration, change_keys);
    let mut bad = 0;
    for ev in events {
        let time = timestamp_of(ev).and_then(|t| record::parse_timestamp(&t));
        let time = match time {
            Some(t) => t,
            None => {
                bad += 1;
                now
            }
        };
        records.push(splicer.build(ev, time));
    }
    if bad > 0 {
        BadTimestamps {
            integration,
            events: bad as u64,
        }
        .emit();
    }
    Ok(MonitorPage {
        cursor: cursor.to_string(),
        end_cursor,
        records,
        bad_timestamps: bad,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lens_and_v1_pages() {
        let lens = br#"{"endCursor":"aa_1_1_2","data":[{"timestamp":"2023-03-03T09:10:06.0512813Z","eventId":"a"},{"timestamp":"2023-03-03T09:10:07Z","eventId":"b"}]}"#;
        let p = parse_page(lens, "c0", "acme", false, 5).unwrap();
        assert_eq!(p.end_cursor, "aa_1_1_2");
        assert_eq!(p.records.len(), 2);
        assert_eq!(p.records[0].time, 1677834606);
        assert_eq!(p.bad_timestamps, 0);
        assert!(!p.caught_up());
        let v1 = br#"{"endCursor":"c0","resultData":[]}"#;
        let p = parse_page(v1, "c0", "acme", false, 5).unwrap();
        assert!(p.caught_up());
        assert!(p.records.is_empty());
        // A new cursor with no events: caught up as well (the cursor is still saved).
        let moved = br#"{"endCursor":"c1","data":[]}"#;
        let p = parse_page(moved, "c0", "acme", false, 5).unwrap();
        assert!(p.caught_up());
        assert_eq!(p.end_cursor, "c1");
    }

    #[test]
    fn a_bad_timestamp_never_stops_the_page() {
        let body = br#"{"endCursor":"x","data":[{"eventId":"a"},{"timestamp":"garbage","eventId":"b"},{"timestamp":42},"str",{"timestamp":"2023-03-03T09:10:06Z"}]}"#;
        let p = parse_page(body, "", "acme", false, 1000).unwrap();
        assert_eq!(p.records.len(), 5);
        assert_eq!(p.bad_timestamps, 4);
        assert_eq!(p.records[0].time, 1000);
        assert_eq!(p.records[4].time, 1677834606);
        for r in &p.records {
            let v: serde_json::Value = serde_json::from_str(&r.json).unwrap();
            assert_eq!(v["_integration"], "acme");
        }
    }

    #[test]
    fn the_timestamp_is_read_wherever_it_stands() {
        for (event, want) in [
            (
                r#"{"timestamp":"2023-03-03T09:10:06Z","a":1}"#,
                Some("2023-03-03T09:10:06Z"),
            ),
            (
                r#"{"a":1,"timestamp":"2023-03-03T09:10:06Z"}"#,
                Some("2023-03-03T09:10:06Z"),
            ),
            (
                r#"{ "timestamp" : "2023-03-03T09:10:06Z" }"#,
                Some("2023-03-03T09:10:06Z"),
            ),
            (r#"{"timestamp":"2023\u002d03"}"#, Some("2023-03")),
            (r#"{"timestamp":42}"#, None),
            (r#"{"timestamp":""}"#, Some("")),
            (r#"{"timestamp":"unterminated"#, None),
            (r#""text""#, None),
        ] {
            let got = match RawValue::from_string(event.into()) {
                Ok(r) => timestamp_of(&r).map(|c| c.into_owned()),
                Err(_) => None,
            };
            assert_eq!(got.as_deref(), want, "{event}");
        }
    }

    #[test]
    fn malformed_pages_are_errors_not_panics() {
        for body in [
            &b""[..],
            b"{",
            b"[]",
            br#"{"data":[]}"#,
            br#"{"endCursor":"x","data":[{"a":1}"#,
        ] {
            assert!(
                parse_page(body, "", "acme", false, 0).is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_pretty_printed_page_gives_one_line_per_record() {
        let body = b"{\n  \"endCursor\": \"c1\",\n  \"data\": [\n    {\n      \"timestamp\": \"2023-03-03T09:10:06Z\",\n      \"eventId\": \"a\"\n    }\n  ]\n}\n";
        let p = parse_page(body, "c0", "acme", false, 0).unwrap();
        assert_eq!(p.records.len(), 1);
        assert!(!p.records[0].json.contains('\n'), "{}", p.records[0].json);
        assert_eq!(p.records[0].time, 1677834606);
    }
}
