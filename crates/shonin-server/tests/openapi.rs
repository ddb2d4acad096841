//! The OpenAPI document served at `/openapi.json` describes exactly the routes the router
//! declares: a route added to `src/routes/mod.rs` without documenting it fails here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::http::{StatusCode, header};
use common::{TestApp, body_json};
use serde_json::Value;
use std::collections::BTreeSet;

const DOCUMENT: &str = include_str!("../static/openapi.json");
/// The files that declare routes: the application router and the routers it merges.
const ROUTER_SOURCES: [&str; 9] = [
    include_str!("../src/routes/mod.rs"),
    include_str!("../src/routes/approve.rs"),
    include_str!("../src/routes/ciba.rs"),
    include_str!("../src/routes/oauth/mod.rs"),
    include_str!("../src/routes/threeds.rs"),
    include_str!("../src/routes/threeds_server.rs"),
    include_str!("../src/routes/transactions.rs"),
    include_str!("../src/routes/vault.rs"),
    include_str!("../src/routes/vault_nonces.rs"),
];

/// The methods a path item may hold (OpenAPI 3.1 §4.8.9), lower case as in the document and as
/// axum's `routing` functions are named.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("static/openapi.json is not JSON")
}

/// The value of a path constant the router names instead of a literal.
fn path_constant(expr: &str) -> String {
    use shonin_oauth::metadata as m;
    let name = expr.rsplit("::").next().unwrap_or(expr);
    let value = match name {
        "OPENID_CONFIGURATION_PATH" => m::OPENID_CONFIGURATION_PATH,
        "OAUTH_AUTHORIZATION_SERVER_PATH" => m::OAUTH_AUTHORIZATION_SERVER_PATH,
        "AUTHORIZATION_ENDPOINT_PATH" => m::AUTHORIZATION_ENDPOINT_PATH,
        "TOKEN_ENDPOINT_PATH" => m::TOKEN_ENDPOINT_PATH,
        "PAR_ENDPOINT_PATH" => m::PAR_ENDPOINT_PATH,
        "USERINFO_ENDPOINT_PATH" => m::USERINFO_ENDPOINT_PATH,
        "INTROSPECTION_ENDPOINT_PATH" => m::INTROSPECTION_ENDPOINT_PATH,
        "REVOCATION_ENDPOINT_PATH" => m::REVOCATION_ENDPOINT_PATH,
        "JWKS_PATH" => m::JWKS_PATH,
        "BACKCHANNEL_AUTHENTICATION_PATH" => m::BACKCHANNEL_AUTHENTICATION_PATH,
        _ => panic!("route path `{expr}` is neither a string literal nor a known constant"),
    };
    value.to_owned()
}

/// The text from just after an opening parenthesis up to (not including) its closing one,
/// skipping string literals.
fn balanced(text: &str) -> &str {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' => depth += 1,
            ')' if depth == 0 => return &text[..i],
            ')' => depth -= 1,
            _ => {}
        }
    }
    panic!("unbalanced parentheses in the router source");
}

/// Splits `path, handlers` at the first comma outside parentheses.
fn split_arguments(args: &str) -> (&str, &str) {
    let mut depth = 0usize;
    let mut in_string = false;
    for (i, c) in args.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => depth -= 1,
            ',' if !in_string && depth == 0 => return (&args[..i], &args[i + 1..]),
            _ => {}
        }
    }
    panic!("a .route( call without two arguments: {args}");
}

/// The method functions called at the top level of a method router expression, e.g.
/// `get(a::b).post(a::b)` → `get`, `post`.
fn methods_of(handlers: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut word = String::new();
    for c in handlers.chars() {
        match c {
            '(' => {
                if depth == 0 {
                    let name = word.rsplit("::").next().unwrap_or_default().to_owned();
                    assert!(
                        METHODS.contains(&name.as_str()),
                        "unsupported method router `{name}(…)` in `{}`: teach tests/openapi.rs",
                        handlers.trim()
                    );
                    out.push(name);
                }
                word.clear();
                depth += 1;
            }
            ')' => depth -= 1,
            c if depth == 0 && (c.is_alphanumeric() || c == '_' || c == ':') => word.push(c),
            _ if depth == 0 => word.clear(),
            _ => {}
        }
    }
    assert!(!out.is_empty(), "no method in `{}`", handlers.trim());
    out
}

