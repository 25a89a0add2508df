//! Rules a deserialized configuration must satisfy; each failure names its key.

use super::{Config, ConfigError, HumanDuration, IntegrationConfig, MonitorApi, Proxy, SinkConfig};
use crate::record::EventType;
use crate::support::key::{self, KeyError};
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

type Check = Result<(), ConfigError>;

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn fail(&self, key: impl Into<String>, message: impl Into<String>) -> Check {
        Err(ConfigError {
            file: self.file.to_string(),
            key: key.into(),
            message: message.into(),
        })
    }
}

pub(super) fn validate(cfg: &Config, file: &str) -> Check {
    let c = Ctx { file };
    if cfg.state_path.as_os_str().is_empty() {
        c.fail("state_path", "must not be empty: set the SQLite state file, e.g. \"/var/lib/docusign-collector/state.db\"")?;
    }
    paths(&c, cfg)?;
    shared_state(&c, cfg)?;
    log_level(&c, &cfg.log.level)?;
    if let Some(api) = &cfg.api {
        if let Some(p) = &api.token_file {
            non_empty_file(&c, "api.token_file", p)?;
        }
        if let Some(p) = &api.seal_key_file {
            if let Err(e) = crate::support::seal::SealKey::from_file(p) {
                c.fail("api.seal_key_file", e.to_string())?;
            }
        }
        if let Err((key, message)) = super::api::check(api) {
            c.fail(key, message)?;
        }
    }
    let mut names = HashSet::new();
    for (i, integ) in cfg.integrations.iter().enumerate() {
        let k = format!("integrations[{i}]");
        integration(&c, &k, integ)?;
        if !names.insert(integ.name.as_str()) {
            c.fail(
                format!("{k}.name"),
                format!("duplicate integration name {:?}: every integration needs its own name (it keys all state)", integ.name),
            )?;
        }
    }
    for (i, sink) in cfg.sinks.iter().enumerate() {
        let k = format!("sinks[{i}]");
        let name = match sink {
            SinkConfig::Stdout(s) => s.name.as_deref(),
            SinkConfig::File(s) => s.name.as_deref(),
            SinkConfig::Http(s) => s.name.as_deref(),
        };
        if let Some(n) = name {
            if n.trim().is_empty() {
                c.fail(format!("{k}.name"), "must not be empty (or leave it out)")?;
            }
            // It goes into every log line, error and metrics label of the sink.
            if n.chars().count() > 200 || n.chars().any(char::is_control) {
                c.fail(
                    format!("{k}.name"),
                    "must be at most 200 characters, without control characters",
                )?;
            }
        }
        sink_rules(&c, &k, sink)?;
    }
    sink_identities(&c, &cfg.sinks)?;
    Ok(())
}

/// Every key that names a file: a value that is really the file's content (a PEM key pasted in
/// place of its path, say) is refused without being echoed.
fn paths(c: &Ctx, cfg: &Config) -> Check {
    fn opt(p: &Option<std::path::PathBuf>) -> Option<&Path> {
        p.as_deref()
    }
    let mut keys: Vec<(String, Option<&Path>)> = vec![
        ("state_path".into(), Some(cfg.state_path.as_path())),
        ("state_password_file".into(), opt(&cfg.state_password_file)),
        ("state_ca_file".into(), opt(&cfg.state_ca_file)),
    ];
    if let Some(api) = &cfg.api {
        keys.push(("api.token_file".into(), opt(&api.token_file)));
        keys.push(("api.seal_key_file".into(), opt(&api.seal_key_file)));
    }
    for (i, integ) in cfg.integrations.iter().enumerate() {
        let k = format!("integrations[{i}]");
        keys.push((
            format!("{k}.private_key_file"),
            opt(&integ.private_key_file),
        ));
        keys.push((format!("{k}.http.ca_file"), opt(&integ.http.ca_file)));
    }
    for (i, sink) in cfg.sinks.iter().enumerate() {
        let k = format!("sinks[{i}]");
        match sink {
            SinkConfig::Stdout(_) => {}
            SinkConfig::File(f) => keys.push((format!("{k}.path"), Some(f.path.as_path()))),
            SinkConfig::Http(h) => {
                keys.push((format!("{k}.token_file"), opt(&h.token_file)));
                keys.push((format!("{k}.ca_file"), opt(&h.ca_file)));
                keys.push((format!("{k}.dead_letter_path"), opt(&h.dead_letter_path)));
            }
        }
    }
    for (key, path) in keys {
        if let Some(why) = path.and_then(crate::support::credentials::not_a_path) {
            c.fail(key, why)?;
        }
    }
    Ok(())
}

