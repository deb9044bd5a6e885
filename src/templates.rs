//! One askama template per page; all extend `templates/base.html`.

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
}

/// `GET /chat`: greets the signed-in user.
#[derive(Template)]
#[template(path = "chat.html")]
pub struct ChatPage {
    pub viewer: Viewer,
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
