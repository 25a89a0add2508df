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

use crate::config::{AuditRecordShape, Endpoints, IntegrationConfig, StartFrom};
use crate::docusign::client::{ApiClient, ApiError};
use crate::docusign::Api;
use crate::record;
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
    /// The configured endpoints: a `base_uri` on one of their origins may be used.
    endpoints: Endpoints,
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
            endpoints: cfg.endpoints(),
        }
    }

    pub fn enrich(&self) -> bool {
        self.enrich
    }

    /// A cycle's query: from the saved position (its start less the overlap), else from
    /// `start_from`; `now` is this query's start.
    pub fn stream(&self, saved: Option<AuditPosition>, now: i64) -> AuditUsersStream {
        AuditUsersStream::new(self.clone(), saved, now)
    }

    /// A query from `since` (Unix seconds) that remembers no earlier query (`get-events`).
    pub fn stream_since(&self, since: i64, now: i64) -> AuditUsersStream {
        let mut s = self.clone();
        s.start_from = StartFrom::At(since);
        AuditUsersStream::new(s, None, now)
    }

    /// The first page's URL for users modified at or after `since`.
    pub fn first_url(&self, since: i64) -> String {
        self.page_url(since, 0)
    }

    /// The URL of the page that starts at `start` (an offset) of the query for `since`.
    pub fn page_url(&self, since: i64, start: i64) -> String {
        let segments = ["v2", "organizations", &self.organization_id, "users"];
        match crate::support::untrusted::path_url(&self.admin, &segments) {
            Ok(mut u) => {
                u.query_pairs_mut()
                    .append_pair("account_id", &self.account_id)
                    .append_pair("take", &self.page_size.to_string())
                    .append_pair("start", &start.to_string())
                    .append_pair("last_modified_since", &record::format_time(since));
                u.to_string()
            }
            // Not a URL (the client refuses it by name): configuration validation keeps this
            // from happening.
            Err(_) => format!("{}/{}", self.admin, segments.join("/")),
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
        self.client
            .get(Api::Admin, url, false, |b| parse_admin_page(b))
            .await?
            .ok_or_else(|| ApiError::Malformed {
                integration: self.integration.clone(),
                api: Api::Admin,
                message: "users endpoint answered 404".into(),
            })
    }

    /// The eSignature base URI: remembered, else from userinfo (by `account_id`). A `base_uri`
    /// the token may not go to (see [`refuse_base_uri`]) is an error (not retried, not
    /// remembered), and nothing is sent there.
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
        if let Some(why) = refuse_base_uri(&base, &self.endpoints) {
            return Err(ApiError::BadUrl {
                integration: self.integration.clone(),
                api: Api::ESignature,
                what: "the base_uri userinfo gives for this account".into(),
                message: why,
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

/// The hosts (and their subdomains) where Docusign serves eSignature.
const DOCUSIGN_DOMAINS: [&str; 2] = ["docusign.net", "docusign.com"];

/// Why the bearer token may not go to `base_uri` (userinfo's answer), or `None` when it may. It
/// may when `base_uri` is on the origin (scheme, host and port) of a configured endpoint, or is
/// `https` on a Docusign host (`docusign.net`, `docusign.com` or a subdomain; the scheme of the
/// configured OAuth endpoint is accepted there too, for a test set-up over http). Never with user
/// information, a query or a fragment.
pub fn refuse_base_uri(base_uri: &str, endpoints: &Endpoints) -> Option<String> {
    use crate::support::untrusted::{authority, cut, SHORT_CHARS};
    let u = match url::Url::parse(base_uri) {
        Ok(u) if u.has_host() => u,
        _ => return Some("it is not an http(s) URL".into()),
    };
    if !matches!(u.scheme(), "http" | "https") {
        return Some("it is not an http(s) URL".into());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Some("it carries user information (user@host)".into());
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Some("it carries a query or a fragment".into());
    }
    let configured = [&endpoints.oauth, &endpoints.monitor, &endpoints.admin];
    if configured
        .iter()
        .any(|e| url::Url::parse(e).is_ok_and(|e| e.origin() == u.origin()))
    {
        return None;
    }
    let host = u.host_str().unwrap_or_default();
    let shown = cut(&authority(&u).unwrap_or_default(), SHORT_CHARS);
    let docusign = DOCUSIGN_DOMAINS
        .iter()
        .any(|d| host == *d || host.strip_suffix(d).is_some_and(|s| s.ends_with('.')));
    if !docusign {
        return Some(format!(
            "its host {shown} is neither Docusign's ({}) nor the origin of a configured endpoint (oauth, monitor, admin): the token is not sent there",
            DOCUSIGN_DOMAINS.join(", ")
        ));
    }
    let oauth_scheme = url::Url::parse(&endpoints.oauth).map(|o| o.scheme().to_string());
    if u.scheme() != "https" && oauth_scheme.as_deref() != Ok(u.scheme()) {
        return Some(format!(
            "it is {}://{shown}, not https: the token is not sent in the clear",
            u.scheme()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(base: &str) -> Endpoints {
        Endpoints {
            oauth: base.into(),
            monitor: base.into(),
            admin: format!("{base}/management"),
        }
    }

    #[test]
    fn a_base_uri_must_be_docusigns_or_a_configured_origin() {
        let docusign = endpoints("https://account-d.docusign.com");
        for ok in [
            "https://demo.docusign.net",
            "https://na3.docusign.net/",
            "https://eu.DocuSign.net:443",
            "https://docusign.com",
            "https://account-d.docusign.com",
        ] {
            let base = ok.trim_end_matches('/');
            assert_eq!(refuse_base_uri(base, &docusign), None, "{ok}");
        }
        let sim = endpoints("http://127.0.0.1:8080");
        assert_eq!(refuse_base_uri("http://127.0.0.1:8080", &sim), None);
        assert_eq!(refuse_base_uri("http://127.0.0.1:8080/x", &sim), None);
        assert_eq!(
            refuse_base_uri("http://demo.docusign.net", &sim),
            None,
            "the oauth scheme"
        );
        for (bad, why) in [
            ("", "not an http(s) URL"),
            ("demo.docusign.net", "not an http(s) URL"),
            ("not a url", "not an http(s) URL"),
            ("ftp://demo.docusign.net", "not an http(s) URL"),
            ("file:///etc", "not an http(s) URL"),
            ("http://demo.docusign.net", "not https"),
            ("https://docusign.net.evil.example", "neither Docusign's"),
            ("https://evildocusign.net", "neither Docusign's"),
            ("https://127.0.0.1:8080", "neither Docusign's"),
            ("https://u:p@demo.docusign.net", "user information"),
            ("https://demo.docusign.net?x=1", "query"),
        ] {
            let got = refuse_base_uri(bad, &docusign).unwrap_or_default();
            assert!(got.contains(why), "{bad}: {got}");
        }
        for bad in [
            "http://127.0.0.1:8081",
            "https://127.0.0.1:8080",
            "http://localhost:8080",
        ] {
            let got = refuse_base_uri(bad, &sim).unwrap_or_default();
            assert!(got.contains("neither Docusign's"), "{bad}: {got}");
        }
    }
}
