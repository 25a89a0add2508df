//! eSignature Users:list (`GET {base_uri}/restapi/v2.1/accounts/{account}/users?additional_info=true&count=100&start_position=N`):
//! parsing a page, where the next one starts, and reading the whole list into a
//! [`Scratch`] store for one query.
//!
//! Numbers come as strings. The reader advances `start_position` by `resultSetSize` until
//! `endPosition + 1 >= totalSetSize`, building each URL itself from the account's `base_uri`;
//! `nextUri` (relative to the account) is consulted only when the positions are missing, and
//! only for its `start_position`, so the token never goes to an origin an answer names.

use super::enrich::{fails_every_user, SettingsPeek};
use super::AdminUsersSource;
use crate::docusign::client::{ApiError, BodyError};
use crate::docusign::Api;
use crate::state::Scratch;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// Users per Users:list call (the most v2.1 gives).
pub const LIST_COUNT: u64 = 100;

/// A number Docusign may send as a string or as a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Num<'a> {
    Int(u64),
    #[serde(borrow)]
    Text(Cow<'a, str>),
}

impl Num<'_> {
    fn get(&self) -> Option<u64> {
        match self {
            Num::Int(n) => Some(*n),
            Num::Text(s) => s.trim().parse().ok(),
        }
    }
}

#[derive(Deserialize)]
struct RawList<'a> {
    #[serde(borrow, default)]
    users: Option<Vec<&'a RawValue>>,
    #[serde(rename = "resultSetSize", borrow, default)]
    result_set_size: Option<Num<'a>>,
    #[serde(rename = "totalSetSize", borrow, default)]
    total_set_size: Option<Num<'a>>,
    #[serde(rename = "endPosition", borrow, default)]
    end_position: Option<Num<'a>>,
    #[serde(rename = "nextUri", default)]
    next_uri: Option<String>,
}

#[derive(Deserialize)]
struct ListedPeek<'a> {
    #[serde(rename = "userId", borrow, default)]
    user_id: Option<Cow<'a, str>>,
    #[serde(rename = "userSettings", borrow, default)]
    user_settings: Option<SettingsPeek<'a>>,
}

/// One listed user: its id (lowercase, the join key) and its bytes, when the list carries a
/// `userSettings.modifiedDate` for it (else it is left to the single-user call).
pub struct Listed {
    pub key: String,
    pub user: Box<RawValue>,
}

/// One Users:list page, parsed.
pub struct ListPage {
    /// The users with an id and a `modifiedDate`.
    pub users: Vec<Listed>,
    /// Users listed without an id or without `modifiedDate`.
    pub incomplete: usize,
    /// `totalSetSize`, when readable.
    pub total: Option<u64>,
    /// The `start_position` of the next page, or `None` on the last page.
    pub next_start: Option<u64>,
}

/// The key users are joined by: eSignature and Admin may spell a GUID in either case.
pub fn join_key(id: &str) -> String {
    id.trim().to_ascii_lowercase()
}

/// Parse the Users:list page fetched at `start` from the account whose API root is
/// `account_url` (`{base_uri}/restapi/v2.1/accounts/{account}`).
pub fn parse_list_page(body: &[u8], start: u64, account_url: &str) -> Result<ListPage, BodyError> {
    let raw: RawList =
        serde_json::from_slice(body).map_err(|e| BodyError::json("not a Users:list page", &e))?;
    let listed = raw.users.unwrap_or_default();
    let count = listed.len() as u64;
    let mut users = Vec::with_capacity(listed.len());
    let mut incomplete = 0;
    for u in listed {
        let peek = serde_json::from_str::<ListedPeek>(u.get()).ok();
        let id = peek.as_ref().and_then(|p| p.user_id.as_deref());
        let dated = peek
            .as_ref()
            .and_then(|p| p.user_settings.as_ref())
            .and_then(|s| s.modified_date.as_deref())
            .is_some_and(|d| !d.trim().is_empty());
        match id.filter(|i| !i.trim().is_empty()) {
            Some(id) if dated => users.push(Listed {
                key: join_key(id),
                user: u.to_owned(),
            }),
            _ => incomplete += 1,
        }
    }
    // The answer's numbers are not trusted: the next start advances by at most the users this
    // page listed (a larger `resultSetSize` would skip users), and a start that would not fit
    // in a u64 ends the list.
    let size = raw
        .result_set_size
        .and_then(|n| n.get())
        .unwrap_or(count)
        .min(count);
    let total = raw.total_set_size.and_then(|n| n.get());
    let end = raw.end_position.and_then(|n| n.get());
    let after = start.checked_add(size);
    let next_start = match (total, end) {
        _ if size == 0 || count == 0 => None,
        (Some(total), Some(end)) => after.filter(|_| end.saturating_add(1) < total),
        (Some(total), None) => after.filter(|&next| next < total),
        _ => raw
            .next_uri
            .as_deref()
            .and_then(|n| next_uri_start(n, account_url))
            .filter(|&n| n > start),
    };
    Ok(ListPage {
        users,
        incomplete,
        total,
        next_start,
    })
}