fn log_level(c: &Ctx, level: &str) -> Check {
    const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];
    let hint = "write a level (trace, debug, info, warn, error, off) or directives like \"info,docusign_collector=debug\"";
    if level.trim().is_empty() {
        return c.fail("log.level", format!("must not be empty: {hint}"));
    }
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(level) {
        return c.fail(
            "log.level",
            format!("invalid filter {level:?} ({e}): {hint}"),
        );
    }
    for d in level.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if !d.contains('=')
            && !d.contains("::")
            && !d.contains('[')
            && !LEVELS.contains(&d.to_ascii_lowercase().as_str())
        {
            return c.fail("log.level", format!("{d:?} is not a level: {hint}"));
        }
    }
    Ok(())
}

fn integration(c: &Ctx, k: &str, i: &IntegrationConfig) -> Check {
    let name_ok = !i.name.is_empty()
        && i.name.len() <= 64
        && i.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !name_ok {
        c.fail(
            format!("{k}.name"),
            format!("invalid name {:?}: use 1 to 64 characters among a-z, 0-9, '_' and '-' (e.g. \"acme-prod\")", i.name),
        )?;
    }
    if i.integration_key.trim().is_empty() {
        c.fail(
            format!("{k}.integration_key"),
            "must not be empty: the integration key (client id) from Docusign Apps and Keys",
        )?;
    }
    if i.user_id.trim().is_empty() {
        c.fail(
            format!("{k}.user_id"),
            "must not be empty: the API user GUID to impersonate, from Docusign Apps and Keys",
        )?;
    }
    if i.event_types.is_empty() {
        c.fail(
            format!("{k}.event_types"),
            "must list at least one of \"customer_events\", \"audit_users\"",
        )?;
    }
    let mut seen = HashSet::new();
    for et in &i.event_types {
        if !seen.insert(*et) {
            c.fail(
                format!("{k}.event_types"),
                format!("{:?} is listed twice", et.as_str()),
            )?;
        }
    }
    let ce = &i.customer_events;
    if !(1..=2000).contains(&ce.page_size) {
        c.fail(
            format!("{k}.customer_events.page_size"),
            format!("{} is out of range: use 1..=2000", ce.page_size),
        )?;
    }
    at_least_1s(c, &format!("{k}.customer_events.interval"), ce.interval)?;
    let au = &i.audit_users;
    if !(1..=250).contains(&au.page_size) {
        c.fail(
            format!("{k}.audit_users.page_size"),
            format!("{} is out of range: use 1..=250", au.page_size),
        )?;
    }
    if !(1..=32).contains(&au.enrich_concurrency) {
        c.fail(
            format!("{k}.audit_users.enrich_concurrency"),
            format!("{} is out of range: use 1..=32", au.enrich_concurrency),
        )?;
    }
    at_least_1s(c, &format!("{k}.audit_users.interval"), au.interval)?;
    if au.overlap.0 > Duration::from_secs(7 * 24 * 3600) {
        c.fail(
            format!("{k}.audit_users.overlap"),
            format!(
                "{} is too long: use at most 7d (every query would repeat that much)",
                humantime::format_duration(au.overlap.0)
            ),
        )?;
    }
    at_least_1s(c, &format!("{k}.http.timeout"), i.http.timeout)?;
    longest_waits(c, k, i)?;
    let rl = &i.rate_limit;
    if !(1..=1_000_000).contains(&rl.per_hour) {
        c.fail(
            format!("{k}.rate_limit.per_hour"),
            format!("{} is out of range: use 1..=1000000", rl.per_hour),
        )?;
    }
    if !(1..=10_000).contains(&rl.burst) {
        c.fail(
            format!("{k}.rate_limit.burst"),
            format!("{} is out of range: use 1..=10000", rl.burst),
        )?;
    }
    if !(1..=100).contains(&i.retry.max_attempts) {
        c.fail(
            format!("{k}.retry.max_attempts"),
            format!("{} is out of range: use 1..=100", i.retry.max_attempts),
        )?;
    }
    if i.retry.initial.0 > i.retry.max.0 {
        c.fail(
            format!("{k}.retry.initial"),
            "must not be longer than retry.max",
        )?;
    }

    if let Err(e) = key::load(i.key_source()) {
        let which = if i.private_key_file.is_some() {
            "private_key_file"
        } else {
            "private_key"
        };
        let message = match e {
            KeyError::Missing => {
                "no private key: set private_key_file (a PEM file) or private_key (the PEM text)"
                    .to_string()
            }
            KeyError::Both => "both private_key_file and private_key are set: keep one".to_string(),
            other => other.to_string(),
        };
        c.fail(format!("{k}.{which}"), message)?;
    }

    let present = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    if i.collects(EventType::AuditUsers) {
        if !present(&i.account_id) {
            c.fail(format!("{k}.account_id"), "is required when event_types includes \"audit_users\": the eSignature account GUID")?;
        }
        if !present(&i.organization_id) {
            c.fail(format!("{k}.organization_id"), "is required when event_types includes \"audit_users\": the Docusign Admin organization GUID")?;
        }
    }
    if i.customer_events.api == MonitorApi::V1
        && i.collects(EventType::CustomerEvents)
        && !present(&i.organization_id)
    {
        c.fail(
            format!("{k}.organization_id"),
            "is required when customer_events.api = \"v1\": the Docusign Admin organization GUID",
        )?;
    }
    path_ids(c, k, i)?;
    http_url(c, &format!("{k}.redirect_url"), &i.redirect_url)?;
    for (name, v) in [
        ("oauth", &i.endpoints.oauth),
        ("monitor", &i.endpoints.monitor),
        ("admin", &i.endpoints.admin),
    ] {
        if let Some(u) = v {
            http_url(c, &format!("{k}.endpoints.{name}"), u)?;
        }
    }
    proxy(c, &format!("{k}.http.proxy"), &i.http.proxy)?;
    if let Some(p) = &i.http.ca_file {
        ca_file(c, &format!("{k}.http.ca_file"), p)?;
    }
    Ok(())
}

