//! A real SMTP server process (Python's standard library, `smtp_server.py`) that
//! writes every mail it accepts into a folder, and an independent reader for `.eml`
//! files (`read_eml.py`, Python's `email` package).

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("integration/support")
        .join(name)
}

/// A port nothing listens on (now): where a server that is down would be.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

pub struct SmtpServer {
    pub port: u16,
    pub dir: TempDir,
    child: Child,
}

impl SmtpServer {
    /// Starts the server on `port` and waits until it listens.
    pub fn start(port: u16) -> Self {
        Self::start_holding(port, Duration::ZERO)
    }

    /// The same, answering each mail's data `hold` after it has written the mail.
    pub fn start_holding(port: u16, hold: Duration) -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let mut child = Command::new("python3")
            .arg(script("smtp_server.py"))
            .arg(dir.path())
            .arg(port.to_string())
            .arg(hold.as_secs_f64().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs (the SMTP test server needs it)");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout).read_line(&mut line).expect("read");
        let Some(port) = line
            .strip_prefix("ready ")
            .and_then(|p| p.trim().parse().ok())
        else {
            let _ = child.kill();
            panic!("the SMTP server did not start: {line:?}");
        };
        Self { port, dir, child }
    }

    /// Freezes the server process: connections are still accepted by the kernel, but
    /// nothing answers until [`SmtpServer::resume`].
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal}");
    }

    /// The mails received so far, as `(envelope, parsed message)`, in no order.
    pub fn received(&self) -> Vec<(Value, Value)> {
        let mut mails = vec![];
        for entry in std::fs::read_dir(self.dir.path()).expect("dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "eml")
                && !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                let envelope = std::fs::read(path.with_extension("json")).expect("envelope");
                mails.push((
                    serde_json::from_slice(&envelope).expect("json"),
                    read_eml(&path),
                ));
            }
        }
        mails
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses an RFC 5322 file with Python's `email` package: from, to, subject (decoded),
/// message_id, content_type, charset, body (decoded), defects, ascii_only, crlf_only.
pub fn read_eml(path: &Path) -> Value {
    let output = Command::new("python3")
        .arg(script("read_eml.py"))
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("json")
}
