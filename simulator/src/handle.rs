//! [`SimHandle`]: a running simulator and its knobs.

use crate::core::{self, Sim};
use crate::knobs::{AdminNext, Api, EsignDateFormat};
use crate::{Faults, RateLimit, SimConfig, SimStats};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A running simulator. Dropping it stops the server.
pub struct SimHandle {
    sim: Arc<Sim>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl SimHandle {
    /// Start the simulator on `listen` (use port 0 for any free port).
    pub async fn start(config: SimConfig, listen: SocketAddr) -> std::io::Result<SimHandle> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let mut addr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let live = config.live_events_per_sec;
        let sim = Arc::new(Sim::new(config, format!("http://{addr}")));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new()
            .fallback(crate::http::handle)
            .with_state(sim.clone());
        let server = tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "simulator server stopped");
            }
        });
        let mut tasks = vec![server];
        if live > 0.0 && live.is_finite() {
            tasks.push(tokio::spawn(core::live_events(sim.clone(), live)));
        }
        Ok(SimHandle {
            sim,
            addr,
            stop: Some(tx),
            tasks,
        })
    }
    /// `http://127.0.0.1:PORT`: the OAuth, Monitor and eSignature base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// `{base_url}/management`: the Admin API base URL.
    pub fn admin_url(&self) -> String {
        format!("{}/management", self.base_url())
    }
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    /// The aud claim the OAuth endpoint expects (`127.0.0.1:PORT`; `localhost:PORT` works too).
    pub fn audience(&self) -> String {
        self.addr.to_string()
    }
    /// Append `n` new customer events (ingested now).
    pub fn append_events(&self, n: usize) {
        self.sim.append_events(n);
    }
    /// Number of customer events held (backlog plus appended).
    pub fn event_count(&self) -> usize {
        self.sim.event_count()
    }
    /// Every event id, in ingestion order (the order the stream serves them).
    pub fn event_ids(&self) -> Vec<String> {
        self.sim.event_ids()
    }
    /// Set `n` users' modification time to now (rotating through users); returns their ids.
    pub fn modify_users(&self, n: usize) -> Vec<String> {
        self.sim.modify_users(n)
    }
    /// Add `n` users created and modified now; returns their ids.
    pub fn add_users(&self, n: usize) -> Vec<String> {
        self.sim.add_users(n)
    }
    /// Number of Admin users.
    pub fn user_count(&self) -> usize {
        self.sim.user_count()
    }
    /// Every Admin user id, in the order the Admin API lists them.
    pub fn user_ids(&self) -> Vec<String> {
        self.sim.user_ids()
    }
    /// Ids of the users eSignature does not know (see [`SimHandle::esign_forget_users`]).
    pub fn esign_unknown_user_ids(&self) -> Vec<String> {
        self.sim.esign_unknown_user_ids()
    }
    /// From now on eSignature does not know these users (ids compared case-insensitively; unknown
    /// ids are ignored): the single user answers the unknown-user status with
    /// `USER_DOES_NOT_EXIST_IN_SYSTEM`, Users:list leaves them out. Returns how many were found.
    pub fn esign_forget_users<S: AsRef<str>>(&self, ids: &[S]) -> usize {
        let ids: Vec<&str> = ids.iter().map(AsRef::as_ref).collect();
        self.sim.esign_forget(&ids)
    }
    /// eSignature forgets the last `n` users (the most recently created); returns their ids.
    pub fn esign_forget_last(&self, n: usize) -> Vec<String> {
        self.sim.esign_forget_last(n)
    }
    /// eSignature knows every user again.
    pub fn esign_know_all(&self) {
        self.sim.esign_know_all();
    }
    /// The status for a user eSignature does not know: 400 (the spec, default) or e.g. 404.
    pub fn set_esign_unknown_status(&self, status: u16) {
        self.sim.knob(|k| k.esign_unknown_status = status);
    }
    /// Seconds added to the true (UTC) modification time in `modifiedDate` (`-8 * 3600`: 8 h behind).
    pub fn set_esign_clock_offset(&self, secs: i64) {
        self.sim.knob(|k| k.esign_clock_offset = secs);
    }
    /// The form of `modifiedDate`.
    pub fn set_esign_date_format(&self, format: EsignDateFormat) {
        self.sim.knob(|k| k.esign_date_format = format);
    }
    /// Users:list leaves out `n` more users (spread over the listing) that eSignature still knows
    /// singly; returns their ids.
    pub fn omit_from_esign_list(&self, n: usize) -> Vec<String> {
        self.sim.mark_list_users(n, crate::users::ListMark::Omitted)
    }
    /// Users:list gives `n` more users (spread over the listing) without `userSettings.modifiedDate`;
    /// returns their ids.
    pub fn undate_in_esign_list(&self, n: usize) -> Vec<String> {
        self.sim.mark_list_users(n, crate::users::ListMark::Undated)
    }
    /// Ids of the users Users:list leaves out.
    pub fn esign_list_omitted_ids(&self) -> Vec<String> {
        self.sim.list_marked_ids(crate::users::ListMark::Omitted)
    }
    /// Ids of the users Users:list gives without `modifiedDate`.
    pub fn esign_list_undated_ids(&self) -> Vec<String> {
        self.sim.list_marked_ids(crate::users::ListMark::Undated)
    }
    /// What Admin pages say in `paging.next`.
    pub fn set_admin_next(&self, next: AdminNext) {
        self.sim.knob(|k| k.admin_next = next);
    }
    /// Draw a new Admin listing order now: the same page URL then holds other users.
    pub fn reshuffle_admin(&self) {
        self.sim.reshuffle_admin();
    }
    /// Draw a new Admin listing order before every Admin request (`false`: keep the order).
    pub fn set_admin_shuffle_each_request(&self, on: bool) {
        self.sim.knob(|k| k.admin_shuffle_each_request = on);
    }
    /// The `base_uri` userinfo gives every account: any string (also one that is not a URL);
    /// `None` restores the simulator's own URL.
    pub fn set_base_uri(&self, base_uri: Option<&str>) {
        let v = base_uri.map(str::to_string);
        self.sim.knob(|k| k.base_uri = v);
    }
    /// The next `n` answers of `api` are a 200 whose body is `body` (e.g. `<html>…` or
    /// `{"unexpected":true}`), sent as `text/html` when it starts with `<`, else as JSON.
    pub fn garble_next(&self, api: Api, n: usize, body: &str) {
        self.sim.limits.garble_next(api, n, body);
    }
    /// The next `n` answers of `api` carry `headers` (rate-limit headers only: see
    /// [`crate::knobs::OVERLAY_HEADERS`]; they replace the simulator's own) and, with `status`,
    /// are that error instead of the real answer. `Err` names a header or status it refuses.
    pub fn headers_next(
        &self,
        api: Api,
        n: usize,
        status: Option<u16>,
        headers: &[(&str, &str)],
    ) -> Result<(), String> {
        let overlay = crate::knobs::Overlay::new(status, headers)?;
        self.sim.limits.headers_next(api, n, overlay);
        Ok(())
    }
    /// The next `n` requests of `api` fail with `status` (before any `fail_next` of every API).
    pub fn fail_next_on(&self, api: Api, n: usize, status: u16) {
        self.sim.limits.fail_next_on(api, n, status);
    }
    /// Replace the consented scopes of a client (`integration_key`).
    pub fn set_consent(&self, integration_key: &str, scopes: &[&str]) {
        self.sim.set_consent(
            integration_key,
            scopes.iter().map(|s| s.to_string()).collect(),
        );
    }
    /// Every token issued so far answers 401 from now on.
    pub fn revoke_tokens(&self) {
        self.sim.revoke_tokens();
    }
    /// Set or clear the rate limit (counts every non-OAuth API call).
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.sim.set_rate_limit(limit);
    }
    /// Set the random faults on data endpoints.
    pub fn set_faults(&self, faults: Faults) {
        self.sim.set_faults(faults);
    }
    /// The next `n` data requests answer only after `delay` (slow answers, timeouts).
    pub fn delay_next(&self, n: usize, delay: Duration) {
        self.sim.delay_next(n, delay);
    }
    /// The next `n` data requests (any data API) fail with `status`.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.sim.fail_next(n, status);
    }
    /// A snapshot of the counters.
    pub fn stats(&self) -> SimStats {
        self.sim.stats()
    }
    /// Stop the server and the live-event task.
    pub fn shutdown(mut self) {
        self.stop_all();
    }
    fn stop_all(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop_all();
    }
}
