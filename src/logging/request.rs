//! The request log line, kept as a compact binary record in the thread's buffer and written out
//! as text by the writer thread, e.g.
//!
//! `[2026-11-23T22:06:19Z INFO  request] request_id=… client=127.0.0.1 method=GET path="/chat"
//! status=200 bytes=182 duration_ms=0.101`
//!
//! Why not format it on the worker: this line is written for every request, and formatting it
//! there was 1.3 % of a guarded request's CPU (paired measurement, README.md, Benchmarks) for
//! ~150 bytes, paid between the request's own work with cold caches. Copying the fields is a
//! few stores; the writer formats hundreds of lines in one loop, every 100 ms.

use std::cell::Cell;
use std::io::Write;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One request, as the edge saw it.
pub struct Record<'a> {
    /// Info, or debug for a gateway check that let the request pass.
    pub level: log::Level,
    /// When it ended.
    pub at: Instant,
    pub id: &'a [u8],
    pub client: Option<IpAddr>,
    pub method: &'a str,
    /// Never the query string: it may hold a code.
    pub path: &'a str,
    pub status: u16,
    pub bytes: u64,
    pub took: Duration,
}

/// Field lengths are stored in two bytes; longer ids and methods are cut (a path is the rest of
/// the record and is never cut).
const MAX_FIELD: usize = u16::MAX as usize;

/// Appends `record` to `buf`: level, seconds, micros, bytes, status, client, method, id, path.
pub(super) fn encode(record: &Record, buf: &mut Vec<u8>) {
    let (id, method) = (clip(record.id), clip(record.method.as_bytes()));
    buf.reserve(1 + 8 + 8 + 8 + 2 + 17 + 2 + method.len() + 2 + id.len() + record.path.len());
    buf.push(record.level as u8);
    buf.extend_from_slice(&unix_seconds(record.at).to_le_bytes());
    buf.extend_from_slice(&u64::try_from(record.took.as_micros()).unwrap_or(u64::MAX).to_le_bytes());
    buf.extend_from_slice(&record.bytes.to_le_bytes());
    buf.extend_from_slice(&record.status.to_le_bytes());
    let client = match record.client {
        None => [0; 17],
        Some(IpAddr::V4(ip)) => {
            let mut c = [4; 17];
            c[1..5].copy_from_slice(&ip.octets());
            c
        }
        Some(IpAddr::V6(ip)) => {
            let mut c = [6; 17];
            c[1..].copy_from_slice(&ip.octets());
            c
        }
    };
    buf.extend_from_slice(&client);
    for field in [method, id] {
        buf.extend_from_slice(&(field.len() as u16).to_le_bytes());
        buf.extend_from_slice(field);
    }
    buf.extend_from_slice(record.path.as_bytes());
}

fn clip(field: &[u8]) -> &[u8] {
    &field[..field.len().min(MAX_FIELD)]
}

thread_local! {
    /// The second this thread last read, and the instant the next one begins.
    static SECOND: Cell<Option<(u64, Instant)>> = const { Cell::new(None) };
}

/// The wall-clock second of `at`, read from the system clock once per second per thread.
fn unix_seconds(at: Instant) -> u64 {
    SECOND.with(|second| match second.get() {
        Some((secs, until)) if at < until => secs,
        _ => {
            let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
            let until = at + (Duration::from_secs(1) - Duration::from_nanos(wall.subsec_nanos().into()));
            second.set(Some((wall.as_secs(), until)));
            wall.as_secs()
        }
    })
}

/// Reads an encoded record back, field by field; `None` if it is cut short.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    fn field(&mut self) -> Option<&'a [u8]> {
        let len = u16::from_le_bytes(self.array()?);
        self.take(len.into())
    }
}

/// The timestamp text of the last second rendered, for the writer.
#[derive(Default)]
pub(super) struct Stamp {
    secs: Option<u64>,
    text: Vec<u8>,
}

