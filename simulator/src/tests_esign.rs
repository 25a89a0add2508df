//! Simulator tests, eSignature: the single user, unknown users, dates, Users:list.

use super::tests::{client, get, start, token, ALL};
use super::tests_api::json_of;
use super::*;
use serde_json::Value;
use std::collections::HashSet;

async fn esign_sim(users: usize, unknown: usize) -> SimHandle {
    start(SimConfig {
        clients: vec![client(ALL_SCOPES)],
        users,
        esign_unknown_users: unknown,
        ..SimConfig::default()
    })
    .await
}

async fn esign_user(sim: &SimHandle, t: &str, id: &str, query: &str) -> (u16, Value) {
    let acc = SimConfig::default().account_id;
    let path = format!("/restapi/v2.1/accounts/{acc}/users/{id}{query}");
    json_of(get(sim, &path, t).await).await
}

async fn list(sim: &SimHandle, t: &str, query: &str) -> (u16, Value) {
    let acc = SimConfig::default().account_id;
    let path = format!("/restapi/v2.1/accounts/{acc}/users{query}");
    json_of(get(sim, &path, t).await).await
}

#[tokio::test]
async fn unknown_users_answer_400_by_default_and_404_when_asked() {
    let sim = esign_sim(12, 2).await;
    let t = token(&sim, ALL).await;
    let unknown = sim.esign_unknown_user_ids();
    assert_eq!(unknown.len(), 2);
    let all = sim.user_ids();
    assert!(unknown.iter().all(|id| all.contains(id)));
    let known = all
        .iter()
        .find(|u| !unknown.contains(u))
        .expect("known user");
    let (status, v) = esign_user(&sim, &t, known, "").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["userId"], known.as_str());
    assert!(v["groupList"][0]["groupName"].is_string());
    assert!(v["userProfileLastModifiedDate"].is_string());
    assert!(v.get("lastLogin").is_none());
    let m = v["userSettings"]["modifiedDate"]
        .as_str()
        .expect("modifiedDate");
    assert!(m.ends_with(" AM") || m.ends_with(" PM"), "{m}");
    assert!(!m.starts_with('0'));
    // additional_info=true adds the last login and password expiration.
    let (_, v) = esign_user(&sim, &t, known, "?additional_info=true").await;
    assert!(v["lastLogin"].is_string() && v["passwordExpiration"].is_string());
    for id in &unknown {
        let (status, v) = esign_user(&sim, &t, id, "").await;
        assert_eq!(status, 400);
        assert_eq!(v["errorCode"], "USER_DOES_NOT_EXIST_IN_SYSTEM");
        assert!(v["message"].is_string());
    }
    sim.set_esign_unknown_status(404);
    let (status, v) = esign_user(&sim, &t, &unknown[0], "").await;
    assert_eq!(
        (status, v["errorCode"].clone()),
        (404, Value::from("USER_DOES_NOT_EXIST_IN_SYSTEM"))
    );
    assert_eq!(sim.stats().esign_requests, 5);
}

#[tokio::test]
async fn chosen_users_are_forgotten_and_known_again() {
    let sim = esign_sim(10, 0).await;
    let t = token(&sim, ALL).await;
    let ids = sim.user_ids();
    let chosen = [ids[3].to_uppercase(), ids[7].clone(), "nobody".to_string()];
    assert_eq!(sim.esign_forget_users(&chosen), 2);
    let unknown: HashSet<String> = sim.esign_unknown_user_ids().into_iter().collect();
    assert_eq!(unknown, HashSet::from([ids[3].clone(), ids[7].clone()]));
    assert_eq!(esign_user(&sim, &t, &ids[3], "").await.0, 400);
    let last = sim.esign_forget_last(2);
    assert_eq!(last.len(), 2);
    let expected: HashSet<String> = unknown.into_iter().chain(last).collect();
    let now_unknown: HashSet<String> = sim.esign_unknown_user_ids().into_iter().collect();
    assert_eq!(now_unknown, expected);
    let (_, v) = list(&sim, &t, "").await;
    let listed = (10 - expected.len()).to_string();
    assert_eq!(
        v["totalSetSize"],
        listed.as_str(),
        "unknown users are not listed"
    );
    sim.esign_know_all();
    assert!(sim.esign_unknown_user_ids().is_empty());
    assert_eq!(esign_user(&sim, &t, &ids[3], "").await.0, 200);
}

