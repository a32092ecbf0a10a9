//! The reference UI: every screen of the sign-in, registration and account flows as
//! static pages and plain ES modules calling the REST API, embedded at build time.
//! No build step and no Node at run time; the provider serves [`asset`]s at `/ui/`.

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Its path under `assets/`, e.g. `login.html` or `js/api.js`.
    pub path: &'static str,
    pub body: &'static [u8],
}

impl Asset {
    pub fn content_type(&self) -> &'static str {
        content_type(self.path)
    }
}

/// The media type of a file, by its extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// Every file of `assets/`, sorted by path.
pub static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The file at `path` (relative to `assets/`), if there is one.
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS
        .binary_search_by(|a| a.path.cmp(path))
        .ok()
        .and_then(|i| ASSETS.get(i))
}

/// The file a `/ui/{name}` path shows, relative to `assets/`: `login` is
/// `login.html`, the bare `/ui/` the index page; anything with an extension is a file
/// as named.
pub fn file_of(name: &str) -> String {
    let name = name.trim_matches('/');
    if name.is_empty() {
        "index.html".to_owned()
    } else if name
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'))
    {
        name.to_owned()
    } else {
        format!("{name}.html")
    }
}

/// The embedded file a `/ui/{name}` path shows ([`file_of`]), if there is one.
pub fn page(name: &str) -> Option<&'static Asset> {
    asset(&file_of(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_files_are_found_by_their_path() {
        assert!(ASSETS.windows(2).all(|w| w[0].path < w[1].path), "sorted");
        assert_eq!(page("").map(|a| a.path), Some("index.html"));
        assert_eq!(page("login").map(|a| a.path), Some("login.html"));
        assert_eq!(
            page("login").map(Asset::content_type),
            Some("text/html; charset=utf-8")
        );
        assert!(page("nothing-here").is_none());
        assert!(page("../Cargo.toml").is_none());
    }
}
