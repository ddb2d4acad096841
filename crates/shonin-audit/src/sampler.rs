//! Sampling of repeated security rejections: a flood of the same refusal from one address must
//! not turn the audit log into its amplifier, yet none may go unrecorded. The first event of a
//! kind from an address is written at once; the next ones within a minute are counted, and the
//! count goes into the next entry written for that kind and address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long after an entry the same kind from the same address is only counted.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Above this many (kind, address) keys, the ones whose window is over are forgotten; if that is
/// not enough, events from new keys are counted in `shonin_audit_sampler_overflow_total` only.
const MAX_KEYS: usize = 100_000;

/// What the caller writes for one admitted event: how many events of the same kind from the same
/// address were counted and not written since the last entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitted {
    pub suppressed: u64,
}

impl Admitted {
    /// The entry's reason, with the suppressed count when there is one.
    pub fn reason(&self, reason: &str) -> String {
        match self.suppressed {
            0 => reason.to_owned(),
            n => format!("{reason} ({n} more from this address in the previous minute)"),
        }
    }
}

#[derive(Debug, Default)]
pub struct AuditSampler {
    keys: Mutex<HashMap<(&'static str, IpAddr), Slot>>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    written_at: Instant,
    suppressed: u64,
}

impl AuditSampler {
    /// `Some` when an entry is to be written for this event now.
    pub fn admit(&self, kind: &'static str, ip: IpAddr, now: Instant) -> Option<Admitted> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = keys.get_mut(&(kind, ip)) {
            if now.saturating_duration_since(slot.written_at) < WINDOW {
                slot.suppressed = slot.suppressed.saturating_add(1);
                return None;
            }
            let admitted = Admitted {
                suppressed: slot.suppressed,
            };
            *slot = Slot {
                written_at: now,
                suppressed: 0,
            };
            return Some(admitted);
        }
        if keys.len() >= MAX_KEYS {
            keys.retain(|_, s| now.saturating_duration_since(s.written_at) < WINDOW);
            if keys.len() >= MAX_KEYS {
                metrics::counter!("shonin_audit_sampler_overflow_total", "kind" => kind)
                    .increment(1);
                return None;
            }
        }
        keys.insert(
            (kind, ip),
            Slot {
                written_at: now,
                suppressed: 0,
            },
        );
        Some(Admitted { suppressed: 0 })
    }

    /// Forgets keys whose window is over and that counted nothing since; called periodically.
    /// (A key with a count is kept so its count reaches the next entry.)
    pub fn shrink(&self, now: Instant) {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.retain(|_, s| {
            now.saturating_duration_since(s.written_at) < WINDOW || s.suppressed > 0
        });
        keys.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_event_is_written_then_counted_until_the_window_ends() {
        let s = AuditSampler::default();
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let other: IpAddr = "203.0.113.8".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(s.admit("a", ip, t0), Some(Admitted { suppressed: 0 }));
        for i in 1..=5 {
            assert_eq!(s.admit("a", ip, t0 + Duration::from_secs(i)), None);
        }
        // Other kinds and other addresses have their own windows.
        assert!(s.admit("b", ip, t0).is_some());
        assert!(s.admit("a", other, t0).is_some());
        let later = t0 + WINDOW;
        let admitted = s.admit("a", ip, later).unwrap();
        assert_eq!(admitted.suppressed, 5);
        assert_eq!(
            admitted.reason("spoofed"),
            "spoofed (5 more from this address in the previous minute)"
        );
        assert_eq!(s.admit("a", ip, later), None);
    }

    #[test]
    fn shrink_keeps_counts_that_have_not_been_written() {
        let s = AuditSampler::default();
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        let quiet: IpAddr = "198.51.100.2".parse().unwrap();
        let t0 = Instant::now();
        s.admit("a", ip, t0);
        s.admit("a", ip, t0);
        s.admit("a", quiet, t0);
        s.shrink(t0 + WINDOW);
        assert_eq!(s.keys.lock().unwrap().len(), 1);
        assert_eq!(s.admit("a", ip, t0 + WINDOW).unwrap().suppressed, 1);
    }
}
