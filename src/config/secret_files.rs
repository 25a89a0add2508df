//! Every key and token file the configuration names (the start-up check of their modes).

use super::{Config, SinkConfig};
use std::path::PathBuf;

impl Config {
    /// `(key, path)` of every private key, token, seal key and password file, as configured.
    pub fn secret_files(&self) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        let mut add = |key: String, p: &Option<PathBuf>| {
            if let Some(p) = p {
                out.push((key, p.clone()));
            }
        };
        for (i, integ) in self.integrations.iter().enumerate() {
            add(
                format!("integrations[{i}].private_key_file"),
                &integ.private_key_file,
            );
        }
        if let Some(api) = &self.api {
            add("api.token_file".into(), &api.token_file);
            add("api.seal_key_file".into(), &api.seal_key_file);
            for (i, p) in api.previous_seal_key_files.iter().enumerate() {
                add(
                    format!("api.previous_seal_key_files[{i}]"),
                    &Some(p.clone()),
                );
            }
        }
        for (i, sink) in self.sinks.iter().enumerate() {
            if let SinkConfig::Http(h) = sink {
                add(format!("sinks[{i}].token_file"), &h.token_file);
            }
        }
        add("state_password_file".into(), &self.state_password_file);
        out
    }
}
