//! The one field registry of the binary: every provider's table at its fixed id base.

use std::sync::OnceLock;

use wiresift_field::Registry;

/// All fields wiresift knows (decoder now; flow and application providers add theirs here).
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

/// Compiles a `-Y` expression against the registry. On error, prints it as Wireshark does,
/// better (the expression, a caret under the column, the closest field names) and returns
/// `Err(())`: the caller exits with status 2.
pub fn compile_display_filter(expr: Option<&str>) -> Result<Option<wiresift_filter::Filter>, ()> {
    let Some(expr) = expr else { return Ok(None) };
    match wiresift_filter::Filter::compile(expr, registry()) {
        Ok(f) => Ok(Some(f)),
        Err(e) => {
            eprintln!("wiresift: bad display filter:\n{}", e.render(expr));
            Err(())
        }
    }
}
