//! eSignature enrichment of audit users
//! (`GET {base_uri}/restapi/v2.1/accounts/{account}/users/{userId}?additional_info=true`), and
//! turning an enriched user into a record.
//!
//! One user never stops the stream: a user eSignature does not know (HTTP 404, or 400 with a
//! user-not-found `errorCode`), or whose lookup failed after its retries, is emitted without
//! `esignature` (warned, counted).

use super::AdminUsersSource;
use crate::config::AuditRecordShape;
use crate::docusign::client::{ApiError, BodyError};
use crate::docusign::Api;
use crate::record::{Record, Splicer};
use crate::state::Scratch;
use crate::telemetry::events::EnrichmentSkipped;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// `errorCode`s with which eSignature says it has no such user.
pub const USER_NOT_FOUND_CODES: &[&str] = &[
    "USER_DOES_NOT_EXIST_IN_SYSTEM",
    "INVALID_USERID",
    "USER_NOT_FOUND",
];

#[derive(Deserialize)]
struct ESignaturePeek<'a> {
    #[serde(rename = "userSettings", borrow, default)]
    user_settings: Option<SettingsPeek<'a>>,
}

/// `userSettings.modifiedDate` of an eSignature user, borrowed (also read from Users:list).
#[derive(Deserialize)]
pub(super) struct SettingsPeek<'a> {
    #[serde(rename = "modifiedDate", borrow, default)]
    pub(super) modified_date: Option<Cow<'a, str>>,
}

/// eSignature's `modifiedDate` to Unix seconds. The spec gives no format or zone: the usual
/// `M/D/YYYY h:mm:ss AM|PM` (read as UTC), ISO 8601 with or without a zone (none = UTC), or
/// `None`. It only ever feeds a record's `_time`, never a query position.
pub fn parse_modified_date(s: &str) -> Option<i64> {
    let s = s.trim();
    for format in [
        "%m/%d/%Y %I:%M:%S %p",
        "%m/%d/%Y %I:%M %p",
        "%m/%d/%Y %H:%M:%S",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc().timestamp());
        }
    }
    if let Some(t) = crate::record::parse_timestamp(s) {
        return Some(t);
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc().timestamp());
        }
    }
    None
}

/// An eSignature user answer: any JSON value, kept as its bytes.
pub fn parse_esignature_user(body: &[u8]) -> Result<Box<RawValue>, BodyError> {
    serde_json::from_slice::<Box<RawValue>>(body)
        .map_err(|e| BodyError::json("not an eSignature user", &e))
}

/// An eSignature user's `userSettings.modifiedDate`, when present: `Some(None)` when it is
/// there but unreadable.
pub fn esignature_modified(user: &RawValue) -> Option<Option<i64>> {
    let date = serde_json::from_str::<ESignaturePeek>(user.get())
        .ok()?
        .user_settings?
        .modified_date?;
    Some(parse_modified_date(&date))
}

/// An audit user after enrichment.
pub struct AuditUser {
    pub id: String,
    pub admin: Box<RawValue>,
    pub esignature: Option<Box<RawValue>>,
}

impl AuditUser {
    /// The Admin user alone, without eSignature details (unknown to eSignature, no id to look
    /// up, a lookup that failed, or enrichment off).
    pub fn without_details(id: String, admin: Box<RawValue>) -> AuditUser {
        AuditUser {
            id,
            admin,
            esignature: None,
        }
    }

    /// eSignature's `userSettings.modifiedDate`, when present: `Some(None)` when it is there
    /// but unreadable.
    pub fn modified_date(&self) -> Option<Option<i64>> {
        esignature_modified(self.esignature.as_ref()?)
    }

    /// The key under which this user is remembered: its id, or for a user without one, its
    /// digest.
    pub fn key(&self, digest: &str) -> String {
        if self.id.is_empty() {
            format!("?{digest}")
        } else {
            self.id.clone()
        }
    }

