#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The keyring file, KeyService rotation, reload and JWK sets.

use serde_json::{Value, json};
use shonin_jose::{
    Alg, JoseError, PRIVATE_JWK_MEMBERS, VerifyOptions, b64url_decode, b64url_encode, verify_jwt,
};
use shonin_keys::{
    KeyError, KeyService, KeySource, KeyState, KeyringConfig, MAX_KEYRING_LEN, MasterKey,
    parse_keyring_file, sign_jwt,
};
use shonin_types::{Clock, FixedClock};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-04-01 09:00 UTC);

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    master: MasterKey,
    clock: Arc<FixedClock>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        Self {
            _dir: dir,
            path,
            master: MasterKey::generate().unwrap(),
            clock: Arc::new(FixedClock::new(T0)),
        }
    }

    fn config(&self, alg: Alg) -> KeyringConfig {
        KeyringConfig {
            path: self.path.clone(),
            algorithm: alg,
            publish_retired_for: Duration::hours(24),
        }
    }

    fn create(&self, alg: Alg) -> KeyService {
        let (svc, created) =
            KeyService::open_or_create(self.config(alg), self.master.clone(), self.clock.clone())
                .unwrap();
        assert!(created);
        svc
    }

    fn open_with(&self, master: MasterKey) -> Result<KeyService, KeyError> {
        KeyService::open(self.config(Alg::ES256), master, self.clock.clone())
    }

    fn file(&self) -> Value {
        serde_json::from_slice(&std::fs::read(&self.path).unwrap()).unwrap()
    }

    fn write(&self, v: &Value) {
        std::fs::write(&self.path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    }
}

fn opts(clock: &FixedClock) -> VerifyOptions {
    VerifyOptions::new(clock.now())
}

