//! The `[api]` table's rules beyond its types: the origins in `allowed_endpoints` and the seal
//! keys (current and previous).

use super::ApiConfig;

/// `text` as an origin `scheme://host[:port]` (http or https, nothing after the authority),
/// serialised the way [`url::Url::origin`] does (lowercase host, default port left out), so two
/// spellings of one origin compare equal.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let hint = "write an origin scheme://host[:port], e.g. \"https://gateway.example.com:8443\"";
    let u = url::Url::parse(text.trim())
        .map_err(|e| format!("{text:?} is not a valid origin ({e}): {hint}"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?} is not an http(s) origin: {hint}"));
    }
    let bare = u.path() == "/" && u.query().is_none() && u.fragment().is_none();
    if !bare || !u.username().is_empty() || u.password().is_some() {
        return Err(format!(
            "{text:?} has more than an origin (a path, query, fragment or user): {hint}"
        ));
    }
    Ok(u.origin().ascii_serialization())
}

/// The origin of an endpoint URL (already checked to be an http(s) URL), or `None`.
pub fn origin_of(endpoint: &str) -> Option<String> {
    let u = url::Url::parse(endpoint.trim()).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| u.origin().ascii_serialization())
}

/// Check `[api]`'s lists; the error is (key, message).
pub(super) fn check(api: &ApiConfig) -> Result<(), (String, String)> {
    for (i, o) in api.allowed_endpoints.iter().enumerate() {
        parse_origin(o).map_err(|m| (format!("api.allowed_endpoints[{i}]"), m))?;
    }
    if !api.previous_seal_key_files.is_empty() && api.seal_key_file.is_none() {
        return Err((
            "api.previous_seal_key_files".into(),
            "needs seal_key_file: the previous keys open old rows, which are resealed under \
             seal_key_file"
                .into(),
        ));
    }
    for (i, p) in api.previous_seal_key_files.iter().enumerate() {
        if let Err(e) = crate::support::seal::SealKey::from_file(p) {
            return Err((format!("api.previous_seal_key_files[{i}]"), e.to_string()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_and_nothing_else_passes() {
        assert_eq!(
            parse_origin("https://GW.example.com:443").unwrap(),
            "https://gw.example.com"
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        for bad in [
            "https://gw.example.com/path",
            "https://u:p@gw.example.com",
            "ftp://gw.example.com",
            "gw.example.com",
            "https://gw.example.com?x=1",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
        assert_eq!(
            origin_of("https://api-d.docusign.net/management").as_deref(),
            Some("https://api-d.docusign.net")
        );
    }

    #[test]
    fn the_api_lists_are_validated_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("seal");
        std::fs::write(&key, "ab".repeat(32)).unwrap();
        let bad_key = dir.path().join("bad");
        std::fs::write(&bad_key, "short").unwrap();
        let load = |api: &str| {
            crate::config::from_toml_str(
                &format!("[api]\nlisten = \"127.0.0.1:9464\"\n{api}"),
                "t.toml",
            )
        };
        let ok = load(&format!(
            "seal_key_file = \"{}\"\nprevious_seal_key_files = [\"{}\"]\nallowed_endpoints = [\"https://gw.example:8443\"]\n",
            key.display(),
            key.display()
        ))
        .unwrap();
        let api = ok.api.unwrap();
        assert_eq!(api.allowed_endpoints, ["https://gw.example:8443"]);
        assert_eq!(api.previous_seal_key_files.len(), 1);
        let e = load("allowed_endpoints = [\"https://gw.example\", \"https://gw.example/x\"]\n")
            .unwrap_err();
        assert_eq!(e.key, "api.allowed_endpoints[1]", "{e}");
        let e = load(&format!(
            "previous_seal_key_files = [\"{}\"]\n",
            key.display()
        ))
        .unwrap_err();
        assert_eq!(e.key, "api.previous_seal_key_files", "{e}");
        let e = load(&format!(
            "seal_key_file = \"{}\"\nprevious_seal_key_files = [\"{}\"]\n",
            key.display(),
            bad_key.display()
        ))
        .unwrap_err();
        assert_eq!(e.key, "api.previous_seal_key_files[0]", "{e}");
        assert!(e.message.contains("openssl rand"), "{e}");
    }
}
