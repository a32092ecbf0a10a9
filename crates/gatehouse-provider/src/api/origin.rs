//! Where a request came from, as the audit log and the session list record it.

use actix_web::HttpRequest;
use actix_web::http::header::USER_AGENT;

/// Longest user agent kept: enough to recognise a browser, bounded for storage.
const MAX_USER_AGENT_CHARS: usize = 256;

#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The client address as proxies report it (`Forwarded`, `X-Forwarded-For`), else
    /// the peer's. For display and audit only: never a throttling key.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Origin {
    pub fn of(req: &HttpRequest) -> Self {
        let user_agent = req
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(MAX_USER_AGENT_CHARS).collect());
        let ip = req
            .connection_info()
            .realip_remote_addr()
            .map(str::to_owned);
        Self { ip, user_agent }
    }
}
