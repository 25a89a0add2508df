//! Admin API users: `GET /management/v2/organizations/{org}/users` (also the spec's `/Management/…`).
//!
//! As the spec (`OrganizationUsersResponse`) has it: no `account_id` and no modification time on a user,
//! `take` 20 by default (at most 250 here), errors as `{"error","error_description"}`, scope `user_read`.
//! One of `account_id`, `email` or `organization_reserved_domain_id` is required, `account_id` when
//! `last_modified_since` is given.

use crate::core::Sim;
use crate::data::{self, User};
use crate::http::{Ctx, Resp};
use crate::knobs::{AdminNext, Api};
use crate::oauth;

const DEFAULT_TAKE: usize = 20;
const MAX_TAKE: usize = 250;

fn error(status: u16, code: &str, message: &str) -> Resp {
    Resp::api_error(Some(Api::Admin), status, code, message)
}

fn bad_request(message: &str) -> Resp {
    error(400, "invalid_request", message)
}

/// Parse `last_modified_since` (`YYYY-MM-DDTHH:MM:SSZ` or a bare date) to whole seconds.
fn parse_since(s: &str) -> Option<i64> {
    data::parse_iso_ticks(s).map(|t| t.div_euclid(data::TICKS_PER_SEC))
}

fn admin_user_json(u: &User) -> serde_json::Value {
    let created = data::iso_secs(u.created);
    let mut v = serde_json::json!({
        "id": u.id,
        "user_name": format!("{} {}", u.first, u.last),
        "first_name": u.first,
        "last_name": u.last,
        "user_status": u.status,
        "membership_status": u.membership,
        "email": u.email,
        "created_on": created,
        "membership_created_on": created,
        "membership_id": data::uuid(data::h(u.index, 30, 7), data::h(u.index, 31, 7)),
    });
    // Closed some time after creation: the modification time is not on the Admin user.
    let closed = data::iso_secs(u.created + 86_400);
    if u.status == "closed" {
        v["closed_on"] = closed.clone().into();
    }
    if u.membership == "closed" {
        v["membership_closed_on"] = closed.into();
    }
    v
}

/// The filters of one request: `(since, email)`.
fn filters<'a>(sim: &Sim, ctx: &'a Ctx, org: &str) -> Result<(Option<i64>, Option<&'a str>), Resp> {
    let present = |k: &str| ctx.param(k).filter(|v| !v.is_empty());
    let account = present("account_id");
    let email = present("email");
    if account.is_none() && email.is_none() && present("organization_reserved_domain_id").is_none()
    {
        return Err(bad_request(
            "One of 'email', 'account_id' or 'organization_reserved_domain_id' must be specified.",
        ));
    }
    if let Some(a) = account {
        if a != sim.cfg.account_id {
            return Err(bad_request(&format!(
                "Account '{a}' does not belong to organization '{org}'."
            )));
        }
    }
    let since = match present("last_modified_since") {
        None => None,
        Some(_) if account.is_none() => {
            return Err(bad_request(
                "'account_id' is required when 'last_modified_since' is given.",
            ))
        }
        Some(s) => Some(parse_since(s).ok_or_else(|| {
            bad_request(&format!(
                "'last_modified_since' must be YYYY-MM-DDTHH:MM:SSZ or YYYY-MM-DD; got '{s}'."
            ))
        })?),
    };
    Ok((since, email))
}

/// `GET /management/v2/organizations/{org}/users`.
pub(crate) fn users(sim: &Sim, ctx: &Ctx, org: &str) -> Resp {
    match page(sim, ctx, org) {
        Ok(r) | Err(r) => r,
    }
}

fn page(sim: &Sim, ctx: &Ctx, org: &str) -> Result<Resp, Resp> {
    oauth::authorize(sim, ctx, &["user_read"], Some(Api::Admin))?;
    if org != sim.cfg.organization_id {
        return Err(error(
            404,
            "organization_not_found",
            &format!("Organization '{org}' does not exist."),
        ));
    }
    let (since, email) = filters(sim, ctx, org)?;
    let take = match ctx
        .number("take", DEFAULT_TAKE)
        .map_err(|m| bad_request(&m))?
    {
        0 => return Err(bad_request("'take' must be a positive integer; got '0'.")),
        n => n.min(MAX_TAKE),
    };
    let start = ctx.number("start", 0).map_err(|m| bad_request(&m))?;
    let knobs = sim.knobs();
    if let Some(s) = ctx.param("last_modified_since") {
        let s = s.to_string();
        sim.bump(|st| st.admin_since.push(s));
    }
    if knobs.admin_shuffle_each_request {
        sim.reshuffle_admin();
    }
    let all: Vec<User> = sim
        .sorted_users()
        .into_iter()
        .filter(|u| !matches!(since, Some(s) if u.modified < s))
        .filter(|u| email.is_none_or(|e| u.email.eq_ignore_ascii_case(e)))
        .collect();
    let total = all.len();
    let page: Vec<serde_json::Value> = all
        .iter()
        .skip(start)
        .take(take)
        .map(|u| {
            let mut v = admin_user_json(u);
            if u.index < knobs.admin_without_id as u64 {
                if let Some(o) = v.as_object_mut() {
                    o.remove("id");
                }
            }
            v
        })
        .collect();
    let origin = match &knobs.admin_next {
        AdminNext::Absent => None,
        AdminNext::Relative => Some(String::new()),
        AdminNext::Origin(base) => Some(base.clone()),
        AdminNext::Absolute => Some(
            ctx.host()
                .map(|h| format!("http://{h}"))
                .unwrap_or_else(|| sim.base_url.clone()),
        ),
    };
    let page_url = |start: usize| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &ctx.query {
            if k != "start" && k != "take" {
                q.append_pair(k, v);
            }
        }
        q.append_pair("start", &start.to_string());
        q.append_pair("take", &take.to_string());
        origin
            .as_ref()
            .map(|o| format!("{o}{}?{}", ctx.path, q.finish()))
    };
    let mut paging = serde_json::json!({
        "result_set_size": page.len(),
        "result_set_start_position": start,
        "result_set_end_position": (start + page.len()).saturating_sub(1),
        "total_set_size": total,
    });
    if knobs.admin_endless {
        // Never done: no size, and a next page named after every page (empty ones too).
        if let Some(o) = paging.as_object_mut() {
            o.remove("total_set_size");
            o.remove("result_set_end_position");
        }
        if let Some(next) = page_url(start + take) {
            paging["next"] = next.into();
        }
    } else if start + page.len() < total {
        if let Some(next) = page_url(start + page.len()) {
            paging["next"] = next.into();
        }
    }
    if start > 0 {
        if let Some(previous) = page_url(start.saturating_sub(take)) {
            paging["previous"] = previous.into();
        }
    }
    Ok(Resp::json(
        200,
        &serde_json::json!({"users": page, "paging": paging}),
    ))
}