fn sink_rules(c: &Ctx, k: &str, sink: &SinkConfig) -> Check {
    match sink {
        SinkConfig::Stdout(_) => Ok(()),
        SinkConfig::File(f) => {
            if f.path.as_os_str().is_empty() {
                c.fail(format!("{k}.path"), "must not be empty: the JSONL file to write, e.g. \"/var/log/docusign-collector/events.jsonl\"")?;
            }
            if f.max_bytes < 1024 {
                c.fail(
                    format!("{k}.max_bytes"),
                    format!("{} is too small: use at least 1024 (bytes)", f.max_bytes),
                )?;
            }
            if f.max_files < 1 {
                c.fail(format!("{k}.max_files"), "must be at least 1")?;
            }
            Ok(())
        }
        SinkConfig::Http(h) => {
            http_url(c, &format!("{k}.url"), &h.url)?;
            if h.batch_max_events < 1 {
                c.fail(format!("{k}.batch_max_events"), "must be at least 1")?;
            }
            if h.batch_max_bytes < 1024 {
                c.fail(
                    format!("{k}.batch_max_bytes"),
                    format!(
                        "{} is too small: use at least 1024 (bytes)",
                        h.batch_max_bytes
                    ),
                )?;
            }
            at_least_1s(c, &format!("{k}.timeout"), h.timeout)?;
            if let Some(p) = &h.token_file {
                non_empty_file(c, &format!("{k}.token_file"), p)?;
            }
            if let Some(p) = &h.ca_file {
                ca_file(c, &format!("{k}.ca_file"), p)?;
            }
            proxy(c, &format!("{k}.proxy"), &h.proxy)?;
            for (name, value) in &h.headers {
                if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    c.fail(
                        format!("{k}.headers"),
                        format!("{name:?} is not a valid HTTP header name"),
                    )?;
                }
                if reqwest::header::HeaderValue::from_str(value).is_err() {
                    c.fail(
                        format!("{k}.headers.{name}"),
                        "is not a valid HTTP header value (control characters?)",
                    )?;
                }
            }
            if let Some(p) = &h.dead_letter_path {
                if p.as_os_str().is_empty() {
                    c.fail(
                        format!("{k}.dead_letter_path"),
                        "must not be empty (or leave it out)",
                    )?;
                }
            }
            Ok(())
        }
    }
}

fn at_least_1s(c: &Ctx, key: &str, d: HumanDuration) -> Check {
    if d.0.as_secs() < 1 {
        return c.fail(
            key,
            format!(
                "{} is too short: use at least 1s (e.g. \"60s\", \"5m\")",
                humantime::format_duration(d.0)
            ),
        );
    }
    Ok(())
}

