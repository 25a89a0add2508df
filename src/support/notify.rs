//! systemd notifications (`Type=notify`): readiness, a one-line status, the watchdog, reloading
//! and stopping. Each call is a no-op when `NOTIFY_SOCKET` is unset (not run by systemd), and a
//! failure to notify is logged at debug level only: it never stops collection.

use sd_notify::NotifyState;
use std::time::Duration;

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::debug!("systemd notification failed: {e}");
    }
}

/// `READY=1`: state is open and the scheduler runs (also after a reload).
pub fn notify_ready() {
    send(&[NotifyState::Ready]);
}

/// `RELOADING=1` (with `MONOTONIC_USEC`, which `Type=notify-reload` needs): a reload begins;
/// follow it with [`notify_ready`].
pub fn notify_reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// `STOPPING=1`: shutdown has begun (SIGTERM or SIGINT).
pub fn notify_stopping() {
    send(&[NotifyState::Stopping]);
}

/// `STATUS=…`: a one-line summary for `systemctl status` (newlines become spaces).
pub fn notify_status(line: &str) {
    let line: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    send(&[NotifyState::Status(&line)]);
}

/// `WATCHDOG=1`: the scheduler loop is alive. Sent only when systemd asked for it.
pub fn notify_watchdog() {
    if watchdog_interval().is_some() {
        send(&[NotifyState::Watchdog]);
    }
}

/// How often to ping the watchdog: half of `WATCHDOG_USEC` when systemd set it for this process
/// (`WatchdogSec=`), else `None`. As libsystemd's `sd_watchdog_enabled`, a `WATCHDOG_PID` that
/// names another process turns it off; an absent one does not.
pub fn watchdog_interval() -> Option<Duration> {
    let var = |k: &str| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let usec = var("WATCHDOG_USEC").filter(|u| *u > 0)?;
    if var("WATCHDOG_PID").is_some_and(|pid| pid != u64::from(std::process::id())) {
        return None;
    }
    Some(Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_notify_socket_nothing_happens() {
        if std::env::var_os("NOTIFY_SOCKET").is_none() {
            notify_ready();
            notify_status("1 integration\nok");
            notify_watchdog();
            notify_reloading();
            notify_stopping();
        }
    }
}
