//! Reading variables: where they come from (`Source`) and how each kind of value is parsed, with
//! one error that names the variable. Knows nothing of what the app does with the values.

use ipnet::IpNet;
use secrecy::SecretString;
use url::Url;

/// A variable that is missing or wrong; its message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {var} {problem}")]
pub struct ConfigError {
    pub var: String,
    pub problem: String,
}

pub(super) fn problem(var: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError { var: var.to_owned(), problem: problem.into() }
}

/// Where values come from; a trait so tests can pass a map instead of the process environment.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct Env;

impl Source for Env {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Source for std::collections::HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        std::collections::HashMap::get(self, name).cloned()
    }
}

/// Typed access to a `Source`; blank values count as unset.
pub(super) struct Reader<S>(pub S);

impl<S: Source> Reader<S> {
    pub fn optional(&self, var: &str) -> Option<String> {
        self.0.get(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    pub fn required(&self, var: &str) -> Result<String, ConfigError> {
        self.optional(var).ok_or_else(|| problem(var, "is required but not set"))
    }

    pub fn secret(&self, var: &str, min_len: usize) -> Result<SecretString, ConfigError> {
        let value = self.required(var)?;
        if value.len() < min_len {
            return Err(problem(var, format!("must be at least {min_len} bytes long (it has {})", value.len())));
        }
        Ok(SecretString::from(value))
    }

    pub fn url(&self, var: &str, default: &str) -> Result<Url, ConfigError> {
        let raw = self.optional(var).unwrap_or_else(|| default.to_owned());
        let url = Url::parse(&raw).map_err(|e| problem(var, format!("is not a valid URL ({e}): {raw}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(problem(var, format!("must be an http(s) URL with a host: {raw}")));
        }
        Ok(url)
    }

    pub fn parse<T: std::str::FromStr>(&self, var: &str, default: T, what: &str) -> Result<T, ConfigError> {
        match self.optional(var) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|_| problem(var, format!("must be {what}, got {raw:?}"))),
        }
    }

    /// A whole number of seconds, at most `max`.
    pub fn seconds(&self, var: &str, default: u64, max: u64) -> Result<std::time::Duration, ConfigError> {
        let seconds = self.parse(var, default, "a number of seconds")?;
        // Upper bounds keep every timestamp and cookie age far from overflow, and flag typos.
        if seconds > max {
            return Err(problem(var, format!("must be at most {max} seconds")));
        }
        Ok(std::time::Duration::from_secs(seconds))
    }

    /// A whole number of days, 1 to 3650 (ten years).
    pub fn days(&self, var: &str, default: u64) -> Result<std::time::Duration, ConfigError> {
        let days: u64 = self.parse(var, default, "a whole number of days")?;
        if !(1..=3650).contains(&days) {
            return Err(problem(var, format!("must be between 1 and 3650 days, got {days}")));
        }
        Ok(std::time::Duration::from_secs(days * 24 * 3600))
    }

    /// A comma-separated list of origins (`https://app.example.com`), no paths.
    pub fn origins(&self, var: &str) -> Result<Vec<String>, ConfigError> {
        let Some(raw) = self.optional(var) else { return Ok(Vec::new()) };
        raw.split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| {
                let url = Url::parse(o)
                    .map_err(|_| problem(var, format!("{o:?} is not an origin like https://app.example.com")))?;
                let origin = url.origin().ascii_serialization();
                // The URL standard allows `{`, `}`, `"` and backquotes in hosts; HTTP headers and
                // actix-cors (which parses with `http::Uri`) do not, and the app would not start
                // (found by fuzzing).
                let usable = actix_web::http::Uri::try_from(origin.as_str()).is_ok()
                    && actix_web::http::header::HeaderValue::from_str(&origin).is_ok();
                if origin == "null" || o.trim_end_matches('/') != origin || !usable {
                    return Err(problem(var, format!("{o:?} is not an origin like https://app.example.com")));
                }
                Ok(origin)
            })
            .collect()
    }

    /// A comma-separated list of lowercase domain names (`example.com`).
    pub fn domains(&self, var: &str) -> Result<Vec<String>, ConfigError> {
        let Some(raw) = self.optional(var) else { return Ok(Vec::new()) };
        raw.split(',')
            .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .map(|d| {
                let valid = d.contains('.')
                    && d.split('.')
                        .all(|label| !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
                if valid {
                    Ok(d)
                } else {
                    Err(problem(var, format!("{d:?} is not a domain name like example.com")))
                }
            })
            .collect()
    }

    /// A comma-separated list of IP addresses or networks; `default` when unset.
    pub fn networks(&self, var: &str, default: &str) -> Result<Vec<IpNet>, ConfigError> {
        let raw = self.optional(var).unwrap_or_else(|| default.to_owned());
        raw.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                n.parse::<IpNet>()
                    .or_else(|_| n.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| problem(var, format!("{n:?} is not an IP address or network")))
            })
            .collect()
    }

    pub fn boolean(&self, var: &str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(var).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => Ok(true),
            Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => Ok(false),
            Some(v) => Err(problem(var, format!("must be true or false, got {v:?}"))),
        }
    }
}
