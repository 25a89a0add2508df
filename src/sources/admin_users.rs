//! Audit users: `GET {admin}/v2/organizations/{org}/users?account_id=&take=&start=&last_modified_since=`,
//! following `paging.next` as a complete URL, each user enriched from eSignature
//! (`GET {base_uri}/restapi/v2.1/accounts/{account}/users/{userId}`) with bounded concurrency.
//!
//! The Admin API does not sort by modification time, so the high-water mark is the greatest
//! modification time seen in a whole query, saved (with the (user, time) pairs at that second,
//! to drop the repeats an inclusive `last_modified_since` brings back) only after the sinks
//! accepted every page of the query.

use crate::config::IntegrationConfig;
use crate::docusign::client::{ApiClient, ApiError, BodyError};
use crate::docusign::Api;
use crate::record::{self, EventType, Record};
use crate::state::{State, StateError};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeSet;

/// State key of the high-water mark and boundary pairs.
pub const HWM_KEY: &str = "audit_users.watermark";
/// State key of the cached eSignature base URI.
pub const BASE_URI_KEY: &str = "esignature.base_uri";

/// Where the last query left off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    /// `last_modified_since` of the next query (Unix seconds).
    pub since: i64,
    /// `userId@modified` pairs already emitted at the `since` second.
    pub seen: BTreeSet<String>,
}

impl Watermark {
    pub fn load(state: &State, integration: &str) -> Result<Option<Watermark>, StateError> {
        Ok(state
            .get_value(integration, HWM_KEY)?
            .and_then(|s| serde_json::from_str(&s).ok()))
    }

    pub fn save(&self, state: &State, integration: &str) -> Result<(), StateError> {
        let text = serde_json::to_string(self).unwrap_or_default();
        state.set_value(integration, HWM_KEY, &text)
    }
}

#[derive(Deserialize)]
struct UsersPage<'a> {
    #[serde(borrow, default)]
    users: Vec<&'a RawValue>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    result_set_end_position: Option<i64>,
    #[serde(default)]
    total_set_size: Option<i64>,
}

#[derive(Deserialize)]
struct UserPeek<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ESignaturePeek<'a> {
    #[serde(rename = "userSettings", borrow, default)]
    user_settings: Option<SettingsPeek<'a>>,
}

#[derive(Deserialize)]
struct SettingsPeek<'a> {
    #[serde(rename = "modifiedDate", borrow, default)]
    modified_date: Option<Cow<'a, str>>,
}

