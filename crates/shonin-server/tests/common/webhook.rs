//! The operator's alert webhook, received in the test: a one-route HTTP/1.1 server, and the
//! check of the `Shonin-Signature` header.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

/// A one-route HTTP/1.1 receiver on 127.0.0.1: every request's head and body go to the channel.
pub async fn webhook_receiver() -> (u16, tokio::sync::mpsc::Receiver<(String, Vec<u8>)>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if buf.len() >= end + 4 + len {
                        let body = buf[end + 4..end + 4 + len].to_vec();
                        let _ = tx.send((head, body)).await;
                        let _ = sock
                            .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                            .await;
                        return;
                    }
                }
            });
        }
    });
    (port, rx)
}

/// A secret file for `[alerts]` holding `secret`, beside the keyring: the settings that send
/// alerts to the receiver on `port`.
pub fn alerts_to(c: &mut shonin_server::config::Config, port: u16, secret: &str) {
    let file = c.keys.keyring.with_file_name("alerts.secret");
    std::fs::write(&file, format!("{secret}\n")).unwrap();
    c.alerts.webhook_url = Some(format!("http://127.0.0.1:{port}/hooks/shonin"));
    c.alerts.webhook_secret_file = Some(file);
}

/// The next alert within 10 s: checks that it is a POST to the configured path, signed with
/// `secret` over `t` and the body (`Shonin-Signature`), and returns the body as JSON.
pub async fn next_signed_alert(
    hooks: &mut tokio::sync::mpsc::Receiver<(String, Vec<u8>)>,
    secret: &str,
) -> serde_json::Value {
    let (head, body) = tokio::time::timeout(std::time::Duration::from_secs(10), hooks.recv())
        .await
        .expect("an alert within 10 s")
        .unwrap();
    assert!(head.starts_with("post /hooks/shonin "), "{head}");
    let sig = head
        .lines()
        .find_map(|l| l.strip_prefix("shonin-signature:"))
        .unwrap()
        .trim()
        .to_owned();
    let (t, v1) = sig.split_once(",v1=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(&body);
    let want: String = aws_lc_rs::hmac::sign(&key, &signed)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, want, "the signature covers t and the body");
    serde_json::from_slice(&body).unwrap()
}

/// No alert arrives within `ms` milliseconds.
pub async fn no_alert_within(
    hooks: &mut tokio::sync::mpsc::Receiver<(String, Vec<u8>)>,
    ms: u64,
) -> bool {
    tokio::time::timeout(std::time::Duration::from_millis(ms), hooks.recv())
        .await
        .is_err()
}

/// Waits up to 20 s (a loaded CI machine) for the audit entry of a delivered alert on `target`;
/// its reason.
pub async fn delivery_audited(app: &super::TestApp, target: &str) -> Option<String> {
    for _ in 0..200 {
        let found = app.audit_entries().await.into_iter().find(|e| {
            e.record.action == "alert.webhook"
                && e.record.outcome == shonin_audit::Outcome::Success
                && e.record.target == target
        });
        if let Some(e) = found {
            return e.record.reason;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    None
}
