//! The real `gatehouse serve` as a process of its own, with its log captured: for what
//! only the binary shows (what it logs, how it starts and stops beside another).

use gatehouse_provider::Config;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::gatehouse;

/// A running `gatehouse serve`, its configuration written to a file in `dir`.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    pub base: String,
    pub config_path: PathBuf,
    lines: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts the server with `config` (JSON log lines at `config.logging.level`) and
    /// waits until it listens.
    pub fn start(config: &Config, dir: &Path) -> Self {
        let config_path = dir.join("gatehouse.toml");
        let mut config = config.clone();
        config.logging.format = gatehouse_provider::config::LogFormat::Json;
        std::fs::write(
            &config_path,
            toml::to_string(&config).expect("the configuration as TOML"),
        )
        .expect("write the configuration");
        let mut child = gatehouse(dir)
            .args(["serve", "--config"])
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gatehouse serve");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("log lines").push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            let found = lines.lock().expect("log lines").iter().find_map(|line| {
                let json: serde_json::Value = serde_json::from_str(line).ok()?;
                (json["message"] == "gatehouse listening")
                    .then(|| json["addr"].as_str().map(str::to_owned))
                    .flatten()
            });
            if let Some(addr) = found {
                break addr;
            }
            if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
                let _ = child.kill();
                panic!(
                    "gatehouse serve did not start: {:#?}",
                    lines.lock().expect("log")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        Self {
            child,
            base: format!("http://{addr}"),
            config_path,
            lines,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The `gatehouse` command on this server's configuration file.
    pub fn cli(&self, dir: &Path) -> Command {
        let mut cmd = gatehouse(dir);
        cmd.arg("--config").arg(&self.config_path);
        cmd
    }

    /// Runs `gatehouse ARGS` on this server's configuration; its stdout, once it
    /// succeeded.
    pub fn run(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.cli(dir).args(args).output().expect("gatehouse");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Kills the server outright (SIGKILL), as a crash would: nothing of it runs on.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server as a service manager does (SIGTERM) and waits for it; its exit
    /// status and everything it logged.
    pub fn stop(mut self) -> (Option<ExitStatus>, String) {
        let status = self.terminate();
        // The reader thread drains the pipe once the process has closed it.
        std::thread::sleep(Duration::from_millis(100));
        let log = self.lines.lock().expect("log lines").join("\n");
        (status, log)
    }

    fn terminate(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.terminate();
    }
}
