//! The admin commands end to end (`shonin clients …`, `shonin users …` run as the real binary in
//! a temporary `--dev` directory), `[[clients]]` applied by `sync_from_config` against a SQLite
//! store in process, and the `serve --dev` demo client and user.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use serde_json::{Value, json};
use shonin_identity::{UserStore, Username, verify_password};
use shonin_jose::Alg;
use shonin_keys::{LocalSigner, Signer};
use shonin_oauth::client::{ClientId, ClientStore};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_shonin");

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .arg("--dev")
        .args(args)
        .env_remove("SHONIN_MASTER_KEY")
        .env_remove("SHONIN_CONFIG");
    cmd
}

fn shonin(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).stdin(Stdio::null()).output().unwrap()
}

fn shonin_stdin(dir: &Path, args: &[&str], input: &str) -> Output {
    with_stdin(command(dir, args), input)
}

fn with_stdin(mut cmd: Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

#[track_caller]
fn refused(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "expected failure; stdout:\n{}",
        stdout(o)
    );
    stderr(o)
}

fn public_jwks() -> Value {
    let signer = LocalSigner::generate(Alg::ES256).unwrap();
    json!({ "keys": [signer.public_jwk().clone()] })
}

fn write_jwks(dir: &Path, name: &str, jwks: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec(jwks).unwrap()).unwrap();
    path.display().to_string()
}

