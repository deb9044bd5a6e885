//! Logging into a buffer that a background thread writes to stderr every 100 ms: a request
//! log line per request must not cost a write syscall on the request path, and request workers
//! never do the file I/O themselves. A worker that fills the buffer wakes the writer early; only
//! when the writer cannot keep up (stderr blocked) does a worker write, so memory stays bounded.
//! At most the last 100 ms of lines can be lost if the process is killed hard; a normal
//! shutdown and a panic flush.

use std::io::{self, Write};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::thread::Thread;
use std::time::Duration;

const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Past this size the writer thread is woken at once.
const HIGH_WATER: usize = 256 * 1024;
/// Past this size the worker that appends writes the buffer out itself.
const HARD_LIMIT: usize = 4 * HIGH_WATER;

static BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static WRITER: OnceLock<Thread> = OnceLock::new();

fn buffer() -> MutexGuard<'static, Vec<u8>> {
    BUFFER.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes out whatever is buffered.
pub fn flush() {
    write_out(&mut Vec::new());
}

/// Swaps the buffer with `spare` (so the two allocations take turns and never regrow), then
/// writes what was buffered.
fn write_out(spare: &mut Vec<u8>) {
    spare.clear();
    std::mem::swap(&mut *buffer(), spare);
    if !spare.is_empty() {
        let _ = io::stderr().lock().write_all(spare);
    }
}

/// Adds whole lines to the buffer (env_logger's records, and the request log's lines, which
/// are formatted without it).
pub fn append(bytes: &[u8]) {
    let len = {
        let mut buf = buffer();
        buf.extend_from_slice(bytes);
        buf.len()
    };
    match WRITER.get() {
        Some(writer) if len < HARD_LIMIT => {
            if len >= HIGH_WATER {
                writer.unpark();
            }
        }
        _ => flush(),
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
    buffer().reserve(HIGH_WATER);
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .target(env_logger::Target::Pipe(Box::new(Batched)))
        // Our lines are single lines; indenting continuation lines costs a scan of every byte.
        .format_indent(None)
        .init();
    let started = std::thread::Builder::new().name("log-writer".into()).spawn(|| {
        let mut spare = Vec::with_capacity(HIGH_WATER);
        loop {
            std::thread::park_timeout(FLUSH_EVERY);
            write_out(&mut spare);
        }
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
