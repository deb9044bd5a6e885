//! `GET /api/openapi.json`: served, OpenAPI 3.1, every JSON route with its methods and
//! statuses, and real answers shaped as the document says.

use std::collections::BTreeSet;

use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::fake_provider::{FakeProvider, Key};
use crate::helpers::TestApp;

async fn document(app: &TestApp) -> Value {
    let response = reqwest::get(app.url("/api/openapi.json")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    response.json().await.unwrap()
}

/// `{"$ref": "#/components/…"}` resolved; anything else as it is.
fn resolve<'d>(doc: &'d Value, node: &'d Value) -> &'d Value {
    match node["$ref"].as_str() {
        Some(pointer) => {
            resolve(doc, doc.pointer(pointer.trim_start_matches('#')).unwrap_or_else(|| panic!("{pointer}")))
        }
        None => node,
    }
}

/// The JSON schema of one documented answer.
fn schema<'d>(doc: &'d Value, path: &str, method: &str, status: u16) -> &'d Value {
    let operation = &doc["paths"][path][method];
    let response = resolve(doc, &operation["responses"][status.to_string()]);
    let schema = &response["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} documents no JSON body for {status}");
    resolve(doc, schema)
}

fn is_type(value: &Value, name: &str) -> bool {
    match name {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        _ => false,
    }
}

/// Checks `value` against `schema` as far as these schemas go (types, enums, required and
/// known properties, array items); returns what does not fit.
fn mismatches(doc: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() && !types.iter().any(|t| is_type(value, t)) {
        out.push(format!("{at}: {value} is not {types:?}"));
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            out.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let (Some(object), Some(properties)) = (value.as_object(), schema["properties"].as_object()) {
        for required in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !object.contains_key(required) {
                out.push(format!("{at}: required {required} is missing"));
            }
        }
        for (key, field) in object {
            match properties.get(key) {
                Some(property) => mismatches(doc, property, field, &format!("{at}.{key}"), out),
                None => out.push(format!("{at}: {key} is not in the schema")),
            }
        }
    }
    if let (Some(items), Some(item_schema)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            mismatches(doc, item_schema, item, &format!("{at}[{i}]"), out);
        }
    }
}

/// A real answer fits its documented schema, and carries every property the schema names
/// (these bodies never leave one out).
fn assert_fits(doc: &Value, (path, method, status): (&str, &str, u16), body: &Value) {
    let schema = schema(doc, path, method, status);
    let mut wrong = Vec::new();
    mismatches(doc, schema, body, "$", &mut wrong);
    assert!(wrong.is_empty(), "{method} {path} {status}: {body} does not fit: {wrong:?}");
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

fn properties(doc: &Value, schema: &Value) -> BTreeSet<String> {
    keys(&resolve(doc, schema)["properties"])
}

#[tokio::test]
async fn the_document_is_served_as_openapi_3_1() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    assert_eq!(doc["info"]["title"], "Doorman");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(
        schemes["access_cookie"],
        json!({"type": "apiKey", "in": "cookie", "name": "access_token", "description": schemes["access_cookie"]["description"]})
    );
}

#[tokio::test]
async fn every_json_route_is_listed_with_its_methods_and_statuses() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let edge = [414, 431, 500];
    let body = [400, 413, 415, 422, 429, 503];
    let expected: &[(&str, &str, &[u16])] = &[
        ("/api/v1/auth/{id}/", "post", &[200, 401, 403, 404]),
        ("/api/v1/auth/token/refresh/", "post", &[200, 401, 403]),
        ("/chat", "get", &[200, 303, 401, 503]),
        ("/.well-known/jwks.json", "get", &[200, 404]),
        ("/auth/verify", "get", &[204, 400, 401, 403, 503]),
        ("/auth/forward", "get", &[200, 302, 307, 400, 401, 403, 503]),
        ("/healthz", "get", &[200]),
        ("/readyz", "get", &[200, 503]),
        ("/login", "get", &[200, 303, 400, 429, 503]),
        ("/api/openapi.json", "get", &[200]),
    ];
    let listed: BTreeSet<String> = keys(&doc["paths"]);
    let wanted: BTreeSet<String> = expected.iter().map(|(path, ..)| path.to_string()).collect();
    assert_eq!(listed, wanted, "the paths, trailing slashes as in the contract");
    for (path, method, statuses) in expected {
        assert_eq!(keys(&doc["paths"][path]), BTreeSet::from([method.to_string()]), "{path}: its methods");
        let mut want: BTreeSet<u16> = statuses.iter().chain(&edge).copied().collect();
        if *method == "post" {
            want.extend(body);
        }
        let got: BTreeSet<u16> =
            keys(&doc["paths"][path][method]["responses"]).iter().map(|s| s.parse().unwrap()).collect();
        assert_eq!(got, want, "{method} {path}: its statuses");
        for status in &got {
            let response = resolve(&doc, &doc["paths"][path][method]["responses"][status.to_string()]);
            assert!(response["description"].is_string(), "{method} {path} {status}: a $ref that does not resolve");
        }
    }
    let rate_limited = resolve(&doc, &doc["paths"]["/login"]["get"]["responses"]["429"]);
    assert!(rate_limited["headers"]["Retry-After"].is_object(), "429 names Retry-After");
    let unauthenticated = &doc["paths"]["/chat"]["get"]["responses"]["401"];
    assert!(unauthenticated["headers"]["WWW-Authenticate"].is_object(), "401 names WWW-Authenticate");
}