/// eSignature's `M/D/YYYY h:mm:ss AM|PM` (UTC) to Unix seconds.
pub fn parse_modified_date(s: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(s.trim(), "%m/%d/%Y %I:%M:%S %p")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

/// An eSignature user answer: any JSON value, kept as its bytes.
pub fn parse_esignature_user(body: &[u8]) -> Result<Box<RawValue>, BodyError> {
    serde_json::from_slice::<Box<RawValue>>(body)
        .map_err(|e| BodyError::json("not an eSignature user", &e))
}

/// An eSignature user's modification time (`userSettings.modifiedDate`), when it has a readable one.
pub fn esignature_modified(user: &RawValue) -> Option<i64> {
    serde_json::from_str::<ESignaturePeek>(user.get())
        .ok()?
        .user_settings?
        .modified_date
        .and_then(|d| parse_modified_date(&d))
}

/// One Admin page, parsed: the raw users and where the next page is.
pub struct AdminPage {
    pub users: Vec<(String, Box<RawValue>)>,
    /// `paging.next` as Docusign sent it (absolute, relative, or absent).
    pub next: Option<String>,
    /// `paging.result_set_end_position` + 1: the `start` of the next page, when given.
    pub next_start: Option<i64>,
    /// `paging.total_set_size`, when given.
    pub total: Option<i64>,
}

pub fn parse_admin_page(body: &[u8]) -> Result<AdminPage, BodyError> {
    let page: UsersPage =
        serde_json::from_slice(body).map_err(|e| BodyError::json("not an Admin users page", &e))?;
    let mut users = Vec::with_capacity(page.users.len());
    for u in page.users {
        let id = serde_json::from_str::<UserPeek>(u.get())
            .ok()
            .and_then(|p| p.id)
            .map(|c| c.into_owned())
            .ok_or_else(|| BodyError::invalid("a user without an id"))?;
        users.push((id, u.to_owned()));
    }
    let (next, next_start, total) = match page.paging {
        Some(p) => (
            p.next.filter(|n| !n.trim().is_empty()),
            p.result_set_end_position.map(|e| e.saturating_add(1)),
            p.total_set_size,
        ),
        None => (None, None, None),
    };
    Ok(AdminPage {
        users,
        next,
        next_start,
        total,
    })
}

/// Where the page after an Admin page is.
#[derive(Debug, PartialEq, Eq)]
pub enum NextPage {
    /// `paging.next`, resolved against the page's URL: on the same origin.
    Follow(String),
    /// The same query from this offset (`paging.next` absent, elsewhere, or unusable).
    Start(i64),
    Done,
}

/// Where the page after `page` (fetched from `url`) is. `paging.next` is followed only on the
/// origin the page came from, which is the configured Admin origin (a relative `next` is
/// resolved against it), so the bearer token never goes elsewhere; otherwise the query goes on
/// by `start` from `result_set_end_position`. The query ends when no usable next page is named
/// and the positions say the set is complete (or say nothing), or when a page is empty.
pub fn next_page(url: &str, page: &AdminPage) -> NextPage {
    let current = url::Url::parse(url).ok();
    if let (Some(next), Some(current)) = (&page.next, &current) {
        match current.join(next) {
            Ok(n) if n.origin() == current.origin() && n != *current => {
                return NextPage::Follow(n.into())
            }
            Ok(n) if n.origin() == current.origin() => {}
            _ => tracing::warn!(
                "Admin paging.next is not on the configured Admin origin: continuing by start offset (the token goes only to the Admin origin)"
            ),
        }
    }
    let Some(start) = page.next_start else {
        return NextPage::Done;
    };
    let current_start = current
        .as_ref()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "start")
                .and_then(|(_, v)| v.parse::<i64>().ok())
        })
        .unwrap_or(0);
    let more = match page.total {
        Some(total) => start < total,
        None => page.next.is_some(),
    };
    if more && !page.users.is_empty() && start > current_start {
        NextPage::Start(start)
    } else {
        NextPage::Done
    }
}

/// An enriched user, ready to become a record.
pub struct AuditUser {
    pub id: String,
    pub admin: Box<RawValue>,
    pub esignature: Option<Box<RawValue>>,
    /// Modification time from eSignature (Unix seconds), when known.
    pub modified: Option<i64>,
}

impl AuditUser {
    /// The pair that identifies this audit record.
    pub fn key(&self) -> String {
        match self.modified {
            Some(m) => format!("{}@{m}", self.id),
            None => format!("{}@?", self.id),
        }
    }

    pub fn to_record(&self, integration: &str, change_keys: bool, now: i64) -> Record {
        let time = self.modified.unwrap_or(now);
        match &self.esignature {
            Some(es) => {
                let admin = self.admin.get().trim();
                let inner = admin
                    .strip_prefix('{')
                    .and_then(|a| a.strip_suffix('}'))
                    .map(str::trim);
                let joined = match inner {
                    Some("") => format!("{{\"esignature\":{}}}", es.get()),
                    Some(i) => format!("{{{i},\"esignature\":{}}}", es.get()),
                    None => format!("{{\"user\":{admin},\"esignature\":{}}}", es.get()),
                };
                match RawValue::from_string(joined) {
                    Ok(raw) => {
                        record::build(&raw, time, EventType::AuditUsers, integration, change_keys)
                    }
                    Err(_) => record::build(
                        &self.admin,
                        time,
                        EventType::AuditUsers,
                        integration,
                        change_keys,
                    ),
                }
            }
            None => record::build(
                &self.admin,
                time,
                EventType::AuditUsers,
                integration,
                change_keys,
            ),
        }
    }
}

/// Reads Admin users and enriches them.
#[derive(Clone)]
pub struct AdminUsersSource {
    client: ApiClient,
    admin: String,
    integration: String,
    organization_id: String,
    account_id: String,
    page_size: u32,
    enrich: bool,
    concurrency: usize,
}

