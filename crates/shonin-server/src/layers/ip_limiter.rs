//! The per-IP limiter itself (GCRA via governor), held in the application state; the layer that
//! answers 429 is `rate_limit`.

use crate::config::RateLimitConfig;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// Keyed by client IP; `None` when switched off.
#[derive(Clone, Debug)]
pub struct IpRateLimiter {
    limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
}

impl IpRateLimiter {
    pub fn new(cfg: &RateLimitConfig) -> Self {
        let limiter = NonZeroU32::new(cfg.per_ip_per_second).map(|rate| {
            let burst = NonZeroU32::new(cfg.burst).unwrap_or(rate);
            Arc::new(RateLimiter::keyed(
                Quota::per_second(rate).allow_burst(burst),
            ))
        });
        Self { limiter }
    }

    /// `Err(wait)` when `ip` is over its limit.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        match &self.limiter {
            None => Ok(()),
            Some(l) => l
                .check_key(&ip)
                .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now())),
        }
    }

    /// Forgets idle keys so memory stays bounded; called periodically.
    pub fn shrink(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}
