//! Simulator tests, Admin users: the spec's shape, paging links, filters, reshuffles.

use super::tests::{get, token, ALL};
use super::tests_api::{enc, json_of, sim_with};
use super::*;
use serde_json::Value;
use std::collections::HashSet;

pub(super) fn user_ids(v: &Value) -> Vec<String> {
    v["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["id"].as_str().expect("id").to_string())
        .collect()
}

fn users_path(query: &str) -> String {
    let org = SimConfig::default().organization_id;
    let acc = SimConfig::default().account_id;
    format!("/management/v2/organizations/{org}/users?account_id={acc}{query}")
}

/// Follow `paging.next` (resolving a relative one against the simulator) from `first`.
async fn read_all(sim: &SimHandle, t: &str, first: &str) -> (Vec<String>, usize) {
    let mut url = first.to_string();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (status, v) = json_of(get(sim, &url, t).await).await;
        assert_eq!(status, 200, "{v}");
        pages += 1;
        seen.extend(user_ids(&v));
        match v["paging"]["next"].as_str() {
            Some(next) => url = next.to_string(),
            None => return (seen, pages),
        }
    }
}

#[tokio::test]
async fn admin_users_page_with_absolute_next_urls() {
    let sim = sim_with(0, 23).await;
    let t = token(&sim, ALL).await;
    let first = format!("{}{}&take=10", sim.base_url(), users_path(""));
    let (_, v) = json_of(get(&sim, &first, &t).await).await;
    assert!(v["paging"]["next"]
        .as_str()
        .is_some_and(|n| n.starts_with(&sim.admin_url())));
    let (_, v2) = json_of(get(&sim, v["paging"]["next"].as_str().expect("next"), &t).await).await;
    assert!(v2["paging"]["previous"]
        .as_str()
        .is_some_and(|p| p.contains("start=0")));
    let (seen, pages) = read_all(&sim, &t, &first).await;
    assert_eq!(pages, 3);
    assert_eq!(seen, sim.user_ids());
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 23);
}

#[tokio::test]
async fn admin_users_follow_the_spec() {
    let sim = sim_with(0, 60).await;
    let t = token(&sim, ALL).await;
    // Default take is 20; the spec's `/Management` base path works too.
    let (status, v) = json_of(get(&sim, &users_path(""), &t).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["paging"]["result_set_size"], 20);
    let upper = users_path("").replacen("/management/", "/Management/", 1);
    let (status, upper_v) = json_of(get(&sim, &upper, &t).await).await;
    assert_eq!(status, 200);
    assert_eq!(user_ids(&upper_v), user_ids(&v));
    let (_, v) = json_of(get(&sim, &users_path("&take=1000"), &t).await).await;
    assert_eq!(v["paging"]["result_set_size"], 60);
    let statuses: HashSet<&str> = ["active", "created", "closed"].into();
    let memberships: HashSet<&str> = [
        "activation_required",
        "activation_sent",
        "active",
        "closed",
        "disabled",
    ]
    .into();
    for u in v["users"].as_array().expect("users") {
        assert!(u.get("account_id").is_none(), "{u}");
        assert!(statuses.contains(u["user_status"].as_str().expect("status")));
        assert!(memberships.contains(u["membership_status"].as_str().expect("ms")));
        for k in ["id", "user_name", "email", "created_on", "membership_id"] {
            assert!(u.get(k).is_some(), "missing {k}");
        }
    }
    // Scope `user_read` is enough; without it, 403 in the Admin error shape.
    let user_read = token(&sim, "signature impersonation user_read").await;
    assert_eq!(get(&sim, &users_path(""), &user_read).await.status(), 200);
    let narrow = token(&sim, "signature impersonation organization_read").await;
    let (status, v) = json_of(get(&sim, &users_path(""), &narrow).await).await;
    assert_eq!(status, 403);
    assert!(
        v["error"].is_string() && v["error_description"].is_string(),
        "{v}"
    );
    assert!(v.get("errorCode").is_none());
    let (status, v) =
        json_of(get(&sim, "/management/v2/organizations/other/users", &t).await).await;
    assert_eq!(status, 404);
    assert!(v["error_description"].is_string(), "{v}");
    // One of account_id, email or organization_reserved_domain_id is required.
    let org = SimConfig::default().organization_id;
    let bare = format!("/management/v2/organizations/{org}/users");
    let (status, v) = json_of(get(&sim, &bare, &t).await).await;
    assert_eq!(status, 400, "{v}");
    let first = sim.user_ids()[0].clone();
    let (_, all) = json_of(get(&sim, &users_path("&take=250"), &t).await).await;
    let email = all["users"][0]["email"]
        .as_str()
        .expect("email")
        .to_string();
    let by_email = format!("{bare}?email={}", enc(&email));
    let (status, v) = json_of(get(&sim, &by_email, &t).await).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(user_ids(&v), vec![first]);
}

