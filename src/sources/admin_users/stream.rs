//! One audit-user query as a [`Source`]: every Admin page of the users modified since the
//! previous query started (less the overlap), enriched, with the users the overlap brings back
//! unchanged left out. Every page carries a checkpoint: the previous query's start plus this
//! query's progress (its start, `last_modified_since`, next page, counts), so a restart resumes
//! the same query at its next page; the last page's checkpoint is the position of the complete
//! query. (The Admin API does not sort, so a query is resumed by its own paging, never by a date.)
//!
//! Which users were already emitted is asked of the [`Recall`] the pipeline gives the stream
//! (one lookup a page, for the page's users); each checkpoint carries what its page adds to that
//! set, and the last one the pruning of what the next query's overlap can no longer bring back.
//! The checkpoint is thus bounded by a page, not by the users emitted so far.
//!
//! The query's start is the earlier of the local clock and Docusign's `Date` on the query's
//! first Admin answer (a host clock that jumped forward must not skip the changes in between),
//! never earlier than the previous query's start (a `Date` from the past costs one longer query,
//! never an unbounded one).

use super::position::{AuditPosition, QueryProgress, Seen};
use super::{AdminPage, AdminUsersSource};
use crate::docusign::client::ApiError;
use crate::record::{EventType, Splicer};
use crate::sources::{Recall, Source, SourcePage};
use crate::state::{Scratch, SeenChanges};
use crate::support::clock::now_unix;
use crate::telemetry::events::{BadTimestamps, ClockDisagrees, UsersWithoutId};
use std::collections::HashMap;
use std::sync::Arc;

/// One cycle's audit-user query.
pub struct AuditUsersStream {
    source: AdminUsersSource,
    splicer: Splicer,
    recall: Arc<dyn Recall>,
    /// When the previous complete query started (0: none).
    prev_started: i64,
    /// When this query started (committed with its last page).
    started: i64,
    /// `last_modified_since` of this query.
    since: i64,
    /// Seconds to add to the local clock for "first seen" times: Docusign's `Date` less the
    /// local clock when Docusign is behind, else 0.
    clock_offset: i64,
    /// Whether the query's start was checked against Docusign's `Date` (or needs no check: a
    /// resumed query keeps the start it was saved with).
    clock_checked: bool,
    url: Option<String>,
    /// Users emitted by this query so far.
    emitted: u64,
    /// Users this query's pages held so far.
    read: u64,
    /// The most users this query reads (its first page's `total_set_size` plus a page).
    limit: Option<u64>,
    /// Whether this stream goes on with a query an earlier run left part-way, and has not
    /// fetched a page of it yet.
    resumed: bool,
    base_uri: Option<String>,
    failed: bool,
    /// Whether the first page was seen (and the choice between Users:list and single calls made).
    listing_decided: bool,
    /// The account's eSignature users read through Users:list, when the query is large: spilled
    /// to a scratch file (not held in memory, not the state database) and looked up per page.
    listed: Option<Scratch>,
}

