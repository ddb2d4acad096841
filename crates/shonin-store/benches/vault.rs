//! `cargo bench -p shonin-store --bench vault`: card vault operations per second with the
//! key-encryption key local (derived from the master key) and in SoftHSM2, in one run, over a
//! real SQLite database (and PostgreSQL when `SHONIN_TEST_POSTGRES_URL` is set); then ES256
//! signatures per second with a local key and with a SoftHSM2 key — the signature every token
//! response carries. 16 operations in flight; each phase runs 3 s after a 1 s warm-up. What is
//! not in these figures: HTTP, TLS, the access token's verification and the audit entry of the
//! API (`routes/vault.rs`), which the load generator does not drive yet.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use secrecy::SecretString;
use shonin_keys::{
    KeyEncryptionKey, KeyPurpose, LocalKek, LocalMacKey, LocalSigner, MasterKey, Signer,
};
use shonin_keys_pkcs11::{Hsm, HsmSettings};
use shonin_store::Store;
use shonin_store::testing::TestDb;
use shonin_vault::{
    CardInput, Staged, Unsettled, Vault, VaultError, VaultSettings, VaultStore, settle,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

const IN_FLIGHT: usize = 16;
const WARM: Duration = Duration::from_secs(1);
const RUN: Duration = Duration::from_secs(3);

/// A Luhn-valid 16-digit number from `n`.
fn pan(n: u64) -> String {
    let body = format!("4{:014}", n % 100_000_000_000_000);
    let digits: Vec<u32> = body.chars().map(|c| c.to_digit(10).unwrap()).collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// Runs `op(i)` with `IN_FLIGHT` in flight for WARM + RUN and returns completions per second
/// during RUN.
async fn rate<F, Fut>(op: F) -> f64
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let counter = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (op, counter, done) = (op.clone(), counter.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while start.elapsed() < WARM + RUN {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                op(i).await;
                if start.elapsed() >= WARM {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / RUN.as_secs_f64()
}

/// Commits what the vault staged as a request's unit of work would be committed (through the
/// group-commit writer; a request adds its audit entry, which this bench leaves out).
async fn commit<T, SF>(store: &Store, stage: impl FnMut() -> SF) -> T
where
    SF: Future<Output = Result<Staged<T>, VaultError>>,
{
    match settle(stage, |unit, _: &T| store.write_vault_unit(unit)).await {
        Ok(value) => value,
        Err(Unsettled::Vault(e)) => panic!("{e}"),
        Err(Unsettled::Commit(e)) => panic!("{e}"),
        Err(Unsettled::Replayed { claim }) => panic!("claim {claim}"),
    }
}

async fn vault_rates(label: &str, store: Store, keks: Vec<Arc<dyn KeyEncryptionKey>>) {
    let master = MasterKey::generate().unwrap();
    let vault = Arc::new(Vault::new(
        store.clone(),
        Arc::new(LocalMacKey::derived(&master, KeyPurpose::CardFingerprint)),
        VaultSettings {
            card_retention: time::Duration::days(365),
            nonce_ttl: time::Duration::minutes(10),
            cvv_hold: time::Duration::minutes(15),
            nonces_per_client_token: 10,
        },
    ));
    let keks = Arc::new(keks);
    let now = OffsetDateTime::now_utc();
    let tokens = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (v, k, t, s) = (vault.clone(), keks.clone(), tokens.clone(), store.clone());
    let tokenize = rate(move |i| {
        let (v, k, t, s) = (v.clone(), k.clone(), t.clone(), s.clone());
        async move {
            let input = CardInput {
                pan: pan(i),
                exp_month: 12,
                exp_year: 2030,
                name: None,
                cvv: None,
            };
            let done = commit(&s, || v.tokenize(&k, "bench", &input, now)).await;
            t.lock().unwrap().push(done.view.token);
        }
    })
    .await;
    let tokens = Arc::new(tokens.lock().unwrap().clone());
    let (v, k, t, s) = (vault.clone(), keks.clone(), tokens.clone(), store.clone());
    let detokenize = rate(move |i| {
        let (v, k, t, s) = (v.clone(), k.clone(), t.clone(), s.clone());
        async move {
            let token = &t[usize::try_from(i).unwrap() % t.len()];
            commit(&s, || v.detokenize(&k, "bench", token, now)).await;
        }
    })
    .await;
    // Client-side tokenization, whole: the client token's budget row, the page's post (nonce
    // issued, card and CVV sealed, the budget spent by one) and the merchant's exchange (nonce
    // taken, card tokenized, CVV held), each its own unit.
    let (v, k, s) = (vault.clone(), keks.clone(), store.clone());
    let nonce_flow = rate(move |i| {
        let (v, k, s) = (v.clone(), k.clone(), s.clone());
        async move {
            let input = CardInput {
                pan: pan(i + 1_000_000),
                exp_month: 12,
                exp_year: 2030,
                name: None,
                cvv: Some("123".into()),
            };
            let id = format!("ct_bench_{i}");
            let budget = v.register_client_token("bench", &id, now + time::Duration::hours(1));
            s.write_vault_unit(budget).await.unwrap();
            let issued = commit(&s, || v.issue_nonce(&k, "bench", &id, &input, now)).await;
            commit(&s, || {
                v.exchange_nonce(&k, "bench", issued.nonce.as_str(), now)
            })
            .await;
        }
    })
    .await;
    println!("{label:<34} {tokenize:>12.0} {detokenize:>14.0} {nonce_flow:>18.0}");
}

async fn sign_rate(label: &str, signer: Arc<dyn Signer>) {
    let s = signer.clone();
    let r = rate(move |_| {
        let s = s.clone();
        async move {
            s.sign(b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9")
                .await
                .unwrap();
        }
    })
    .await;
    println!("{label:<34} {r:>12.0}");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let t = shonin_testkit::softhsm::token().expect("a SoftHSM2 token (apt-get install softhsm2)");
    let settings = HsmSettings {
        module: t.module,
        token_label: t.token_label,
        pin: SecretString::from(shonin_testkit::softhsm::PIN),
        signing_key_label: Some("bench-signing".into()),
        kek_label: Some("bench-kek".into()),
        mac_key_label: None,
        sessions: 2,
        serialize_calls: true,
    };
    let hsm = Hsm::open_for_setup(settings).unwrap();
    hsm.generate_signing_key(1_800_000_000).unwrap();
    hsm.generate_kek(1_800_000_000).unwrap();
    let master = MasterKey::generate().unwrap();
    let local: Vec<Arc<dyn KeyEncryptionKey>> = vec![Arc::new(LocalKek::derived(&master, 1))];
    let in_hsm: Vec<Arc<dyn KeyEncryptionKey>> = vec![hsm.current_kek().unwrap()];

    println!(
        "{} in flight, {} s per figure, 2 runtime threads",
        IN_FLIGHT,
        RUN.as_secs()
    );
    println!(
        "{:<34} {:>12} {:>14} {:>18}",
        "vault", "tokenize/s", "detokenize/s", "nonce+exchange/s"
    );
    let mut engines = vec![(
        "sqlite",
        TestDb::sqlite().await.unwrap(),
        TestDb::sqlite().await.unwrap(),
    )];
    if std::env::var("SHONIN_TEST_POSTGRES_URL").is_ok() {
        engines.push((
            "postgres",
            TestDb::postgres().await.unwrap(),
            TestDb::postgres().await.unwrap(),
        ));
    }
    for (engine, a, b) in &engines {
        vault_rates(
            &format!("{engine}, local KEK"),
            a.store().clone(),
            local.clone(),
        )
        .await;
        vault_rates(
            &format!("{engine}, SoftHSM2 KEK"),
            b.store().clone(),
            in_hsm.clone(),
        )
        .await;
    }
    println!("{:<34} {:>12}", "ES256 signatures", "per second");
    let local_signer: Arc<dyn Signer> =
        Arc::new(LocalSigner::generate(shonin_jose::Alg::ES256).unwrap());
    sign_rate("local key (aws-lc-rs)", local_signer).await;
    sign_rate("SoftHSM2 key (CKM_ECDSA)", hsm.current_signer().unwrap()).await;
    for (_, a, b) in engines {
        a.destroy().await.unwrap();
        b.destroy().await.unwrap();
    }
}
