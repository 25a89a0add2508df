//! Audit users: `GET {admin}/v2/organizations/{org}/users?account_id=&take=&start=&last_modified_since=`,
//! each user enriched from eSignature with bounded concurrency.
//!
//! - `page`: parsing a page, and where the next one is (`paging.next` on the Admin origin only);
//! - `enrich`: eSignature lookups and records;
//! - `list`: Users:list, read into a scratch store when a query is large, joined by id;
//! - `position`: the stream's checkpoint (the collector's clock, not Docusign's dates);
//! - `stream`: one query as a [`crate::sources::Source`].

mod enrich;
mod list;
mod page;
mod position;
mod stream;

pub use enrich::{
    esignature_modified, parse_esignature_user, parse_modified_date, AuditUser, Enriched,
    USER_NOT_FOUND_CODES,
};
pub use list::{join_key, parse_list_page, ListPage, Listed, LIST_COUNT};
pub use page::{next_page, parse_admin_page, AdminPage, NextPage};
pub use position::{AuditPosition, QueryProgress, Seen};
pub use stream::AuditUsersStream;

use crate::config::{AuditRecordShape, IntegrationConfig, StartFrom};
use crate::docusign::client::{ApiClient, ApiError};
use crate::docusign::Api;
use crate::record;
use crate::sources::Recall;
use std::sync::{Arc, Mutex};

/// Reads Admin users and enriches them, for one integration.
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
    /// Queries with more users than this are enriched through Users:list.
    bulk_threshold: u64,
    change_keys: bool,
    shape: AuditRecordShape,
    /// Seconds each query reaches back before the previous one's start.
    overlap: u64,
    start_from: StartFrom,
    /// The account's eSignature base URI, from userinfo, kept in memory while it works.
    base_uri: Arc<Mutex<Option<String>>>,
}

impl AdminUsersSource {
    pub fn new(client: ApiClient, cfg: &IntegrationConfig) -> Self {
        let au = &cfg.audit_users;
        AdminUsersSource {
            client,
            admin: cfg.endpoints().admin,
            integration: cfg.name.clone(),
            organization_id: cfg.organization_id.clone().unwrap_or_default(),
            account_id: cfg.account_id.clone().unwrap_or_default(),
            page_size: au.page_size,
            enrich: au.enrich,
            concurrency: au.enrich_concurrency.max(1) as usize,
            bulk_threshold: u64::from(au.bulk_threshold),
            change_keys: cfg.change_keys,
            shape: au.record_shape,
            overlap: au.overlap.0.as_secs(),
            start_from: au.start_from,
            base_uri: Arc::new(Mutex::new(None)),
        }
    }

    pub fn enrich(&self) -> bool {
        self.enrich
    }

    /// A cycle's query: from the saved position (its start less the overlap), else from
    /// `start_from`; `now` is this query's start (by the local clock: checked against
    /// Docusign's `Date` at the first answer). `recall` answers which users were already
    /// emitted.
    pub fn stream(
        &self,
        saved: Option<AuditPosition>,
        now: i64,
        recall: Arc<dyn Recall>,
    ) -> AuditUsersStream {
        AuditUsersStream::new(self.clone(), saved, now, recall)
    }

    /// A query from `since` (Unix seconds) that remembers no earlier query (`get-events`).
    pub fn stream_since(&self, since: i64, now: i64, recall: Arc<dyn Recall>) -> AuditUsersStream {
        let mut s = self.clone();
        s.start_from = StartFrom::At(since);
        AuditUsersStream::new(s, None, now, recall)
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

    /// Whether `url` is on the configured Admin origin (scheme, host and port).
    pub fn on_admin_origin(&self, url: &str) -> bool {
        match (url::Url::parse(url), url::Url::parse(&self.admin)) {
            (Ok(u), Ok(admin)) => u.origin() == admin.origin(),
            _ => false,
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
        Ok(self.fetch_page_dated(url).await?.0)
    }

    /// One Admin page, and the answer's `Date` (Docusign's clock) when readable.
    pub async fn fetch_page_dated(&self, url: &str) -> Result<(AdminPage, Option<i64>), ApiError> {
        let (page, date) = self
            .client
            .get_with_date(Api::Admin, url, false, |b| parse_admin_page(b))
            .await?;
        let page = page.ok_or_else(|| ApiError::Malformed {
            integration: self.integration.clone(),
            api: Api::Admin,
            message: "users endpoint answered 404".into(),
        })?;
        Ok((page, date))
    }

    /// The eSignature base URI: remembered, else from userinfo (by `account_id`). A `base_uri`
    /// that is not an http(s) URL is an error (not retried, not remembered).
    pub async fn base_uri(&self) -> Result<String, ApiError> {
        if let Some(b) = self.remembered_base_uri() {
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
        let base = account.base_uri.trim().trim_end_matches('/').to_string();
        if !valid_base_uri(&base) {
            return Err(ApiError::BadUrl {
                integration: self.integration.clone(),
                api: Api::ESignature,
                what: "the base_uri userinfo gives for this account".into(),
                message: "it is not an http(s) URL".into(),
            });
        }
        *self.base_uri.lock().unwrap_or_else(|p| p.into_inner()) = Some(base.clone());
        Ok(base)
    }

    fn remembered_base_uri(&self) -> Option<String> {
        self.base_uri
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Forget the base URI (after eSignature calls failed): the next query asks userinfo.
    pub fn forget_base_uri(&self) {
        *self.base_uri.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
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
}
