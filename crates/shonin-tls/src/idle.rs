//! When a connection is idle: no request in flight, and none finished for a while.
//!
//! hyper closes an idle HTTP/1.1 connection through its header read timeout, but keeps an
//! HTTP/2 connection open for as long as the client answers keep-alive PINGs. The accept loop
//! asks [`Activity::idle_until`] and closes the connection with a GOAWAY once it has been idle
//! for the configured time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Requests in flight on one connection and when the last one ended.
#[derive(Debug)]
pub(crate) struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `opened` at which the last request ended (0: none yet).
    last_done_ms: AtomicU64,
}

/// Held while a request is being served; marks the end of the request when dropped.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let ms = u64::try_from(self.0.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.last_done_ms.store(ms, Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_done_ms: AtomicU64::new(0),
        }
    }

    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// `None` when the connection has been idle for `timeout` at `now`; otherwise the earliest
    /// time at which it can be.
    pub(crate) fn idle_until(&self, timeout: Duration, now: Instant) -> Option<Instant> {
        if self.in_flight() > 0 {
            return Some(now + timeout);
        }
        let last = self.opened + Duration::from_millis(self.last_done_ms.load(Ordering::Acquire));
        let at = last + timeout;
        (at > now).then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_counts_from_the_end_of_the_last_request() {
        let timeout = Duration::from_secs(30);
        let activity = Arc::new(Activity::new());
        let opened = Instant::now();
        assert_eq!(activity.idle_until(timeout, opened), Some(opened + timeout));
        assert_eq!(activity.idle_until(timeout, opened + timeout), None);

        tokio::time::advance(Duration::from_secs(20)).await;
        let request = activity.begin();
        tokio::time::advance(Duration::from_secs(40)).await;
        let now = Instant::now();
        assert_eq!(
            activity.idle_until(timeout, now),
            Some(now + timeout),
            "a request in flight is never idle"
        );
        drop(request);
        let ended = Instant::now();
        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(
            activity.idle_until(timeout, Instant::now()),
            Some(ended + timeout)
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(activity.idle_until(timeout, Instant::now()), None);
    }
}