    /// A digest of what Docusign said of this user (Admin and eSignature bytes): the same user
    /// returned again unchanged has the same digest.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.admin.get().as_bytes());
        h.update([0u8]);
        if let Some(es) = &self.esignature {
            h.update(es.get().as_bytes());
        }
        h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The record: the Admin user with `esignature` (or, shaped for eSignature content, the
    /// eSignature user with `admin`), `_time` = `time`.
    pub fn to_record(&self, splicer: &Splicer, shape: AuditRecordShape, time: i64) -> Record {
        let joined = match (shape, &self.esignature) {
            (AuditRecordShape::Admin, None) => return splicer.build(&self.admin, time),
            (AuditRecordShape::Admin, Some(es)) => {
                nest(self.admin.get(), "esignature", es.get(), "user")
            }
            (AuditRecordShape::Esignature, Some(es)) => {
                nest(es.get(), "admin", self.admin.get(), "esignature")
            }
            (AuditRecordShape::Esignature, None) => {
                let id = serde_json::to_string(&self.id).unwrap_or_else(|_| "null".into());
                format!("{{\"userId\":{id},\"admin\":{}}}", self.admin.get())
            }
        };
        match RawValue::from_string(joined) {
            Ok(raw) => splicer.build(&raw, time),
            Err(_) => splicer.build(&self.admin, time),
        }
    }
}

/// `outer` (a JSON object's bytes) with `"key": inner` added as its last field. A non-object
/// `outer` is wrapped: `{"<wrap>": outer, "key": inner}`.
fn nest(outer: &str, key: &str, inner: &str, wrap: &str) -> String {
    let outer = outer.trim();
    match outer
        .strip_prefix('{')
        .and_then(|o| o.strip_suffix('}'))
        .map(str::trim)
    {
        Some("") => format!("{{\"{key}\":{inner}}}"),
        Some(fields) => format!("{{{fields},\"{key}\":{inner}}}"),
        None => format!("{{\"{wrap}\":{outer},\"{key}\":{inner}}}"),
    }
}

/// What fails for every user and so ends the page (or the list): the token, a URL that
/// cannot work, or a `base_uri` whose host redirects (every user's lookup would).
pub(super) fn fails_every_user(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::Auth(_)
            | ApiError::BadUrl { .. }
            | ApiError::Redirected { .. }
            | ApiError::Status { status: 401, .. }
    )
}

/// A page of users after enrichment.
pub struct Enriched {
    pub users: Vec<AuditUser>,
    /// Users whose lookup failed (not "unknown to eSignature"): kept without details.
    pub failed: usize,
}

impl AdminUsersSource {
    /// Enrich a page of users from eSignature, at most `concurrency` requests in flight, order
    /// kept. Only what fails for every user ends the page: authorization, and a URL that
    /// cannot be requested.
    ///
    /// Users found in `listed` (read through Users:list) take their details from there without a
    /// call.
    pub async fn enrich_users(
        &self,
        base_uri: &str,
        users: Vec<(String, Box<RawValue>)>,
        listed: Option<&Scratch>,
    ) -> Result<Enriched, ApiError> {
        if !self.enrich {
            let users = users
                .into_iter()
                .map(|(id, admin)| AuditUser::without_details(id, admin))
                .collect();
            return Ok(Enriched { users, failed: 0 });
        }
        let results: Vec<Result<(AuditUser, bool), ApiError>> = futures_util::stream::iter(users)
            .map(|(id, admin)| async move {
                match listed.and_then(|l| self.listed_user(l, &id)) {
                    Some(es) => Ok((
                        AuditUser {
                            id,
                            admin,
                            esignature: Some(es),
                        },
                        false,
                    )),
                    None => self.enrich_one(base_uri, id, admin).await,
                }
            })
            .buffered(self.concurrency)
            .collect()
            .await;
        let mut out = Enriched {
            users: Vec::with_capacity(results.len()),
            failed: 0,
        };
        for r in results {
            let (user, failed) = r?;
            out.failed += usize::from(failed);
            out.users.push(user);
        }
        Ok(out)
    }

    /// One user's eSignature details; the flag is true when the lookup failed (not "unknown").
    async fn enrich_one(
        &self,
        base_uri: &str,
        id: String,
        admin: Box<RawValue>,
    ) -> Result<(AuditUser, bool), ApiError> {
        if id.is_empty() {
            // Nothing to look up; the stream warns when it emits such a user (once:
            // `UsersWithoutId`), not at every query whose overlap brings it back.
            return Ok((AuditUser::without_details(id, admin), false));
        }
        // The id comes from Admin's answer: percent-encoded into its own path segment.
        let url = match crate::support::untrusted::path_url(
            base_uri,
            &[
                "restapi",
                "v2.1",
                "accounts",
                &self.account_id,
                "users",
                &id,
            ],
        ) {
            Ok(mut u) => {
                u.set_query(Some("additional_info=true"));
                u.to_string()
            }
            Err(e) => {
                let shown =
                    crate::support::untrusted::cut(&id, crate::support::untrusted::SHORT_CHARS);
                self.not_enriched(
                    &shown,
                    "bad_id",
                    &format!("the user id cannot be put in a URL: {e}"),
                );
                return Ok((AuditUser::without_details(id, admin), false));
            }
        };
        let answer = self
            .client
            .get(Api::ESignature, &url, true, |b| parse_esignature_user(b))
            .await;
        let (esignature, failed) = match answer {
            Ok(Some(raw)) => (Some(raw), false),
            Ok(None) => {
                self.not_enriched(&id, "unknown_user", "eSignature answered 404");
                (None, false)
            }
            Err(ApiError::Status {
                status: 400,
                code: Some(code),
                ..
            }) if USER_NOT_FOUND_CODES.contains(&code.as_str()) => {
                self.not_enriched(&id, "unknown_user", &format!("eSignature answered {code}"));
                (None, false)
            }
            Err(e) if fails_every_user(&e) => return Err(e),
            Err(e) => {
                self.not_enriched(&id, "failed", &e.to_string());
                (None, true)
            }
        };
        Ok((
            AuditUser {
                id,
                admin,
                esignature,
            },
            failed,
        ))
    }