fn audit_entries(dir: &Path) -> Vec<Value> {
    let out = shonin(dir, &["audit", "export"]);
    ok(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn has_entry(entries: &[Value], action: &str, target: &str, actor: &str, outcome: &str) -> bool {
    entries.iter().any(|e| {
        e["action"] == action
            && e["target"] == target
            && e["actor"]["kind"] == actor
            && e["outcome"] == outcome
    })
}

async fn open_store(dir: &Path) -> shonin_store::Store {
    let url = format!("sqlite:{}", dir.join("shonin-data/shonin.db").display());
    shonin_store::Store::connect(&url, &shonin_store::StoreOptions::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn clients_add_list_show_update_remove_from_flags() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let jwks = write_jwks(d, "jwks.json", &public_jwks());
    ok(&shonin(
        d,
        &[
            "clients",
            "add",
            "--client-id",
            "app-1",
            "--name",
            "App One",
            "--redirect-uri",
            "https://rp.example/cb",
            "--redirect-uri",
            "https://rp.example/cb2",
            "--jwks-file",
            &jwks,
            "--scope",
            "openid accounts",
            "--scope",
            "payments",
            "--authorization-details-type",
            "payment_initiation",
            "--require-dpop-nonce",
        ],
    ));

    let list = ok(&shonin(d, &["clients", "list"]));
    let row = list.lines().find(|l| l.starts_with("app-1 ")).unwrap();
    assert!(
        row.contains("App One")
            && row.contains("private_key_jwt")
            && row.contains("authorization_code,refresh_token"),
        "{list}"
    );

    let shown: Value =
        serde_json::from_str(&ok(&shonin(d, &["clients", "show", "app-1"]))).unwrap();
    assert_eq!(shown["client_id"], "app-1");
    assert_eq!(shown["client_name"], "App One");
    assert_eq!(
        shown["redirect_uris"],
        json!(["https://rp.example/cb", "https://rp.example/cb2"])
    );
    assert_eq!(shown["scope"], json!(["openid", "accounts", "payments"]));
    assert_eq!(
        shown["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        shown["authorization_details_types"],
        json!(["payment_initiation"])
    );
    assert_eq!(shown["require_dpop_nonce"], true);
    assert_eq!(shown["dpop_bound_access_tokens"], true);
    let key = &shown["jwks"]["keys"][0];
    assert!(key["x"].is_string() && key.get("d").is_none(), "{shown}");

    // A second add with the same id is refused and changes nothing.
    let err = refused(&shonin(
        d,
        &[
            "clients",
            "add",
            "--client-id",
            "app-1",
            "--name",
            "Impostor",
            "--redirect-uri",
            "https://evil.example/cb",
            "--jwks-file",
            &jwks,
        ],
    ));
    assert!(err.contains("app-1 already exists"), "{err}");

    let store = open_store(d).await;
    let id = ClientId::try_from("app-1").unwrap();
    let before = store.get_client(&id).await.unwrap().unwrap();
    assert_eq!(before.client_name, "App One");

    // Update replaces only the given fields and keeps created_at.
    tokio::time::sleep(Duration::from_millis(5)).await;
    ok(&shonin(
        d,
        &[
            "clients",
            "update",
            "app-1",
            "--name",
            "App One (renamed)",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "client_credentials",
            "--require-dpop-nonce=false",
        ],
    ));
    let after = store.get_client(&id).await.unwrap().unwrap();
    assert_eq!(after.client_name, "App One (renamed)");
    assert_eq!(after.redirect_uris, before.redirect_uris);
    assert_eq!(after.jwks, before.jwks);
    assert_eq!(after.scope, before.scope);
    assert!(!after.require_dpop_nonce);
    assert_eq!(
        after
            .grant_types
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>(),
        ["authorization_code", "client_credentials"]
    );
    assert_eq!(after.created_at, before.created_at);
    assert!(after.updated_at > before.updated_at);

    // An update is validated again: an http redirect URI is refused and nothing changes.
    let err = refused(&shonin(
        d,
        &[
            "clients",
            "update",
            "app-1",
            "--redirect-uri",
            "http://rp.example/cb",
        ],
    ));
    assert!(err.contains("redirect_uris[0]"), "{err}");
    assert_eq!(store.get_client(&id).await.unwrap().unwrap(), after);
    let err = refused(&shonin(d, &["clients", "update", "app-1"]));
    assert!(err.contains("nothing to update"), "{err}");

    ok(&shonin(d, &["clients", "remove", "app-1"]));
    assert!(store.get_client(&id).await.unwrap().is_none());
    assert!(!ok(&shonin(d, &["clients", "list"])).contains("app-1"));
    let err = refused(&shonin(d, &["clients", "remove", "app-1"]));
    assert!(err.contains("no client app-1"), "{err}");
    let err = refused(&shonin(d, &["clients", "show", "app-1"]));
    assert!(err.contains("no client app-1"), "{err}");
    store.close().await;

    let entries = audit_entries(d);
    for (action, outcome) in [
        ("clients.add", "success"),
        ("clients.add", "failure"),
        ("clients.update", "success"),
        ("clients.update", "failure"),
        ("clients.remove", "success"),
        ("clients.remove", "failure"),
    ] {
        assert!(
            has_entry(&entries, action, "app-1", "admin", outcome),
            "{action} {outcome} in {entries:#?}"
        );
    }
    let out = ok(&shonin(d, &["audit", "verify"]));
    assert!(out.starts_with("audit chain OK"), "{out}");
}

#[test]
fn clients_add_from_json_and_toml_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let reg = json!({
        "client_id": "json-app",
        "client_name": "JSON App",
        "redirect_uris": ["https://rp.example/cb"],
        "jwks": public_jwks(),
        "scope": "openid accounts",
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
    });
    let path = write_jwks(d, "reg.json", &reg);
    ok(&shonin(d, &["clients", "add", "--file", &path]));
    let shown: Value =
        serde_json::from_str(&ok(&shonin(d, &["clients", "show", "json-app"]))).unwrap();
    assert_eq!(shown["scope"], json!(["openid", "accounts"]));
    assert_eq!(shown["grant_types"].as_array().unwrap().len(), 3);

    // `show` prints a document that `update --file` takes back.
    let mut edited = shown.clone();
    edited["client_name"] = json!("JSON App v2");
    let path = write_jwks(d, "edited.json", &edited);
    ok(&shonin(
        d,
        &["clients", "update", "json-app", "--file", &path],
    ));
    let shown: Value =
        serde_json::from_str(&ok(&shonin(d, &["clients", "show", "json-app"]))).unwrap();
    assert_eq!(shown["client_name"], "JSON App v2");
    // A file for another client is refused.
    let err = refused(&shonin(
        d,
        &["clients", "update", "other-app", "--file", &path],
    ));
    assert!(err.contains("no client other-app"), "{err}");

    std::fs::write(
        d.join("reg.toml"),
        "client_id = \"toml-app\"\n\
         client_name = \"TOML App\"\n\
         redirect_uris = [\"https://rp.example/cb\"]\n\
         jwks_uri = \"https://rp.example/jwks.json\"\n\
         scope = [\"openid\"]\n",
    )
    .unwrap();
    ok(&shonin(
        d,
        &[
            "clients",
            "add",
            "--file",
            &d.join("reg.toml").display().to_string(),
        ],
    ));
    let shown: Value =
        serde_json::from_str(&ok(&shonin(d, &["clients", "show", "toml-app"]))).unwrap();
    assert_eq!(shown["jwks_uri"], "https://rp.example/jwks.json");
    // RFC 7591 §2 default for a registration document: authorization_code only.
    assert_eq!(shown["grant_types"], json!(["authorization_code"]));

    std::fs::write(d.join("reg.yaml"), "client_id: x\n").unwrap();
    let err = refused(&shonin(
        d,
        &[
            "clients",
            "add",
            "--file",
            &d.join("reg.yaml").display().to_string(),
        ],
    ));
    assert!(err.contains(".json or .toml"), "{err}");
    let err = refused(&shonin(
        d,
        &["clients", "add", "--file", &path, "--scope", "openid"],
    ));
    assert!(err.contains("cannot be used with"), "{err}");
}

#[test]
fn invalid_registrations_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let jwks = write_jwks(d, "jwks.json", &public_jwks());
    let add = |extra: &[&str], jwks_file: &str| {
        let mut args = vec![
            "clients",
            "add",
            "--client-id",
            "bad-app",
            "--name",
            "Bad App",
            "--jwks-file",
            jwks_file,
        ];
        args.extend_from_slice(extra);
        shonin(d, &args)
    };

    let err = refused(&add(&["--redirect-uri", "http://rp.example/cb"], &jwks));
    assert!(
        err.contains("field `redirect_uris[0]`") && err.contains("must be https"),
        "{err}"
    );
    let err = refused(&add(
        &[
            "--redirect-uri",
            "https://rp.example/cb",
            "--redirect-uri",
            "http://127.0.0.1:9000/cb",
        ],
        &jwks,
    ));
    assert!(
        err.contains("field `redirect_uris[1]`") && err.contains("native_loopback_redirects"),
        "{err}"
    );
    ok(&add(
        &[
            "--redirect-uri",
            "http://127.0.0.1:9000/cb",
            "--native-loopback-redirects",
        ],
        &jwks,
    ));
    ok(&shonin(d, &["clients", "remove", "bad-app"]));

    // A private key in the JWK set.
    let private = LocalSigner::generate(Alg::ES256).unwrap();
    let mut jwk = private.public_jwk().clone();
    jwk["d"] = json!("c2VjcmV0LXNjYWxhci1ub3QtYS1yZWFsLWtleS0xMjM0");
    let private_file = write_jwks(d, "private.json", &json!({ "keys": [jwk] }));
    let err = refused(&add(
        &["--redirect-uri", "https://rp.example/cb"],
        &private_file,
    ));
    assert!(
        err.contains("field `jwks.keys[0]`") && err.contains("private key"),
        "{err}"
    );
    assert!(
        !err.contains("c2VjcmV0"),
        "the private value is not echoed: {err}"
    );

    // The password grant is forbidden by FAPI 2.0.
    let err = refused(&add(
        &[
            "--redirect-uri",
            "https://rp.example/cb",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "password",
        ],
        &jwks,
    ));
    assert!(
        err.contains("field `grant_types[1]`") && err.contains("forbidden by FAPI 2.0"),
        "{err}"
    );

    let err = refused(&add(&["--redirect-uri", "https://rp.example/cb#x"], &jwks));
    assert!(err.contains("fragment"), "{err}");
    let err = refused(&shonin(
        d,
        &[
            "clients",
            "add",
            "--client-id",
            "bad app",
            "--name",
            "x",
            "--jwks-uri",
            "https://rp.example/jwks",
            "--grant-type",
            "client_credentials",
        ],
    ));
    assert!(err.contains("field `client_id`"), "{err}");
    let err = refused(&shonin(
        d,
        &[
            "clients",
            "add",
            "--client-id",
            "cc-app",
            "--name",
            "x",
            "--jwks-uri",
            "http://rp.example/jwks",
            "--grant-type",
            "client_credentials",
        ],
    ));
    assert!(err.contains("field `jwks_uri`"), "{err}");

    assert!(!ok(&shonin(d, &["clients", "list"])).contains("bad-app"));
    let entries = audit_entries(d);
    assert!(has_entry(
        &entries,
        "clients.add",
        "bad-app",
        "admin",
        "failure"
    ));
}

#[test]
fn users_add_list_disable_enable_with_password_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let password = "correct horse battery staple";

    let out = ok(&shonin_stdin(
        d,
        &[
            "users",
            "add",
            "--username",
            "Bob",
            "--display-name",
            "Bob Tanaka",
            "--password-stdin",
        ],
        &format!("{password}\n"),
    ));
    assert!(out.contains("added user bob"), "{out}");

    // Shorter than 12 characters: refused, nothing stored.
    let o = shonin_stdin(
        d,
        &["users", "add", "--username", "carol", "--password-stdin"],
        "short-pw-11\n",
    );
    let err = refused(&o);
    assert!(err.contains("at least 12 characters"), "{err}");
    assert!(!err.contains("short-pw-11") && !stdout(&o).contains("short-pw-11"));
    // No password on standard input, and no --password-stdin at all.
    let err = refused(&shonin_stdin(
        d,
        &["users", "add", "--username", "carol", "--password-stdin"],
        "",
    ));
    assert!(err.contains("no password"), "{err}");
    let err = refused(&shonin(d, &["users", "add", "--username", "carol"]));
    assert!(err.contains("--password-stdin"), "{err}");
    // The same username again (case-folded).
    let err = refused(&shonin_stdin(
        d,
        &["users", "add", "--username", "BOB", "--password-stdin"],
        "another long password\n",
    ));
    assert!(err.contains("user bob already exists"), "{err}");

    let list = ok(&shonin(d, &["users", "list"]));
    let row = list.lines().find(|l| l.starts_with("bob ")).unwrap();
    assert!(row.contains(" no "), "{list}");
    assert!(!list.contains("carol"), "{list}");

    ok(&shonin(d, &["users", "disable", "bob"]));
    let list = ok(&shonin(d, &["users", "list"]));
    assert!(
        list.lines()
            .find(|l| l.starts_with("bob "))
            .unwrap()
            .contains(" yes "),
        "{list}"
    );
    ok(&shonin(d, &["users", "enable", "bob"]));
    let list = ok(&shonin(d, &["users", "list"]));
    assert!(
        list.lines()
            .find(|l| l.starts_with("bob "))
            .unwrap()
            .contains(" no "),
        "{list}"
    );
    let err = refused(&shonin(d, &["users", "disable", "nobody"]));
    assert!(err.contains("no user nobody"), "{err}");

    // The stored hash is Argon2id with the OWASP parameters and verifies the password.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let user = rt.block_on(async {
        let store = open_store(d).await;
        let u = store
            .get_user_by_username(&Username::new("bob").unwrap())
            .await
            .unwrap()
            .unwrap();
        store.close().await;
        u
    });
    let hash = user.password_hash.unwrap();
    assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert!(verify_password(password.as_bytes(), &hash));
    assert_eq!(user.display_name.as_deref(), Some("Bob Tanaka"));

    let entries = audit_entries(d);
    for (action, target, outcome) in [
        ("users.add", "bob", "success"),
        ("users.add", "carol", "failure"),
        ("users.add", "bob", "failure"),
        ("users.disable", "bob", "success"),
        ("users.enable", "bob", "success"),
        ("users.disable", "nobody", "failure"),
    ] {
        assert!(
            has_entry(&entries, action, target, "admin", outcome),
            "{action} {target} {outcome} in {entries:#?}"
        );
    }
    let export = ok(&shonin(d, &["audit", "export"]));
    assert!(!export.contains(password) && !export.contains("$argon2id"));
    let out = ok(&shonin(d, &["audit", "verify"]));
    assert!(out.starts_with("audit chain OK"), "{out}");
}

