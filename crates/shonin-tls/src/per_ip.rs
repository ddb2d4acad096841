//! Open connections per client IP, so that one host cannot take every connection slot.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Counts open connections by peer IP against a cap.
#[derive(Debug, Clone)]
pub(crate) struct PerIp {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cap: usize,
    exempt: Arc<[IpAddr]>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection of an IP; gives its place back when dropped.
#[derive(Debug)]
pub(crate) struct PerIpSlot {
    owner: Option<(Arc<Inner>, IpAddr)>,
}

impl PerIp {
    pub(crate) fn new(cap: usize, exempt: Arc<[IpAddr]>) -> Self {
        Self {
            inner: Arc::new(Inner {
                cap,
                exempt,
                open: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A slot for one more connection from `ip`, or `None` when it has `cap` open already.
    pub(crate) fn claim(&self, ip: IpAddr) -> Option<PerIpSlot> {
        let ip = canonical(ip);
        if self.inner.exempt.iter().any(|e| canonical(*e) == ip) {
            return Some(PerIpSlot { owner: None });
        }
        let mut open = self
            .inner
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= self.inner.cap {
            return None;
        }
        *count += 1;
        Some(PerIpSlot {
            owner: Some((self.inner.clone(), ip)),
        })
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.inner.open.lock().unwrap().len()
    }
}

impl Drop for PerIpSlot {
    fn drop(&mut self) {
        let Some((inner, ip)) = self.owner.take() else {
            return;
        };
        let mut open = inner.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                // Only IPs with open connections are kept: memory follows max_connections.
                open.remove(&ip);
            }
        }
    }
}

/// An IPv4 client on a dual-stack socket arrives as `::ffff:a.b.c.d`; count it as `a.b.c.d`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn each_ip_gets_cap_slots_and_a_closed_one_is_given_back() {
        let per_ip = PerIp::new(2, Arc::from([]));
        let a1 = per_ip.claim(A).unwrap();
        let _a2 = per_ip.claim(A).unwrap();
        assert!(per_ip.claim(A).is_none());
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert!(
            per_ip.claim(mapped).is_none(),
            "mapped IPv4 is the same client"
        );
        let _b = per_ip.claim(B).expect("another IP is not affected");
        drop(a1);
        let _a3 = per_ip.claim(A).expect("a closed connection frees its slot");
    }

    #[test]
    fn exempt_peers_have_no_cap_and_idle_ips_are_forgotten() {
        let per_ip = PerIp::new(1, Arc::from([A]));
        let slots: Vec<_> = (0..10).map(|_| per_ip.claim(A).unwrap()).collect();
        assert_eq!(per_ip.tracked(), 0);
        let b = per_ip.claim(B).unwrap();
        assert_eq!(per_ip.tracked(), 1);
        drop(b);
        drop(slots);
        assert_eq!(per_ip.tracked(), 0);
    }
}