/// `start_position` of a `nextUri`: relative to `account_url`, or absolute on its origin and
/// under its path. Another origin gives `None` (and is never requested).
fn next_uri_start(next: &str, account_url: &str) -> Option<u64> {
    let base = url::Url::parse(account_url).ok()?;
    let next = next.trim();
    let url = match url::Url::parse(next) {
        Ok(abs) => {
            (abs.origin() == base.origin() && abs.path().starts_with(base.path())).then_some(abs)
        }
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            url::Url::parse(&format!("{}{}", account_url.trim_end_matches('/'), next)).ok()
        }
        Err(_) => None,
    };
    let Some(url) = url else {
        tracing::warn!("Users:list nextUri is not under the account's eSignature URL: ignored");
        return None;
    };
    url.query_pairs()
        .find(|(k, _)| k == "start_position")
        .and_then(|(_, v)| v.parse().ok())
}

impl AdminUsersSource {
    /// `{base_uri}/restapi/v2.1/accounts/{account}`, the account id percent-encoded.
    fn account_url(&self, base_uri: &str) -> String {
        let segments = ["restapi", "v2.1", "accounts", &self.account_id];
        match crate::support::untrusted::path_url(base_uri, &segments) {
            Ok(u) => u.to_string(),
            // Not a URL (the client refuses it by name): `base_uri` was checked before use.
            Err(_) => format!("{base_uri}/{}", segments.join("/")),
        }
    }

    /// Read the account's users through Users:list into a new [`Scratch`] (users with a
    /// `modifiedDate`, by [`join_key`]), one page in memory at a time. Listing stops early when
    /// the pages left would cost more calls than the `users` to enrich. `Ok(None)` when the list
    /// cannot be used (its users are then looked up singly); what fails for every user (the
    /// token, a URL that cannot be requested) is an error.
    pub async fn list_users(
        &self,
        base_uri: &str,
        users: u64,
    ) -> Result<Option<Scratch>, ApiError> {
        let scratch = match Scratch::new() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(integration = %self.integration, "no scratch store for Users:list ({e}): enriching one user at a time");
                return Ok(None);
            }
        };
        let account_url = self.account_url(base_uri);
        let (mut start, mut calls, mut incomplete) = (0u64, 0u64, 0usize);
        loop {
            let url = format!(
                "{account_url}/users?additional_info=true&count={LIST_COUNT}&start_position={start}"
            );
            let answer = self
                .client
                .get(Api::ESignature, &url, false, |b| {
                    parse_list_page(b, start, &account_url)
                })
                .await;
            calls += 1;
            let page = match answer {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) if fails_every_user(&e) => return Err(e),
                Err(e) => {
                    tracing::warn!(integration = %self.integration, "Users:list failed, the users it did not list are looked up one at a time: {e}");
                    // The account may have moved: the next query asks userinfo again.
                    self.forget_base_uri();
                    break;
                }
            };
            incomplete += page.incomplete;
            let stored = scratch.put_all(page.users.iter().map(|l| (l.key.as_str(), l.user.get())));
            if let Err(e) = stored {
                tracing::warn!(integration = %self.integration, "scratch store failed ({e}): enriching one user at a time");
                return Ok(None);
            }
            let Some(next) = page.next_start else { break };
            let left = page
                .total
                .unwrap_or(0)
                .saturating_sub(next)
                .div_ceil(LIST_COUNT);
            if calls == 1 && left > users {
                tracing::info!(integration = %self.integration, "the account lists more users than the query has: the rest are looked up one at a time");
                break;
            }
            start = next;
        }
        tracing::info!(integration = %self.integration, calls, incomplete, "eSignature users read through Users:list");
        Ok(Some(scratch))
    }
}