/// Every `(path, method)` the routers in [`ROUTER_SOURCES`] declare, read from their source.
fn declared_routes() -> BTreeSet<(String, String)> {
    let code: String = ROUTER_SOURCES
        .iter()
        .flat_map(|s| s.lines())
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| format!("{l}\n"))
        .collect();
    // Routes added any other way would escape this scan.
    for other in [".nest(", ".route_service(", ".nest_service("] {
        assert!(
            !code.contains(other),
            "the router uses `{other}`: teach tests/openapi.rs to read it"
        );
    }
    // Merged routers must be among the scanned sources.
    for merged in code.split(".merge(").skip(1) {
        let call = merged.split(')').next().unwrap_or_default();
        let name = call
            .trim_end_matches('(')
            .rsplit("::")
            .next()
            .unwrap_or_default();
        assert!(
            code.contains(&format!("fn {name}() -> Router<AppState>")),
            "the router merges `{call})`, which is not in ROUTER_SOURCES: add its file"
        );
    }
    let mut out = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find(".route(") {
        let after = &rest[at + ".route(".len()..];
        let args = balanced(after);
        let (path, handlers) = split_arguments(args);
        let path = path.trim();
        let path = match path.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
            Some(literal) => literal.to_owned(),
            None => path_constant(path),
        };
        for method in methods_of(handlers) {
            assert!(
                out.insert((path.clone(), method.clone())),
                "{method} {path} is routed twice"
            );
        }
        rest = &after[args.len()..];
    }
    out
}

/// Every `(path, method)` the document describes.
fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths is an object");
    let mut out = BTreeSet::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is an object");
        for key in item.keys().filter(|k| METHODS.contains(&k.as_str())) {
            out.insert((path.clone(), key.clone()));
        }
    }
    out
}

#[test]
fn document_is_openapi_3_1() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Shonin");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(doc["paths"].as_object().is_some_and(|p| !p.is_empty()));
}

#[test]
fn every_route_is_documented_and_nothing_else() {
    let declared = declared_routes();
    // The scan itself works: it sees literal paths, constants and chained methods.
    for expected in [
        ("/openapi.json", "get"),
        ("/.well-known/openid-configuration", "get"),
        ("/userinfo", "get"),
        ("/userinfo", "post"),
    ] {
        assert!(
            declared.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "the router scan missed {} {}",
            expected.1,
            expected.0
        );
    }
    let documented = documented_routes(&document());
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    let not_routed: Vec<_> = documented.difference(&declared).collect();
    assert!(
        undocumented.is_empty() && not_routed.is_empty(),
        "routes missing from static/openapi.json: {undocumented:?}; \
         documented but not routed: {not_routed:?}"
    );
}

#[tokio::test]
async fn served_at_openapi_json() {
    let app = TestApp::new().await;
    let resp = app.get("/openapi.json").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        resp.headers()[header::CACHE_CONTROL],
        "public, max-age=3600"
    );
    assert_eq!(body_json(resp).await, document());
}

/// Collects every `$ref` value and every security requirement's scheme names.
fn walk<'a>(v: &'a Value, refs: &mut Vec<&'a str>, schemes: &mut BTreeSet<&'a str>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                match (k.as_str(), child) {
                    ("$ref", Value::String(r)) => refs.push(r),
                    ("security", Value::Array(reqs)) => {
                        for req in reqs {
                            let req = req.as_object().expect("a security requirement");
                            schemes.extend(req.keys().map(String::as_str));
                        }
                    }
                    _ => walk(child, refs, schemes),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| walk(i, refs, schemes)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    let doc = document();
    let mut refs = Vec::new();
    let mut schemes = BTreeSet::new();
    walk(&doc, &mut refs, &mut schemes);
    assert!(!refs.is_empty());
    for r in refs {
        let pointer = r
            .strip_prefix("#/components/")
            .map(|_| &r[1..])
            .unwrap_or_else(|| panic!("`{r}` is not a local component reference"));
        assert!(doc.pointer(pointer).is_some(), "`{r}` does not resolve");
    }
    for name in schemes {
        assert!(
            doc["components"]["securitySchemes"].get(name).is_some(),
            "security scheme `{name}` is not defined"
        );
    }
}

#[test]
fn operation_ids_are_unique() {
    let doc = document();
    let mut seen = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for (method, op) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                let id = op["operationId"]
                    .as_str()
                    .expect("every operation has an id");
                assert!(seen.insert(id.to_owned()), "operationId `{id}` is repeated");
            }
        }
    }
}