impl Stamp {
    fn at(&mut self, secs: u64) -> &[u8] {
        if self.secs != Some(secs) {
            let time = chrono::DateTime::from_timestamp(secs.try_into().unwrap_or(i64::MAX), 0).unwrap_or_default();
            self.text = time.format("%Y-%m-%dT%H:%M:%SZ").to_string().into_bytes();
            self.secs = Some(secs);
        }
        &self.text
    }
}

/// Appends the text line of an encoded record to `out`; nothing if the record is cut short
/// (only `encode` writes records, so that would be a bug, not input).
pub(super) fn render(encoded: &[u8], stamp: &mut Stamp, out: &mut Vec<u8>) {
    let mut r = Reader(encoded);
    // In the order `encode` wrote them (a tuple's fields are read left to right).
    let fields =
        (|| Some((r.array()?, r.u64()?, r.u64()?, r.u64()?, r.array()?, r.array::<17>()?, r.field()?, r.field()?)))();
    let Some(([level], secs, micros, bytes, status, client, method, id)) = fields else {
        return;
    };
    let client = match client[0] {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(&client[1..5]).unwrap_or_default())),
        6 => Some(IpAddr::from(<[u8; 16]>::try_from(&client[1..]).unwrap_or_default())),
        _ => None,
    };
    let mut line = Line(out);
    line.start(stamp.at(secs), level == log::Level::Debug as u8);
    line.text(b"request_id=").text(id);
    line.text(b" client=").client(client);
    line.text(b" method=").text(method);
    // `encode` copied a `&str`: valid unless the record is damaged.
    line.text(b" path=").quoted(std::str::from_utf8(r.0).unwrap_or("(damaged)"));
    line.text(b" status=").number(u16::from_le_bytes(status).into());
    line.text(b" bytes=").number(bytes);
    line.text(b" duration_ms=").millis(micros);
    line.0.push(b'\n');
}

/// A line being written at the end of a buffer.
struct Line<'b>(&'b mut Vec<u8>);