#[tokio::test]
async fn real_answers_fit_the_documented_schemas() {
    let key = Key::trusted();
    let fake = FakeProvider::start(&[&key]).await;
    let jwt_key = format!("{}/tests/fixtures/access_ed25519.pem", env!("CARGO_MANIFEST_DIR"));
    let app = fake.app(vec![("JWT_PRIVATE_KEY_FILE", jwt_key)]).await;
    let doc = document(&app).await;
    let http = reqwest::Client::new();
    let call = |request: reqwest::RequestBuilder| async move {
        let response = request.header(header::ACCEPT, "application/json").send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap_or(Value::Null))
    };

    let mut claims = fake.claims("openapi-user", "");
    claims.as_object_mut().unwrap().remove("nonce");
    let login = http.post(app.url("/api/v1/auth/google/")).json(&json!({ "token": key.sign(&claims) }));
    let (status, signed_in) = call(login).await;
    assert_eq!(status, 200, "{signed_in}");
    assert_fits(&doc, ("/api/v1/auth/{id}/", "post", 200), &signed_in);
    let user_schema = &schema(&doc, "/api/v1/auth/{id}/", "post", 200)["properties"]["user"];
    assert_eq!(keys(&signed_in["user"]), properties(&doc, user_schema), "every user field is sent");

    let (status, pair) =
        call(http.post(app.url("/api/v1/auth/token/refresh/")).json(&json!({ "refresh": signed_in["refresh"] }))).await;
    assert_eq!(status, 200, "{pair}");
    assert_eq!(keys(&pair), properties(&doc, schema(&doc, "/api/v1/auth/token/refresh/", "post", 200)));
    assert_fits(&doc, ("/api/v1/auth/token/refresh/", "post", 200), &pair);
    let (status, reused) =
        call(http.post(app.url("/api/v1/auth/token/refresh/")).json(&json!({ "refresh": signed_in["refresh"] }))).await;
    assert_eq!((status, reused["error"].as_str()), (401, Some("token_reused")));
    assert_fits(&doc, ("/api/v1/auth/token/refresh/", "post", 401), &reused);
    let (status, incomplete) = call(http.post(app.url("/api/v1/auth/token/refresh/")).json(&json!({}))).await;
    assert_eq!(status, 422);
    assert_fits(&doc, ("/api/v1/auth/token/refresh/", "post", 422), &incomplete);

    let access = pair["access"].as_str().unwrap();
    let (status, chat) = call(http.get(app.url("/chat")).bearer_auth(access)).await;
    assert_eq!(status, 200);
    assert_fits(&doc, ("/chat", "get", 200), &chat);
    assert_eq!(keys(&chat["user"]), properties(&doc, &schema(&doc, "/chat", "get", 200)["properties"]["user"]));
    let (status, refused) = call(http.get(app.url("/chat"))).await;
    assert_eq!(status, 401);
    assert_fits(&doc, ("/chat", "get", 401), &refused);

    for (path, status) in [("/healthz", 200), ("/readyz", 200), ("/.well-known/jwks.json", 200)] {
        let (got, body) = call(http.get(app.url(path))).await;
        assert_eq!(got, status, "{path}");
        assert_fits(&doc, (path, "get", status), &body);
    }

    let verify = http.get(app.url("/auth/verify")).bearer_auth(access).send().await.unwrap();
    assert_eq!(verify.status(), StatusCode::NO_CONTENT);
    let documented = resolve(&doc, &doc["paths"]["/auth/verify"]["get"]["responses"]["204"]);
    for name in ["X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Jwt"] {
        assert!(verify.headers().contains_key(name), "{name} is sent");
        assert!(documented["headers"][name].is_object(), "{name} is documented");
    }
}
