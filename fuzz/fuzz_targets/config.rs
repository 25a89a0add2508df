//! The configuration loader: TOML text, then optionally a line `#ENV` and `NAME=value` lines
//! (environment overrides). Never a panic: the answer is a configuration or an error naming a key.
//! Inputs naming /dev, /proc or /sys are skipped: validation reads the files a configuration
//! names, and reading /dev/zero never ends (an operator's choice, not outside input).
#![no_main]

use docusign_collector::config::load_str_with_env;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if ["/dev", "/proc", "/sys"].iter().any(|p| input.contains(p)) {
        return;
    }
    let (toml, env) = match input.split_once("\n#ENV\n") {
        Some((t, e)) => (t, e),
        None => (input, ""),
    };
    let env: Vec<(String, String)> = env
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Err(e) = load_str_with_env(toml, "fuzz.toml", None, env) {
        assert!(!e.to_string().is_empty());
    }
});
