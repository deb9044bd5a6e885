//! Cookie shadowing: credential and login cookies planted beside ours are believed in neither
//! copy; `__Host-` names as an option.

use reqwest::{header, StatusCode};

use crate::helpers::{location, unique, Options, TestApp};

#[tokio::test]
async fn a_credential_cookie_that_arrives_twice_signs_nobody_in_and_both_are_cleared() {
    let app = TestApp::spawn().await;
    let victim = app.signed_in(&unique("victim")).await;
    let attacker = app.signed_in(&unique("attacker")).await;
    let (theirs, ours) = (attacker.cookie("access_token").unwrap(), victim.cookie("access_token").unwrap());
    // A sibling app planted the attacker's token with a longer Path: the browser sends it first.
    for (name, planted, own) in [
        ("access_token", theirs.clone(), ours.clone()),
        ("refresh_token", attacker.cookie("refresh_token").unwrap(), victim.cookie("refresh_token").unwrap()),
    ] {
        let cookie = format!("{name}={planted}; {name}={own}");
        let json = reqwest::Client::new()
            .get(app.url("/chat"))
            .header(header::COOKIE, &cookie)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(json.status(), StatusCode::UNAUTHORIZED, "{name}: signed in as nobody, not as the attacker");
        let cleared = crate::helpers::set_cookies(&json);
        for credential in ["access_token", "refresh_token"] {
            assert!(cleared.get(credential).is_some_and(|c| c.contains("Max-Age=0")), "{name}: {cleared:?}");
        }
        let verify =
            reqwest::Client::new().get(app.url("/auth/verify")).header(header::COOKIE, &cookie).send().await.unwrap();
        assert_eq!(verify.status(), StatusCode::UNAUTHORIZED, "{name}: nginx lets nobody through");
    }
    // Each token alone still works: nothing was revoked.
    let alone = reqwest::Client::new()
        .get(app.url("/chat"))
        .header(header::COOKIE, format!("access_token={ours}"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(alone.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_planted_login_cookie_beside_ours_finishes_no_login() {
    let app = TestApp::spawn().await;
    let attacker = app.browser();
    let authorize = attacker.start_login(None).await;
    let planted = attacker.cookie("doorman_login").unwrap();
    let callback = attacker.sign_in_at_provider(&authorize, &unique("csrf")).await;
    // Login CSRF through cookie shadowing: the victim has a login cookie of its own, the
    // attacker's is planted beside it, and the victim is sent to the attacker's callback.
    let victim = app.browser();
    victim.start_login(None).await;
    let own = victim.cookie("doorman_login").unwrap();
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(callback.as_str())
        .header(header::COOKIE, format!("doorman_login={planted}; doorman_login={own}"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(!crate::helpers::set_cookies(&response).contains_key("access_token"));
}

#[tokio::test]
async fn host_prefixed_cookie_names_are_an_option() {
    let app = TestApp::spawn_with(Options {
        env: vec![("COOKIE_HOST_PREFIX", "true".into()), ("COOKIE_SECURE", "true".into())],
        ..Default::default()
    })
    .await;
    // Over plain http the client keeps no Secure cookie; the attributes are read off the answers.
    let browser = app.browser();
    let login = browser.get("/login").await;
    let started = crate::helpers::set_cookies(&login);
    let login_cookie = started.get("__Host-doorman_login").expect("the login cookie has the __Host- name");
    assert!(login_cookie.contains("Secure") && login_cookie.contains("Path=/") && !login_cookie.contains("Domain"));
    let authorize = reqwest::Url::parse(location(&login)).unwrap();
    let value = login_cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    let callback = browser.sign_in_at_provider(&authorize, &unique("prefixed")).await;
    let signed_in = browser
        .client
        .get(callback)
        .header(header::COOKIE, format!("__Host-doorman_login={value}"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let issued = crate::helpers::set_cookies(&signed_in);
    let access = issued.get("__Host-access_token").expect("__Host-access_token");
    assert!(access.contains("Secure") && access.contains("Path=/") && !access.contains("Domain"), "{access}");
    assert!(issued.contains_key("__Host-refresh_token"));
    let token = access.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    let chat = reqwest::Client::new()
        .get(app.url("/chat"))
        .header(header::COOKIE, format!("__Host-access_token={token}"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(chat.status(), StatusCode::OK);
}