/// `account_id` and `organization_id` go into URL paths (percent-encoded, one segment each): `.`
/// and `..`, which URL parsing would resolve to another path, are refused.
fn path_ids(c: &Ctx, k: &str, i: &IntegrationConfig) -> Check {
    for (name, v) in [
        ("account_id", &i.account_id),
        ("organization_id", &i.organization_id),
    ] {
        if matches!(v.as_deref().map(str::trim), Some("." | "..")) {
            c.fail(
                format!("{k}.{name}"),
                "is not an id (it would be a '.' or '..' path segment): write the GUID from Docusign",
            )?;
        }
    }
    Ok(())
}

fn http_url(c: &Ctx, key: &str, value: &str) -> Check {
    match url::Url::parse(value.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        Ok(u) => c.fail(key, format!("{value:?} is not an http(s) URL (scheme {:?}): write it like \"https://host/path\"", u.scheme())),
        Err(e) => c.fail(key, format!("{value:?} is not a valid absolute URL ({e}): write it like \"https://host/path\"")),
    }
}

fn proxy(c: &Ctx, key: &str, p: &Proxy) -> Check {
    if let Proxy::Url(u) = p {
        if let Err(e) = url::Url::parse(u) {
            return c.fail(
                key,
                format!(
                    "{u:?} is not a valid proxy URL ({e}): write it like \"http://proxy:3128\""
                ),
            );
        }
    }
    Ok(())
}

fn read(c: &Ctx, key: &str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    crate::support::credentials::read(path).map_err(|message| ConfigError {
        file: c.file.to_string(),
        key: key.to_string(),
        message,
    })
}

fn non_empty_file(c: &Ctx, key: &str, path: &Path) -> Check {
    let bytes = read(c, key, path)?;
    if String::from_utf8_lossy(&bytes).trim().is_empty() {
        c.fail(
            key,
            format!("{} is empty: put the token in it", path.display()),
        )?;
    }
    Ok(())
}

fn ca_file(c: &Ctx, key: &str, path: &Path) -> Check {
    let bytes = read(c, key, path)?;
    let text = String::from_utf8_lossy(&bytes);
    let ok = text.contains("-----BEGIN CERTIFICATE-----")
        && reqwest::Certificate::from_pem_bundle(&bytes).is_ok_and(|v| !v.is_empty());
    if !ok {
        c.fail(
            key,
            format!(
                "{} holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")",
                path.display()
            ),
        )?;
    }
    Ok(())
}

/// `state_url`, its password and CA files, and `[cluster]`.
fn shared_state(c: &Ctx<'_>, cfg: &Config) -> Check {
    if let Some(url) = &cfg.state_url {
        let url = url.expose();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            c.fail(
                "state_url",
                "must be a PostgreSQL URL: postgres://user@host:5432/dbname (put the password in state_password_file or PGPASSWORD)",
            )?;
        }
        if let Err(e) = url.parse::<postgres::Config>() {
            c.fail("state_url", format!("is not a valid PostgreSQL URL: {e}"))?;
        }
    }
    if let Some(p) = &cfg.state_password_file {
        non_empty_file(c, "state_password_file", p)?;
    }
    if let Some(p) = &cfg.state_ca_file {
        ca_file(c, "state_ca_file", p)?;
    }
    if let Some(cluster) = &cfg.cluster {
        if cfg.state_url.is_none() {
            c.fail(
                "cluster",
                "needs state_url: replicas share a PostgreSQL database (remove [cluster] to keep the SQLite state_path)",
            )?;
        }
        let (min, max) = super::LEASE_RANGE;
        if cluster.lease.0 < min || cluster.lease.0 > max {
            c.fail(
                "cluster.lease",
                format!(
                    "must be between {} and {}",
                    humantime::format_duration(min),
                    humantime::format_duration(max)
                ),
            )?;
        }
        if !(1..=64).contains(&cluster.connections) {
            c.fail("cluster.connections", "must be between 1 and 64")?;
        }
        if let Some(r) = &cluster.replica {
            if r.trim().is_empty() || r.len() > 200 {
                c.fail(
                    "cluster.replica",
                    "must be a non-empty name of at most 200 bytes",
                )?;
            }
        }
    }
    Ok(())
}

