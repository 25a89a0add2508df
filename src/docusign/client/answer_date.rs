//! The `Date` of the last answer read within [`track`]: a task-local slot, so
//! [`super::ApiClient::get_with_date`] reuses `get`'s retries unchanged and other calls pay nothing.

use std::cell::Cell;
use std::future::Future;

tokio::task_local! {
    static DATE: Cell<Option<i64>>;
}

/// Run `f`, and give the `Date` of the last answer it read.
pub(super) async fn track<R>(f: impl Future<Output = R>) -> (R, Option<i64>) {
    DATE.scope(Cell::new(None), async {
        let r = f.await;
        (r, DATE.with(Cell::get))
    })
    .await
}

/// Keep `headers`' `Date` for [`track`] (nothing outside it).
pub(super) fn note(headers: &reqwest::header::HeaderMap) {
    let _ = DATE.try_with(|d| d.set(parse(headers)));
}

/// An HTTP date (`Fri, 04 Dec 2026 18:02:30 GMT`), bounded in length, as Unix seconds.
fn parse(headers: &reqwest::header::HeaderMap) -> Option<i64> {
    let text = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    if text.len() > 64 {
        return None;
    }
    chrono::DateTime::parse_from_rfc2822(text.trim())
        .ok()
        .map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_date_or_nothing() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(parse(&h), None);
        h.insert("date", "Fri, 04 Dec 2026 18:02:30 GMT".parse().unwrap());
        assert_eq!(parse(&h), Some(1_796_407_350));
        for bad in ["yesterday", "", "Fri, 99 Dec 2026 18:02:30 GMT"] {
            h.insert("date", bad.parse().unwrap());
            assert_eq!(parse(&h), None, "{bad}");
        }
        h.insert("date", "x".repeat(100).parse().unwrap());
        assert_eq!(parse(&h), None, "too long");
    }

    #[tokio::test]
    async fn only_within_track() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("date", "Fri, 04 Dec 2026 18:02:30 GMT".parse().unwrap());
        note(&h); // outside: ignored
        let ((), date) = track(async { note(&h) }).await;
        assert_eq!(date, Some(1_796_407_350));
        let ((), date) = track(async {}).await;
        assert_eq!(date, None);
    }
}