#[tokio::test]
async fn modified_date_follows_the_clock_offset_and_format() {
    let sim = start(SimConfig {
        clients: vec![client(ALL_SCOPES)],
        users: 3,
        esign_clock_offset: -8 * 3600,
        ..SimConfig::default()
    })
    .await;
    let t = token(&sim, ALL).await;
    let id = sim.modify_users(1).remove(0);
    let now = chrono::Utc::now().timestamp();
    let modified = |v: &Value| {
        v["userSettings"]["modifiedDate"]
            .as_str()
            .expect("modifiedDate")
            .to_string()
    };
    let (_, v) = esign_user(&sim, &t, &id, "").await;
    let us = chrono::NaiveDateTime::parse_from_str(&modified(&v), "%m/%d/%Y %I:%M:%S %p")
        .expect("US form")
        .and_utc()
        .timestamp();
    assert!(
        (us - (now - 8 * 3600)).abs() <= 5,
        "8 h behind: {}",
        modified(&v)
    );

    sim.set_esign_clock_offset(8 * 3600);
    sim.set_esign_date_format(EsignDateFormat::Iso8601);
    let (_, v) = esign_user(&sim, &t, &id, "").await;
    let s = modified(&v);
    assert!(s.ends_with("+08:00"), "{s}");
    let iso = chrono::DateTime::parse_from_rfc3339(&s).expect("ISO 8601");
    assert!((iso.timestamp() - now).abs() <= 5, "the same instant: {s}");

    sim.set_esign_date_format(EsignDateFormat::Iso8601NoZone);
    let (_, v) = esign_user(&sim, &t, &id, "").await;
    let s = modified(&v);
    let naive = chrono::NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S").expect("no zone");
    assert!(
        (naive.and_utc().timestamp() - (now + 8 * 3600)).abs() <= 5,
        "{s}"
    );
}

#[tokio::test]
async fn users_list_pages_with_string_numbers_and_relative_next() {
    let sim = esign_sim(230, 3).await;
    let t = token(&sim, ALL).await;
    let (status, v) = list(&sim, &t, "?additional_info=true&count=100&start_position=0").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["resultSetSize"], "100");
    assert_eq!(v["totalSetSize"], "227");
    assert_eq!(v["startPosition"], "0");
    assert_eq!(v["endPosition"], "99");
    assert_eq!(
        v["nextUri"],
        "/users?additional_info=true&count=100&start_position=100"
    );
    assert!(v.get("previousUri").is_none());
    assert!(v["users"][0]["userSettings"]["modifiedDate"].is_string());
    let mut seen: Vec<String> = Vec::new();
    let mut query = "?additional_info=true&count=100&start_position=0".to_string();
    loop {
        let (_, v) = list(&sim, &t, &query).await;
        seen.extend(
            v["users"]
                .as_array()
                .expect("users")
                .iter()
                .map(|u| u["userId"].as_str().expect("userId").to_string()),
        );
        match v["nextUri"].as_str() {
            Some(next) => query = next.trim_start_matches("/users").to_string(),
            None => {
                assert_eq!(v["endPosition"], "226");
                break;
            }
        }
    }
    let unknown: HashSet<String> = sim.esign_unknown_user_ids().into_iter().collect();
    assert_eq!(seen.len(), 227);
    assert!(seen.iter().all(|id| !unknown.contains(id)));
    // count is at most 100; without additional_info no settings.
    let (_, v) = list(&sim, &t, "?count=250").await;
    assert_eq!(v["resultSetSize"], "100");
    assert!(v["users"][0].get("userSettings").is_none());
    assert_eq!(list(&sim, &t, "?count=0").await.0, 400);
    assert_eq!(sim.stats().esign_list, 6);
    assert_eq!(sim.stats().requests_of("esign_list"), 6);
    assert_eq!(sim.stats().esign_requests, 0);
}

#[tokio::test]
async fn users_list_omits_and_undates_some_users() {
    let sim = start(SimConfig {
        clients: vec![client(ALL_SCOPES)],
        users: 50,
        esign_list_omitted: 2,
        esign_list_undated: 3,
        ..SimConfig::default()
    })
    .await;
    let t = token(&sim, ALL).await;
    let omitted = sim.esign_list_omitted_ids();
    let undated = sim.esign_list_undated_ids();
    assert_eq!((omitted.len(), undated.len()), (2, 3));
    assert!(omitted.iter().all(|id| !undated.contains(id)));
    let more = sim.undate_in_esign_list(1);
    assert_eq!(sim.omit_from_esign_list(1).len(), 1);
    assert!(!undated.contains(&more[0]));
    let (_, v) = list(&sim, &t, "?additional_info=true").await;
    assert_eq!(v["totalSetSize"], "47");
    let users = v["users"].as_array().expect("users");
    let ids: HashSet<&str> = users.iter().filter_map(|u| u["userId"].as_str()).collect();
    assert!(sim
        .esign_list_omitted_ids()
        .iter()
        .all(|id| !ids.contains(id.as_str())));
    let without: HashSet<String> = users
        .iter()
        .filter(|u| u["userSettings"].get("modifiedDate").is_none())
        .filter_map(|u| u["userId"].as_str().map(str::to_string))
        .collect();
    let expected: HashSet<String> = sim.esign_list_undated_ids().into_iter().collect();
    assert_eq!(without, expected);
    // Singly, eSignature still knows them all, with their dates.
    for id in omitted.iter().chain(&undated) {
        let (status, v) = esign_user(&sim, &t, id, "").await;
        assert_eq!(status, 200);
        assert!(v["userSettings"]["modifiedDate"].is_string());
    }
}
