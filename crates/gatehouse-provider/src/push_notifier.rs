//! Delivering push notices (`[push] notifier`): `log` (the default) only logs that a
//! push went out; `webhook` POSTs JSON to a push gateway, the way APNs/FCM relays
//! are fed. Deliveries run off the request path, on a thread of their own, with at
//! most `webhook_concurrency` in flight and a bounded queue: a slow gateway delays
//! pushes, never logins (the login screen polls either way).

use gatehouse_core::push::{PushNotice, PushNotifier};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{Sender, channel};

use crate::config::PushConfig;

/// Notices waiting for a delivery slot; beyond this they are dropped (and logged).
const QUEUE: usize = 1024;

/// Builds the notifier the configuration names.
pub fn from_config(config: &PushConfig) -> std::io::Result<Arc<dyn PushNotifier>> {
    Ok(match config.notifier.as_str() {
        "webhook" => Arc::new(Webhook::spawn(config)?),
        _ => Arc::new(LogNotifier),
    })
}

/// Logs that a push was sent: which device and challenge, never a token or number.
#[derive(Debug)]
pub struct LogNotifier;

impl PushNotifier for LogNotifier {
    fn notify(&self, notice: PushNotice) {
        tracing::info!(
            device_id = %notice.device_id,
            challenge_id = %notice.challenge_id,
            has_push_token = notice.push_token.is_some(),
            "push sent (log notifier)"
        );
    }
}

/// POSTs each notice to the gateway.
#[derive(Debug)]
pub struct Webhook {
    queue: Sender<PushNotice>,
}

impl Webhook {
    fn spawn(config: &PushConfig) -> std::io::Result<Self> {
        let (queue, mut notices) = channel::<PushNotice>(QUEUE);
        let url = config.webhook_url.clone();
        let token = (!config.webhook_token.is_empty()).then(|| config.webhook_token.clone());
        let timeout = Duration::from_secs(config.webhook_timeout_seconds.into());
        let slots = Arc::new(tokio::sync::Semaphore::new(
            config.webhook_concurrency.max(1) as usize,
        ));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(std::io::Error::other)?;
        std::thread::Builder::new()
            .name("gatehouse-push".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    // Ends when every sender is gone (the server stopped).
                    while let Some(notice) = notices.recv().await {
                        let Ok(permit) = slots.clone().acquire_owned().await else {
                            break;
                        };
                        let (client, url, token) = (client.clone(), url.clone(), token.clone());
                        tokio::spawn(async move {
                            deliver(&client, &url, token.as_deref(), &notice).await;
                            drop(permit);
                        });
                    }
                });
            })?;
        Ok(Self { queue })
    }
}

impl PushNotifier for Webhook {
    fn notify(&self, notice: PushNotice) {
        match self.queue.try_send(notice) {
            Ok(()) => {}
            Err(TrySendError::Full(notice)) => tracing::warn!(
                challenge_id = %notice.challenge_id,
                "push queue full: notice dropped"
            ),
            Err(TrySendError::Closed(_)) => {
                tracing::warn!("push delivery stopped: notice dropped");
            }
        }
    }
}

async fn deliver(client: &reqwest::Client, url: &str, token: Option<&str>, notice: &PushNotice) {
    let body = json!({
        "type": "gatehouse.push_challenge",
        "device_id": notice.device_id.to_string(),
        "push_token": notice.push_token,
        "challenge_id": notice.challenge_id,
        "client_id": notice.client_id,
        "expires_at": notice.expires_at.to_rfc3339(),
    });
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    match request.send().await {
        Ok(answer) if answer.status().is_success() => tracing::info!(
            device_id = %notice.device_id,
            challenge_id = %notice.challenge_id,
            "push sent"
        ),
        Ok(answer) => tracing::warn!(
            challenge_id = %notice.challenge_id,
            status = answer.status().as_u16(),
            "push gateway refused the notice"
        ),
        Err(e) => tracing::warn!(
            challenge_id = %notice.challenge_id,
            error = %e.without_url(),
            "push gateway unreachable"
        ),
    }
}
