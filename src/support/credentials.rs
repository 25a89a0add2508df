//! Paths of key and token files that may name a systemd credential:
//! `${CREDENTIALS_DIRECTORY}/acme.pem` with `LoadCredential=acme.pem:/etc/…` in the unit.

use std::path::{Path, PathBuf};

/// The variable systemd sets to the directory of a service's credentials.
pub const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";

/// `path` with `${CREDENTIALS_DIRECTORY}` (or `$CREDENTIALS_DIRECTORY`) replaced by that
/// variable's value; an error that says what to do when the path uses it and it is unset.
/// A "path" that is really key or certificate text pasted in its place is refused without
/// being echoed (see [`not_a_path`]).
pub fn expand(path: &Path) -> Result<PathBuf, String> {
    if let Some(why) = not_a_path(path) {
        return Err(why);
    }
    expand_with(path, std::env::var_os(CREDENTIALS_DIRECTORY))
}

/// Why `path` cannot be a file's path, when it looks like the file's content pasted in its
/// place: PEM boundaries (`-----BEGIN …`), line breaks, or a component longer than any file
/// name can be (255 bytes). The message never repeats the value: it may be a private key.
pub fn not_a_path(path: &Path) -> Option<String> {
    let bytes = path.as_os_str().as_encoded_bytes();
    let pem = memchr::memmem::find(bytes, b"-----BEGIN").is_some()
        || memchr::memmem::find(bytes, b"-----END").is_some();
    let broken = bytes.iter().any(|&b| b == b'\n' || b == b'\r');
    let too_long = bytes.split(|&b| b == b'/').any(|c| c.len() > 255);
    if !(pem || broken || too_long) {
        return None;
    }
    Some(
        if pem {
            "holds PEM text (a key or certificate pasted where its file's path belongs), not a path; \
             the value is not shown: put the text in a file (mode 0600) and give that file's path \
             (for an integration's key, private_key takes the PEM text itself)"
        } else if broken {
            "is not a path: it contains a line break (pasted file content?); the value is not shown"
        } else {
            "is not a path: one of its components is longer than a file name can be (pasted file \
             content?); the value is not shown"
        }
        .to_string(),
    )
}

fn expand_with(path: &Path, dir: Option<std::ffi::OsString>) -> Result<PathBuf, String> {
    let Some(text) = path.to_str() else {
        return Ok(path.to_path_buf());
    };
    let pattern = ["${CREDENTIALS_DIRECTORY}", "$CREDENTIALS_DIRECTORY"]
        .into_iter()
        .find(|p| text.contains(p));
    let Some(pattern) = pattern else {
        return Ok(path.to_path_buf());
    };
    match dir
        .as_ref()
        .and_then(|d| d.to_str())
        .filter(|d| !d.is_empty())
    {
        Some(d) => Ok(PathBuf::from(text.replace(pattern, d))),
        None => Err(format!(
            "{text} uses ${{{CREDENTIALS_DIRECTORY}}}, which is not set: run under systemd with \
             LoadCredential= (or set CREDENTIALS_DIRECTORY to the directory that holds the file)"
        )),
    }
}

/// Read a file whose path may use `${CREDENTIALS_DIRECTORY}`.
pub fn read(path: &Path) -> Result<Vec<u8>, String> {
    let real = expand(path)?;
    if real.is_dir() {
        return Err(format!("{} is a directory, not a file", real.display()));
    }
    std::fs::read(&real).map_err(|e| format!("cannot read {}: {e}", real.display()))
}

/// [`read`] as trimmed text (a token file); an error when it is empty or not UTF-8.
pub fn read_token(path: &Path) -> Result<String, String> {
    let bytes = read(path)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("{} is not text", path.display()))?
        .trim()
        .to_string();
    if text.is_empty() {
        return Err(format!("{} is empty: put the token in it", path.display()));
    }
    Ok(text)
}

/// Warn, once per file, about every key or token file of `files` (`(key, path)`, the path as
/// configured) that its group or others may read (`mode & 0o077 != 0`): by key, path and mode,
/// never its content. Not refused: container platforms mount secrets 0644 by default. Returns
/// the files warned about, with their modes.
pub fn warn_readable_by_others(files: &[(String, PathBuf)]) -> Vec<(PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut warned: Vec<(PathBuf, u32)> = Vec::new();
    for (key, path) in files {
        let Ok(real) = expand(path) else { continue };
        // The file itself (a Kubernetes secret is a symlink into `..data`).
        let Ok(meta) = std::fs::metadata(&real) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 == 0 || warned.iter().any(|(p, _)| p == &real) {
            continue;
        }
        tracing::warn!(
            key = %key,
            path = %real.display(),
            mode = format!("{mode:04o}"),
            "a key or token file is readable by its group or others: restrict it \
             (chmod 600, owned by the collector's user); collection goes on"
        );
        warned.push((real, mode));
    }
    warned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_others_can_read_are_listed_once() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        let private = dir.path().join("private");
        for (p, mode) in [(&shared, 0o644), (&private, 0o600)] {
            std::fs::write(p, "SECRET-CONTENT").unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let files = vec![
            ("a".to_string(), shared.clone()),
            ("b".to_string(), private),
            ("c".to_string(), shared.clone()),
            ("d".to_string(), dir.path().join("missing")),
        ];
        assert_eq!(warn_readable_by_others(&files), vec![(shared, 0o644)]);
    }

    #[test]
    fn expands_the_credentials_directory() {
        let dir = Some("/run/credentials/x.service".into());
        let p = Path::new("${CREDENTIALS_DIRECTORY}/acme.pem");
        assert_eq!(
            expand_with(p, dir.clone()).unwrap(),
            Path::new("/run/credentials/x.service/acme.pem")
        );
        let p = Path::new("$CREDENTIALS_DIRECTORY/t");
        assert_eq!(
            expand_with(p, dir).unwrap(),
            Path::new("/run/credentials/x.service/t")
        );
        let plain = Path::new("/etc/docusign-collector/acme.pem");
        assert_eq!(expand_with(plain, None).unwrap(), plain);
        let e = expand_with(Path::new("${CREDENTIALS_DIRECTORY}/a"), None).unwrap_err();
        assert!(e.contains("LoadCredential"), "{e}");
    }

    #[test]
    fn pasted_content_is_refused_without_being_echoed() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAsecretbits\n-----END RSA PRIVATE KEY-----";
        for pasted in [
            pem.to_string(),
            pem.replace('\n', " "),
            "MIIEowIBAAKCAQEAsecretbits\nmore".to_string(),
            format!("/etc/{}", "A".repeat(300)),
        ] {
            let e = expand(Path::new(&pasted)).unwrap_err();
            assert!(!e.contains("secretbits") && !e.contains("AAAA"), "{e}");
            assert!(read(Path::new(&pasted)).is_err());
        }
        assert!(not_a_path(Path::new("/etc/docusign-collector/acme.pem")).is_none());
        assert!(not_a_path(Path::new("${CREDENTIALS_DIRECTORY}/acme.pem")).is_none());
    }
}
