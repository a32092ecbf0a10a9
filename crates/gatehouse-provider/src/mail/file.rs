//! The `file` transport: each mail becomes `<id>.eml` (RFC 5322) in a folder, written
//! under a temporary name and renamed, so a reader never sees half a file. Sending the
//! same mail twice rewrites the same file.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::outgoing::{Outgoing, SendError};

#[derive(Debug)]
pub struct FileTransport {
    dir: PathBuf,
}

impl FileTransport {
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Self {
            dir: dir.as_ref().to_owned(),
        }
    }

    pub fn send(&self, mail: &Outgoing) -> Result<(), SendError> {
        let fail = |what: &str, e: std::io::Error| {
            SendError::transient(format!("{what} {}: {e}", self.dir.display()))
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| fail("cannot create", e))?;
        let name = format!("{}.eml", mail.id);
        let partial = self.dir.join(format!(".{name}.partial"));
        let mut file = std::fs::File::create(&partial).map_err(|e| fail("cannot write in", e))?;
        file.write_all(&mail.raw)
            .and_then(|()| file.sync_all())
            .map_err(|e| fail("cannot write in", e))?;
        std::fs::rename(&partial, self.dir.join(&name)).map_err(|e| fail("cannot write in", e))?;
        tracing::info!(mail_id = %mail.id, domain = %mail.recipient_domain, dir = %self.dir.display(), "mail written");
        Ok(())
    }
}
