//! One audit-user query as a [`Source`]: every Admin page of the users modified since the
//! previous query started (less the overlap), enriched, with the users the overlap brings back
//! unchanged left out. Every page carries a checkpoint: the previous query's position plus this
//! query's progress (its start, `last_modified_since`, next page and the users it emitted), so a
//! restart resumes the same query at its next page; the last page's checkpoint is the position
//! of the complete query. (The Admin API does not sort, so a query is resumed by its own paging,
//! never by a date.)

use super::position::{AuditPosition, QueryProgress, Seen};
use super::{AdminPage, AdminUsersSource};
use crate::docusign::client::ApiError;
use crate::record::{EventType, Splicer};
use crate::sources::{Source, SourcePage};
use crate::state::Scratch;
use crate::support::clock::now_unix;
use crate::telemetry::events::BadTimestamps;

/// One cycle's audit-user query.
pub struct AuditUsersStream {
    source: AdminUsersSource,
    splicer: Splicer,
    /// The position of the previous complete query.
    prev: AuditPosition,
    /// The position this query builds (committed with its last page).
    next: AuditPosition,
    /// `last_modified_since` of this query.
    since: i64,
    /// Remembered users first seen before this are not carried into `next`: the next query
    /// (from `next.started` − overlap) cannot return them unchanged.
    keep_after: i64,
    url: Option<String>,
    /// Whether this stream goes on with a query an earlier run left part-way, and has not
    /// fetched a page of it yet.
    resumed: bool,
    base_uri: Option<String>,
    failed: bool,
    /// Whether the first page was seen (and the choice between Users:list and single calls made).
    started: bool,
    /// The account's eSignature users read through Users:list, when the query is large: spilled
    /// to a scratch file (not held in memory, not the state database) and looked up per page.
    listed: Option<Scratch>,
}

impl AuditUsersStream {
    pub(super) fn new(source: AdminUsersSource, saved: Option<AuditPosition>, now: i64) -> Self {
        let mut prev = saved.unwrap_or_default();
        // A query an earlier run left part-way goes on at its next page, if that is on the
        // configured Admin origin (the token goes nowhere else).
        let resumed = prev
            .query
            .take()
            .filter(|q| source.on_admin_origin(&q.next));
        let splicer = Splicer::new(
            EventType::AuditUsers,
            &source.integration,
            source.change_keys,
        );
        let mut stream = AuditUsersStream {
            source,
            splicer,
            prev,
            next: AuditPosition::default(),
            since: 0,
            keep_after: 0,
            url: None,
            resumed: resumed.is_some(),
            base_uri: None,
            failed: false,
            started: false,
            listed: None,
        };
        match resumed {
            Some(q) => {
                stream.next = AuditPosition {
                    started: q.started,
                    seen: q.seen,
                    query: None,
                };
                stream.since = q.since;
                stream.keep_after = q.started - stream.source.overlap as i64;
                stream.url = Some(q.next);
            }
            None => stream.start_query(now),
        }
        stream
    }

    /// Begin a new query at `now`: from the previous complete query's start less the overlap,
    /// or (none yet) from `start_from`.
    fn start_query(&mut self, now: i64) {
        let overlap = self.source.overlap as i64;
        self.since = if self.prev.started != 0 || !self.prev.seen.is_empty() {
            self.prev.started - overlap
        } else {
            self.source.start_from.resolve(now)
        };
        self.next = AuditPosition {
            started: now,
            ..AuditPosition::default()
        };
        self.keep_after = now - overlap;
        self.url = Some(self.source.first_url(self.since));
    }

    /// The next Admin page. The first page of a resumed query that fails the way it would fail
    /// again (a refusal other than 401, an answer that is not a users page, a URL that cannot be
    /// requested) is given up: the query starts again, so one saved page never stops the stream.
    async fn fetch(&mut self, url: String) -> Result<(String, AdminPage), ApiError> {
        let resumed = std::mem::take(&mut self.resumed);
        match self.source.fetch_page(&url).await {
            Ok(page) => Ok((url, page)),
            Err(e) if resumed && fails_again(&e) => {
                tracing::warn!(
                    integration = %self.source.integration,
                    error = %e,
                    "the audit-user query an earlier run left part-way cannot go on at its saved page: starting the query again"
                );
                self.start_query(now_unix());
                let url = self.url.take().unwrap_or_default();
                let page = self.source.fetch_page(&url).await?;
                Ok((url, page))
            }
            Err(e) => Err(e),
        }
    }

