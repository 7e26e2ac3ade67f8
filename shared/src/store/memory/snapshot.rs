//! The dev server's store file: a JSON snapshot of the tables, rewritten by a writer thread
//! at most every `COALESCE` after writes (so a write never pays for the file), and written
//! at once by a flush on shutdown.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Tables;
use crate::store::{StoreError, StoreResult};

/// The tables kept in `path`, or empty ones when there is no file yet.
pub(super) fn load(path: &Path) -> StoreResult<Tables> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(StoreError::backend),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Tables::default()),
        Err(e) => Err(StoreError::backend(e)),
    }
}

/// How long the writer waits after a write for more before rewriting the file.
const COALESCE: Duration = Duration::from_millis(50);

/// The file a store is kept in, and the writer thread that rewrites it.
#[derive(Debug)]
pub(super) struct Persistence {
    file: Arc<SnapshotFile>,
    wake: Sender<()>,
}

/// A JSON snapshot file; one writer at a time (the writer thread or a flush).
#[derive(Debug)]
struct SnapshotFile {
    path: PathBuf,
    writing: Mutex<()>,
}

impl SnapshotFile {
    /// Writes the tables to a temporary file renamed over the old one, so a crash leaves
    /// the previous or the new state, never half of one.
    fn write(&self, tables: &Mutex<Tables>) -> StoreResult<()> {
        let _one_writer = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let bytes = {
            let tables = tables.lock().unwrap_or_else(|p| p.into_inner());
            serde_json::to_vec(&*tables).map_err(StoreError::backend)?
        };
        let temporary = self.path.with_extension("json.tmp");
        std::fs::write(&temporary, bytes).map_err(StoreError::backend)?;
        std::fs::rename(&temporary, &self.path).map_err(StoreError::backend)
    }
}

impl Persistence {
    /// Starts the writer thread of `path` over `tables`. It ends when the store is dropped
    /// (its sender with it).
    pub(super) fn start(path: PathBuf, tables: Arc<Mutex<Tables>>) -> StoreResult<Self> {
        let file = Arc::new(SnapshotFile { path, writing: Mutex::new(()) });
        let (wake, woken) = std::sync::mpsc::channel::<()>();
        let writer_file = file.clone();
        std::thread::Builder::new()
            .name("ally-store-writer".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    std::thread::sleep(COALESCE);
                    while woken.try_recv().is_ok() {}
                    if let Err(e) = writer_file.write(&tables) {
                        tracing::error!(error = %e, "the store file could not be written");
                    }
                }
            })
            .map_err(StoreError::backend)?;
        Ok(Self { file, wake })
    }

    /// Tells the writer thread the tables changed.
    pub(super) fn wake(&self) {
        // A gone writer thread only means nothing is kept on disk any more.
        let _ = self.wake.send(());
    }

    /// Writes the tables now.
    pub(super) fn flush(&self, tables: &Mutex<Tables>) -> StoreResult<()> {
        self.file.write(tables)
    }
}
