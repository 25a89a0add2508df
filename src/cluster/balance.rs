//! What one replica should hold: pure arithmetic, so it is tested without a database.

/// Each live replica's fair share of `integrations`: ⌈integrations ÷ live⌉, so the shares cover
/// every integration even when they do not divide evenly.
pub fn fair_share(integrations: usize, live: usize) -> usize {
    integrations.div_ceil(live.max(1))
}

/// The change a replica makes this round: how many leases to claim, and which of `held` to give
/// up (beyond the share, or no longer known). `held` and `known` are sorted names.
pub fn plan(held: &[String], known: &[String], live: usize) -> Plan {
    let share = fair_share(known.len(), live);
    let mut release: Vec<String> = held
        .iter()
        .filter(|h| known.binary_search(h).is_err())
        .cloned()
        .collect();
    let kept: Vec<&String> = held
        .iter()
        .filter(|h| known.binary_search(h).is_ok())
        .collect();
    if kept.len() > share {
        // The last names go: replicas agree on nothing here, and need not.
        release.extend(kept[share..].iter().map(|s| s.to_string()));
    }
    let claim = share.saturating_sub(kept.len().min(share));
    Plan {
        share,
        claim,
        release,
    }
}

/// See [`plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub share: usize,
    /// Leases to try to claim (free or expired ones only).
    pub claim: usize,
    /// Leases to stop and release.
    pub release: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(r: std::ops::Range<usize>) -> Vec<String> {
        let mut v: Vec<String> = r.map(|i| format!("i{i:03}")).collect();
        v.sort();
        v
    }

    #[test]
    fn shares_cover_every_integration() {
        assert_eq!(fair_share(30, 3), 10);
        assert_eq!(fair_share(31, 3), 11);
        assert_eq!(fair_share(2, 3), 1);
        assert_eq!(fair_share(0, 3), 0);
        assert_eq!(fair_share(10, 0), 10, "the caller counts as live");
        for n in 0..200 {
            for live in 1..12 {
                assert!(fair_share(n, live) * live >= n);
                assert!(fair_share(n, live) * live < n + live);
            }
        }
    }

    #[test]
    fn a_replica_alone_claims_everything_and_gives_back_when_others_join() {
        let known = names(0..30);
        let p = plan(&[], &known, 1);
        assert_eq!((p.share, p.claim), (30, 30));
        assert!(p.release.is_empty());
        // Two more join: keep ten, release twenty.
        let p = plan(&known, &known, 3);
        assert_eq!((p.share, p.claim), (10, 0));
        assert_eq!(p.release.len(), 20);
        assert_eq!(p.release, known[10..].to_vec());
        // One of three died: claim up to fifteen.
        let p = plan(&known[..10], &known, 2);
        assert_eq!((p.share, p.claim), (15, 5));
        assert!(p.release.is_empty());
    }

    #[test]
    fn integrations_removed_from_the_configuration_are_released() {
        let known = names(0..4);
        let held = vec!["gone".to_string(), known[0].clone()];
        let p = plan(&held, &known, 2);
        assert_eq!(p.release, vec!["gone".to_string()]);
        assert_eq!(p.claim, 1);
    }
}