impl Line<'_> {
    fn start(&mut self, stamp: &[u8], debug: bool) {
        self.0.push(b'[');
        self.0.extend_from_slice(stamp);
        self.0.extend_from_slice(if debug { b" DEBUG request] " } else { b" INFO  request] " });
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
    fn millis(&mut self, micros: u64) -> &mut Self {
        let fraction = micros % 1000;
        self.number(micros / 1000).text(b".");
        self.text(&[b'0' + (fraction / 100) as u8, b'0' + (fraction / 10 % 10) as u8, b'0' + (fraction % 10) as u8])
    }

    fn client(&mut self, client: Option<IpAddr>) -> &mut Self {
        match client {
            // As Display writes it, without the formatting machinery (a third of the writer's
            // time went into it).
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

    fn record<'a>(path: &'a str, client: Option<IpAddr>, took: Duration) -> Record<'a> {
        Record {
            level: log::Level::Info,
            at: Instant::now(),
            id: b"7f3a-12",
            client,
            method: "GET",
            path,
            status: 200,
            bytes: 182,
            took,
        }
    }

    fn rendered(record: &Record) -> String {
        let mut encoded = Vec::new();
        encode(record, &mut encoded);
        let mut out = Vec::new();
        render(&encoded, &mut Stamp::default(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_record_comes_back_as_an_env_logger_line_with_every_field() {
        let ip = "127.0.0.1".parse().ok();
        let text = rendered(&record("/chat", ip, Duration::from_micros(101)));
        let stamp = &text[1..21];
        let parsed = chrono::DateTime::parse_from_rfc3339(stamp).unwrap();
        assert!((chrono::Utc::now().timestamp() - parsed.timestamp()).abs() <= 1, "{text}");
        assert_eq!(
            &text[21..],
            " INFO  request] request_id=7f3a-12 client=127.0.0.1 method=GET path=\"/chat\" status=200 bytes=182 \
             duration_ms=0.101\n"
        );
    }

    #[test]
    fn a_debug_record_says_so_as_env_logger_would() {
        let text = rendered(&Record { level: log::Level::Debug, ..record("/auth/verify", None, Duration::ZERO) });
        assert_eq!(&text[21..37], " DEBUG request] ", "{text}");
    }

    #[test]
    fn clients_are_written_as_display_would() {
        for client in ["127.0.0.1", "10.200.3.45", "::1", "2001:db8::7"] {
            let ip: IpAddr = client.parse().unwrap();
            assert!(rendered(&record("/", Some(ip), Duration::ZERO)).contains(&format!(" client={ip} ")));
        }
        assert!(rendered(&record("/", None, Duration::ZERO)).contains(" client=- "));
    }

    #[test]
    fn paths_are_quoted_as_debug_would() {
        for path in ["/chat", "/a b", "/quote\"d", "/back\\slash", "/new\nline", "/ünï", "/tab\t", ""] {
            let text = rendered(&record(path, None, Duration::ZERO));
            assert!(text.contains(&format!(" path={path:?} status=")), "{path:?}: {text}");
            assert_eq!(text.matches('\n').count(), 1, "one line: {text:?}");
        }
    }

    #[test]
    fn durations_are_written_as_milliseconds_with_three_decimals() {
        for micros in [0, 7, 101, 1_000, 12_005, 3_600_000_001] {
            let expected = format!(" duration_ms={:.3}\n", micros as f64 / 1000.0);
            assert!(rendered(&record("/", None, Duration::from_micros(micros))).ends_with(&expected), "{micros} µs");
        }
    }

    #[test]
    fn long_ids_are_cut_and_the_path_still_follows() {
        let id = vec![b'a'; MAX_FIELD + 10];
        let text = rendered(&Record { id: &id, ..record("/after", None, Duration::ZERO) });
        assert!(text.contains(&format!("request_id={} client=", "a".repeat(MAX_FIELD))), "cut at {MAX_FIELD}");
        assert!(text.contains(" path=\"/after\" "), "{}", &text[text.len() - 80..]);
    }

    #[test]
    fn a_record_cut_short_renders_nothing_and_does_not_panic() {
        let mut encoded = Vec::new();
        encode(&record("/chat", None, Duration::ZERO), &mut encoded);
        // Up to the end of the id: the path is the rest, so any longer cut is still a record.
        let path_starts = encoded.len() - "/chat".len();
        for len in 0..path_starts {
            let mut out = Vec::new();
            render(&encoded[..len], &mut Stamp::default(), &mut out);
            assert!(out.is_empty(), "cut at {len}: {}", String::from_utf8_lossy(&out));
        }
    }

    #[test]
    fn the_second_is_read_once_and_renewed_when_the_next_begins() {
        let now = Instant::now();
        let first = unix_seconds(now);
        let wall = chrono::Utc::now().timestamp() as u64;
        assert!(wall.abs_diff(first) <= 1, "{first} at {wall}");
        let (_, until) = SECOND.with(Cell::get).unwrap();
        assert!(until > now && until <= now + Duration::from_secs(1));
        assert_eq!(unix_seconds(until - Duration::from_nanos(1)), first, "the same second");
        assert!(unix_seconds(until + Duration::from_millis(1)) >= first, "read again at the next");
        let (_, renewed) = SECOND.with(Cell::get).unwrap();
        assert!(renewed > until, "the next second's end");
    }

    #[test]
    fn the_stamp_text_is_remade_only_for_another_second() {
        let mut stamp = Stamp::default();
        assert_eq!(stamp.at(0), b"1970-01-01T00:00:00Z");
        stamp.text = b"kept".to_vec();
        assert_eq!(stamp.at(0), b"kept");
        assert_eq!(stamp.at(86_401), b"1970-01-02T00:00:01Z");
    }
}
