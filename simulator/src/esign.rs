//! eSignature users: `GET /restapi/v2.1/accounts/{account}/users/{user}` and Users:list
//! `GET /restapi/v2.1/accounts/{account}/users`.
//!
//! As the spec has it: errors are HTTP 400 `{"errorCode","message"}` (a user eSignature does not know:
//! `USER_DOES_NOT_EXIST_IN_SYSTEM`; the status is a knob, 404 behind some gateways); Users:list gives
//! its numbers as strings, at most 100 users a call, and a `nextUri` relative to the account
//! (absent on the last page). `modifiedDate` is rendered as the knobs say.

use crate::core::Sim;
use crate::data::{self, User};
use crate::http::{Ctx, Resp};
use crate::knobs::{Api, Knobs};
use crate::oauth;
use serde_json::{json, Value};

const DEFAULT_COUNT: usize = 100;
const MAX_COUNT: usize = 100;

fn bad_request(message: &str) -> Resp {
    Resp::error(400, "INVALID_REQUEST_PARAMETER", message)
}

/// eSignature's `userStatus` for an account membership.
fn user_status(u: &User) -> &'static str {
    match u.membership {
        "active" => "Active",
        "closed" => "Closed",
        "disabled" => "Disabled",
        "activation_required" => "ActivationRequired",
        _ => "ActivationSent",
    }
}

fn iso_ticks(secs: i64, fraction: i64) -> String {
    let mut s = String::new();
    data::write_iso_ticks(&mut s, secs * data::TICKS_PER_SEC + fraction, true);
    s
}

/// What one rendering of a user includes.
struct Shape<'a> {
    knobs: &'a Knobs,
    /// Groups and settings (the single user; Users:list with `additional_info=true`).
    full: bool,
    /// `additional_info=true`: last login and password expiration too.
    additional: bool,
    /// `userSettings.modifiedDate` present.
    dated: bool,
}

fn user_json(u: &User, shape: &Shape<'_>) -> Value {
    let (pp_id, pp_name) = if u.admin {
        ("14414471", "Account Administrator")
    } else {
        ("14414472", "DocuSign Sender")
    };
    let mut v = json!({
        "userId": u.id,
        "userName": format!("{} {}", u.first, u.last),
        "firstName": u.first,
        "lastName": u.last,
        "email": u.email,
        "userType": "CompanyUser",
        "userStatus": user_status(u),
        "isAdmin": if u.admin { "True" } else { "False" },
        "permissionProfileId": pp_id,
        "permissionProfileName": pp_name,
        "createdDateTime": iso_ticks(u.created, 1_234_567),
        "userProfileLastModifiedDate": iso_ticks(u.modified, 0),
        "uri": format!("/users/{}", u.id),
        "sendActivationOnInvalidLogin": "false",
    });
    if shape.full {
        let mut groups = vec![json!({
            "groupId": "9876543",
            "groupName": "Everyone",
            "groupType": "EveryoneGroup",
        })];
        if u.admin {
            groups.push(json!({
                "groupId": "9876542",
                "groupName": "Administrators",
                "groupType": "AdminGroup",
            }));
        }
        v["groupList"] = groups.into();
        let mut settings = json!({
            "locale": "en",
            "canManageAccount": if u.admin { "true" } else { "false" },
            "canSendEnvelope": "true",
            "apiAccountWideAccess": "false",
            "enableSequentialSigningAPI": "true",
        });
        if shape.dated {
            let k = shape.knobs;
            settings["modifiedDate"] =
                data::esign_modified_date(u.modified, k.esign_clock_offset, k.esign_date_format)
                    .into();
        }
        v["userSettings"] = settings;
    }
    if shape.additional {
        v["lastLogin"] = iso_ticks(u.modified, 0).into();
        v["passwordExpiration"] = iso_ticks(u.modified + 90 * 86_400, 0).into();
    }
    v
}