#[test]
fn config_clients_are_validated_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let toml = |redirect: &str, grants: &str| {
        format!(
            "[[clients]]\nclient_id = \"cfg-app\"\nclient_name = \"Cfg App\"\n\
             redirect_uris = [\"{redirect}\"]\njwks_uri = \"https://rp.example/jwks\"\n\
             grant_types = {grants}\n"
        )
    };
    std::fs::write(
        d.join("shonin.toml"),
        toml("http://rp.example/cb", "[\"authorization_code\"]"),
    )
    .unwrap();
    let err = refused(&shonin(d, &["config", "check"]));
    assert!(
        err.contains("configuration key `clients[0].redirect_uris[0]`") && err.contains("https"),
        "{err}"
    );
    std::fs::write(
        d.join("shonin.toml"),
        toml(
            "https://rp.example/cb",
            "[\"authorization_code\", \"password\"]",
        ),
    )
    .unwrap();
    let err = refused(&shonin(d, &["config", "check"]));
    assert!(err.contains("`clients[0].grant_types[1]`"), "{err}");
    std::fs::write(
        d.join("shonin.toml"),
        toml("https://rp.example/cb", "[\"authorization_code\"]")
            .replace("redirect_uris", "redirect_uri"),
    )
    .unwrap();
    let err = refused(&shonin(d, &["config", "check"]));
    assert!(
        err.contains("`clients[0].redirect_uri`: unknown key"),
        "{err}"
    );
    std::fs::write(
        d.join("shonin.toml"),
        toml("https://rp.example/cb", "[\"authorization_code\"]").repeat(2),
    )
    .unwrap();
    let err = refused(&shonin(d, &["config", "check"]));
    assert!(
        err.contains("`clients[1].client_id`") && err.contains("already used"),
        "{err}"
    );
    std::fs::write(
        d.join("shonin.toml"),
        toml("https://rp.example/cb", "[\"authorization_code\"]"),
    )
    .unwrap();
    let out = ok(&shonin(d, &["config", "check"]));
    assert!(
        out.contains("[[clients]]") && out.contains("cfg-app"),
        "{out}"
    );
}

