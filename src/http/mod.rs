//! HTTP concerns outside the routes: the edge middleware (size limits, request ids, error
//! negotiation, security headers, the request log), rate limits, and request facts several
//! routes need: the client's address behind trusted proxies, the device, same-origin posts.

mod access_log;
pub mod bad_input;
mod client_ip;
pub mod cookie_updates;
mod device;
mod edge;
mod limits;
pub mod negotiate;
pub mod rate_limit;
mod request_id;
mod same_origin;
mod security_headers;

pub use client_ip::client_ip;
pub use device::{device, user_agent};
pub use edge::{edge, Edge};
pub use same_origin::SameOrigin;
pub use security_headers::{page_policy_with_form_targets, IDENTITY_HEADER};
