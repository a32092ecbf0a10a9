//! A TCP forwarder that can be cut, to take a database away from a running server,
//! and restored, as a database restart does (every connection dies at once, then new
//! ones are accepted again).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Proxy {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
    /// While false, new connections are closed at once (the database is down).
    up: Arc<AtomicBool>,
    /// Bumped to end every forwarded connection.
    cuts: watch::Sender<u64>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let up = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let (accepting, cut_signal) = (up.clone(), cuts.clone());
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut cut = cut_signal.subscribe();
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        tokio::select! {
                            _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut.changed() => {}
                        }
                    }
                });
            }
        });
        Self {
            addr,
            task,
            up,
            cuts,
        }
    }

    /// The database "goes down": every forwarded connection is closed and new ones are
    /// refused (closed on accept) until `restore`.
    pub fn go_down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    /// The database is back: new connections are forwarded again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// Closes the listener and every forwarded connection.
    pub async fn cut(self) {
        self.go_down();
        self.task.abort();
        let _ = self.task.await;
    }
}