#[tokio::test]
async fn config_clients_are_created_and_updated_by_sync_from_config() {
    use shonin_server::admin::config_clients::sync_from_config;
    use shonin_server::config::{Config, ConfigSource};
    use shonin_types::Clock;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let jwk = LocalSigner::generate(Alg::ES256)
        .unwrap()
        .public_jwk()
        .clone();
    let inline = |v: &Value| {
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let write = |name: &str| {
        std::fs::write(
            d.join("shonin.toml"),
            format!(
                "[[clients]]\nclient_id = \"cfg-app\"\nclient_name = \"{name}\"\n\
                 redirect_uris = [\"https://rp.example/cb\"]\nscope = \"openid accounts\"\n\
                 grant_types = [\"authorization_code\", \"refresh_token\"]\n\
                 [clients.jwks]\nkeys = [ {{ {} }} ]\n\
                 [[clients]]\nclient_id = \"cfg-cc\"\nclient_name = \"Batch job\"\n\
                 jwks_uri = \"https://rp.example/jwks\"\ngrant_types = [\"client_credentials\"]\n",
                inline(&jwk)
            ),
        )
        .unwrap();
    };
    let load = || {
        Config::load_with_env(
            &ConfigSource {
                file: Some(d.join("shonin.toml")),
                file_required: true,
                dev: true,
                data_dir: d.join("data"),
            },
            &[],
        )
        .unwrap()
    };
    write("Cfg App");
    let config = load();
    assert_eq!(config.clients.len(), 2);
    assert_eq!(config.clients[0].scope, ["openid", "accounts"]);

    let store = shonin_store::Store::connect(
        &format!("sqlite:{}", d.join("sync.db").display()),
        &shonin_store::StoreOptions::default(),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let clock: Arc<dyn Clock> = Arc::new(shonin_types::SystemClock);
    let (keys, _) = shonin_keys::KeyService::open_or_create(
        shonin_keys::KeyringConfig {
            path: d.join("keyring.json"),
            algorithm: Alg::ES256,
            publish_retired_for: time::Duration::hours(1),
        },
        shonin_keys::MasterKey::generate().unwrap(),
        clock.clone(),
    )
    .unwrap();
    let audit = shonin_audit::AuditLog::start(
        Arc::new(store.clone()),
        Arc::new(keys),
        shonin_audit::AuditConfig::default(),
        clock.clone(),
    );

    let report = sync_from_config(&store, &config.clients, &audit, clock.now())
        .await
        .unwrap();
    assert_eq!(report.created, ["cfg-app", "cfg-cc"]);
    let id = ClientId::try_from("cfg-app").unwrap();
    let created = store.get_client(&id).await.unwrap().unwrap();
    assert_eq!(created.client_name, "Cfg App");
    assert_eq!(
        created.jwks,
        shonin_oauth::client::ClientJwks::Inline(json!({"keys": [jwk]}))
    );

    // The same configuration again changes nothing.
    let report = sync_from_config(&store, &config.clients, &audit, clock.now())
        .await
        .unwrap();
    assert!(report.created.is_empty() && report.updated.is_empty());
    assert_eq!(report.unchanged.len(), 2);

    // A changed entry updates the stored client and keeps created_at.
    write("Cfg App renamed");
    let config = load();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let report = sync_from_config(&store, &config.clients, &audit, clock.now())
        .await
        .unwrap();
    assert_eq!(report.updated, ["cfg-app"]);
    assert_eq!(report.unchanged, ["cfg-cc"]);
    let updated = store.get_client(&id).await.unwrap().unwrap();
    assert_eq!(updated.client_name, "Cfg App renamed");
    assert_eq!(updated.created_at, created.created_at);
    assert!(updated.updated_at > created.updated_at);

    audit.clone().shutdown().await;
    let entries = shonin_audit::AuditStore::entries(&store, 1, 100)
        .await
        .unwrap();
    let seen: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| {
            (
                e.record.action.clone(),
                e.record.target.clone(),
                e.record.actor.kind.as_str().to_owned(),
            )
        })
        .collect();
    for (action, target) in [
        ("clients.add", "cfg-app"),
        ("clients.add", "cfg-cc"),
        ("clients.update", "cfg-app"),
    ] {
        assert!(
            seen.contains(&(action.into(), target.into(), "system".into())),
            "{action} {target} in {seen:?}"
        );
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    store.close().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `serve --dev`, waits for the banner, stops the server, returns its log.
fn serve_until_banner(dir: &Path, port: u16, log_name: &str) -> String {
    let log = dir.join(log_name);
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .args(["serve", "--dev"])
        .env_remove("SHONIN_MASTER_KEY")
        .env_remove("SHONIN_CONFIG")
        .env("SHONIN_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("SHONIN_ISSUER", format!("https://localhost:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("shonin ready") {
            break text;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("server exited with {status}:\n{text}");
        }
        assert!(Instant::now() < deadline, "no banner in 60 s:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    // "ready" is logged just before the accept loop (and its SIGTERM handler) starts: wait for a
    // served request so the SIGTERM below is a graceful stop, not the default kill.
    let ca = std::fs::read(dir.join("shonin-data/tls/dev-ca.pem")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .build()
            .unwrap();
        loop {
            let url = format!("https://localhost:{port}/readyz");
            if let Ok(r) = client.get(url).send().await
                && r.status() == 200
            {
                break;
            }
            assert!(Instant::now() < deadline, "server not ready in 60 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    drop(rt);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    text
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn serve_dev_creates_the_demo_client_and_user_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let banner = serve_until_banner(d, port, "first.log");

    let data = d.join("shonin-data");
    let private: Value = serde_json::from_str(
        &std::fs::read_to_string(data.join("demo-client/private.jwk")).unwrap(),
    )
    .unwrap();
    let public: Value = serde_json::from_str(
        &std::fs::read_to_string(data.join("demo-client/public.jwks")).unwrap(),
    )
    .unwrap();
    assert_eq!(private["kty"], "EC");
    assert_eq!(private["crv"], "P-256");
    assert_eq!(private["alg"], "ES256");
    assert!(private["d"].as_str().unwrap().len() == 43, "{private}");
    let pub_key = &public["keys"][0];
    assert!(pub_key.get("d").is_none());
    for member in ["x", "y", "kid"] {
        assert_eq!(private[member], pub_key[member], "{member}");
    }
    #[cfg(unix)]
    {
        assert_eq!(mode(&data.join("demo-client/private.jwk")), 0o600);
        assert_eq!(mode(&data.join("demo-user.txt")), 0o600);
    }

    // The private JWK's `d` belongs to the registered public key and signs what it verifies.
    {
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair,
            UnparsedPublicKey,
        };
        let b64 = |m: &str| shonin_jose::b64url_decode(private[m].as_str().unwrap()).unwrap();
        let d_bytes = b64("d");
        assert_eq!(d_bytes.len(), 32);
        let mut point = vec![0x04];
        point.extend(b64("x"));
        point.extend(b64("y"));
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &d_bytes,
            &point,
        )
        .unwrap();
        let sig = pair
            .sign(&aws_lc_rs::rand::SystemRandom::new(), b"demo")
            .unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
            .verify(b"demo", sig.as_ref())
            .unwrap();
    }

    let user_file = std::fs::read_to_string(data.join("demo-user.txt")).unwrap();
    let password = user_file
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap()
        .to_owned();
    assert!(password.len() >= 12);
    assert!(
        banner.contains("demo-client") && banner.contains("alice"),
        "{banner}"
    );
    assert_eq!(
        banner.matches(&password).count(),
        1,
        "password shown once: {banner}"
    );

    let shown: Value =
        serde_json::from_str(&ok(&shonin(d, &["clients", "show", "demo-client"]))).unwrap();
    assert_eq!(shown["client_name"], "Shonin demo client");
    assert_eq!(
        shown["redirect_uris"],
        json!([format!("https://localhost:{port}/demo/callback")])
    );
    assert_eq!(shown["scope"], json!(["openid", "accounts", "payments"]));
    assert_eq!(
        shown["authorization_details_types"],
        json!(["payment_initiation", "account_information"])
    );
    assert_eq!(
        shown["grant_types"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(shown["jwks"], public);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let alice = rt.block_on(async {
        let store = open_store(d).await;
        let u = store
            .get_user_by_username(&Username::new("alice").unwrap())
            .await
            .unwrap()
            .unwrap();
        store.close().await;
        u
    });
    assert!(verify_password(
        password.as_bytes(),
        alice.password_hash.as_ref().unwrap()
    ));

    // A second run keeps the demo data and does not print the password again.
    let again = serve_until_banner(d, port, "second.log");
    assert!(!again.contains(&password), "{again}");
    assert!(again.contains("demo-user.txt"), "{again}");
    assert_eq!(
        std::fs::read_to_string(data.join("demo-user.txt")).unwrap(),
        user_file
    );

    let entries = audit_entries(d);
    assert!(has_entry(
        &entries,
        "clients.add",
        "demo-client",
        "system",
        "success"
    ));
    assert!(has_entry(
        &entries,
        "users.add",
        "alice",
        "system",
        "success"
    ));
    let out = ok(&shonin(d, &["audit", "verify"]));
    assert!(out.starts_with("audit chain OK"), "{out}");
}

/// `shonin 3ds cards …`: a card is enrolled for a user from standard input (Luhn-checked, in a
/// configured range), listed masked, refused twice, removed; every change is audit-logged, and
/// the number appears in no output, no audit entry and not in the database file.
#[test]
fn threeds_cards_are_enrolled_from_standard_input_and_kept_only_as_fingerprints() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("shonin.toml"),
        "[threeds.acs]\nreference_number = \"ACS-TEST\"\n\
         [[threeds.acs.card_ranges]]\nstart = \"4012000000006000\"\nend = \"4012000000006999\"\nscheme = \"visa\"\n",
    )
    .unwrap();
    let pan = "4012000000006013";
    ok(&shonin_stdin(
        d,
        &["users", "add", "--username", "alice", "--password-stdin"],
        "correct horse battery staple\n",
    ));
    let out = ok(&shonin_stdin(
        d,
        &["3ds", "cards", "enrol", "--username", "alice"],
        "4012 0000 0000 6013\n",
    ));
    assert!(
        out.contains("enrolled card 401200******6013 for user alice"),
        "{out}"
    );
    let list = ok(&shonin(d, &["3ds", "cards", "list"]));
    assert!(
        list.contains("401200******6013") && list.contains("visa"),
        "{list}"
    );

    let twice = shonin_stdin(
        d,
        &["3ds", "cards", "enrol", "--username", "alice"],
        &format!("{pan}\n"),
    );
    assert!(refused(&twice).contains("enrolled already"));
    let luhn = shonin_stdin(
        d,
        &["3ds", "cards", "enrol", "--username", "alice"],
        "4012000000006014\n",
    );
    let err = refused(&luhn);
    assert!(
        err.contains("check digit") && !err.contains("4012000000006014"),
        "{err}"
    );
    let outside = shonin_stdin(
        d,
        &["3ds", "cards", "enrol", "--username", "alice"],
        "5555555555554444\n",
    );
    assert!(refused(&outside).contains("none of threeds.acs.card_ranges"));
    let nobody = shonin_stdin(
        d,
        &["3ds", "cards", "enrol", "--username", "nobody"],
        "4012000000006005\n",
    );
    assert!(refused(&nobody).contains("no user nobody"));

    let out = ok(&shonin_stdin(
        d,
        &["3ds", "cards", "remove"],
        &format!("{pan}\n"),
    ));
    assert!(out.contains("removed card 401200******6013"), "{out}");
    assert!(
        refused(&shonin_stdin(
            d,
            &["3ds", "cards", "remove"],
            &format!("{pan}\n")
        ))
        .contains("not enrolled")
    );

    let export = ok(&shonin(d, &["audit", "export"]));
    let actions: Vec<String> = export
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| {
            e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("3ds.card."))
        })
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        actions.contains(&"3ds.card.enrol success".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"3ds.card.enrol failure".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"3ds.card.remove success".to_owned()),
        "{actions:?}"
    );
    // A number with a wrong check digit is refused and audit-logged, without the input.
    let luhn_refusal = export
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["target"] == "card -")
        .expect("the refused input is audit-logged");
    assert_eq!(luhn_refusal["outcome"], "failure");
    assert!(
        luhn_refusal["reason"]
            .as_str()
            .unwrap()
            .contains("check digit"),
        "{luhn_refusal}"
    );
    assert!(!export.contains("4012000000006014"));
    assert!(!export.contains(pan), "the audit log holds the card number");
    for entry in walk(d) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(pan.len()).any(|w| w == pan.as_bytes()),
            "{} holds the card number",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.file_name().is_some_and(|n| n != "shonin.toml") {
            out.push(path);
        }
    }
    out
}

