//! Logging through env_logger into a buffer that a background thread writes to stderr every
//! 100 ms: one request log line per request must not cost a write syscall and a contended lock
//! on the request path. At most the last 100 ms of lines can be lost if the process is killed
//! hard; a normal shutdown flushes.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Written out at once past this size, so a burst cannot grow the buffer without bound.
const HIGH_WATER: usize = 256 * 1024;

static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

fn buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    BUFFER.get_or_init(|| Arc::new(Mutex::new(Vec::with_capacity(HIGH_WATER))))
}

/// Writes out whatever is buffered.
pub fn flush() {
    let pending = {
        let mut buf = buffer().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::take(&mut *buf)
    };
    if !pending.is_empty() {
        let _ = io::stderr().lock().write_all(&pending);
    }
}

/// Adds whole lines to the buffer (env_logger's records, and the request log's lines, which
/// are formatted without it).
pub fn append(bytes: &[u8]) {
    let full = {
        let mut buf = buffer().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        buf.extend_from_slice(bytes);
        buf.len() >= HIGH_WATER
    };
    if full {
        flush();
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

/// Installs the logger (RUST_LOG, default `info`) and starts the flushing thread.
pub fn init() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .target(env_logger::Target::Pipe(Box::new(Batched)))
        // Our lines are single lines; indenting continuation lines costs a scan of every byte.
        .format_indent(None)
        .init();
    std::thread::Builder::new()
        .name("log-flush".into())
        .spawn(|| loop {
            std::thread::sleep(FLUSH_EVERY);
            flush();
        })
        .map(drop)
        .unwrap_or_else(|e| eprintln!("cannot start the log flushing thread ({e}); logs may be delayed"));
    std::panic::set_hook({
        let default = std::panic::take_hook();
        Box::new(move |info| {
            flush();
            default(info);
        })
    });
}
