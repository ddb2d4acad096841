//! A real listener over the complete application: dev PKI, `shonin_tls::serve` with exactly the
//! limits `shonin serve` derives from the configuration.

use crate::common::TestApp;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use shonin_server::config::Config;
use shonin_tls::{ClientCertMode, dev_pki};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;

pub struct Live {
    pub app: TestApp,
    pub addr: SocketAddr,
    ca: Vec<u8>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Live {
    pub async fn start(tweak: impl FnOnce(&mut Config)) -> Live {
        // Connections a test still holds must not keep `stop` waiting for 30 s.
        let app = TestApp::with(|c| {
            c.server.shutdown_grace_secs = 2;
            tweak(c);
        })
        .await;
        let (pki, _) = dev_pki::ensure(&app.path("live-tls")).unwrap();
        let config =
            shonin_tls::server_config(&pki.server_cert, &pki.server_key, ClientCertMode::None)
                .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = shonin_server::runtime::serve_limits(&app.state);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(shonin_tls::serve(
            listener,
            Some(config),
            app.router.clone(),
            limits,
            async move {
                let _ = stopped.await;
            },
        ));
        Live {
            ca: std::fs::read(&pki.ca_cert).unwrap(),
            app,
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A TCP connection to the listener from `local` (any 127.0.0.0/8 address on Linux).
    pub async fn tcp_from(&self, local: IpAddr) -> std::io::Result<TcpStream> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(local, 0))?;
        socket.connect(self.addr).await
    }

    /// A TLS connection offering only `alpn`, trusting only the dev CA.
    pub async fn tls(&self, alpn: &[u8]) -> TlsStream<TcpStream> {
        self.tls_from(IpAddr::from([127, 0, 0, 1]), alpn)
            .await
            .expect("TLS connection")
    }

    pub async fn tls_from(
        &self,
        local: IpAddr,
        alpn: &[u8],
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(&self.ca).unwrap())
            .unwrap();
        let mut config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![alpn.to_vec()];
        let tcp = self.tcp_from(local).await?;
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
    }

    /// An HTTPS client trusting the dev CA, connecting from `local`.
    pub fn client_from(&self, local: IpAddr) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&self.ca).unwrap()])
            .resolve("localhost", self.addr)
            .local_address(local)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("serve() returns after shutdown")
            .unwrap()
            .unwrap();
    }
}

/// Reads (and discards) until the server closes the connection; how long that took, or `None`
/// when it was still open after `limit`.
pub async fn closed_within<S: tokio::io::AsyncRead + Unpin>(
    mut stream: S,
    limit: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    })
    .await
    .ok()
    .map(|()| start.elapsed())
}
