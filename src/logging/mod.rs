//! Logging into per-thread ring buffers that a background thread writes to stderr every
//! 100 ms: a request log line per request must not cost a write syscall on the request path,
//! request workers never do the file I/O themselves, and two workers never write to the same
//! memory (one shared buffer behind one mutex made its lock and its tail bounce between the
//! cores on every request: README.md, Benchmarks). Each ring has one producer, its thread, and
//! one consumer, the writer, so appending takes no lock and no atomic read-modify-write (with a
//! per-thread mutex, its unlock was most of an append in perf, waiting for the line's stores;
//! end to end the ring measured within 1 % of it).
//! A worker that fills a quarter of its ring wakes the writer early; only when the writer
//! cannot keep up (stderr blocked) does a worker write, so memory stays bounded. Lines of one
//! thread keep their order; lines of different threads written in the same 100 ms may
//! interleave out of order (each carries its timestamp). At most the last 100 ms of lines can
//! be lost if the process is killed hard; a normal shutdown and a panic flush.
//!
//! A ring holds frames: env_logger's formatted records as text, and request records
//! (`request`) that the writer turns into text.

mod request;

pub use request::Record;

use std::cell::RefCell;
use std::io::{self, Write};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use rtrb::{Consumer, Producer, RingBuffer};

const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Each thread's ring; a busy worker fills ~3 MB/s of request records.
const RING: usize = 128 * 1024;
/// Past this fill the writer thread is woken at once.
const HIGH_WATER: usize = RING / 4;

/// Every thread's ring, read end; the writer drops those whose thread has ended once drained.
static RINGS: Mutex<Vec<Consumer<u8>>> = Mutex::new(Vec::new());
static WRITER: OnceLock<Thread> = OnceLock::new();

/// A thread's write end, and the frame being put together before it goes in whole.
struct Mine {
    ring: Producer<u8>,
    frame: Vec<u8>,
}

