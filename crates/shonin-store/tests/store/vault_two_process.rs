//! A payment nonce is single use across processes, not just across tasks: the parent issues
//! nonces, two child processes (this test binary again, `nonce_exchange_child`) exchange every
//! one of them at the same time on their own connection pools, and each nonce is won by exactly
//! one of them. On SQLite (one file, two processes) and PostgreSQL. Each exchange is the unit of
//! work a request commits: the nonce's deletion with the card it stores.

use crate::vault::commit_alone;
use shonin_keys::{KeyEncryptionKey, KeyPurpose, LocalKek, LocalMacKey, MasterKey};
use shonin_store::testing::{TestEngine, raw_count, with_fresh_db};
use shonin_store::{Store, StoreOptions};
use shonin_vault::{CardInput, Vault, VaultError, VaultSettings, VaultStore};
use std::collections::BTreeMap;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// Set only for the child processes.
const CHILD_URL_ENV: &str = "SHONIN_NONCE_CHILD_URL";
const CHILD_MASTER_ENV: &str = "SHONIN_NONCE_CHILD_MASTER";
const CHILD_NONCES_ENV: &str = "SHONIN_NONCE_CHILD_NONCES";
const CHILD_TEST: &str = "vault_two_process::nonce_exchange_child";
const NONCES: u8 = 40;
const TENANT: &str = "shop";

fn vault(store: Store, master: &MasterKey) -> Vault<Store> {
    Vault::new(
        store,
        Arc::new(LocalMacKey::derived(master, KeyPurpose::CardFingerprint)),
        VaultSettings {
            card_retention: Duration::days(30),
            nonce_ttl: Duration::minutes(10),
            cvv_hold: Duration::minutes(15),
            nonces_per_client_token: u32::from(NONCES),
        },
    )
}

/// A Luhn-valid Visa number for `n`: the check digit `Pan::parse` accepts.
fn pan(n: u8) -> String {
    let body = format!("4111110000{n:05}");
    (0..10)
        .map(|d| format!("{body}{d}"))
        .find(|p| shonin_types::Pan::parse(p).is_ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_processes_exchange_each_nonce_once() {
    two_processes_exchange_each_nonce_once(TestEngine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_processes_exchange_each_nonce_once() {
    two_processes_exchange_each_nonce_once(TestEngine::Postgres).await;
}

async fn two_processes_exchange_each_nonce_once(engine: TestEngine) {
    with_fresh_db(engine, |store, url| async move {
        let master = MasterKey::generate().unwrap();
        let v = vault(store.clone(), &master);
        let keks: [Arc<dyn KeyEncryptionKey>; 1] = [Arc::new(LocalKek::derived(&master, 1))];
        let now = OffsetDateTime::now_utc();
        let budget = v.register_client_token(TENANT, "ct_two", now + Duration::hours(1));
        store.write_vault_unit(budget).await.unwrap();
        let mut nonces = Vec::new();
        for n in 0..NONCES {
            let input = CardInput {
                pan: pan(n),
                exp_month: 12,
                exp_year: 2031,
                name: None,
                cvv: None,
            };
            let issued = commit_alone(&store, || {
                v.issue_nonce(&keks, TENANT, "ct_two", &input, now)
            })
            .await
            .unwrap();
            nonces.push(issued.nonce.as_str().to_owned());
        }
        let (master_b64, joined) = (master.to_base64(), nonces.join(","));
        let env = [
            (CHILD_URL_ENV, url.as_str()),
            (CHILD_MASTER_ENV, master_b64.as_str()),
            (CHILD_NONCES_ENV, joined.as_str()),
        ];
        let mut wins: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (pid, stdout) in crate::children::run_two(CHILD_TEST, &env).await {
            // libtest may print "test <name> ... " before the child's first line.
            for won in stdout
                .lines()
                .filter_map(|l| l.split_once("won ").map(|(_, n)| n))
            {
                wins.entry(won.to_owned()).or_default().push(pid);
            }
        }
        for nonce in &nonces {
            let winners = wins.get(nonce).map_or(0, Vec::len);
            assert_eq!(winners, 1, "{nonce}: {wins:?}");
        }
        let by_child: BTreeMap<u32, usize> =
            wins.values().flatten().fold(BTreeMap::new(), |mut m, p| {
                *m.entry(*p).or_default() += 1;
                m
            });
        eprintln!(
            "[{}] nonces won per child process: {by_child:?}",
            store.engine()
        );
        assert_eq!(raw_count(&store, "vault_nonces").await.unwrap(), 0);
        assert_eq!(
            raw_count(&store, "vault_cards").await.unwrap(),
            i64::from(NONCES)
        );
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}

/// The child: does nothing unless started by a parent above. It reports each nonce it won on
/// standard output, which the parent reads.
#[allow(clippy::print_stdout)]
#[tokio::test]
#[ignore = "child process of the two_processes_exchange_each_nonce_once tests"]
async fn nonce_exchange_child() {
    let Ok(url) = std::env::var(CHILD_URL_ENV) else {
        return;
    };
    let master = MasterKey::parse(&std::env::var(CHILD_MASTER_ENV).unwrap()).unwrap();
    let nonces = std::env::var(CHILD_NONCES_ENV).unwrap();
    let store = Store::connect(&url, &StoreOptions::default())
        .await
        .unwrap();
    let v = vault(store.clone(), &master);
    let keks: [Arc<dyn KeyEncryptionKey>; 1] = [Arc::new(LocalKek::derived(&master, 1))];
    let now = OffsetDateTime::now_utc();
    for nonce in nonces.split(',') {
        let exchange = || v.exchange_nonce(&keks, TENANT, nonce, now);
        match commit_alone(&store, exchange).await {
            Ok(_) => println!("won {nonce}"),
            Err(VaultError::InvalidNonce) => {}
            Err(e) => panic!("{nonce}: {e}"),
        }
    }
    store.close().await;
}