fn additional_info(ctx: &Ctx) -> bool {
    ctx.param("additional_info")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn unknown_user(status: u16) -> Resp {
    Resp::error(
        status,
        "USER_DOES_NOT_EXIST_IN_SYSTEM",
        "The user does not exist in the system.",
    )
}

fn invalid_account(account: &str) -> Resp {
    Resp::error(
        400,
        "INVALID_ACCOUNTID",
        &format!("Invalid account ID '{account}'."),
    )
}

/// `GET /restapi/v2.1/accounts/{account}/users/{user}`.
pub(crate) fn user(sim: &Sim, ctx: &Ctx, account: &str, user_id: &str) -> Resp {
    if let Err(r) = oauth::authorize(sim, ctx, &["signature"], Some(Api::Esign)) {
        return r;
    }
    let knobs = sim.knobs();
    if account != sim.cfg.account_id {
        if account == sim.other_account_id {
            return unknown_user(knobs.esign_unknown_status);
        }
        return invalid_account(account);
    }
    let user = crate::core::lock(&sim.users)
        .iter()
        .find(|u| u.id.eq_ignore_ascii_case(user_id))
        .cloned();
    let Some(u) = user.filter(|u| !u.esign_unknown) else {
        return unknown_user(knobs.esign_unknown_status);
    };
    let shape = Shape {
        knobs: &knobs,
        full: true,
        additional: additional_info(ctx),
        dated: true,
    };
    Resp::json(200, &user_json(&u, &shape))
}

/// Whether `u` passes the `status`, `email` and `email_substring` filters.
fn selected(ctx: &Ctx, u: &User) -> bool {
    let status_ok = ctx
        .param("status")
        .filter(|s| !s.is_empty())
        .is_none_or(|s| {
            s.split(',')
                .any(|st| st.trim().eq_ignore_ascii_case(user_status(u)))
        });
    let email_ok = ctx
        .param("email")
        .filter(|s| !s.is_empty())
        .is_none_or(|e| u.email.eq_ignore_ascii_case(e));
    let sub_ok = ctx
        .param("email_substring")
        .filter(|s| !s.is_empty())
        .is_none_or(|e| u.email.to_lowercase().contains(&e.to_lowercase()));
    status_ok && email_ok && sub_ok
}

/// `/users?…` with the request's parameters, `count` and `start_position` set.
fn page_uri(ctx: &Ctx, count: usize, start: usize) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    let mut seen = (false, false);
    for (k, v) in &ctx.query {
        match k.as_str() {
            "count" => {
                seen.0 = true;
                q.append_pair(k, &count.to_string());
            }
            "start_position" => {
                seen.1 = true;
                q.append_pair(k, &start.to_string());
            }
            _ => {
                q.append_pair(k, v);
            }
        }
    }
    if !seen.0 {
        q.append_pair("count", &count.to_string());
    }
    if !seen.1 {
        q.append_pair("start_position", &start.to_string());
    }
    format!("/users?{}", q.finish())
}

/// Users:list `GET /restapi/v2.1/accounts/{account}/users`.
pub(crate) fn list(sim: &Sim, ctx: &Ctx, account: &str) -> Resp {
    match list_page(sim, ctx, account) {
        Ok(r) | Err(r) => r,
    }
}

fn list_page(sim: &Sim, ctx: &Ctx, account: &str) -> Result<Resp, Resp> {
    oauth::authorize(sim, ctx, &["signature"], Some(Api::Esign))?;
    let count = match ctx
        .number("count", DEFAULT_COUNT)
        .map_err(|m| bad_request(&m))?
    {
        0 => return Err(bad_request("'count' must be greater than 0.")),
        n => n.min(MAX_COUNT),
    };
    let start = ctx
        .number("start_position", 0)
        .map_err(|m| bad_request(&m))?;
    let users: Vec<User> = if account == sim.cfg.account_id {
        let mut all = crate::core::lock(&sim.users).clone();
        all.retain(|u| !u.esign_unknown && !u.list_omitted && selected(ctx, u));
        all
    } else if account == sim.other_account_id {
        Vec::new()
    } else {
        return Err(invalid_account(account));
    };
    let knobs = sim.knobs();
    let additional = additional_info(ctx);
    // Endless: past the end, the same users again from the first.
    let served: Vec<&User> = if knobs.esign_list_endless && !users.is_empty() {
        (0..count)
            .map(|i| &users[(start % users.len() + i) % users.len()])
            .collect()
    } else {
        users.iter().skip(start).take(count).collect()
    };
    let page: Vec<Value> = served
        .into_iter()
        .map(|u| {
            let shape = Shape {
                knobs: &knobs,
                full: additional,
                additional,
                dated: !u.list_undated,
            };
            user_json(u, &shape)
        })
        .collect();
    let total = match knobs.esign_list_endless {
        true => start.saturating_add(page.len() + count),
        false => users.len(),
    };
    let mut v = json!({
        "users": page,
        "resultSetSize": page.len().to_string(),
        "totalSetSize": total.to_string(),
        "startPosition": start.to_string(),
        "endPosition": (start + page.len()).saturating_sub(1).to_string(),
    });
    if start + page.len() < total {
        v["nextUri"] = page_uri(ctx, count, start + page.len()).into();
    }
    if start > 0 {
        v["previousUri"] = page_uri(ctx, count, start.saturating_sub(count)).into();
    }
    Ok(Resp::json(200, &v))
}
