//! The `test` and `state` commands: what works, what doesn't, and where each stream stands.

use crate::auth::now_unix;
use crate::collector::Integration;
use crate::config::Config;
use crate::record::{format_time, EventType};
use crate::state::{State, StateError};

fn line(integration: &str, step: &str, result: Result<String, String>) -> bool {
    match result {
        Ok(m) => {
            println!("{integration}: {step:<10} OK      {m}");
            true
        }
        Err(m) => {
            println!("{integration}: {step:<10} FAILED  {m}");
            false
        }
    }
}

/// Get a token, call userinfo, make one call to each enabled API. Prints one line per step.
pub async fn test_integration(integ: &Integration) -> bool {
    let name = integ.name();
    let token = integ.auth.access_token().await.map_err(|e| e.to_string());
    if !line(
        name,
        "token",
        token
            .as_ref()
            .map(|_| format!("scopes: {}", integ.auth.scopes()))
            .map_err(Clone::clone),
    ) {
        return false;
    }
    let mut ok = line(
        name,
        "userinfo",
        integ
            .auth
            .userinfo()
            .await
            .map_err(|e| e.to_string())
            .and_then(|u| {
                let want = integ.config.account_id.as_deref();
                match u.account(want) {
                    Some(a) => Ok(format!(
                        "user {} <{}>, account {} ({}) at {}",
                        u.name, u.email, a.account_id, a.account_name, a.base_uri
                    )),
                    None => Err(format!(
                        "the user has no account {}: available: {}",
                        want.unwrap_or("(default)"),
                        u.accounts
                            .iter()
                            .map(|a| a.account_id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                }
            }),
    );
    for et in &integ.config.event_types {
        match et {
            EventType::CustomerEvents => {
                let cursor = format_time(now_unix() - 3600);
                let r = integ.monitor.fetch_page(&cursor, 1).await;
                ok &= line(
                    name,
                    "monitor",
                    r.map(|p| format!("{} event(s) in a one-event probe page", p.records.len()))
                        .map_err(|e| e.to_string()),
                );
            }
            EventType::AuditUsers => {
                let url = integ.admin.first_url(now_unix() - 3600);
                let r = integ.admin.fetch_page(&url).await;
                ok &= line(
                    name,
                    "admin",
                    r.map(|p| format!("{} user(s) modified in the last hour", p.users.len()))
                        .map_err(|e| e.to_string()),
                );
                if integ.config.audit_users.enrich {
                    let info = integ.auth.userinfo().await.map_err(|e| e.to_string());
                    let acct = integ.config.account_id.clone().unwrap_or_default();
                    ok &= line(
                        name,
                        "esignature",
                        info.and_then(|u| {
                            u.account(Some(&acct))
                                .map(|a| format!("base URI {}", a.base_uri))
                                .ok_or_else(|| {
                                    format!("account {acct} is not among the user's accounts")
                                })
                        }),
                    );
                }
            }
        }
    }
    ok
}

/// Print cursors, last runs and token expiry (never the token), as text or JSON.
pub fn print_state(
    cfg: &Config,
    state: &State,
    only: Option<&str>,
    json: bool,
) -> Result<(), StateError> {
    let mut out = Vec::new();
    for i in cfg
        .integrations
        .iter()
        .filter(|i| only.is_none_or(|n| n == i.name))
    {
        let streams = state.streams(Some(&i.name))?;
        let expiry = state.token_expiry(&i.name)?;
        out.push(serde_json::json!({
            "name": i.name,
            "status": if i.is_active() { "active" } else { "inactive" },
            "event_types": i.event_types,
            "token_expires_at": expiry.map(format_time),
            "streams": streams,
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(());
    }
    for i in &out {
        let expiry = i["token_expires_at"].as_str().unwrap_or("no cached token");
        println!(
            "{} ({}), token expires: {}",
            i["name"].as_str().unwrap_or(""),
            i["status"].as_str().unwrap_or(""),
            expiry
        );
        let streams = i["streams"].as_array().cloned().unwrap_or_default();
        if streams.is_empty() {
            println!("  no collection yet");
        }
        for s in streams {
            let run = &s["last_run"];
            let when = run["ended_at"]
                .as_i64()
                .or(run["started_at"].as_i64())
                .map(format_time)
                .unwrap_or_else(|| "-".into());
            let outcome = match run["error"].as_str() {
                Some(e) => format!("FAILED: {e}"),
                None if run.is_null() => "-".into(),
                None => format!("ok, {} events in {} pages", run["events"], run["pages"]),
            };
            println!(
                "  {:<16} cursor {}\n  {:<16} last run {} ({})",
                s["event_type"].as_str().unwrap_or(""),
                s["cursor"].as_str().unwrap_or("(none)"),
                "",
                when,
                outcome
            );
        }
    }
    Ok(())
}
