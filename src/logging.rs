//! Logging into per-thread buffers that a background thread writes to stderr every 100 ms: a
//! request log line per request must not cost a write syscall on the request path, request
//! workers never do the file I/O themselves, and two workers never write to the same memory (one
//! shared buffer behind one mutex made its lock and its tail bounce between the cores on every
//! request: README.md, Benchmarks). A worker that fills its buffer wakes the writer early; only
//! when the writer cannot keep up (stderr blocked) does a worker write, so memory stays bounded.
//! Lines of one thread keep their order; lines of different threads written in the same 100 ms
//! may interleave out of order (each carries its timestamp). At most the last 100 ms of lines
//! can be lost if the process is killed hard; a normal shutdown and a panic flush.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::Thread;
use std::time::Duration;

const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Past this size the writer thread is woken at once.
const HIGH_WATER: usize = 64 * 1024;
/// Past this size the thread that appends writes its buffer out itself.
const HARD_LIMIT: usize = 16 * HIGH_WATER;

/// A thread's lines and the writer's half of its double buffer: the two swap at every write,
/// so each thread keeps two allocations that stop growing (one spare shared by every thread
/// made a busy worker regrow from a quiet thread's small buffer after each write).
#[derive(Default)]
struct Slot {
    lines: Mutex<Vec<u8>>,
    writing: Mutex<Vec<u8>>,
}

type Buffer = Arc<Slot>;

/// Every thread's buffer; the writer drops those whose thread has ended once they are empty.
static BUFFERS: Mutex<Vec<Buffer>> = Mutex::new(Vec::new());
static WRITER: OnceLock<Thread> = OnceLock::new();

thread_local! {
    static MINE: Buffer = {
        let mine = Buffer::default();
        lock(&BUFFERS).push(mine.clone());
        mine
    };
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes out whatever every thread has buffered.
pub fn flush() {
    write_out_to(&mut io::stderr().lock());
}

/// Writes what every thread has buffered, one thread's lines after another's.
fn write_out_to(out: &mut impl Write) {
    let buffers: Vec<Buffer> = {
        let mut all = lock(&BUFFERS);
        // Only the registry holds it: its thread has ended; keep it for this last write.
        let (ended, live): (Vec<Buffer>, Vec<Buffer>) = all.drain(..).partition(|b| Arc::strong_count(b) == 1);
        *all = live;
        all.iter().cloned().chain(ended).collect()
    };
    for buffer in buffers {
        let mut writing = lock(&buffer.writing);
        writing.clear();
        std::mem::swap(&mut *lock(&buffer.lines), &mut *writing);
        if !writing.is_empty() {
            let _ = out.write_all(&writing);
        }
    }
}

/// Adds whole lines to this thread's buffer (env_logger's records).
pub fn append(bytes: &[u8]) {
    append_with(|buf| buf.extend_from_slice(bytes));
}

/// Lets `write` add to this thread's buffer and says how full it is now; `Err` when the thread
/// is ending.
fn buffered_with(write: impl FnOnce(&mut Vec<u8>)) -> Result<usize, std::thread::AccessError> {
    MINE.try_with(|mine| {
        let mut buf = lock(&mine.lines);
        write(&mut buf);
        buf.len()
    })
}

/// Lets `write` add whole lines at the end of this thread's buffer (the request log writes its
/// line there directly).
pub fn append_with(write: impl FnOnce(&mut Vec<u8>)) {
    let mut write = Some(write);
    let mut line = Vec::new();
    let appended = buffered_with(|buf| {
        if let Some(write) = write.take() {
            write(buf)
        }
    });
    match (appended, WRITER.get()) {
        (Ok(len), Some(writer)) if len < HARD_LIMIT => {
            if len >= HIGH_WATER {
                writer.unpark();
            }
        }
        (Ok(_), _) => flush(),
        // This thread is ending and its buffer is gone: write the line as it is.
        (Err(_), _) => {
            if let Some(write) = write.take() {
                write(&mut line);
            }
            let _ = io::stderr().lock().write_all(&line);
        }
    }
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

    #[test]
    fn every_threads_lines_are_written_and_an_ended_threads_buffer_is_dropped() {
        let line = |n: u32| format!("test line {n} {:?}\n", std::thread::current().id());
        // `buffered_with`, not `append`: without the writer thread (not started in tests) `append`
        // writes at once.
        let ended = std::thread::spawn(move || {
            buffered_with(|b| b.extend_from_slice(line(1).as_bytes())).unwrap();
            line(1)
        })
        .join()
        .unwrap();
        buffered_with(|b| b.extend_from_slice(line(2).as_bytes())).unwrap();
        buffered_with(|b| b.extend_from_slice(line(3).as_bytes())).unwrap();
        let registered = lock(&BUFFERS).len();

        let mut out = Vec::new();
        write_out_to(&mut out);
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains(&ended), "{out}");
        let (two, three) = (out.find(&line(2)).expect("line 2"), out.find(&line(3)).expect("line 3"));
        assert!(two < three, "one thread's lines keep their order: {out}");
        assert!(lock(&BUFFERS).len() < registered, "the ended thread's buffer is dropped");

        let mut again = Vec::new();
        write_out_to(&mut again);
        assert!(!String::from_utf8(again).unwrap().contains("test line"), "each line is written once");
    }
}
