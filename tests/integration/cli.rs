//! The `gatehouse` binary as an operator runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{gatehouse, workspace_root};

fn stderr_line(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "exactly one line: {stderr:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn openapi_prints_the_committed_document() {
    let dir = tempfile::tempdir().expect("dir");
    let output = gatehouse(dir.path()).arg("openapi").output().expect("run");
    assert!(output.status.success());
    let committed =
        std::fs::read(workspace_root().join("openapi/gatehouse.json")).expect("committed");
    assert!(output.stdout == committed, "run `make openapi`");
}

#[test]
fn config_check_prints_the_effective_config_with_secrets_redacted() {
    let dir = tempfile::tempdir().expect("dir");
    let output = gatehouse(dir.path())
        .args(["config", "check"])
        .env(
            "GATEHOUSE_DATABASE_URL",
            "postgres://gh:hunter2@db.internal/gatehouse",
        )
        .env("GATEHOUSE_ISSUER", "https://id.example.com")
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shown = String::from_utf8(output.stdout).expect("utf-8");
    assert!(
        shown.contains(r#"issuer = "https://id.example.com""#),
        "{shown}"
    );
    assert!(
        shown.contains("postgres://gh:***@db.internal/gatehouse"),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn bad_config_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("gatehouse.toml");
    std::fs::write(&config, "[database]\nurll = \"sqlite://x.db\"\n").expect("write");
    for args in [
        vec!["config", "check"],
        vec!["serve"],
        vec!["db", "migrate"],
    ] {
        let output = gatehouse(dir.path())
            .args(&args)
            .arg("--config")
            .arg(&config)
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let line = stderr_line(&output);
        assert!(line.contains("database.urll"), "{args:?}: {line}");
    }

    let output = gatehouse(dir.path())
        .args(["config", "check"])
        .env("GATEHOUSE_DATABASE_URL", "mysql://root@localhost/gh")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_line(&output).contains("database.url"));
}

#[test]
fn unreachable_postgres_is_one_line_and_nonzero_never_a_panic() {
    let dir = tempfile::tempdir().expect("dir");
    for args in [vec!["db", "migrate"], vec!["serve"]] {
        let output = gatehouse(dir.path())
            .args(&args)
            .env(
                "GATEHOUSE_DATABASE_URL",
                "postgres://gh:hunter2@127.0.0.1:1/gatehouse",
            )
            .env("GATEHOUSE_BIND", "127.0.0.1:0")
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let line = stderr_line(&output);
        assert!(
            line.contains("cannot open the PostgreSQL database"),
            "{line}"
        );
        assert!(!line.contains("hunter2"), "{line}");
    }
}

#[test]
fn db_migrate_creates_the_sqlite_file_then_has_nothing_to_do() {
    let dir = tempfile::tempdir().expect("dir");
    let first = gatehouse(dir.path())
        .args(["db", "migrate"])
        .output()
        .expect("run");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied"));
    assert!(
        dir.path().join("data/gatehouse.db").exists(),
        "the default path is ./data/gatehouse.db"
    );
    let second = gatehouse(dir.path())
        .args(["db", "migrate"])
        .output()
        .expect("run");
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stdout).contains("up to date"));
}

/// What `make run` does on a fresh machine: no config file, no database yet.
#[test]
fn serve_starts_on_embedded_defaults() {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = gatehouse(dir.path())
        .arg("serve")
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env("GATEHOUSE_LOGGING_FORMAT", "json")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut addr = None;
    let mut seen = vec![];
    while addr.is_none() && Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line)
            && json["message"] == "gatehouse listening"
        {
            addr = json["addr"].as_str().map(str::to_owned);
        }
        seen.push(line);
    }
    let addr = addr.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("no 'gatehouse listening' line in {seen:#?}")
    });
    let get = |path: &str| -> u16 {
        let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
        use std::io::{Read, Write};
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        response
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0)
    };
    let health = get("/healthz");
    let ready = get("/readyz");
    // SIGTERM (what a service manager sends) stops it cleanly: its background work
    // joined and its database closed, exit status 0.
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!((health, ready), (200, 200));
    assert!(
        status.is_some_and(|s| s.success()),
        "stopped cleanly after SIGTERM: {status:?}, {:#?}",
        rx.try_iter().collect::<Vec<_>>()
    );
    assert!(dir.path().join("data/gatehouse.db").exists());
}

/// Exit status 2 is for the command line and the configuration only; a request the
/// command cannot carry out (an id that is none, an unknown account) exits 1.
#[test]
fn a_request_the_command_cannot_carry_out_exits_1() {
    let dir = tempfile::tempdir().expect("dir");
    for args in [
        vec!["invitations", "send", "--account", "not-an-id"],
        vec![
            "invitations",
            "send",
            "--account",
            "0190aa6e-1f6b-7c2e-9c5e-2f6a3b4c5d6e",
        ],
    ] {
        let output = gatehouse(dir.path()).args(&args).output().expect("run");
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // A value clap cannot parse is a usage error: 2.
    let output = gatehouse(dir.path())
        .args(["invitations", "send", "--all-pending", "--rate", "fast"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
}

/// `outbox list|show`: what was mailed, and a queued mail decoded with its link whole
/// on one line (the `.eml` files are quoted-printable, the link split over lines).
#[test]
fn the_outbox_lists_mails_and_shows_a_queued_one_decoded() {
    let dir = tempfile::tempdir().expect("dir");
    let run = |args: &[&str]| {
        let output = gatehouse(dir.path()).args(args).output().expect("run");
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    };
    std::fs::write(
        dir.path().join("users.csv"),
        "legacy_subject,email\nauth0|rie,rie@example.com\n",
    )
    .expect("users");
    run(&["accounts", "import", "users.csv"]);
    run(&["invitations", "send", "--all-pending"]);
    let listed: Vec<serde_json::Value> = run(&["outbox", "list", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["to"], "rie@example.com");
    assert_eq!(listed[0]["status"], "pending", "no server has sent it");
    let id = listed[0]["id"].as_str().expect("id");
    let shown = run(&["outbox", "show", id]);
    assert!(
        shown.contains("Subject: SSO Registration for Gatehouse"),
        "{shown}"
    );
    let link = shown
        .lines()
        .find_map(|l| l.split_whitespace().find(|w| w.contains("?token=")))
        .expect("the link, on one line");
    assert!(
        link.starts_with("http://localhost:8080/ui/register?token=") && link.len() > 60,
        "{link}"
    );
}
