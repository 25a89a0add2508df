//! `test`: for each integration, get a token, call userinfo, make one call to each enabled
//! API, and print each step's outcome; exit 1 when any failed. The probe itself is
//! [`probe::test_integration`] (the local API runs it too).

use crate::app::setup::{exit_code, load_config, load_registry, open_state, select, Failure};
use crate::integrations::probe::{self, Step};
use std::path::Path;
use std::process::ExitCode;

pub async fn run(config: Option<&Path>, integration: Option<&str>) -> Result<ExitCode, Failure> {
    let cfg = load_config(config)?;
    let state = open_state(&cfg)?;
    let registry = load_registry(&cfg, &state)?;
    let mut ok = true;
    for i in select(&registry, integration)? {
        let steps = probe::test_integration(&i).await;
        ok &= print_steps(i.name(), &steps);
    }
    Ok(exit_code(ok))
}

/// Print `test` steps, one line each; true when all succeeded.
fn print_steps(integration: &str, steps: &[Step]) -> bool {
    for s in steps {
        println!(
            "{integration}: {:<10} {:<7} {}",
            s.step,
            if s.ok { "OK" } else { "FAILED" },
            s.message
        );
    }
    steps.iter().all(|s| s.ok)
}