/// `users list` and `clients list` are aligned tables whatever the lengths, and `--json` gives
/// the same rows to scripts.
#[test]
fn list_commands_print_aligned_tables_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in ["al", "a-rather-long-user-name-of-forty-chars-x"] {
        ok(&shonin_stdin(
            d,
            &["users", "add", "--username", name, "--password-stdin"],
            "a long enough password\n",
        ));
    }
    let list = ok(&shonin(d, &["users", "list"]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    // The second column starts at the same character on every line.
    let id_at = lines[0].find("ID").unwrap();
    for line in &lines[1..] {
        let second = line.char_indices().nth(id_at).map(|(i, _)| i).unwrap();
        assert!(line[..second].ends_with("  "), "{list}");
        assert_ne!(&line[second..second + 1], " ", "{list}");
    }
    let json: Value = serde_json::from_str(&ok(&shonin(d, &["users", "list", "--json"]))).unwrap();
    let names: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{json}");
    assert!(
        names.contains(&"a-rather-long-user-name-of-forty-chars-x"),
        "{json}"
    );
    assert_eq!(json[0]["disabled"], "no", "{json}");

    let json: Value =
        serde_json::from_str(&ok(&shonin(d, &["clients", "list", "--json"]))).unwrap();
    assert!(json.as_array().is_some(), "{json}");
    let keys: Value = serde_json::from_str(&ok(&shonin(d, &["keys", "list", "--json"]))).unwrap();
    assert_eq!(keys[0]["state"], "current", "{keys}");
}

/// The audit entries of an admin command name the operator: `--actor`, else the OS user, and
/// without any name in the environment the numeric user id, never a placeholder.
#[test]
fn admin_entries_name_the_operator() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let add = |actor: Option<&str>, name: &str| {
        let mut cmd = command(d, &["users", "add", "--username", name, "--password-stdin"]);
        cmd.env_remove("USER")
            .env_remove("LOGNAME")
            .env_remove("SUDO_USER")
            .env_remove("SHONIN_ACTOR");
        if let Some(a) = actor {
            cmd.args(["--actor", a]);
        }
        with_stdin(cmd, "a long enough password\n")
    };
    ok(&add(Some("ops-alice"), "u1"));
    ok(&add(None, "u2"));
    let err = refused(&add(Some("two\nlines"), "u3"));
    assert!(err.contains("--actor"), "{err}");
    let entries = audit_entries(d);
    let actor_of = |target: &str| {
        entries
            .iter()
            .find(|e| e["action"] == "users.add" && e["target"] == target)
            .map(|e| e["actor"]["id"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(actor_of("u1"), "ops-alice");
    let anonymous = actor_of("u2");
    assert!(
        anonymous.starts_with("uid:") && anonymous[4..].parse::<u32>().is_ok(),
        "{anonymous}"
    );
    assert!(!entries.iter().any(|e| e["actor"]["id"] == "unknown"));
}

/// A user locked by failed sign-ins (PCI DSS 8.3.4): `users enable` says the lock remains,
/// `users unlock` clears it and the count, each audit-logged.
#[tokio::test(flavor = "multi_thread")]
async fn an_operator_unlocks_a_locked_user() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&shonin_stdin(
        d,
        &["users", "add", "--username", "bob", "--password-stdin"],
        "a long enough password\n",
    ));
    let store = open_store(d).await;
    let bob = store
        .get_user_by_username(&Username::new("bob").unwrap())
        .await
        .unwrap()
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    for _ in 0..10 {
        store
            .record_failed_sign_in(&bob.id, now, 10, time::Duration::minutes(30))
            .await
            .unwrap();
    }
    store.close().await;

    let said = ok(&shonin(d, &["users", "enable", "bob"]));
    assert!(
        said.contains("still locked") && said.contains("users unlock bob"),
        "{said}"
    );
    let said = ok(&shonin(d, &["users", "unlock", "bob"]));
    assert!(
        said.starts_with("unlocked user bob (it was locked until "),
        "{said}"
    );
    let said = ok(&shonin(d, &["users", "unlock", "bob"]));
    assert!(said.contains("was not locked"), "{said}");
    let err = refused(&shonin(d, &["users", "unlock", "nobody"]));
    assert!(err.contains("no user nobody"), "{err}");

    let store = open_store(d).await;
    let bob = store.get_user(&bob.id).await.unwrap().unwrap();
    assert_eq!((bob.failed_attempts, bob.locked_until), (0, None));
    store.close().await;
    let entries = audit_entries(d);
    assert!(has_entry(
        &entries,
        "users.unlock",
        "bob",
        "admin",
        "success"
    ));
    assert!(has_entry(
        &entries,
        "users.unlock",
        "nobody",
        "admin",
        "failure"
    ));
}

/// `keys hsm-init` makes the keys `[keys.pkcs11]` names in a SoftHSM2 token (once), `keys list`
/// shows them with their keystore, and `keys rotate-kek` makes a new KEK; without an HSM KEK
/// it refuses and says what to do.
#[test]
fn hsm_keys_are_made_listed_and_the_kek_rotated() {
    let hsm = shonin_testkit::softhsm::token().expect("a SoftHSM2 token");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e = refused(&shonin(d, &["keys", "rotate-kek"]));
    assert!(e.contains("hsm-init") && e.contains("kek_label"), "{e}");
    std::fs::write(
        d.join("shonin.toml"),
        format!(
            "[keys.pkcs11]\nmodule = \"{}\"\ntoken_label = \"{}\"\nsigning_key_label = \"cli-signing\"\nkek_label = \"cli-kek\"\nserialize_calls = true\n",
            hsm.module.display(),
            hsm.token_label
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        command(d, args)
            .env("SHONIN_PKCS11_PIN", shonin_testkit::softhsm::PIN)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // Without the PIN the error names where it comes from.
    let e = refused(&shonin(d, &["keys", "hsm-init"]));
    assert!(e.contains("SHONIN_PKCS11_PIN"), "{e}");
    let made = ok(&run(&["keys", "hsm-init"]));
    assert_eq!(made.matches("made ").count(), 3, "{made}");
    assert!(
        made.contains("key-encryption key: pkcs11:cli-kek:"),
        "{made}"
    );
    let again = ok(&run(&["keys", "hsm-init"]));
    assert!(again.contains("nothing made"), "{again}");
    let list: Value = serde_json::from_str(&ok(&run(&["keys", "list", "--json"]))).unwrap();
    let hsm_rows: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["keystore"].as_str().unwrap().starts_with("hsm:"))
        .collect();
    assert_eq!(hsm_rows.len(), 3, "{list}");
    assert_eq!(hsm_rows[0]["state"], "current");
    assert_eq!(hsm_rows[0]["published"], "yes", "the HSM signs: {list}");
    assert_eq!(hsm_rows[1]["state"], "next");
    assert_eq!(hsm_rows[2]["alg"], "AES-KW");
    let rotated = ok(&run(&["keys", "rotate-kek"]));
    assert!(
        rotated.contains("re-encrypted 0 vault records"),
        "{rotated}"
    );
    // With the HSM signing, `keys rotate` makes the new key pair there: the old next key signs.
    let next_before = hsm_rows[1]["kid"].as_str().unwrap().to_owned();
    let signing = ok(&run(&["keys", "rotate"]));
    assert!(signing.contains("(made in the HSM)"), "{signing}");
    assert!(
        signing.contains(&format!("current  {next_before}")),
        "{signing}"
    );
    let list: Value = serde_json::from_str(&ok(&run(&["keys", "list", "--json"]))).unwrap();
    let states: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["keystore"] == "hsm:cli-signing")
        .map(|k| k["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["retired", "current", "next"], "{list}");
    let entries: Vec<Value> = ok(&run(&["audit", "export"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(entries.iter().any(|e| e["action"] == "keys.hsm.create"));
    assert!(entries.iter().any(|e| e["action"] == "keys.rotate_kek"));
    // A wrong PIN stops every command that opens the HSM, naming it.
    let e = refused(
        &command(d, &["keys", "list"])
            .env("SHONIN_PKCS11_PIN", "wrong")
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    assert!(e.contains("PIN was refused"), "{e}");
}

/// CIBA clients from the command line: the grant type, the delivery mode and, for ping, the
/// notification endpoint; the registration rules name the field.
#[test]
fn ciba_clients_from_flags() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let jwks = write_jwks(d, "jwks.json", &public_jwks());
    let add = |id: &str, extra: &[&str]| {
        let mut args = vec![
            "clients",
            "add",
            "--client-id",
            id,
            "--name",
            "CIBA App",
            "--jwks-file",
            &jwks,
            "--scope",
            "openid",
            "--grant-type",
            "urn:openid:params:grant-type:ciba",
        ];
        args.extend_from_slice(extra);
        shonin(d, &args)
    };
    ok(&add(
        "ping-app",
        &[
            "--backchannel-mode",
            "ping",
            "--backchannel-notification-endpoint",
            "https://rp.example/ciba",
        ],
    ));
    let shown: Value =
        serde_json::from_str(&ok(&shonin(d, &["clients", "show", "ping-app"]))).unwrap();
    assert_eq!(shown["backchannel_token_delivery_mode"], "ping");
    assert_eq!(
        shown["backchannel_client_notification_endpoint"],
        "https://rp.example/ciba"
    );
    assert_eq!(
        shown["grant_types"],
        json!(["urn:openid:params:grant-type:ciba"])
    );
    // Switching to poll drops the endpoint.
    ok(&shonin(
        d,
        &[
            "clients",
            "update",
            "ping-app",
            "--backchannel-mode",
            "poll",
        ],
    ));
    let shown: Value =
        serde_json::from_str(&ok(&shonin(d, &["clients", "show", "ping-app"]))).unwrap();
    assert_eq!(shown["backchannel_token_delivery_mode"], "poll");
    assert!(
        shown
            .get("backchannel_client_notification_endpoint")
            .is_none()
    );

    let err = refused(&add("no-mode", &[]));
    assert!(err.contains("backchannel_token_delivery_mode"), "{err}");
    let err = refused(&add("push-app", &["--backchannel-mode", "push"]));
    assert!(err.contains("push is not supported"), "{err}");
    let err = refused(&add(
        "http-ping",
        &[
            "--backchannel-mode",
            "ping",
            "--backchannel-notification-endpoint",
            "http://rp.example/ciba",
        ],
    ));
    assert!(
        err.contains("backchannel_client_notification_endpoint"),
        "{err}"
    );
}

/// Issue 28: support can see an account, remove a lost passkey and set a new password that also
/// clears a lock and turns passkey-only off; each change is audited and the password is never
/// printed.
#[tokio::test]
async fn support_shows_a_user_removes_a_lost_passkey_and_resets_the_password() {
    use shonin_passkeys::{PasskeyStore, StoredPasskey};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&shonin_stdin(
        d,
        &["users", "add", "--username", "dana", "--password-stdin"],
        "the first long password\n",
    ));
    let store = open_store(d).await;
    let user = store
        .get_user_by_username(&Username::new("dana").unwrap())
        .await
        .unwrap()
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    for id in ["Y3JlZC1waG9uZQ", "Y3JlZC1sYXB0b3A"] {
        store
            .insert_passkey(&StoredPasskey {
                credential_id: id.into(),
                user_id: user.id.clone(),
                name: format!("key {id}"),
                credential: "{}".into(),
                aaguid: uuid::Uuid::nil(),
                backup_eligible: true,
                backup_state: true,
                transports: Vec::new(),
                sign_count: 0,
                created_at: now,
                last_used_at: None,
            })
            .await
            .unwrap();
    }
    store.set_passkey_only(&user.id, true).await.unwrap();
    for _ in 0..10 {
        store
            .record_failed_sign_in(&user.id, now, 10, time::Duration::minutes(30))
            .await
            .unwrap();
    }
    store.close().await;

    let shown: Value =
        serde_json::from_str(&ok(&shonin(d, &["users", "show", "dana", "--json"]))).unwrap();
    assert_eq!(shown["passkeys"], 2);
    assert_eq!(shown["passkey_only"], true);
    assert!(shown["locked_until"].is_string(), "{shown}");
    assert!(!shown.to_string().contains("argon2"), "never the hash");
    let listed: Value = serde_json::from_str(&ok(&shonin(
        d,
        &["users", "passkeys", "list", "dana", "--json"],
    )))
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");

    // The phone was lost: its passkey goes; then the laptop's, which leaves none.
    ok(&shonin(
        d,
        &["users", "passkeys", "remove", "dana", "Y3JlZC1waG9uZQ"],
    ));
    let err = refused(&shonin(
        d,
        &["users", "passkeys", "remove", "dana", "Y3JlZC1waG9uZQ"],
    ));
    assert!(err.contains("no passkey"), "{err}");
    let out = ok(&shonin(
        d,
        &["users", "passkeys", "remove", "dana", "Y3JlZC1sYXB0b3A"],
    ));
    assert!(out.contains("no passkey left"), "{out}");

    let secret = "a brand new long password";
    let o = shonin_stdin(
        d,
        &["users", "reset-password", "dana", "--password-stdin"],
        &format!("{secret}\n"),
    );
    let out = ok(&o);
    assert!(out.contains("passkey-only is off"), "{out}");
    assert!(!out.contains(secret) && !stderr(&o).contains(secret));
    let err = refused(&shonin_stdin(
        d,
        &["users", "reset-password", "nobody", "--password-stdin"],
        &format!("{secret}\n"),
    ));
    assert!(err.contains("no user nobody"), "{err}");

    let out = ok(&shonin(d, &["users", "sessions", "revoke", "dana"]));
    assert!(out.contains("ended every session of dana"), "{out}");

    let store = open_store(d).await;
    let after = store.get_user(&user.id).await.unwrap().unwrap();
    assert!(after.sessions_valid_after.is_some());
    assert!(!after.passkey_only);
    assert_eq!(after.failed_attempts, 0);
    assert!(after.locked_until.is_none());
    let hash = after.password_hash.unwrap();
    assert!(verify_password(secret.as_bytes(), &hash));
    assert!(!verify_password(b"the first long password", &hash));
    store.close().await;

    let entries = audit_entries(d);
    for action in [
        "users.passkeys.remove",
        "users.reset_password",
        "users.sessions.revoke",
    ] {
        assert!(
            entries
                .iter()
                .any(|e| e["action"] == action && e["outcome"] == "success"),
            "{action} in {entries:#?}"
        );
    }
    assert!(!serde_json::to_string(&entries).unwrap().contains(secret));
}
