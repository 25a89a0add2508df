//! Audit users: `GET {admin}/v2/organizations/{org}/users?account_id=&take=&start=&last_modified_since=`,
//! following `paging.next` as a complete URL, each user enriched from eSignature
//! (`GET {base_uri}/restapi/v2.1/accounts/{account}/users/{userId}`) with bounded concurrency.
//!
//! The Admin API does not sort by modification time, so the high-water mark is the greatest
//! modification time seen in a whole query, saved (with the (user, time) pairs at that second,
//! to drop the repeats an inclusive `last_modified_since` brings back) only after the sinks
//! accepted every page of the query.

use crate::client::{Api, ApiClient, ApiError};
use crate::config::IntegrationConfig;
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

/// One Admin page, parsed: the raw users and the next page's URL.
pub struct AdminPage {
    pub users: Vec<(String, Box<RawValue>)>,
    pub next: Option<String>,
}

pub fn parse_admin_page(body: &[u8]) -> Result<AdminPage, String> {
    let page: UsersPage =
        serde_json::from_slice(body).map_err(|e| format!("not an Admin users page: {e}"))?;
    let mut users = Vec::with_capacity(page.users.len());
    for u in page.users {
        let id = serde_json::from_str::<UserPeek>(u.get())
            .ok()
            .and_then(|p| p.id)
            .map(|c| c.into_owned())
            .ok_or_else(|| "a user without an id".to_string())?;
        users.push((id, u.to_owned()));
    }
    let next = page.paging.and_then(|p| p.next).filter(|n| !n.is_empty());
    Ok(AdminPage { users, next })
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
        let base = format!(
            "{}/v2/organizations/{}/users",
            self.admin, self.organization_id
        );
        match url::Url::parse(&base) {
            Ok(mut u) => {
                u.query_pairs_mut()
                    .append_pair("account_id", &self.account_id)
                    .append_pair("take", &self.page_size.to_string())
                    .append_pair("start", "0")
                    .append_pair("last_modified_since", &record::format_time(since));
                u.to_string()
            }
            Err(_) => base,
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

    /// The eSignature base URI: cached in state, else from userinfo (by `account_id`).
    pub async fn base_uri(&self, state: &State) -> Result<String, ApiError> {
        if let Ok(Some(b)) = state.get_value(&self.integration, BASE_URI_KEY) {
            return Ok(b);
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
        let base = account.base_uri.trim_end_matches('/').to_string();
        let _ = state.set_value(&self.integration, BASE_URI_KEY, &base);
        Ok(base)
    }

    /// Forget the cached base URI (after eSignature calls failed).
    pub fn forget_base_uri(&self, state: &State) {
        let _ = state.set_value(&self.integration, BASE_URI_KEY, "");
    }

    /// Enrich a page of users from eSignature, at most `concurrency` requests in flight, order kept.
    pub async fn enrich_users(
        &self,
        base_uri: &str,
        users: Vec<(String, Box<RawValue>)>,
    ) -> Result<Vec<AuditUser>, ApiError> {
        if !self.enrich {
            return Ok(users
                .into_iter()
                .map(|(id, admin)| AuditUser {
                    id,
                    admin,
                    esignature: None,
                    modified: None,
                })
                .collect());
        }
        let results: Vec<Result<AuditUser, ApiError>> = futures_util::stream::iter(users)
            .map(|(id, admin)| async move {
                let url = format!(
                    "{base_uri}/restapi/v2.1/accounts/{}/users/{}",
                    self.account_id, id
                );
                let es = self
                    .client
                    .get(Api::ESignature, &url, true, |b| {
                        let raw: Box<RawValue> = serde_json::from_slice(b)
                            .map_err(|e| format!("eSignature user: {e}"))?;
                        Ok(raw)
                    })
                    .await?;
                let modified = es.as_ref().and_then(|raw| {
                    serde_json::from_str::<ESignaturePeek>(raw.get())
                        .ok()?
                        .user_settings?
                        .modified_date
                        .and_then(|d| parse_modified_date(&d))
                });
                Ok(AuditUser {
                    id,
                    admin,
                    esignature: es,
                    modified,
                })
            })
            .buffered(self.concurrency)
            .collect()
            .await;
        results.into_iter().collect()
    }
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
