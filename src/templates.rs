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

/// One row of the sessions page.
pub struct SessionView {
    pub id: String,
    pub device: String,
    pub ip: String,
    pub created: String,
    pub last_used: String,
    pub current: bool,
}

impl SessionView {
    pub fn new(row: crate::db::sessions::SessionRow, current: Option<uuid::Uuid>) -> Self {
        let when = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
        SessionView {
            id: row.id.to_string(),
            device: row.user_agent.unwrap_or_else(|| "unknown device".to_owned()),
            ip: row.ip.unwrap_or_else(|| "unknown".to_owned()),
            created: when(row.created_at),
            last_used: when(row.last_used_at),
            current: Some(row.id) == current,
        }
    }
}

/// `GET /sessions`: where the user is signed in, with revoke buttons.
#[derive(Template)]
#[template(path = "sessions.html")]
pub struct SessionsPage {
    pub name: String,
    pub sessions: Vec<SessionView>,
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
