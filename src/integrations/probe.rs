//! The `test` and `state` commands: what works, what doesn't, and where each stream stands.

use crate::config::IntegrationConfig;
use crate::integrations::Integration;
use crate::record::{format_time, EventType};
use crate::state::{State, StateError};
use crate::support::clock::now_unix;
use crate::support::untrusted::{cut, SHORT_CHARS};

/// The most characters a step's message holds: whatever an answer said in it was cut before
/// (Docusign's messages, a body's start), this bounds the whole line (`test`, the API's `test`).
const STEP_CHARS: usize = 2000;

/// One step of `test`: what was tried, whether it worked, what was learnt.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    pub step: &'static str,
    pub ok: bool,
    pub message: String,
}

fn step(steps: &mut Vec<Step>, name: &'static str, result: Result<String, String>) -> bool {
    let ok = result.is_ok();
    let message = cut(&result.unwrap_or_else(|e| e), STEP_CHARS);
    steps.push(Step {
        step: name,
        ok,
        message,
    });
    ok
}

/// Print `test` steps, one line each; true when all succeeded.
pub fn print_steps(integration: &str, steps: &[Step]) -> bool {
    for s in steps {
        println!(
            "{integration}: {:<10} {:<7} {}",
            s.step,
            if s.ok { "OK" } else { "FAILED" },
            s.message
        );
    }
    steps.iter().all(|s| s.ok)
}

/// Get a token, call userinfo, make one call to each enabled API. Stops at a failed token.
pub async fn test_integration(integ: &Integration) -> Vec<Step> {
    let mut steps = Vec::new();
    let token = integ.auth.access_token().await.map_err(|e| e.to_string());
    if !step(
        &mut steps,
        "token",
        token.map(|_| format!("scopes: {}", integ.auth.scopes())),
    ) {
        return steps;
    }
    step(
        &mut steps,
        "userinfo",
        integ
            .auth
            .userinfo()
            .await
            .map_err(|e| e.to_string())
            .and_then(|u| {
                let want = integ.config.account_id.as_deref();
                match u.account(want) {
                    // Every value here is userinfo's: each is cut.
                    Some(a) => Ok(format!(
                        "user {} <{}>, account {} ({}) at {}",
                        cut(&u.name, SHORT_CHARS),
                        cut(&u.email, SHORT_CHARS),
                        cut(&a.account_id, SHORT_CHARS),
                        cut(&a.account_name, SHORT_CHARS),
                        cut(&a.base_uri, SHORT_CHARS)
                    )),
                    None => Err(format!(
                        "the user has no account {}: available: {}",
                        want.unwrap_or("(default)"),
                        cut(
                            &u.accounts
                                .iter()
                                .map(|a| a.account_id.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                            STEP_CHARS / 2
                        )
                    )),
                }
            }),
    );
    for et in &integ.config.event_types {
        match et {
            EventType::CustomerEvents => {
                let cursor = format_time(now_unix() - 3600);
                let r = integ.monitor.fetch_page(&cursor, 1).await;
                step(
                    &mut steps,
                    "monitor",
                    r.map(|p| format!("{} event(s) in a one-event probe page", p.records.len()))
                        .map_err(|e| e.to_string()),
                );
            }
            EventType::AuditUsers => {
                let url = integ.admin.first_url(now_unix() - 3600);
                let r = integ.admin.fetch_page(&url).await;
                step(
                    &mut steps,
                    "admin",
                    r.map(|p| format!("{} user(s) modified in the last hour", p.users.len()))
                        .map_err(|e| e.to_string()),
                );
                if integ.config.audit_users.enrich {
                    // The base URI the stream would use: checked as it would be (a host that is
                    // neither Docusign's nor configured is refused, and nothing is sent there).
                    step(
                        &mut steps,
                        "esignature",
                        integ
                            .admin
                            .base_uri()
                            .await
                            .map(|b| format!("base URI {b}"))
                            .map_err(|e| e.to_string()),
                    );
                }
            }
        }
    }
    steps
}

/// Print cursors, last runs and token expiry (never the token), as text or JSON.
pub fn print_state(
    integrations: &[IntegrationConfig],
    state: &State,
    only: Option<&str>,
    json: bool,
) -> Result<(), StateError> {
    let mut out = Vec::new();
    for i in integrations
        .iter()
        .filter(|i| only.is_none_or(|n| n == i.name))
    {
        let streams = state.streams(Some(&i.name))?;
        let expiry = state.token_expiry(&i.name)?;
        let mut entry = serde_json::json!({
            "name": i.name,
            "status": if i.is_active() { "active" } else { "inactive" },
            "event_types": i.event_types,
            "token_expires_at": expiry.map(format_time),
            "streams": streams.iter().map(crate::sources::stream_view).collect::<Vec<_>>(),
        });
        if let Some(lease) = state.lease_view(&i.name)? {
            entry["lease"] = lease;
        }
        // The API's stable integer id (assigned when the daemon first saw the name).
        if let Ok(Some(id)) = state.known_integration_id(&i.name) {
            entry["id"] = id.into();
        }
        out.push(entry);
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
        if !i["lease"].is_null() {
            match (i["lease"]["holder"].as_str(), i["lease"]["until"].as_str()) {
                (Some(holder), Some(until)) => {
                    println!("  held by replica {holder} until {until}")
                }
                _ => println!("  held by no replica (the next to look takes it)"),
            }
        }
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
                "  {:<16} {}\n  {:<16} last run {} ({})",
                s["event_type"].as_str().unwrap_or(""),
                s["position"]["description"]
                    .as_str()
                    .unwrap_or("no position yet"),
                "",
                when,
                outcome
            );
        }
    }
    Ok(())
}