#[tokio::test]
async fn relative_other_origin_and_absent_next() {
    let sim = sim_with(0, 25).await;
    let t = token(&sim, ALL).await;
    let first = users_path("&take=10");

    sim.set_admin_next(AdminNext::Relative);
    let (_, v) = json_of(get(&sim, &first, &t).await).await;
    let next = v["paging"]["next"].as_str().expect("next");
    assert!(next.starts_with("/management/v2/organizations/"), "{next}");
    assert!(
        next.contains("start=10") && next.contains("take=10"),
        "{next}"
    );
    let (seen, pages) = read_all(&sim, &t, &first).await;
    assert_eq!((seen.len(), pages), (25, 3));

    sim.set_admin_next(AdminNext::Origin("http://127.0.0.1:9".into()));
    let (_, v) = json_of(get(&sim, &first, &t).await).await;
    let next = v["paging"]["next"].as_str().expect("next");
    assert!(
        next.starts_with("http://127.0.0.1:9/management/v2/organizations/"),
        "{next}"
    );

    sim.set_admin_next(AdminNext::Absent);
    let (_, v) = json_of(get(&sim, &first, &t).await).await;
    assert!(v["paging"].get("next").is_none(), "{v}");
    assert_eq!(v["paging"]["total_set_size"], 25);
    assert_eq!(v["paging"]["result_set_end_position"], 9);
    // Paging by start still reads everything.
    let (_, v) = json_of(get(&sim, &users_path("&take=10&start=20"), &t).await).await;
    assert_eq!(user_ids(&v), sim.user_ids()[20..].to_vec());
}

#[tokio::test]
async fn reshuffles_change_what_a_page_holds() {
    let sim = sim_with(0, 40).await;
    let t = token(&sim, ALL).await;
    let page = users_path("&take=10&start=10");
    let (_, before) = json_of(get(&sim, &page, &t).await).await;
    let (_, again) = json_of(get(&sim, &page, &t).await).await;
    assert_eq!(
        user_ids(&before),
        user_ids(&again),
        "stable until reshuffled"
    );
    let order = sim.user_ids();
    sim.reshuffle_admin();
    assert_ne!(sim.user_ids(), order);
    let (_, after) = json_of(get(&sim, &page, &t).await).await;
    assert_ne!(user_ids(&before), user_ids(&after));
    assert_eq!(user_ids(&after), sim.user_ids()[10..20].to_vec());
    // Added users take part in the shuffled order.
    let added = sim.add_users(2);
    assert!(added.iter().all(|id| sim.user_ids().contains(id)));

    sim.set_admin_shuffle_each_request(true);
    let (_, a) = json_of(get(&sim, &page, &t).await).await;
    let (_, b) = json_of(get(&sim, &page, &t).await).await;
    assert_ne!(user_ids(&a), user_ids(&b));
    assert_eq!(a["paging"]["total_set_size"], 42);
}

fn esign_secs(modified: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(modified, "%m/%d/%Y %I:%M:%S %p")
        .expect("modifiedDate format")
        .and_utc()
        .timestamp()
}

#[tokio::test]
async fn last_modified_since_is_inclusive_and_needs_account() {
    let sim = sim_with(0, 40).await;
    let t = token(&sim, ALL).await;
    let org = SimConfig::default().organization_id;
    let acc = SimConfig::default().account_id;
    let modified: HashSet<String> = sim.modify_users(3).into_iter().collect();
    let one = modified.iter().next().expect("one").clone();
    let (status, v) = json_of(
        get(
            &sim,
            &format!("/restapi/v2.1/accounts/{acc}/users/{one}"),
            &t,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let secs = esign_secs(
        v["userSettings"]["modifiedDate"]
            .as_str()
            .expect("modifiedDate"),
    );
    let iso = |s: i64| {
        chrono::DateTime::from_timestamp(s, 0)
            .expect("ts")
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let q = |since: String| users_path(&format!("&last_modified_since={}", enc(&since)));
    let (_, v) = json_of(get(&sim, &q(iso(secs)), &t).await).await;
    let got: HashSet<String> = user_ids(&v).into_iter().collect();
    assert_eq!(got, modified);
    let (_, v) = json_of(get(&sim, &q(iso(secs + 1)), &t).await).await;
    assert!(user_ids(&v).is_empty());
    // A bare date works too (includes everything modified today).
    let day = chrono::DateTime::from_timestamp(secs, 0)
        .expect("ts")
        .format("%Y-%m-%d")
        .to_string();
    let (status, _) = json_of(get(&sim, &q(day), &t).await).await;
    assert_eq!(status, 200);

    let path = format!(
        "/management/v2/organizations/{org}/users?email=x%40example.com&last_modified_since={}",
        enc(&iso(secs))
    );
    let (status, v) = json_of(get(&sim, &path, &t).await).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error_description"]
        .as_str()
        .is_some_and(|m| m.contains("account_id")));
}
