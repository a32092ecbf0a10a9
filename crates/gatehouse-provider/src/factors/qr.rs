//! QR codes of enrolment URIs (an `otpauth://` key, a `gatehouse-push://` ticket), as
//! the account API hands them to the UI: a PNG (base64) and an SVG.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::fmt::Write as _;

/// The QR code of `text` as a base64 PNG, as `totp-rs` draws it.
pub fn png_base64(text: &str) -> Option<String> {
    qrcodegen_image::draw_png(text)
        .ok()
        .map(|png| STANDARD.encode(png))
}

/// The QR code of `text` as an SVG document: one path of unit squares, 4 modules of
/// quiet zone.
pub fn svg(text: &str) -> Option<String> {
    let qr = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium).ok()?;
    let border = 4;
    let size = qr.size();
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                let _ = write!(path, "M{},{}h1v1h-1z", x + border, y + border);
            }
        }
    }
    let dim = size + 2 * border;
    Some(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {dim} {dim}" shape-rendering="crispEdges"><rect width="{dim}" height="{dim}" fill="#ffffff"/><path d="{path}" fill="#000000"/></svg>"##
    ))
}