fn claims(clock: &FixedClock) -> Value {
    let now = clock.now().unix_timestamp();
    json!({"iss":"https://as.example","iat":now,"exp":now + 600})
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn index_of(file: &Value, state: &str) -> usize {
    file["keys"]
        .as_array()
        .unwrap()
        .iter()
        .position(|k| k["state"] == state)
        .unwrap()
}

fn keyring_reason(e: KeyError) -> String {
    match e {
        KeyError::Keyring { reason, .. } => reason,
        other => panic!("expected a Keyring error, got {other:?}"),
    }
}

#[tokio::test]
async fn every_algorithm_signs_tokens_that_verify_against_published_jwks() {
    for alg in [Alg::ES256, Alg::EdDSA, Alg::PS256] {
        let fx = Fixture::new();
        let svc = fx.create(alg);
        let signer = svc.current_signer();
        assert_eq!(signer.alg(), alg);
        let token = sign_jwt(signer.as_ref(), "JWT", &claims(&fx.clock))
            .await
            .unwrap();
        verify_jwt(&token, &svc.published_jwks(), &opts(&fx.clock)).unwrap();
    }
}

#[test]
fn created_keyring_has_one_current_and_one_next_key_and_is_private() {
    let fx = Fixture::new();
    let svc = fx.create(Alg::ES256);
    let states: Vec<KeyState> = svc.list().iter().map(|k| k.state).collect();
    assert_eq!(states, vec![KeyState::Current, KeyState::Next]);
    assert!(svc.list().iter().all(|k| k.published && k.created_at == T0));
    let file = fx.file();
    assert_eq!(file["format"], "shonin-keyring-v1");
    let sealed = file["keys"][0]["sealed_private"].as_str().unwrap();
    let dbg = format!("{svc:?}");
    assert!(
        dbg.contains("current_kid") && !dbg.contains(&sealed[..16]),
        "{dbg}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&fx.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // Opening again does not create.
    let (_, created) =
        KeyService::open_or_create(fx.config(Alg::ES256), fx.master.clone(), fx.clock.clone())
            .unwrap();
    assert!(!created);
}

#[test]
fn open_requires_an_existing_keyring() {
    let fx = Fixture::new();
    assert!(matches!(
        fx.open_with(fx.master.clone()),
        Err(KeyError::KeyringMissing { .. })
    ));
}

#[tokio::test]
async fn a_token_signed_before_rotation_verifies_after_it_and_new_tokens_use_the_new_kid() {
    let fx = Fixture::new();
    let svc = fx.create(Alg::ES256);
    let before = svc.list();
    let old = sign_jwt(svc.current_signer().as_ref(), "JWT", &claims(&fx.clock))
        .await
        .unwrap();

    fx.clock.advance(Duration::minutes(5));
    let report = svc.rotate().unwrap();
    assert_eq!(report.retired_kid, before[0].kid);
    assert_eq!(report.current_kid, before[1].kid);
    assert_ne!(report.next_kid, report.current_kid);

    verify_jwt(&old, &svc.published_jwks(), &opts(&fx.clock)).unwrap();
    let new = sign_jwt(svc.current_signer().as_ref(), "JWT", &claims(&fx.clock))
        .await
        .unwrap();
    let header = shonin_jose::decode_header(&new).unwrap();
    assert_eq!(header.kid.as_deref(), Some(report.current_kid.as_str()));
    verify_jwt(&new, &svc.published_jwks(), &opts(&fx.clock)).unwrap();

    // Current first, then next, then the retired key.
    assert_eq!(
        kids(&svc.published_jwks()),
        vec![
            report.current_kid.clone(),
            report.next_kid.clone(),
            report.retired_kid.clone()
        ]
    );
    // The retired key's private half is gone from the file.
    let file = fx.file();
    let retired = &file["keys"][index_of(&file, "retired")];
    assert!(retired.get("sealed_private").is_none());
    assert_eq!(retired["retired_at"], "2026-04-01T09:05:00Z");
}

#[test]
fn a_retired_key_leaves_published_jwks_after_the_window_but_stays_for_verification() {
    let fx = Fixture::new();
    let svc = fx.create(Alg::EdDSA);
    let report = svc.rotate().unwrap();
    fx.clock.advance(Duration::hours(24) - Duration::seconds(1));
    assert!(kids(&svc.published_jwks()).contains(&report.retired_kid));
    fx.clock.advance(Duration::seconds(1));
    let published = kids(&svc.published_jwks());
    assert_eq!(
        published,
        vec![report.current_kid.clone(), report.next_kid.clone()]
    );
    assert!(kids(&svc.verification_jwks()).contains(&report.retired_kid));
    assert_eq!(svc.verification_jwks()["keys"].as_array().unwrap().len(), 3);
    let info = svc
        .list()
        .into_iter()
        .find(|k| k.kid == report.retired_kid)
        .unwrap();
    assert_eq!(info.state, KeyState::Retired);
    assert!(!info.published);
}

#[test]
fn published_and_verification_jwks_never_contain_private_members() {
    let fx = Fixture::new();
    let svc = fx.create(Alg::ES256);
    svc.rotate().unwrap();
    for set in [svc.published_jwks(), svc.verification_jwks()] {
        for k in set["keys"].as_array().unwrap() {
            for m in PRIVATE_JWK_MEMBERS {
                assert!(k.get(m).is_none(), "{m} in {k}");
            }
            assert_eq!(k["use"], "sig");
        }
    }
}

#[test]
fn a_second_service_on_the_same_file_sees_a_rotation_via_reload_if_changed() {
    let fx = Fixture::new();
    let server = fx.create(Alg::ES256);
    let cli = fx.open_with(fx.master.clone()).unwrap();
    assert!(!server.reload_if_changed().unwrap(), "nothing changed yet");
    let report = cli.rotate().unwrap();
    assert_ne!(server.current_signer().kid(), report.current_kid);
    assert!(server.reload_if_changed().unwrap());
    assert_eq!(server.current_signer().kid(), report.current_kid);
    assert!(
        !server.reload_if_changed().unwrap(),
        "second call sees no change"
    );
    // Rewriting identical content moves the stamp but not the hash: no reload.
    let bytes = std::fs::read(&fx.path).unwrap();
    std::fs::remove_file(&fx.path).unwrap();
    std::fs::write(&fx.path, &bytes).unwrap();
    assert!(!server.reload_if_changed().unwrap());
}

#[test]
fn a_bad_reload_keeps_the_keys_in_memory() {
    let fx = Fixture::new();
    let svc = fx.create(Alg::ES256);
    let kid = svc.current_signer().kid().to_owned();
    std::fs::write(&fx.path, b"{}").unwrap();
    assert!(matches!(
        svc.reload_if_changed(),
        Err(KeyError::Keyring { .. })
    ));
    assert_eq!(svc.current_signer().kid(), kid);
}

#[test]
fn concurrent_rotations_from_two_services_are_serialised() {
    let fx = Fixture::new();
    let a = fx.create(Alg::EdDSA);
    let b = fx.open_with(fx.master.clone()).unwrap();
    let threads: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|svc| {
            std::thread::spawn(move || (0..3).map(|_| svc.rotate().unwrap()).collect::<Vec<_>>())
        })
        .collect();
    let reports: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(reports.len(), 6);
    // Six rotations of a two-key ring: eight keys, six retired, none lost.
    a.reload_if_changed().unwrap();
    let list = a.list();
    assert_eq!(list.len(), 8);
    assert_eq!(
        list.iter().filter(|k| k.state == KeyState::Retired).count(),
        6
    );
    let mut retired: Vec<_> = reports.iter().map(|r| r.retired_kid.clone()).collect();
    retired.sort();
    retired.dedup();
    assert_eq!(retired.len(), 6, "every rotation retired a different key");
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(fx.path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn wrong_master_key_is_a_decrypt_error() {
    let fx = Fixture::new();
    fx.create(Alg::ES256);
    assert!(matches!(
        fx.open_with(MasterKey::generate().unwrap()),
        Err(KeyError::Decrypt)
    ));
}

#[test]
fn a_flipped_bit_in_a_sealed_key_is_a_decrypt_error() {
    let fx = Fixture::new();
    fx.create(Alg::ES256);
    let original = fx.file();
    for (state, byte) in [
        ("current", 0usize),
        ("current", 20),
        ("next", 40),
        ("next", usize::MAX),
    ] {
        let mut file = original.clone();
        let i = index_of(&file, state);
        let mut blob = b64url_decode(file["keys"][i]["sealed_private"].as_str().unwrap()).unwrap();
        let at = byte.min(blob.len() - 1); // nonce, ciphertext and tag all count
        blob[at] ^= 0x01;
        file["keys"][i]["sealed_private"] = json!(b64url_encode(&blob));
        fx.write(&file);
        assert!(
            matches!(fx.open_with(fx.master.clone()), Err(KeyError::Decrypt)),
            "{state} byte {at}"
        );
    }
    // A truncated or non-base64url blob is tampering too.
    for junk in ["AAAA", "not base64!", ""] {
        let mut file = original.clone();
        let i = index_of(&file, "next");
        file["keys"][i]["sealed_private"] = json!(junk);
        fx.write(&file);
        assert!(
            matches!(fx.open_with(fx.master.clone()), Err(KeyError::Decrypt)),
            "{junk:?}"
        );
    }
}

#[test]
fn a_sealed_key_swapped_between_two_entries_is_a_decrypt_error() {
    let fx = Fixture::new();
    fx.create(Alg::ES256);
    let mut file = fx.file();
    let (c, n) = (index_of(&file, "current"), index_of(&file, "next"));
    let blob_c = file["keys"][c]["sealed_private"].clone();
    file["keys"][c]["sealed_private"] = file["keys"][n]["sealed_private"].clone();
    file["keys"][n]["sealed_private"] = blob_c;
    fx.write(&file);
    assert!(matches!(
        fx.open_with(fx.master.clone()),
        Err(KeyError::Decrypt)
    ));
}

#[test]
fn a_public_jwk_replaced_by_another_key_is_detected() {
    let fx = Fixture::new();
    fx.create(Alg::ES256);
    let mut file = fx.file();
    let c = index_of(&file, "current");
    let other = shonin_keys::LocalSigner::generate(Alg::ES256).unwrap();
    let mut jwk = shonin_keys::Signer::public_jwk(&other).clone();
    jwk["kid"] = file["keys"][c]["kid"].clone();
    file["keys"][c]["public_jwk"] = jwk;
    fx.write(&file);
    assert!(matches!(
        fx.open_with(fx.master.clone()),
        Err(KeyError::PublicKeyMismatch { .. })
    ));
}

#[test]
fn malformed_keyring_files_are_keyring_errors_naming_the_rule() {
    let fx = Fixture::new();
    let svc = fx.create(Alg::ES256);
    svc.rotate().unwrap();
    let good = fx.file();
    let (c, n, r) = (
        index_of(&good, "current"),
        index_of(&good, "next"),
        index_of(&good, "retired"),
    );
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "\"format\" must be",
            Box::new(|f| f["format"] = json!("shonin-keyring-v2")),
        ),
        ("unknown field", Box::new(|f| f["extra"] = json!(1))),
        (
            "unknown field",
            Box::new(move |f| f["keys"][c]["comment"] = json!("hi")),
        ),
        (
            "unknown variant",
            Box::new(move |f| f["keys"][c]["alg"] = json!("RS256")),
        ),
        (
            "unknown variant",
            Box::new(move |f| f["keys"][c]["state"] = json!("active")),
        ),
        (
            "exactly one current key is required, found 2",
            Box::new(move |f| {
                f["keys"][n]["state"] = json!("current");
                f["keys"][n]["activated_at"] = f["keys"][c]["activated_at"].clone();
            }),
        ),
        (
            "exactly one next key is required, found 0",
            Box::new(move |f| {
                f["keys"].as_array_mut().unwrap().remove(n);
            }),
        ),
        (
            "must not have sealed_private",
            Box::new(move |f| {
                f["keys"][r]["sealed_private"] = f["keys"][c]["sealed_private"].clone();
            }),
        ),
        (
            "must have sealed_private",
            Box::new(move |f| {
                f["keys"][n]
                    .as_object_mut()
                    .unwrap()
                    .remove("sealed_private");
            }),
        ),
        (
            "must not have activated_at",
            Box::new(move |f| f["keys"][n]["activated_at"] = json!("2026-04-01T09:00:00Z")),
        ),
        (
            "must have retired_at",
            Box::new(move |f| {
                f["keys"][r].as_object_mut().unwrap().remove("retired_at");
            }),
        ),
        (
            "appears more than once",
            Box::new(move |f| {
                let dup = f["keys"][r].clone();
                f["keys"].as_array_mut().unwrap().push(dup);
            }),
        ),
        (
            "a kid must be",
            Box::new(move |f| f["keys"][r]["kid"] = json!("a b")),
        ),
        (
            "public_jwk.kid must equal kid",
            Box::new(move |f| f["keys"][r]["public_jwk"]["kid"] = json!("other")),
        ),
        (
            "private key members",
            Box::new(move |f| f["keys"][r]["public_jwk"]["d"] = json!("AAAA")),
        ),
        (
            "public_jwk is not a public ES256 key",
            Box::new(move |f| f["keys"][r]["public_jwk"]["crv"] = json!("P-384")),
        ),
        (
            "created_at <= activated_at",
            Box::new(move |f| f["keys"][c]["created_at"] = json!("2030-01-01T00:00:00Z")),
        ),
        (
            "could not be parsed",
            Box::new(move |f| f["keys"][c]["created_at"] = json!("yesterday")),
        ),
        (
            "missing field",
            Box::new(move |f| {
                f["keys"][c].as_object_mut().unwrap().remove("public_jwk");
            }),
        ),
    ];
    for (rule, mutate) in cases {
        let mut file = good.clone();
        mutate(&mut file);
        let bytes = serde_json::to_vec(&file).unwrap();
        let reason = keyring_reason(parse_keyring_file(&bytes).unwrap_err());
        assert!(reason.contains(rule), "expected {rule:?} in {reason:?}");
        fx.write(&file);
        match fx.open_with(fx.master.clone()).unwrap_err() {
            KeyError::Keyring { path, reason } => {
                assert!(path.ends_with("keyring.json"));
                assert!(reason.contains(rule));
            }
            other => panic!("{rule}: {other:?}"),
        }
    }
    let reason = keyring_reason(parse_keyring_file(b"not json").unwrap_err());
    assert!(reason.contains("is not a valid shonin-keyring-v1 document"));
    let huge = vec![b' '; MAX_KEYRING_LEN + 1];
    assert!(keyring_reason(parse_keyring_file(&huge).unwrap_err()).contains("larger than"));
    std::fs::write(&fx.path, &huge).unwrap();
    assert!(keyring_reason(fx.open_with(fx.master.clone()).unwrap_err()).contains("larger than"));
    assert_eq!(
        parse_keyring_file(&serde_json::to_vec(&good).unwrap())
            .unwrap()
            .keys()
            .count(),
        3
    );
}

#[test]
fn master_key_file_must_be_private_and_errors_never_show_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let key = MasterKey::generate().unwrap();
    std::fs::write(&path, format!("{}\n", key.to_base64().as_str())).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let msg = MasterKey::from_file(&path).unwrap_err().to_string();
        assert!(
            msg.contains("master.key") && msg.contains("group or others") && msg.contains("0640"),
            "{msg}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let loaded = MasterKey::from_file(&path).unwrap();
    assert_eq!(loaded.to_base64().as_str(), key.to_base64().as_str());

    let secret_looking = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="; // valid base64 of 21 bytes
    std::fs::write(&path, secret_looking).unwrap();
    let msg = MasterKey::from_file(&path).unwrap_err().to_string();
    assert!(
        msg.contains("master.key") && msg.contains("exactly 32 bytes"),
        "{msg}"
    );
    assert!(!msg.contains(secret_looking) && !msg.contains("secret"));

    let missing = MasterKey::from_file(Path::new("/nonexistent/master.key"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("/nonexistent/master.key") && missing.contains("cannot open"));
}

#[test]
fn tokens_from_a_retired_key_fail_once_only_verification_jwks_has_it() {
    // After the window a relying party using published_jwks no longer accepts the old key.
    let fx = Fixture::new();
    let svc = fx.create(Alg::ES256);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut c = claims(&fx.clock);
    c["exp"] = json!(fx.clock.now().unix_timestamp() + 100 * 3600);
    let old = rt
        .block_on(sign_jwt(svc.current_signer().as_ref(), "JWT", &c))
        .unwrap();
    svc.rotate().unwrap();
    fx.clock.advance(Duration::hours(25));
    assert_eq!(
        verify_jwt(&old, &svc.published_jwks(), &opts(&fx.clock)),
        Err(JoseError::UnknownKey)
    );
    verify_jwt(&old, &svc.verification_jwks(), &opts(&fx.clock)).unwrap();
}

#[test]
fn the_local_keyring_signs_tokens_and_checkpoints_and_holds_no_3ds_or_wrapping_key() {
    use shonin_keys::{KeyPurpose, KeySource};
    let fx = Fixture::new();
    let svc = fx.create(Alg::ES256);
    let current = svc.current_signer().kid().to_owned();
    for purpose in [KeyPurpose::Tokens, KeyPurpose::AuditCheckpoints] {
        assert_eq!(svc.signer_for(purpose).unwrap().kid(), current, "{purpose}");
    }
    for purpose in [
        KeyPurpose::ThreeDsAuthenticationValue,
        KeyPurpose::AcsContentSigning,
    ] {
        let e = svc.signer_for(purpose).unwrap_err();
        assert!(matches!(e, KeyError::NoKeyForPurpose(p) if p == purpose));
        assert!(e.to_string().starts_with("no key is configured for"), "{e}");
    }
    assert!(svc.key_encryption_keys().is_empty());
}
