//! The one field registry: every provider's table at its fixed id base. The CLI and the UI
//! both use this one, so a field name means the same in `-Y`, `-T fields`, `-V` and the browser.

use std::sync::OnceLock;

use wiresift_field::Registry;

/// All fields wiresift knows.
pub fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| {
        Registry::from_sets(&[
            (
                wiresift_dissect::fields::BASE,
                wiresift_dissect::fields::FIELDS,
            ),
            (
                wiresift_engine::fields::BASE,
                wiresift_engine::fields::FIELDS,
            ),
            (wiresift_mail::BASE, wiresift_mail::FIELDS),
            (wiresift_http::BASE, wiresift_http::FIELDS),
            (wiresift_http::H2_BASE, wiresift_http::H2_FIELDS),
            (wiresift_tls::fields::BASE, wiresift_tls::FIELDS),
        ])
    })
}