thread_local! {
    static MINE: RefCell<Mine> = {
        let (ring, read_end) = RingBuffer::new(RING);
        lock(&RINGS).push(read_end);
        RefCell::new(Mine { ring, frame: Vec::with_capacity(512) })
    };
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes out whatever every thread has buffered.
pub fn flush() {
    write_out_to(&mut io::stderr().lock());
}

/// A frame: its kind, its length (4 bytes, little-endian), its bytes.
const TEXT: u8 = 0;
const REQUEST: u8 = 1;
const FRAME_HEAD: usize = 5;

/// Appends one frame of `kind` that `write` fills.
fn frame(buf: &mut Vec<u8>, kind: u8, write: impl FnOnce(&mut Vec<u8>)) {
    let head = buf.len();
    buf.extend_from_slice(&[kind, 0, 0, 0, 0]);
    write(buf);
    let len = u32::try_from(buf.len() - head - FRAME_HEAD).unwrap_or(u32::MAX);
    buf[head + 1..head + FRAME_HEAD].copy_from_slice(&len.to_le_bytes());
}

/// The text of whole frames, in order.
fn render(frames: &[u8], stamp: &mut request::Stamp, out: &mut Vec<u8>) {
    let mut rest = frames;
    while let Some((&[kind, a, b, c, d], tail)) = rest.split_first_chunk::<FRAME_HEAD>() {
        let len = (u32::from_le_bytes([a, b, c, d]) as usize).min(tail.len());
        let (body, next) = tail.split_at(len);
        match kind {
            REQUEST => request::render(body, stamp, out),
            _ => out.extend_from_slice(body),
        }
        rest = next;
    }
}

/// Writes what every thread has buffered, one thread's lines after another's, and drops the
/// rings of threads that have ended.
fn write_out_to(out: &mut impl Write) {
    let (mut stamp, mut frames, mut text) = (request::Stamp::default(), Vec::new(), Vec::new());
    let mut rings = lock(&RINGS);
    rings.retain_mut(|ring| {
        // Asked before reading: a thread that had ended by then has put in all its frames, so
        // dropping its ring after this read loses nothing.
        let ended = ring.is_abandoned();
        match ring.read_chunk(ring.slots()) {
            Ok(chunk) if !chunk.is_empty() => {
                // A frame may wrap around the ring's end: render from one contiguous copy.
                let (first, second) = chunk.as_slices();
                frames.clear();
                frames.extend_from_slice(first);
                frames.extend_from_slice(second);
                chunk.commit_all();
                text.clear();
                render(&frames, &mut stamp, &mut text);
                let _ = out.write_all(&text);
            }
            _ => {}
        }
        !ended
    });
}

/// Adds whole lines to this thread's buffer (env_logger's records).
pub fn append(bytes: &[u8]) {
    append_with(TEXT, |buf| buf.extend_from_slice(bytes));
}

/// Adds a request's line to this thread's buffer.
pub fn request(record: &Record) {
    append_with(REQUEST, |buf| request::encode(record, buf));
}

/// Puts one frame of `kind` that `write` fills into this thread's ring.
fn append_with(kind: u8, write: impl FnOnce(&mut Vec<u8>)) {
    let mut write = Some(write);
    let appended = MINE.try_with(|mine| {
        let Mine { ring, frame: buf } = &mut *mine.borrow_mut();
        buf.clear();
        if let Some(write) = write.take() {
            frame(buf, kind, write);
        }
        put(ring, buf)
    });
    match (appended, WRITER.get()) {
        (Ok(Some(true)), Some(writer)) => writer.unpark(),
        (Ok(Some(_)), Some(_)) => {}
        // No writer thread (it could not start, or tests): every frame is written at once.
        (Ok(Some(_)), None) => flush(),
        // The ring is full (the writer cannot keep up) or the frame is larger than a ring.
        (Ok(None), _) => {
            flush();
            let _ = MINE.try_with(|mine| {
                let Mine { ring, frame: buf } = &mut *mine.borrow_mut();
                if put(ring, buf).is_none() {
                    write_now(buf);
                }
            });
        }
        // This thread is ending and its ring is gone: write the line at once.
        (Err(_), _) => {
            let mut buf = Vec::new();
            if let Some(write) = write.take() {
                frame(&mut buf, kind, write);
            }
            write_now(&buf);
        }
    }
}

/// Puts a whole frame into the ring: `None` if it does not fit, else whether this frame took
/// the ring past the high-water mark (then the writer is woken, once per crossing).
fn put(ring: &mut Producer<u8>, frame: &[u8]) -> Option<bool> {
    let filled = RING - ring.slots();
    ring.push_entire_slice(frame).ok()?;
    Some(filled < HIGH_WATER && filled + frame.len() >= HIGH_WATER)
}

fn write_now(frames: &[u8]) {
    let mut text = Vec::new();
    render(frames, &mut request::Stamp::default(), &mut text);
    let _ = io::stderr().lock().write_all(&text);
}

struct Batched;

impl Write for Batched {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        append(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Called after every record by env_logger; the background thread does the real flushing.
        Ok(())
    }
}

/// Installs the logger (RUST_LOG, default `info`) and starts the writer thread.
pub fn init() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .target(env_logger::Target::Pipe(Box::new(Batched)))
        // Our lines are single lines; indenting continuation lines costs a scan of every byte.
        .format_indent(None)
        .init();
    let started = std::thread::Builder::new().name("log-writer".into()).spawn(|| loop {
        std::thread::park_timeout(FLUSH_EVERY);
        flush();
    });
    match started {
        Ok(handle) => {
            let _ = WRITER.set(handle.thread().clone());
        }
        // Without the thread every append writes at once: slower, but nothing is lost.
        Err(e) => eprintln!("cannot start the log writer thread ({e}); logs are written unbatched"),
    }
    std::panic::set_hook({
        let default = std::panic::take_hook();
        Box::new(move |info| {
            flush();
            default(info);
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn text(buf: &mut Vec<u8>, line: &str) {
        frame(buf, TEXT, |b| b.extend_from_slice(line.as_bytes()));
    }

    #[test]
    fn text_and_request_frames_come_out_in_their_order() {
        let mut frames = Vec::new();
        text(&mut frames, "[…] first\n");
        let record = Record {
            level: log::Level::Info,
            at: Instant::now(),
            id: b"id-1",
            client: None,
            method: "POST",
            path: "/logout",
            status: 303,
            bytes: 0,
            took: Duration::from_micros(2_500),
        };
        frame(&mut frames, REQUEST, |b| request::encode(&record, b));
        text(&mut frames, "[…] last\n");
        let mut out = Vec::new();
        render(&frames, &mut request::Stamp::default(), &mut out);
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert_eq!(lines[0], "[…] first");
        assert!(lines[1].ends_with(
            " INFO  request] request_id=id-1 client=- method=POST path=\"/logout\" status=303 bytes=0 duration_ms=2.500"
        ), "{out}");
        assert_eq!(lines[2], "[…] last");

        // A frame claiming more than is there ends the buffer without a panic.
        let mut cut = frames.clone();
        cut.extend_from_slice(&[TEXT, 255, 255, 0, 0, b'x']);
        let mut out = Vec::new();
        render(&cut, &mut request::Stamp::default(), &mut out);
        assert!(String::from_utf8(out).unwrap().ends_with("last\nx"));
    }

    /// Into this thread's ring without writing it out (`append` writes at once when no writer
    /// thread runs, as in tests).
    fn buffered(line: &str) {
        MINE.with(|mine| {
            let mut frames = Vec::new();
            text(&mut frames, line);
            mine.borrow_mut().ring.push_entire_slice(&frames).unwrap();
        });
    }

    #[test]
    fn every_threads_lines_are_written_and_an_ended_threads_ring_is_dropped() {
        let line = |n: u32| format!("test line {n} {:?}\n", std::thread::current().id());
        let ended = std::thread::spawn(move || {
            buffered(&line(1));
            line(1)
        })
        .join()
        .unwrap();
        buffered(&line(2));
        buffered(&line(3));
        let registered = lock(&RINGS).len();

        let mut out = Vec::new();
        write_out_to(&mut out);
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains(&ended), "the ended thread's last lines: {out}");
        let (two, three) = (out.find(&line(2)).expect("line 2"), out.find(&line(3)).expect("line 3"));
        assert!(two < three, "one thread's lines keep their order: {out}");
        assert!(lock(&RINGS).len() < registered, "the ended thread's ring is dropped");

        let mut again = Vec::new();
        write_out_to(&mut again);
        assert!(!String::from_utf8(again).unwrap().contains("test line"), "each line is written once");

        // Two batches of 3/4 of a ring: the second wraps around the ring's end, whole and in order.
        let long = |n: usize| format!("test long line {n} {}\n", "x".repeat(1000));
        for batch in [0..96, 96..192] {
            for n in batch.clone() {
                buffered(&long(n));
            }
            let mut out = Vec::new();
            write_out_to(&mut out);
            let expected: String = batch.map(long).collect();
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn the_writer_is_woken_once_per_crossing_and_a_full_ring_refuses_whole_frames() {
        let (mut ring, mut read_end) = RingBuffer::new(RING);
        let frame = vec![b'x'; 1000];
        let mut crossings = Vec::new();
        while let Some(crossed) = put(&mut ring, &frame) {
            crossings.push(crossed);
        }
        assert_eq!(crossings.len(), RING / 1000, "as many frames as fit");
        assert_eq!(crossings.iter().filter(|c| **c).count(), 1, "one wake-up");
        assert!(crossings[HIGH_WATER / 1000], "at the frame that crosses {HIGH_WATER}");
        assert_eq!(ring.slots(), RING % 1000, "nothing of the refused frame went in");

        read_end.read_chunk(read_end.slots()).unwrap().commit_all();
        assert_eq!(put(&mut ring, &frame), Some(false), "room again, below the mark");
    }
}