impl AuditUsersStream {
    pub(super) fn new(
        source: AdminUsersSource,
        saved: Option<AuditPosition>,
        now: i64,
        recall: Arc<dyn Recall>,
    ) -> Self {
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
            recall,
            prev_started: prev.started,
            started: now,
            since: 0,
            clock_offset: 0,
            clock_checked: false,
            url: None,
            emitted: 0,
            read: 0,
            limit: None,
            resumed: resumed.is_some(),
            base_uri: None,
            failed: false,
            listing_decided: false,
            listed: None,
        };
        match resumed {
            Some(q) => {
                stream.started = q.started;
                stream.since = q.since;
                stream.emitted = q.emitted;
                stream.read = q.read;
                stream.limit = q.limit;
                stream.clock_checked = true;
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
        self.since = if self.prev_started != 0 {
            self.prev_started.saturating_sub(overlap)
        } else {
            self.source.start_from.resolve(now)
        };
        self.started = now;
        self.clock_checked = false;
        self.clock_offset = 0;
        self.emitted = 0;
        self.read = 0;
        self.limit = None;
        self.url = Some(self.source.first_url(self.since));
    }

    /// Users first seen before this are forgotten when the query ends: the next query (from
    /// this one's start less the overlap) cannot return them unchanged.
    fn keep_after(&self) -> i64 {
        self.started.saturating_sub(self.source.overlap as i64)
    }

    /// The query's first answer came with Docusign's `Date`: start the query at the earlier of
    /// the two clocks (not before the previous query's start, nor before this query's
    /// `last_modified_since` on a first load), and warn when they differ by more than a minute.
    fn check_clock(&mut self, date: Option<i64>) {
        self.clock_checked = true;
        let Some(date) = date else { return };
        let local = now_unix();
        let skew = date.saturating_sub(local);
        if skew.abs() > 60 {
            ClockDisagrees {
                integration: &self.source.integration,
                local,
                docusign: date,
            }
            .emit();
        }
        let floor = if self.prev_started != 0 {
            self.prev_started
        } else {
            self.since
        };
        let start = self.started.min(date.max(floor));
        self.clock_offset = start.saturating_sub(self.started).min(0);
        self.started = start;
    }

    /// The next Admin page. The first page of a resumed query that fails the way it would fail
    /// again (a refusal other than 401, an answer that is not a users page, a URL that cannot be
    /// requested) is given up: the query starts again, so one saved page never stops the stream.
    async fn fetch(&mut self, url: String) -> Result<(String, AdminPage), ApiError> {
        let resumed = std::mem::take(&mut self.resumed);
        let (url, page, date) = match self.source.fetch_page_dated(&url).await {
            Ok((page, date)) => (url, page, date),
            Err(e) if resumed && fails_again(&e) => {
                tracing::warn!(
                    integration = %self.source.integration,
                    error = %e,
                    "the audit-user query an earlier run left part-way cannot go on at its saved page: starting the query again"
                );
                self.start_query(now_unix());
                let url = self.url.take().unwrap_or_default();
                let (page, date) = self.source.fetch_page_dated(&url).await?;
                (url, page, date)
            }
            Err(e) => return Err(e),
        };
        if !self.clock_checked {
            self.check_clock(date);
        }
        Ok((url, page))
    }

    /// `last_modified_since` of this query (Unix seconds).
    pub fn since(&self) -> i64 {
        self.since
    }

    /// When this query started (Unix seconds; after its first page, checked against Docusign's
    /// `Date`).
    pub fn started(&self) -> i64 {
        self.started
    }

    /// Where the query goes after `page`: [`AdminUsersSource::next_url`], unless the query has
    /// read more users than its first page announced (plus a page, for offsets that shift while
    /// it runs): a server that keeps paging must not keep a query growing for ever. Users
    /// changed since the query began come with the next query.
    fn next_url(&mut self, url: &str, page: &AdminPage) -> Option<String> {
        self.read = self.read.saturating_add(page.users.len() as u64);
        if self.limit.is_none() {
            if let Some(total) = page.total.and_then(|t| u64::try_from(t).ok()) {
                self.limit = Some(total.saturating_add(u64::from(self.source.page_size)));
            }
        }
        let next = self.source.next_url(url, page, self.since)?;
        match self.limit {
            Some(limit) if self.read >= limit => {
                tracing::warn!(
                    integration = %self.source.integration,
                    read = self.read,
                    limit,
                    "the Admin API keeps paging beyond the users it announced: the query ends here (users changed since it began come with the next query)"
                );
                None
            }
            _ => Some(next),
        }
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
        let next_url = self.next_url(&url, &page);
        let listed = if std::mem::replace(&mut self.listing_decided, true) {
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
        let first_seen = now.saturating_add(self.clock_offset);
        let users: Vec<(String, String)> = enriched
            .users
            .iter()
            .map(|u| {
                let digest = u.digest();
                (u.key(&digest), digest)
            })
            .collect();
        let keys: Vec<String> = users.iter().map(|(k, _)| k.clone()).collect();
        let remembered = self.recall.recall(&keys);
        let mut added: HashMap<&str, &str> = HashMap::with_capacity(users.len());
        let mut changes = SeenChanges::default();
        let mut records = Vec::with_capacity(enriched.users.len());
        let (mut bad_dates, mut without_id) = (0u64, 0u64);
        for (user, (key, digest)) in enriched.users.iter().zip(&users) {
            if remembered.get(key).is_some_and(|s| &s.digest == digest)
                || added.get(key.as_str()) == Some(&digest.as_str())
            {
                // Returned again (by the overlap, or twice in one query as the Admin API's
                // offsets shifted), unchanged: not emitted twice.
                continue;
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
            without_id += u64::from(user.id.is_empty());
            added.insert(key, digest);
            changes.added.push((
                key.clone(),
                Seen {
                    digest: digest.clone(),
                    at: first_seen,
                },
            ));
        }
        self.emitted = self.emitted.saturating_add(records.len() as u64);
        if bad_dates > 0 {
            BadTimestamps {
                integration: &self.source.integration,
                events: bad_dates,
            }
            .emit();
        }
        if without_id > 0 {
            UsersWithoutId {
                integration: &self.source.integration,
                users: without_id,
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
                changes.forget_before = Some(self.keep_after());
                AuditPosition {
                    started: self.started,
                    changes,
                    ..AuditPosition::default()
                }
            }
            Some(next) => AuditPosition {
                started: self.prev_started,
                query: Some(QueryProgress {
                    started: self.started,
                    since: self.since,
                    next: next.clone(),
                    emitted: self.emitted,
                    read: self.read,
                    limit: self.limit,
                    seen: Default::default(),
                }),
                changes,
                ..AuditPosition::default()
            },
        };
        Ok(Some(SourcePage {
            records,
            checkpoint: Some(checkpoint),
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