    /// `last_modified_since` of this query (Unix seconds).
    pub fn since(&self) -> i64 {
        self.since
    }

    /// On the first page: when the query has more users to enrich than `bulk_threshold`
    /// (`paging.total_set_size`, else the page's users), read the account's users through
    /// Users:list into a scratch store for the rest of the query.
    async fn list_if_large(&mut self, base_uri: &str, page: &AdminPage) -> Result<(), ApiError> {
        let users = page
            .total
            .map(|t| u64::try_from(t).unwrap_or(0))
            .unwrap_or(page.users.len() as u64);
        if self.source.enrich && users > self.source.bulk_threshold {
            self.listed = self.source.list_users(base_uri, users).await?;
        }
        Ok(())
    }

    async fn base_uri(&mut self) -> Result<String, ApiError> {
        if !self.source.enrich {
            return Ok(String::new());
        }
        if let Some(b) = &self.base_uri {
            return Ok(b.clone());
        }
        let b = self.source.base_uri().await?;
        self.base_uri = Some(b.clone());
        Ok(b)
    }
}

impl Source for AuditUsersStream {
    type Checkpoint = AuditPosition;

    async fn next_page(&mut self) -> Result<Option<SourcePage<AuditPosition>>, ApiError> {
        let Some(url) = self.url.take() else {
            return Ok(None);
        };
        let base_uri = self.base_uri().await?;
        let (url, page) = self.fetch(url).await?;
        let next_url = self.source.next_url(&url, &page, self.since);
        let listed = if std::mem::replace(&mut self.started, true) {
            Ok(())
        } else {
            self.list_if_large(&base_uri, &page).await
        };
        let enriched = match listed {
            Ok(()) => {
                self.source
                    .enrich_users(&base_uri, page.users, self.listed.as_ref())
                    .await
            }
            Err(e) => Err(e),
        };
        let enriched = match enriched {
            Ok(e) => e,
            Err(e) => {
                if !matches!(e, ApiError::Auth(_)) {
                    // The account may have moved: ask userinfo again next time.
                    self.source.forget_base_uri();
                }
                return Err(e);
            }
        };
        self.failed |= enriched.failed > 0;
        let now = now_unix();
        let mut records = Vec::with_capacity(enriched.users.len());
        let mut bad_dates = 0u64;
        for user in &enriched.users {
            let digest = user.digest();
            let key = user.key(&digest);
            if let Some(seen) = self.prev.already_emitted(&key, &digest) {
                // Returned again by the overlap, unchanged: not emitted twice.
                if seen.at >= self.keep_after {
                    self.next.seen.insert(key, seen.clone());
                }
                continue;
            }
            if self.next.already_emitted(&key, &digest).is_some() {
                continue; // twice in one query (the Admin API's offsets shifted)
            }
            let time = match user.modified_date() {
                Some(Some(t)) => t,
                Some(None) => {
                    bad_dates += 1;
                    now
                }
                None if user.esignature.is_some() => {
                    bad_dates += 1;
                    now
                }
                None => now,
            };
            records.push(user.to_record(&self.splicer, self.source.shape, time));
            self.next
                .seen
                .insert(user.id.clone(), Seen { digest, at: now });
        }
        if bad_dates > 0 {
            BadTimestamps {
                integration: &self.source.integration,
                events: bad_dates,
            }
            .emit();
        }

        self.url = next_url;
        let checkpoint = match &self.url {
            None => {
                self.listed = None; // the query is read: its scratch file goes now
                if self.failed {
                    // Some eSignature lookups failed: the account may have moved.
                    self.source.forget_base_uri();
                }
                std::mem::take(&mut self.next)
            }
            Some(next) => AuditPosition {
                query: Some(QueryProgress {
                    started: self.next.started,
                    since: self.since,
                    next: next.clone(),
                    seen: self.next.seen.clone(),
                }),
                ..self.prev.clone()
            },
        };
        let checkpoint = Some(checkpoint);
        Ok(Some(SourcePage {
            records,
            checkpoint,
        }))
    }
}

/// An Admin failure that the same request would meet again (transient ones were retried).
fn fails_again(e: &ApiError) -> bool {
    match e {
        ApiError::Status { status, .. } => *status != 401,
        ApiError::Malformed { .. } | ApiError::BadUrl { .. } | ApiError::Redirected { .. } => true,
        ApiError::Auth(_) | ApiError::Exhausted { .. } => false,
    }
}
