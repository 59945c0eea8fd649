//! The `Date` field value (RFC 9110 §6.6.1, IMF-fixdate), formatted once per
//! second. The caller passes the time: this crate never reads a clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const DATE_VALUE_LEN: usize = 29;

/// Caches the `Date` value for the current second.
#[derive(Clone, Debug)]
pub struct DateCache {
    second: Option<u64>,
    value: [u8; DATE_VALUE_LEN],
}

impl Default for DateCache {
    fn default() -> Self {
        DateCache {
            second: None,
            value: [b' '; DATE_VALUE_LEN],
        }
    }
}

impl DateCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The IMF-fixdate for `now`, formatted only when the second changed.
    pub fn value(&mut self, now: SystemTime) -> &[u8; DATE_VALUE_LEN] {
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if self.second != Some(second) {
            let formatted = httpdate::fmt_http_date(now);
            // httpdate always writes the fixed 29-byte form for times after
            // the epoch; keep the previous value rather than panic otherwise.
            if let Ok(value) = <[u8; DATE_VALUE_LEN]>::try_from(formatted.as_bytes()) {
                self.value = value;
                self.second = Some(second);
            }
        }
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_imf_fixdate_and_caches_per_second() {
        let mut cache = DateCache::new();
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(cache.value(t), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            cache.value(t + Duration::from_millis(999)),
            b"Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            cache.value(t + Duration::from_secs(1)),
            b"Sun, 06 Nov 1994 08:49:38 GMT"
        );
    }
}
