//! Behaviour knobs: how the simulator answers where Docusign's specs leave room (paging links,
//! eSignature dates, unknown users, the userinfo `base_uri`), set in [`crate::SimConfig`] and changed
//! at run time through [`crate::SimHandle`] or the `/_sim/…` control endpoints.

use std::fmt;
use std::str::FromStr;

/// A data API, for knobs that act on one API only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// Monitor: both stream endpoints (`/api/v2.0/datasets/monitor/stream`, `/v1/organizations/{org}/stream`).
    Monitor,
    /// Admin: `/management/v2/organizations/{org}/users` (either case of `Management`).
    Admin,
    /// eSignature: the single user and Users:list.
    Esign,
}

impl FromStr for Api {
    type Err = String;
    fn from_str(s: &str) -> Result<Api, String> {
        match s {
            "monitor" => Ok(Api::Monitor),
            "admin" => Ok(Api::Admin),
            "esign" | "esignature" => Ok(Api::Esign),
            _ => Err(format!("unknown API '{s}': monitor, admin or esign")),
        }
    }
}

/// What an Admin page says in `paging.next` (and `paging.previous`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AdminNext {
    /// A complete URL on the origin the request was sent to (Docusign's usual answer).
    #[default]
    Absolute,
    /// Only the path and query (`/management/v2/organizations/…/users?…`).
    Relative,
    /// The same path and query on another base URL (e.g. `http://127.0.0.1:9`, no trailing slash).
    Origin(String),
    /// No `next` at all, even while more pages remain (`previous` is absent too).
    Absent,
}

impl FromStr for AdminNext {
    type Err = String;
    /// `absolute`, `relative`, `absent`, or a base URL (`http://…`, `https://…`) for [`AdminNext::Origin`].
    fn from_str(s: &str) -> Result<AdminNext, String> {
        match s {
            "absolute" => Ok(AdminNext::Absolute),
            "relative" => Ok(AdminNext::Relative),
            "absent" => Ok(AdminNext::Absent),
            o if o.starts_with("http://") || o.starts_with("https://") => {
                Ok(AdminNext::Origin(o.trim_end_matches('/').to_string()))
            }
            _ => Err(format!(
                "unknown next mode '{s}': absolute, relative, absent or a base URL"
            )),
        }
    }
}

/// How eSignature renders `userSettings.modifiedDate` (the spec gives it no format or zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EsignDateFormat {
    /// `M/D/YYYY h:mm:ss AM|PM`, no zone: what collectors see.
    #[default]
    Us,
    /// ISO 8601 with the zone designator: `2026-03-12T07:17:20-08:00` (`Z` when the offset is 0).
    Iso8601,
    /// ISO 8601 without a zone designator: `2026-03-12T07:17:20` (as ambiguous as the US form).
    Iso8601NoZone,
}

impl FromStr for EsignDateFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<EsignDateFormat, String> {
        match s {
            "us" => Ok(EsignDateFormat::Us),
            "iso" | "iso8601" => Ok(EsignDateFormat::Iso8601),
            "iso-nozone" | "iso8601-nozone" => Ok(EsignDateFormat::Iso8601NoZone),
            _ => Err(format!("unknown date format '{s}': us, iso or iso-nozone")),
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Api::Monitor => "monitor",
            Api::Admin => "admin",
            Api::Esign => "esign",
        })
    }
}

/// The headers `headers_next` may set (Docusign's rate-limit headers and a proxy's
/// `Retry-After`), as they are sent.
pub const OVERLAY_HEADERS: [&str; 6] = [
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-BurstLimit-Limit",
    "X-BurstLimit-Remaining",
];

/// What `headers_next` lays over one answer: a status instead of the real answer (an error
/// body in the API's shape), and headers that replace the simulator's own of the same name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overlay {
    pub status: Option<u16>,
    pub headers: Vec<(&'static str, String)>,
}

impl Overlay {
    /// An overlay from `name: value` pairs; names among [`OVERLAY_HEADERS`] (any case), values
    /// any bytes a header may carry (the point is to send hostile ones).
    pub fn new(status: Option<u16>, headers: &[(&str, &str)]) -> Result<Overlay, String> {
        if status.is_some_and(|s| !(100..=599).contains(&s)) {
            return Err("'status' must be an HTTP status".into());
        }
        let mut out = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            let known = OVERLAY_HEADERS
                .iter()
                .find(|h| h.eq_ignore_ascii_case(name.trim()))
                .ok_or_else(|| {
                    format!("header '{name}' cannot be set: use one of {OVERLAY_HEADERS:?}")
                })?;
            if axum::http::HeaderValue::from_str(value).is_err() {
                return Err(format!("'{value}' is not a header value"));
            }
            out.push((*known, value.to_string()));
        }
        Ok(Overlay {
            status,
            headers: out,
        })
    }
}

/// The knobs' current values (one lock; read once per request).
#[derive(Debug, Clone)]
pub(crate) struct Knobs {
    /// Status for a user eSignature does not know (400 per the spec; 404 behind some gateways).
    pub esign_unknown_status: u16,
    /// Seconds added to the true (UTC) modification time before `modifiedDate` is rendered.
    pub esign_clock_offset: i64,
    /// The form of `modifiedDate`.
    pub esign_date_format: EsignDateFormat,
    /// `paging.next` of Admin pages.
    pub admin_next: AdminNext,
    /// Draw a new Admin listing order before every Admin request.
    pub admin_shuffle_each_request: bool,
    /// The `base_uri` userinfo gives every account (`None`: the simulator's own URL).
    pub base_uri: Option<String>,
}