impl AdminUsersSource {
    /// User `id`'s eSignature details from the list, if it carried them. A store that cannot
    /// answer is a miss: the user is looked up singly.
    pub(super) fn listed_user(&self, listed: &Scratch, id: &str) -> Option<Box<RawValue>> {
        if id.trim().is_empty() {
            return None;
        }
        match listed.get(&join_key(id)) {
            Ok(found) => found.and_then(|text| RawValue::from_string(text).ok()),
            Err(e) => {
                tracing::debug!(integration = %self.integration, "scratch store lookup failed ({e}): looking the user up singly");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "https://demo.example/restapi/v2.1/accounts/a1";

    fn user(id: &str, dated: bool) -> String {
        if dated {
            format!(
                r#"{{"userId":"{id}","userSettings":{{"modifiedDate":"3/12/2026 3:17:20 PM"}}}}"#
            )
        } else {
            format!(r#"{{"userId":"{id}","userSettings":{{"locale":"en"}}}}"#)
        }
    }

    #[test]
    fn numbers_as_strings_and_positions_decide_the_next_page() {
        let body = format!(
            r#"{{"users":[{},{}],"resultSetSize":"2","totalSetSize":"5","startPosition":"0","endPosition":"1","nextUri":"/users?count=2&start_position=2"}}"#,
            user("U1", true),
            user("u2", false)
        );
        let p = parse_list_page(body.as_bytes(), 0, ACCOUNT).unwrap();
        assert_eq!(p.users.len(), 1, "only dated users are kept");
        assert_eq!(p.users[0].key, "u1", "the join key is lowercase");
        assert_eq!(p.users[0].user.get(), user("U1", true));
        assert_eq!((p.incomplete, p.total, p.next_start), (1, Some(5), Some(2)));
        // Numbers as numbers too; the last page by positions, whatever nextUri says.
        let last = format!(
            r#"{{"users":[{}],"resultSetSize":1,"totalSetSize":5,"endPosition":4,"nextUri":"/users?start_position=9"}}"#,
            user("u5", true)
        );
        assert_eq!(
            parse_list_page(last.as_bytes(), 4, ACCOUNT)
                .unwrap()
                .next_start,
            None
        );
        assert!(parse_list_page(b"<html>", 0, ACCOUNT).is_err());
        assert!(
            parse_list_page(br#"{"users":[],"resultSetSize":"x"}"#, 0, ACCOUNT)
                .unwrap()
                .next_start
                .is_none()
        );
    }

    #[test]
    fn absurd_positions_neither_overflow_nor_skip_users() {
        let page = |extra: &str| {
            format!(
                r#"{{"users":[{},{}]{extra}}}"#,
                user("u1", true),
                user("u2", true)
            )
        };
        let next = |body: String, start: u64| {
            parse_list_page(body.as_bytes(), start, ACCOUNT)
                .unwrap()
                .next_start
        };
        // A start near the end of u64: the list ends instead of overflowing.
        let huge = page(r#","resultSetSize":"2","totalSetSize":"18446744073709551615""#);
        assert_eq!(next(huge.clone(), u64::MAX - 1), None);
        assert_eq!(next(huge, 10), Some(12));
        // A resultSetSize larger than the page advances by the users listed.
        let big = page(r#","resultSetSize":"18446744073709551615","totalSetSize":"100""#);
        assert_eq!(next(big, 0), Some(2));
        let ended = page(
            r#","resultSetSize":"2","totalSetSize":"18446744073709551615","endPosition":"18446744073709551615""#,
        );
        assert_eq!(next(ended, 0), None);
    }

    #[test]
    fn next_uri_missing_null_relative_or_elsewhere() {
        let page = |next: &str| {
            format!(
                r#"{{"users":[{}],"resultSetSize":"1"{next}}}"#,
                user("u1", true)
            )
        };
        let next = |body: String| {
            parse_list_page(body.as_bytes(), 0, ACCOUNT)
                .unwrap()
                .next_start
        };
        // No positions: nextUri's start_position, only under the account.
        assert_eq!(next(page("")), None, "missing");
        assert_eq!(next(page(r#","nextUri":null"#)), None, "null");
        assert_eq!(
            next(page(r#","nextUri":"/users?start_position=1""#)),
            Some(1)
        );
        assert_eq!(
            next(page(
                r#","nextUri":"https://demo.example/restapi/v2.1/accounts/a1/users?start_position=1""#
            )),
            Some(1)
        );
        for elsewhere in [
            "https://evil.example/restapi/v2.1/accounts/a1/users?start_position=1",
            "http://demo.example/restapi/v2.1/accounts/a1/users?start_position=1",
            "https://demo.example/restapi/v2.1/accounts/other/users?start_position=1",
        ] {
            assert_eq!(
                next(page(&format!(r#","nextUri":"{elsewhere}""#))),
                None,
                "{elsewhere}"
            );
        }
        // A nextUri that does not move on is not followed (no loop).
        assert_eq!(next(page(r#","nextUri":"/users?start_position=0""#)), None);
        // With positions, nextUri is never needed: null on a page that is not the last.
        let mid = format!(
            r#"{{"users":[{}],"resultSetSize":"1","totalSetSize":"3","endPosition":"0","nextUri":null}}"#,
            user("u1", true)
        );
        assert_eq!(next(mid), Some(1));
    }
}
