//! One Admin users page (`GET {admin}/v2/organizations/{org}/users?…`): the users as raw JSON
//! slices with their ids, and where the next page is.

use crate::docusign::client::BodyError;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

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

/// Parse an Admin users page. A user without a readable `id` is kept with an empty id (it is
/// emitted as Docusign sent it, without eSignature details): one odd user never stops a page.
pub fn parse_admin_page(body: &[u8]) -> Result<AdminPage, BodyError> {
    let page: UsersPage =
        serde_json::from_slice(body).map_err(|e| BodyError::json("not an Admin users page", &e))?;
    let mut users = Vec::with_capacity(page.users.len());
    for u in page.users {
        let id = serde_json::from_str::<UserPeek>(u.get())
            .ok()
            .and_then(|p| p.id)
            .map(|c| c.into_owned())
            .unwrap_or_default();
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
/// by `start` from `result_set_end_position`. The query ends when a page is empty or the
/// positions say the set is complete (`result_set_end_position + 1 >= total_set_size`), whatever
/// `next` says — a server that keeps naming a next page must not keep a query going for ever —
/// and when no usable next page is named and the positions say nothing.
pub fn next_page(url: &str, page: &AdminPage) -> NextPage {
    if page.users.is_empty() {
        return NextPage::Done;
    }
    if let (Some(start), Some(total)) = (page.next_start, page.total) {
        if start >= total {
            return NextPage::Done;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_page_gives_ids_raw_users_and_next() {
        let body = br#"{"users":[{"id":"u1","email":"a@x"},{"id":"u2"}],"paging":{"next":"https://h/v2/x?start=2","result_set_end_position":1,"total_set_size":9}}"#;
        let p = parse_admin_page(body).unwrap();
        assert_eq!(p.users.len(), 2);
        assert_eq!(p.users[0].0, "u1");
        assert_eq!(p.users[0].1.get(), r#"{"id":"u1","email":"a@x"}"#);
        assert_eq!(p.next.as_deref(), Some("https://h/v2/x?start=2"));
        assert_eq!((p.next_start, p.total), (Some(2), Some(9)));
        let last = parse_admin_page(br#"{"users":[],"paging":{}}"#).unwrap();
        assert!(last.next.is_none());
        let odd = parse_admin_page(br#"{"users":[{"email":"no id"},"x",{"id":"u3"}]}"#).unwrap();
        let ids: Vec<&str> = odd.users.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["", "", "u3"], "users without an id are kept");
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
    fn an_empty_page_or_a_complete_set_ends_the_query_whatever_next_says() {
        let url = "https://api.example/management/v2/organizations/o/users?take=2&start=4";
        let more = "https://api.example/management/v2/organizations/o/users?take=2&start=6";
        // An empty page naming a next one, with or without positions.
        assert_eq!(
            next_page(url, &page(Some(more), None, None, 0)),
            NextPage::Done
        );
        assert_eq!(
            next_page(url, &page(Some(more), Some(5), Some(99), 0)),
            NextPage::Done
        );
        // The set is complete by its size, though a next page is named.
        assert_eq!(
            next_page(url, &page(Some(more), Some(5), Some(6), 2)),
            NextPage::Done
        );
        // Not complete: followed.
        assert_eq!(
            next_page(url, &page(Some(more), Some(5), Some(9), 2)),
            NextPage::Follow(more.into())
        );
    }
}
