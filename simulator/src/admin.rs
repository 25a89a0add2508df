//! Admin API users (`/management/v2/organizations/{org}/users`) and the eSignature user
//! (`/restapi/v2.1/accounts/{account}/users/{user}`).

use super::core::{Ctx, Resp, Sim};
use super::data::{self, User};
use super::oauth;

const DEFAULT_TAKE: usize = 100;
const MAX_TAKE: usize = 250;

fn bad_request(message: &str) -> Resp {
    Resp::error(400, "INVALID_REQUEST_PARAMETER", message)
}

/// Parse `last_modified_since` (`YYYY-MM-DDTHH:MM:SSZ` or a bare date) to whole seconds.
fn parse_since(s: &str) -> Option<i64> {
    data::parse_iso_ticks(s).map(|t| t.div_euclid(data::TICKS_PER_SEC))
}

fn admin_user_json(u: &User, account_id: &str) -> serde_json::Value {
    let created = data::iso_secs(u.created);
    serde_json::json!({
        "id": u.id,
        "user_name": format!("{} {}", u.first, u.last),
        "first_name": u.first,
        "last_name": u.last,
        "user_status": u.status,
        "membership_status": u.status,
        "email": u.email,
        "created_on": created,
        "membership_created_on": created,
        "membership_id": data::uuid(data::h(u.index, 30, 7), data::h(u.index, 31, 7)),
        "account_id": account_id,
    })
}

/// `GET /management/v2/organizations/{org}/users`.
pub(crate) fn users(sim: &Sim, ctx: &Ctx, org: &str) -> Resp {
    if let Err(r) = oauth::authorize(sim, ctx, &["organization_read", "user_read"]) {
        return r;
    }
    if org != sim.cfg.organization_id {
        return Resp::error(
            404,
            "ORGANIZATION_NOT_FOUND",
            &format!("Organization '{org}' does not exist."),
        );
    }
    let account = ctx.param("account_id").filter(|a| !a.is_empty());
    if let Some(a) = account {
        if a != sim.cfg.account_id {
            return bad_request(&format!(
                "Account '{a}' does not belong to organization '{org}'."
            ));
        }
    }
    let since = match ctx.param("last_modified_since").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            if account.is_none() {
                return bad_request(
                    "'account_id' is required when 'last_modified_since' is given.",
                );
            }
            match parse_since(s) {
                Some(t) => Some(t),
                None => {
                    return bad_request(&format!(
                    "'last_modified_since' must be YYYY-MM-DDTHH:MM:SSZ or YYYY-MM-DD; got '{s}'."
                ))
                }
            }
        }
    };
    let take = match ctx.param("take").filter(|s| !s.is_empty()) {
        None => DEFAULT_TAKE,
        Some(t) => match t.parse::<usize>() {
            Ok(n) if n >= 1 => n.min(MAX_TAKE),
            _ => return bad_request(&format!("'take' must be a positive integer; got '{t}'.")),
        },
    };
    let start = match ctx.param("start").filter(|s| !s.is_empty()) {
        None => 0,
        Some(s) => match s.parse::<usize>() {
            Ok(n) => n,
            Err(_) => {
                return bad_request(&format!(
                    "'start' must be a non-negative integer; got '{s}'."
                ))
            }
        },
    };
    let all: Vec<User> = sim
        .sorted_users()
        .into_iter()
        .filter(|u| !matches!(since, Some(s) if u.modified < s))
        .collect();
    let total = all.len();
    let page: Vec<serde_json::Value> = all
        .iter()
        .skip(start)
        .take(take)
        .map(|u| admin_user_json(u, &sim.cfg.account_id))
        .collect();
    let host = ctx
        .host()
        .map(|h| format!("http://{h}"))
        .unwrap_or_else(|| sim.base_url.clone());
    let page_url = |start: usize| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &ctx.query {
            if k != "start" && k != "take" {
                q.append_pair(k, v);
            }
        }
        q.append_pair("start", &start.to_string());
        q.append_pair("take", &take.to_string());
        format!("{host}{}?{}", ctx.path, q.finish())
    };
    let mut paging = serde_json::json!({
        "result_set_size": page.len(),
        "result_set_start_position": start,
        "result_set_end_position": (start + page.len()).saturating_sub(1),
        "total_set_size": total,
    });
    if start + page.len() < total {
        paging["next"] = page_url(start + page.len()).into();
    }
    if start > 0 {
        paging["previous"] = page_url(start.saturating_sub(take)).into();
    }
    Resp::json(200, &serde_json::json!({"users": page, "paging": paging}))
}

/// `GET /restapi/v2.1/accounts/{account}/users/{user}`.
pub(crate) fn esign_user(sim: &Sim, ctx: &Ctx, account: &str, user_id: &str) -> Resp {
    if let Err(r) = oauth::authorize(sim, ctx, &["signature"]) {
        return r;
    }
    let not_found = || {
        Resp::error(
            404,
            "USER_DOES_NOT_EXIST_IN_SYSTEM",
            "The user does not exist in the system.",
        )
    };
    if account != sim.cfg.account_id {
        if account == sim.other_account_id {
            return not_found();
        }
        return Resp::error(
            400,
            "INVALID_ACCOUNTID",
            &format!("Invalid account ID '{account}'."),
        );
    }
    let user = super::core::lock(&sim.users)
        .iter()
        .find(|u| u.id.eq_ignore_ascii_case(user_id))
        .cloned();
    let Some(u) = user.filter(|u| sim.esign_knows(u.index)) else {
        return not_found();
    };
    let status = match u.status {
        "active" => "Active",
        "closed" => "Closed",
        _ => "ActivationSent",
    };
    let (pp_id, pp_name) = if u.admin {
        ("14414471", "Account Administrator")
    } else {
        ("14414472", "DocuSign Sender")
    };
    let mut groups = vec![serde_json::json!({
        "groupId": "9876543",
        "groupName": "Everyone",
        "groupType": "EveryoneGroup",
    })];
    if u.admin {
        groups.push(serde_json::json!({
            "groupId": "9876542",
            "groupName": "Administrators",
            "groupType": "AdminGroup",
        }));
    }
    let created = {
        let mut s = String::new();
        data::write_iso_ticks(&mut s, u.created * data::TICKS_PER_SEC + 1_234_567, true);
        s
    };
    Resp::json(
        200,
        &serde_json::json!({
            "userId": u.id,
            "userName": format!("{} {}", u.first, u.last),
            "firstName": u.first,
            "lastName": u.last,
            "email": u.email,
            "userType": "CompanyUser",
            "userStatus": status,
            "isAdmin": if u.admin { "True" } else { "False" },
            "permissionProfileId": pp_id,
            "permissionProfileName": pp_name,
            "groupList": groups,
            "userSettings": {
                "modifiedDate": data::esign_date(u.modified),
                "locale": "en",
                "canManageAccount": if u.admin { "true" } else { "false" },
                "canSendEnvelope": "true",
                "apiAccountWideAccess": "false",
                "enableSequentialSigningAPI": "true",
            },
            "createdDateTime": created,
            "lastLogin": data::iso_secs(u.modified),
            "uri": format!("/users/{}", u.id),
            "sendActivationOnInvalidLogin": "false",
        }),
    )
}
