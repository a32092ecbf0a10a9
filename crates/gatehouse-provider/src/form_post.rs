//! POSTing an `application/x-www-form-urlencoded` body to a URL over HTTP/1.1, on
//! TLS for https (rustls on aws-lc-rs, the one crypto backend; trusting the web PKI's
//! roots and any configured more). One connection per request, no redirects followed:
//! what a back-channel notice needs, and nothing more.

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Why a POST got no answer.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    #[error("{0}")]
    Url(&'static str),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("connecting failed: {0}")]
    Connect(std::io::Error),
    #[error("TLS failed: {0}")]
    Tls(std::io::Error),
    #[error("HTTP failed: {0}")]
    Http(String),
}

/// An HTTP(S) form poster.
#[derive(Clone)]
pub struct FormPoster {
    tls: tokio_rustls::TlsConnector,
    timeout: Duration,
}

impl std::fmt::Debug for FormPoster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormPoster")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl FormPoster {
    /// Trusts the web PKI's roots and the certificates in `ca_pem` (PEM; may be empty).
    pub fn new(ca_pem: &[u8], timeout: Duration) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            let cert = cert.map_err(|e| format!("a CA certificate does not read: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("a CA certificate is refused: {e}"))?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            timeout,
        })
    }

    /// POSTs `form` to `url`; the answer's status code.
    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> Result<u16, PostError> {
        tokio::time::timeout(self.timeout, self.post_now(url, form))
            .await
            .map_err(|_| PostError::Timeout(self.timeout))?
    }

    async fn post_now(&self, url: &str, form: &[(&str, &str)]) -> Result<u16, PostError> {
        let url = url::Url::parse(url).map_err(|_| PostError::Url("not a URL"))?;
        let host = url.host_str().ok_or(PostError::Url("no host"))?.to_owned();
        let port = url
            .port_or_known_default()
            .ok_or(PostError::Url("no port"))?;
        let mut target = url.path().to_owned();
        if let Some(query) = url.query() {
            target.push('?');
            target.push_str(query);
        }
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = http::Request::post(target)
            .header(http::header::HOST, authority)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| PostError::Http(e.to_string()))?;
        // An IPv6 literal is bracketed in the URL, not in the socket address.
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let tcp = TcpStream::connect((bare.as_str(), port))
            .await
            .map_err(PostError::Connect)?;
        let _ = tcp.set_nodelay(true);
        match url.scheme() {
            "https" => {
                let name =
                    ServerName::try_from(bare).map_err(|_| PostError::Url("not a host name"))?;
                let tls = self.tls.connect(name, tcp).await.map_err(PostError::Tls)?;
                send(tls, request).await
            }
            "http" => send(tcp, request).await,
            _ => Err(PostError::Url("neither http nor https")),
        }
    }
}

async fn send<S>(stream: S, request: http::Request<Full<Bytes>>) -> Result<u16, PostError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let failed = |e: hyper::Error| PostError::Http(e.to_string());
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(failed)?;
    // Drives the connection until the answer is in; it ends with the sender.
    let driver = tokio::spawn(connection);
    let answer = sender.send_request(request).await.map_err(failed);
    drop(sender);
    driver.abort();
    Ok(answer?.status().as_u16())
}
