//! The probe behind `test` (the command and the API's `POST /integrations/{id}/test`): get a
//! token, call userinfo, make one small call to each enabled API, and say what worked.
//!
//! It lives beside [`Integration`] rather than with the command, because the local API (a lower
//! layer than the commands) runs it too; printing the steps is the command's business.

use crate::integrations::Integration;
use crate::record::{format_time, EventType};
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