/// Every sink has its own effective name (it keys the sink's acceptance records, its metrics and
/// its log lines) and its own file: two file sinks on one path, or a dead-letter file that is a
/// file sink's, would cut and rotate each other's lines.
fn sink_identities(c: &Ctx, sinks: &[SinkConfig]) -> Check {
    use super::sinks::normalised_path;
    let mut names: Vec<String> = Vec::with_capacity(sinks.len());
    // Every file a sink writes, normalised: (path, sink index, what the sink uses it for).
    let mut files: Vec<(std::path::PathBuf, usize, &str, u32)> = Vec::new();
    for (i, sink) in sinks.iter().enumerate() {
        let name = sink.effective_name();
        if let Some(j) = names.iter().position(|n| *n == name) {
            let given = match sink {
                SinkConfig::Stdout(s) => s.name.is_some(),
                SinkConfig::File(s) => s.name.is_some(),
                SinkConfig::Http(s) => s.name.is_some(),
            };
            let what = if given { "name" } else { "effective name" };
            c.fail(
                format!("sinks[{i}].name"),
                format!("the {what} {name:?} is also sinks[{j}]'s: give each sink its own name"),
            )?;
        }
        names.push(name);
        let (path, key, rotated) = match sink {
            SinkConfig::File(f) => (&f.path, "path", f.max_files),
            SinkConfig::Http(h) => match &h.dead_letter_path {
                Some(p) => (p, "dead_letter_path", 0),
                None => continue,
            },
            SinkConfig::Stdout(_) => continue,
        };
        let norm = normalised_path(path);
        for (other, j, other_key, other_rotated) in &files {
            // Two dead-letter files on one path are fine: each batch is appended whole.
            let same = *other == norm && (key == "path" || *other_key == "path");
            // A file sink's rotated files (`path.1` … `path.N`) are its own too.
            let is_rotation = |a: &std::path::Path, n: u32, b: &std::path::Path| {
                (1..=n).any(|k| {
                    let mut r = a.as_os_str().to_owned();
                    r.push(format!(".{k}"));
                    std::path::Path::new(&r) == b
                })
            };
            let rotation =
                is_rotation(other, *other_rotated, &norm) || is_rotation(&norm, rotated, other);
            if same || rotation {
                c.fail(
                    format!("sinks[{i}].{key}"),
                    format!(
                        "{} is also sinks[{j}]'s {other_key}{}: two sinks writing one file cut and rotate each other's lines; give each its own file",
                        path.display(),
                        if same { "" } else { " (or one of its rotated files)" },
                    ),
                )?;
            }
        }
        files.push((norm, i, key, rotated));
    }
    Ok(())
}

/// The longest interval a stream may have: a week (a longer one is a typo, and every wait the
/// scheduler computes from it stays far from any overflow).
pub const MAX_INTERVAL: Duration = Duration::from_secs(7 * 24 * 3600);

/// The longest `rate_limit.max_wait` and `rate_limit.min_spacing`: Docusign's budget window.
pub const MAX_RATE_WAIT: Duration = Duration::from_secs(3600);

/// Upper bounds of the configured waits: intervals at most [`MAX_INTERVAL`], the rate limiter's
/// waits and the retry backoff at most [`MAX_RATE_WAIT`] (and `max_wait` at least a second).
fn longest_waits(c: &Ctx, k: &str, i: &IntegrationConfig) -> Check {
    let too_long = |key: String, d: HumanDuration, max: Duration, why: &str| {
        if d.0 > max {
            return c.fail(
                key,
                format!(
                    "{} is too long: use at most {} ({why})",
                    humantime::format_duration(d.0),
                    humantime::format_duration(max)
                ),
            );
        }
        Ok(())
    };
    let week = "a stream polls at least once a week";
    let (ce, au) = (i.customer_events.interval, i.audit_users.interval);
    too_long(
        format!("{k}.customer_events.interval"),
        ce,
        MAX_INTERVAL,
        week,
    )?;
    too_long(format!("{k}.audit_users.interval"), au, MAX_INTERVAL, week)?;
    let hour = "Docusign's budget window is one hour";
    let rl = &i.rate_limit;
    too_long(
        format!("{k}.rate_limit.min_spacing"),
        rl.min_spacing,
        MAX_RATE_WAIT,
        hour,
    )?;
    too_long(
        format!("{k}.rate_limit.max_wait"),
        rl.max_wait,
        MAX_RATE_WAIT,
        hour,
    )?;
    let retry = "a request retried less than once an hour belongs to the next cycle";
    too_long(format!("{k}.retry.max"), i.retry.max, MAX_RATE_WAIT, retry)?;
    at_least_1s(c, &format!("{k}.rate_limit.max_wait"), rl.max_wait)
}