impl AdminUsersSource {
    pub fn new(client: ApiClient, cfg: &IntegrationConfig) -> Self {
        AdminUsersSource {
            client,
            admin: cfg.endpoints().admin,
            integration: cfg.name.clone(),
            organization_id: cfg.organization_id.clone().unwrap_or_default(),
            account_id: cfg.account_id.clone().unwrap_or_default(),
            page_size: cfg.audit_users.page_size,
            enrich: cfg.audit_users.enrich,
            concurrency: cfg.audit_users.enrich_concurrency.max(1) as usize,
        }
    }

    pub fn enrich(&self) -> bool {
        self.enrich
    }

    /// The first page's URL for users modified at or after `since`.
    pub fn first_url(&self, since: i64) -> String {
        self.page_url(since, 0)
    }

    /// The URL of the page that starts at `start` (an offset) of the query for `since`.
    pub fn page_url(&self, since: i64, start: i64) -> String {
        let base = format!(
            "{}/v2/organizations/{}/users",
            self.admin, self.organization_id
        );
        match url::Url::parse(&base) {
            Ok(mut u) => {
                u.query_pairs_mut()
                    .append_pair("account_id", &self.account_id)
                    .append_pair("take", &self.page_size.to_string())
                    .append_pair("start", &start.to_string())
                    .append_pair("last_modified_since", &record::format_time(since));
                u.to_string()
            }
            Err(_) => base,
        }
    }

    /// The URL of the page after `page` (fetched from `url`, part of the query for `since`),
    /// if any: see [`next_page`].
    pub fn next_url(&self, url: &str, page: &AdminPage, since: i64) -> Option<String> {
        match next_page(url, page) {
            NextPage::Follow(u) => Some(u),
            NextPage::Start(start) => Some(self.page_url(since, start)),
            NextPage::Done => None,
        }
    }

    pub async fn fetch_page(&self, url: &str) -> Result<AdminPage, ApiError> {
        self.client
            .get(Api::Admin, url, false, |b| parse_admin_page(b))
            .await?
            .ok_or_else(|| ApiError::Malformed {
                integration: self.integration.clone(),
                api: Api::Admin,
                message: "users endpoint answered 404".into(),
            })
    }

