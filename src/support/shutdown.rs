//! The shutdown signal: one [`ShutdownTrigger`] fires it, any number of [`Shutdown`] clones
//! observe it. Streams check it between pages and abandon fetches (never deliveries) when it
//! fires, so a stop loses nothing.

use tokio::sync::watch;

/// A shutdown signal: cheap to clone, fires once.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// Fires the [`Shutdown`] signal.
pub struct ShutdownTrigger(watch::Sender<bool>);

impl Shutdown {
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger(tx), Shutdown(rx))
    }

    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the signal fires.
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                // Sender gone without firing: never resolves.
                std::future::pending::<()>().await;
            }
        }
    }
}

impl ShutdownTrigger {
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_sees_the_signal() {
        let (trigger, a) = Shutdown::new();
        let b = a.clone();
        assert!(!a.is_triggered());
        let waiter = tokio::spawn(async move { b.wait().await });
        trigger.fire();
        waiter.await.unwrap();
        assert!(a.is_triggered());
        a.wait().await;
    }
}
