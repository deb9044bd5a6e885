//! The request log: one key=value line per request, in env_logger's line format, e.g.
//!
//! `[2026-11-23T22:06:19Z INFO  request] request_id=… client=127.0.0.1 method=GET path="/chat"
//! status=200 bytes=182 duration_ms=0.101`
//!
//! RUST_LOG decides whether it is written (target `request`, level info), but the line is put
//! together here rather than by env_logger: through `format_args!` and env_logger's formatter
//! it cost 6.8k instructions, 7 % of a guarded request (callgrind; README.md, Benchmarks), and
//! this line is written for every request. Other records still go through env_logger.

use std::cell::RefCell;
use std::io::Write;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::HeaderValue;

use crate::logging;

/// Whether request lines are written at all (e.g. `RUST_LOG=info,request=off` turns them off).
pub fn enabled() -> bool {
    log::log_enabled!(target: "request", log::Level::Info)
}

/// Logs the request behind `response`: id, client (behind trusted proxies, the forwarded one),
/// method, path (never the query string: it may hold a code), status, body size, duration.
/// `now`: when it ended (the clock the duration was read from, so the line costs no other).
pub fn write<B: MessageBody>(
    response: &ServiceResponse<B>,
    id: &HeaderValue,
    client: Option<IpAddr>,
    took: Duration,
    now: Instant,
) {
    thread_local! {
        static STAMP: RefCell<Stamp> = RefCell::new(Stamp::default());
    }
    let bytes = match response.response().body().size() {
        BodySize::Sized(n) => n,
        _ => 0,
    };
    let request = response.request();
    STAMP.with_borrow_mut(|stamp| {
        let stamp = stamp.at(now);
        // Straight into this thread's log buffer: no line of its own to copy from.
        logging::append_with(|buf| {
            let mut line = Line(buf);
            line.start(stamp);
            line.text(b"request_id=").text(id.as_bytes());
            line.text(b" client=").client(client);
            line.text(b" method=").text(request.method().as_str().as_bytes());
            line.text(b" path=").quoted(request.path());
            line.text(b" status=").number(response.status().as_u16().into());
            line.text(b" bytes=").number(bytes);
            line.text(b" duration_ms=").millis(took);
            line.0.push(b'\n');
        });
    });
}

/// The current second's timestamp, formatted once per second, and until when it holds.
#[derive(Default)]
struct Stamp {
    until: Option<Instant>,
    text: Vec<u8>,
}

impl Stamp {
    fn at(&mut self, now: Instant) -> &[u8] {
        if self.until.is_none_or(|until| now >= until) {
            let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
            let time = chrono::DateTime::from_timestamp(wall.as_secs() as i64, 0).unwrap_or_default();
            self.text = time.format("%Y-%m-%dT%H:%M:%SZ").to_string().into_bytes();
            self.until = Some(now + (Duration::from_secs(1) - Duration::from_nanos(wall.subsec_nanos().into())));
        }
        &self.text
    }
}

/// A line being written at the end of a buffer.
struct Line<'b>(&'b mut Vec<u8>);

impl Line<'_> {
    fn start(&mut self, stamp: &[u8]) {
        self.0.push(b'[');
        self.0.extend_from_slice(stamp);
        self.0.extend_from_slice(b" INFO  request] ");
    }

    fn text(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(bytes);
        self
    }

    fn number(&mut self, n: u64) -> &mut Self {
        self.0.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self
    }

    /// Milliseconds with three decimals, as `{:.3}` would write them.
    fn millis(&mut self, took: Duration) -> &mut Self {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let fraction = micros % 1000;
        self.number(micros / 1000).text(b".");
        self.text(&[b'0' + (fraction / 100) as u8, b'0' + (fraction / 10 % 10) as u8, b'0' + (fraction % 10) as u8])
    }

    fn client(&mut self, client: Option<IpAddr>) -> &mut Self {
        match client {
            Some(IpAddr::V4(ip)) => {
                for (i, octet) in ip.octets().into_iter().enumerate() {
                    if i > 0 {
                        self.0.push(b'.');
                    }
                    self.number(octet.into());
                }
            }
            Some(ip) => {
                let _ = write!(self.0, "{ip}");
            }
            None => self.0.push(b'-'),
        }
        self
    }

    /// Quoted as `{:?}` would: plain paths are copied, anything unusual is escaped by Debug,
    /// so a client cannot forge a line or a field.
    fn quoted(&mut self, text: &str) -> &mut Self {
        if text.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\') {
            self.0.push(b'"');
            self.0.extend_from_slice(text.as_bytes());
            self.0.push(b'"');
        } else {
            let _ = write!(self.0, "{text:?}");
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(fill: impl FnOnce(&mut Line)) -> String {
        let mut buf = Vec::new();
        let mut line = Line(&mut buf);
        line.start(Stamp::default().at(Instant::now()));
        fill(&mut line);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn starts_like_an_env_logger_line() {
        let text = line(|_| {});
        let stamp = &text[1..21];
        assert!(chrono::DateTime::parse_from_rfc3339(stamp).is_ok(), "{text}");
        assert_eq!(&text[21..], " INFO  request] ");
    }

    #[test]
    fn clients_are_written_as_display_would() {
        for client in ["127.0.0.1", "10.200.3.45", "::1", "2001:db8::7"] {
            let ip: IpAddr = client.parse().unwrap();
            assert!(line(|l| {
                l.client(Some(ip));
            })
            .ends_with(&format!("] {ip}")));
        }
        assert!(line(|l| {
            l.client(None);
        })
        .ends_with("] -"));
    }

    #[test]
    fn paths_are_quoted_as_debug_would() {
        for path in ["/chat", "/a b", "/quote\"d", "/back\\slash", "/new\nline", "/ünï", "/tab\t"] {
            assert!(
                line(|l| {
                    l.quoted(path);
                })
                .ends_with(&format!("] {path:?}")),
                "{path:?}"
            );
        }
    }

    #[test]
    fn durations_are_written_as_milliseconds_with_three_decimals() {
        for micros in [0, 7, 101, 1_000, 12_005, 3_600_000_001] {
            let took = Duration::from_micros(micros);
            let expected = format!("] {:.3}", micros as f64 / 1000.0);
            assert!(
                line(|l| {
                    l.millis(took);
                })
                .ends_with(&expected),
                "{micros} µs"
            );
        }
    }

    #[test]
    fn the_stamp_is_this_seconds_and_renewed_when_the_next_begins() {
        let mut stamp = Stamp::default();
        let now = Instant::now();
        let first = String::from_utf8(stamp.at(now).to_vec()).unwrap();
        let wall = chrono::Utc::now();
        let parsed = chrono::DateTime::parse_from_rfc3339(&first).unwrap();
        assert!((wall.timestamp() - parsed.timestamp()).abs() <= 1, "{first} at {wall}");
        let until = stamp.until.unwrap();
        assert!(until > now && until <= now + Duration::from_secs(1));
        stamp.text = b"kept".to_vec();
        assert_eq!(stamp.at(until - Duration::from_nanos(1)), b"kept", "the same second");
        assert_ne!(stamp.at(until), b"kept", "the next second");
    }

    #[test]
    fn numbers() {
        assert!(line(|l| {
            l.number(0).text(b" ").number(u64::MAX);
        })
        .ends_with("] 0 18446744073709551615"));
    }
}