    fn not_enriched(&self, id: &str, reason: &'static str, why: &str) {
        EnrichmentSkipped {
            integration: &self.integration,
            user_id: id,
            reason,
            why,
        }
        .emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::EventType;

    #[test]
    fn modified_date_in_every_form_docusign_may_use() {
        assert_eq!(
            parse_modified_date("3/12/2026 3:17:20 PM"),
            Some(1773328640)
        );
        assert_eq!(
            parse_modified_date("12/1/2025 12:00:00 AM"),
            Some(1764547200)
        );
        assert_eq!(
            parse_modified_date("12/1/2025 12:00:00 PM"),
            Some(1764590400)
        );
        assert_eq!(parse_modified_date("03/12/2026 15:17:20"), Some(1773328640));
        assert_eq!(
            parse_modified_date("2026-03-12T15:17:20Z"),
            Some(1773328640)
        );
        assert_eq!(
            parse_modified_date("2026-03-12T07:17:20.123-08:00"),
            Some(1773328640)
        );
        assert_eq!(
            parse_modified_date("2026-03-12T15:17:20.1234567"),
            Some(1773328640)
        );
        for bad in ["", "2025-12-01", "yesterday", "13/45/2026 1:00:00 PM"] {
            assert_eq!(parse_modified_date(bad), None, "{bad}");
        }
    }

    fn user(es: Option<&str>) -> AuditUser {
        AuditUser {
            id: "u1".into(),
            admin: RawValue::from_string(r#"{"id":"u1","user_name":"A"}"#.into()).unwrap(),
            esignature: es.map(|e| RawValue::from_string(e.into()).unwrap()),
        }
    }

    #[test]
    fn records_in_both_shapes() {
        let splicer = Splicer::new(EventType::AuditUsers, "acme", false);
        let u = user(Some(
            r#"{"userId":"u1","userName":"A","userSettings":{"modifiedDate":"3/12/2026 3:17:20 PM"}}"#,
        ));
        assert_eq!(u.modified_date(), Some(Some(1773328640)));
        let v: serde_json::Value = serde_json::from_str(
            &u.to_record(&splicer, AuditRecordShape::Admin, 1773328640)
                .json,
        )
        .unwrap();
        assert_eq!(v["user_name"], "A");
        assert_eq!(v["esignature"]["userId"], "u1");
        assert_eq!(v["_time"], "2026-03-12T15:17:20Z");
        assert_eq!(v["source_log_type"], "auditusers");
        let v: serde_json::Value =
            serde_json::from_str(&u.to_record(&splicer, AuditRecordShape::Esignature, 0).json)
                .unwrap();
        assert_eq!(v["userId"], "u1");
        assert_eq!(v["userName"], "A");
        assert_eq!(v["admin"]["user_name"], "A");
        assert!(v.get("esignature").is_none());

        let unknown = user(None);
        assert_eq!(unknown.modified_date(), None);
        let v: serde_json::Value = serde_json::from_str(
            &unknown
                .to_record(&splicer, AuditRecordShape::Admin, 1773328000)
                .json,
        )
        .unwrap();
        assert!(v.get("esignature").is_none());
        assert_eq!(v["_time"], "2026-03-12T15:06:40Z");
        let v: serde_json::Value = serde_json::from_str(
            &unknown
                .to_record(&splicer, AuditRecordShape::Esignature, 0)
                .json,
        )
        .unwrap();
        assert_eq!(v["userId"], "u1");
        assert_eq!(v["admin"]["id"], "u1");
    }

    #[test]
    fn the_digest_changes_with_either_answer() {
        let a = user(Some(r#"{"userId":"u1"}"#));
        assert_eq!(a.digest(), user(Some(r#"{"userId":"u1"}"#)).digest());
        assert_eq!(a.digest().len(), 16);
        assert_ne!(a.digest(), user(Some(r#"{"userId":"u1","x":1}"#)).digest());
        assert_ne!(a.digest(), user(None).digest());
    }

    #[test]
    fn nesting_keeps_both_objects() {
        assert_eq!(nest("{}", "k", "1", "w"), r#"{"k":1}"#);
        assert_eq!(nest(r#"{"a":1}"#, "k", "2", "w"), r#"{"a":1,"k":2}"#);
        assert_eq!(nest("[1]", "k", "2", "w"), r#"{"w":[1],"k":2}"#);
    }
}
