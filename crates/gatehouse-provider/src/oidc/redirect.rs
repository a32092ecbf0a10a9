//! Where the browser goes back to a client: its redirect URI with the answer's
//! parameters. Shared by the authorization endpoint and the login steps that finish
//! (or end) a login, so neither imports the other.

/// `redirect_uri` with the given parameters appended (RFC 6749 §4.1.2), plus `iss` (RFC 9207).
pub fn redirect_location(
    redirect_uri: &str,
    params: &[(&str, Option<&str>)],
    issuer: &str,
) -> Option<String> {
    let mut url = url::Url::parse(redirect_uri).ok()?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        query.append_pair("iss", issuer);
    }
    Some(url.into())
}
