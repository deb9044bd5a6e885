//! One askama template per page; all extend `templates/base.html`. Page models hold only what
//! the page shows, already in words; the routes build them.

use askama::Template;

/// Signed-in user as pages show them.
pub struct Viewer {
    pub name: String,
    pub email: Option<String>,
    pub picture: Option<String>,
}

/// `GET /`: login link, or the signed-in user's name and links.
#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub viewer: Option<Viewer>,
    /// "Login with Google" with one provider; "Sign in" with several.
    pub login_label: String,
}

/// A provider as the sign-in and account pages show it (and `/login` lists it as JSON).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ProviderButton {
    #[schema(example = "google")]
    pub id: String,
    #[schema(example = "Google")]
    pub name: String,
    /// Where the sign-in with this provider starts (`next` kept).
    pub login_url: String,
}

/// `GET /login` with several providers: one button each.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub providers: Vec<ProviderButton>,
}

/// One sign-in method on the account page.
pub struct IdentityView {
    pub id: String,
    pub provider_id: String,
    pub provider_name: String,
    pub email: Option<String>,
    pub connected: String,
    pub last_used: String,
    /// The current session signed in with it.
    pub current: bool,
}

/// `GET /account`: the connected sign-in methods, and the providers that can be connected.
#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub name: String,
    pub connected: Vec<IdentityView>,
    pub can_disconnect: bool,
    pub available: Vec<ProviderButton>,
}

/// `GET /chat`: greets the signed-in user.
#[derive(Template)]
#[template(path = "chat.html")]
pub struct ChatPage {
    pub viewer: Viewer,
}

/// One row of the sessions page.
pub struct SessionView {
    pub id: String,
    pub device: String,
    pub ip: String,
    pub created: String,
    pub last_used: String,
    /// The name of the provider it signed in with.
    pub provider: String,
    pub current: bool,
}

/// One line of the sessions page's "Recent activity".
pub struct ActivityView {
    /// The event's name (`sign_in`, …), for scripts and tests.
    pub kind: String,
    /// What happened, in words.
    pub what: String,
    pub when: String,
    pub device: String,
    pub ip: String,
}

/// `GET /sessions`: where the user is signed in, with revoke buttons, and their recent
/// security events.
#[derive(Template)]
#[template(path = "sessions.html")]
pub struct SessionsPage {
    pub name: String,
    pub sessions: Vec<SessionView>,
    pub activity: Vec<ActivityView>,
}

/// Every error a browser sees.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub title: &'static str,
    pub message: String,
    pub status: u16,
}

/// The stylesheet, compiled in so the binary is the whole app.
pub const STYLESHEET: &str = include_str!("../templates/app.css");