    /// The eSignature base URI: cached in state, else from userinfo (by `account_id`). A cached
    /// value that is not an http(s) URL is ignored and looked up again; a `base_uri` from
    /// userinfo that is not one is an error (not retried, not cached).
    pub async fn base_uri(&self, state: &State) -> Result<String, ApiError> {
        if let Ok(Some(b)) = state.get_value(&self.integration, BASE_URI_KEY) {
            if valid_base_uri(&b) {
                return Ok(b);
            }
        }
        let info = self.client.auth().userinfo().await?;
        let account = info
            .account(Some(&self.account_id))
            .ok_or_else(|| ApiError::Malformed {
                integration: self.integration.clone(),
                api: Api::ESignature,
                message: format!(
                    "userinfo lists no account {} for this user (accounts: {})",
                    self.account_id,
                    info.accounts
                        .iter()
                        .map(|a| a.account_id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        let base = account.base_uri.trim().trim_end_matches('/').to_string();
        if !valid_base_uri(&base) {
            return Err(ApiError::BadUrl {
                integration: self.integration.clone(),
                api: Api::ESignature,
                what: "the base_uri userinfo gives for this account".into(),
                message: "it is not an http(s) URL".into(),
            });
        }
        let _ = state.set_value(&self.integration, BASE_URI_KEY, &base);
        Ok(base)
    }

    /// Forget the cached base URI (after eSignature calls failed): the next cycle asks userinfo.
    pub fn forget_base_uri(&self, state: &State) {
        let _ = state.delete_value(&self.integration, BASE_URI_KEY);
    }

    /// Enrich a page of users from eSignature, at most `concurrency` requests in flight, order
    /// kept. One user never stops the page: a user eSignature does not know (HTTP 404, or 400
    /// with a user-not-found `errorCode`) or whose lookup failed after its retries is kept
    /// without `esignature` (warned, counted). Only what fails for every user ends the page:
    /// authorization, and a URL that cannot be requested.
    pub async fn enrich_users(
        &self,
        base_uri: &str,
        users: Vec<(String, Box<RawValue>)>,
    ) -> Result<Enriched, ApiError> {
        if !self.enrich {
            let users = users
                .into_iter()
                .map(|(id, admin)| AuditUser {
                    id,
                    admin,
                    esignature: None,
                    modified: None,
                })
                .collect();
            return Ok(Enriched { users, failed: 0 });
        }
        let results: Vec<Result<(AuditUser, bool), ApiError>> = futures_util::stream::iter(users)
            .map(|(id, admin)| self.enrich_one(base_uri, id, admin))
            .buffered(self.concurrency)
            .collect()
            .await;
        let mut out = Enriched {
            users: Vec::with_capacity(results.len()),
            failed: 0,
        };
        for r in results {
            let (user, failed) = r?;
            out.failed += usize::from(failed);
            out.users.push(user);
        }
        Ok(out)
    }

    /// One user's eSignature details; the flag is true when the lookup failed (not "unknown").
    async fn enrich_one(
        &self,
        base_uri: &str,
        id: String,
        admin: Box<RawValue>,
    ) -> Result<(AuditUser, bool), ApiError> {
        let url = format!(
            "{base_uri}/restapi/v2.1/accounts/{}/users/{}?additional_info=true",
            self.account_id, id
        );
        let answer = self
            .client
            .get(Api::ESignature, &url, true, |b| parse_esignature_user(b))
            .await;
        let (esignature, failed) = match answer {
            Ok(Some(raw)) => (Some(raw), false),
            Ok(None) => {
                self.not_enriched(&id, "unknown_user", "eSignature answered 404");
                (None, false)
            }
            Err(ApiError::Status {
                status: 400,
                code: Some(code),
                ..
            }) if USER_NOT_FOUND_CODES.contains(&code.as_str()) => {
                self.not_enriched(&id, "unknown_user", &format!("eSignature answered {code}"));
                (None, false)
            }
            // What fails for every user ends the page: the token, or a URL that cannot work.
            Err(
                e @ (ApiError::Auth(_)
                | ApiError::BadUrl { .. }
                | ApiError::Status { status: 401, .. }),
            ) => return Err(e),
            Err(e) => {
                self.not_enriched(&id, "failed", &e.to_string());
                (None, true)
            }
        };
        let modified = esignature.as_deref().and_then(esignature_modified);
        Ok((
            AuditUser {
                id,
                admin,
                esignature,
                modified,
            },
            failed,
        ))
    }

    fn not_enriched(&self, id: &str, reason: &'static str, why: &str) {
        tracing::warn!(integration = %self.integration, user_id = %id, reason, "audit user emitted without eSignature details: {why}");
        crate::telemetry::metrics::global().add(
            "docusign_collector_enrichment_skipped_total",
            vec![
                ("integration", self.integration.clone()),
                ("reason", reason.to_string()),
            ],
            1.0,
        );
    }
}

/// `errorCode`s with which eSignature says it has no such user.
pub const USER_NOT_FOUND_CODES: &[&str] = &[
    "USER_DOES_NOT_EXIST_IN_SYSTEM",
    "INVALID_USERID",
    "USER_NOT_FOUND",
];

/// A page of users after enrichment.
pub struct Enriched {
    pub users: Vec<AuditUser>,
    /// Users whose lookup failed (not "unknown to eSignature"): kept without details.
    pub failed: usize,
}

fn valid_base_uri(s: &str) -> bool {
    url::Url::parse(s)
        .map(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_date_format() {
        assert_eq!(
            parse_modified_date("3/12/2026 3:17:20 PM"),
            Some(1773328640)
        );
        assert_eq!(
            parse_modified_date("12/1/2025 12:00:00 AM"),
            Some(1764547200)
        );
        assert_eq!(
            parse_modified_date("12/1/2025 12:00:00 PM"),
            Some(1764590400)
        );
        assert_eq!(parse_modified_date("2025-12-01"), None);
    }

    #[test]
    fn admin_page_gives_ids_raw_users_and_next() {
        let body = br#"{"users":[{"id":"u1","email":"a@x"},{"id":"u2"}],"paging":{"next":"https://h/v2/x?start=2"}}"#;
        let p = parse_admin_page(body).unwrap();
        assert_eq!(p.users.len(), 2);
        assert_eq!(p.users[0].0, "u1");
        assert_eq!(p.users[0].1.get(), r#"{"id":"u1","email":"a@x"}"#);
        assert_eq!(p.next.as_deref(), Some("https://h/v2/x?start=2"));
        let last = parse_admin_page(br#"{"users":[],"paging":{}}"#).unwrap();
        assert!(last.next.is_none());
        assert!(parse_admin_page(br#"{"users":[{"email":"no id"}]}"#).is_err());
        assert!(parse_admin_page(b"<html>").is_err());
    }

    fn page(next: Option<&str>, end: Option<i64>, total: Option<i64>, users: usize) -> AdminPage {
        AdminPage {
            users: (0..users)
                .map(|i| (format!("u{i}"), RawValue::from_string("{}".into()).unwrap()))
                .collect(),
            next: next.map(str::to_string),
            next_start: end.map(|e| e + 1),
            total,
        }
    }

    #[test]
    fn paging_next_is_followed_only_on_the_admin_origin() {
        let url = "https://api.example/management/v2/organizations/o/users?take=2&start=0";
        let same = "https://api.example/management/v2/organizations/o/users?take=2&start=2";
        assert_eq!(
            next_page(url, &page(Some(same), Some(1), Some(5), 2)),
            NextPage::Follow(same.into())
        );
        // Relative: resolved against the Admin origin.
        assert_eq!(
            next_page(
                url,
                &page(
                    Some("/management/v2/organizations/o/users?start=2"),
                    Some(1),
                    Some(5),
                    2
                )
            ),
            NextPage::Follow(
                "https://api.example/management/v2/organizations/o/users?start=2".into()
            )
        );
        // Another origin (or another port or scheme): never followed, continue by start.
        for other in [
            "https://evil.example/management/v2/organizations/o/users?start=2",
            "http://api.example/management/v2/organizations/o/users?start=2",
            "https://api.example:8443/x",
        ] {
            assert_eq!(
                next_page(url, &page(Some(other), Some(1), Some(5), 2)),
                NextPage::Start(2),
                "{other}"
            );
        }
        // No next, but the positions say more remain.
        assert_eq!(
            next_page(url, &page(None, Some(1), Some(5), 2)),
            NextPage::Start(2)
        );
        // The last page, by positions or by silence.
        assert_eq!(
            next_page(url, &page(None, Some(4), Some(5), 1)),
            NextPage::Done
        );
        assert_eq!(next_page(url, &page(None, None, None, 2)), NextPage::Done);
        // A next that points at the same page, or positions that do not move: no loop.
        assert_eq!(
            next_page(url, &page(Some(url), Some(-1), Some(5), 2)),
            NextPage::Done
        );
        assert_eq!(
            next_page(url, &page(None, Some(1), Some(5), 0)),
            NextPage::Done
        );
    }

    #[test]
    fn a_base_uri_must_be_an_http_url() {
        assert!(valid_base_uri("https://demo.docusign.net"));
        assert!(valid_base_uri("http://127.0.0.1:8080"));
        for bad in [
            "",
            "demo.docusign.net",
            "not a url",
            "ftp://x",
            "file:///etc",
        ] {
            assert!(!valid_base_uri(bad), "{bad}");
        }
    }

    #[test]
    fn records_carry_the_esignature_user_and_its_time() {
        let u = AuditUser {
            id: "u1".into(),
            admin: RawValue::from_string(r#"{"id":"u1","user_name":"A"}"#.into()).unwrap(),
            esignature: Some(
                RawValue::from_string(
                    r#"{"userId":"u1","userSettings":{"modifiedDate":"3/12/2026 3:17:20 PM"}}"#
                        .into(),
                )
                .unwrap(),
            ),
            modified: Some(1773328640),
        };
        assert_eq!(u.key(), "u1@1773328640");
        let r = u.to_record("acme", false, 0);
        let v: serde_json::Value = serde_json::from_str(&r.json).unwrap();
        assert_eq!(v["user_name"], "A");
        assert_eq!(v["esignature"]["userId"], "u1");
        assert_eq!(v["_time"], "2026-03-12T15:17:20Z");
        assert_eq!(v["source_log_type"], "auditusers");
        let unknown = AuditUser {
            esignature: None,
            modified: None,
            ..u
        };
        let v: serde_json::Value =
            serde_json::from_str(&unknown.to_record("acme", false, 1773328000).json).unwrap();
        assert!(v.get("esignature").is_none());
        assert_eq!(v["_time"], "2026-03-12T15:06:40Z");
    }
}
