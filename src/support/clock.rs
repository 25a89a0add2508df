//! The one wall clock: Unix seconds. Everything that stamps or compares times (token expiry,
//! cursors, run history, `_time` fallbacks) reads it here.

/// Now, in Unix seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_is_after_2024() {
        assert!(super::now_unix() > 1_704_067_200);
    }
}
